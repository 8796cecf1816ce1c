//! Schedule generation and position replay.
//!
//! `cargo bench -p loanwatch-domain --bench schedule`. Throughput is in instalments. The f64
//! annuity loop is the baseline measured in the same run: the same instalments computed in
//! floating point with no rounding, which is what exactness costs relative to.

#![allow(
    clippy::tests_outside_test_module,
    clippy::expect_used,
    reason = "a benchmark is its own crate and aborts on a broken setup"
)]

use std::hint::black_box;

use chrono::{Duration, NaiveDate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use loanwatch_domain::{
    AnnualRate,
    ledger::RepaymentMethod,
    position::{Change, PenaltyTerms, position},
    schedule::{DayCount, Frequency, ScheduleTerms, add_months, generate},
};

fn terms(method: RepaymentMethod) -> ScheduleTerms {
    let start = NaiveDate::from_ymd_opt(2025, 1, 15).expect("date");
    ScheduleTerms {
        principal_fen: 100_000_000,
        annual_rate: AnnualRate::parse("annual_rate", "4.9").expect("rate"),
        method,
        start_date: start,
        maturity_date: add_months(start, 360, None),
        frequency: Frequency::Monthly,
        repayment_day: None,
        day_count: DayCount::Act360,
        custom: Vec::new(),
    }
}

/// The same 360 instalments of an equal-instalment loan in f64, no rounding.
fn baseline_f64(principal: f64, annual_pct: f64, n: i32) -> f64 {
    let r = annual_pct / 1200.0;
    let a = principal * r * (1.0 + r).powi(n) / ((1.0 + r).powi(n) - 1.0);
    let mut balance = principal;
    let mut sum = 0.0;
    for _ in 0..n {
        let interest = balance * r;
        balance -= a - interest;
        sum += interest;
    }
    sum
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule_360");
    g.throughput(Throughput::Elements(360));
    g.bench_function("baseline_f64_annuity", |b| {
        b.iter(|| baseline_f64(black_box(1_000_000.0), black_box(4.9), 360))
    });
    for (name, method) in [
        ("equal_instalment", RepaymentMethod::EqualInstalment),
        ("equal_principal", RepaymentMethod::EqualPrincipal),
        ("monthly_interest", RepaymentMethod::MonthlyInterest),
    ] {
        let t = terms(method);
        g.bench_function(name, |b| {
            b.iter(|| generate(black_box(&t)).expect("schedule"))
        });
    }
    g.finish();

    // A 360-instalment loan with 100 events: 96 on-time payments, a missed one, two rate
    // changes and an extension, positioned at the end of the eighth year.
    let t = terms(RepaymentMethod::EqualInstalment);
    let s = generate(&t).expect("schedule");
    let mut changes: Vec<Change> = s
        .iter()
        .take(97)
        .filter(|i| i.number != 40)
        .map(|i| Change::Repayment {
            date: i.due_date,
            amount_fen: i.total_fen,
        })
        .collect();
    changes.push(Change::RateChange {
        date: s[20].due_date + Duration::days(7),
        rate: AnnualRate::parse("r", "4.2").expect("rate"),
    });
    changes.push(Change::RateChange {
        date: s[60].due_date + Duration::days(3),
        rate: AnnualRate::parse("r", "3.95").expect("rate"),
    });
    changes.push(Change::Extension {
        date: s[80].due_date,
        maturity: add_months(t.maturity_date, 24, None),
    });
    changes.push(Change::Repayment {
        date: s[90].due_date + Duration::days(5),
        amount_fen: 10_000,
    });
    assert_eq!(changes.len(), 100);
    let as_of = s[96].due_date;
    let penalty = PenaltyTerms::default();
    let mut p = c.benchmark_group("position");
    p.bench_function("360_instalments_100_events", |b| {
        b.iter(|| position(black_box(&t), &penalty, black_box(&changes), as_of).expect("position"))
    });
    p.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
