//! Monitoring and early warning (贷后预警): rules over what happens to a loan's proceeds and to
//! the borrower, raising tiered warnings (RULEBOOK §5–§6).

pub mod flow;
pub mod ratios;
pub mod signals;

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
