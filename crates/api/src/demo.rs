//! `loanwatch demo`: a demo institution with a realistic, deterministic portfolio.
//!
//! Same `--seed` and `--loans` → the same data (ids aside, which are fresh UUIDv7). Rows are
//! generated and written in chunks, one audited transaction each, so memory stays bounded
//! whether the portfolio has 300 loans or a million.

use std::io::Write;

use chrono::{Datelike, Duration, NaiveDate};
use loanwatch_domain::{
    identity::{CreditCode, ResidentId},
    people::{OrgKind, Role},
    position::{Change, ProductSettings, position},
    schedule,
};
use loanwatch_store::{
    AuditContext, DbConn,
    models::{
        BorrowerRow, CollateralRow, LoanCollateralRow, LoanEventRow, LoanRow, OrganisationRow,
    },
    repo::{borrower, loan, party, people},
};
use serde_json::json;

use crate::{ApiError, auth::password};

/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "loanwatch-demo";

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct DemoSpec {
    /// Number of loans; borrowers are two thirds of that.
    pub loans: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// The business date the portfolio is seen from.
    pub today: NaiveDate,
}

/// A demo login, printed after seeding.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    /// Username.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Organisation name.
    pub organisation: String,
}

/// SplitMix64: tiny, fast, and stable across versions, which a library RNG does not promise, so
/// a seed gives the same portfolio in every release.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo) as u64) as i64
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "志强", "晓东", "海燕", "春梅", "国庆", "文博",
    "子涵",
];
const BRANDS: &[&str] = &[
    "恒远", "华盛", "金泰", "鑫源", "宏达", "瑞丰", "中科", "天成", "永盛", "博远", "嘉禾", "汇通",
    "东方", "新锐", "联创", "启航", "德信", "长城", "海纳", "星辰",
];
const INDUSTRIES: &[(&str, &str)] = &[
    ("机械制造", "C34 通用设备制造业"),
    ("纺织", "C17 纺织业"),
    ("电子科技", "C39 计算机、通信和其他电子设备制造业"),
    ("商贸", "F51 批发业"),
    ("食品", "C14 食品制造业"),
    ("建材", "C30 非金属矿物制品业"),
    ("物流", "G54 道路运输业"),
    ("化工", "C26 化学原料和化学制品制造业"),
    ("医药", "C27 医药制造业"),
    ("农业发展", "A01 农业"),
];
const PRODUCTS: &[(&str, &str)] = &[
    ("流动资金贷款", "采购原材料"),
    ("固定资产贷款", "购置生产设备"),
    ("项目贷款", "厂房建设"),
    ("贸易融资", "支付货款"),
    ("经营性贷款", "日常经营周转"),
];
const INDIVIDUAL_PRODUCTS: &[(&str, &str)] =
    &[("个人经营贷款", "个体经营周转"), ("个人消费贷款", "装修")];

struct Branch {
    org: OrganisationRow,
    city: &'static str,
    region: &'static str,
    officers: Vec<String>,
}

/// Whether the database already holds an institution (demo seeds only an empty one).
pub fn already_seeded(conn: &mut DbConn) -> Result<bool, ApiError> {
    Ok(people::any_org(conn)?)
}

/// Seeds the demo institution, showing progress on standard error.
pub fn seed_with_progress(conn: &mut DbConn, spec: DemoSpec) -> anyhow::Result<Vec<DemoLogin>> {
    use std::io::Write;
    let mut err = std::io::stderr();
    seed(conn, spec, |done, total| {
        let _ = write!(err, "\rseeding demo portfolio: {done}/{total} loans");
        if done == total {
            let _ = writeln!(err);
        }
    })
    .map_err(|e| anyhow::anyhow!("{e}"))
}

/// Seeds the demo institution; `progress` is called with (loans written, loans wanted).
pub fn seed(
    conn: &mut DbConn,
    spec: DemoSpec,
    mut progress: impl FnMut(u64, u64),
) -> Result<Vec<DemoLogin>, ApiError> {
    if already_seeded(conn)? {
        return Err(ApiError::conflict(
            "the database already holds organisations; the demo seeds an empty database",
        ));
    }
    let ctx = AuditContext {
        actor: "cli:demo".to_owned(),
        request_id: uuid::Uuid::now_v7().to_string(),
    };
    let mut rng = SplitMix64::new(spec.seed);
    let pw = password::hash(DEMO_PASSWORD)?;
    let officers_per_branch = (spec.loans / 4_000).clamp(3, 500) as usize;
    let mut logins = Vec::new();
    let mut branches = loanwatch_store::write(conn, ctx.clone(), |tx| {
        let now = tx.now();
        let org = |tx: &mut loanwatch_store::WriteTx<'_>,
                   name: &str,
                   code: &str,
                   kind: OrgKind,
                   parent: Option<&str>| {
            people::insert_org(
                tx,
                OrganisationRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    parent_id: parent.map(str::to_owned),
                    kind: kind.as_str().to_owned(),
                    name: name.to_owned(),
                    code: code.to_owned(),
                    path: String::new(),
                    created_at: now,
                },
            )
        };
        let ho = org(tx, "演示银行总行", "HO", OrgKind::HeadOffice, None)?;
        let bj = org(tx, "北京分行", "BJ", OrgKind::Branch, Some(&ho.id))?;
        let hz = org(tx, "杭州分行", "HZ", OrgKind::Branch, Some(&ho.id))?;
        let mut user = |tx: &mut loanwatch_store::WriteTx<'_>,
                        username: String,
                        display: String,
                        role: Role,
                        org: &OrganisationRow| {
            let row = crate::people::service::insert_new_user(
                tx,
                org.id.clone(),
                username.clone(),
                display,
                pw.clone(),
                role,
            )?;
            if role != Role::Officer || username.ends_with(".officer1") {
                logins.push(DemoLogin {
                    username,
                    role,
                    organisation: org.name.clone(),
                });
            }
            Ok::<_, ApiError>(row.id)
        };
        user(tx, "admin".into(), "系统管理员".into(), Role::Admin, &ho)?;
        user(
            tx,
            "ho.risk".into(),
            "总行风险经理".into(),
            Role::HeadOffice,
            &ho,
        )?;
        user(
            tx,
            "ho.auditor".into(),
            "总行审计".into(),
            Role::Auditor,
            &ho,
        )?;
        let mut branches = Vec::new();
        for (org, prefix, city, region) in
            [(bj, "bj", "北京", "110105"), (hz, "hz", "杭州", "330106")]
        {
            user(
                tx,
                format!("{prefix}.head"),
                format!("{city}分行行长"),
                Role::BranchHead,
                &org,
            )?;
            user(
                tx,
                format!("{prefix}.supervisor"),
                format!("{city}贷后主管"),
                Role::Supervisor,
                &org,
            )?;
            user(
                tx,
                format!("{prefix}.risk"),
                format!("{city}风险经理"),
                Role::RiskManager,
                &org,
            )?;
            let mut officers = Vec::new();
            for i in 1..=officers_per_branch {
                let name = format!(
                    "{}{}",
                    SURNAMES[(i * 7) % SURNAMES.len()],
                    GIVEN[(i * 11) % GIVEN.len()]
                );
                officers.push(user(
                    tx,
                    format!("{prefix}.officer{i}"),
                    format!("{name}（客户经理）"),
                    Role::Officer,
                    &org,
                )?);
            }
            branches.push(Branch {
                org,
                city,
                region,
                officers,
            });
        }
        tx.audit(
            "demo.seed_people",
            "organisation",
            &ho.id,
            &json!({ "officers_per_branch": officers_per_branch }),
        )?;
        Ok::<_, ApiError>(branches)
    })?;

    const CHUNK: u64 = 2_000;
    let borrowers_total = (spec.loans * 2 / 3).max(1);
    // Repayments draw from a stream of their own, so the loans of a seed stay what they were
    // before the demo had repayments.
    let mut pay_rng = SplitMix64::new(spec.seed ^ 0x5245_5041_594D_454E);
    // Collateral too, so that adding it left the loans and repayments of a seed as they were.
    let mut pledge_rng = SplitMix64::new(spec.seed ^ 0x504C_4544_4745_0000);
    let mut written = 0u64;
    while written < spec.loans {
        let n = CHUNK.min(spec.loans - written);
        let mut b_rows = Vec::new();
        let mut l_rows = Vec::new();
        let mut e_rows = Vec::new();
        let mut c_rows = Vec::new();
        let mut link_rows = Vec::new();
        let now = loanwatch_store::audit::now();
        for i in written..written + n {
            // Loans 0..borrowers_total each open a borrower; the rest are second loans of earlier
            // borrowers of the same chunk, so a chunk never refers to rows of another chunk.
            let new_borrower = i < borrowers_total || b_rows.is_empty();
            if new_borrower {
                b_rows.push(make_borrower(&mut rng, &mut branches, i, now));
            }
            let b_index = if new_borrower {
                b_rows.len() - 1
            } else {
                rng.range(0, b_rows.len() as i64) as usize
            };
            let l = make_loan(&mut rng, &b_rows[b_index], i, spec.today, now);
            e_rows.push(LoanEventRow {
                id: uuid::Uuid::now_v7().to_string(),
                loan_id: l.id.clone(),
                kind: "disbursement".to_owned(),
                business_date: l.disbursement_date,
                amount_fen: Some(l.principal_fen),
                currency: Some(l.currency.clone()),
                payload: "{}".to_owned(),
                note: None,
                recorded_by: "cli:demo".to_owned(),
                recorded_at: now,
            });
            e_rows.extend(make_repayments(&mut pay_rng, &l, spec.today, now)?);
            let owner = &b_rows[b_index].name;
            if let Some(c) = make_collateral(&mut pledge_rng, &l, owner, spec.today, now) {
                link_rows.push(LoanCollateralRow {
                    loan_id: l.id.clone(),
                    collateral_id: c.id.clone(),
                    created_at: now,
                });
                c_rows.push(c);
            }
            l_rows.push(l);
        }
        loanwatch_store::write(conn, ctx.clone(), |tx| {
            borrower::insert_many(tx, &b_rows)?;
            loan::insert_many(tx, &l_rows)?;
            loan::insert_events(tx, &e_rows)?;
            party::insert_collateral_many(tx, &c_rows)?;
            loan::link_collateral_many(tx, &link_rows)?;
            tx.audit(
                "demo.seed_loans",
                "loan",
                l_rows.first().map(|l| l.id.as_str()).unwrap_or_default(),
                &json!({ "borrowers": b_rows.len(), "loans": l_rows.len(), "collateral": c_rows.len() }),
            )?;
            Ok::<_, ApiError>(())
        })?;
        written += n;
        progress(written, spec.loans);
    }
    Ok(logins)
}

fn make_borrower(
    rng: &mut SplitMix64,
    branches: &mut [Branch],
    i: u64,
    now: chrono::NaiveDateTime,
) -> BorrowerRow {
    let branch_index = (rng.next_u64() % branches.len() as u64) as usize;
    let branch = &branches[branch_index];
    let officer = rng.pick(&branch.officers).clone();
    let individual = rng.range(0, 100) < 20;
    let surname = *rng.pick(SURNAMES);
    let given = *rng.pick(GIVEN);
    let (kind, name, credit_code, id_number, capital, industry, scope, legal_rep) = if individual {
        let birth = NaiveDate::from_ymd_opt(1960, 1, 1).unwrap_or_default()
            + Duration::days((i % 14_000) as i64);
        let first17 = format!(
            "{}{}{:03}",
            branch.region,
            birth.format("%Y%m%d"),
            (i / 14_000) % 1000
        );
        let id = ResidentId::complete(&first17).map(|r| r.expose().to_owned());
        (
            "individual",
            format!("{surname}{given}"),
            None,
            id,
            None,
            None,
            None,
            None,
        )
    } else {
        let (word, industry) = *rng.pick(INDUSTRIES);
        let brand = *rng.pick(BRANDS);
        let name = format!("{}{brand}{word}有限公司", branch.city);
        let code = CreditCode::complete(&format!("91{}{}", branch.region, base31(i, 9)))
            .map(|c| c.as_str().to_owned());
        let capital = rng.range(100, 50_000) * 10_000 * 100;
        (
            "enterprise",
            name,
            code,
            None,
            Some(capital),
            Some(industry.to_owned()),
            Some(format!("{word}产品的研发、生产与销售")),
            Some(format!("{surname}{given}")),
        )
    };
    let phone = format!(
        "1{}{:08}",
        rng.pick(&["38", "39", "58", "86", "77"]),
        rng.range(0, 100_000_000)
    );
    BorrowerRow {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.to_owned(),
        name,
        credit_code,
        id_number,
        phone: Some(phone),
        registered_capital_fen: capital,
        currency: "CNY".to_owned(),
        registered_address: Some(format!(
            "{}市{}路{}号",
            branch.city,
            rng.pick(BRANDS),
            rng.range(1, 999)
        )),
        legal_representative: legal_rep,
        industry,
        business_scope: scope,
        organisation_id: branch.org.id.clone(),
        officer_id: officer,
        group_id: None,
        created_at: now,
        updated_at: now,
    }
}

fn make_loan(
    rng: &mut SplitMix64,
    b: &BorrowerRow,
    i: u64,
    today: NaiveDate,
    now: chrono::NaiveDateTime,
) -> LoanRow {
    let individual = b.kind == "individual";
    let (product, purpose) = if individual {
        *rng.pick(INDIVIDUAL_PRODUCTS)
    } else {
        *rng.pick(PRODUCTS)
    };
    let principal_yuan = if individual {
        rng.range(5, 100) * 10_000
    } else {
        rng.range(50, 5_000) * 10_000
    };
    let months = *rng.pick(&[6i64, 12, 12, 12, 24, 36, 36, 60]);
    let disbursed = today - Duration::days(rng.range(1, 3 * 365));
    let maturity = add_months(disbursed, months);
    let class_roll = rng.range(0, 100);
    let class = match class_roll {
        0..85 => "normal",
        85..93 => "special_mention",
        93..97 => "substandard",
        97..99 => "doubtful",
        _ => "loss",
    };
    let focused = class != "normal" || rng.range(0, 100) < 10;
    let status = if maturity < today && class == "normal" {
        "settled"
    } else {
        "active"
    };
    let year = disbursed.year();
    let branch_code = if b
        .registered_address
        .as_deref()
        .unwrap_or_default()
        .starts_with("北京")
    {
        "BJ"
    } else {
        "HZ"
    };
    let rate = format!("{}.{:02}", rng.range(3, 7), rng.range(0, 100));
    LoanRow {
        id: uuid::Uuid::now_v7().to_string(),
        contract_no: format!("DEMO-{branch_code}-{year}-{:07}", i + 1),
        borrower_id: b.id.clone(),
        product: product.to_owned(),
        principal_fen: principal_yuan * 100,
        currency: "CNY".to_owned(),
        annual_rate: rate.clone(),
        repayment_method: rng
            .pick(&[
                "equal_instalment",
                "equal_principal",
                "monthly_interest",
                "bullet",
            ])
            .to_string(),
        guarantee_method: rng
            .pick(&["credit", "guarantee", "guarantee", "mortgage", "pledge"])
            .to_string(),
        purpose: purpose.to_owned(),
        counterparty: (!individual)
            .then(|| format!("{}{}供应链有限公司", rng.pick(BRANDS), rng.pick(BRANDS))),
        disbursement_date: disbursed,
        maturity_date: maturity,
        class: class.to_owned(),
        management_mode: if focused { "focused" } else { "regular" }.to_owned(),
        status: status.to_owned(),
        officer_id: b.officer_id.clone(),
        organisation_id: b.organisation_id.clone(),
        created_at: now,
        updated_at: now,
        repayment_frequency: "monthly".to_owned(),
        repayment_day: None,
        day_count: "act_360".to_owned(),
        custom_schedule: None,
        contract_annual_rate: rate,
        contract_maturity_date: maturity,
        diverted_from: None,
    }
}

/// The item securing a mortgage or pledge loan: the borrower's, appraised at 1.2–2 times the
/// principal; nine in ten insured, the policy running out between three weeks ago and two years
/// ahead, so a few have lapsed.
fn make_collateral(
    rng: &mut SplitMix64,
    l: &LoanRow,
    owner: &str,
    today: NaiveDate,
    now: chrono::NaiveDateTime,
) -> Option<CollateralRow> {
    let (security_type, asset_type, description) = match l.guarantee_method.as_str() {
        "mortgage" => ("mortgage", "real_estate", "厂房及土地使用权"),
        "pledge" => ("pledge", "inventory", "库存原材料"),
        _ => return None,
    };
    let appraised_value_fen = l.principal_fen / 100 * rng.range(120, 201);
    let insured = rng.range(0, 10) > 0;
    let expiry = today + Duration::days(rng.range(-20, 730));
    Some(CollateralRow {
        id: uuid::Uuid::now_v7().to_string(),
        borrower_id: l.borrower_id.clone(),
        owner_name: owner.to_owned(),
        security_type: security_type.to_owned(),
        asset_type: asset_type.to_owned(),
        description: description.to_owned(),
        appraised_value_fen,
        currency: l.currency.clone(),
        registration_no: Some(format!("他项-{}", l.contract_no)),
        insurance_expiry: insured.then_some(expiry),
        created_at: now,
    })
}

/// The repayments of an active demo loan: four to eleven catch-ups on due dates, each paying
/// everything owed that day (penalty interest included), the last one leaving the loan as many
/// instalments behind as its class suggests: none for a normal loan, one or two for special
/// mention, four to six for substandard, seven to twelve for doubtful, more for loss.
fn make_repayments(
    rng: &mut SplitMix64,
    l: &LoanRow,
    today: NaiveDate,
    now: chrono::NaiveDateTime,
) -> Result<Vec<LoanEventRow>, ApiError> {
    if l.status != "active" {
        return Ok(Vec::new());
    }
    let terms = crate::position::contract_terms(l)?;
    let due: Vec<NaiveDate> = schedule::generate(&terms)
        .map_err(ApiError::internal)?
        .iter()
        .map(|i| i.due_date)
        .filter(|d| *d < today)
        .collect();
    let behind = match l.class.as_str() {
        "normal" => 0,
        "special_mention" => rng.range(1, 3),
        "substandard" => rng.range(4, 7),
        "doubtful" => rng.range(7, 13),
        _ => rng.range(13, 25),
    } as usize;
    let paid = due.len().saturating_sub(behind);
    if paid == 0 {
        return Ok(Vec::new());
    }
    // The last paid due date, and up to ten earlier ones, in order.
    let catch_ups = (rng.range(4, 12) as usize).min(paid);
    let mut picked = vec![paid - 1];
    while picked.len() < catch_ups {
        let i = rng.range(0, paid as i64 - 1) as usize;
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    picked.sort_unstable();
    let penalty = ProductSettings::default().penalty_terms(None);
    let mut changes = Vec::with_capacity(picked.len());
    let mut rows = Vec::with_capacity(picked.len());
    for date in picked.into_iter().map(|i| due[i]) {
        let p = position(&terms, &penalty, &changes, date).map_err(ApiError::internal)?;
        let owed = p.overdue_principal_fen
            + p.overdue_interest_fen
            + p.penalty_interest_fen
            + p.compound_interest_fen;
        if owed == 0 {
            continue;
        }
        changes.push(Change::Repayment {
            date,
            amount_fen: owed,
        });
        rows.push(LoanEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            loan_id: l.id.clone(),
            kind: "repayment".to_owned(),
            business_date: date,
            amount_fen: Some(owed),
            currency: Some(l.currency.clone()),
            payload: "{}".to_owned(),
            note: None,
            recorded_by: "cli:demo".to_owned(),
            recorded_at: now,
        });
    }
    Ok(rows)
}

fn add_months(date: NaiveDate, months: i64) -> NaiveDate {
    let total = date.year() as i64 * 12 + date.month0() as i64 + months;
    let (y, m) = ((total / 12) as i32, (total % 12) as u32 + 1);
    (1..=date.day())
        .rev()
        .find_map(|d| NaiveDate::from_ymd_opt(y, m, d))
        .unwrap_or(date)
}

fn base31(mut n: u64, width: usize) -> String {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 31) as usize];
        n /= 31;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the demo logins as a table.
pub fn print_logins(out: &mut impl Write, logins: &[DemoLogin]) -> std::io::Result<()> {
    writeln!(out, "Demo logins (password: {DEMO_PASSWORD}):")?;
    for l in logins {
        writeln!(
            out,
            "  {:<18} {:<13} {}",
            l.username,
            l.role.as_str(),
            l.organisation
        )?;
    }
    writeln!(out, "  (and more officers: bj.officer2…, hz.officer2…)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..5).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(SplitMix64::new(8).next_u64(), xs[0]);
    }

    #[test]
    fn repayments_leave_each_loan_as_far_behind_as_its_class() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
        let now = today.and_hms_opt(12, 0, 0).unwrap_or_default();
        let b = BorrowerRow {
            id: "b".into(),
            kind: "enterprise".into(),
            name: "杭州恒远机械制造有限公司".into(),
            credit_code: None,
            id_number: None,
            phone: None,
            registered_capital_fen: None,
            currency: "CNY".into(),
            registered_address: Some("杭州市恒远路1号".into()),
            legal_representative: None,
            industry: None,
            business_scope: None,
            organisation_id: "o".into(),
            officer_id: "u".into(),
            group_id: None,
            created_at: now,
            updated_at: now,
        };
        let (mut rng, mut pay_rng) = (SplitMix64::new(3), SplitMix64::new(4));
        let penalty = ProductSettings::default().penalty_terms(None);
        let (mut repaid, mut repayments) = (0, 0);
        for i in 0..2_000 {
            let l = make_loan(&mut rng, &b, i, today, now);
            let rows = make_repayments(&mut pay_rng, &l, today, now).expect("repayments");
            if l.status != "active" {
                assert!(rows.is_empty());
                continue;
            }
            let terms = crate::position::contract_terms(&l).expect("terms");
            let changes: Vec<Change> = rows
                .iter()
                .map(|r| Change::Repayment {
                    date: r.business_date,
                    amount_fen: r.amount_fen.unwrap_or_default(),
                })
                .collect();
            let p = position(&terms, &penalty, &changes, today).expect("position");
            assert_eq!(
                p.unapplied_fen, 0,
                "{} paid more than it owed",
                l.contract_no
            );
            let first_due = schedule::generate(&terms).expect("schedule")[0].due_date;
            match l.class.as_str() {
                "normal" => assert_eq!(p.days_past_due, 0, "{}", l.contract_no),
                _ if first_due < today => assert!(p.days_past_due > 0, "{}", l.contract_no),
                _ => {}
            }
            repaid += usize::from(!rows.is_empty());
            repayments += rows.len();
        }
        // Most active loans have paid something, a few times each on average.
        assert!(repaid > 800, "{repaid} loans repaid");
        assert!(
            repayments > 3 * repaid,
            "{repayments} repayments over {repaid} loans"
        );
    }

    #[test]
    fn generated_codes_are_valid_and_distinct() {
        let a = CreditCode::complete(&format!("91110105{}", base31(1, 9)));
        let b = CreditCode::complete(&format!("91110105{}", base31(2, 9)));
        assert!(a.is_some() && b.is_some());
        assert_ne!(a, b);
    }

    #[test]
    fn adding_months_clamps_to_the_end_of_the_month() {
        let d = NaiveDate::from_ymd_opt(2025, 1, 31).unwrap_or_default();
        assert_eq!(
            add_months(d, 1),
            NaiveDate::from_ymd_opt(2025, 2, 28).unwrap_or_default()
        );
        assert_eq!(
            add_months(d, 12),
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap_or_default()
        );
    }
}
