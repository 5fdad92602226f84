//! `POST /auth/login`, `GET /auth/orgs`, `POST /auth/select-org`.

use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::limits;
use crate::auth::jwt::{MfaClaims, MfaMethod, PreOrgClaims, SessionSubject};
use crate::auth::password::check_input_limits;
use crate::auth::recovery::hash_remember_device_token;
use crate::domain::email;
use crate::domain::membership::Gate;
use crate::domain::org::OrgId;
use crate::domain::permissions;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult, FieldError};
use crate::http::extract::ApiJson;
use crate::http::guard::IdentityAuth;
use crate::http::middleware::ClientIp;
use crate::http::session;
use crate::http::state::AppState;
use crate::services;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    #[schema(format = Email)]
    email: String,
    password: String,
}

/// Step 1 of the identity-first login: e-mail and password give a 5-minute pre-org token.
///
/// Unknown e-mail, wrong password, inactive identity and a locked account answer alike, and
/// an unknown e-mail still costs one password verification, so neither the answer nor its
/// timing tells whether the account exists.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, description = "Pre-org token"), (status = 401, description = "Invalid credentials"),
              (status = 429, description = "Rate limited or locked"), (status = 503, description = "Rate-limit store down")))]
pub async fn login(
    State(state): State<AppState>,
    client_ip: Option<Extension<ClientIp>>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<Response> {
    let email = email::normalize(&body.email).map_err(|reason| {
        ApiError::validation(vec![
            FieldError::body(
                &["email"],
                "value_error",
                email::error_message(reason),
                json!(body.email),
            )
            .with_ctx(json!({"reason": reason})),
        ])
    })?;
    let settings = &state.settings;
    let cache = &state.cache;
    let ip = client_ip.map(|Extension(ip)| ip.0.to_string());
    limits::check_login_rate(cache, ip.as_deref(), &email, settings.rate_limit_per_minute).await?;
    limits::check_not_locked(cache, &email).await?;

    let identity = {
        let mut conn = state.db.acquire().await?;
        services::identities::find_by_email(&mut conn, &email).await?
    };
    // Over-long passwords are refused before any hashing, with the same answer as a wrong one.
    let verified = if check_input_limits(&body.password).is_err() {
        false
    } else {
        match &identity {
            Some(identity) => {
                state
                    .auth
                    .passwords
                    .verify_async(&body.password, &identity.hashed_password)
                    .await
            }
            None => {
                state
                    .auth
                    .passwords
                    .verify_dummy_async(&body.password)
                    .await
            }
        }
    };
    let identity = match identity {
        Some(identity) if verified && identity.is_active => identity,
        _ => {
            return Err(limits::record_failure(
                cache,
                &email,
                settings.login_attempt_limit,
                settings.login_lockout_minutes,
            )
            .await);
        }
    };
    limits::clear_failures(cache, &email).await?;

    let now = OffsetDateTime::now_utc().unix_timestamp();
    let pre_org_token = session::sign(&state, &PreOrgClaims::new(identity.id, now))?;
    Ok(Envelope(json!({"pre_org_token": pre_org_token, "must_change_password": identity.must_change_password}))
        .into_response())
}

/// Step 2: the orgs the identity can enter.
#[utoipa::path(get, path = "/auth/orgs", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Orgs of the identity"), (status = 401, description = "Missing or bad token")))]
pub async fn orgs(State(state): State<AppState>, auth: IdentityAuth) -> ApiResult<Envelope<Value>> {
    let mut conn = state.db.acquire().await?;
    let orgs = services::identities::orgs_for_identity(&mut conn, auth.identity.id).await?;
    let auto_selected = orgs.len() == 1;
    Ok(Envelope(
        json!({"orgs": orgs, "auto_selected": auto_selected}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SelectOrgRequest {
    org_id: String,
    #[serde(default)]
    remember_device_token: Option<String>,
}

fn select_body(
    tokens: Option<&session::IssuedSession>,
    mfa_required: bool,
    mfa_setup_required: bool,
    challenge_token: Option<String>,
    setup_token: Option<String>,
    remember_device_days: i32,
) -> Value {
    json!({
        "access_token": tokens.map(|t| t.access_token.clone()),
        "refresh_token": tokens.map(|t| t.refresh_token.clone()),
        "token_type": "bearer",
        "csrf_token": tokens.and_then(|t| t.csrf_token.clone()),
        "mfa_required": mfa_required,
        "mfa_setup_required": mfa_setup_required,
        "challenge_token": challenge_token,
        "setup_token": setup_token,
        "remember_device_days": remember_device_days,
    })
}

/// Step 3: enter an org. Issues tokens, or asks for an MFA challenge or MFA enrolment.
#[utoipa::path(post, path = "/auth/select-org", tag = "auth", request_body = SelectOrgRequest, security(("bearer" = [])),
    responses((status = 200, description = "Tokens, or the MFA step to take"), (status = 403, description = "Membership is not active")))]
pub async fn select_org(
    State(state): State<AppState>,
    client_ip: Option<Extension<ClientIp>>,
    auth: IdentityAuth,
    ApiJson(body): ApiJson<SelectOrgRequest>,
) -> ApiResult<Response> {
    let per_minute = state.settings.rate_limit_per_minute;
    if let Some(Extension(ip)) = &client_ip {
        let ip = ip.0.to_string();
        let subject = limits::TokenRateSubject::Ip(&ip);
        limits::check_token_rate(&state.cache, subject, per_minute).await?;
    }
    let subject = limits::TokenRateSubject::Identity(auth.identity.id);
    limits::check_token_rate(&state.cache, subject, per_minute).await?;
    let org_id = OrgId::parse(&body.org_id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let identity = auth.identity;
    let mut conn = state.db.acquire().await?;
    let user = services::users::in_org_for_identity(&mut conn, org_id.as_str(), identity.id)
        .await?
        .filter(|u| u.is_active)
        .ok_or_else(|| ApiError::unauthorized("User not available"))?;
    if !user.is_superuser && user.membership(Gate::PendingAllowed).is_err() {
        return Err(ApiError::forbidden("Membership is not active"));
    }
    let policy = services::org_settings::auth_policy(&mut conn, org_id.as_str()).await?;
    let perms = services::permissions::effective(&mut conn, org_id.as_str(), user.user_id).await?;
    let has_sensitive = user.is_superuser || perms.iter().any(|p| permissions::is_sensitive(p));
    let days = policy.remember_device_days;

    if (policy.require_two_factor || has_sensitive) && !identity.mfa_enabled {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let setup = session::sign(&state, &MfaClaims::setup(identity.id, org_id.as_str(), now))?;
        return Ok(
            Envelope(select_body(None, false, true, None, Some(setup), days)).into_response(),
        );
    }

    services::identities::touch_last_active(&mut conn, identity.id).await?;
    let mfa_required = policy.require_two_factor || identity.mfa_enabled || has_sensitive;
    let mut subject = SessionSubject {
        user_id: user.user_id,
        org: org_id.as_str().to_owned(),
        identity_id: identity.id,
        superuser: user.is_superuser,
        mfa: false,
        token_version: i64::from(identity.token_version),
        mfa_method: None,
        impersonation: None,
        auth_time: OffsetDateTime::now_utc().unix_timestamp(),
    };
    if mfa_required {
        let remembered = match body
            .remember_device_token
            .as_deref()
            .filter(|t| !t.is_empty())
        {
            Some(token) if !policy.forces_login_mfa() && days > 0 => {
                services::mfa::use_remembered_device(
                    &mut conn,
                    org_id.as_str(),
                    user.user_id,
                    &hash_remember_device_token(token),
                )
                .await?
            }
            _ => false,
        };
        if !remembered {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let challenge = session::sign(
                &state,
                &MfaClaims::challenge(identity.id, org_id.as_str(), now),
            )?;
            return Ok(
                Envelope(select_body(None, true, false, Some(challenge), None, days))
                    .into_response(),
            );
        }
        subject.mfa = true;
        subject.mfa_method = Some(MfaMethod::RememberDevice);
    }
    drop(conn);
    let issued = session::issue(&state, &subject)?;
    let body = select_body(Some(&issued), false, false, None, None, days);
    Ok((issued.headers, Envelope(body)).into_response())
}
