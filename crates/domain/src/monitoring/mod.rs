//! Monitoring and early warning (贷后预警): rules over what happens to a loan's proceeds and to
//! the borrower, raising tiered warnings (RULEBOOK §5–§6).

pub mod flow;
pub mod ratios;
pub mod ruleset;
pub mod signals;
pub mod warning;

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
