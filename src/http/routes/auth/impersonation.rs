//! Impersonation (contract §4.8): an admin acts as another member of the org for at most
//! `IMPERSONATION_MAX_MINUTES`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::jwt::{Impersonation, SessionSubject};
use crate::domain::membership::{self, Gate};
use crate::domain::permissions::action;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::ApiJson;
use crate::http::guard::CurrentUser;
use crate::http::session;
use crate::http::state::AppState;
use crate::http::step_up;
use crate::services;
use crate::services::audit::{self, AuditEntry};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StartRequest {
    target_membership_id: String,
}

/// Starts impersonating the member `target_membership_id`.
#[utoipa::path(post, path = "/auth/impersonate/start", tag = "auth", request_body = StartRequest, security(("bearer" = [])),
    responses((status = 200, description = "Tokens for the target user"), (status = 403, description = "Not allowed")))]
pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: CurrentUser,
    ApiJson(body): ApiJson<StartRequest>,
) -> ApiResult<Response> {
    user.require(&state, "impersonation.perform").await?;
    let org = user.org_id.as_str();
    {
        let mut conn = state.db.acquire().await?;
        let policy = services::org_settings::auth_policy(&mut conn, org).await?;
        if !policy.allow_impersonation {
            return Err(ApiError::forbidden(
                "Impersonation is not enabled for this organization",
            ));
        }
    }
    step_up::require(
        &state,
        &user,
        &headers,
        action::USER_IMPERSONATE,
        step_up::When::OrgPolicy,
    )
    .await?;
    if user.is_impersonating() {
        return Err(ApiError::bad_request(
            "Cannot start impersonation while already impersonating",
        ));
    }
    let not_found = || ApiError::not_found("Target user not found");
    let membership_id =
        Uuid::parse_str(body.target_membership_id.trim()).map_err(|_| not_found())?;

    let mut tx = state.db.begin().await?;
    let target = services::users::impersonation_target(&mut tx, org, membership_id)
        .await?
        .ok_or_else(not_found)?;
    if !membership::allows(
        Gate::Strict,
        &target.employment_status,
        &target.platform_status,
        &target.invitation_status,
    ) {
        return Err(ApiError::bad_request(
            "Target user membership is not active",
        ));
    }
    if !target.is_active {
        return Err(ApiError::not_found("Target user not found or inactive"));
    }
    if target.user_id == user.user_id {
        return Err(ApiError::bad_request("Cannot impersonate yourself"));
    }
    if target.is_superuser {
        return Err(ApiError::forbidden("Cannot impersonate a superuser"));
    }
    if !target.identity_active {
        return Err(ApiError::bad_request("Target user identity is inactive"));
    }
    let target_name = services::users::display_name(&mut tx, org, target.user_id).await?;
    let admin_name = services::users::display_name(&mut tx, org, user.user_id).await?;
    let target_full_name = services::users::full_name(&mut tx, org, target.user_id).await?;
    audit::record(
        &mut tx,
        AuditEntry {
            org_id: org,
            actor_id: Some(user.user_id),
            impersonator_id: None,
            action: "impersonation.start",
            resource_type: "user",
            resource_id: target.user_id.to_string(),
            old_value: None,
            new_value: Some(
                json!({"impersonator_email": user.email, "target_email": target.email}),
            ),
        },
    )
    .await?;
    let admin_tv = services::identities::token_version(&mut tx, user.identity_id).await?;
    tx.commit().await?;

    let issued = session::issue(
        &state,
        &SessionSubject {
            user_id: target.user_id,
            org: org.to_owned(),
            identity_id: user.identity_id,
            superuser: target.is_superuser,
            mfa: true,
            token_version: i64::from(admin_tv),
            mfa_method: None,
            impersonation: Some(Impersonation {
                admin_user_id: user.user_id,
                admin_identity_id: user.identity_id,
                started: OffsetDateTime::now_utc().unix_timestamp(),
            }),
            // The admin's own session lifetime still bounds what is done in its name.
            auth_time: user
                .claims
                .chain_start(OffsetDateTime::now_utc().unix_timestamp()),
        },
    )?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(issued.access_token));
    body.insert("token_type".into(), json!("bearer"));
    body.insert("refresh_token".into(), json!(issued.refresh_token));
    body.insert("csrf_token".into(), json!(issued.csrf_token));
    body.insert(
        "target_user".into(),
        json!({
            "id": target.user_id,
            "org_id": org,
            "email": target.email,
            "is_active": target.is_active,
            "is_superuser": target.is_superuser,
            "mfa_enabled": target.mfa_enabled,
            "full_name": target_name.clone().or(target_full_name).unwrap_or_else(|| "Impersonated User".into()),
            "last_active_at": null,
            "created_at": null,
        }),
    );
    body.insert("impersonator_user_id".into(), json!(user.user_id));
    body.insert(
        "impersonator_name".into(),
        json!(admin_name.unwrap_or_else(|| "Administrator".into())),
    );
    Ok((issued.headers.clone(), Envelope(Value::Object(body))).into_response())
}

/// Ends impersonation and returns the admin's own session.
#[utoipa::path(post, path = "/auth/impersonate/stop", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The admin's tokens"), (status = 400, description = "Not impersonating")))]
pub async fn stop(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Response> {
    let Some(admin_user_id) = user.impersonator_id() else {
        return Err(ApiError::bad_request("Not currently impersonating"));
    };
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let admin = services::users::find(&mut tx, admin_user_id)
        .await?
        .filter(|a| a.is_active)
        .ok_or_else(|| ApiError::unauthorized("Impersonator user not found or inactive"))?;
    let identity = services::identities::find_by_id(&mut tx, admin.identity_id)
        .await?
        .filter(|i| i.is_active)
        .ok_or_else(|| ApiError::unauthorized("Impersonator identity inactive"))?;
    audit::record(
        &mut tx,
        AuditEntry {
            org_id: org,
            actor_id: Some(admin_user_id),
            impersonator_id: None,
            action: "impersonation.stop",
            resource_type: "user",
            resource_id: user.user_id.to_string(),
            old_value: None,
            new_value: Some(json!({"impersonator_email": admin.email, "target_email": user.email})),
        },
    )
    .await?;
    tx.commit().await?;
    let issued = session::issue(
        &state,
        &SessionSubject {
            user_id: admin_user_id,
            org: org.to_owned(),
            identity_id: identity.id,
            superuser: admin.is_superuser,
            mfa: true,
            token_version: i64::from(identity.token_version),
            mfa_method: None,
            impersonation: None,
            // Back to the admin's own session, which began at the admin's sign-in.
            auth_time: user
                .claims
                .chain_start(OffsetDateTime::now_utc().unix_timestamp()),
        },
    )?;
    Ok((
        issued.headers.clone(),
        Envelope(Value::Object(session::pair_body(&issued))),
    )
        .into_response())
}
