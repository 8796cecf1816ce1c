//! A loan's position (贷款状态) as of any date: what is outstanding, overdue and accrued, days
//! past due and the delinquency bucket, computed by replaying the loan's changes in date order
//! over its schedule.
//!
//! Rules (RULEBOOK §2): an instalment's principal and interest fall due on its due date; a
//! payment settles penalty interest (罚息), then compound interest (复利), then interest, then
//! principal, oldest first (the order is a product setting); money beyond what is due is held
//! and applied when the next instalment falls due. Overdue principal bears penalty interest and
//! overdue interest bears compound interest, both daily at the contract rate raised by an
//! uplift (default +50 %; +100 % for proceeds diverted from the agreed purpose, from the date the
//! diversion is established). A rate change or an extension re-amortises what is not yet due
//! from the current period; a prepayment lowers the instalment or shortens the term.
//! Changes may arrive out of order: they are always replayed sorted by date (then by the order
//! they were recorded), so a backdated change gives the same result as one recorded in time.

use std::collections::VecDeque;

use chrono::{Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy, prelude::ToPrimitive};
use serde::{Deserialize, Serialize};

use crate::{
    AnnualRate, DomainError,
    ledger::RepaymentMethod,
    schedule::{Instalment, ScheduleTerms, generate},
};

text_enum!(
    /// Delinquency bucket by days past due.
    Bucket {
        /// Nothing past due.
        Current = "current",
        /// 1–30 days.
        M1 = "m1",
        /// 31–60 days.
        M2 = "m2",
        /// 61–90 days.
        M3 = "m3",
        /// 91–120 days.
        M4 = "m4",
        /// More than 120 days.
        M4Plus = "m4_plus",
    }
);

impl Bucket {
    /// The bucket of `dpd` days past due.
    pub fn of(dpd: i64) -> Self {
        match dpd {
            i64::MIN..=0 => Self::Current,
            1..=30 => Self::M1,
            31..=60 => Self::M2,
            61..=90 => Self::M3,
            91..=120 => Self::M4,
            _ => Self::M4Plus,
        }
    }
}

text_enum!(
    /// A part of what a borrower owes, in the order payments settle them.
    Component {
        /// 罚息 on overdue principal.
        Penalty = "penalty",
        /// 复利 on overdue interest.
        Compound = "compound",
        /// Interest due.
        Interest = "interest",
        /// Principal due.
        Principal = "principal",
    }
);

text_enum!(
    /// What a partial prepayment does to the rest of the schedule.
    PrepaymentMode {
        /// Keep the term, lower the instalments.
        LowerInstalment = "lower_instalment",
        /// Keep the instalment, end sooner.
        ShortenTerm = "shorten_term",
    }
);

/// How overdue amounts are charged and payments allocated (product settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PenaltyTerms {
    /// Uplift on the contract rate for overdue amounts, in percent (default 50).
    pub overdue_uplift_pct: Decimal,
    /// Uplift for diverted proceeds (挤占挪用), in percent (default 100).
    pub diversion_uplift_pct: Decimal,
    /// From when the diversion uplift applies, if diversion was established.
    pub diverted_from: Option<NaiveDate>,
    /// The order payments settle components; default penalty, compound, interest, principal.
    pub allocation: Vec<Component>,
}

impl Default for PenaltyTerms {
    fn default() -> Self {
        Self {
            overdue_uplift_pct: Decimal::from(50),
            diversion_uplift_pct: Decimal::from(100),
            diverted_from: None,
            allocation: vec![
                Component::Penalty,
                Component::Compound,
                Component::Interest,
                Component::Principal,
            ],
        }
    }
}

/// A product's settings for positions and repayments; every field has the rulebook default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductSettings {
    /// Uplift on the contract rate for overdue principal and interest, in percent (default 50;
    /// customary 30–50).
    #[serde(default = "default_overdue_uplift")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "50"))]
    pub overdue_uplift_pct: Decimal,
    /// Uplift for proceeds diverted from the agreed purpose, in percent (default 100;
    /// customary 50–100).
    #[serde(default = "default_diversion_uplift")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "100"))]
    pub diversion_uplift_pct: Decimal,
    /// The order payments settle components: all four, each once.
    #[serde(default = "default_allocation")]
    pub allocation: Vec<Component>,
    /// Whether a repayment may exceed what is owed (the excess is held).
    #[serde(default)]
    pub allow_overpayment: bool,
}

fn default_overdue_uplift() -> Decimal {
    Decimal::from(50)
}

fn default_diversion_uplift() -> Decimal {
    Decimal::from(100)
}

fn default_allocation() -> Vec<Component> {
    vec![
        Component::Penalty,
        Component::Compound,
        Component::Interest,
        Component::Principal,
    ]
}

impl Default for ProductSettings {
    fn default() -> Self {
        Self {
            overdue_uplift_pct: default_overdue_uplift(),
            diversion_uplift_pct: default_diversion_uplift(),
            allocation: default_allocation(),
            allow_overpayment: false,
        }
    }
}

impl ProductSettings {
    /// Checks the uplifts (0–300 %) and that the allocation names each component once.
    pub fn validate(&self) -> Result<(), DomainError> {
        for (field, v) in [
            ("overdue_uplift_pct", self.overdue_uplift_pct),
            ("diversion_uplift_pct", self.diversion_uplift_pct),
        ] {
            if v < Decimal::ZERO || v > Decimal::from(300) {
                return Err(DomainError::invalid(
                    field,
                    "must be from 0 to 300 (percent)",
                ));
            }
        }
        let mut seen = self.allocation.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != 4 || self.allocation.len() != 4 {
            return Err(DomainError::invalid(
                "allocation",
                "must name penalty, compound, interest and principal, each once",
            ));
        }
        Ok(())
    }

    /// The penalty terms of a loan of this product.
    pub fn penalty_terms(&self, diverted_from: Option<NaiveDate>) -> PenaltyTerms {
        PenaltyTerms {
            overdue_uplift_pct: self.overdue_uplift_pct,
            diversion_uplift_pct: self.diversion_uplift_pct,
            diverted_from,
            allocation: self.allocation.clone(),
        }
    }
}

/// A change to a loan after disbursement, as the position engine replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Money received.
    Repayment { date: NaiveDate, amount_fen: i64 },
    /// New contract rate from `date`.
    RateChange { date: NaiveDate, rate: AnnualRate },
    /// New maturity, re-amortised from `date`.
    Extension {
        date: NaiveDate,
        maturity: NaiveDate,
    },
    /// Principal repaid ahead of schedule.
    Prepayment {
        date: NaiveDate,
        amount_fen: i64,
        mode: PrepaymentMode,
    },
    /// The loan is closed; nothing is owed after `date`.
    Settlement { date: NaiveDate },
}

impl Change {
    /// The business date of the change.
    pub fn date(&self) -> NaiveDate {
        match self {
            Self::Repayment { date, .. }
            | Self::RateChange { date, .. }
            | Self::Extension { date, .. }
            | Self::Prepayment { date, .. }
            | Self::Settlement { date } => *date,
        }
    }
}

/// A move between buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BucketMove {
    /// The day the loan entered the bucket.
    pub date: NaiveDate,
    /// The bucket.
    pub bucket: Bucket,
}

/// What is still unpaid of an instalment that fell due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Arrear {
    /// The due date.
    pub due_date: NaiveDate,
    /// Principal unpaid, in fen.
    pub principal_fen: i64,
    /// Interest unpaid, in fen.
    pub interest_fen: i64,
}

/// Where a loan stands on a date. Amounts in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    /// The date of the position.
    pub as_of: NaiveDate,
    /// Principal not yet repaid, due or not.
    pub outstanding_principal_fen: i64,
    /// Principal due and unpaid.
    pub overdue_principal_fen: i64,
    /// Interest due and unpaid.
    pub overdue_interest_fen: i64,
    /// Interest of the current period accrued to `as_of`, not yet due.
    pub accrued_interest_fen: i64,
    /// Penalty interest accrued and unpaid.
    pub penalty_interest_fen: i64,
    /// Compound interest accrued and unpaid.
    pub compound_interest_fen: i64,
    /// Everything needed to settle the loan on `as_of`.
    pub payoff_fen: i64,
    /// Money received beyond what was due, held for the next instalment.
    pub unapplied_fen: i64,
    /// Days since the oldest unpaid due date (0 when nothing is past due).
    pub days_past_due: i64,
    /// The bucket of `days_past_due`.
    pub bucket: Bucket,
    /// The next due date after `as_of`, if any.
    pub next_due_date: Option<NaiveDate>,
    /// What falls due then.
    pub next_due_fen: Option<i64>,
    /// Whether the loan was settled.
    pub settled: bool,
    /// Every change of bucket up to `as_of`.
    pub bucket_history: Vec<BucketMove>,
    /// Unpaid amounts by the due date they fell due on, oldest first.
    pub arrears: Vec<Arrear>,
    /// The schedule as it stands after re-amortisations.
    pub schedule: Vec<Instalment>,
}

#[derive(Debug, Clone, Copy)]
struct Due {
    date: NaiveDate,
    principal: i64,
    interest: i64,
}

struct Engine<'a> {
    terms: ScheduleTerms,
    penalty: &'a PenaltyTerms,
    schedule: Vec<Instalment>,
    next: usize,
    dues: VecDeque<Due>,
    penalty_acc: Decimal,
    compound_acc: Decimal,
    unapplied: i64,
    rate: AnnualRate,
    t: NaiveDate,
    history: Vec<BucketMove>,
    settled: bool,
}

fn round_fen(d: Decimal) -> i64 {
    d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .unwrap_or(i64::MAX)
}

impl Engine<'_> {
    fn principal_not_due(&self) -> i64 {
        self.schedule[self.next..]
            .iter()
            .map(|i| i.principal_fen)
            .sum()
    }

    fn overdue(&self) -> (i64, i64) {
        self.dues
            .iter()
            .fold((0, 0), |(p, i), d| (p + d.principal, i + d.interest))
    }

    fn oldest_unpaid(&self) -> Option<NaiveDate> {
        self.dues.front().map(|d| d.date)
    }

    fn penalty_rate_pct(&self, day: NaiveDate) -> Decimal {
        let uplift = match self.penalty.diverted_from {
            Some(from) if day > from => self.penalty.diversion_uplift_pct,
            _ => self.penalty.overdue_uplift_pct,
        };
        self.rate.percent() * (Decimal::ONE_HUNDRED + uplift) / Decimal::ONE_HUNDRED
    }

    /// Accrues penalty and compound interest from `self.t` to `to`, and records bucket moves.
    fn advance(&mut self, to: NaiveDate) {
        if to <= self.t {
            return;
        }
        let (principal, interest) = self.overdue();
        if principal > 0 || interest > 0 {
            // Split at the diversion date, where the uplift changes.
            let mut from = self.t;
            let cuts = [
                self.penalty.diverted_from.filter(|d| *d > from && *d < to),
                Some(to),
            ];
            for cut in cuts.into_iter().flatten() {
                let days = Decimal::from((cut - from).num_days());
                let rate = self.penalty_rate_pct(cut);
                self.penalty_acc += Decimal::from(principal) * rate * days / Decimal::from(36_000);
                self.compound_acc += Decimal::from(interest) * rate * days / Decimal::from(36_000);
                from = cut;
            }
        }
        if let Some(oldest) = self.oldest_unpaid() {
            for threshold in [1, 31, 61, 91, 121] {
                let day = oldest + Duration::days(threshold);
                if day > self.t && day <= to {
                    self.history.push(BucketMove {
                        date: day,
                        bucket: Bucket::of(threshold),
                    });
                }
            }
        }
        self.t = to;
    }

    fn fall_due(&mut self) {
        let i = self.schedule[self.next];
        self.dues.push_back(Due {
            date: i.due_date,
            principal: i.principal_fen,
            interest: i.interest_fen,
        });
        self.next += 1;
        let held = std::mem::take(&mut self.unapplied);
        if held > 0 {
            self.pay(held);
        }
    }

    /// Allocates money to what is due in the configured order; keeps the rest.
    fn pay(&mut self, amount: i64) {
        let before = self.oldest_unpaid();
        let mut left = amount;
        for component in self.penalty.allocation.clone() {
            match component {
                Component::Penalty => take_acc(&mut self.penalty_acc, &mut left),
                Component::Compound => take_acc(&mut self.compound_acc, &mut left),
                Component::Interest => {
                    for d in self.dues.iter_mut() {
                        let paid = d.interest.min(left);
                        d.interest -= paid;
                        left -= paid;
                    }
                }
                Component::Principal => {
                    for d in self.dues.iter_mut() {
                        let paid = d.principal.min(left);
                        d.principal -= paid;
                        left -= paid;
                    }
                }
            }
        }
        while self
            .dues
            .front()
            .is_some_and(|d| d.principal == 0 && d.interest == 0)
        {
            self.dues.pop_front();
        }
        let dpd = |oldest: Option<NaiveDate>| oldest.map_or(0, |o| (self.t - o).num_days());
        let (was, now) = (
            Bucket::of(dpd(before)),
            Bucket::of(dpd(self.oldest_unpaid())),
        );
        if was != now {
            self.history.push(BucketMove {
                date: self.t,
                bucket: now,
            });
        }
        self.unapplied += left;
    }

    /// Re-amortises what is not yet due from the start of the current period.
    fn reamortise(
        &mut self,
        date: NaiveDate,
        maturity: NaiveDate,
        principal: i64,
        old_rate: AnnualRate,
    ) -> Result<(), DomainError> {
        let period_start = if self.next == 0 {
            self.terms.start_date
        } else {
            self.schedule[self.next - 1].due_date
        };
        let remaining_custom = self
            .terms
            .custom
            .iter()
            .filter(|c| c.due_date > period_start)
            .copied()
            .collect::<Vec<_>>();
        let mut t = ScheduleTerms {
            principal_fen: principal,
            annual_rate: self.rate,
            start_date: period_start,
            maturity_date: maturity,
            custom: remaining_custom,
            ..self.terms.clone()
        };
        if t.method == RepaymentMethod::Custom {
            fit_custom(&mut t);
        }
        let mut rest = if principal == 0 {
            Vec::new()
        } else {
            generate(&t)?
        };
        // The period holding the change is charged day by day: the old terms before it, the new
        // ones after it.
        if let Some(first) = rest.first_mut()
            && date > period_start
            && date < first.due_date
        {
            let (d1, b1) = self.terms.day_count.days(period_start, date);
            let (d2, b2) = self.terms.day_count.days(date, first.due_date);
            let old_balance = self
                .schedule
                .get(self.next)
                .map_or(principal, |i| i.opening_balance_fen);
            let part = |balance: i64, rate: AnnualRate, days: i64, basis: i64| {
                Decimal::from(balance) * rate.percent() * Decimal::from(days)
                    / Decimal::from(100 * basis)
            };
            let interest = round_fen(
                part(old_balance, old_rate, d1, b1)
                    + part(first.opening_balance_fen, self.rate, d2, b2),
            );
            first.interest_fen = interest;
            first.total_fen = first.principal_fen + interest;
            first.regular = false;
        }
        let offset = self.next as u32;
        for (k, i) in rest.iter_mut().enumerate() {
            i.number = offset + k as u32 + 1;
        }
        self.schedule.truncate(self.next);
        self.schedule.extend(rest);
        self.terms.maturity_date = maturity;
        Ok(())
    }

    fn apply(&mut self, change: &Change) -> Result<(), DomainError> {
        match change {
            Change::Repayment { amount_fen, .. } => self.pay(*amount_fen),
            Change::RateChange { date, rate } => {
                let old = self.rate;
                self.rate = *rate;
                let principal = self.principal_not_due();
                self.reamortise(*date, self.terms.maturity_date, principal, old)?;
            }
            Change::Extension { date, maturity } => {
                let principal = self.principal_not_due();
                self.reamortise(*date, *maturity, principal, self.rate)?;
            }
            Change::Prepayment {
                date,
                amount_fen,
                mode,
            } => {
                let principal = self.principal_not_due();
                if *amount_fen > principal {
                    return Err(DomainError::invalid(
                        "amount_fen",
                        format!("prepays {amount_fen} fen but only {principal} fen is not yet due"),
                    ));
                }
                let left = principal - amount_fen;
                let maturity = match mode {
                    PrepaymentMode::LowerInstalment => self.terms.maturity_date,
                    PrepaymentMode::ShortenTerm => self.shortened_maturity(left),
                };
                self.reamortise(*date, maturity, left, self.rate)?;
            }
            Change::Settlement { .. } => {
                self.settled = true;
                self.dues.clear();
                self.schedule.truncate(self.next);
                self.penalty_acc = Decimal::ZERO;
                self.compound_acc = Decimal::ZERO;
                if self
                    .history
                    .last()
                    .map(|m| m.bucket)
                    .is_some_and(|b| b != Bucket::Current)
                {
                    self.history.push(BucketMove {
                        date: self.t,
                        bucket: Bucket::Current,
                    });
                }
            }
        }
        Ok(())
    }

    /// The due date by which `left` is repaid at the current instalment's principal pace.
    fn shortened_maturity(&self, left: i64) -> NaiveDate {
        let rest = &self.schedule[self.next..];
        let mut covered = 0;
        for i in rest {
            covered += i.principal_fen.max(1);
            if covered >= left {
                return i.due_date;
            }
        }
        self.terms.maturity_date
    }
}

fn take_acc(acc: &mut Decimal, left: &mut i64) {
    let owed = round_fen(*acc);
    let paid = owed.min(*left);
    *left -= paid;
    *acc -= Decimal::from(paid);
    if *acc < Decimal::ZERO {
        *acc = Decimal::ZERO;
    }
}

/// Makes the remaining custom repayments end on the maturity and add up to the remaining
/// principal: repayments beyond a new maturity are carried into the last one, the last one
/// moves to a later maturity, and a prepayment lowers the last repayments first.
fn fit_custom(t: &mut ScheduleTerms) {
    let maturity = t.maturity_date;
    let carried: i64 = t
        .custom
        .iter()
        .filter(|c| c.due_date > maturity)
        .map(|c| c.principal_fen)
        .sum();
    t.custom.retain(|c| c.due_date <= maturity);
    match t.custom.last_mut() {
        Some(last) => {
            last.principal_fen += carried;
            last.due_date = maturity;
        }
        None => t.custom.push(crate::schedule::CustomRepayment {
            due_date: maturity,
            principal_fen: t.principal_fen,
        }),
    }
    let mut excess: i64 = t.custom.iter().map(|c| c.principal_fen).sum::<i64>() - t.principal_fen;
    for c in t.custom.iter_mut().rev() {
        let cut = excess.clamp(0, c.principal_fen);
        c.principal_fen -= cut;
        excess -= cut;
    }
    if let Some(last) = t.custom.last_mut() {
        last.principal_fen -= excess.min(0);
    }
    let n = t.custom.len();
    let mut k = 0;
    t.custom.retain(|c| {
        k += 1;
        c.principal_fen > 0 || k == n
    });
}

/// Replays `changes` (in date order, stable) over the schedule of `terms` up to `as_of`.
pub fn position(
    terms: &ScheduleTerms,
    penalty: &PenaltyTerms,
    changes: &[Change],
    as_of: NaiveDate,
) -> Result<Position, DomainError> {
    if as_of < terms.start_date {
        return Err(DomainError::invalid(
            "as_of",
            "is before the disbursement date",
        ));
    }
    // Penalty interest over centuries would overflow the fen; a century past maturity is
    // beyond any question a bank asks.
    if (as_of - terms.maturity_date).num_days() > 100 * 366 {
        return Err(DomainError::invalid(
            "as_of",
            "is more than a century after maturity",
        ));
    }
    let schedule = generate(terms)?;
    let mut sorted: Vec<&Change> = changes.iter().collect();
    sorted.sort_by_key(|c| c.date());
    let mut e = Engine {
        terms: terms.clone(),
        penalty,
        schedule,
        next: 0,
        dues: VecDeque::new(),
        penalty_acc: Decimal::ZERO,
        compound_acc: Decimal::ZERO,
        unapplied: 0,
        rate: terms.annual_rate,
        t: terms.start_date,
        history: Vec::new(),
        settled: false,
    };
    let mut k = 0;
    loop {
        let next_due = e
            .schedule
            .get(e.next)
            .map(|i| i.due_date)
            .filter(|d| *d <= as_of && !e.settled);
        let next_change = sorted.get(k).map(|c| c.date()).filter(|d| *d <= as_of);
        // On a shared date the instalment falls due first, so a payment that day settles it.
        match (next_due, next_change) {
            (Some(d), Some(c)) if d <= c => {
                e.advance(d);
                e.fall_due();
            }
            (Some(d), None) => {
                e.advance(d);
                e.fall_due();
            }
            (_, Some(c)) => {
                e.advance(c);
                if !e.settled {
                    e.apply(sorted[k])?;
                }
                k += 1;
            }
            (None, None) => break,
        }
    }
    e.advance(as_of);
    let (overdue_principal, overdue_interest) = e.overdue();
    let not_due = if e.settled { 0 } else { e.principal_not_due() };
    let accrued = match e.schedule.get(e.next).filter(|_| !e.settled) {
        Some(current) => {
            let (elapsed, _) = e
                .terms
                .day_count
                .days(current.period_start.max(terms.start_date), as_of);
            let (whole, _) = e
                .terms
                .day_count
                .days(current.period_start, current.due_date);
            if whole > 0 {
                round_fen(
                    Decimal::from(current.interest_fen) * Decimal::from(elapsed.max(0))
                        / Decimal::from(whole),
                )
            } else {
                0
            }
        }
        None => 0,
    };
    let penalty_fen = round_fen(e.penalty_acc);
    let compound_fen = round_fen(e.compound_acc);
    let dpd = e
        .oldest_unpaid()
        .map_or(0, |o| (as_of - o).num_days().max(0));
    let next = e.schedule.get(e.next).filter(|_| !e.settled).copied();
    let payoff =
        overdue_principal + overdue_interest + not_due + accrued + penalty_fen + compound_fen
            - e.unapplied;
    Ok(Position {
        as_of,
        outstanding_principal_fen: overdue_principal + not_due,
        overdue_principal_fen: overdue_principal,
        overdue_interest_fen: overdue_interest,
        accrued_interest_fen: accrued,
        penalty_interest_fen: penalty_fen,
        compound_interest_fen: compound_fen,
        payoff_fen: payoff.max(0),
        unapplied_fen: e.unapplied,
        days_past_due: dpd,
        bucket: Bucket::of(dpd),
        next_due_date: next.map(|i| i.due_date),
        next_due_fen: next.map(|i| i.total_fen),
        settled: e.settled,
        arrears: e
            .dues
            .iter()
            .map(|d| Arrear {
                due_date: d.date,
                principal_fen: d.principal,
                interest_fen: d.interest,
            })
            .collect(),
        bucket_history: e.history,
        schedule: e.schedule,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::schedule::{DayCount, Frequency, add_months};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("a valid date")
    }

    fn terms(method: RepaymentMethod, principal: i64, rate: &str, months: u32) -> ScheduleTerms {
        let start = d(2025, 1, 10);
        ScheduleTerms {
            principal_fen: principal,
            annual_rate: AnnualRate::parse("annual_rate", rate).expect("a valid rate"),
            method,
            start_date: start,
            maturity_date: add_months(start, months, None),
            frequency: Frequency::Monthly,
            repayment_day: None,
            day_count: DayCount::Act360,
            custom: Vec::new(),
        }
    }

    fn paid_on_time(t: &ScheduleTerms) -> Vec<Change> {
        generate(t)
            .expect("a schedule")
            .iter()
            .map(|i| Change::Repayment {
                date: i.due_date,
                amount_fen: i.total_fen,
            })
            .collect()
    }

    #[test]
    fn paying_every_instalment_on_time_leaves_nothing_owed() {
        let t = terms(RepaymentMethod::EqualInstalment, 12_000_000, "4.35", 12);
        let p = position(
            &t,
            &PenaltyTerms::default(),
            &paid_on_time(&t),
            t.maturity_date,
        )
        .expect("a position");
        assert_eq!(
            (
                p.payoff_fen,
                p.days_past_due,
                p.bucket,
                p.penalty_interest_fen
            ),
            (0, 0, Bucket::Current, 0)
        );
        assert!(p.bucket_history.is_empty(), "{:?}", p.bucket_history);
        assert_eq!(p.next_due_date, None);
    }

    #[test]
    fn a_missed_instalment_is_past_due_and_bears_penalty_and_compound_interest() {
        let t = terms(RepaymentMethod::EqualPrincipal, 12_000_000, "6", 12);
        let s = generate(&t).expect("a schedule");
        // First instalment (10 Feb 2025) unpaid; position on 12 Mar 2025: 30 days past due.
        let p = position(&t, &PenaltyTerms::default(), &[], d(2025, 3, 12)).expect("a position");
        assert_eq!(p.days_past_due, 30);
        assert_eq!(p.bucket, Bucket::M1);
        // The second instalment (10 Mar) fell due too.
        assert_eq!(
            p.overdue_principal_fen,
            s[0].principal_fen + s[1].principal_fen
        );
        // Penalty: 1,000,000 fen × 6 % × 1.5 × 28 days (10 Feb–10 Mar) / 360, then both
        // instalments' principal for 2 days.
        let rate = Decimal::new(9, 0);
        let expected = Decimal::from(s[0].principal_fen) * rate * Decimal::from(28)
            / Decimal::from(36_000)
            + Decimal::from(s[0].principal_fen + s[1].principal_fen) * rate * Decimal::from(2)
                / Decimal::from(36_000);
        assert_eq!(p.penalty_interest_fen, round_fen(expected));
        let compound = Decimal::from(s[0].interest_fen) * rate * Decimal::from(28)
            / Decimal::from(36_000)
            + Decimal::from(s[0].interest_fen + s[1].interest_fen) * rate * Decimal::from(2)
                / Decimal::from(36_000);
        assert_eq!(p.compound_interest_fen, round_fen(compound));
        assert_eq!(
            p.bucket_history,
            [BucketMove {
                date: d(2025, 2, 11),
                bucket: Bucket::M1
            }]
        );
    }

    #[test]
    fn buckets_move_up_and_back_down_when_the_arrears_are_paid() {
        let t = terms(RepaymentMethod::MonthlyInterest, 10_000_000, "3.6", 12);
        let p = position(&t, &PenaltyTerms::default(), &[], d(2025, 5, 20)).expect("a position");
        assert_eq!((p.days_past_due, p.bucket), (99, Bucket::M4));
        let moves: Vec<Bucket> = p.bucket_history.iter().map(|m| m.bucket).collect();
        assert_eq!(moves, [Bucket::M1, Bucket::M2, Bucket::M3, Bucket::M4]);
        let pay = Change::Repayment {
            date: d(2025, 5, 20),
            amount_fen: p.payoff_fen - p.outstanding_principal_fen + 10_000_000,
        };
        let after =
            position(&t, &PenaltyTerms::default(), &[pay], d(2025, 5, 20)).expect("a position");
        assert_eq!((after.days_past_due, after.bucket), (0, Bucket::Current));
        assert_eq!(
            after.bucket_history.last().map(|m| m.bucket),
            Some(Bucket::Current)
        );
    }

    #[test]
    fn a_payment_settles_penalty_then_compound_then_interest_then_principal() {
        let t = terms(RepaymentMethod::EqualPrincipal, 12_000_000, "6", 12);
        let late = position(&t, &PenaltyTerms::default(), &[], d(2025, 2, 20)).expect("a position");
        let small = late.penalty_interest_fen + late.compound_interest_fen + 10;
        let p = position(
            &t,
            &PenaltyTerms::default(),
            &[Change::Repayment {
                date: d(2025, 2, 20),
                amount_fen: small,
            }],
            d(2025, 2, 20),
        )
        .expect("a position");
        assert_eq!((p.penalty_interest_fen, p.compound_interest_fen), (0, 0));
        assert_eq!(p.overdue_interest_fen, late.overdue_interest_fen - 10);
        assert_eq!(p.overdue_principal_fen, late.overdue_principal_fen);
        // Another order, as a product may set it: principal first.
        let principal_first = PenaltyTerms {
            allocation: vec![
                Component::Principal,
                Component::Interest,
                Component::Penalty,
                Component::Compound,
            ],
            ..PenaltyTerms::default()
        };
        let q = position(
            &t,
            &principal_first,
            &[Change::Repayment {
                date: d(2025, 2, 20),
                amount_fen: 1_000,
            }],
            d(2025, 2, 20),
        )
        .expect("a position");
        assert_eq!(q.overdue_principal_fen, late.overdue_principal_fen - 1_000);
    }

    #[test]
    fn money_paid_ahead_is_held_for_the_next_instalment() {
        let t = terms(RepaymentMethod::EqualInstalment, 1_200_000, "4", 12);
        let s = generate(&t).expect("a schedule");
        let early = Change::Repayment {
            date: d(2025, 2, 1),
            amount_fen: s[0].total_fen,
        };
        let before = position(
            &t,
            &PenaltyTerms::default(),
            std::slice::from_ref(&early),
            d(2025, 2, 5),
        )
        .expect("a position");
        assert_eq!(before.unapplied_fen, s[0].total_fen);
        let after =
            position(&t, &PenaltyTerms::default(), &[early], d(2025, 2, 10)).expect("a position");
        assert_eq!(
            (
                after.unapplied_fen,
                after.days_past_due,
                after.overdue_principal_fen
            ),
            (0, 0, 0)
        );
    }

    #[test]
    fn a_rate_change_reamortises_what_is_not_yet_due() {
        let t = terms(RepaymentMethod::EqualPrincipal, 12_000_000, "6", 12);
        let mut changes = paid_on_time(&t);
        changes.truncate(3);
        changes.push(Change::RateChange {
            date: d(2025, 4, 10),
            rate: AnnualRate::parse("r", "3").expect("rate"),
        });
        let p =
            position(&t, &PenaltyTerms::default(), &changes, d(2025, 4, 10)).expect("a position");
        let next = p.schedule[3];
        assert_eq!(
            next.interest_fen,
            round_fen(
                Decimal::from(next.opening_balance_fen) * Decimal::from(3) / Decimal::from(1200)
            )
        );
        // A change mid-period splits that period's interest by days.
        let mut mid = paid_on_time(&t);
        mid.truncate(3);
        mid.push(Change::RateChange {
            date: d(2025, 4, 25),
            rate: AnnualRate::parse("r", "3").expect("rate"),
        });
        let q = position(&t, &PenaltyTerms::default(), &mid, d(2025, 4, 25)).expect("a position");
        let bal = Decimal::from(q.schedule[3].opening_balance_fen);
        let split = bal * Decimal::from(6 * 15) / Decimal::from(36_000)
            + bal * Decimal::from(3 * 15) / Decimal::from(36_000);
        assert_eq!(q.schedule[3].interest_fen, round_fen(split));
        assert_eq!(
            q.schedule.iter().map(|i| i.principal_fen).sum::<i64>(),
            12_000_000
        );
    }

    #[test]
    fn an_extension_adds_instalments_to_the_new_maturity() {
        let t = terms(RepaymentMethod::EqualInstalment, 12_000_000, "4.35", 12);
        let mut changes = paid_on_time(&t);
        changes.truncate(6);
        changes.push(Change::Extension {
            date: d(2025, 7, 10),
            maturity: d(2026, 7, 10),
        });
        let p =
            position(&t, &PenaltyTerms::default(), &changes, d(2025, 7, 10)).expect("a position");
        assert_eq!(p.schedule.len(), 18);
        assert_eq!(p.schedule.last().map(|i| i.due_date), Some(d(2026, 7, 10)));
        assert_eq!(
            p.schedule.iter().map(|i| i.principal_fen).sum::<i64>(),
            12_000_000
        );
    }

    #[test]
    fn prepayments_lower_the_instalment_or_shorten_the_term() {
        let t = terms(RepaymentMethod::EqualPrincipal, 12_000_000, "6", 12);
        let mut base = paid_on_time(&t);
        base.truncate(2);
        let lower = [
            base.clone(),
            vec![Change::Prepayment {
                date: d(2025, 3, 10),
                amount_fen: 5_000_000,
                mode: PrepaymentMode::LowerInstalment,
            }],
        ]
        .concat();
        let p = position(&t, &PenaltyTerms::default(), &lower, d(2025, 3, 10)).expect("a position");
        assert_eq!(p.schedule.len(), 12);
        assert_eq!(p.outstanding_principal_fen, 5_000_000);
        let shorten = [
            base,
            vec![Change::Prepayment {
                date: d(2025, 3, 10),
                amount_fen: 5_000_000,
                mode: PrepaymentMode::ShortenTerm,
            }],
        ]
        .concat();
        let q =
            position(&t, &PenaltyTerms::default(), &shorten, d(2025, 3, 10)).expect("a position");
        assert_eq!(
            q.schedule.len(),
            7,
            "{:?}",
            q.schedule.iter().map(|i| i.due_date).collect::<Vec<_>>()
        );
        assert_eq!(
            q.schedule.iter().map(|i| i.principal_fen).sum::<i64>(),
            12_000_000 - 5_000_000
        );
        let too_much = Change::Prepayment {
            date: d(2025, 3, 10),
            amount_fen: 99_000_000,
            mode: PrepaymentMode::ShortenTerm,
        };
        assert!(position(&t, &PenaltyTerms::default(), &[too_much], d(2025, 3, 10)).is_err());
    }

    #[test]
    fn diversion_raises_the_penalty_rate_from_its_date() {
        let t = terms(RepaymentMethod::Bullet, 10_000_000, "6", 6);
        let plain = position(
            &t,
            &PenaltyTerms::default(),
            &[],
            t.maturity_date + Duration::days(10),
        )
        .expect("a position");
        let diverted = PenaltyTerms {
            diverted_from: Some(t.maturity_date + Duration::days(5)),
            ..PenaltyTerms::default()
        };
        let p =
            position(&t, &diverted, &[], t.maturity_date + Duration::days(10)).expect("a position");
        let principal = Decimal::from(10_000_000);
        let expected = principal * Decimal::from(9 * 5) / Decimal::from(36_000)
            + principal * Decimal::from(12 * 5) / Decimal::from(36_000);
        assert_eq!(p.penalty_interest_fen, round_fen(expected));
        assert!(p.penalty_interest_fen > plain.penalty_interest_fen);
    }

    #[test]
    fn product_settings_are_checked() {
        assert_eq!(ProductSettings::default().validate(), Ok(()));
        let twice = ProductSettings {
            allocation: vec![Component::Principal; 4],
            ..ProductSettings::default()
        };
        assert!(twice.validate().is_err());
        let short = ProductSettings {
            allocation: vec![Component::Principal],
            ..ProductSettings::default()
        };
        assert!(short.validate().is_err());
        let high = ProductSettings {
            overdue_uplift_pct: Decimal::from(500),
            ..ProductSettings::default()
        };
        assert!(high.validate().is_err());
        let parsed: ProductSettings =
            serde_json::from_str(r#"{"overdue_uplift_pct": "30"}"#).expect("settings");
        assert_eq!(
            (parsed.overdue_uplift_pct, parsed.allocation.len()),
            (Decimal::from(30), 4)
        );
    }

    #[test]
    fn a_position_centuries_away_is_refused_not_overflowed() {
        let t = terms(
            RepaymentMethod::Bullet,
            crate::money::MAX_AMOUNT_FEN,
            "99",
            600,
        );
        assert!(position(&t, &PenaltyTerms::default(), &[], d(9000, 1, 1)).is_err());
        // The worst case still allowed stays inside i64.
        let far = t.maturity_date + Duration::days(100 * 366);
        let p = position(&t, &PenaltyTerms::default(), &[], far).expect("a position");
        assert!(p.payoff_fen > 0 && p.payoff_fen < i64::MAX);
    }

    #[test]
    fn settlement_closes_the_position() {
        let t = terms(RepaymentMethod::EqualInstalment, 1_200_000, "4", 12);
        let p = position(
            &t,
            &PenaltyTerms::default(),
            &[Change::Settlement {
                date: d(2025, 5, 1),
            }],
            d(2025, 8, 1),
        )
        .expect("a position");
        assert!(p.settled);
        assert_eq!(
            (p.payoff_fen, p.days_past_due, p.next_due_date),
            (0, 0, None)
        );
    }

    #[test]
    fn custom_schedules_follow_extensions_and_prepayments() {
        let mut t = terms(RepaymentMethod::Custom, 1_000_000, "5", 6);
        t.custom = vec![
            crate::schedule::CustomRepayment {
                due_date: d(2025, 4, 10),
                principal_fen: 400_000,
            },
            crate::schedule::CustomRepayment {
                due_date: d(2025, 7, 10),
                principal_fen: 600_000,
            },
        ];
        let ext = Change::Extension {
            date: d(2025, 5, 1),
            maturity: d(2025, 12, 10),
        };
        let p = position(&t, &PenaltyTerms::default(), &[ext], d(2025, 5, 1)).expect("a position");
        assert_eq!(
            p.schedule.last().map(|i| (i.due_date, i.principal_fen)),
            Some((d(2025, 12, 10), 600_000))
        );
        let pre = Change::Prepayment {
            date: d(2025, 2, 1),
            amount_fen: 700_000,
            mode: PrepaymentMode::LowerInstalment,
        };
        let q = position(&t, &PenaltyTerms::default(), &[pre], d(2025, 2, 1)).expect("a position");
        // The term is kept: the repayment at maturity is now nothing.
        assert_eq!(
            q.schedule
                .iter()
                .map(|i| i.principal_fen)
                .collect::<Vec<_>>(),
            [300_000, 0]
        );
    }

    proptest! {
        #[test]
        fn backdated_changes_give_the_same_position_as_changes_recorded_in_order(seed in 0u64..1_000, skip in 0usize..12) {
            let t = terms(RepaymentMethod::EqualInstalment, 12_000_000, "4.35", 12);
            let mut changes = paid_on_time(&t);
            changes.remove(skip);
            changes.push(Change::RateChange { date: d(2025, 6, 20), rate: AnnualRate::parse("r", "3.85").expect("rate") });
            changes.push(Change::Repayment { date: d(2025, 9, 1), amount_fen: 500_000 });
            let in_order = position(&t, &PenaltyTerms::default(), &changes, d(2026, 3, 1)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // Shuffle deterministically: the order of recording must not matter.
            let mut shuffled = changes.clone();
            let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            for i in (1..shuffled.len()).rev() {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                shuffled.swap(i, (x >> 33) as usize % (i + 1));
            }
            let replayed = position(&t, &PenaltyTerms::default(), &shuffled, d(2026, 3, 1)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(in_order, replayed);
        }

        #[test]
        fn paying_on_time_always_clears_the_loan(m in prop_oneof![
            Just(RepaymentMethod::EqualInstalment), Just(RepaymentMethod::EqualPrincipal),
            Just(RepaymentMethod::MonthlyInterest), Just(RepaymentMethod::Bullet)
        ], principal in 1_000i64..1_000_000_000, months in 1u32..=60) {
            let t = terms(m, principal, "5.5", months);
            let p = position(&t, &PenaltyTerms::default(), &paid_on_time(&t), t.maturity_date).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!((p.payoff_fen, p.days_past_due, p.outstanding_principal_fen), (0, 0, 0));
        }
    }
}
