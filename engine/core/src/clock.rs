//! The clock the caller controls: the work date (manual interactions) and today (documents,
//! logged segments). Unset values follow the system clock.

use chrono::{Local, NaiveDate, NaiveTime, Timelike};

/// Dates and time the workflows use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Clock {
    today: Option<NaiveDate>,
    work_date: Option<NaiveDate>,
    time: Option<NaiveTime>,
}

impl Clock {
    /// Follows the system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// A clock stopped at `today` (work date the same), 09:00.
    pub fn fixed(today: NaiveDate) -> Self {
        Self {
            today: Some(today),
            work_date: None,
            time: NaiveTime::from_hms_opt(9, 0, 0),
        }
    }

    /// Today: the system date unless fixed.
    pub fn today(&self) -> NaiveDate {
        self.today.unwrap_or_else(|| Local::now().date_naive())
    }

    /// The work date: manual interactions are dated with it; today unless set.
    pub fn work_date(&self) -> NaiveDate {
        self.work_date.unwrap_or_else(|| self.today())
    }

    /// The time of day, to the second.
    pub fn time(&self) -> NaiveTime {
        self.time.unwrap_or_else(|| {
            let now = Local::now().time();
            now.with_nanosecond(0).unwrap_or(now)
        })
    }

    /// Sets the work date (`None` follows today again).
    pub fn set_work_date(&mut self, date: Option<NaiveDate>) {
        self.work_date = date;
    }

    /// Fixes today (`None` follows the system clock again).
    pub fn set_today(&mut self, date: Option<NaiveDate>) {
        self.today = date;
    }
}
