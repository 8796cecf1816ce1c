//! Fund-flow rules (资金流向监测) over the transfers of a loan's proceeds (RULEBOOK §5).
//!
//! A [`FlowEngine`] takes one loan's transfers in time order and answers each with the rules it
//! breaks, keeping only the state the rules need (recent outflows for flow-back, recent
//! near-threshold payments for structuring). The nightly batch and the real-time path both feed
//! transfers through it, so they raise the same warnings by construction.
//!
//! The thresholds are a [`FlowRules`] definition: JSON that names only known fields, versioned
//! and activated per institution by the caller.

use std::{
    collections::{BTreeSet, HashMap, VecDeque},
    sync::Arc,
};

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::{Invalid, Tier, is_category};
use crate::money::{MAX_AMOUNT_FEN, yuan};

text_enum!(
    /// A fund-flow rule.
    FlowRule {
        /// One transfer of proceeds at or over the large-transfer threshold.
        LargeTransfer = "large_transfer",
        /// Proceeds paid to a restricted category (real estate, securities, underground banking…).
        RestrictedCategory = "restricted_category",
        /// Proceeds coming back to the borrower or a related party, directly or through one
        /// intermediary (回流).
        FlowBack = "flow_back",
        /// Proceeds paid to an individual while the contract counterparty is a company.
        IndividualPayee = "individual_payee",
        /// Proceeds paid to someone other than the contract counterparty.
        NotCounterparty = "not_counterparty",
        /// Several payments just under the entrusted-payment threshold within a few days.
        Structuring = "structuring",
        /// Proceeds left unused long after disbursement.
        IdleProceeds = "idle_proceeds",
        /// The borrower's settlement volume at this bank falling.
        SettlementFalling = "settlement_falling",
    }
);

text_enum!(
    /// Who is on the other side of a transfer.
    PartyKind {
        /// A company or other organisation.
        Company = "company",
        /// A natural person.
        Individual = "individual",
    }
);

/// What the engine knows of a party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyInfo {
    /// Company or individual.
    pub kind: PartyKind,
    /// Its category (`real_estate`, `securities`, …) when known.
    pub category: Option<String>,
}

/// The thresholds of the fund-flow rules: one version of an institution's definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlowRules {
    /// A single transfer at or over this is large, fen.
    pub large_transfer_fen: i64,
    /// Categories proceeds must not reach.
    pub restricted_categories: BTreeSet<String>,
    /// Days within which money coming back counts as flow-back.
    pub flow_back_days: i64,
    /// Least share of the outgoing amount, percent, that must come back to count.
    pub flow_back_min_pct: i64,
    /// Payments at or over this must go through the bank to the counterparty (受托支付), fen;
    /// the threshold structuring dodges.
    pub entrusted_payment_fen: i64,
    /// Payments under the entrusted-payment threshold by at most this percentage are "just under".
    pub structuring_band_pct: i64,
    /// How many "just under" payments…
    pub structuring_count: usize,
    /// …within how many days are structuring.
    pub structuring_days: i64,
    /// Days after disbursement from which unused proceeds are idle.
    pub idle_days: i64,
    /// Share of the proceeds still unused, percent, that makes them idle.
    pub idle_pct: i64,
    /// Fall of settlement volume, percent, over the last three months against the three before.
    pub settlement_fall_pct: i64,
}

impl Default for FlowRules {
    fn default() -> Self {
        Self {
            // 5 million yuan.
            large_transfer_fen: 500_000_000,
            restricted_categories: ["real_estate", "securities", "underground_banking"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            flow_back_days: 30,
            flow_back_min_pct: 50,
            // 1 million yuan.
            entrusted_payment_fen: 100_000_000,
            structuring_band_pct: 10,
            structuring_count: 3,
            structuring_days: 5,
            idle_days: 30,
            idle_pct: 80,
            settlement_fall_pct: 30,
        }
    }
}

impl FlowRules {
    /// Checks a definition's values; the error points at the field.
    pub fn validate(&self) -> Result<(), Invalid> {
        let checks = [
            (
                "large_transfer_fen",
                (1..=MAX_AMOUNT_FEN).contains(&self.large_transfer_fen),
            ),
            (
                "entrusted_payment_fen",
                (1..=MAX_AMOUNT_FEN).contains(&self.entrusted_payment_fen),
            ),
            ("flow_back_days", (1..=366).contains(&self.flow_back_days)),
            (
                "flow_back_min_pct",
                (1..=100).contains(&self.flow_back_min_pct),
            ),
            (
                "structuring_band_pct",
                (1..=50).contains(&self.structuring_band_pct),
            ),
            (
                "structuring_count",
                (2..=100).contains(&self.structuring_count),
            ),
            (
                "structuring_days",
                (1..=90).contains(&self.structuring_days),
            ),
            ("idle_days", (1..=366).contains(&self.idle_days)),
            ("idle_pct", (1..=100).contains(&self.idle_pct)),
            (
                "settlement_fall_pct",
                (1..=100).contains(&self.settlement_fall_pct),
            ),
        ];
        if let Some((field, _)) = checks.iter().find(|(_, ok)| !ok) {
            return Err(Invalid::at(format!("/{field}"), "is out of range"));
        }
        match self.restricted_categories.iter().find(|c| !is_category(c)) {
            Some(c) => Err(Invalid::at(
                "/restricted_categories",
                format!("{c:?} is not a category: 1–64 of a–z, 0–9 and _"),
            )),
            None => Ok(()),
        }
    }
}

/// The loan whose proceeds are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedLoan {
    /// Loan id.
    pub loan_id: String,
    /// The borrower's party id.
    pub borrower: String,
    /// Related parties: shareholders, legal representative, group members, the borrower's own
    /// other accounts' holders.
    pub related: BTreeSet<String>,
    /// The contract counterparty of the financed purchase (entrusted payment), when known.
    pub counterparty: Option<String>,
    /// Amount disbursed, fen.
    pub disbursed_fen: i64,
    /// Day of disbursement.
    pub disbursed_on: NaiveDate,
}

/// The borrowers a transfer can bring money back to, given `to`, the borrowers whose home (own
/// party or a related party) the payee is, and `from`, those whose home the payer is: the homes
/// it reaches from outside. Money moving inside a home brings nothing back to that home's loans,
/// as flow-back in [`FlowMonitor`] is money coming home from outside it.
pub fn brought_home<'a, B: Ord>(
    to: &'a BTreeSet<B>,
    from: Option<&'a BTreeSet<B>>,
) -> impl Iterator<Item = &'a B> {
    to.iter()
        .filter(move |b| from.is_none_or(|f| !f.contains(*b)))
}

/// One transfer between parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The source system's id.
    pub id: String,
    /// When it was booked.
    pub at: NaiveDateTime,
    /// Paying party.
    pub from: String,
    /// Receiving party.
    pub to: String,
    /// Amount, fen (positive).
    pub amount_fen: i64,
    /// The loan whose proceeds paid it, if any.
    pub loan: Option<String>,
}

/// A rule broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Which rule.
    pub rule: FlowRule,
    /// How serious.
    pub tier: Tier,
    /// The transfers behind it, oldest first.
    pub transfers: Vec<String>,
    /// The other facts behind it: the loan whose proceeds sit unused (`loan:{id}`), the monthly
    /// settlement volumes compared (`settlement:{YYYY-MM}:{fen}`, oldest first).
    pub facts: Vec<String>,
    /// The day it refers to (deduplication is per borrower, rule and month of this day).
    pub on: NaiveDate,
    /// Why, for a person.
    pub detail: String,
}

/// A party as the engines know it: numbered on first sight, so that they compare and keep
/// numbers, not names.
type Pid = usize;

/// The parties seen, numbered, with what is known of each.
#[derive(Debug)]
struct Directory<'a> {
    known: &'a HashMap<String, PartyInfo>,
    ids: FxHashMap<Arc<str>, Pid>,
    names: Vec<Arc<str>>,
    info: Vec<Option<&'a PartyInfo>>,
}

impl<'a> Directory<'a> {
    fn new(known: &'a HashMap<String, PartyInfo>) -> Self {
        Self {
            known,
            ids: FxHashMap::default(),
            names: Vec::new(),
            info: Vec::new(),
        }
    }

    /// The party's number, given on first sight.
    fn id(&mut self, name: &str) -> Pid {
        if let Some(&p) = self.ids.get(name) {
            return p;
        }
        let p = self.names.len();
        let name: Arc<str> = Arc::from(name);
        self.info.push(self.known.get(&*name));
        self.names.push(name.clone());
        self.ids.insert(name, p);
        p
    }

    fn name(&self, p: Pid) -> &str {
        self.names.get(p).map_or("", |n| n)
    }

    fn info(&self, p: Pid) -> Option<&'a PartyInfo> {
        self.info.get(p).copied().flatten()
    }

    fn len(&self) -> usize {
        self.names.len()
    }
}

/// Where a loan's money is at home, and whom it was meant for, by party number.
#[derive(Debug)]
struct Home {
    borrower: Pid,
    /// Sorted.
    related: Box<[Pid]>,
    counterparty: Option<Pid>,
}

impl Home {
    fn new(loan: &WatchedLoan, dir: &mut Directory<'_>) -> Self {
        let mut related: Vec<Pid> = loan.related.iter().map(|p| dir.id(p)).collect();
        related.sort_unstable();
        Self {
            borrower: dir.id(&loan.borrower),
            related: related.into(),
            counterparty: loan.counterparty.as_deref().map(|p| dir.id(p)),
        }
    }

    /// Whether money reaching `party` has come home: the borrower or a related party.
    fn contains(&self, party: Pid) -> bool {
        party == self.borrower || self.related.binary_search(&party).is_ok()
    }
}

/// A transfer as one engine takes it: its parties by number, and whether it pays out this
/// loan's proceeds.
#[derive(Debug, Clone, Copy)]
struct Moved<'t> {
    t: &'t Transfer,
    from: Pid,
    to: Pid,
    own: bool,
}

/// An outflow of proceeds that may come back. Ids are shared, not copied: a payment onward from
/// a much-paid party is remembered by every loan that paid it.
#[derive(Debug, Clone)]
struct Outflow {
    id: Arc<str>,
    at: NaiveDateTime,
    to: Pid,
    amount_fen: i64,
}

/// Money that reached a second party from someone who received proceeds.
#[derive(Debug, Clone)]
struct Onward {
    first: Outflow,
    id: Arc<str>,
    to: Pid,
    amount_fen: i64,
}

/// A transfer's id, made shareable once however many loans keep it.
#[derive(Debug, Default)]
struct SharedId(Option<Arc<str>>);

impl SharedId {
    fn get(&mut self, t: &Transfer) -> Arc<str> {
        self.0
            .get_or_insert_with(|| Arc::from(t.id.as_str()))
            .clone()
    }
}

/// The rules' state for one loan, fed the transfers that can concern it in time order.
#[derive(Debug)]
struct Engine<'a> {
    rules: &'a FlowRules,
    loan: &'a WatchedLoan,
    home: Home,
    outflows: VecDeque<Outflow>,
    onward: VecDeque<Onward>,
    near_threshold: VecDeque<(NaiveDateTime, Arc<str>)>,
    spent_fen: i64,
    /// Parties this engine started to follow in the last push, each with the time until which
    /// money from it can still come home as flow-back: payees of proceeds, and those they paid
    /// on.
    followed: Vec<(Pid, NaiveDateTime)>,
}

impl<'a> Engine<'a> {
    fn new(rules: &'a FlowRules, loan: &'a WatchedLoan, dir: &mut Directory<'_>) -> Self {
        Self {
            rules,
            loan,
            home: Home::new(loan, dir),
            outflows: VecDeque::new(),
            onward: VecDeque::new(),
            near_threshold: VecDeque::new(),
            spent_fen: 0,
            followed: Vec::new(),
        }
    }

    fn push(&mut self, m: Moved<'_>, dir: &Directory<'_>, shared: &mut SharedId) -> Vec<Hit> {
        let t = m.t;
        let mut hits = Vec::new();
        self.followed.clear();
        let window = Duration::days(self.rules.flow_back_days);
        while self.outflows.front().is_some_and(|o| t.at - o.at > window) {
            self.outflows.pop_front();
        }
        while self
            .onward
            .front()
            .is_some_and(|o| t.at - o.first.at > window)
        {
            self.onward.pop_front();
        }
        let hit = |rule, tier, transfers: Vec<String>, detail: String| Hit {
            rule,
            tier,
            transfers,
            facts: Vec::new(),
            on: t.at.date(),
            detail,
        };
        let (from_home, to_home) = (self.home.contains(m.from), self.home.contains(m.to));

        // Money coming home: the borrower's or a related party's account receives from someone
        // who got proceeds (one hop) or from someone paid by such a party (two hops).
        if to_home && !from_home {
            let min = |amount: i64| amount * self.rules.flow_back_min_pct / 100;
            if let Some(o) = self
                .outflows
                .iter()
                .find(|o| o.to == m.from && t.amount_fen >= min(o.amount_fen))
            {
                hits.push(hit(
                    FlowRule::FlowBack,
                    Tier::Red,
                    vec![o.id.to_string(), t.id.clone()],
                    format!(
                        "{} yuan of proceeds paid to {} on {} came back {} yuan to {} on {}",
                        yuan(o.amount_fen),
                        dir.name(o.to),
                        o.at.date(),
                        yuan(t.amount_fen),
                        t.to,
                        t.at.date()
                    ),
                ));
            } else if let Some(o) = self.onward.iter().find(|o| {
                // Onward money is queued in the order it moved on, not in the order the
                // proceeds left: the front-only eviction above can leave an older one behind a
                // newer one, so the window is checked here too.
                o.to == m.from
                    && t.at - o.first.at <= window
                    && t.amount_fen >= min(o.first.amount_fen.min(o.amount_fen))
            }) {
                hits.push(hit(
                    FlowRule::FlowBack,
                    Tier::Red,
                    vec![o.first.id.to_string(), o.id.to_string(), t.id.clone()],
                    format!(
                        "{} yuan of proceeds paid to {} on {} went on to {} and came back {} yuan to {} on {}",
                        yuan(o.first.amount_fen),
                        dir.name(o.first.to),
                        o.first.at.date(),
                        dir.name(o.to),
                        yuan(t.amount_fen),
                        t.to,
                        t.at.date()
                    ),
                ));
            }
        }

        // Money moving on from someone who received proceeds: remember it for two-hop flow-back.
        if !from_home && !to_home {
            let mut until = None;
            for first in self.outflows.iter().filter(|o| o.to == m.from) {
                until = until.max(Some(first.at + window));
                self.onward.push_back(Onward {
                    first: first.clone(),
                    id: shared.get(t),
                    to: m.to,
                    amount_fen: t.amount_fen,
                });
            }
            if let Some(until) = until {
                self.followed.push((m.to, until));
            }
        }

        if !(m.own && m.from == self.home.borrower) {
            return hits;
        }
        self.spent_fen += t.amount_fen;
        let payee = dir.info(m.to);

        if t.amount_fen >= self.rules.large_transfer_fen {
            hits.push(hit(
                FlowRule::LargeTransfer,
                Tier::Yellow,
                vec![t.id.clone()],
                format!(
                    "{} yuan paid to {} at once (threshold {} yuan)",
                    yuan(t.amount_fen),
                    t.to,
                    yuan(self.rules.large_transfer_fen)
                ),
            ));
        }
        if let Some(category) = payee
            .and_then(|p| p.category.as_deref())
            .filter(|c| self.rules.restricted_categories.contains(*c))
        {
            hits.push(hit(
                FlowRule::RestrictedCategory,
                Tier::Red,
                vec![t.id.clone()],
                format!(
                    "{} yuan of proceeds paid to {} ({category})",
                    yuan(t.amount_fen),
                    t.to
                ),
            ));
        }
        if let Some(counterparty) = self.home.counterparty
            && counterparty != m.to
            && !to_home
        {
            let counterparty_is_company = dir
                .info(counterparty)
                .is_some_and(|p| p.kind == PartyKind::Company);
            if counterparty_is_company && payee.is_some_and(|p| p.kind == PartyKind::Individual) {
                hits.push(hit(
                    FlowRule::IndividualPayee,
                    Tier::Orange,
                    vec![t.id.clone()],
                    format!(
                        "{} yuan paid to the individual {} while the contract counterparty {} is a company",
                        yuan(t.amount_fen),
                        t.to,
                        dir.name(counterparty)
                    ),
                ));
            } else {
                hits.push(hit(
                    FlowRule::NotCounterparty,
                    Tier::Yellow,
                    vec![t.id.clone()],
                    format!(
                        "{} yuan paid to {}, not to the contract counterparty {}",
                        yuan(t.amount_fen),
                        t.to,
                        dir.name(counterparty)
                    ),
                ));
            }
        }
        let threshold = self.rules.entrusted_payment_fen;
        let floor = threshold - threshold * self.rules.structuring_band_pct / 100;
        if threshold > 0 && (floor..threshold).contains(&t.amount_fen) {
            let window = Duration::days(self.rules.structuring_days);
            while self
                .near_threshold
                .front()
                .is_some_and(|(at, _)| t.at - *at > window)
            {
                self.near_threshold.pop_front();
            }
            self.near_threshold.push_back((t.at, shared.get(t)));
            if self.near_threshold.len() >= self.rules.structuring_count {
                let ids: Vec<String> = self
                    .near_threshold
                    .iter()
                    .map(|(_, id)| id.to_string())
                    .collect();
                let detail = format!(
                    "{} payments just under the entrusted-payment threshold of {} yuan within {} days",
                    ids.len(),
                    yuan(threshold),
                    self.rules.structuring_days
                );
                hits.push(hit(FlowRule::Structuring, Tier::Orange, ids, detail));
                self.near_threshold.clear();
            }
        }
        if !to_home {
            self.followed.push((m.to, t.at + window));
            self.outflows.push_back(Outflow {
                id: shared.get(t),
                at: t.at,
                to: m.to,
                amount_fen: t.amount_fen,
            });
        }
        hits
    }

    /// Whether the proceeds sit unused on `as_of`.
    fn idle(&self, as_of: NaiveDate) -> Option<Hit> {
        let loan = self.loan;
        let days = (as_of - loan.disbursed_on).num_days();
        let unused = loan.disbursed_fen - self.spent_fen;
        (loan.disbursed_fen > 0
            && days >= self.rules.idle_days
            && unused * 100 >= loan.disbursed_fen * self.rules.idle_pct)
            .then(|| Hit {
                rule: FlowRule::IdleProceeds,
                tier: Tier::Yellow,
                transfers: Vec::new(),
                facts: vec![format!("loan:{}", loan.loan_id)],
                on: as_of,
                detail: format!(
                    "{} of {} yuan unused {days} days after disbursement",
                    yuan(unused),
                    yuan(loan.disbursed_fen)
                ),
            })
    }
}

/// The fund-flow rules applied to one loan's transfers, in time order: every transfer goes
/// through, whether it can concern the loan or not.
#[derive(Debug)]
pub struct FlowEngine<'a> {
    engine: Engine<'a>,
    dir: Directory<'a>,
}

impl<'a> FlowEngine<'a> {
    /// An engine with nothing seen yet.
    pub fn new(
        rules: &'a FlowRules,
        loan: &'a WatchedLoan,
        parties: &'a HashMap<String, PartyInfo>,
    ) -> Self {
        let mut dir = Directory::new(parties);
        Self {
            engine: Engine::new(rules, loan, &mut dir),
            dir,
        }
    }

    /// Takes the next transfer (not earlier than the previous one) and returns the rules it
    /// breaks.
    pub fn push(&mut self, t: &Transfer) -> Vec<Hit> {
        let m = Moved {
            t,
            from: self.dir.id(&t.from),
            to: self.dir.id(&t.to),
            own: t.loan.as_deref() == Some(self.engine.loan.loan_id.as_str()),
        };
        self.engine.push(m, &self.dir, &mut SharedId::default())
    }

    /// Whether the proceeds sit unused on `as_of`.
    pub fn idle(&self, as_of: NaiveDate) -> Option<Hit> {
        self.engine.idle(as_of)
    }
}

/// All the fund-flow rules over one loan's transfers (sorted here by time, then id), and the idle
/// check on `as_of`: the batch path.
pub fn evaluate(
    rules: &FlowRules,
    loan: &WatchedLoan,
    parties: &HashMap<String, PartyInfo>,
    transfers: &[Transfer],
    as_of: NaiveDate,
) -> Vec<Hit> {
    let mut ordered: Vec<&Transfer> = transfers.iter().filter(|t| t.at.date() <= as_of).collect();
    ordered.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    let mut engine = FlowEngine::new(rules, loan, parties);
    let mut hits: Vec<Hit> = ordered.into_iter().flat_map(|t| engine.push(t)).collect();
    hits.extend(engine.idle(as_of));
    hits
}

/// The fund-flow rules over many loans, fed one stream of transfers in time order. Each transfer
/// goes only to the loans it can concern: the loan whose proceeds paid it, and the loans whose
/// proceeds reached the payer, directly or through one more party, within the flow-back window
/// (money moving on, or coming home). A transfer from anyone else changes nothing for a loan,
/// so a borrower with many loans or many payers costs nothing until its proceeds move. The
/// nightly batch feeds the portfolio's whole stream, the real-time path the stretch around new
/// transfers; loan by loan the hits are those of [`evaluate`], which feeds one loan every
/// transfer.
#[derive(Debug)]
pub struct FlowMonitor<'a> {
    loans: &'a [WatchedLoan],
    engines: Vec<Engine<'a>>,
    dir: Directory<'a>,
    by_loan: FxHashMap<&'a str, usize>,
    /// By party number, the loans whose proceeds reached the party (directly or through one
    /// more party), each until the last of them leaves the flow-back window. Expired entries
    /// are dropped as the party is next looked up.
    follow: Vec<Vec<(usize, NaiveDateTime)>>,
    targets: Vec<usize>,
}

impl<'a> FlowMonitor<'a> {
    /// A monitor over `loans` with nothing seen yet.
    pub fn new(
        rules: &'a FlowRules,
        loans: &'a [WatchedLoan],
        parties: &'a HashMap<String, PartyInfo>,
    ) -> Self {
        let mut dir = Directory::new(parties);
        let engines = loans
            .iter()
            .map(|l| Engine::new(rules, l, &mut dir))
            .collect();
        Self {
            loans,
            engines,
            dir,
            by_loan: loans
                .iter()
                .enumerate()
                .map(|(i, l)| (l.loan_id.as_str(), i))
                .collect(),
            follow: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Takes the next transfer (not earlier than the previous one) and returns the rules it
    /// breaks, with the loan each concerns.
    pub fn push(&mut self, t: &Transfer) -> Vec<(&'a WatchedLoan, Hit)> {
        let (from, to) = (self.dir.id(&t.from), self.dir.id(&t.to));
        if self.follow.len() < self.dir.len() {
            self.follow.resize_with(self.dir.len(), Vec::new);
        }
        let mut targets = std::mem::take(&mut self.targets);
        targets.clear();
        let own = t.loan.as_deref().and_then(|l| self.by_loan.get(l)).copied();
        targets.extend(own);
        if let Some(loans) = self.follow.get_mut(from) {
            loans.retain(|(_, until)| t.at <= *until);
            targets.extend(loans.iter().map(|(i, _)| *i));
        }
        if targets.len() > 1 {
            targets.sort_unstable();
            targets.dedup();
        }
        let mut hits = Vec::new();
        let mut shared = SharedId::default();
        for &i in &targets {
            let (Some(engine), Some(loan)) = (self.engines.get_mut(i), self.loans.get(i)) else {
                continue;
            };
            let m = Moved {
                t,
                from,
                to,
                own: own == Some(i),
            };
            hits.extend(
                engine
                    .push(m, &self.dir, &mut shared)
                    .into_iter()
                    .map(|h| (loan, h)),
            );
            for (party, until) in engine.followed.drain(..) {
                let Some(loans) = self.follow.get_mut(party) else {
                    continue;
                };
                match loans.iter_mut().find(|(j, _)| *j == i) {
                    Some(entry) => entry.1 = entry.1.max(until),
                    None => loans.push((i, until)),
                }
            }
        }
        self.targets = targets;
        hits
    }

    /// The idle check of every loan on `as_of`.
    pub fn idle(&self, as_of: NaiveDate) -> Vec<(&'a WatchedLoan, Hit)> {
        self.loans
            .iter()
            .zip(&self.engines)
            .filter_map(|(l, e)| e.idle(as_of).map(|h| (l, h)))
            .collect()
    }
}

/// Whether the borrower's settlement volume at this bank fell: `monthly_fen` holds the settled
/// volume of consecutive months from the month of `first`, oldest first, ending with the last
/// full month. The facts are the six months compared, with their volumes.
pub fn settlement_falling(
    rules: &FlowRules,
    first: NaiveDate,
    monthly_fen: &[i64],
    on: NaiveDate,
) -> Option<Hit> {
    let [.., a, b, c, d, e, f] = monthly_fen else {
        return None;
    };
    let before = a + b + c;
    let after = d + e + f;
    let skipped = monthly_fen.len() - 6;
    (before > 0 && (before - after) * 100 >= before * rules.settlement_fall_pct).then(|| Hit {
        rule: FlowRule::SettlementFalling,
        tier: Tier::Yellow,
        transfers: Vec::new(),
        facts: [a, b, c, d, e, f]
            .iter()
            .enumerate()
            .map(|(i, fen)| {
                let month = first
                    .checked_add_months(Months::new((skipped + i) as u32))
                    .unwrap_or(first);
                format!("settlement:{}:{fen}", month.format("%Y-%m"))
            })
            .collect(),
        on,
        detail: format!(
            "settlement at this bank fell from {} to {} yuan over the last three months",
            yuan(before),
            yuan(after)
        ),
    })
}

/// Settlement at this bank: each watched borrower's monthly volume through its accounts over
/// the six full months before the month of `as_of`, gathered from a stream of transfers (the
/// nightly batch's one pass), for [`settlement_falling`].
#[derive(Debug)]
pub struct SettlementVolume {
    /// First day of the six months.
    from: NaiveDate,
    /// First day of the month of `as_of` (the end, exclusive).
    until: NaiveDate,
    /// By borrower party: the loan a finding is anchored on (the largest) and six monthly sums.
    by_party: FxHashMap<String, (String, [i64; 6])>,
}

impl SettlementVolume {
    /// Nothing counted yet for the borrowers of `loans`.
    pub fn new(loans: &[WatchedLoan], as_of: NaiveDate) -> Self {
        let until = as_of.with_day(1).unwrap_or(as_of);
        let from = until.checked_sub_months(Months::new(6)).unwrap_or(until);
        let mut by_party: HashMap<String, (String, i64, [i64; 6])> = HashMap::new();
        for l in loans {
            let e = by_party
                .entry(l.borrower.clone())
                .or_insert_with(|| (l.loan_id.clone(), l.disbursed_fen, [0; 6]));
            if l.disbursed_fen > e.1 {
                (e.0, e.1) = (l.loan_id.clone(), l.disbursed_fen);
            }
        }
        Self {
            from,
            until,
            by_party: by_party
                .into_iter()
                .map(|(p, (loan, _, months))| (p, (loan, months)))
                .collect(),
        }
    }

    /// Counts a transfer for the borrowers on either side (once when both sides are the same).
    pub fn add(&mut self, t: &Transfer) {
        let day = t.at.date();
        if day < self.from || day >= self.until {
            return;
        }
        let month =
            (day.year() - self.from.year()) * 12 + day.month() as i32 - self.from.month() as i32;
        let Ok(i) = usize::try_from(month) else {
            return;
        };
        let sides = std::iter::once(&t.from).chain((t.from != t.to).then_some(&t.to));
        for party in sides {
            if let Some((_, months)) = self.by_party.get_mut(party.as_str())
                && let Some(m) = months.get_mut(i)
            {
                *m = m.saturating_add(t.amount_fen);
            }
        }
    }

    /// The borrowers whose settlement fell, as (anchoring loan, hit), in loan order.
    pub fn falling(&self, rules: &FlowRules, as_of: NaiveDate) -> Vec<(String, Hit)> {
        let mut out: Vec<(String, Hit)> = self
            .by_party
            .values()
            .filter_map(|(loan, months)| {
                settlement_falling(rules, self.from, months, as_of).map(|hit| (loan.clone(), hit))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, hour: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .unwrap_or_default()
    }

    fn parties() -> HashMap<String, PartyInfo> {
        let company = |c: Option<&str>| PartyInfo {
            kind: PartyKind::Company,
            category: c.map(str::to_owned),
        };
        HashMap::from([
            ("supplier".to_owned(), company(Some("manufacturing"))),
            ("developer".to_owned(), company(Some("real_estate"))),
            ("other_co".to_owned(), company(None)),
            ("shell".to_owned(), company(None)),
            (
                "zhang".to_owned(),
                PartyInfo {
                    kind: PartyKind::Individual,
                    category: None,
                },
            ),
        ])
    }

    fn loan() -> WatchedLoan {
        WatchedLoan {
            loan_id: "L1".into(),
            borrower: "borrower".into(),
            related: ["shareholder".to_owned()].into(),
            counterparty: Some("supplier".into()),
            disbursed_fen: 1_000_000_000,
            disbursed_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default(),
        }
    }

    fn pay(id: &str, when: NaiveDateTime, from: &str, to: &str, yuan: i64) -> Transfer {
        Transfer {
            id: id.into(),
            at: when,
            from: from.into(),
            to: to.into(),
            amount_fen: yuan * 100,
            loan: (from == "borrower").then(|| "L1".to_owned()),
        }
    }

    fn rules_hit(transfers: &[Transfer], as_of_day: u32) -> Vec<FlowRule> {
        let as_of = NaiveDate::from_ymd_opt(2026, 3, as_of_day).unwrap_or_default();
        evaluate(&FlowRules::default(), &loan(), &parties(), transfers, as_of)
            .into_iter()
            .map(|h| h.rule)
            .collect()
    }

    #[test]
    fn a_clean_payment_to_the_counterparty_raises_nothing() {
        assert!(
            rules_hit(
                &[pay("t1", at(2, 10), "borrower", "supplier", 2_000_000)],
                5
            )
            .is_empty()
        );
    }

    #[test]
    fn large_transfers_warn_from_the_threshold() {
        assert_eq!(
            rules_hit(
                &[pay("t1", at(2, 10), "borrower", "supplier", 5_000_000)],
                5
            ),
            [FlowRule::LargeTransfer]
        );
        assert!(
            rules_hit(
                &[pay("t1", at(2, 10), "borrower", "supplier", 4_999_999)],
                5
            )
            .is_empty()
        );
    }

    #[test]
    fn restricted_categories_individuals_and_strangers_are_told_apart() {
        assert_eq!(
            rules_hit(&[pay("t1", at(2, 10), "borrower", "developer", 100_000)], 5),
            [FlowRule::RestrictedCategory, FlowRule::NotCounterparty]
        );
        assert_eq!(
            rules_hit(&[pay("t1", at(2, 10), "borrower", "zhang", 100_000)], 5),
            [FlowRule::IndividualPayee]
        );
        assert_eq!(
            rules_hit(&[pay("t1", at(2, 10), "borrower", "other_co", 100_000)], 5),
            [FlowRule::NotCounterparty]
        );
        // Moving proceeds between the borrower's own or related accounts is not a payee question.
        assert!(
            rules_hit(
                &[pay("t1", at(2, 10), "borrower", "shareholder", 100_000)],
                5
            )
            .is_empty()
        );
    }

    /// The monitor hands each transfer only to the loans it can concern; loan by loan, it must
    /// find what one engine fed every transfer finds.
    #[test]
    fn the_monitor_finds_per_loan_what_an_engine_fed_everything_finds() {
        let mut parties = parties();
        for p in ["b2", "r2", "shell2", "zhao"] {
            let kind = if p == "zhao" || p == "r2" {
                PartyKind::Individual
            } else {
                PartyKind::Company
            };
            parties.insert(
                p.to_owned(),
                PartyInfo {
                    kind,
                    category: None,
                },
            );
        }
        let second = |id: &str, borrower: &str, related: &str, cp: &str| WatchedLoan {
            loan_id: id.into(),
            borrower: borrower.into(),
            related: [related.to_owned()].into(),
            counterparty: Some(cp.into()),
            disbursed_fen: 2_000_000_000,
            disbursed_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap_or_default(),
        };
        let loans = [
            loan(),
            second("L2", "b2", "r2", "other_co"),
            second("L3", "borrower", "shareholder", "shell"),
        ];
        // The named parties, and forty strangers for money to move on through.
        let strangers: Vec<String> = (0..40).map(|i| format!("x{i:02}")).collect();
        let everyone: Vec<&str> = [
            "borrower",
            "shareholder",
            "b2",
            "r2",
            "supplier",
            "developer",
            "other_co",
            "shell",
            "shell2",
            "zhang",
            "zhao",
        ]
        .into_iter()
        .chain(strangers.iter().map(String::as_str))
        .collect();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let start = at(1, 0) - Duration::days(60);
        let mut stream = Vec::new();
        for i in 0..4_000u64 {
            // Borrowers pay often, so that proceeds move.
            let from = if next(3) == 0 {
                ["borrower", "b2"][next(2) as usize]
            } else {
                everyone[next(everyone.len() as u64) as usize]
            };
            let mut to = everyone[next(everyone.len() as u64) as usize];
            if to == from {
                to = "shell2";
            }
            let loan = match from {
                "borrower" if next(3) > 0 => Some(if next(2) == 0 { "L1" } else { "L3" }),
                "b2" if next(3) > 0 => Some("L2"),
                _ => None,
            };
            let amount = match next(10) {
                0 => 950_000 + next(49_000) as i64,
                1 => 5_000_000 + next(1_000_000) as i64,
                _ => 10_000 + next(2_000_000) as i64,
            };
            stream.push(Transfer {
                id: format!("t{i:05}"),
                at: start + Duration::minutes(30 * i as i64 + next(29) as i64),
                from: from.into(),
                to: to.into(),
                amount_fen: amount * 100,
                loan: loan.map(str::to_owned),
            });
        }
        let as_of = NaiveDate::from_ymd_opt(2026, 4, 30).unwrap_or_default();
        let rules = FlowRules::default();
        let mut monitor = FlowMonitor::new(&rules, &loans, &parties);
        let mut found: Vec<(String, FlowRule, Vec<String>)> = Vec::new();
        for t in &stream {
            for (l, h) in monitor.push(t) {
                found.push((l.loan_id.clone(), h.rule, h.transfers));
            }
        }
        for (l, h) in monitor.idle(as_of) {
            found.push((l.loan_id.clone(), h.rule, h.transfers));
        }
        let mut expected: Vec<(String, FlowRule, Vec<String>)> = loans
            .iter()
            .flat_map(|l| {
                evaluate(&rules, l, &parties, &stream, as_of)
                    .into_iter()
                    .map(|h| (l.loan_id.clone(), h.rule, h.transfers))
            })
            .collect();
        found.sort();
        expected.sort();
        let flow_backs = expected
            .iter()
            .filter(|(_, r, _)| *r == FlowRule::FlowBack)
            .count();
        let two_hops = expected
            .iter()
            .filter(|(_, r, ids)| *r == FlowRule::FlowBack && ids.len() == 3)
            .count();
        assert!(
            flow_backs > two_hops && two_hops > 10,
            "the stream must exercise flow-back, direct ({}) and through one more party ({two_hops})",
            flow_backs - two_hops
        );
        assert_eq!(found, expected);
    }

    #[test]
    fn money_is_brought_home_only_from_outside_the_home() {
        let set = |names: &[&str]| {
            names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<BTreeSet<_>>()
        };
        let to = set(&["B1", "B2"]);
        let all =
            |from: Option<&BTreeSet<String>>| brought_home(&to, from).cloned().collect::<Vec<_>>();
        // From a stranger: back to every home the payee belongs to.
        assert_eq!(all(None), ["B1", "B2"]);
        // From inside B1's home (the borrower paying its related party): only to B2's.
        assert_eq!(all(Some(&set(&["B1"]))), ["B2"]);
        // From inside both: nowhere.
        assert!(all(Some(&set(&["B2", "B1", "B3"]))).is_empty());
    }

    #[test]
    fn flow_back_is_found_directly_and_through_one_intermediary_within_the_window() {
        let out = pay("t1", at(2, 10), "borrower", "supplier", 2_000_000);
        let direct = [
            out.clone(),
            pay("t2", at(10, 9), "supplier", "shareholder", 1_500_000),
        ];
        assert_eq!(rules_hit(&direct, 20), [FlowRule::FlowBack]);
        let two_hops = [
            out.clone(),
            pay("t2", at(3, 9), "supplier", "shell", 1_900_000),
            pay("t3", at(4, 9), "shell", "borrower", 1_800_000),
        ];
        let hits = evaluate(
            &FlowRules::default(),
            &loan(),
            &parties(),
            &two_hops,
            NaiveDate::from_ymd_opt(2026, 3, 20).unwrap_or_default(),
        );
        assert_eq!(hits.len(), 1);
        assert_eq!(
            (hits[0].rule, hits[0].tier),
            (FlowRule::FlowBack, Tier::Red)
        );
        assert_eq!(hits[0].transfers, ["t1", "t2", "t3"]);
        // Too little, or too late, is not flow-back.
        let small = [
            out.clone(),
            pay("t2", at(10, 9), "supplier", "borrower", 900_000),
        ];
        assert!(rules_hit(&small, 20).is_empty());
        let late = [
            pay(
                "t1",
                NaiveDate::from_ymd_opt(2026, 1, 10)
                    .and_then(|d| d.and_hms_opt(9, 0, 0))
                    .unwrap_or_default(),
                "borrower",
                "supplier",
                2_000_000,
            ),
            pay("t2", at(20, 9), "supplier", "borrower", 2_000_000),
        ];
        assert!(rules_hit(&late, 25).is_empty());
        // The window runs from the proceeds leaving, whatever order the money moved on in: t3
        // moved on after t4 but carries older proceeds (t1), which are out of the window when
        // t5 comes home, while t2's are not.
        let shuffled = [
            pay("t1", at(1, 9), "borrower", "supplier", 2_000_000),
            pay("t2", at(20, 9), "borrower", "other_co", 2_000_000),
            pay("t3", at(21, 9), "other_co", "zhang", 1_900_000),
            pay("t4", at(22, 9), "supplier", "shell", 1_900_000),
            pay("t5", at(31, 10), "shell", "borrower", 1_800_000),
        ];
        assert!(!rules_hit(&shuffled, 31).contains(&FlowRule::FlowBack));
        // Three hops are not followed.
        let three = [
            out,
            pay("t2", at(3, 9), "supplier", "shell", 1_900_000),
            pay("t3", at(4, 9), "shell", "other_co", 1_800_000),
            pay("t4", at(5, 9), "other_co", "borrower", 1_700_000),
        ];
        assert!(rules_hit(&three, 20).is_empty());
    }

    #[test]
    fn structuring_needs_enough_payments_just_under_the_threshold_close_together() {
        let under = |id: &str, day| pay(id, at(day, 10), "borrower", "supplier", 950_000);
        assert_eq!(
            rules_hit(&[under("a", 2), under("b", 3), under("c", 5)], 10),
            [FlowRule::Structuring]
        );
        assert!(rules_hit(&[under("a", 2), under("b", 3)], 10).is_empty());
        assert!(rules_hit(&[under("a", 2), under("b", 3), under("c", 9)], 10).is_empty());
        // Well under the band is ordinary.
        let small = |id: &str, day| pay(id, at(day, 10), "borrower", "supplier", 500_000);
        assert!(rules_hit(&[small("a", 2), small("b", 3), small("c", 4)], 10).is_empty());
    }

    #[test]
    fn idle_proceeds_warn_after_the_idle_period_only_when_mostly_unused() {
        let as_of = |d| NaiveDate::from_ymd_opt(2026, 4, d).unwrap_or_default();
        let rules = FlowRules::default();
        let (l, p) = (loan(), parties());
        assert_eq!(
            evaluate(&rules, &l, &p, &[], as_of(1))
                .iter()
                .map(|h| h.rule)
                .collect::<Vec<_>>(),
            [FlowRule::IdleProceeds]
        );
        assert!(
            evaluate(
                &rules,
                &l,
                &p,
                &[],
                NaiveDate::from_ymd_opt(2026, 3, 20).unwrap_or_default()
            )
            .is_empty()
        );
        let spent = [pay("t1", at(2, 10), "borrower", "supplier", 3_000_000)];
        assert!(evaluate(&rules, &l, &p, &spent, as_of(1)).is_empty());
    }

    #[test]
    fn the_engine_fed_one_transfer_at_a_time_raises_what_the_batch_raises() {
        let history = [
            pay("t1", at(2, 10), "borrower", "developer", 5_500_000),
            pay("t2", at(3, 9), "developer", "shell", 5_000_000),
            pay("t3", at(4, 9), "shell", "shareholder", 4_000_000),
            pay("t4", at(5, 10), "borrower", "supplier", 950_000),
            pay("t5", at(6, 10), "borrower", "supplier", 960_000),
            pay("t6", at(7, 10), "borrower", "zhang", 970_000),
        ];
        let (rules, l, p) = (FlowRules::default(), loan(), parties());
        let batch = evaluate(
            &rules,
            &l,
            &p,
            &history,
            NaiveDate::from_ymd_opt(2026, 3, 10).unwrap_or_default(),
        );
        let mut engine = FlowEngine::new(&rules, &l, &p);
        let live: Vec<Hit> = history.iter().flat_map(|t| engine.push(t)).collect();
        assert_eq!(batch, live);
        let kinds: BTreeSet<FlowRule> = batch.iter().map(|h| h.rule).collect();
        assert_eq!(
            kinds,
            [
                FlowRule::LargeTransfer,
                FlowRule::RestrictedCategory,
                FlowRule::NotCounterparty,
                FlowRule::FlowBack,
                FlowRule::Structuring,
                FlowRule::IndividualPayee,
            ]
            .into()
        );
    }

    #[test]
    fn the_monitor_over_a_mixed_stream_raises_per_loan_what_each_loan_alone_raises() {
        let other = WatchedLoan {
            loan_id: "L2".into(),
            borrower: "other_co".into(),
            related: BTreeSet::new(),
            counterparty: None,
            disbursed_fen: 10_000_000_000,
            disbursed_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default(),
        };
        let second = |id: &str, when, to: &str, yuan: i64| Transfer {
            loan: Some("L2".into()),
            ..pay(id, when, "other_co", to, yuan)
        };
        let stream = [
            pay("a1", at(2, 10), "borrower", "supplier", 2_000_000),
            second("b1", at(2, 11), "shell", 6_000_000),
            pay("a2", at(3, 9), "supplier", "shell", 1_900_000),
            second("b2", at(3, 10), "zhang", 100_000),
            pay("a3", at(4, 9), "shell", "borrower", 1_800_000),
            pay("b3", at(5, 9), "shell", "other_co", 5_000_000),
            pay("x1", at(6, 9), "zhang", "developer", 10),
        ];
        let (rules, p) = (FlowRules::default(), parties());
        let loans = [loan(), other];
        let as_of = NaiveDate::from_ymd_opt(2026, 4, 10).unwrap_or_default();
        let mut monitor = FlowMonitor::new(&rules, &loans, &p);
        let mut live: Vec<(String, Hit)> = Vec::new();
        for t in &stream {
            live.extend(
                monitor
                    .push(t)
                    .into_iter()
                    .map(|(l, h)| (l.loan_id.clone(), h)),
            );
        }
        live.extend(
            monitor
                .idle(as_of)
                .into_iter()
                .map(|(l, h)| (l.loan_id.clone(), h)),
        );
        let mut alone: Vec<(String, Hit)> = loans
            .iter()
            .flat_map(|l| {
                evaluate(&rules, l, &p, &stream, as_of)
                    .into_iter()
                    .map(|h| (l.loan_id.clone(), h))
            })
            .collect();
        let key = |(l, h): &(String, Hit)| (l.clone(), h.rule, h.transfers.clone());
        live.sort_by_key(key);
        alone.sort_by_key(key);
        assert_eq!(live, alone);
        let found: BTreeSet<(String, FlowRule)> =
            live.iter().map(|(l, h)| (l.clone(), h.rule)).collect();
        assert!(found.contains(&("L1".to_owned(), FlowRule::FlowBack)));
        assert!(found.contains(&("L2".to_owned(), FlowRule::FlowBack)));
        assert!(found.contains(&("L2".to_owned(), FlowRule::LargeTransfer)));
        assert!(found.contains(&("L2".to_owned(), FlowRule::IdleProceeds)));
        // Idle proceeds rest on the loan itself.
        for (l, h) in live
            .iter()
            .filter(|(_, h)| h.rule == FlowRule::IdleProceeds)
        {
            assert_eq!(h.facts, [format!("loan:{l}")]);
        }
    }

    #[test]
    fn settlement_falling_compares_the_last_three_months_with_the_three_before() {
        let on = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap_or_default();
        let first = NaiveDate::from_ymd_opt(2025, 12, 1).unwrap_or_default();
        let rules = FlowRules::default();
        let hit = settlement_falling(&rules, first, &[5, 100, 100, 100, 60, 70, 80], on);
        assert_eq!(
            hit.map(|h| h.facts),
            Some(
                [
                    "2026-01:100",
                    "2026-02:100",
                    "2026-03:100",
                    "2026-04:60",
                    "2026-05:70",
                    "2026-06:80"
                ]
                .map(|f| format!("settlement:{f}"))
                .to_vec()
            )
        );
        assert!(settlement_falling(&rules, first, &[100, 100, 100, 80, 80, 80], on).is_none());
        assert!(settlement_falling(&rules, first, &[100, 100, 100, 60], on).is_none());
        assert!(settlement_falling(&rules, first, &[0, 0, 0, 0, 0, 0], on).is_none());
    }

    #[test]
    fn settlement_volume_counts_each_borrower_month_once_and_anchors_on_the_largest_loan() {
        let small = WatchedLoan {
            loan_id: "L0".into(),
            disbursed_fen: 1,
            ..loan()
        };
        let as_of = NaiveDate::from_ymd_opt(2026, 11, 5).unwrap_or_default();
        let mut v = SettlementVolume::new(&[small, loan()], as_of);
        let day = |m: u32| {
            NaiveDate::from_ymd_opt(2026, m, 15)
                .and_then(|d| d.and_hms_opt(10, 0, 0))
                .unwrap_or_default()
        };
        for m in 5..=7 {
            v.add(&pay("in", day(m), "supplier", "borrower", 1_000_000));
        }
        for m in 8..=10 {
            v.add(&pay("in", day(m), "supplier", "borrower", 200_000));
        }
        // Outside the six months, between strangers, or the borrower to itself (once).
        v.add(&pay("old", day(4), "supplier", "borrower", 9_000_000));
        v.add(&pay("now", day(11), "supplier", "borrower", 9_000_000));
        v.add(&pay("other", day(8), "supplier", "someone", 9_000_000));
        let rules = FlowRules::default();
        let hits = v.falling(&rules, as_of);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].0, "L1");
        assert!(
            hits[0].1.detail.contains("3,000,000.00") && hits[0].1.detail.contains("600,000.00")
        );
        let facts = &hits[0].1.facts;
        assert_eq!(
            (facts.len(), facts.first(), facts.last()),
            (
                6,
                Some(&"settlement:2026-05:100000000".to_owned()),
                Some(&"settlement:2026-10:20000000".to_owned())
            )
        );
        v.add(&pay("self", day(9), "borrower", "borrower", 1_000_000));
        // 3,000,000 against 1,600,000: a fall of 46%, still over 30%.
        assert!(
            v.falling(&rules, as_of)[0]
                .1
                .detail
                .contains("1,600,000.00")
        );
        v.add(&pay("back", day(10), "borrower", "supplier", 1_000_000));
        assert!(
            v.falling(&rules, as_of).is_empty(),
            "2,600,000 is a fall of 13%"
        );
    }

    #[test]
    fn a_definition_names_only_known_fields_within_range() {
        let ok: Result<FlowRules, _> =
            serde_json::from_str(r#"{"large_transfer_fen": 100000000, "flow_back_days": 60}"#);
        let rules = ok.unwrap_or_default();
        assert_eq!(
            (
                rules.large_transfer_fen,
                rules.flow_back_days,
                rules.idle_days
            ),
            (100_000_000, 60, 30)
        );
        assert!(rules.validate().is_ok());
        let unknown: Result<FlowRules, _> = serde_json::from_str(r#"{"large_transfer": 1}"#);
        assert!(unknown.is_err());
        let bad = FlowRules {
            idle_pct: 0,
            ..FlowRules::default()
        };
        assert_eq!(
            bad.validate(),
            Err(Invalid::at("/idle_pct", "is out of range"))
        );
        // A threshold past any amount would overflow the structuring band.
        let huge = FlowRules {
            entrusted_payment_fen: i64::MAX,
            ..FlowRules::default()
        };
        assert_eq!(
            huge.validate().map_err(|e| e.pointer),
            Err("/entrusted_payment_fen".to_owned())
        );
        let mut loose = FlowRules::default();
        loose.restricted_categories.insert("Real Estate".into());
        assert_eq!(
            loose.validate().map_err(|e| e.pointer),
            Err("/restricted_categories".to_owned())
        );
    }
}
