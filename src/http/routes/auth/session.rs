//! Sessions: refresh (rotation with replay detection), CSRF renewal, logout, `/auth/me` and
//! password change (contract §4.2, §4.4).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::limits::{self, TokenRateSubject};
use crate::auth::jwt::{
    Impersonation, MfaMethod, SessionSubject, TokenLifetimes, TokenType, TokenView,
};
use crate::auth::password::check_input_limits;
use crate::auth::policy::PasswordPolicy;
use crate::auth::recovery::generate_csrf_token;
use crate::domain::membership::{Gate, Refusal};
use crate::domain::permissions;
use crate::guard_cache::View;
use crate::http::envelope::{Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::parse_json_body;
use crate::http::guard::{self, CurrentUser, PasswordChange};
use crate::http::session;
use crate::http::state::AppState;
use crate::http::tenant::Tenant;
use crate::http::token;
use crate::services;
use crate::services::sessions::RotateError;
use crate::timefmt;

/// Optional: without it the refresh cookie and `X-CSRF-Token` are used.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct RefreshBody {
    #[serde(default)]
    refresh_token: Option<String>,
}

fn unexpected_type(claims: &TokenView) -> ApiError {
    ApiError::unauthorized(format!("Unexpected token type: {}", claims.type_str()))
}

/// The user a refresh token may act as in `tenant`: its own user when the org matches (or for
/// superusers), otherwise the identity's user in the requested org when that membership is
/// active — seamless org switching (DESIGN.md §4) instead of the legacy "Token tenant mismatch".
async fn user_for_tenant(
    conn: &mut sqlx::PgConnection,
    claims: &TokenView,
    user_id: Uuid,
    tenant: &str,
) -> Result<Uuid, ApiError> {
    let token_org = claims
        .org
        .as_deref()
        .ok_or_else(|| ApiError::unauthorized("Token missing org claim"))?;
    if token_org == tenant || claims.su {
        return Ok(user_id);
    }
    let mismatch = || ApiError::unauthorized("Token tenant mismatch");
    if claims.is_impersonation() {
        return Err(mismatch());
    }
    let identity_id = match claims.iid_uuid() {
        Some(iid) => iid,
        None => services::users::identity_id(conn, user_id)
            .await?
            .ok_or_else(mismatch)?,
    };
    let other = services::users::in_org_for_identity(conn, tenant, identity_id)
        .await?
        .ok_or_else(mismatch)?;
    let active = other.is_active
        && match other.membership(Gate::PendingAllowed) {
            Ok(()) => true,
            Err(Refusal::NotMember) => other.is_superuser,
            Err(Refusal::Inactive) => false,
        };
    if !active {
        return Err(mismatch());
    }
    // The switch must not skip an MFA step select-org would demand in the target org: a
    // session without verified MFA cannot enter an org that requires two-factor or where the
    // user holds sensitive permissions (or whose identity has MFA on), and a remembered device
    // does not count where the org forces MFA at login. The client then falls back to a
    // sign-in through select-org, as with the legacy "Token tenant mismatch".
    let policy = services::org_settings::auth_policy(conn, tenant).await?;
    let perms = services::permissions::effective(conn, tenant, other.user_id).await?;
    let has_sensitive = other.is_superuser || perms.iter().any(|p| permissions::is_sensitive(p));
    let mfa_enabled = services::identities::mfa_enabled(conn, identity_id)
        .await?
        .unwrap_or(false);
    let mfa_needed = policy.require_two_factor || has_sensitive || mfa_enabled;
    let remembered_only = claims.mfa_method == Some(MfaMethod::RememberDevice);
    if mfa_needed && (!claims.mfa || (remembered_only && policy.forces_login_mfa())) {
        return Err(mismatch());
    }
    Ok(other.user_id)
}

/// Rotates the refresh token: validates it, detects replay (a second use of the same token
/// revokes every session of the identity) and issues a new pair.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body(content = Option<RefreshBody>),
    responses((status = 200, description = "New token pair"), (status = 401, description = "Invalid, revoked or replayed token"),
              (status = 400, description = "Tenant resolution failed (the refresh is bound to the org of X-Org-Id)"),
              (status = 403, description = "CSRF validation failed")))]
pub async fn refresh(
    State(state): State<AppState>,
    tenant: Tenant,
    ext: axum::http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let settings = &state.settings;
    let per_minute = settings.rate_limit_per_minute;
    if let Some(ip) = super::client_ip(&ext) {
        limits::check_token_rate(&state.cache, TokenRateSubject::Ip(&ip), per_minute).await?;
    }
    let body: RefreshBody = if body.iter().all(u8::is_ascii_whitespace) {
        RefreshBody::default()
    } else {
        parse_json_body(&body)?
    };
    let (raw, from_cookie) = match body.refresh_token.filter(|t| !t.is_empty()) {
        Some(t) => (t, false),
        None => match token::refresh_cookie(settings, &headers) {
            Some(c) => (c, true),
            None => return Err(ApiError::bad_request("Refresh token required")),
        },
    };
    if from_cookie && settings.cookies.enabled {
        let sent = headers
            .get(settings.cookies.csrf_header.as_str())
            .and_then(|v| v.to_str().ok());
        let expected = token::cookie(&headers, &settings.cookies.csrf_name);
        let ok = matches!((sent, expected.as_deref()), (Some(a), Some(b)) if crate::auth::recovery::hashes_equal(a, b));
        if !ok {
            return Err(ApiError::forbidden("CSRF validation failed"));
        }
    }
    let claims = token::decode(&state, &raw)?;
    if !claims.is(TokenType::Refresh) {
        return Err(unexpected_type(&claims));
    }
    let invalid = || ApiError::unauthorized("Invalid token");
    let token_user = claims.sub_uuid().ok_or_else(invalid)?;
    let identity = claims.iid_uuid().unwrap_or(token_user);
    limits::check_token_rate(
        &state.cache,
        TokenRateSubject::Identity(identity),
        per_minute,
    )
    .await?;
    let tv = claims.tv.ok_or_else(invalid)?;
    let jti = claims.jti.clone().ok_or_else(invalid)?;
    let exp = claims.exp.ok_or_else(invalid)?;
    // The absolute lifetime: the chain ends SESSION_MAX_MINUTES after its sign-in however
    // often it was refreshed (a legacy token's chain starts now).
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let auth_time = claims.chain_start(now);
    if TokenLifetimes::from_settings(settings).chain_secs_left(auth_time, now) <= 0 {
        return Err(ApiError::unauthorized("Session expired"));
    }

    let mut conn = state.db.acquire().await?;
    let user_id = user_for_tenant(&mut conn, &claims, token_user, tenant.org_id.as_str()).await?;
    let switched = user_id != token_user;
    let ctx = services::users::context(
        &mut conn,
        user_id,
        claims.iid_uuid(),
        tenant.org_id.as_str(),
    )
    .await?
    .filter(|c| c.user_is_active)
    .ok_or_else(|| ApiError::unauthorized("User not found"))?;
    guard::check_context(&state, &ctx, Gate::PendingAllowed, claims.su, Some(tv))?;
    let impersonation = match (&claims.imp, claims.imp_iid_uuid()) {
        (Some(imp), Some(imp_iid)) => {
            let started = claims
                .imp_started
                .ok_or_else(|| ApiError::unauthorized("Impersonation token missing start time"))?;
            if now >= started + settings.impersonation_max_minutes * 60 {
                return Err(ApiError::unauthorized("Impersonation session expired"));
            }
            let admin_user_id = Uuid::parse_str(imp).map_err(|_| invalid())?;
            Some(Impersonation {
                admin_user_id,
                admin_identity_id: imp_iid,
                started,
            })
        }
        (Some(_), None) => return Err(invalid()),
        _ => None,
    };

    let rotated =
        services::sessions::rotate(&mut conn, &state.cache, ctx.identity_id, &jti, exp, now).await;
    if matches!(rotated, Err(RotateError::Replayed)) {
        // Every session of the identity was revoked (committed): every process must see it.
        crate::http::guard::identity_changed(&state, ctx.identity_id).await;
    }
    rotated.map_err(|e| match e {
        RotateError::StoreUnavailable => ApiError::unavailable("Service temporarily unavailable"),
        RotateError::Replayed => ApiError::unauthorized("Refresh token reuse detected"),
        RotateError::Db(e) => ApiError::from(e),
    })?;
    drop(conn);

    let subject = SessionSubject {
        user_id,
        org: tenant.org_id.as_str().to_owned(),
        identity_id: ctx.identity_id,
        superuser: if impersonation.is_some() {
            false
        } else {
            ctx.is_superuser
        },
        // An org switch keeps the MFA state of the session; it is per identity.
        mfa: claims.mfa,
        token_version: i64::from(ctx.token_version),
        mfa_method: claims.mfa_method.filter(|_| !switched || claims.mfa),
        impersonation,
        auth_time,
    };
    let issued = session::issue(&state, &subject)?;
    Ok((
        issued.headers.clone(),
        Envelope(Value::Object(session::pair_body(&issued))),
    )
        .into_response())
}

/// Renews the CSRF token for the refresh cookie (the frontend's recovery after "CSRF
/// validation failed").
#[utoipa::path(post, path = "/auth/refresh/csrf", tag = "auth",
    responses((status = 200, description = "New CSRF token; cookies re-set"), (status = 400, description = "Tenant resolution failed"),
              (status = 401, description = "No or bad refresh cookie")))]
pub async fn refresh_csrf(
    State(state): State<AppState>,
    tenant: Tenant,
    ext: axum::http::Extensions,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let settings = &state.settings;
    if let Some(ip) = super::client_ip(&ext) {
        let per_minute = settings.rate_limit_per_minute;
        limits::check_token_rate(&state.cache, TokenRateSubject::Ip(&ip), per_minute).await?;
    }
    let raw = token::refresh_cookie(settings, &headers)
        .ok_or_else(|| ApiError::unauthorized("Refresh token required"))?;
    let claims = token::decode(&state, &raw)?;
    if !claims.is(TokenType::Refresh) {
        return Err(unexpected_type(&claims));
    }
    let user_id = claims
        .sub_uuid()
        .ok_or_else(|| ApiError::unauthorized("Invalid token"))?;
    let mut conn = state.db.acquire().await?;
    user_for_tenant(&mut conn, &claims, user_id, tenant.org_id.as_str()).await?;
    drop(conn);
    let csrf = generate_csrf_token();
    let mut out = HeaderMap::new();
    session::set_session_cookies(settings, &mut out, &raw, &csrf);
    Ok((out, Envelope(json!({"csrf_token": csrf}))).into_response())
}

/// Ends every session of the identity (in every org) and clears the cookies. Idempotent: a
/// second logout with the same (now revoked) token answers 200 and clears the cookies again
/// (README "Deliberate differences").
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Logged out (also when the token was already revoked)"), (status = 403, description = "Impersonating")))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Result<CurrentUser, ApiError>,
) -> ApiResult<Response> {
    let user = match user {
        Ok(user) => user,
        Err(refused) => {
            if session_already_ended(&state, &headers).await? {
                return Ok(logged_out(&state));
            }
            return Err(refused);
        }
    };
    if user.is_impersonating() {
        return Err(ApiError::forbidden(
            "Use impersonate/stop to end an impersonation session",
        ));
    }
    let mut conn = state.db.acquire().await?;
    services::identities::bump_token_version(&mut conn, user.identity_id).await?;
    drop(conn);
    crate::http::guard::identity_changed(&state, user.identity_id).await;
    Ok(logged_out(&state))
}

fn logged_out(state: &AppState) -> Response {
    let mut headers = HeaderMap::new();
    session::clear_session_cookies(&state.settings, &mut headers);
    (headers, NoContent).into_response()
}

/// Whether the bearer is a genuine, unexpired access token whose session was already ended
/// (its token version is behind the identity's): logout has nothing left to do for it.
async fn session_already_ended(state: &AppState, headers: &HeaderMap) -> ApiResult<bool> {
    let Some(raw) = crate::http::tenant::bearer_token(headers) else {
        return Ok(false);
    };
    let Ok(claims) = token::decode(state, raw) else {
        return Ok(false);
    };
    let (Some(tv), Some(identity_id)) = (claims.tv, claims.iid_uuid()) else {
        return Ok(false);
    };
    if !claims.is(TokenType::Access) || claims.is_impersonation() {
        return Ok(false);
    }
    let mut conn = state.db.acquire().await?;
    let identity = services::identities::find_by_id(&mut conn, identity_id).await?;
    Ok(identity.is_some_and(|i| i64::from(i.token_version) != tv))
}

/// The signed-in user. Beyond the legacy fields it carries `must_change_password` and the
/// effective `permissions` and `roles` (DESIGN.md §4), so deep links pass the route guards.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The current user"), (status = 401, description = "Not authenticated")))]
pub async fn me(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Envelope<Value>> {
    let org = user.org_id.as_str();
    // Every page load asks: warm, this process answers from its guard cache, no statement.
    let me = match user.cached_view::<services::users::MeSnapshot>(&state, View::Me) {
        Some(me) => me,
        None => {
            let ticket = user.view_ticket(&state);
            let (me, conn) = crate::db::retry::read_retrying_once!(&state.db, |conn| {
                services::users::me_snapshot(conn, org, user.user_id)
            })
            .await?;
            drop(conn);
            user.keep_view(&state, ticket, View::Me, me)
        }
    };
    let (full_name, roles, permissions) = (&me.full_name, &me.role_names, &me.permissions);
    Ok(Envelope(json!({
        "id": user.user_id,
        "org_id": org,
        "email": user.email,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
        "mfa_enabled": user.mfa_enabled,
        "full_name": full_name,
        "last_active_at": user.last_active_at.map(timefmt::iso_z),
        "created_at": timefmt::iso_z(user.created_at),
        "must_change_password": user.must_change_password,
        "permissions": permissions,
        "roles": roles,
    })))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangePasswordRequest {
    current_password: String,
    new_password: String,
}

/// Changes the password (the one call allowed while a change is required), revokes every
/// other session and returns a new pair. A first-login change also accepts the invitation.
#[utoipa::path(post, path = "/auth/change-password", tag = "auth", request_body = ChangePasswordRequest, security(("bearer" = [])),
    responses((status = 200, description = "New token pair"), (status = 400, description = "Wrong current password or weak new one")))]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser<PasswordChange>,
    crate::http::extract::ApiJson(body): crate::http::extract::ApiJson<ChangePasswordRequest>,
) -> ApiResult<Response> {
    if user.is_impersonating() {
        return Err(ApiError::forbidden(
            "Cannot change password during impersonation",
        ));
    }
    let identity = {
        let mut conn = state.db.acquire().await?;
        services::identities::find_by_id(&mut conn, user.identity_id)
            .await?
            .ok_or_else(|| ApiError::unauthorized("Identity inactive"))?
    };
    let current_ok = check_input_limits(&body.current_password).is_ok()
        && state
            .auth
            .passwords
            .verify_async(&body.current_password, &identity.hashed_password)
            .await;
    if !current_ok {
        return Err(ApiError::bad_request("Current password is incorrect"));
    }
    if body.new_password == body.current_password {
        return Err(ApiError::bad_request(
            "New password must differ from current password",
        ));
    }
    if check_input_limits(&body.new_password).is_err() {
        return Err(ApiError::bad_request(
            "Password too long; maximum 128 characters",
        ));
    }
    PasswordPolicy::new(state.settings.default_password_min_length)
        .check(&body.new_password)
        .map_err(|v| ApiError::bad_request(v.to_string()))?;
    let hash = state
        .auth
        .passwords
        .hash_async(&body.new_password)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })?;

    let mut tx = state.db.begin().await?;
    let token_version = services::identities::set_password(&mut tx, identity.id, &hash).await?;
    if identity.must_change_password {
        services::users::accept_invitation(&mut tx, user.org_id.as_str(), user.user_id).await?;
    }
    tx.commit().await?;
    crate::http::guard::identity_changed(&state, identity.id).await;

    let issued = session::issue(
        &state,
        &SessionSubject {
            user_id: user.user_id,
            org: user.org_id.as_str().to_owned(),
            identity_id: identity.id,
            superuser: user.claims.su,
            mfa: identity.mfa_enabled,
            token_version: i64::from(token_version),
            mfa_method: None,
            impersonation: None,
            // A password change continues the session: it does not extend its lifetime.
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
