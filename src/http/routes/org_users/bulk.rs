//! CSV onboarding: the template and the upload (contract §3 `POST /org/users/bulk`,
//! DESIGN.md §4: never a 500; every failing row is an entry in `errors`).

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::Date;

use super::{no_store, onboarding_context};
use crate::domain::permissions::perm;
use crate::domain::profile::{Field, Problem, Profile};
use crate::domain::{email, geo, people};
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::http::validate::parse_iso_date;
use crate::services::onboarding::{self, NewMember};

/// The 17 template columns, in order.
pub const HEADERS: [&str; 17] = [
    "email",
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "timezone",
    "phone_number",
    "marital_status",
    "country",
    "state",
    "address_line1",
    "address_line2",
    "postal_code",
    "temporary_password",
    "employee_id",
    "employment_start_date",
    "employment_status",
];

/// Largest accepted file.
pub const MAX_CSV_BYTES: usize = 5 * 1024 * 1024;
/// Data rows processed per upload.
pub const MAX_ROWS: usize = 30;

/// The header-only CSV template (not enveloped).
#[utoipa::path(get, path = "/org/users/bulk/template", tag = "org-users", security(("bearer" = [])),
    responses((status = 200, description = "CSV template", content_type = "text/csv")))]
pub async fn template(_: Can<perm::UserOnboard>) -> ApiResult<Response> {
    let body = format!("{}\r\n", HEADERS.join(","));
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"onboarding_template.csv\""),
    );
    Ok(response)
}

fn too_large() -> ApiError {
    ApiError::http(StatusCode::PAYLOAD_TOO_LARGE, "CSV too large (max 5MB)")
}

fn missing_file() -> ApiError {
    ApiError::validation(vec![FieldError::body(
        &["file"],
        "missing",
        "Field required",
        Value::Null,
    )])
}

fn header_error(code: &str, message: &str, received: Option<Option<Vec<String>>>) -> ApiError {
    let mut details = json!({"expected_headers": HEADERS});
    if let Some(received) = received {
        details["received_headers"] = json!(received);
    }
    ApiError::coded(StatusCode::BAD_REQUEST, code, message, details)
        .with_data(json!({"successes": [], "errors": []}))
}

/// Reads the `file` field, at most [`MAX_CSV_BYTES`].
async fn read_file(multipart: &mut Multipart) -> ApiResult<Vec<u8>> {
    let map_err = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::bad_request("Invalid multipart body")
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(map_err)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut data = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(map_err)? {
            if data.len() + chunk.len() > MAX_CSV_BYTES {
                return Err(too_large());
            }
            data.extend_from_slice(&chunk);
        }
        return Ok(data);
    }
    Err(missing_file())
}

/// Uploads up to 30 members from a CSV; each row is onboarded in its own transaction.
#[utoipa::path(post, path = "/org/users/bulk", tag = "org-users", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "Field `file`: the CSV (UTF-8, at most 5 MB)"),
    responses((status = 200, description = "`{successes, errors}`"), (status = 400, description = "Header or encoding error"), (status = 413, description = "CSV too large")))]
pub async fn upload(
    State(state): State<AppState>,
    user: Can<perm::UserOnboard>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let mut multipart = multipart.map_err(|_| missing_file())?;
    let bytes = read_file(&mut multipart).await?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("Invalid encoding; expected UTF-8"))?;

    let mut records = parse_csv(text).into_iter();
    let Some(header_row) = records.next() else {
        return Err(header_error(
            "csv_missing_header",
            "CSV is empty or missing header",
            Some(None),
        ));
    };
    let received: Vec<String> = header_row.iter().map(|h| h.trim().to_owned()).collect();
    let mut sorted_received: Vec<String> = received.iter().map(|h| h.to_lowercase()).collect();
    sorted_received.sort();
    let mut sorted_expected: Vec<String> = HEADERS.iter().map(|h| (*h).to_owned()).collect();
    sorted_expected.sort();
    if sorted_received != sorted_expected {
        return Err(header_error(
            "csv_invalid_headers",
            "CSV headers do not match template",
            Some(Some(received)),
        ));
    }
    let index: Vec<usize> = HEADERS
        .iter()
        .map(|h| {
            received
                .iter()
                .position(|r| r.eq_ignore_ascii_case(h))
                .unwrap_or(usize::MAX)
        })
        .collect();
    let rows: Vec<Vec<String>> = records.collect();
    if rows.is_empty() {
        return Err(header_error("csv_empty", "CSV contains no data rows", None));
    }

    let ctx = onboarding_context(&state, &user);
    let mut successes = Vec::new();
    let mut errors = Vec::new();
    for (i, cells) in rows.iter().enumerate() {
        let row_number = i + 2;
        let cell = |name: &str| -> String {
            HEADERS
                .iter()
                .position(|h| *h == name)
                .and_then(|p| cells.get(index[p]))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let identity = RowIdentity {
            email: cell("email"),
            first_name: cell("first_name"),
            last_name: cell("last_name"),
            employee_id: cell("employee_id"),
        };
        if i >= MAX_ROWS {
            errors.push(identity.error(
                row_number,
                &format!("Row limit exceeded: at most {MAX_ROWS} rows per upload"),
            ));
            break;
        }
        let input = match row_member(&cell) {
            Ok(input) => input,
            Err(text) => {
                errors.push(identity.error(row_number, &text));
                continue;
            }
        };
        match onboarding::bulk_row(&state.db, &ctx, &input).await {
            Ok(outcome) => {
                if outcome.membership_status == "created" {
                    crate::http::guard::user_changed(
                        &state,
                        user.org_id.as_str(),
                        outcome.row.user_id,
                    )
                    .await;
                }
                successes.push(json!({
                    "row_number": row_number,
                    "user": outcome.row.onboarding_user(),
                    "membership": outcome.row.onboarding_membership(),
                    "user_status": outcome.user_status,
                    "membership_status": outcome.membership_status,
                    "credentials_issued": outcome.credentials_issued,
                }));
            }
            Err(refusal) => {
                if let onboarding::Refusal::Db(e) = &refusal {
                    tracing::error!(error = %e, row_number, "bulk onboarding row failed");
                }
                errors.push(identity.error(row_number, &refusal.row_text()));
            }
        }
    }
    Ok(no_store(
        Envelope(json!({"successes": successes, "errors": errors})).into_response(),
    ))
}

/// The identifying cells echoed in an error entry.
struct RowIdentity {
    email: String,
    first_name: String,
    last_name: String,
    employee_id: String,
}

impl RowIdentity {
    /// `{row_number, email, first_name, last_name, employee_id, error}`; `email` is left out
    /// when it is not a valid address (the strict frontend schema would reject the response).
    fn error(&self, row_number: usize, text: &str) -> Value {
        let mut entry = serde_json::Map::new();
        entry.insert("row_number".into(), json!(row_number));
        if email::normalize(&self.email).is_ok() {
            entry.insert("email".into(), json!(self.email.to_lowercase()));
        }
        entry.insert("first_name".into(), json!(self.first_name));
        entry.insert("last_name".into(), json!(self.last_name));
        entry.insert("employee_id".into(), json!(self.employee_id));
        entry.insert("error".into(), json!(text));
        Value::Object(entry)
    }
}

/// pydantic's text for a model validation error (what the legacy put in the row error).
fn pydantic_text(field: &str, message: &str, input: &str) -> String {
    format!(
        "1 validation error for OnboardingUserCreate\n{field}\n  Value error, {message} \
         [type=value_error, input_value='{input}', input_type=str]\n    \
         For further information visit https://errors.pydantic.dev/2.12/v/value_error"
    )
}

/// Validates and normalises one row; `Err` is the row's error text.
fn row_member(cell: &dyn Fn(&str) -> String) -> Result<NewMember, String> {
    let opt = |name: &str| people::clean(Some(&cell(name)));
    let raw_email = cell("email");
    if raw_email.is_empty() {
        return Err("email is required".into());
    }
    let email = email::normalize(&raw_email)
        .map_err(|reason| format!("email: {}", email::error_message(reason)))?
        .to_lowercase();
    let first_name = cell("first_name");
    if first_name.is_empty() {
        return Err("first_name is required".into());
    }
    let last_name = cell("last_name");
    if last_name.is_empty() {
        return Err("last_name is required".into());
    }
    let employee_id = cell("employee_id");
    if employee_id.is_empty() {
        return Err("employee_id is required".into());
    }
    let employment_start_date = parse_date(&cell("employment_start_date"))
        .ok_or_else(|| "employment_start_date is required".to_owned())?;
    let mut raw = Profile::default();
    for field in Field::ALL {
        *raw.get_mut(field) = opt(field.name());
    }
    // The CSV resolves places by name, with fuzzy matching, before the normaliser upper-cases
    // what is left (a state of an unknown country).
    if let Some(given) = raw.country.take() {
        raw.country = Some(
            match_country(&given)
                .ok_or_else(|| format!("Unsupported country: {given}"))?
                .to_owned(),
        );
    }
    if let (Some(c), Some(given)) = (raw.country.as_deref(), raw.state.as_deref()) {
        let code = match_state(c, given)
            .ok_or_else(|| format!("Unsupported state '{given}' for country {c}"))?;
        raw.state = Some(code.to_owned());
    }
    let employment_status = match opt("employment_status") {
        None => "ACTIVE".to_owned(),
        Some(raw) => people::employment_status(&raw)
            .ok_or_else(|| {
                pydantic_text("employment_status", people::INVALID_EMPLOYMENT_STATUS, &raw)
            })?
            .to_owned(),
    };
    raw.first_name = Some(first_name);
    raw.last_name = Some(last_name);
    let (profile, problems) = raw.normalised();
    if let Some(Problem::Invalid { field, text, input }) = problems.into_iter().next() {
        return Err(pydantic_text(field.name(), &text, &input));
    }
    let member = NewMember {
        email,
        profile,
        temporary_password: opt("temporary_password"),
        employee_id,
        employment_start_date,
        employment_status,
    };
    let mut errors = Vec::new();
    super::validate_member_lengths(&member, &mut errors);
    if let Some(first) = errors.first() {
        let field = first
            .loc
            .last()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return Err(format!("{field}: {}", first.msg));
    }
    Ok(member)
}

/// ISO `YYYY-MM-DD` (a time part is ignored) or an Excel serial day number (45658 is
/// 2025-01-01).
pub fn parse_date(raw: &str) -> Option<Date> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Some(d) = parse_iso_date(raw) {
        return Some(d);
    }
    let serial: f64 = raw.parse().ok()?;
    if !serial.is_finite() || !(1.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    let epoch = Date::from_calendar_date(1899, time::Month::December, 30).ok()?;
    epoch.checked_add(time::Duration::days(serial.trunc() as i64))
}

/// Extra country aliases for CSV input (the UK's constituent countries).
const CSV_COUNTRY_ALIASES: [(&str, &str); 4] = [
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("northern ireland", "GB"),
];

/// A country by code, alias, name, or a fuzzy name match (ratio ≥ 90).
pub fn match_country(raw: &str) -> Option<&'static str> {
    let q = raw.trim();
    if let Some(c) = geo::find_country(q) {
        return Some(c.code);
    }
    let lower = q.to_lowercase();
    if let Some((_, code)) = CSV_COUNTRY_ALIASES.iter().find(|(a, _)| *a == lower) {
        return Some(code);
    }
    best_match(
        &lower,
        geo::countries().iter().map(|c| (c.name, c.code)),
        90,
    )
}

/// A subdivision of `country` by code, name, or a fuzzy name match (ratio ≥ 85).
pub fn match_state(country: &str, raw: &str) -> Option<&'static str> {
    if let Some(s) = geo::find_subdivision(country, raw) {
        return Some(s.code);
    }
    best_match(
        &raw.trim().to_lowercase(),
        geo::subdivisions(country).iter().map(|s| (s.name, s.code)),
        85,
    )
}

fn best_match<'a>(
    query: &str,
    candidates: impl Iterator<Item = (&'a str, &'static str)>,
    threshold: u32,
) -> Option<&'static str> {
    candidates
        .map(|(name, code)| (ratio(query, &name.to_lowercase()), code))
        .filter(|(score, _)| *score >= threshold)
        .max_by_key(|(score, _)| *score)
        .map(|(_, code)| code)
}

/// Similarity 0–100 from the Levenshtein distance (like `fuzz.ratio`, with substitutions
/// counted twice: 2·matches / total length).
pub fn ratio(a: &str, b: &str) -> u32 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let total = a.len() + b.len();
    if total == 0 {
        return 100;
    }
    // Indel distance (insertions and deletions only), via the longest common subsequence.
    let mut prev = vec![0usize; b.len() + 1];
    for ca in &a {
        let mut cur = vec![0usize; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = if ca == cb {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        prev = cur;
    }
    let lcs = prev[b.len()];
    ((2 * lcs * 100) as f64 / total as f64).round() as u32
}

/// A small RFC 4180 reader: quoted fields with `""` escapes, commas and newlines inside
/// quotes, CRLF or LF line ends. Blank lines are skipped, as Python's `csv.DictReader` does.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut field_started = false;
    let mut chars = text.chars().peekable();
    let finish_record = |record: &mut Vec<String>, records: &mut Vec<Vec<String>>| {
        let blank = record.len() == 1 && record[0].is_empty();
        if !blank {
            records.push(std::mem::take(record));
        } else {
            record.clear();
        }
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if !field_started || field.is_empty() => {
                in_quotes = true;
                field_started = true;
            }
            ',' => {
                record.push(std::mem::take(&mut field));
                field_started = false;
            }
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                record.push(std::mem::take(&mut field));
                field_started = false;
                finish_record(&mut record, &mut records);
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if field_started || !field.is_empty() || !record.is_empty() {
        record.push(field);
        finish_record(&mut record, &mut records);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_line_ends() {
        let rows = parse_csv("a,b,c\r\n\"x,1\",\"say \"\"hi\"\"\",\n\nlast,\"multi\nline\",z");
        assert_eq!(
            rows,
            vec![
                vec!["a", "b", "c"],
                vec!["x,1", "say \"hi\"", ""],
                vec!["last", "multi\nline", "z"],
            ]
        );
        assert!(parse_csv("").is_empty());
        assert_eq!(parse_csv("h1,h2\n"), vec![vec!["h1", "h2"]]);
    }

    #[test]
    fn dates_iso_and_excel() {
        assert_eq!(
            parse_date("45658"),
            Date::from_calendar_date(2025, time::Month::January, 1).ok()
        );
        assert_eq!(
            parse_date("2026-03-01"),
            Date::from_calendar_date(2026, time::Month::March, 1).ok()
        );
        assert_eq!(parse_date("not-a-date"), None);
        assert_eq!(parse_date("-5"), None);
    }

    #[test]
    fn countries_and_states() {
        assert_eq!(match_country("usa"), Some("US"));
        assert_eq!(match_country("United Kingdom"), Some("GB"));
        assert_eq!(match_country("england"), Some("GB"));
        assert_eq!(match_country("Germny"), Some("DE"));
        assert_eq!(match_country("Atlantis"), None);
        assert_eq!(match_state("US", "illinois"), Some("IL"));
        assert_eq!(match_state("US", "ny"), Some("NY"));
        assert_eq!(match_state("US", "Califronia"), Some("CA"));
        assert_eq!(match_state("US", "Narnia"), None);
    }

    fn row(cells: &[(&str, &str)]) -> Result<NewMember, String> {
        let base = [
            ("email", "a@b.com"),
            ("first_name", "ada"),
            ("last_name", "o'neil"),
            ("employee_id", "E1"),
            ("employment_start_date", "2025-01-01"),
        ];
        let cell = |name: &str| {
            cells
                .iter()
                .chain(base.iter())
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_default()
        };
        row_member(&cell)
    }

    #[test]
    fn rows_resolve_places_and_normalise_the_profile() {
        let m = row(&[
            ("country", "canada"),
            ("state", "ontario"),
            ("postal_code", "k1a 0b1"),
        ])
        .unwrap();
        assert_eq!(m.profile.first_name.as_deref(), Some("Ada"));
        assert_eq!(m.profile.last_name.as_deref(), Some("O'Neil"));
        assert_eq!(m.profile.country.as_deref(), Some("CA"));
        assert_eq!(m.profile.state.as_deref(), Some("ON"));
        assert_eq!(m.profile.postal_code.as_deref(), Some("K1A 0B1"));
        // Without a country the state is kept, upper-cased.
        let m = row(&[("state", "somewhere")]).unwrap();
        assert_eq!(m.profile.state.as_deref(), Some("SOMEWHERE"));
        assert_eq!(
            row(&[("country", "us"), ("state", "Narnia")])
                .err()
                .as_deref(),
            Some("Unsupported state 'Narnia' for country US")
        );
        assert_eq!(
            row(&[("postal_code", &"9".repeat(33))]).err().as_deref(),
            Some("postal_code: String should have at most 32 characters")
        );
    }

    #[test]
    fn ratio_like_fuzz() {
        assert_eq!(ratio("abc", "abc"), 100);
        assert_eq!(ratio("abc", "xyz"), 0);
        assert!(ratio("germny", "germany") >= 90);
    }
}
