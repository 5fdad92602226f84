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

    /// The current instant in UTC; on a fixed clock, the current time of day on the fixed
    /// date, so that what is stamped now (a loan's activation) and what is counted from
    /// today (the days until its 83(b) election is due) agree on the date.
    pub fn now(&self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        match self.fixed {
            Some(today) => now.replace_date(today),
            None => now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_fixed_clock_stamps_its_own_date() {
        let clock = Clock::fixed(date!(2026 - 12 - 07));
        assert_eq!(clock.now().date(), date!(2026 - 12 - 07));
        assert_eq!(clock.today(), date!(2026 - 12 - 07));
    }
}
