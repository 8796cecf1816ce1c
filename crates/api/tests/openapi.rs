//! The committed contract `openapi/loanwatch.json` equals the document generated from the routes.
//! Run with `UPDATE_OPENAPI=1` to rewrite it after an intended change.

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use std::path::Path;

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = loanwatch_api::openapi::spec_json();
    assert_eq!(
        generated,
        loanwatch_api::openapi::spec_json(),
        "the document is not byte-stable"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/loanwatch.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    similar_asserts::assert_eq!(
        committed,
        generated,
        "openapi/loanwatch.json is stale: run `UPDATE_OPENAPI=1 cargo test -p loanwatch-api --test openapi` and commit it"
    );
}

#[test]
fn every_operation_has_an_id_a_tag_and_declared_errors() {
    let spec: serde_json::Value =
        serde_json::from_str(&loanwatch_api::openapi::spec_json()).unwrap_or_default();
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 20, "only {} paths", paths.len());
    for (path, item) in paths {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            assert!(
                op["tags"].as_array().is_some_and(|t| !t.is_empty()),
                "{method} {path} has no tag"
            );
            let protected = op.get("security").is_some();
            if protected {
                assert!(
                    op["responses"]
                        .get("200")
                        .or(op["responses"].get("201"))
                        .or(op["responses"].get("204"))
                        .is_some()
                );
            }
        }
    }
}
