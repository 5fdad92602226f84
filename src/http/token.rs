//! The bridge between HTTP and the JWT primitives: decoding a token into the claims the
//! guards read, and the refresh/CSRF cookies.

use axum::http::HeaderMap;
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::jwt::JwtError;
use crate::config::Settings;
use crate::http::error::ApiError;
use crate::http::state::AppState;

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
    if let Some(view) = state.auth.verified.get(raw) {
        return Ok(view);
    }
    let claims = state.auth.jwt.verify(raw).map_err(|e| match e {
        JwtError::Expired => ApiError::unauthorized("Token expired"),
        _ => ApiError::unauthorized("Invalid token"),
    })?;
    let view: TokenView = serde_json::from_value(serde_json::Value::Object(claims))
        .map_err(|_| ApiError::unauthorized("Invalid token"))?;
    state.auth.verified.insert(raw, &view);
    Ok(view)
}

/// Tokens whose signature was already verified, with their claims. The frontend sends the same
/// access token on every call for up to 15 minutes, and an RS256 verification (tens of
/// microseconds at 3072 bits) was the largest CPU cost of an authenticated request. Only tokens
/// that verified are stored, and a hit is re-checked against `exp`, so the cache only skips
/// work; the one difference is that a token signed by a key rotated out stays valid for the
/// rest of its lifetime in a running instance.
pub struct VerifiedTokens {
    map: std::sync::Mutex<std::collections::HashMap<Box<str>, TokenView>>,
    capacity: usize,
}

impl VerifiedTokens {
    pub fn new(capacity: usize) -> Self {
        Self {
            map: std::sync::Mutex::default(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, TokenView>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn get(&self, raw: &str) -> Option<TokenView> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut map = self.lock();
        match map.get(raw) {
            Some(view) if view.exp.is_some_and(|exp| exp > now) => Some(view.clone()),
            Some(_) => {
                map.remove(raw);
                None
            }
            None => None,
        }
    }

    fn insert(&self, raw: &str, view: &TokenView) {
        if view.exp.is_none() {
            return;
        }
        let mut map = self.lock();
        if map.len() >= self.capacity {
            // Crude but bounded: most entries of a full map belong to tokens long replaced.
            map.clear();
        }
        map.insert(raw.into(), view.clone());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn view(exp: i64) -> TokenView {
        TokenView {
            typ: "access".into(),
            exp: Some(exp),
            ..TokenView::default()
        }
    }

    #[test]
    fn verified_tokens_expire_and_stay_bounded() {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let cache = VerifiedTokens::new(2);
        cache.insert("live", &view(now + 60));
        cache.insert("dead", &view(now));
        assert!(cache.get("live").is_some());
        assert!(
            cache.get("dead").is_none(),
            "a token at its exp is expired, as the verifier says"
        );
        cache.insert("third", &view(now + 60));
        cache.insert("fourth", &view(now + 60));
        assert!(cache.lock().len() <= 2);
        cache.insert("no-exp", &TokenView::default());
        assert!(
            cache.get("no-exp").is_none(),
            "tokens without exp are never cached"
        );
    }
}
