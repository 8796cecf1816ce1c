//! Monitoring and early warning (贷后预警): rules over what happens to a loan's proceeds and to
//! the borrower, raising tiered warnings (RULEBOOK §5–§6).

pub mod collateral;
pub mod flow;
pub mod health;
pub mod ratios;
pub mod ruleset;
pub mod signals;
pub mod warning;
pub mod workflow;

/// A value out of range in a rule definition: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// JSON pointer into the definition.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl Invalid {
    /// `message` about the value at `pointer`.
    pub fn at(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            message: message.into(),
        }
    }

    /// The same fault, with its pointer under `prefix` (`/flow`).
    pub fn under(self, prefix: &str) -> Self {
        Self {
            pointer: format!("{prefix}{}", self.pointer),
            ..self
        }
    }
}

/// Whether `c` is a party category as the rules name them: 1–64 of `a–z`, `0–9` and `_`
/// (`real_estate`). A category written otherwise could never match a restricted one.
pub fn is_category(c: &str) -> bool {
    (1..=64).contains(&c.len())
        && c.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
}

text_enum!(
    /// How serious a warning is; each tier creates the work configured for it.
    Tier {
        /// A reminder.
        Blue = "blue",
        /// Watch more closely.
        Yellow = "yellow",
        /// Act soon.
        Orange = "orange",
        /// Act now: an on-site inspection, the supervisor told.
        Red = "red",
    }
);

text_enum!(
    /// How a party is related to a borrower; money reaching a related party counts as coming
    /// home (回流).
    Relation {
        /// Holds shares in the borrower.
        Shareholder = "shareholder",
        /// The legal representative (法定代表人).
        LegalRepresentative = "legal_representative",
        /// A director or senior manager.
        Director = "director",
        /// The head of finance.
        FinanceHead = "finance_head",
        /// Another member of the borrower's group.
        GroupMember = "group_member",
        /// Related otherwise (family, common control).
        Other = "other",
    }
);
