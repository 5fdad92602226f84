//! The application's notion of "today". Every figure the legacy service computed from
//! `date.today()` (vested shares on grant views, the default `as_of`, the 83(b) countdown)
//! reads this clock, so tests and the recorded samples compare deterministically.

use time::{Date, OffsetDateTime};

/// The system clock (UTC calendar date, as the legacy container ran), or a fixed date.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    fixed: Option<Date>,
}

impl Clock {
    /// The real UTC date.
    pub fn system() -> Self {
        Self { fixed: None }
    }

    /// Always `today` (tests).
    pub fn fixed(today: Date) -> Self {
        Self { fixed: Some(today) }
    }

    /// Today's date in UTC.
    pub fn today(&self) -> Date {
        self.fixed
            .unwrap_or_else(|| OffsetDateTime::now_utc().date())
    }
}
