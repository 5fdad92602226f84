//! Issuing sessions: signing the typed claims of `auth/jwt.rs` (the access/refresh pair in
//! the legacy claim order), the CSRF token, and the refresh/CSRF cookies (contract §4.3–§4.4).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use serde::Serialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::auth::jwt::{SessionClaims, SessionSubject, TokenLifetimes};
use crate::auth::recovery::generate_csrf_token;
use crate::config::Settings;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// A freshly minted pair plus the CSRF token that goes with the cookies.
pub struct IssuedSession {
    pub access_token: String,
    pub refresh_token: String,
    /// `None` when refresh cookies are disabled (`AUTH_REFRESH_COOKIE_ENABLED=false`).
    pub csrf_token: Option<String>,
    pub headers: HeaderMap,
}

/// Mints the access and refresh tokens (typed claims of `auth/jwt.rs`). Sessions end
/// `SESSION_MAX_MINUTES` after their sign-in (`auth_time`), impersonation sessions also
/// `IMPERSONATION_MAX_MINUTES` after their start.
pub fn mint_pair(state: &AppState, subject: &SessionSubject) -> Result<(String, String), ApiError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let (access_ttl, refresh_ttl) = TokenLifetimes::from_settings(&state.settings).session_secs(
        subject.auth_time,
        subject.impersonation.as_ref(),
        now,
    );
    let access = SessionClaims::access(subject, now, access_ttl);
    let refresh = SessionClaims::refresh(subject, now, refresh_ttl);
    Ok((sign(state, &access)?, sign(state, &refresh)?))
}

/// Signs typed claims (any token type of `auth/jwt.rs`); a failure is a 500.
pub fn sign<T: Serialize>(state: &AppState, claims: &T) -> Result<String, ApiError> {
    state.auth.jwt.encode(claims).map_err(|e| {
        tracing::error!(error = %e, "signing a token failed");
        ApiError::internal()
    })
}

/// Mints a pair and prepares the cookies and the `X-CSRF-Token` header of a token-issuing
/// response.
pub fn issue(state: &AppState, subject: &SessionSubject) -> Result<IssuedSession, ApiError> {
    let (access_token, refresh_token) = mint_pair(state, subject)?;
    let mut headers = HeaderMap::new();
    let csrf_token = if state.settings.cookies.enabled {
        let csrf = generate_csrf_token();
        set_session_cookies(&state.settings, &mut headers, &refresh_token, &csrf);
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(state.settings.cookies.csrf_header.as_str()),
            HeaderValue::from_str(&csrf),
        ) {
            headers.insert(name, value);
        }
        Some(csrf)
    } else {
        None
    };
    Ok(IssuedSession {
        access_token,
        refresh_token,
        csrf_token,
        headers,
    })
}

/// `name=value; Domain=…; HttpOnly; Max-Age=…; Path=…; SameSite=…; Secure`, attributes in the
/// order the legacy (Python `http.cookies`) wrote them.
fn cookie_line(
    settings: &Settings,
    name: &str,
    value: &str,
    http_only: bool,
    max_age: i64,
    expires: Option<&str>,
) -> String {
    let c = &settings.cookies;
    let mut line = format!("{name}={value}");
    if let Some(domain) = &c.domain {
        line.push_str(&format!("; Domain={domain}"));
    }
    if let Some(expires) = expires {
        line.push_str(&format!("; expires={expires}"));
    }
    if http_only {
        line.push_str("; HttpOnly");
    }
    line.push_str(&format!("; Max-Age={max_age}"));
    if let Some(path) = &c.path {
        line.push_str(&format!("; Path={path}"));
    }
    line.push_str(&format!("; SameSite={}", c.same_site.as_str()));
    if c.secure {
        line.push_str("; Secure");
    }
    line
}

fn append_cookie(headers: &mut HeaderMap, line: &str) {
    if let Ok(value) = HeaderValue::from_str(line) {
        headers.append(header::SET_COOKIE, value);
    }
}

pub fn set_session_cookies(
    settings: &Settings,
    headers: &mut HeaderMap,
    refresh_token: &str,
    csrf: &str,
) {
    let max_age = settings.refresh_token_expire_minutes * 60;
    append_cookie(
        headers,
        &cookie_line(
            settings,
            &settings.cookies.refresh_name,
            refresh_token,
            true,
            max_age,
            None,
        ),
    );
    append_cookie(
        headers,
        &cookie_line(
            settings,
            &settings.cookies.csrf_name,
            csrf,
            false,
            max_age,
            None,
        ),
    );
}

/// Logout's clearing headers: empty value, `expires=<now>`, `Max-Age=0`, same path and
/// SameSite, no HttpOnly (exactly as the legacy service sent them).
pub fn clear_session_cookies(settings: &Settings, headers: &mut HeaderMap) {
    let now = httpdate(OffsetDateTime::now_utc());
    for name in [&settings.cookies.refresh_name, &settings.cookies.csrf_name] {
        append_cookie(
            headers,
            &cookie_line(settings, name, "\"\"", false, 0, Some(&now)),
        );
    }
}

fn httpdate(dt: OffsetDateTime) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[dt.weekday().number_days_from_monday() as usize],
        dt.day(),
        MONTHS[usize::from(u8::from(dt.month())) - 1],
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

/// `{access_token, refresh_token, token_type, csrf_token}` (the TokenPair body).
pub fn pair_body(session: &IssuedSession) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("access_token".into(), json!(session.access_token));
    body.insert("refresh_token".into(), json!(session.refresh_token));
    body.insert("token_type".into(), json!("bearer"));
    body.insert("csrf_token".into(), json!(session.csrf_token));
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn http_dates_use_the_cookie_format() {
        assert_eq!(
            httpdate(datetime!(2026-11-24 06:51:20 UTC)),
            "Tue, 24 Nov 2026 06:51:20 GMT"
        );
    }
}
