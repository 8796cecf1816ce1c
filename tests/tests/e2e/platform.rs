//! Health, request ids, the served OpenAPI document and Swagger UI.

use loanwatch_e2e::TestApp;

fn health_request_ids_and_the_contract_are_served(app: &TestApp) -> anyhow::Result<()> {
    let live = app.send("GET", "/health/live", None, None, &[])?;
    assert_eq!(
        (live.status, live.body["status"].as_str()),
        (200, Some("ok"))
    );
    let ready = app.send("GET", "/health/ready", None, None, &[])?;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let id = live.header("x-request-id").unwrap_or_default().to_owned();
    assert!(!id.is_empty());
    let echoed = app.send(
        "GET",
        "/health/live",
        None,
        None,
        &[("x-request-id", "trace-abc-123")],
    )?;
    assert_eq!(echoed.header("x-request-id"), Some("trace-abc-123"));
    let hostile = app.send(
        "GET",
        "/health/live",
        None,
        None,
        &[("x-request-id", "a b\"c")],
    )?;
    assert_ne!(hostile.header("x-request-id"), Some("a b\"c"));

    let missing = app.send("GET", "/no/such/route", None, None, &[])?;
    assert_eq!((missing.status, missing.code()), (404, "route_not_found"));
    assert_eq!(
        missing.body["request_id"].as_str(),
        missing.header("x-request-id")
    );

    let served = app.send("GET", "/api-docs/openapi.json", None, None, &[])?;
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../openapi/loanwatch.json"
    ))?;
    assert_eq!(
        served.text, committed,
        "the served document differs from openapi/loanwatch.json"
    );
    let docs = app.send("GET", "/docs/", None, None, &[])?;
    assert_eq!(docs.status, 200);
    assert!(docs.text.contains("swagger"), "Swagger UI not served");
    Ok(())
}

loanwatch_e2e::on_both_backends!(health_request_ids_and_the_contract_are_served);
