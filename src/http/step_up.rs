//! The step-up guard (contract §4.7): an action the org lists needs a fresh second factor,
//! presented as `X-Step-Up-Token`; without one the route answers 403 `step_up_mfa_required`
//! with a challenge for `POST /auth/step-up/verify`.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::auth::jwt::{StepUpClaims, TokenType};
use crate::domain::permissions::{MfaAction, StepUpAction};
use crate::http::error::ApiError;
use crate::http::guard::{CurrentUser, GuardMode, OrgMember};
use crate::http::session;
use crate::http::state::AppState;
use crate::http::token;
use crate::services;

/// When an action needs step-up (the rule lives with the actions, in `domain::permissions`).
pub use crate::domain::permissions::StepUpWhen as When;

/// Passes when `X-Step-Up-Token` carries a valid step-up for `A` (or the org does not require
/// one); otherwise 403 `step_up_mfa_required` with a challenge. Declare it right after the
/// `Can<…>` that guards the route, so the legacy order (guard, permission, step-up, then path
/// and body) holds:
///
/// ```ignore
/// pub async fn put_settings(
///     State(state): State<AppState>,
///     user: Can<perm::OrgSettingsManage>,
///     _: StepUp<step::OrgSettingsChange>,
///     ApiJson(req): ApiJson<…>,
/// )
/// ```
/// The guard mode `M` must match the `Can<…>`'s (the user is then reused, not reloaded). When a
/// handler must refuse something before step-up, call [`require_action`] in the body instead.
pub struct StepUp<A: StepUpAction, M: GuardMode = OrgMember>(PhantomData<(A, M)>);

impl<A: StepUpAction, M: GuardMode> FromRequestParts<AppState> for StepUp<A, M> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::<M>::from_request_parts(parts, state).await?;
        require_action(state, &user, &parts.headers, A::ACTION).await?;
        Ok(Self(PhantomData))
    }
}

/// The typed form of [`require`]: the action's own [`When`] rule applies.
pub async fn require_action<M: GuardMode>(
    state: &AppState,
    user: &CurrentUser<M>,
    headers: &HeaderMap,
    action: MfaAction,
) -> Result<(), ApiError> {
    require(state, user, headers, action.code(), action.when()).await
}

/// Passes when step-up is not needed or `X-Step-Up-Token` is a valid step-up token for this
/// user, org and action; otherwise answers 403 `step_up_mfa_required` with a fresh challenge.
/// Step-up tokens are reusable for their five minutes, as in the legacy service.
pub async fn require<M: GuardMode>(
    state: &AppState,
    user: &CurrentUser<M>,
    headers: &HeaderMap,
    action: &str,
    when: When,
) -> Result<(), ApiError> {
    if when != When::Always {
        let mut conn = state.db.acquire().await?;
        let policy = services::org_settings::auth_policy(&mut conn, user.org_id.as_str()).await?;
        let needed = match when {
            When::OrgPolicy => policy.require_two_factor && policy.requires_action(action),
            When::Listed => policy.requires_action(action),
            When::Always => true,
        };
        if !needed {
            return Ok(());
        }
    }
    let presented = headers
        .get("x-step-up-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if let Some(raw) = presented
        && let Ok(claims) = token::decode(state, raw)
        && claims.is(TokenType::StepUp)
        && claims.sub_uuid() == Some(user.user_id)
        && claims.org.as_deref() == Some(user.org_id.as_str())
        && claims.action.as_deref() == Some(action)
    {
        return Ok(());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let challenge = session::sign(
        state,
        &StepUpClaims::challenge(user.user_id, user.org_id.as_str(), action, now),
    )?;
    Err(ApiError::coded(
        StatusCode::FORBIDDEN,
        "step_up_mfa_required",
        "Step-up MFA verification required",
        json!({"step_up_required": true, "challenge_token": challenge, "action": action}),
    ))
}
