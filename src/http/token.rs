//! The bridge between HTTP and the JWT primitives: decoding a token into the claims the
//! guards read, and the refresh/CSRF cookies.

use axum::http::HeaderMap;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::jwt::JwtError;
use crate::config::Settings;
use crate::error::ApiError;
use crate::http::AppState;

/// The claims of any token type, as the guards read them (contract §4.3).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TokenView {
    #[serde(rename = "type", default)]
    pub typ: String,
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub iid: Option<String>,
    #[serde(default)]
    pub su: bool,
    #[serde(default)]
    pub mfa: bool,
    #[serde(default)]
    pub mfa_method: Option<String>,
    #[serde(default)]
    pub tv: Option<i64>,
    #[serde(default)]
    pub jti: Option<String>,
    #[serde(default)]
    pub exp: Option<i64>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub imp: Option<String>,
    #[serde(default)]
    pub imp_iid: Option<String>,
    #[serde(default)]
    pub imp_started: Option<i64>,
}

impl TokenView {
    pub fn sub_uuid(&self) -> Option<Uuid> {
        self.sub.as_deref().and_then(|s| Uuid::parse_str(s).ok())
    }

    pub fn iid_uuid(&self) -> Option<Uuid> {
        self.iid.as_deref().and_then(|s| Uuid::parse_str(s).ok())
    }

    pub fn imp_iid_uuid(&self) -> Option<Uuid> {
        self.imp_iid
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
    }

    pub fn is_impersonation(&self) -> bool {
        self.imp.is_some()
    }
}

/// Verifies a token (signature, `aud`, expiry, algorithm) and returns its claims; the two
/// legacy failure texts are "Token expired" and "Invalid token".
pub fn decode(state: &AppState, raw: &str) -> Result<TokenView, ApiError> {
    let claims = state.auth.jwt.verify(raw).map_err(|e| match e {
        JwtError::Expired => ApiError::unauthorized("Token expired"),
        _ => ApiError::unauthorized("Invalid token"),
    })?;
    serde_json::from_value(serde_json::Value::Object(claims))
        .map_err(|_| ApiError::unauthorized("Invalid token"))
}

/// The refresh cookie's value, if the request carries one.
pub fn refresh_cookie(settings: &Settings, headers: &HeaderMap) -> Option<String> {
    cookie(headers, &settings.cookies.refresh_name)
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}
