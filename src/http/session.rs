//! Issuing sessions: the access/refresh pair with its claims in the legacy order, the CSRF
//! token, and the refresh/CSRF cookies (contract §4.3–§4.4).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::recovery::generate_csrf_token;
use crate::config::Settings;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// Who a session is for.
#[derive(Clone, Debug)]
pub struct SessionSubject {
    pub user_id: Uuid,
    pub org_id: String,
    pub identity_id: Uuid,
    pub is_superuser: bool,
    pub mfa: bool,
    pub token_version: i32,
    pub mfa_method: Option<String>,
    pub impersonation: Option<Impersonation>,
}

#[derive(Clone, Debug)]
pub struct Impersonation {
    pub admin_user_id: Uuid,
    pub admin_identity_id: Uuid,
    pub started: i64,
}

/// A freshly minted pair plus the CSRF token that goes with the cookies.
pub struct IssuedSession {
    pub access_token: String,
    pub refresh_token: String,
    /// `None` when refresh cookies are disabled (`AUTH_REFRESH_COOKIE_ENABLED=false`).
    pub csrf_token: Option<String>,
    pub headers: HeaderMap,
}

fn base_claims(subject: &SessionSubject) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject.user_id.to_string()));
    claims.insert("org".into(), json!(subject.org_id));
    claims.insert("iid".into(), json!(subject.identity_id.to_string()));
    claims.insert("su".into(), json!(subject.is_superuser));
    claims.insert("mfa".into(), json!(subject.mfa));
    claims
}

fn finish(
    claims: &mut Map<String, Value>,
    subject: &SessionSubject,
    typ: &str,
    ttl_secs: i64,
    jti: Option<Uuid>,
) {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    claims.insert("aud".into(), json!(crate::auth::jwt::AUDIENCE));
    claims.insert("iss".into(), json!(crate::auth::jwt::ISSUER));
    claims.insert("exp".into(), json!(now + ttl_secs));
    claims.insert("iat".into(), json!(now));
    claims.insert("type".into(), json!(typ));
    if let Some(jti) = jti {
        claims.insert("jti".into(), json!(jti.to_string()));
    }
    claims.insert("tv".into(), json!(subject.token_version));
    if let Some(method) = &subject.mfa_method {
        claims.insert("mfa_method".into(), json!(method));
    }
    if let Some(imp) = &subject.impersonation {
        claims.insert("imp".into(), json!(imp.admin_user_id.to_string()));
        claims.insert("imp_iid".into(), json!(imp.admin_identity_id.to_string()));
        claims.insert("imp_started".into(), json!(imp.started));
    }
}

/// Mints the access and refresh tokens. Impersonation sessions are capped at
/// `IMPERSONATION_MAX_MINUTES` from their start.
pub fn mint_pair(state: &AppState, subject: &SessionSubject) -> Result<(String, String), ApiError> {
    let settings = &state.settings;
    let mut access_ttl = settings.access_token_expire_minutes * 60;
    let mut refresh_ttl = settings.refresh_token_expire_minutes * 60;
    if let Some(imp) = &subject.impersonation {
        let cap = imp.started + settings.impersonation_max_minutes * 60;
        let left = cap - OffsetDateTime::now_utc().unix_timestamp();
        access_ttl = access_ttl
            .min(settings.impersonation_max_minutes * 60)
            .min(left);
        refresh_ttl = left;
    }
    let mut access = base_claims(subject);
    finish(&mut access, subject, "access", access_ttl, None);
    let mut refresh = base_claims(subject);
    finish(
        &mut refresh,
        subject,
        "refresh",
        refresh_ttl,
        Some(Uuid::new_v4()),
    );
    Ok((sign(state, access)?, sign(state, refresh)?))
}

pub fn sign(state: &AppState, claims: Map<String, Value>) -> Result<String, ApiError> {
    state.auth.jwt.encode(&Value::Object(claims)).map_err(|e| {
        tracing::error!(error = %e, "signing a token failed");
        ApiError::internal()
    })
}

/// A short-lived token of the pre-session kinds, claims in the legacy order
/// (`sub`, [`org`, [`action`]], `type`, `aud`, `iat`, `exp`).
pub fn mint_short(
    state: &AppState,
    typ: &str,
    sub: Uuid,
    org: Option<&str>,
    action: Option<&str>,
    ttl_secs: i64,
) -> Result<String, ApiError> {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(sub.to_string()));
    if let Some(org) = org {
        claims.insert("org".into(), json!(org));
    }
    if let Some(action) = action {
        claims.insert("action".into(), json!(action));
    }
    claims.insert("type".into(), json!(typ));
    claims.insert("aud".into(), json!(crate::auth::jwt::AUDIENCE));
    claims.insert("iss".into(), json!(crate::auth::jwt::ISSUER));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ttl_secs));
    sign(state, claims)
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
