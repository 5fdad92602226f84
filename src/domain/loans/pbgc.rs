//! The PBGC "historical applicable mid-term rates" page: parsing one year's table into typed
//! rows (loans contract §9.2–§9.4). Fetching and storing are the services' business; this is
//! the HTML part, on a real HTML parser (`scraper`, html5ever).
//!
//! The legacy parser (BeautifulSoup) is followed step by step: the first `<h2>` whose text
//! contains the year, the first `<table>` after it in document order, the table's first
//! `<tbody>` (or the table itself), every `<tr>` with at least four `<td>`, a full English
//! month name in cell 0, cell 1 either not all digits or the year, and the rates of cells 2
//! and 3 as the first `<digits>[.<digits>]%` of the cell.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use scraper::{ElementRef, Html};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// `pbgc_mid_term_rates.annual_rate_percent` is numeric(10,4): at most six integer digits.
const MAX_RATE_EXCLUSIVE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// One month of the table. A rate is `None` when its cell has no `N%` (an empty cell, `n/a`,
/// or `4.5 %` with a space); storing keeps the previous value for a `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbgcRateRow {
    pub year: i32,
    /// 1–12.
    pub month: u8,
    pub annual_rate_percent: Option<Decimal>,
    pub monthly_rate_percent: Option<Decimal>,
}

/// The parsed table of one year, rows in page order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PbgcYear {
    pub year: i32,
    pub rows: Vec<PbgcRateRow>,
}

impl PbgcYear {
    /// Complete = at least 12 rows and every annual rate present. Only then does a refresh
    /// insert next year's twelve placeholder rows.
    pub fn is_complete(&self) -> bool {
        self.rows.len() >= 12 && self.rows.iter().all(|r| r.annual_rate_percent.is_some())
    }

    /// The placeholder rows (null rates) for the following year, inserted with
    /// `ON CONFLICT DO NOTHING` when [`is_complete`](Self::is_complete); empty otherwise.
    pub fn next_year_placeholders(&self) -> Vec<PbgcRateRow> {
        if !self.is_complete() {
            return Vec::new();
        }
        (1..=12)
            .map(|month| PbgcRateRow {
                year: self.year + 1,
                month,
                annual_rate_percent: None,
                monthly_rate_percent: None,
            })
            .collect()
    }
}

/// Why a page could not be read. Each names what was missing, so a changed page layout shows
/// up in the logs and the refresh answer instead of silently storing nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbgcParseError {
    /// No `<h2>` mentions the year.
    YearHeadingMissing { year: i32 },
    /// The year's `<h2>` exists but no `<table>` follows it.
    TableMissing { year: i32, heading: String },
    /// The table has no row with a month name and four data cells.
    NoRows { year: i32 },
    /// A rate that cannot be stored (numeric(10,4)).
    RateOutOfRange { year: i32, month: u8, cell: String },
}

impl fmt::Display for PbgcParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::YearHeadingMissing { year } => write!(
                f,
                "Unable to locate PBGC table for year {year}: no <h2> heading mentions {year}"
            ),
            Self::TableMissing { year, heading } => write!(
                f,
                "No table found after PBGC year header {year} (heading {heading:?} is not \
                 followed by a <table>)"
            ),
            Self::NoRows { year } => write!(
                f,
                "No PBGC rate rows parsed for year {year}: no table row has a month name and \
                 four <td> cells"
            ),
            Self::RateOutOfRange { year, month, cell } => write!(
                f,
                "PBGC rate {cell:?} of {year}-{month:02} is out of range for numeric(10,4)"
            ),
        }
    }
}

impl std::error::Error for PbgcParseError {}

/// Parses the rows of `year` (the current UTC year at fetch time) from the page.
pub fn parse_rates_page(html: &str, year: i32) -> Result<PbgcYear, PbgcParseError> {
    let document = Html::parse_document(html);
    let year_text = year.to_string();
    let mut elements = document.root_element().descendent_elements();
    // Document order: the heading, then the first table after it (its descendants included,
    // as BeautifulSoup's `find_next` does).
    let heading = elements
        .by_ref()
        .find(|el| el.value().name() == "h2" && joined_text(*el, "").contains(&year_text))
        .ok_or(PbgcParseError::YearHeadingMissing { year })?;
    let table = elements
        .find(|el| el.value().name() == "table")
        .ok_or_else(|| PbgcParseError::TableMissing {
            year,
            heading: joined_text(heading, " "),
        })?;
    let body = table
        .descendent_elements()
        .find(|el| el.value().name() == "tbody")
        .unwrap_or(table);

    let mut rows = Vec::new();
    for tr in body
        .descendent_elements()
        .filter(|el| el.value().name() == "tr")
    {
        let cells: Vec<ElementRef<'_>> = tr
            .descendent_elements()
            .filter(|el| el.value().name() == "td")
            .collect();
        let [month_cell, year_cell, annual_cell, monthly_cell, ..] = cells.as_slice() else {
            continue;
        };
        let month_name = joined_text(*month_cell, " ").to_lowercase();
        let Some(month) = MONTHS.iter().position(|m| *m == month_name) else {
            continue;
        };
        let month = u8::try_from(month + 1).unwrap_or(u8::MAX);
        let year_cell = joined_text(*year_cell, " ");
        if !year_cell.is_empty()
            && year_cell.bytes().all(|b| b.is_ascii_digit())
            && year_cell.trim_start_matches('0') != year_text
        {
            continue;
        }
        let rate = |cell: ElementRef<'_>| {
            let text = joined_text(cell, " ");
            match parse_percent(&text) {
                Some(Ok(value)) => Ok(Some(value)),
                Some(Err(())) => Err(PbgcParseError::RateOutOfRange {
                    year,
                    month,
                    cell: text,
                }),
                None => Ok(None),
            }
        };
        rows.push(PbgcRateRow {
            year,
            month,
            annual_rate_percent: rate(*annual_cell)?,
            monthly_rate_percent: rate(*monthly_cell)?,
        });
    }
    if rows.is_empty() {
        return Err(PbgcParseError::NoRows { year });
    }
    Ok(PbgcYear { year, rows })
}

/// The texts of an element's descendants, each trimmed, empty ones dropped, joined with `sep`
/// (BeautifulSoup's `get_text(sep, strip=True)`).
fn joined_text(element: ElementRef<'_>, sep: &str) -> String {
    let parts: Vec<&str> = element
        .text()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    parts.join(sep)
}

/// The first `<digits>[.<digits>]%` of a cell, as a decimal keeping its written scale
/// (`"3.81%"` → 3.81). `None` when there is none; `Some(Err)` when the number cannot be stored.
fn parse_percent(cell: &str) -> Option<Result<Decimal, ()>> {
    let text = cell.replace('\u{a0}', " ");
    let bytes = text.trim().as_bytes();
    let digits_end = |from: usize| {
        from + bytes[from..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    // Leftmost match of the regex `([0-9]+(?:\.[0-9]+)?)%`. Backtracking can only shorten a
    // digit run, and a shortened run is followed by a digit, never by `%` or `.`, so each
    // start position has at most these two candidates.
    for start in 0..bytes.len() {
        if !bytes[start].is_ascii_digit() {
            continue;
        }
        let int_end = digits_end(start);
        let end = match bytes.get(int_end) {
            Some(b'%') => Some(int_end),
            Some(b'.') if bytes.get(int_end + 1).is_some_and(u8::is_ascii_digit) => {
                let frac_end = digits_end(int_end + 1);
                (bytes.get(frac_end) == Some(&b'%')).then_some(frac_end)
            }
            _ => None,
        };
        if let Some(end) = end {
            let number = std::str::from_utf8(&bytes[start..end]).unwrap_or_default();
            return Some(
                Decimal::from_str(number)
                    .ok()
                    .filter(|v| *v < MAX_RATE_EXCLUSIVE)
                    .ok_or(()),
            );
        }
    }
    None
}

/// Whether the once-a-day trigger should scrape today (UTC): on `scrape_day`, and on the last
/// day of February whatever the setting (so days 29–31 never run in shorter months, as in the
/// legacy service). The trigger also scrapes on any day while the table is empty.
pub fn should_run_scrape(today: time::Date, scrape_day: u8, table_is_empty: bool) -> bool {
    if table_is_empty {
        return true;
    }
    if today.month() == time::Month::February {
        return today.day() == today.month().length(today.year());
    }
    today.day() == scrape_day
}

/// The 429 message of the refresh cooldown for a key with `ttl_seconds` left.
pub fn cooldown_message(ttl_seconds: i64) -> String {
    let hours = (ttl_seconds / 3600).max(1);
    format!(
        "PBGC rates already refreshed recently. Please wait {hours} hour(s) before refreshing again."
    )
}

/// The refresh cooldown, in seconds (`SETEX … 86400`).
pub const REFRESH_COOLDOWN_SECONDS: u64 = 86_400;

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use time::macros::date;

    /// The page of loans contract §9.7, the one the golden samples were recorded with.
    const FIXTURE: &str = include_str!("../../../tests/fixtures/pbgc/mid-term-rates.html");

    #[test]
    fn the_contract_fixture_gives_twelve_months_of_2026() {
        let parsed = parse_rates_page(FIXTURE, 2026).unwrap();
        assert_eq!(parsed.year, 2026);
        let months: Vec<u8> = parsed.rows.iter().map(|r| r.month).collect();
        assert_eq!(months, (1..=12).collect::<Vec<u8>>());
        assert_eq!(
            parsed.rows[0],
            PbgcRateRow {
                year: 2026,
                month: 1,
                annual_rate_percent: Some(dec!(3.71)),
                monthly_rate_percent: Some(dec!(3.65)),
            }
        );
        let december = &parsed.rows[11];
        assert_eq!(december.annual_rate_percent, Some(dec!(3.81)));
        assert_eq!(december.monthly_rate_percent, Some(dec!(3.75)));
        // The scale as written: stored as numeric(10,4), it reads back "3.8100".
        assert_eq!(
            december.annual_rate_percent.map(|d| d.to_string()),
            Some("3.81".into())
        );
        assert!(parsed.is_complete());
        let placeholders = parsed.next_year_placeholders();
        assert_eq!(placeholders.len(), 12);
        assert!(placeholders.iter().all(|r| r.year == 2027
            && r.annual_rate_percent.is_none()
            && r.monthly_rate_percent.is_none()));
    }

    #[test]
    fn another_year_heading_picks_that_table() {
        let parsed = parse_rates_page(FIXTURE, 2025).unwrap();
        let got: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| (r.month, r.annual_rate_percent))
            .collect();
        assert_eq!(got, vec![(1, Some(dec!(4.33))), (12, Some(dec!(3.79)))]);
        assert!(!parsed.is_complete());
        assert!(parsed.next_year_placeholders().is_empty());
    }

    #[test]
    fn a_page_without_the_year_says_what_is_missing() {
        let err = parse_rates_page(FIXTURE, 2027).unwrap_err();
        assert_eq!(err, PbgcParseError::YearHeadingMissing { year: 2027 });
        assert_eq!(
            err.to_string(),
            "Unable to locate PBGC table for year 2027: no <h2> heading mentions 2027"
        );
        // A redesigned page: the year is in an <h3> and the rates are a list.
        let redesigned = "<html><body><h3>2026 Mid-Term Rates</h3><ul><li>January 3.71%</li>\
                          </ul></body></html>";
        assert!(matches!(
            parse_rates_page(redesigned, 2026),
            Err(PbgcParseError::YearHeadingMissing { year: 2026 })
        ));
    }

    #[test]
    fn a_heading_without_a_table_or_rows_is_an_error() {
        let no_table = "<h2>2026 Mid-Term Rates</h2><p>Rates are published monthly.</p>";
        let err = parse_rates_page(no_table, 2026).unwrap_err();
        assert_eq!(
            err,
            PbgcParseError::TableMissing {
                year: 2026,
                heading: "2026 Mid-Term Rates".into(),
            }
        );
        assert!(
            err.to_string()
                .starts_with("No table found after PBGC year header 2026")
        );
        // A table is there but its layout changed: three columns, abbreviated months.
        let changed = "<h2>2026 Mid-Term Rates</h2><table><tr><th>Month</th></tr>\
                       <tr><td>Jan</td><td>2026</td><td>3.71%</td><td>3.65%</td></tr>\
                       <tr><td>February</td><td>3.83%</td><td>3.77%</td></tr></table>";
        let err = parse_rates_page(changed, 2026).unwrap_err();
        assert_eq!(err, PbgcParseError::NoRows { year: 2026 });
        assert!(err.to_string().contains("month name and four <td> cells"));
    }

    #[test]
    fn partial_years_other_year_rows_and_unreadable_cells() {
        let page = "<h2>Rates for 2026</h2>\
            <table><thead><tr><th>Month</th><th>Year</th><th>Annual</th><th>Monthly</th></tr></thead>\
            <tbody>\
            <tr><td> January </td><td>2026</td><td>3.71%</td><td>3.65%</td></tr>\
            <tr><td>February</td><td>2025</td><td>9.99%</td><td>9.99%</td></tr>\
            <tr><td>MARCH</td><td>n/a</td><td>4.5 %</td><td></td></tr>\
            <tr><td>April</td><td>2026</td><td>about&nbsp;4%</td><td>rate 12.5.3% est</td></tr>\
            <tr><td><b>May</b> </td><td>2026</td><td><span>3.9</span>8%</td><td>3.91%, was 4%</td></tr>\
            <tr><td>January 2026</td><td>2026</td><td>1%</td><td>1%</td></tr>\
            </tbody></table>";
        let parsed = parse_rates_page(page, 2026).unwrap();
        let got: Vec<_> = parsed
            .rows
            .iter()
            .map(|r| {
                (
                    r.month,
                    r.annual_rate_percent.map(|d| d.to_string()),
                    r.monthly_rate_percent.map(|d| d.to_string()),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some("3.71".into()), Some("3.65".into())),
                // February's year cell names another year: skipped. March: "4.5 %" and an empty
                // cell are null (kept from the stored row on upsert).
                (3, None, None),
                (4, Some("4".into()), Some("5.3".into())),
                // Text is joined with a space across elements, so "3.9 8%" reads as 8%.
                (5, Some("8".into()), Some("3.91".into())),
            ]
        );
        assert!(!parsed.is_complete());
    }

    #[test]
    fn a_table_without_tbody_and_a_huge_rate() {
        let page = "<h2>2026</h2><table><tr><td>June</td><td>2026</td><td>4.10%</td>\
                    <td>4.03%</td></tr></table>";
        let parsed = parse_rates_page(page, 2026).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        assert_eq!(parsed.rows[0].month, 6);
        let huge = "<h2>2026</h2><table><tr><td>June</td><td>2026</td><td>1234567%</td>\
                    <td>4.03%</td></tr></table>";
        assert_eq!(
            parse_rates_page(huge, 2026),
            Err(PbgcParseError::RateOutOfRange {
                year: 2026,
                month: 6,
                cell: "1234567%".into()
            })
        );
    }

    #[test]
    fn percent_cells_follow_the_legacy_pattern() {
        let cases = [
            ("3.81%", Some("3.81")),
            ("3%", Some("3")),
            ("  3.810% ", Some("3.810")),
            ("3.%", None),
            (".5%", Some("5")),
            ("4.5 %", None),
            ("n/a", None),
            ("", None),
            ("\u{a0}2.25%\u{a0}", Some("2.25")),
            ("12.5.3%", Some("5.3")),
            ("1,234%", Some("234")),
        ];
        for (cell, want) in cases {
            let got = parse_percent(cell).map(|r| r.map(|d| d.to_string()));
            assert_eq!(got, want.map(|w| Ok(w.to_string())), "{cell:?}");
        }
    }

    #[test]
    fn scrape_days_and_cooldown_texts() {
        assert!(should_run_scrape(date!(2026 - 04 - 30), 30, false));
        assert!(!should_run_scrape(date!(2026 - 05 - 29), 30, false));
        // February runs on its last day, leap years included.
        assert!(should_run_scrape(date!(2026 - 02 - 28), 30, false));
        assert!(should_run_scrape(date!(2028 - 02 - 29), 30, false));
        assert!(!should_run_scrape(date!(2028 - 02 - 28), 28, false));
        // Day 31 never comes in April.
        assert!(!should_run_scrape(date!(2026 - 04 - 30), 31, false));
        assert!(should_run_scrape(date!(2026 - 04 - 12), 31, true));
        assert_eq!(
            cooldown_message(86_400),
            "PBGC rates already refreshed recently. Please wait 24 hour(s) before refreshing again."
        );
        assert!(cooldown_message(86_399).contains("wait 23 hour(s)"));
        assert!(cooldown_message(7_199).contains("wait 1 hour(s)"));
        assert!(cooldown_message(59).contains("wait 1 hour(s)"));
    }
}
