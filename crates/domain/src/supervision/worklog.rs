//! Work log (工作日志) rules: an entry within 2 working days after the activity, the supervisor's
//! signature within 2 working days after the entry (RULEBOOK §4).

use chrono::NaiveDate;

use crate::calendar::{CalendarError, WorkingCalendar};

text_enum!(
    /// What a work log entry records.
    WorkActivity {
        /// An inspection.
        Inspection = "inspection",
        /// An analysis.
        Analysis = "analysis",
        /// Information collected.
        Information = "information",
        /// A collection action.
        Collection = "collection",
    }
);

/// Working days to write an entry after the activity.
pub const WRITE_WORKING_DAYS: u32 = 2;
/// Working days to sign an entry after it is written.
pub const SIGN_WORKING_DAYS: u32 = 2;

/// When an entry is due and when its signature is due, for an activity on `activity_date`
/// written on `written_on`.
pub fn deadlines(
    calendar: &WorkingCalendar,
    activity_date: NaiveDate,
    written_on: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), CalendarError> {
    Ok((
        calendar.add_working_days(activity_date, WRITE_WORKING_DAYS)?,
        calendar.add_working_days(written_on, SIGN_WORKING_DAYS)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::CalendarYear;

    #[test]
    fn entries_are_due_two_working_days_after_the_activity() -> Result<(), CalendarError> {
        let cal = WorkingCalendar::new(&CalendarYear::shipped());
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).expect("date");
        // Thu 24 Sep 2026, Mid-Autumn 25–27 Sep: due Tue 29 Sep; written Fri 2 Oct (National
        // Day): signature due Fri 9 Oct (8 Oct is the first working day, Sat 10 Oct a make-up day).
        assert_eq!(deadlines(&cal, d(9, 24), d(10, 2))?, (d(9, 29), d(10, 9)));
        Ok(())
    }
}
