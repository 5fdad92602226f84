//! RS256 JWTs with the legacy claim layout (contract §4.3).
//!
//! - Keys are loaded and parsed once ([`JwtKeys::from_settings`]); inline PEMs may carry literal
//!   `\n` escapes.
//! - Minted tokens: header `{"alg":"RS256","typ":"JWT","kid":…}` (kid = base64url of the first
//!   12 bytes of SHA-256 of the public key DER), claims in the legacy key order (see
//!   `contract/samples/tokens.json`) with `"iss":"sole"` right after `aud`.
//! - Decoding: RS256 only (no `none`, no HS*, so no HS256-with-the-public-key confusion),
//!   `aud = "sole-backend"` required, zero leeway (expired when `exp <= now`, like PyJWT), an
//!   `iat`/`nbf` in the future is invalid (PyJWT), `kid` optional but must be ours when present,
//!   `iss` optional but must be ours when present. Errors collapse to [`JwtError::Expired`]
//!   ("Token expired") and [`JwtError::Invalid`] ("Invalid token"); typed decoders add
//!   [`JwtError::UnexpectedType`].

use std::fmt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use secrecy::ExposeSecret as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use crate::config::{KeySource, Settings};

/// `aud` of every token.
pub const AUDIENCE: &str = "sole-backend";
/// `iss` of tokens minted by `sole` (legacy tokens have none).
pub const ISSUER: &str = "sole";
/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LENGTH: usize = 16 * 1024;

pub const PRE_ORG_TTL_SECS: i64 = 5 * 60;
pub const MFA_CHALLENGE_TTL_SECS: i64 = 5 * 60;
pub const MFA_SETUP_TTL_SECS: i64 = 10 * 60;
pub const STEP_UP_CHALLENGE_TTL_SECS: i64 = 5 * 60;
pub const STEP_UP_TTL_SECS: i64 = 5 * 60;

/// Environment variable names, for error messages.
const PRIVATE_VAR: &str = "JWT_PRIVATE_KEY";
const PUBLIC_VAR: &str = "JWT_PUBLIC_KEY";

// ---------------------------------------------------------------------------------------------
// Errors

/// Decode outcome the API maps to 401s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("Token expired")]
    Expired,
    #[error("Invalid token")]
    Invalid,
    /// Signature and claims are fine but the `type` is not the one expected.
    #[error("Unexpected token type")]
    UnexpectedType,
}

/// Key loading problems; messages name the variable and never contain key material.
#[derive(Debug, thiserror::Error)]
pub enum JwtKeyError {
    #[error("{var} is required (inline PEM, or {var}_PATH)")]
    Missing { var: &'static str },
    #[error("{var}_PATH: cannot read {path}: {reason}")]
    Unreadable {
        var: &'static str,
        path: String,
        reason: String,
    },
    #[error("{var}: not a valid RSA {what} key in PEM format")]
    Invalid {
        var: &'static str,
        what: &'static str,
    },
    #[error("JWT_PRIVATE_KEY and JWT_PUBLIC_KEY do not belong to the same key pair")]
    Mismatch,
    #[error("RSA key generation failed")]
    Generate,
    #[error("RSA keys are generated with 2048, 3072 or 4096 bits, not {bits}")]
    UnsupportedSize { bits: u32 },
}

/// Signing failed (should not happen with a loaded key).
#[derive(Debug, thiserror::Error)]
#[error("JWT signing failed: {0}")]
pub struct SignError(String);

// ---------------------------------------------------------------------------------------------
// Claims

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    Access,
    Refresh,
    PreOrg,
    MfaChallenge,
    MfaSetup,
    StepUpChallenge,
    StepUp,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Refresh => "refresh",
            Self::PreOrg => "pre_org",
            Self::MfaChallenge => "mfa_challenge",
            Self::MfaSetup => "mfa_setup",
            Self::StepUpChallenge => "step_up_challenge",
            Self::StepUp => "step_up",
        }
    }
}

/// `mfa_method` claim values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaMethod {
    Totp,
    Recovery,
    RememberDevice,
}

/// Access and refresh claims. Field order is the legacy key order:
/// `sub, org, iid, su, mfa, aud, exp, iat, type, [jti], [tv], [mfa_method], [imp, imp_iid,
/// imp_started]`, with `iss` right after `aud` and `auth_time` last in tokens `sole` mints.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// users.id (org-scoped user).
    pub sub: Uuid,
    pub org: String,
    /// Identity id (the admin's during impersonation). Absent only in very old tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iid: Option<Uuid>,
    #[serde(default)]
    pub su: bool,
    #[serde(default)]
    pub mfa: bool,
    pub aud: String,
    /// `"sole"` in tokens `sole` mints, right after `aud`; legacy tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub exp: i64,
    pub iat: i64,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    /// Refresh tokens only (uuid4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<Uuid>,
    /// identity.token_version; the revocation check is skipped when absent (legacy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tv: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_method: Option<MfaMethod>,
    /// Impersonating admin's user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp: Option<Uuid>,
    /// Impersonating admin's identity id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp_iid: Option<Uuid>,
    /// Impersonation start (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imp_started: Option<i64>,
    /// When the session's refresh chain began (epoch seconds): the sign-in, carried unchanged
    /// through every refresh so the chain ends `SESSION_MAX_MINUTES` after it. The name and
    /// meaning are OpenID Connect's `auth_time`. Legacy tokens have none; their chain starts
    /// at their first refresh through `sole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// `pre_org`: `sub, type, aud, [iss], iat, exp`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreOrgClaims {
    /// Identity id.
    pub sub: Uuid,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub aud: String,
    /// `"sole"` in tokens `sole` mints, right after `aud`; legacy tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub iat: i64,
    pub exp: i64,
}

/// `mfa_challenge` / `mfa_setup`: `sub, org, type, aud, [iss], iat, exp, [jti]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaClaims {
    /// Identity id.
    pub sub: Uuid,
    pub org: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub aud: String,
    /// `"sole"` in tokens `sole` mints, right after `aud`; legacy tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub iat: i64,
    pub exp: i64,
    /// A random id in challenges `sole` mints, so two challenges issued in the same second are
    /// two challenges (each has its own attempt counter); legacy tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// `step_up_challenge` / `step_up`: `sub, org, action, type, aud, [iss], iat, exp, [jti]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepUpClaims {
    /// users.id.
    pub sub: Uuid,
    pub org: String,
    pub action: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub aud: String,
    /// `"sole"` in tokens `sole` mints, right after `aud`; legacy tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub iat: i64,
    pub exp: i64,
    /// A random id in challenges `sole` mints, so two challenges issued in the same second are
    /// two challenges (each has its own attempt counter); legacy tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// A verified token of any type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claims {
    Access(SessionClaims),
    Refresh(SessionClaims),
    PreOrg(PreOrgClaims),
    MfaChallenge(MfaClaims),
    MfaSetup(MfaClaims),
    StepUpChallenge(StepUpClaims),
    StepUp(StepUpClaims),
}

impl Claims {
    pub fn token_type(&self) -> TokenType {
        match self {
            Self::Access(_) => TokenType::Access,
            Self::Refresh(_) => TokenType::Refresh,
            Self::PreOrg(_) => TokenType::PreOrg,
            Self::MfaChallenge(_) => TokenType::MfaChallenge,
            Self::MfaSetup(_) => TokenType::MfaSetup,
            Self::StepUpChallenge(_) => TokenType::StepUpChallenge,
            Self::StepUp(_) => TokenType::StepUp,
        }
    }
}

/// The claims of a verified token of any type, as the guards and auth flows read them: the
/// type is a [`TokenType`], every other claim optional, so each flow answers its own legacy
/// message ("Token missing org claim", "Invalid token", …) when one is missing or malformed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct TokenView {
    /// `None` when the claim is missing or names no type `sole` knows.
    #[serde(rename = "type", default, deserialize_with = "lenient")]
    pub token_type: Option<TokenType>,
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
    #[serde(default, deserialize_with = "lenient")]
    pub mfa_method: Option<MfaMethod>,
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
    #[serde(default)]
    pub auth_time: Option<i64>,
}

/// A string claim read as `T`, `None` when missing, not a string or not one of `T`'s values.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?;
    Ok(value.and_then(|v| serde_json::from_value(v).ok()))
}

impl TokenView {
    /// Whether this is a token of type `expected`.
    pub fn is(&self, expected: TokenType) -> bool {
        self.token_type == Some(expected)
    }

    /// The `type` claim as sent (`""` when missing or unknown), for the "Unexpected token
    /// type" messages.
    pub fn type_str(&self) -> &'static str {
        self.token_type.map_or("", TokenType::as_str)
    }

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

    /// The start of the session's refresh chain: the `auth_time` claim, or `now` for a token
    /// without one (minted by the legacy service), whose chain starts with this use.
    pub fn chain_start(&self, now: i64) -> i64 {
        self.auth_time.unwrap_or(now)
    }
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
        let now = unix_now();
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

    pub fn insert(&self, raw: &str, view: &TokenView) {
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

/// Who an access/refresh pair is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSubject {
    pub user_id: Uuid,
    pub org: String,
    pub identity_id: Uuid,
    pub superuser: bool,
    pub mfa: bool,
    pub token_version: i64,
    pub mfa_method: Option<MfaMethod>,
    pub impersonation: Option<Impersonation>,
    /// Start of the refresh chain (epoch seconds): `now` at a sign-in, the presented token's
    /// [`TokenView::chain_start`] when a session continues.
    pub auth_time: i64,
}

/// Impersonation claims: the admin behind the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Impersonation {
    pub admin_user_id: Uuid,
    pub admin_identity_id: Uuid,
    pub started: i64,
}

impl SessionClaims {
    fn new(subject: &SessionSubject, token_type: TokenType, now: i64, ttl_secs: i64) -> Self {
        let imp = subject.impersonation;
        Self {
            sub: subject.user_id,
            org: subject.org.clone(),
            iid: Some(subject.identity_id),
            su: subject.superuser,
            mfa: subject.mfa,
            aud: AUDIENCE.to_owned(),
            exp: now.saturating_add(ttl_secs),
            iat: now,
            token_type,
            jti: (token_type == TokenType::Refresh).then(Uuid::new_v4),
            tv: Some(subject.token_version),
            mfa_method: subject.mfa_method,
            imp: imp.map(|i| i.admin_user_id),
            imp_iid: imp.map(|i| i.admin_identity_id),
            imp_started: imp.map(|i| i.started),
            iss: Some(ISSUER.to_owned()),
            auth_time: Some(subject.auth_time),
        }
    }

    /// Access claims; see [`TokenLifetimes::access_secs`] for the TTL.
    pub fn access(subject: &SessionSubject, now: i64, ttl_secs: i64) -> Self {
        Self::new(subject, TokenType::Access, now, ttl_secs)
    }

    /// Refresh claims with a fresh uuid4 `jti`; see [`TokenLifetimes::refresh_secs`].
    pub fn refresh(subject: &SessionSubject, now: i64, ttl_secs: i64) -> Self {
        Self::new(subject, TokenType::Refresh, now, ttl_secs)
    }

    pub fn impersonation(&self) -> Option<Impersonation> {
        Some(Impersonation {
            admin_user_id: self.imp?,
            admin_identity_id: self.imp_iid?,
            started: self.imp_started?,
        })
    }
}

impl PreOrgClaims {
    /// 5 minutes, `sub` = identity id.
    pub fn new(identity_id: Uuid, now: i64) -> Self {
        Self {
            sub: identity_id,
            token_type: TokenType::PreOrg,
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now.saturating_add(PRE_ORG_TTL_SECS),
            iss: Some(ISSUER.to_owned()),
        }
    }
}

impl MfaClaims {
    fn new(identity_id: Uuid, org: &str, token_type: TokenType, now: i64, ttl: i64) -> Self {
        Self {
            sub: identity_id,
            org: org.to_owned(),
            token_type,
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl),
            iss: Some(ISSUER.to_owned()),
            jti: Some(Uuid::new_v4().simple().to_string()),
        }
    }

    /// `mfa_challenge`, 5 minutes, `sub` = identity id.
    pub fn challenge(identity_id: Uuid, org: &str, now: i64) -> Self {
        Self::new(
            identity_id,
            org,
            TokenType::MfaChallenge,
            now,
            MFA_CHALLENGE_TTL_SECS,
        )
    }

    /// `mfa_setup`, 10 minutes, `sub` = identity id.
    pub fn setup(identity_id: Uuid, org: &str, now: i64) -> Self {
        Self::new(
            identity_id,
            org,
            TokenType::MfaSetup,
            now,
            MFA_SETUP_TTL_SECS,
        )
    }
}

impl StepUpClaims {
    fn new(user_id: Uuid, org: &str, action: &str, token_type: TokenType, now: i64) -> Self {
        let ttl = match token_type {
            TokenType::StepUp => STEP_UP_TTL_SECS,
            _ => STEP_UP_CHALLENGE_TTL_SECS,
        };
        Self {
            sub: user_id,
            org: org.to_owned(),
            action: action.to_owned(),
            token_type,
            aud: AUDIENCE.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl),
            iss: Some(ISSUER.to_owned()),
            jti: Some(Uuid::new_v4().simple().to_string()),
        }
    }

    /// `step_up_challenge`, 5 minutes, `sub` = users.id.
    pub fn challenge(user_id: Uuid, org: &str, action: &str, now: i64) -> Self {
        Self::new(user_id, org, action, TokenType::StepUpChallenge, now)
    }

    /// `step_up` (the grant replayed in `X-Step-Up-Token`), 5 minutes.
    pub fn grant(user_id: Uuid, org: &str, action: &str, now: i64) -> Self {
        Self::new(user_id, org, action, TokenType::StepUp, now)
    }
}

/// Access/refresh lifetimes from the settings, with the impersonation caps of contract §4.8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub access_minutes: i64,
    pub refresh_minutes: i64,
    pub impersonation_max_minutes: i64,
    pub session_max_minutes: i64,
}

impl TokenLifetimes {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            access_minutes: settings.access_token_expire_minutes,
            refresh_minutes: settings.refresh_token_expire_minutes,
            impersonation_max_minutes: settings.impersonation_max_minutes,
            session_max_minutes: settings.session_max_minutes,
        }
    }

    /// Seconds left in a refresh chain that began at `auth_time` (0 or less: it has ended).
    pub fn chain_secs_left(&self, auth_time: i64, now: i64) -> i64 {
        auth_time
            .saturating_add(self.session_max_minutes.saturating_mul(60))
            .saturating_sub(now)
    }

    /// The access and refresh TTLs (seconds) of a pair minted at `now`: ACCESS_TOKEN_EXPIRE_MINUTES
    /// and REFRESH_TOKEN_EXPIRE_MINUTES, both capped by what is left of the refresh chain that
    /// began at `auth_time` (SESSION_MAX_MINUTES); an impersonation session also ends
    /// IMPERSONATION_MAX_MINUTES after its start however often it is refreshed.
    pub fn session_secs(
        &self,
        auth_time: i64,
        impersonation: Option<&Impersonation>,
        now: i64,
    ) -> (i64, i64) {
        let chain_left = self.chain_secs_left(auth_time, now).max(0);
        let access = self.access_minutes.saturating_mul(60).min(chain_left);
        let refresh = self.refresh_minutes.saturating_mul(60).min(chain_left);
        match impersonation {
            None => (access, refresh),
            Some(imp) => {
                let max = self.impersonation_max_minutes.saturating_mul(60);
                let left = imp.started.saturating_add(max).saturating_sub(now);
                (access.min(max).min(left), refresh.min(left))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// The parsed RS256 key pair (parsed once) and its `kid`.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    /// Pre-encoded header segments.
    header_b64: String,
    legacy_header_b64: String,
    validation: Validation,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys")
            .field("alg", &"RS256")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A generated key pair as PEM strings; the private half never shows in `Debug`.
pub struct GeneratedKeyPair {
    pub private_pem: secrecy::SecretString,
    pub public_pem: String,
}

impl fmt::Debug for GeneratedKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKeyPair")
            .field("private_pem", &"[REDACTED]")
            .field("public_pem", &self.public_pem)
            .finish()
    }
}

/// The RSA sizes `sole` generates keys of.
pub const RSA_KEY_BITS: [u32; 3] = [2048, 3072, 4096];

/// A fresh RSA key pair of `bits` (one of [`RSA_KEY_BITS`]) as PKCS#8 / SPKI PEM with LF line
/// endings: the one generator behind `serve --dev`, `setup-env` and the tests.
pub fn generate_key_pair(bits: u32) -> Result<GeneratedKeyPair, JwtKeyError> {
    use aws_lc_rs::encoding::{AsDer as _, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;

    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(JwtKeyError::UnsupportedSize { bits }),
    };
    let pair = KeyPair::generate(size).map_err(|_| JwtKeyError::Generate)?;
    let private_der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| JwtKeyError::Generate)?;
    let public_der: PublicKeyX509Der<'static> = pair
        .public_key()
        .as_der()
        .map_err(|_| JwtKeyError::Generate)?;
    let lf = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    Ok(GeneratedKeyPair {
        private_pem: secrecy::SecretString::from(pem::encode_config(
            &pem::Pem::new("PRIVATE KEY", private_der.as_ref()),
            lf,
        )),
        public_pem: pem::encode_config(&pem::Pem::new("PUBLIC KEY", public_der.as_ref()), lf),
    })
}

/// Turns literal `\n` escapes (env files, Cloud Run) into newlines and trims.
fn normalize_pem(raw: &str) -> String {
    raw.trim()
        .trim_matches('"')
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .trim()
        .to_owned()
}

fn read_source(source: &KeySource, var: &'static str) -> Result<String, JwtKeyError> {
    match source {
        KeySource::Inline(secret) => Ok(normalize_pem(secret.expose_secret())),
        KeySource::File(path) => read_pem_file(path, var),
    }
}

fn read_pem_file(path: &Path, var: &'static str) -> Result<String, JwtKeyError> {
    std::fs::read_to_string(path)
        .map(|s| normalize_pem(&s))
        .map_err(|e| JwtKeyError::Unreadable {
            var,
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })
}

/// base64url of the first 12 bytes of SHA-256 over the public key's DER.
fn kid_for(public_der: &[u8]) -> String {
    let digest = Sha256::digest(public_der);
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// An integer (or float, truncated like Python's `int()`) claim.
fn int_claim(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f.trunc() as i64)
        }),
        _ => None,
    }
}

impl JwtKeys {
    /// Loads `JWT_PRIVATE_KEY`/`JWT_PUBLIC_KEY` (inline PEM or `_PATH`), parses them once and
    /// checks that they form a pair.
    pub fn from_settings(settings: &Settings) -> Result<Self, JwtKeyError> {
        let private = settings
            .jwt_private_key
            .as_ref()
            .ok_or(JwtKeyError::Missing { var: PRIVATE_VAR })?;
        let public = settings
            .jwt_public_key
            .as_ref()
            .ok_or(JwtKeyError::Missing { var: PUBLIC_VAR })?;
        let private_pem = secrecy::SecretString::from(read_source(private, PRIVATE_VAR)?);
        let public_pem = read_source(public, PUBLIC_VAR)?;
        Self::from_pems(private_pem.expose_secret(), &public_pem)
    }

    /// From PEM strings: a PKCS#8 or PKCS#1 RSA private key and an SPKI (or PKCS#1) public key.
    pub fn from_pems(private_pem: &str, public_pem: &str) -> Result<Self, JwtKeyError> {
        let private_pem = normalize_pem(private_pem);
        let public_pem = normalize_pem(public_pem);
        let invalid_private = JwtKeyError::Invalid {
            var: PRIVATE_VAR,
            what: "private",
        };
        let invalid_public = || JwtKeyError::Invalid {
            var: PUBLIC_VAR,
            what: "public",
        };
        let encoding =
            EncodingKey::from_rsa_pem(private_pem.as_bytes()).map_err(|_| invalid_private)?;
        let parsed_public = pem::parse(public_pem.as_bytes()).map_err(|_| invalid_public())?;
        if !parsed_public.tag().contains("PUBLIC KEY") {
            return Err(invalid_public());
        }
        let decoding =
            DecodingKey::from_rsa_pem(public_pem.as_bytes()).map_err(|_| invalid_public())?;

        // The pair must match: sign a probe and verify it.
        let probe = b"sole-jwt-key-pair-check";
        let signature =
            jsonwebtoken::crypto::sign(probe, &encoding, Algorithm::RS256).map_err(|_| {
                JwtKeyError::Invalid {
                    var: PRIVATE_VAR,
                    what: "private",
                }
            })?;
        let matches = jsonwebtoken::crypto::verify(&signature, probe, &decoding, Algorithm::RS256)
            .map_err(|_| invalid_public())?;
        if !matches {
            return Err(JwtKeyError::Mismatch);
        }

        let kid = kid_for(parsed_public.contents());
        let header_b64 =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{kid}"}}"#));
        let legacy_header_b64 = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);

        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        // `exp`, `iat` and `nbf` are checked by us against an explicit `now` (PyJWT rules).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = true;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "aud"]);

        Ok(Self {
            encoding,
            decoding,
            kid,
            header_b64,
            legacy_header_b64,
            validation,
        })
    }

    /// A fresh RSA-2048 key pair as PEM strings (dev mode, tests).
    pub fn generate_ephemeral_pems() -> Result<GeneratedKeyPair, JwtKeyError> {
        generate_key_pair(2048)
    }

    /// Ephemeral keys for dev mode and tests (tokens die with the process).
    pub fn generate_ephemeral() -> Result<Self, JwtKeyError> {
        let pair = Self::generate_ephemeral_pems()?;
        Self::from_pems(pair.private_pem.expose_secret(), &pair.public_pem)
    }

    /// The `kid` put in headers of minted tokens.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    fn sign_with_header<T: Serialize>(
        &self,
        header_b64: &str,
        claims: &T,
    ) -> Result<String, SignError> {
        let payload = serde_json::to_vec(claims).map_err(|e| SignError(e.to_string()))?;
        let message = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(payload));
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)
                .map_err(|e| SignError(e.to_string()))?;
        Ok(format!("{message}.{signature}"))
    }

    /// Signs claims with the `sole` header (`alg`, `typ`, `kid`); the payload keeps the
    /// struct's field order.
    pub fn encode<T: Serialize>(&self, claims: &T) -> Result<String, SignError> {
        self.sign_with_header(&self.header_b64, claims)
    }

    /// Signs with the legacy header `{"alg":"RS256","typ":"JWT"}` (no `kid`). RS256 is
    /// deterministic, so legacy claims give byte-identical legacy tokens (compatibility tests).
    pub fn encode_legacy<T: Serialize>(&self, claims: &T) -> Result<String, SignError> {
        self.sign_with_header(&self.legacy_header_b64, claims)
    }

    /// Verifies signature, header and registered claims at `now`; returns the claims map.
    pub fn verify_at(&self, token: &str, now: i64) -> Result<Map<String, Value>, JwtError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LENGTH {
            return Err(JwtError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Invalid)?;
        if header.alg != Algorithm::RS256 {
            return Err(JwtError::Invalid);
        }
        if let Some(kid) = &header.kid
            && kid != &self.kid
        {
            return Err(JwtError::Invalid);
        }
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation)
                .map_err(|_| JwtError::Invalid)?;
        let claims = data.claims;

        // PyJWT order: iat, nbf, exp; zero leeway.
        if let Some(iat) = claims.get("iat") {
            let iat = int_claim(iat).ok_or(JwtError::Invalid)?;
            if iat > now {
                return Err(JwtError::Invalid);
            }
        }
        if let Some(nbf) = claims.get("nbf") {
            let nbf = int_claim(nbf).ok_or(JwtError::Invalid)?;
            if nbf > now {
                return Err(JwtError::Invalid);
            }
        }
        let exp = claims
            .get("exp")
            .and_then(int_claim)
            .ok_or(JwtError::Invalid)?;
        if exp <= now {
            return Err(JwtError::Expired);
        }
        if let Some(iss) = claims.get("iss")
            && iss.as_str() != Some(ISSUER)
        {
            return Err(JwtError::Invalid);
        }
        Ok(claims)
    }

    /// [`JwtKeys::verify_at`] with the current time.
    pub fn verify(&self, token: &str) -> Result<Map<String, Value>, JwtError> {
        self.verify_at(token, unix_now())
    }

    /// Verifies a token of any type and returns its [`TokenView`].
    pub fn verify_view(&self, token: &str) -> Result<TokenView, JwtError> {
        from_value(Value::Object(self.verify(token)?))
    }

    /// Verifies a token of any type and types its claims by the `type` claim.
    pub fn decode_any_at(&self, token: &str, now: i64) -> Result<Claims, JwtError> {
        let map = self.verify_at(token, now)?;
        let token_type: TokenType = map
            .get("type")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or(JwtError::Invalid)?;
        let value = Value::Object(map);
        Ok(match token_type {
            TokenType::Access => Claims::Access(from_value(value)?),
            TokenType::Refresh => Claims::Refresh(from_value(value)?),
            TokenType::PreOrg => Claims::PreOrg(from_value(value)?),
            TokenType::MfaChallenge => Claims::MfaChallenge(from_value(value)?),
            TokenType::MfaSetup => Claims::MfaSetup(from_value(value)?),
            TokenType::StepUpChallenge => Claims::StepUpChallenge(from_value(value)?),
            TokenType::StepUp => Claims::StepUp(from_value(value)?),
        })
    }

    /// [`JwtKeys::decode_any_at`] with the current time.
    pub fn decode_any(&self, token: &str) -> Result<Claims, JwtError> {
        self.decode_any_at(token, unix_now())
    }

    /// Verifies a token and requires `type == expected` ([`JwtError::UnexpectedType`]
    /// otherwise, after the signature and expiry checks).
    pub fn decode_as_at<T: DeserializeOwned>(
        &self,
        token: &str,
        expected: TokenType,
        now: i64,
    ) -> Result<T, JwtError> {
        let map = self.verify_at(token, now)?;
        if map.get("type").and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(JwtError::UnexpectedType);
        }
        from_value(Value::Object(map))
    }

    pub fn decode_access(&self, token: &str) -> Result<SessionClaims, JwtError> {
        self.decode_as_at(token, TokenType::Access, unix_now())
    }

    /// Refresh tokens must also carry `jti`.
    pub fn decode_refresh(&self, token: &str) -> Result<SessionClaims, JwtError> {
        let claims: SessionClaims = self.decode_as_at(token, TokenType::Refresh, unix_now())?;
        if claims.jti.is_none() {
            return Err(JwtError::Invalid);
        }
        Ok(claims)
    }

    pub fn decode_pre_org(&self, token: &str) -> Result<PreOrgClaims, JwtError> {
        self.decode_as_at(token, TokenType::PreOrg, unix_now())
    }

    pub fn decode_mfa_challenge(&self, token: &str) -> Result<MfaClaims, JwtError> {
        self.decode_as_at(token, TokenType::MfaChallenge, unix_now())
    }

    pub fn decode_mfa_setup(&self, token: &str) -> Result<MfaClaims, JwtError> {
        self.decode_as_at(token, TokenType::MfaSetup, unix_now())
    }

    pub fn decode_step_up_challenge(&self, token: &str) -> Result<StepUpClaims, JwtError> {
        self.decode_as_at(token, TokenType::StepUpChallenge, unix_now())
    }

    pub fn decode_step_up(&self, token: &str) -> Result<StepUpClaims, JwtError> {
        self.decode_as_at(token, TokenType::StepUp, unix_now())
    }
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, JwtError> {
    serde_json::from_value(value).map_err(|_| JwtError::Invalid)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

    fn keys() -> &'static JwtKeys {
        static KEYS: OnceLock<JwtKeys> = OnceLock::new();
        KEYS.get_or_init(|| JwtKeys::generate_ephemeral().unwrap())
    }

    fn subject() -> SessionSubject {
        SessionSubject {
            user_id: Uuid::new_v4(),
            org: "sole-llc".into(),
            identity_id: Uuid::new_v4(),
            superuser: false,
            mfa: true,
            token_version: 7,
            mfa_method: Some(MfaMethod::Totp),
            impersonation: None,
            auth_time: NOW - 60,
        }
    }

    fn payload_json(token: &str) -> String {
        let part = token.split('.').nth(1).unwrap();
        String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn header_json(token: &str) -> String {
        let part = token.split('.').next().unwrap();
        String::from_utf8(URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    fn keys_in_order(json: &str) -> Vec<String> {
        let v: Map<String, Value> = serde_json::from_str(json).unwrap();
        v.keys().cloned().collect()
    }

    const NOW: i64 = 1_795_503_000;

    #[test]
    fn access_and_refresh_layout_and_roundtrip() {
        let k = keys();
        let s = subject();
        let access = SessionClaims::access(&s, NOW, 900);
        let token = k.encode(&access).unwrap();
        assert_eq!(
            header_json(&token),
            format!(r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#, k.kid())
        );
        assert_eq!(
            keys_in_order(&payload_json(&token)),
            [
                "sub",
                "org",
                "iid",
                "su",
                "mfa",
                "aud",
                "iss",
                "exp",
                "iat",
                "type",
                "tv",
                "mfa_method",
                "auth_time"
            ]
        );
        assert_eq!(
            k.decode_as_at::<SessionClaims>(&token, TokenType::Access, NOW)
                .unwrap(),
            access
        );
        assert_eq!(access.exp - access.iat, 900);

        let imp = SessionSubject {
            impersonation: Some(Impersonation {
                admin_user_id: Uuid::new_v4(),
                admin_identity_id: Uuid::new_v4(),
                started: NOW,
            }),
            mfa_method: None,
            ..s
        };
        let refresh = SessionClaims::refresh(&imp, NOW, 3600);
        let token = k.encode(&refresh).unwrap();
        assert_eq!(
            keys_in_order(&payload_json(&token)),
            [
                "sub",
                "org",
                "iid",
                "su",
                "mfa",
                "aud",
                "iss",
                "exp",
                "iat",
                "type",
                "jti",
                "tv",
                "imp",
                "imp_iid",
                "imp_started",
                "auth_time"
            ]
        );
        let decoded = k.decode_any_at(&token, NOW).unwrap();
        assert_eq!(decoded, Claims::Refresh(refresh.clone()));
        assert_eq!(refresh.jti.unwrap().get_version_num(), 4);
        assert_eq!(refresh.impersonation(), imp.impersonation);
    }

    #[test]
    fn short_lived_token_layouts_and_ttls() {
        let k = keys();
        let id = Uuid::new_v4();
        let cases: Vec<(String, Vec<&str>, TokenType, i64)> = vec![
            (
                k.encode(&PreOrgClaims::new(id, NOW)).unwrap(),
                vec!["sub", "type", "aud", "iss", "iat", "exp"],
                TokenType::PreOrg,
                300,
            ),
            (
                k.encode(&MfaClaims::challenge(id, "sole-llc", NOW))
                    .unwrap(),
                vec!["sub", "org", "type", "aud", "iss", "iat", "exp", "jti"],
                TokenType::MfaChallenge,
                300,
            ),
            (
                k.encode(&MfaClaims::setup(id, "sole-llc", NOW)).unwrap(),
                vec!["sub", "org", "type", "aud", "iss", "iat", "exp", "jti"],
                TokenType::MfaSetup,
                600,
            ),
            (
                k.encode(&StepUpClaims::challenge(
                    id,
                    "sole-llc",
                    "ROLE_ASSIGNMENT",
                    NOW,
                ))
                .unwrap(),
                vec![
                    "sub", "org", "action", "type", "aud", "iss", "iat", "exp", "jti",
                ],
                TokenType::StepUpChallenge,
                300,
            ),
            (
                k.encode(&StepUpClaims::grant(id, "sole-llc", "ROLE_ASSIGNMENT", NOW))
                    .unwrap(),
                vec![
                    "sub", "org", "action", "type", "aud", "iss", "iat", "exp", "jti",
                ],
                TokenType::StepUp,
                300,
            ),
        ];
        for (token, order, ty, ttl) in cases {
            assert_eq!(keys_in_order(&payload_json(&token)), order, "{ty:?}");
            let map = k.verify_at(&token, NOW).unwrap();
            assert_eq!(map["type"], ty.as_str());
            assert_eq!(map["aud"], AUDIENCE);
            assert_eq!(map["exp"].as_i64().unwrap() - NOW, ttl, "{ty:?}");
            assert_eq!(k.decode_any_at(&token, NOW).unwrap().token_type(), ty);
            // Expiry is exclusive: valid one second before, expired at `exp`.
            assert!(k.verify_at(&token, NOW + ttl - 1).is_ok());
            assert_eq!(k.verify_at(&token, NOW + ttl), Err(JwtError::Expired));
        }
    }

    #[test]
    fn typed_decode_rejects_other_types() {
        let k = keys();
        let token = k.encode(&PreOrgClaims::new(Uuid::new_v4(), NOW)).unwrap();
        assert_eq!(
            k.decode_as_at::<SessionClaims>(&token, TokenType::Access, NOW),
            Err(JwtError::UnexpectedType)
        );
        let step_up = k
            .encode(&StepUpClaims::challenge(Uuid::new_v4(), "o", "A", NOW))
            .unwrap();
        assert_eq!(
            k.decode_as_at::<StepUpClaims>(&step_up, TokenType::StepUp, NOW),
            Err(JwtError::UnexpectedType)
        );
        // Live-clock wrappers.
        let now = unix_now();
        let access = k
            .encode(&SessionClaims::access(&subject(), now, 60))
            .unwrap();
        assert!(k.decode_access(&access).is_ok());
        assert_eq!(k.decode_refresh(&access), Err(JwtError::UnexpectedType));
        let refresh = k
            .encode(&SessionClaims::refresh(&subject(), now, 60))
            .unwrap();
        assert!(k.decode_refresh(&refresh).is_ok());
        assert!(
            k.decode_pre_org(&k.encode(&PreOrgClaims::new(Uuid::nil(), now)).unwrap())
                .is_ok()
        );
        assert!(
            k.decode_mfa_challenge(
                &k.encode(&MfaClaims::challenge(Uuid::nil(), "o", now))
                    .unwrap()
            )
            .is_ok()
        );
        assert!(
            k.decode_mfa_setup(&k.encode(&MfaClaims::setup(Uuid::nil(), "o", now)).unwrap())
                .is_ok()
        );
        assert!(
            k.decode_step_up(
                &k.encode(&StepUpClaims::grant(Uuid::nil(), "o", "A", now))
                    .unwrap()
            )
            .is_ok()
        );
        assert!(
            k.decode_step_up_challenge(
                &k.encode(&StepUpClaims::challenge(Uuid::nil(), "o", "A", now))
                    .unwrap()
            )
            .is_ok()
        );
    }

    #[test]
    fn future_iat_and_nbf_are_invalid() {
        let k = keys();
        let token = k.encode(&PreOrgClaims::new(Uuid::new_v4(), NOW)).unwrap();
        assert_eq!(k.verify_at(&token, NOW - 1), Err(JwtError::Invalid));
        let mut map = k.verify_at(&token, NOW).unwrap();
        map.insert("nbf".into(), Value::from(NOW + 10));
        let token = k.encode(&map).unwrap();
        assert_eq!(k.verify_at(&token, NOW), Err(JwtError::Invalid));
        assert!(k.verify_at(&token, NOW + 10).is_ok());
    }

    #[test]
    fn foreign_issuer_and_missing_claims_are_invalid() {
        let k = keys();
        let mut base = Map::new();
        base.insert("sub".into(), Value::from(Uuid::nil().to_string()));
        base.insert("type".into(), Value::from("pre_org"));
        base.insert("aud".into(), Value::from(AUDIENCE));
        base.insert("iat".into(), Value::from(NOW));
        base.insert("exp".into(), Value::from(NOW + 60));
        assert!(k.verify_at(&k.encode(&base).unwrap(), NOW).is_ok());
        assert!(k.verify_at(&k.encode_legacy(&base).unwrap(), NOW).is_ok());

        let mut foreign = base.clone();
        foreign.insert("iss".into(), Value::from("someone-else"));
        assert_eq!(
            k.verify_at(&k.encode(&foreign).unwrap(), NOW),
            Err(JwtError::Invalid)
        );
        for missing in ["aud", "exp"] {
            let mut m = base.clone();
            m.remove(missing);
            assert_eq!(
                k.verify_at(&k.encode(&m).unwrap(), NOW),
                Err(JwtError::Invalid),
                "{missing}"
            );
        }
        let mut bad_type = base.clone();
        bad_type.insert("type".into(), Value::from("password_reset"));
        assert_eq!(
            k.decode_any_at(&k.encode(&bad_type).unwrap(), NOW),
            Err(JwtError::Invalid)
        );
        let mut bad_sub = base;
        bad_sub.insert("sub".into(), Value::from("not-a-uuid"));
        assert_eq!(
            k.decode_any_at(&k.encode(&bad_sub).unwrap(), NOW),
            Err(JwtError::Invalid)
        );
    }

    #[test]
    fn tokens_from_another_key_are_invalid() {
        let other = JwtKeys::generate_ephemeral().unwrap();
        let token = other
            .encode_legacy(&PreOrgClaims::new(Uuid::new_v4(), NOW))
            .unwrap();
        assert_eq!(keys().verify_at(&token, NOW), Err(JwtError::Invalid));
        assert_ne!(other.kid(), keys().kid());
    }

    #[test]
    fn key_loading_errors_name_the_variable_without_key_material() {
        let pair = JwtKeys::generate_ephemeral_pems().unwrap();
        let other = JwtKeys::generate_ephemeral_pems().unwrap();
        let err = JwtKeys::from_pems("garbage", &pair.public_pem).unwrap_err();
        assert_eq!(
            err.to_string(),
            "JWT_PRIVATE_KEY: not a valid RSA private key in PEM format"
        );
        let err = JwtKeys::from_pems(pair.private_pem.expose_secret(), "garbage").unwrap_err();
        assert_eq!(
            err.to_string(),
            "JWT_PUBLIC_KEY: not a valid RSA public key in PEM format"
        );
        // A private key given as the public key.
        let err = JwtKeys::from_pems(
            pair.private_pem.expose_secret(),
            pair.private_pem.expose_secret(),
        )
        .unwrap_err();
        assert!(matches!(
            err,
            JwtKeyError::Invalid {
                var: "JWT_PUBLIC_KEY",
                ..
            }
        ));
        let err =
            JwtKeys::from_pems(pair.private_pem.expose_secret(), &other.public_pem).unwrap_err();
        assert!(matches!(err, JwtKeyError::Mismatch));
        let dbg = format!("{pair:?}");
        assert!(!dbg.contains(pair.private_pem.expose_secret()));
        assert!(!format!("{:?}", keys()).contains("PRIVATE"));
    }

    #[test]
    fn inline_pems_with_escaped_newlines_load() {
        let pair = JwtKeys::generate_ephemeral_pems().unwrap();
        let escaped_private = pair.private_pem.expose_secret().replace('\n', "\\n");
        let escaped_public = format!("\"{}\"", pair.public_pem.replace('\n', "\\n"));
        let a = JwtKeys::from_pems(&escaped_private, &escaped_public).unwrap();
        let b = JwtKeys::from_pems(pair.private_pem.expose_secret(), &pair.public_pem).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 16);
    }

    #[test]
    fn settings_sources_inline_file_and_missing() {
        let pair = JwtKeys::generate_ephemeral_pems().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let public_path = dir.path().join("public.pem");
        std::fs::write(&public_path, &pair.public_pem).unwrap();

        let mut settings =
            crate::config::Settings::from_env(&crate::config::EnvMap::new()).unwrap();
        settings.jwt_private_key = None;
        let err = JwtKeys::from_settings(&settings).unwrap_err();
        assert_eq!(
            err.to_string(),
            "JWT_PRIVATE_KEY is required (inline PEM, or JWT_PRIVATE_KEY_PATH)"
        );

        settings.jwt_private_key = Some(KeySource::Inline(secrecy::SecretString::from(
            pair.private_pem.expose_secret().replace('\n', "\\n"),
        )));
        settings.jwt_public_key = Some(KeySource::File(dir.path().join("missing.pem")));
        let err = JwtKeys::from_settings(&settings).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("JWT_PUBLIC_KEY_PATH: cannot read"),
            "{err}"
        );
        assert!(!err.to_string().contains("BEGIN"));

        settings.jwt_public_key = Some(KeySource::File(public_path));
        let keys = JwtKeys::from_settings(&settings).unwrap();
        let token = keys
            .encode(&PreOrgClaims::new(Uuid::new_v4(), NOW))
            .unwrap();
        assert!(keys.verify_at(&token, NOW).is_ok());
    }

    #[test]
    fn views_type_known_tokens_and_tolerate_the_rest() {
        let k = keys();
        let s = subject();
        let token = k.encode(&SessionClaims::refresh(&s, NOW, 60)).unwrap();
        let map = k.verify_at(&token, NOW).unwrap();
        let view: TokenView = from_value(Value::Object(map)).unwrap();
        assert!(view.is(TokenType::Refresh));
        assert_eq!(view.type_str(), "refresh");
        assert_eq!(view.sub_uuid(), Some(s.user_id));
        assert_eq!(view.mfa_method, s.mfa_method);
        let odd: TokenView =
            serde_json::from_value(serde_json::json!({"type": "nope", "mfa_method": 3})).unwrap();
        assert_eq!((odd.token_type, odd.mfa_method), (None, None));
        assert_eq!(odd.type_str(), "");
    }

    #[test]
    fn verified_tokens_expire_and_stay_bounded() {
        let now = unix_now();
        let view = |exp: i64| TokenView {
            token_type: Some(TokenType::Access),
            exp: Some(exp),
            ..TokenView::default()
        };
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

    #[test]
    fn lifetimes_follow_the_settings_and_impersonation_caps() {
        let l = TokenLifetimes {
            access_minutes: 15,
            refresh_minutes: 10_080,
            impersonation_max_minutes: 60,
            session_max_minutes: 100_000,
        };
        assert_eq!(l.session_secs(NOW, None, NOW), (900, 604_800));
        let imp = Impersonation {
            admin_user_id: Uuid::new_v4(),
            admin_identity_id: Uuid::new_v4(),
            started: NOW,
        };
        assert_eq!(l.session_secs(NOW, Some(&imp), NOW), (900, 3_600));
        assert_eq!(
            l.session_secs(NOW, Some(&imp), NOW + 3_000),
            (600, 600),
            "both end with the impersonation"
        );
        let short = TokenLifetimes {
            impersonation_max_minutes: 5,
            ..l
        };
        assert_eq!(short.session_secs(NOW, Some(&imp), NOW), (300, 300));
    }

    #[test]
    fn lifetimes_end_with_the_refresh_chain() {
        let l = TokenLifetimes {
            access_minutes: 15,
            refresh_minutes: 10_080,
            impersonation_max_minutes: 60,
            session_max_minutes: 720,
        };
        let signed_in = NOW - 720 * 60 + 600;
        assert_eq!(l.chain_secs_left(signed_in, NOW), 600);
        assert_eq!(
            l.session_secs(signed_in, None, NOW),
            (600, 600),
            "both end with the chain, however recent the refresh"
        );
        assert_eq!(l.session_secs(NOW, None, NOW), (900, 43_200));
        assert_eq!(l.session_secs(NOW - 50_000, None, NOW), (0, 0));
        assert!(l.chain_secs_left(NOW - 50_000, NOW) < 0);
    }
}
