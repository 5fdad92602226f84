//! The bridge between HTTP and the JWT primitives: decoding a bearer into the typed
//! [`TokenView`] of `auth/jwt.rs` (through the verified-token cache), and the refresh/CSRF
//! cookies.

use axum::http::HeaderMap;

use crate::auth::jwt::{JwtError, TokenView};
use crate::config::Settings;
use crate::http::error::ApiError;
use crate::http::state::AppState;

/// Verifies a token (signature, `aud`, expiry, algorithm) and returns its claims; the two
/// legacy failure texts are "Token expired" and "Invalid token".
pub fn decode(state: &AppState, raw: &str) -> Result<TokenView, ApiError> {
    if let Some(view) = state.auth.verified.get(raw) {
        return Ok(view);
    }
    let view = state.auth.jwt.verify_view(raw).map_err(|e| match e {
        JwtError::Expired => ApiError::unauthorized("Token expired"),
        _ => ApiError::unauthorized("Invalid token"),
    })?;
    state.auth.verified.insert(raw, &view);
    Ok(view)
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
