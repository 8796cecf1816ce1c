//! The loan ledger (贷款台帐): borrowers, loans and the events that change them.
//!
//! History is append-only: an event is validated here against the loan as it stands and yields
//! the effect it has; storage applies the effect and keeps the event.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{AnnualRate, DomainError, Money};

text_enum!(
    /// Whether a party is a company or a person.
    PartyKind {
        /// A company or other organisation, identified by its credit code.
        Enterprise = "enterprise",
        /// A natural person, identified by resident ID number.
        Individual = "individual",
    }
);

text_enum!(
    /// Five-level loan classification (五级分类).
    LoanClass {
        /// 正常.
        Normal = "normal",
        /// 关注.
        SpecialMention = "special_mention",
        /// 次级.
        Substandard = "substandard",
        /// 可疑.
        Doubtful = "doubtful",
        /// 损失.
        Loss = "loss",
    }
);

impl LoanClass {
    /// Substandard, doubtful and loss are non-performing (不良).
    pub fn is_non_performing(self) -> bool {
        matches!(self, Self::Substandard | Self::Doubtful | Self::Loss)
    }
}

text_enum!(
    /// How closely a loan is managed.
    ManagementMode {
        /// 常规.
        Regular = "regular",
        /// 重点.
        Focused = "focused",
    }
);

text_enum!(
    /// How principal and interest are repaid.
    RepaymentMethod {
        /// 等额本息.
        EqualInstalment = "equal_instalment",
        /// 等额本金.
        EqualPrincipal = "equal_principal",
        /// 按月付息、到期还本.
        MonthlyInterest = "monthly_interest",
        /// 利随本清: principal and interest together at maturity.
        Bullet = "bullet",
        /// A schedule agreed case by case.
        Custom = "custom",
    }
);

text_enum!(
    /// How the loan is secured.
    GuaranteeMethod {
        /// 信用: unsecured.
        Credit = "credit",
        /// 保证: by guarantors.
        Guarantee = "guarantee",
        /// 抵押: by mortgaged property.
        Mortgage = "mortgage",
        /// 质押: by pledged assets or rights.
        Pledge = "pledge",
    }
);

text_enum!(
    /// Where a loan stands.
    LoanStatus {
        /// Disbursed and not yet settled.
        Active = "active",
        /// Fully repaid or otherwise closed (结清).
        Settled = "settled",
    }
);

text_enum!(
    /// The kind of security a collateral item gives.
    SecurityType {
        /// 抵押: the owner keeps possession.
        Mortgage = "mortgage",
        /// 质押: the lender holds the asset or right.
        Pledge = "pledge",
    }
);

text_enum!(
    /// What a collateral item is.
    AssetType {
        /// Buildings and flats.
        RealEstate = "real_estate",
        /// Land use rights.
        LandUseRight = "land_use_right",
        /// Machinery and equipment.
        Equipment = "equipment",
        /// Vehicles and vessels.
        Vehicle = "vehicle",
        /// Stock and goods.
        Inventory = "inventory",
        /// Accounts receivable.
        Receivables = "receivables",
        /// Deposits and certificates of deposit.
        Deposit = "deposit",
        /// Equity and shares.
        Equity = "equity",
        /// Anything else.
        Other = "other",
    }
);

text_enum!(
    /// What happened to a loan.
    EventKind {
        /// Proceeds paid out (放款).
        Disbursement = "disbursement",
        /// Money received from the borrower (还款).
        Repayment = "repayment",
        /// Maturity moved later (展期).
        Extension = "extension",
        /// The contract rate changed, e.g. on LPR repricing.
        RateChange = "rate_change",
        /// Guarantee or collateral arrangements changed.
        GuaranteeChange = "guarantee_change",
        /// Principal repaid ahead of schedule (提前还款), lowering the instalments or
        /// shortening the term.
        Prepayment = "prepayment",
        /// The loan is closed (结清).
        Settlement = "settlement",
    }
);

/// The longest term a loan may have, from disbursement to (extended) maturity: the same limit
/// the schedule engine accepts.
pub const MAX_TERM_DAYS: i64 = crate::schedule::MAX_TERM_DAYS;

/// The terms of a loan as booked, checked together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanTerms {
    /// Principal and currency.
    pub principal: Money,
    /// Nominal annual rate.
    pub annual_rate: AnnualRate,
    /// Business date of disbursement.
    pub disbursement_date: NaiveDate,
    /// Contractual maturity.
    pub maturity_date: NaiveDate,
}

impl LoanTerms {
    /// Checks that the dates make sense together.
    pub fn new(
        principal: Money,
        annual_rate: AnnualRate,
        disbursement_date: NaiveDate,
        maturity_date: NaiveDate,
    ) -> Result<Self, DomainError> {
        if maturity_date <= disbursement_date {
            return Err(DomainError::invalid(
                "maturity_date",
                "must be after the disbursement date",
            ));
        }
        if (maturity_date - disbursement_date).num_days() > MAX_TERM_DAYS {
            return Err(DomainError::invalid(
                "maturity_date",
                "a term of more than 50 years is not a loan this system books",
            ));
        }
        Ok(Self {
            principal,
            annual_rate,
            disbursement_date,
            maturity_date,
        })
    }
}

/// What a loan looks like to an event being validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoanState {
    /// Current terms (after earlier extensions and rate changes).
    pub terms: LoanTerms,
    /// Active or settled.
    pub status: LoanStatus,
}

/// An event as submitted, before validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventDetails {
    /// Proceeds paid out.
    Disbursement { amount: Money },
    /// Money received.
    Repayment { amount: Money },
    /// Maturity moved to a later date.
    Extension { new_maturity_date: NaiveDate },
    /// New contract rate from the event's business date.
    RateChange { new_annual_rate: AnnualRate },
    /// New guarantee method.
    GuaranteeChange {
        new_guarantee_method: GuaranteeMethod,
    },
    /// Principal repaid ahead of schedule.
    Prepayment {
        amount: Money,
        mode: crate::position::PrepaymentMode,
    },
    /// Loan closed.
    Settlement,
}

impl EventDetails {
    /// The kind of this event.
    pub fn kind(&self) -> EventKind {
        match self {
            Self::Disbursement { .. } => EventKind::Disbursement,
            Self::Repayment { .. } => EventKind::Repayment,
            Self::Extension { .. } => EventKind::Extension,
            Self::RateChange { .. } => EventKind::RateChange,
            Self::GuaranteeChange { .. } => EventKind::GuaranteeChange,
            Self::Prepayment { .. } => EventKind::Prepayment,
            Self::Settlement => EventKind::Settlement,
        }
    }
}

/// What an accepted event changes on the loan record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventEffect {
    /// New maturity date.
    pub maturity_date: Option<NaiveDate>,
    /// New annual rate.
    pub annual_rate: Option<AnnualRate>,
    /// New guarantee method.
    pub guarantee_method: Option<GuaranteeMethod>,
    /// New status.
    pub status: Option<LoanStatus>,
}

/// Validates an event dated `business_date` against the loan, as of `today` (the institution's
/// business date), and returns its effect.
///
/// Events may be backdated (they are replayed in date order by the repayment engine) but never
/// dated in the future, never before disbursement, and never after settlement.
pub fn apply_event(
    loan: &LoanState,
    business_date: NaiveDate,
    details: &EventDetails,
    today: NaiveDate,
) -> Result<EventEffect, DomainError> {
    if loan.status == LoanStatus::Settled {
        return Err(DomainError::invalid(
            "kind",
            "the loan is settled; its history is closed",
        ));
    }
    if business_date > today {
        return Err(DomainError::invalid(
            "business_date",
            format!("{business_date} is in the future (today is {today})"),
        ));
    }
    if business_date < loan.terms.disbursement_date {
        return Err(DomainError::invalid(
            "business_date",
            "is before the loan's disbursement date",
        ));
    }
    let currency = loan.terms.principal.currency;
    let mut effect = EventEffect::default();
    match details {
        EventDetails::Disbursement { amount }
        | EventDetails::Repayment { amount }
        | EventDetails::Prepayment { amount, .. } => {
            if amount.currency != currency {
                return Err(DomainError::invalid(
                    "currency",
                    format!("the loan is booked in {currency}"),
                ));
            }
        }
        EventDetails::Extension { new_maturity_date } => {
            if *new_maturity_date <= loan.terms.maturity_date {
                return Err(DomainError::invalid(
                    "new_maturity_date",
                    format!(
                        "must be after the current maturity {}",
                        loan.terms.maturity_date
                    ),
                ));
            }
            if (*new_maturity_date - loan.terms.disbursement_date).num_days() > MAX_TERM_DAYS {
                return Err(DomainError::invalid(
                    "new_maturity_date",
                    "would make the term longer than 50 years",
                ));
            }
            effect.maturity_date = Some(*new_maturity_date);
        }
        EventDetails::RateChange { new_annual_rate } => {
            effect.annual_rate = Some(*new_annual_rate);
        }
        EventDetails::GuaranteeChange {
            new_guarantee_method,
        } => {
            effect.guarantee_method = Some(*new_guarantee_method);
        }
        EventDetails::Settlement => {
            effect.status = Some(LoanStatus::Settled);
        }
    }
    Ok(effect)
}

/// A serialisable summary of an event's details, as kept in the event's payload column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EventPayload {
    /// New maturity date (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_maturity_date: Option<NaiveDate>,
    /// New annual rate in percent (rate change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_annual_rate: Option<String>,
    /// New guarantee method (guarantee change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_guarantee_method: Option<GuaranteeMethod>,
    /// What a prepayment does to the rest of the schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepayment_mode: Option<crate::position::PrepaymentMode>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn loan() -> Result<LoanState, DomainError> {
        Ok(LoanState {
            terms: LoanTerms::new(
                Money::positive("principal_fen", 10_000_000, Currency::Cny)?,
                AnnualRate::parse("annual_rate", "4.35")?,
                date(2026, 1, 10),
                date(2027, 1, 10),
            )?,
            status: LoanStatus::Active,
        })
    }

    #[test]
    fn maturity_on_or_before_disbursement_is_rejected() -> Result<(), DomainError> {
        let p = Money::positive("principal_fen", 1, Currency::Cny)?;
        let r = AnnualRate::parse("annual_rate", "4")?;
        let err = LoanTerms::new(p, r, date(2026, 1, 10), date(2026, 1, 10)).err();
        assert_eq!(err.map(|e| e.field()), Some("maturity_date"));
        Ok(())
    }

    #[test]
    fn an_extension_must_move_maturity_later() -> Result<(), DomainError> {
        let l = loan()?;
        let earlier = EventDetails::Extension {
            new_maturity_date: date(2026, 12, 1),
        };
        assert!(apply_event(&l, date(2026, 6, 1), &earlier, date(2026, 6, 1)).is_err());
        let later = EventDetails::Extension {
            new_maturity_date: date(2027, 6, 1),
        };
        let effect = apply_event(&l, date(2026, 6, 1), &later, date(2026, 6, 1))?;
        assert_eq!(effect.maturity_date, Some(date(2027, 6, 1)));
        Ok(())
    }

    #[test]
    fn future_events_and_events_before_disbursement_are_rejected() -> Result<(), DomainError> {
        let l = loan()?;
        let pay = EventDetails::Repayment {
            amount: Money::positive("amount_fen", 100, Currency::Cny)?,
        };
        assert!(apply_event(&l, date(2026, 6, 2), &pay, date(2026, 6, 1)).is_err());
        assert!(apply_event(&l, date(2026, 1, 9), &pay, date(2026, 6, 1)).is_err());
        assert!(apply_event(&l, date(2026, 1, 10), &pay, date(2026, 6, 1)).is_ok());
        Ok(())
    }

    #[test]
    fn a_settled_loan_takes_no_more_events() -> Result<(), DomainError> {
        let mut l = loan()?;
        let effect = apply_event(
            &l,
            date(2026, 6, 1),
            &EventDetails::Settlement,
            date(2026, 6, 1),
        )?;
        assert_eq!(effect.status, Some(LoanStatus::Settled));
        l.status = LoanStatus::Settled;
        assert!(
            apply_event(
                &l,
                date(2026, 6, 1),
                &EventDetails::Settlement,
                date(2026, 6, 1)
            )
            .is_err()
        );
        Ok(())
    }

    #[test]
    fn a_repayment_in_another_currency_is_rejected() -> Result<(), DomainError> {
        let pay = EventDetails::Repayment {
            amount: Money::positive("amount_fen", 100, Currency::Usd)?,
        };
        assert!(apply_event(&loan()?, date(2026, 6, 1), &pay, date(2026, 6, 1)).is_err());
        Ok(())
    }

    #[test]
    fn text_enums_round_trip_and_list_the_accepted_values() {
        for class in LoanClass::ALL {
            assert_eq!(class.as_str().parse::<LoanClass>(), Ok(*class));
        }
        let err = "bad".parse::<LoanClass>().err().unwrap_or_default();
        assert!(err.contains("special_mention"), "{err}");
    }
}
