//! Chinese working days (工作日): weekends are off except make-up working days (调休上班), and
//! statutory holidays are off.
//!
//! Holidays are data, never code: each year is a [`CalendarYear`] document as the State Council
//! announces it in the autumn before. The years 2024–2026 ship with Loanwatch
//! ([`CalendarYear::shipped`]); institutions load later years through the API or a file. A
//! question about a year that is not loaded is an error, never a guess.

use std::collections::{BTreeSet, HashSet};

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A holiday period: every day from `from` to `to` is off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HolidayRange {
    /// Name, e.g. `春节`.
    pub name: String,
    /// First day off.
    pub from: NaiveDate,
    /// Last day off.
    pub to: NaiveDate,
}

/// A weekend day that is worked to make up for a holiday (调休上班).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MakeupWorkday {
    /// The day.
    pub date: NaiveDate,
    /// The holiday it makes up for.
    #[serde(rename = "for")]
    pub for_holiday: String,
}

/// One year's official arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    /// The year.
    pub year: i32,
    /// Where the data comes from, e.g. the State Council notice and its date.
    pub source: String,
    /// Holiday periods.
    pub holidays: Vec<HolidayRange>,
    /// Make-up working days.
    #[serde(default)]
    pub makeup_workdays: Vec<MakeupWorkday>,
}

const SHIPPED: [&str; 3] = [
    include_str!("../data/calendar/cn-2024.json"),
    include_str!("../data/calendar/cn-2025.json"),
    include_str!("../data/calendar/cn-2026.json"),
];

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

impl CalendarYear {
    /// The years that ship with Loanwatch, from `data/calendar/`.
    pub fn shipped() -> Vec<Self> {
        SHIPPED
            .iter()
            .filter_map(|text| serde_json::from_str::<Self>(text).ok())
            .collect()
    }

    /// Checks the document: dates belong to the year (a holiday may spill a month into the
    /// neighbouring years, as New Year sometimes does), ranges are ordered and short, make-up
    /// days fall on weekends outside every holiday, nothing is listed twice.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(1949..=2100).contains(&self.year) {
            return Err(DomainError::invalid("year", "must be from 1949 to 2100"));
        }
        if self.source.trim().is_empty() {
            return Err(DomainError::invalid(
                "source",
                "name the notice the data comes from",
            ));
        }
        let lo = NaiveDate::from_ymd_opt(self.year - 1, 12, 1).unwrap_or(NaiveDate::MIN);
        let hi = NaiveDate::from_ymd_opt(self.year + 1, 1, 31).unwrap_or(NaiveDate::MAX);
        let mut off = HashSet::new();
        for h in &self.holidays {
            if h.name.trim().is_empty() {
                return Err(DomainError::invalid(
                    "holidays",
                    "every holiday needs a name",
                ));
            }
            if h.from > h.to {
                return Err(DomainError::invalid(
                    "holidays",
                    format!("{}: from {} is after to {}", h.name, h.from, h.to),
                ));
            }
            if h.from < lo || h.to > hi {
                return Err(DomainError::invalid(
                    "holidays",
                    format!("{}: {}–{} is outside {}", h.name, h.from, h.to, self.year),
                ));
            }
            if (h.to - h.from).num_days() > 15 {
                return Err(DomainError::invalid(
                    "holidays",
                    format!("{}: longer than 16 days", h.name),
                ));
            }
            let mut d = h.from;
            while d <= h.to {
                if !off.insert(d) {
                    return Err(DomainError::invalid(
                        "holidays",
                        format!("{d} is listed twice"),
                    ));
                }
                d += Duration::days(1);
            }
        }
        let mut on = HashSet::new();
        for m in &self.makeup_workdays {
            if m.date < lo || m.date > hi {
                return Err(DomainError::invalid(
                    "makeup_workdays",
                    format!("{} is outside {}", m.date, self.year),
                ));
            }
            if !is_weekend(m.date) {
                return Err(DomainError::invalid(
                    "makeup_workdays",
                    format!("{} is not a Saturday or Sunday", m.date),
                ));
            }
            if off.contains(&m.date) {
                return Err(DomainError::invalid(
                    "makeup_workdays",
                    format!("{} is also a holiday", m.date),
                ));
            }
            if !on.insert(m.date) {
                return Err(DomainError::invalid(
                    "makeup_workdays",
                    format!("{} is listed twice", m.date),
                ));
            }
        }
        Ok(())
    }
}

/// A question about a day the calendar has no data for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The year is not loaded.
    #[error("no holiday calendar is loaded for {0}; load it with PUT /api/v1/calendar/{0}")]
    MissingYear(i32),
}

/// The next day; past the last representable date there is no calendar either.
fn next(day: NaiveDate) -> Result<NaiveDate, CalendarError> {
    day.succ_opt()
        .ok_or(CalendarError::MissingYear(day.year() + 1))
}

/// Working days over the loaded years.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    years: BTreeSet<i32>,
    off: HashSet<NaiveDate>,
    on: HashSet<NaiveDate>,
}

impl WorkingCalendar {
    /// Builds the calendar from year documents (validated beforehand).
    pub fn new<'a>(years: impl IntoIterator<Item = &'a CalendarYear>) -> Self {
        let mut cal = Self::default();
        for y in years {
            cal.years.insert(y.year);
            for h in &y.holidays {
                let mut d = h.from;
                while d <= h.to {
                    cal.off.insert(d);
                    d += Duration::days(1);
                }
            }
            cal.on.extend(y.makeup_workdays.iter().map(|m| m.date));
        }
        cal
    }

    /// The loaded years.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Whether `d` is a working day.
    pub fn is_working_day(&self, d: NaiveDate) -> Result<bool, CalendarError> {
        if !self.years.contains(&d.year()) {
            return Err(CalendarError::MissingYear(d.year()));
        }
        Ok(if is_weekend(d) {
            self.on.contains(&d)
        } else {
            !self.off.contains(&d)
        })
    }

    /// The `n`-th working day after `d` (`d` itself not counted): "within 10 working days after
    /// the due date" ends on `add_working_days(due, 10)`. `n = 0` gives `d` if it is a working
    /// day, else the next one.
    pub fn add_working_days(&self, d: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        if n == 0 {
            return self.on_or_after(d);
        }
        let mut day = d;
        let mut left = n;
        while left > 0 {
            day = next(day)?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// The `n`-th working day before `d` (`d` not counted): "10 working days before the
    /// interest date".
    pub fn sub_working_days(&self, d: NaiveDate, n: u32) -> Result<NaiveDate, CalendarError> {
        let mut day = d;
        let mut left = n;
        while left > 0 {
            day = day
                .pred_opt()
                .ok_or(CalendarError::MissingYear(day.year() - 1))?;
            if self.is_working_day(day)? {
                left -= 1;
            }
        }
        Ok(day)
    }

    /// `d` if it is a working day, else the next working day.
    pub fn on_or_after(&self, d: NaiveDate) -> Result<NaiveDate, CalendarError> {
        let mut day = d;
        while !self.is_working_day(day)? {
            day = next(day)?;
        }
        Ok(day)
    }

    /// Working days in `(from, to]`.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<u32, CalendarError> {
        let mut n = 0;
        let mut day = from;
        while day < to {
            day = next(day)?;
            if self.is_working_day(day)? {
                n += 1;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap_or_default()
    }

    fn cal() -> WorkingCalendar {
        WorkingCalendar::new(&CalendarYear::shipped())
    }

    #[test]
    fn the_shipped_years_load_and_validate() {
        let years = CalendarYear::shipped();
        assert_eq!(
            years.iter().map(|y| y.year).collect::<Vec<_>>(),
            [2024, 2025, 2026]
        );
        for y in &years {
            assert_eq!(y.validate(), Ok(()), "{}", y.year);
        }
    }

    #[test]
    fn spring_festival_days_are_off_and_make_up_sundays_are_worked() -> Result<(), CalendarError> {
        let c = cal();
        // 2024: off 10–17 Feb; Sun 4 Feb and Sun 18 Feb worked.
        assert!(!c.is_working_day(d(2024, 2, 12))?);
        assert!(c.is_working_day(d(2024, 2, 4))?);
        assert!(c.is_working_day(d(2024, 2, 18))?);
        assert!(
            c.is_working_day(d(2024, 2, 9))?,
            "New Year's Eve 2024 was a working Friday"
        );
        // 2025: off 28 Jan – 4 Feb; Sun 26 Jan and Sat 8 Feb worked.
        assert!(!c.is_working_day(d(2025, 2, 3))?);
        assert!(c.is_working_day(d(2025, 1, 26))?);
        assert!(c.is_working_day(d(2025, 2, 8))?);
        // 2026: off 15–23 Feb; Sat 14 Feb and Sat 28 Feb worked.
        assert!(!c.is_working_day(d(2026, 2, 23))?);
        assert!(c.is_working_day(d(2026, 2, 14))?);
        assert!(c.is_working_day(d(2026, 2, 28))?);
        Ok(())
    }

    #[test]
    fn ordinary_weekends_are_off_and_ordinary_weekdays_worked() -> Result<(), CalendarError> {
        let c = cal();
        assert!(!c.is_working_day(d(2026, 11, 21))?);
        assert!(!c.is_working_day(d(2026, 11, 22))?);
        assert!(c.is_working_day(d(2026, 11, 23))?);
        Ok(())
    }

    #[test]
    fn deadlines_skip_holidays_and_count_make_up_days() -> Result<(), CalendarError> {
        let c = cal();
        // Due Friday 26 Sep 2025: 10 working days later crosses National Day (1–8 Oct off) and
        // counts Sun 28 Sep and Sat 11 Oct as working days.
        // 28 Sep, 29, 30, 9 Oct, 10, 11, 13, 14, 15, 16.
        assert_eq!(c.add_working_days(d(2025, 9, 26), 10)?, d(2025, 10, 16));
        // Five working days after 30 Apr 2024: 1–5 May off, Sat 11 May worked.
        assert_eq!(c.add_working_days(d(2024, 4, 30), 5)?, d(2024, 5, 10));
        assert_eq!(c.add_working_days(d(2024, 5, 6), 5)?, d(2024, 5, 11));
        // 10 working days before 16 Oct 2025 brings us back to 26 Sep.
        assert_eq!(c.sub_working_days(d(2025, 10, 16), 10)?, d(2025, 9, 26));
        assert_eq!(c.on_or_after(d(2026, 10, 3))?, d(2026, 10, 8));
        assert_eq!(c.working_days_between(d(2026, 9, 30), d(2026, 10, 10))?, 3);
        Ok(())
    }

    #[test]
    fn an_unloaded_year_is_an_error_not_a_guess() {
        assert_eq!(
            cal().is_working_day(d(2027, 3, 1)),
            Err(CalendarError::MissingYear(2027))
        );
        assert_eq!(
            cal().add_working_days(d(2026, 12, 30), 5),
            Err(CalendarError::MissingYear(2027))
        );
    }

    #[test]
    fn the_end_of_representable_time_is_an_error_not_a_panic() {
        let c = WorkingCalendar::new(&[CalendarYear {
            year: NaiveDate::MAX.year(),
            source: "test".into(),
            holidays: vec![],
            makeup_workdays: vec![],
        }]);
        assert!(c.add_working_days(NaiveDate::MAX, 1).is_err());
        // Whatever the answer for the very last day, asking must not panic.
        let _answer = c.on_or_after(NaiveDate::MAX);
        assert!(
            c.working_days_between(NaiveDate::MAX - Duration::days(3), NaiveDate::MAX)
                .is_ok()
        );
    }

    #[test]
    fn bad_documents_are_rejected() {
        let mut y = CalendarYear::shipped().remove(0);
        y.makeup_workdays.push(MakeupWorkday {
            date: d(2024, 3, 6),
            for_holiday: "x".into(),
        });
        assert!(y.validate().is_err(), "a weekday make-up day");
        let mut y = CalendarYear::shipped().remove(0);
        y.holidays.push(HolidayRange {
            name: "again".into(),
            from: d(2024, 2, 12),
            to: d(2024, 2, 12),
        });
        assert!(y.validate().is_err(), "a day off twice");
        let mut y = CalendarYear::shipped().remove(0);
        y.holidays[0].to = d(2023, 12, 25);
        assert!(y.validate().is_err(), "to before from");
        let mut y = CalendarYear::shipped().remove(0);
        y.makeup_workdays.push(MakeupWorkday {
            date: d(2024, 2, 11),
            for_holiday: "x".into(),
        });
        assert!(y.validate().is_err(), "a make-up day inside a holiday");
    }
}
