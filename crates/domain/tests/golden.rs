//! Schedules against figures worked out independently of the code (`tests/golden/schedules.json`,
//! each case naming its source).

#![allow(
    clippy::tests_outside_test_module,
    reason = "an integration test file is a test crate of its own"
)]

use chrono::NaiveDate;
use loanwatch_domain::{
    AnnualRate,
    ledger::RepaymentMethod,
    schedule::{DayCount, Frequency, ScheduleTerms, generate},
};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    source: String,
    principal_fen: i64,
    annual_rate: String,
    method: RepaymentMethod,
    start_date: NaiveDate,
    maturity_date: NaiveDate,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    count: usize,
    first_total_fen: Option<i64>,
    first_interest_fen: Option<i64>,
    first_principal_fen: Option<i64>,
    second_interest_fen: Option<i64>,
}

#[test]
fn schedules_match_the_golden_figures() -> Result<(), Box<dyn std::error::Error>> {
    let file: File = serde_json::from_str(include_str!("golden/schedules.json"))?;
    assert!(file.cases.len() >= 5);
    for case in file.cases {
        assert!(!case.source.is_empty());
        let schedule = generate(&ScheduleTerms {
            principal_fen: case.principal_fen,
            annual_rate: AnnualRate::parse("annual_rate", &case.annual_rate)?,
            method: case.method,
            start_date: case.start_date,
            maturity_date: case.maturity_date,
            frequency: Frequency::Monthly,
            repayment_day: None,
            day_count: DayCount::Act360,
            custom: Vec::new(),
        })?;
        let e = &case.expect;
        assert_eq!(schedule.len(), e.count, "{}", case.name);
        let first = schedule[0];
        if let Some(v) = e.first_total_fen {
            assert_eq!(first.total_fen, v, "{}: first total", case.name);
        }
        if let Some(v) = e.first_interest_fen {
            assert_eq!(first.interest_fen, v, "{}: first interest", case.name);
        }
        if let Some(v) = e.first_principal_fen {
            assert_eq!(first.principal_fen, v, "{}: first principal", case.name);
        }
        if let Some(v) = e.second_interest_fen {
            assert_eq!(
                schedule[1].interest_fen, v,
                "{}: second interest",
                case.name
            );
        }
        assert_eq!(
            schedule.iter().map(|i| i.principal_fen).sum::<i64>(),
            case.principal_fen,
            "{}",
            case.name
        );
    }
    Ok(())
}
