//! `POST /auth/step-up/verify` (contract §4.7): answers the challenge the step-up guard
//! (`http/step_up.rs`) issued.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CodeType, limits};
use crate::auth::jwt::{STEP_UP_TTL_SECS, StepUpClaims, TokenType};
use crate::auth::recovery;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::guard::{CurrentUser, OrgMember};
use crate::http::session;
use crate::http::state::AppState;
use crate::http::token;
use crate::services;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StepUpRequest {
    challenge_token: String,
    code: String,
    #[serde(default)]
    code_type: CodeType,
}

/// Answers a step-up challenge; the returned token is replayed as `X-Step-Up-Token`.
#[utoipa::path(post, path = "/auth/step-up/verify", tag = "auth", request_body = StepUpRequest, security(("bearer" = [])),
    responses((status = 200, description = "Step-up token"), (status = 401, description = "Invalid code"), (status = 429, description = "Too many attempts")))]
pub async fn verify(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
    ApiJson(body): ApiJson<StepUpRequest>,
) -> ApiResult<Envelope<Value>> {
    limits::check_mfa_attempt(&state.cache, &body.challenge_token).await?;
    let challenge = token::decode(&state, &body.challenge_token)
        .ok()
        .filter(|c| c.is(TokenType::StepUpChallenge))
        .ok_or_else(|| ApiError::bad_request("Invalid or expired challenge token"))?;
    if challenge.sub_uuid() != Some(user.user_id) {
        return Err(ApiError::forbidden(
            "Challenge token does not match current user",
        ));
    }
    if challenge.org.as_deref() != Some(user.org_id.as_str()) {
        return Err(ApiError::forbidden(
            "Challenge token does not match current org",
        ));
    }
    let action = challenge.action.clone().unwrap_or_default();
    let mut tx = state.db.begin().await?;
    let identity = services::identities::find_by_id(&mut tx, user.identity_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("Identity inactive"))?;
    if !identity.mfa_enabled {
        return Err(ApiError::bad_request("MFA is not enabled for this user"));
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
            let secret = identity
                .mfa_secret_encrypted
                .as_deref()
                .and_then(|s: &str| state.auth.crypto.decrypt_str(s).ok());
            let valid = match secret {
                Some(secret) => {
                    limits::accept_totp(&state.cache, identity.id, &secret, &body.code).await?
                }
                None => false,
            };
            if !valid {
                let refusal = ApiError::unauthorized("Invalid TOTP code");
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
    tx.commit().await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let grant = StepUpClaims::grant(user.user_id, user.org_id.as_str(), &action, now);
    let step_up = session::sign(&state, &grant)?;
    Ok(Envelope(
        json!({"step_up_token": step_up, "action": action, "expires_in_seconds": STEP_UP_TTL_SECS}),
    ))
}
