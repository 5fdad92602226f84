//! MFA: challenge verification at login, enrolment at login and after login, recovery codes
//! and self-service reset (contract §4.6).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{CodeType, client_ip, limits};
use crate::auth::jwt::{MfaMethod, SessionSubject, TokenType};
use crate::auth::{recovery, totp};
use crate::domain::membership::Gate;
use crate::domain::permissions::action;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::guard::{CurrentUser, IdentityAuth};
use crate::http::session;
use crate::http::state::AppState;
use crate::http::step_up;
use crate::http::token;
use crate::services;
use crate::services::identities::Identity;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct VerifyRequest {
    challenge_token: String,
    code: String,
    #[serde(default)]
    code_type: CodeType,
    #[serde(default)]
    remember_device: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrollStartRequest {
    setup_token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrollVerifyRequest {
    setup_token: String,
    code: String,
    #[serde(default)]
    remember_device: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SetupVerifyRequest {
    code: String,
    #[serde(default)]
    remember_device: bool,
}

/// The decrypted TOTP secret of an identity, if it has one that decrypts.
fn totp_secret(state: &AppState, identity: &Identity) -> Option<String> {
    let stored = identity.mfa_secret_encrypted.as_deref()?;
    match state.auth.crypto.decrypt_str(stored) {
        Ok(secret) => Some(secret),
        Err(e) => {
            tracing::error!(error = %e, "stored MFA secret does not decrypt (SECRET_KEY or FERNET_KDF_SALT changed?)");
            None
        }
    }
}

/// An enrolment code: locked identities get 429, a wrong or replayed code 401 "Invalid MFA
/// code" counted against the identity, a good one clears the count.
async fn check_code(
    state: &AppState,
    identity_id: Uuid,
    secret: &str,
    code: &str,
) -> Result<(), ApiError> {
    limits::check_mfa_unlocked(&state.cache, identity_id).await?;
    if !limits::accept_totp(&state.cache, identity_id, secret, code).await? {
        let refusal = ApiError::unauthorized("Invalid MFA code");
        let lockout = state.settings.login_lockout_minutes;
        return Err(limits::record_mfa_failure(&state.cache, identity_id, lockout, refusal).await);
    }
    limits::clear_mfa_failures(&state.cache, identity_id).await
}

/// The identity's user in the token's org, under the pending-allowed gate.
async fn org_user(
    conn: &mut sqlx::PgConnection,
    org_id: &str,
    identity_id: Uuid,
) -> Result<services::users::OrgUser, ApiError> {
    let user = services::users::in_org_for_identity(conn, org_id, identity_id)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| ApiError::unauthorized("User not available"))?;
    if !user.is_superuser && user.membership(Gate::PendingAllowed).is_err() {
        return Err(ApiError::forbidden("Membership is not active"));
    }
    Ok(user)
}

/// Stores a remembered device when asked and allowed; returns the raw token for the client.
async fn maybe_remember(
    conn: &mut sqlx::PgConnection,
    headers: &HeaderMap,
    ip: Option<String>,
    org_id: &str,
    user_id: Uuid,
    wanted: bool,
    days: i32,
) -> Result<Option<String>, ApiError> {
    if !wanted || days <= 0 {
        return Ok(None);
    }
    let token = recovery::generate_remember_device_token();
    let ua = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    services::mfa::remember_device(
        conn,
        org_id,
        user_id,
        &recovery::hash_remember_device_token(&token),
        ua,
        ip.as_deref(),
        days,
    )
    .await?;
    Ok(Some(token))
}

/// Generates and stores ten new recovery codes; returns them for display (shown once).
async fn new_recovery_codes(
    conn: &mut sqlx::PgConnection,
    identity_id: Uuid,
) -> Result<Vec<String>, ApiError> {
    let codes = recovery::generate_recovery_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| recovery::hash_recovery_code(c))
        .collect();
    services::mfa::replace_recovery_codes(conn, identity_id, &hashes).await?;
    Ok(codes)
}

fn mfa_tokens_body(
    issued: &session::IssuedSession,
    remember: Option<String>,
    codes: Option<Vec<String>>,
) -> Value {
    let mut body: Map<String, Value> = session::pair_body(issued);
    body.insert("remember_device_token".into(), json!(remember));
    body.insert("recovery_codes".into(), json!(codes));
    Value::Object(body)
}

/// Answers the login MFA challenge with a TOTP or a recovery code.
#[utoipa::path(post, path = "/auth/mfa/verify", tag = "auth", request_body = VerifyRequest, security(("bearer" = [])),
    responses((status = 200, description = "Tokens"), (status = 401, description = "Invalid code"), (status = 429, description = "Too many attempts")))]
pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    auth: IdentityAuth,
    ApiJson(body): ApiJson<VerifyRequest>,
) -> ApiResult<Response> {
    limits::check_mfa_attempt(&state.cache, &body.challenge_token).await?;
    let challenge = token::decode(&state, &body.challenge_token)
        .ok()
        .filter(|c| c.is(TokenType::MfaChallenge))
        .ok_or_else(|| ApiError::bad_request("Invalid or expired MFA token"))?;
    if challenge.sub_uuid() != Some(auth.identity.id) {
        return Err(ApiError::forbidden("Challenge does not match identity"));
    }
    let org_id = challenge
        .org
        .clone()
        .ok_or_else(|| ApiError::bad_request("Invalid or expired MFA token"))?;
    let identity = auth.identity;

    let mut tx = state.db.begin().await?;
    let user = org_user(&mut tx, &org_id, identity.id).await?;
    if !identity.mfa_enabled {
        return Err(ApiError::unauthorized("MFA not available"));
    }
    limits::check_mfa_unlocked(&state.cache, identity.id).await?;
    let lockout = state.settings.login_lockout_minutes;
    match body.code_type {
        CodeType::Recovery => {
            let hash = recovery::hash_recovery_code(&body.code);
            if !services::mfa::consume_recovery_code(&mut tx, identity.id, &hash).await? {
                let refusal = ApiError::unauthorized("Invalid recovery code");
                return Err(limits::record_mfa_failure(
                    &state.cache,
                    identity.id,
                    lockout,
                    refusal,
                )
                .await);
            }
        }
        CodeType::Totp => {
            let secret = totp_secret(&state, &identity)
                .ok_or_else(|| ApiError::bad_request("MFA secret missing"))?;
            if !limits::accept_totp(&state.cache, identity.id, &secret, &body.code).await? {
                let refusal = ApiError::unauthorized("Invalid MFA code");
                return Err(limits::record_mfa_failure(
                    &state.cache,
                    identity.id,
                    lockout,
                    refusal,
                )
                .await);
            }
        }
    }
    limits::clear_mfa_failures(&state.cache, identity.id).await?;
    let policy = services::org_settings::auth_policy(&mut tx, &org_id).await?;
    let remember = maybe_remember(
        &mut tx,
        &headers,
        client_ip(&ext),
        &org_id,
        user.user_id,
        body.remember_device,
        policy.remember_device_days,
    )
    .await?;
    services::identities::touch_last_active(&mut tx, identity.id).await?;
    tx.commit().await?;

    let issued = session::issue(
        &state,
        &SessionSubject {
            user_id: user.user_id,
            org: org_id,
            identity_id: identity.id,
            superuser: user.is_superuser,
            mfa: true,
            token_version: i64::from(identity.token_version),
            mfa_method: Some(body.code_type.mfa_method()),
            impersonation: None,
            auth_time: OffsetDateTime::now_utc().unix_timestamp(),
        },
    )?;
    let body = mfa_tokens_body(&issued, remember, None);
    Ok((issued.headers, Envelope(body)).into_response())
}

fn decode_setup(state: &AppState, raw: &str, identity_id: Uuid) -> Result<String, ApiError> {
    let setup = token::decode(state, raw)
        .ok()
        .filter(|c| c.is(TokenType::MfaSetup))
        .ok_or_else(|| ApiError::bad_request("Invalid or expired setup token"))?;
    if setup.sub_uuid() != Some(identity_id) {
        return Err(ApiError::forbidden("Setup token does not match identity"));
    }
    setup
        .org
        .ok_or_else(|| ApiError::bad_request("Invalid or expired setup token"))
}

/// Stores a new (still inactive) TOTP secret and returns its otpauth URL.
async fn start_enrolment(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    identity: &Identity,
    org_id: &str,
) -> Result<(String, String), ApiError> {
    let org = services::orgs::find(conn, org_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Org not found: {org_id}")))?;
    let secret = totp::generate_secret();
    let encrypted = state.auth.crypto.encrypt_str(&secret);
    services::identities::start_mfa(conn, identity.id, &encrypted).await?;
    // The replay memory belongs to the old secret; the new one starts afresh.
    limits::forget_totp_step(&state.cache, identity.id).await?;
    Ok((
        totp::provisioning_uri(&secret, &identity.email, &org.name),
        org.name,
    ))
}

/// Enrolment during login: starts TOTP setup for the setup token's identity.
#[utoipa::path(post, path = "/auth/mfa/enroll/start", tag = "auth", request_body = EnrollStartRequest, security(("bearer" = [])),
    responses((status = 200, description = "otpauth URL")))]
pub async fn enroll_start(
    State(state): State<AppState>,
    auth: IdentityAuth,
    ApiJson(body): ApiJson<EnrollStartRequest>,
) -> ApiResult<Envelope<Value>> {
    let org_id = decode_setup(&state, &body.setup_token, auth.identity.id)?;
    if auth.identity.mfa_enabled {
        return Err(ApiError::bad_request("MFA already enabled"));
    }
    let mut tx = state.db.begin().await?;
    let (url, issuer) = start_enrolment(&state, &mut tx, &auth.identity, &org_id).await?;
    let policy = services::org_settings::auth_policy(&mut tx, &org_id).await?;
    tx.commit().await?;
    Ok(Envelope(json!({
        "otpauth_url": url,
        "issuer": issuer,
        "account": auth.identity.email,
        "remember_device_days": policy.remember_device_days,
    })))
}

/// Enrolment during login: confirms the first code, enables MFA, returns ten recovery codes
/// and a session.
#[utoipa::path(post, path = "/auth/mfa/enroll/verify", tag = "auth", request_body = EnrollVerifyRequest, security(("bearer" = [])),
    responses((status = 200, description = "Tokens and recovery codes")))]
pub async fn enroll_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    auth: IdentityAuth,
    ApiJson(body): ApiJson<EnrollVerifyRequest>,
) -> ApiResult<Response> {
    limits::check_mfa_attempt(&state.cache, &body.setup_token).await?;
    let org_id = decode_setup(&state, &body.setup_token, auth.identity.id)?;
    let identity = auth.identity;
    let secret = totp_secret(&state, &identity)
        .ok_or_else(|| ApiError::bad_request("MFA not initialized"))?;
    check_code(&state, identity.id, &secret, &body.code).await?;
    let mut tx = state.db.begin().await?;
    let user = org_user(&mut tx, &org_id, identity.id).await?;
    services::identities::enable_mfa(&mut tx, identity.id).await?;
    let codes = new_recovery_codes(&mut tx, identity.id).await?;
    let policy = services::org_settings::auth_policy(&mut tx, &org_id).await?;
    let remember = maybe_remember(
        &mut tx,
        &headers,
        client_ip(&ext),
        &org_id,
        user.user_id,
        body.remember_device,
        policy.remember_device_days,
    )
    .await?;
    // DESIGN.md §4: enrolling is a login like any other and counts as activity.
    services::identities::touch_last_active(&mut tx, identity.id).await?;
    tx.commit().await?;
    crate::http::guard::identity_changed(&state, identity.id).await;

    let issued = session::issue(
        &state,
        &SessionSubject {
            user_id: user.user_id,
            org: org_id,
            identity_id: identity.id,
            superuser: user.is_superuser,
            mfa: true,
            token_version: i64::from(identity.token_version),
            mfa_method: Some(MfaMethod::Totp),
            impersonation: None,
            auth_time: OffsetDateTime::now_utc().unix_timestamp(),
        },
    )?;
    let body = mfa_tokens_body(&issued, remember, Some(codes));
    Ok((issued.headers, Envelope(body)).into_response())
}

fn refuse_during_impersonation(user: &CurrentUser) -> Result<(), ApiError> {
    if user.is_impersonating() {
        return Err(ApiError::forbidden(
            "Cannot modify MFA settings during impersonation",
        ));
    }
    Ok(())
}

async fn load_identity(state: &AppState, id: Uuid) -> Result<Identity, ApiError> {
    let mut conn = state.db.acquire().await?;
    services::identities::find_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("Identity inactive"))
}

/// Post-login enrolment (from the profile page).
#[utoipa::path(post, path = "/auth/mfa/setup/start", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "otpauth URL")))]
pub async fn setup_start(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Envelope<Value>> {
    refuse_during_impersonation(&user)?;
    let identity = load_identity(&state, user.identity_id).await?;
    if identity.mfa_enabled {
        return Err(ApiError::bad_request("MFA already enabled"));
    }
    let mut tx = state.db.begin().await?;
    let (url, issuer) = start_enrolment(&state, &mut tx, &identity, user.org_id.as_str()).await?;
    tx.commit().await?;
    Ok(Envelope(json!({
        "otpauth_url": url,
        "issuer": issuer,
        "account": identity.email,
        "remember_device_days": null,
    })))
}

/// Post-login enrolment: confirms the code, enables MFA and returns a new session.
#[utoipa::path(post, path = "/auth/mfa/setup/verify", tag = "auth", request_body = SetupVerifyRequest, security(("bearer" = [])),
    responses((status = 200, description = "Tokens and recovery codes")))]
pub async fn setup_verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: axum::http::Extensions,
    user: CurrentUser,
    ApiJson(body): ApiJson<SetupVerifyRequest>,
) -> ApiResult<Response> {
    refuse_during_impersonation(&user)?;
    let identity = load_identity(&state, user.identity_id).await?;
    let secret = totp_secret(&state, &identity)
        .ok_or_else(|| ApiError::bad_request("MFA not initialized"))?;
    check_code(&state, identity.id, &secret, &body.code).await?;
    let mut tx = state.db.begin().await?;
    services::identities::enable_mfa(&mut tx, identity.id).await?;
    let codes = new_recovery_codes(&mut tx, identity.id).await?;
    let policy = services::org_settings::auth_policy(&mut tx, user.org_id.as_str()).await?;
    tx.commit().await?;
    crate::http::guard::identity_changed(&state, identity.id).await;
    // Legacy order: MFA is already on when this refusal comes.
    if body.remember_device && policy.remember_device_days <= 0 {
        return Err(ApiError::bad_request("Remember device is disabled"));
    }
    let mut tx = state.db.begin().await?;
    let remember = maybe_remember(
        &mut tx,
        &headers,
        client_ip(&ext),
        user.org_id.as_str(),
        user.user_id,
        body.remember_device,
        policy.remember_device_days,
    )
    .await?;
    tx.commit().await?;
    let issued = session::issue(
        &state,
        &SessionSubject {
            user_id: user.user_id,
            org: user.org_id.as_str().to_owned(),
            identity_id: identity.id,
            superuser: user.is_superuser,
            mfa: true,
            token_version: i64::from(identity.token_version),
            mfa_method: Some(MfaMethod::Totp),
            impersonation: None,
            // Enrolling from a session continues it.
            auth_time: user
                .claims
                .chain_start(OffsetDateTime::now_utc().unix_timestamp()),
        },
    )?;
    let body = mfa_tokens_body(&issued, remember, Some(codes));
    Ok((issued.headers, Envelope(body)).into_response())
}

/// How many unused recovery codes are left.
#[utoipa::path(get, path = "/auth/mfa/recovery-codes/count", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Remaining codes"), (status = 400, description = "MFA not enabled")))]
pub async fn recovery_count(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Envelope<Value>> {
    let identity = load_identity(&state, user.identity_id).await?;
    if !identity.mfa_enabled {
        return Err(ApiError::bad_request("MFA not enabled"));
    }
    let mut conn = state.db.acquire().await?;
    let remaining = services::mfa::remaining_recovery_codes(&mut conn, identity.id).await?;
    Ok(Envelope(json!({"remaining_count": remaining})))
}

/// The checks before the caller changes their own MFA, in the legacy order: not while
/// impersonating, MFA enabled, then a step-up for `step_up_action` every time.
async fn own_mfa_change(
    state: &AppState,
    headers: &HeaderMap,
    user: &CurrentUser,
    step_up_action: &str,
) -> ApiResult<Identity> {
    refuse_during_impersonation(user)?;
    let identity = load_identity(state, user.identity_id).await?;
    if !identity.mfa_enabled {
        return Err(ApiError::bad_request("MFA not enabled"));
    }
    step_up::require(state, user, headers, step_up_action, step_up::When::Always).await?;
    Ok(identity)
}

/// Replaces every recovery code; always requires step-up.
#[utoipa::path(post, path = "/auth/mfa/recovery-codes/regenerate", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Ten new codes"), (status = 403, description = "Step-up required")))]
pub async fn recovery_regenerate(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
) -> ApiResult<Envelope<Value>> {
    let identity =
        own_mfa_change(&state, &headers, &user, action::RECOVERY_CODES_REGENERATE).await?;
    let mut tx = state.db.begin().await?;
    let codes = new_recovery_codes(&mut tx, identity.id).await?;
    tx.commit().await?;
    Ok(Envelope(json!({"recovery_codes": codes})))
}

/// Turns the caller's own MFA off; always requires step-up. Sessions stay valid.
#[utoipa::path(post, path = "/auth/mfa/reset", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "MFA reset"), (status = 403, description = "Step-up required")))]
pub async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
) -> ApiResult<Envelope<Value>> {
    let identity = own_mfa_change(&state, &headers, &user, action::SELF_MFA_RESET).await?;
    let mut tx = state.db.begin().await?;
    services::identities::reset_mfa(
        &mut tx,
        identity.id,
        Some((user.org_id.as_str(), user.user_id)),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::identity_changed(&state, identity.id).await;
    Ok(Envelope(
        json!({"message": "MFA has been reset. Please set up MFA again."}),
    ))
}
