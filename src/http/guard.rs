//! Authentication guards as extractors (contract §4.3), the permission check (§6) and the
//! step-up check (§4.7).
//!
//! Every check runs in the legacy order, because the frontend branches on the messages.

use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::jwt::{TokenType, TokenView};
use crate::domain::membership::{Gate, Refusal};
use crate::domain::org::OrgId;
use crate::domain::permissions::{Permission, Required};
use crate::guard_cache::{Scope, Ticket, View};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::tenant::{self, Tenant};
use crate::http::token;
use crate::services;
use crate::services::audit::{Actor, AuditEntry};
use crate::services::identities::Identity;
use crate::services::users::UserContext;

/// How a route authenticates.
pub trait GuardMode: Send + Sync + std::fmt::Debug + 'static {
    /// Resolve the tenant before checking that a token was sent (the legacy dependency order
    /// of the org-admin routes: without `X-Org-Id` they answer 400 before 401).
    const TENANT_FIRST: bool;
    const GATE: Gate;
    /// `POST /auth/change-password` is the one route a user with a pending password change may
    /// call.
    const ALLOW_PASSWORD_CHANGE: bool;
}

/// Strict membership; 401 "Not authenticated" before tenant errors (`/auth/me`, `/self/*` …).
#[derive(Debug)]
pub struct Member;
/// Strict membership; tenant errors first (`/org/users*`, `/roles*`, `/auth/step-up/verify` …).
#[derive(Debug)]
pub struct OrgMember;
/// Pending membership allowed and a required password change allowed (change-password).
#[derive(Debug)]
pub struct PasswordChange;

impl GuardMode for Member {
    const TENANT_FIRST: bool = false;
    const GATE: Gate = Gate::Strict;
    const ALLOW_PASSWORD_CHANGE: bool = false;
}
impl GuardMode for OrgMember {
    const TENANT_FIRST: bool = true;
    const GATE: Gate = Gate::Strict;
    const ALLOW_PASSWORD_CHANGE: bool = false;
}
impl GuardMode for PasswordChange {
    const TENANT_FIRST: bool = false;
    const GATE: Gate = Gate::PendingAllowed;
    const ALLOW_PASSWORD_CHANGE: bool = true;
}

/// The authenticated user of a request, in the resolved tenant.
#[derive(Debug)]
pub struct CurrentUser<M: GuardMode = Member> {
    pub org_id: OrgId,
    pub user_id: Uuid,
    /// The identity whose token this is (the admin's during impersonation).
    pub identity_id: Uuid,
    /// The user's own identity (the impersonated user's during impersonation).
    pub user_identity_id: Uuid,
    pub email: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub mfa_enabled: bool,
    pub must_change_password: bool,
    pub last_active_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub membership_id: Option<Uuid>,
    pub claims: TokenView,
    mode: PhantomData<M>,
}

impl<M: GuardMode> Clone for CurrentUser<M> {
    fn clone(&self) -> Self {
        Self {
            org_id: self.org_id.clone(),
            user_id: self.user_id,
            identity_id: self.identity_id,
            user_identity_id: self.user_identity_id,
            email: self.email.clone(),
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            mfa_enabled: self.mfa_enabled,
            must_change_password: self.must_change_password,
            last_active_at: self.last_active_at,
            created_at: self.created_at,
            membership_id: self.membership_id,
            claims: self.claims.clone(),
            mode: PhantomData,
        }
    }
}

impl<M: GuardMode> CurrentUser<M> {
    /// The `su` claim: superusers bypass tenant, membership and permission checks.
    pub fn bypasses_permissions(&self) -> bool {
        self.claims.su
    }

    pub fn is_impersonating(&self) -> bool {
        self.claims.is_impersonation()
    }

    /// The admin's user id during impersonation.
    pub fn impersonator_id(&self) -> Option<Uuid> {
        self.claims
            .imp
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok())
    }

    /// This user as the actor of a change (audit rows written by services).
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            org_id: self.org_id.as_str(),
            user_id: self.user_id,
            impersonator_id: self.impersonator_id(),
        }
    }

    /// The audit row of a change this user makes: actor, org and, during impersonation, the
    /// admin behind it.
    pub fn audit<'a>(
        &'a self,
        action: &'a str,
        resource_type: &'a str,
        resource_id: impl ToString,
        old_value: Option<serde_json::Value>,
        new_value: Option<serde_json::Value>,
    ) -> AuditEntry<'a> {
        self.actor()
            .entry(action, resource_type, resource_id, old_value, new_value)
    }

    /// 403 "Missing permission: <code>" unless the user has it (superusers always do).
    /// Handlers declare `Can<perm::…>` instead; this is for checks that depend on the request.
    pub async fn require_permission(
        &self,
        state: &AppState,
        permission: Permission,
    ) -> Result<(), ApiError> {
        self.require(state, permission.code()).await
    }

    /// The user's effective permissions in the org: from this process's guard cache when it
    /// holds them (no round trip at all), else the shared cache, else the database.
    pub async fn permissions(&self, state: &AppState) -> Result<Arc<Vec<String>>, ApiError> {
        let org_id = self.org_id.as_str();
        let guard = &state.announcements.guard;
        let iid = self.claims.iid_uuid();
        if let Some(perms) = guard.permissions(self.user_id, iid, org_id) {
            return Ok(perms);
        }
        let ticket = guard.ticket();
        // A cache hit needs no connection: acquiring one anyway would cost a pool checkout and
        // the round trip sqlx makes when it takes a connection back.
        let perms = match services::permissions::from_cache(&state.cache, org_id, self.user_id)
            .await
        {
            Some(perms) => perms,
            None => {
                let (perms, _conn) = crate::db::retry::read_retrying_once!(&state.db, |conn| {
                    services::permissions::load_and_cache(&state.cache, conn, org_id, self.user_id)
                })
                .await?;
                perms
            }
        };
        let perms = Arc::new(perms);
        if let Some(ticket) = ticket {
            guard.put_permissions(ticket, self.user_id, iid, org_id, Arc::clone(&perms));
        }
        Ok(perms)
    }

    /// A [`View`] of this user this process cached (no statement at all), when it may be
    /// trusted. On `None`, take [`view_ticket`](Self::view_ticket) *before* reading the
    /// database and hand the read to [`keep_view`](Self::keep_view).
    pub fn cached_view<T: std::any::Any + Send + Sync>(
        &self,
        state: &AppState,
        view: View,
    ) -> Option<Arc<T>> {
        state.announcements.guard.view(
            self.user_id,
            self.claims.iid_uuid(),
            self.org_id.as_str(),
            view,
        )
    }

    /// Taken before reading a view: the read is kept only if nothing was invalidated since.
    pub fn view_ticket(&self, state: &AppState) -> Option<Ticket> {
        state.announcements.guard.ticket()
    }

    /// Keeps a view read under `ticket` (when it may be) and returns it.
    pub fn keep_view<T: std::any::Any + Send + Sync>(
        &self,
        state: &AppState,
        ticket: Option<Ticket>,
        view: View,
        value: T,
    ) -> Arc<T> {
        let value = Arc::new(value);
        if let Some(ticket) = ticket {
            state.announcements.guard.put_view(
                ticket,
                self.user_id,
                self.claims.iid_uuid(),
                self.org_id.as_str(),
                view,
                Arc::clone(&value),
            );
        }
        value
    }

    /// [`require_permission`](Self::require_permission) by string code (the legacy form).
    pub async fn require(&self, state: &AppState, code: &str) -> Result<(), ApiError> {
        if self.bypasses_permissions() {
            tracing::debug!(permission = code, "superuser permission bypass");
            return Ok(());
        }
        let perms = self.permissions(state).await?;
        if perms.iter().any(|p| p == code) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("Missing permission: {code}")))
        }
    }
}

/// The current user, once they hold every permission `R` names: declare it first in the handler
/// signature and it runs the guard `M` and then the permission check, before any path, query or
/// body extractor (axum runs parts extractors in order and the body last), which keeps the
/// legacy "403 before 422" order. Derefs to [`CurrentUser<M>`].
///
/// ```ignore
/// pub async fn update_department(
///     State(state): State<AppState>,
///     user: Can<perm::DepartmentManage>,                 // 400/401/403 first
///     ApiPath(department_id): ApiPath<Uuid>,             // then 422 for a bad id
///     ApiJson(req): ApiJson<DepartmentUpdate>,           // then 422 for a bad body
/// ) -> ApiResult<Envelope<DepartmentOut>> { … user.org_id … }
/// ```
/// Two permissions: `Can<(perm::DepartmentManage, perm::UserManage)>`; another guard mode:
/// `Can<perm::UserView, Member>`.
pub struct Can<R: Required, M: GuardMode = OrgMember> {
    user: CurrentUser<M>,
    required: PhantomData<R>,
}

impl<R: Required, M: GuardMode> Can<R, M> {
    pub fn into_inner(self) -> CurrentUser<M> {
        self.user
    }
}

impl<R: Required, M: GuardMode> std::ops::Deref for Can<R, M> {
    type Target = CurrentUser<M>;

    fn deref(&self) -> &CurrentUser<M> {
        &self.user
    }
}

impl<R: Required, M: GuardMode> FromRequestParts<AppState> for Can<R, M> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user = CurrentUser::<M>::from_request_parts(parts, state).await?;
        for permission in R::PERMISSIONS {
            user.require_permission(state, *permission).await?;
        }
        Ok(Self {
            user,
            required: PhantomData,
        })
    }
}

fn is_background(parts: &Parts) -> bool {
    parts
        .headers
        .get("x-background-request")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true"))
}

/// How often `last_active_at` is written per identity at most.
const ACTIVITY_WRITE_INTERVAL_SECS: i64 = 60;

/// 401 "Session expired due to inactivity" when the identity's last activity is older than
/// `SESSION_TIMEOUT_MINUTES` (null means no check).
pub fn check_inactivity(
    state: &AppState,
    last_active_at: Option<OffsetDateTime>,
) -> Result<(), ApiError> {
    if let Some(last) = last_active_at {
        let idle = OffsetDateTime::now_utc() - last;
        if idle > time::Duration::minutes(state.settings.session_timeout_minutes) {
            return Err(ApiError::unauthorized("Session expired due to inactivity"));
        }
    }
    Ok(())
}

/// The membership gate's refusal as the legacy answered it.
pub fn membership_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::NotMember => ApiError::unauthorized("User is not a member of org"),
        Refusal::Inactive => ApiError::forbidden("Membership is not active"),
    }
}

/// The checks every session makes on a loaded user context, in the legacy order: the identity
/// is active, the token version `tv` (when the token has one) is current, the membership
/// passes `gate` (superuser tokens, `su`, skip it) and the session is not idle. The guard and
/// the refresh share it.
pub fn check_context(
    state: &AppState,
    ctx: &UserContext,
    gate: Gate,
    su: bool,
    tv: Option<i64>,
) -> Result<(), ApiError> {
    if !ctx.identity_is_active {
        return Err(ApiError::unauthorized("Identity inactive"));
    }
    if tv.is_some_and(|tv| tv != i64::from(ctx.token_version)) {
        return Err(ApiError::unauthorized("Token revoked"));
    }
    if !su {
        ctx.membership(gate).map_err(membership_error)?;
    }
    check_inactivity(state, ctx.last_active_at)
}

/// Whether every check that depends on the database would let `claims` through on `check`.
fn cached_check_passes<M: GuardMode>(
    state: &AppState,
    check: &services::users::GuardCheck,
    claims: Option<&TokenView>,
) -> bool {
    let (Some(claims), Some(ctx)) = (claims, check.context.as_ref()) else {
        return false;
    };
    check.org_exists
        && (check.has_membership || tenant::member_to_check(state, Some(claims)).is_none())
        && ctx.user_is_active
        && (!ctx.must_change_password || M::ALLOW_PASSWORD_CHANGE)
        && check_context(state, ctx, M::GATE, claims.su, claims.tv).is_ok()
}

impl<M: GuardMode> FromRequestParts<AppState> for CurrentUser<M> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(user) = parts.extensions.get::<CurrentUser<M>>() {
            return Ok(user.clone());
        }
        if !M::TENANT_FIRST && tenant::bearer_token(&parts.headers).is_none() {
            return Err(ApiError::unauthorized("Not authenticated"));
        }
        // The tenant check and the user's context come from one query; the checks below still
        // run in the legacy order (tenant first, then the token, then the user).
        let (org_id, bearer) = tenant::candidate(state, parts)?;
        let subject = bearer.as_ref().and_then(TokenView::sub_uuid);
        let iid = bearer.as_ref().and_then(TokenView::iid_uuid);
        // Warm: what this process cached about the user in the org (see `guard_cache`) and no
        // database statement. Cold: the one-row check, cached when it found the user.
        let hub = &state.announcements;
        hub.ensure_started();
        // A cached check may only let a request through: anything it would refuse is read
        // again (a login after an idle timeout, a legacy write that reinstated someone).
        let cached = subject
            .and_then(|user| hub.guard.get(user, iid, org_id.as_str()))
            .filter(|check| cached_check_passes::<M>(state, check, bearer.as_ref()));
        let mut conn = None;
        let check = match cached {
            Some(check) => check,
            None => {
                let ticket = hub.guard.ticket();
                // Every authenticated request reads here first: a pooled connection the
                // server dropped since its last use costs a retry, not a 503.
                let org = org_id.as_str();
                let (check, c) = crate::db::retry::read_retrying_once!(&state.db, |c| {
                    services::users::guard_check(c, subject, iid, org)
                })
                .await?;
                let check = Arc::new(check);
                conn = Some(c);
                if let (Some(ticket), Some(user)) = (ticket, subject)
                    && check.org_exists
                    && check.context.is_some()
                {
                    hub.guard
                        .put(ticket, user, iid, org_id.as_str(), Arc::clone(&check));
                }
                check
            }
        };
        let is_member =
            tenant::member_to_check(state, bearer.as_ref()).is_none() || check.has_membership;
        let tenant: Tenant = tenant::accept(parts, org_id, bearer, check.org_exists, is_member)?;

        let Some(claims) = tenant.bearer.clone() else {
            return Err(ApiError::unauthorized("Not authenticated"));
        };
        if !claims.is(TokenType::Access) {
            return Err(ApiError::unauthorized("Unexpected token type"));
        }
        if claims.sub_uuid().is_none() {
            return Err(ApiError::unauthorized("Invalid token"));
        }
        let Some(token_org) = claims.org.as_deref() else {
            return Err(ApiError::unauthorized("Token missing org claim"));
        };
        if !claims.su && token_org != tenant.org_id.as_str() {
            return Err(ApiError::unauthorized("Token tenant mismatch"));
        }
        let ctx = check
            .context
            .clone()
            .ok_or_else(|| ApiError::unauthorized("User not found"))?;
        let user_id = ctx.user_id;
        if !ctx.user_is_active {
            return Err(ApiError::unauthorized("Inactive user"));
        }
        check_context(state, &ctx, M::GATE, claims.su, claims.tv)?;
        // The stored value tells whether a write is due: most requests skip the round trip.
        // An open announcement stream (and its reconnects) is not user activity.
        let write_due = ctx.last_active_at.is_none_or(|last| {
            OffsetDateTime::now_utc() - last
                >= time::Duration::seconds(ACTIVITY_WRITE_INTERVAL_SECS)
        });
        if write_due
            && !is_background(parts)
            && !crate::http::middleware::is_stream_path(parts.uri.path())
        {
            let conn = match conn.as_mut() {
                Some(c) => c,
                None => conn.insert(state.db.acquire().await?),
            };
            services::identities::touch_last_active_throttled(
                conn,
                ctx.identity_id,
                ACTIVITY_WRITE_INTERVAL_SECS,
            )
            .await?;
            // This process re-reads the stored time on the next request (no publish: a stale
            // activity time elsewhere only costs another throttled, empty write).
            hub.guard.apply(&Scope::User(user_id));
        }
        if claims.su && token_org != tenant.org_id.as_str() {
            let entry = services::audit::superuser_cross_org(
                tenant.org_id.as_str(),
                user_id,
                token_org,
                parts.method.as_str(),
                parts
                    .extensions
                    .get::<axum::extract::OriginalUri>()
                    .map_or(parts.uri.path(), |u| u.path()),
            );
            let conn = match conn.as_mut() {
                Some(c) => c,
                None => conn.insert(state.db.acquire().await?),
            };
            services::audit::record(conn, entry).await?;
        }
        drop(conn);
        if ctx.must_change_password && !M::ALLOW_PASSWORD_CHANGE {
            return Err(ApiError::forbidden("Password change required"));
        }

        let user = CurrentUser {
            org_id: tenant.org_id,
            user_id,
            identity_id: ctx.identity_id,
            user_identity_id: ctx.user_identity_id,
            email: ctx.user_email,
            is_active: ctx.user_is_active,
            is_superuser: ctx.is_superuser,
            mfa_enabled: ctx.mfa_enabled,
            must_change_password: ctx.must_change_password,
            last_active_at: ctx.last_active_at,
            created_at: ctx.user_created_at,
            membership_id: ctx.membership_id,
            claims,
            mode: PhantomData,
        };
        parts.extensions.insert(user.clone());
        Ok(user)
    }
}

/// Identity-only authentication (`/auth/orgs`, select-org, MFA verify/enrol): a pre-org or an
/// access token names an identity; no tenant is resolved, so a stray `X-Org-Id` is ignored.
pub struct IdentityAuth {
    pub identity: Identity,
    pub claims: TokenView,
    pub raw_token: String,
}

impl FromRequestParts<AppState> for IdentityAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = tenant::bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("Missing authentication token"))?;
        let claims = token::decode(state, raw)?;
        let identity_id: Option<Uuid> = match claims.token_type {
            Some(TokenType::PreOrg) => claims.sub_uuid(),
            Some(TokenType::Access) => match claims.iid_uuid() {
                Some(iid) => Some(iid),
                None => {
                    let Some(user_id) = claims.sub_uuid() else {
                        return Err(ApiError::unauthorized("Invalid token"));
                    };
                    crate::db::retry::read_retrying_once!(&state.db, |conn| {
                        services::users::identity_id(conn, user_id)
                    })
                    .await?
                    .0
                }
            },
            _ => {
                return Err(ApiError::unauthorized(
                    "Unsupported token type for identity resolution",
                ));
            }
        };
        let inactive = || ApiError::unauthorized("Identity not found or inactive");
        let identity_id = identity_id.ok_or_else(inactive)?;
        let (identity, _conn) = crate::db::retry::read_retrying_once!(&state.db, |conn| {
            services::identities::find_by_id(conn, identity_id)
        })
        .await?;
        let identity = identity.ok_or_else(inactive)?;
        if !identity.is_active {
            return Err(inactive());
        }
        // A revoked access token (logout, password change, refresh reuse) must not reach
        // select-org, or it could mint a fresh session and undo the revocation.
        if claims.is(TokenType::Access)
            && claims
                .tv
                .is_some_and(|tv| tv != i64::from(identity.token_version))
        {
            return Err(ApiError::unauthorized("Token revoked"));
        }
        Ok(Self {
            identity,
            claims,
            raw_token: raw.to_owned(),
        })
    }
}

/// After a commit that changed what the guard knows about `user_id` in `org_id` (membership
/// status, roles, direct permissions, e-mail, the membership itself): drops the shared
/// permission cache entry first, then this and every other process's guard cache entries.
pub async fn user_changed(state: &AppState, org_id: &str, user_id: Uuid) {
    services::permissions::invalidate_user(&state.cache, org_id, user_id).await;
    state
        .announcements
        .invalidate(&state.cache, Scope::User(user_id))
        .await;
}

/// After a commit that changed an identity (active flag, token version: logout, password
/// change, forced reset, refresh reuse; MFA): drops every guard cache entry of its users.
pub async fn identity_changed(state: &AppState, identity_id: Uuid) {
    state
        .announcements
        .invalidate(&state.cache, Scope::Identity(identity_id))
        .await;
}

/// After a commit that changed what every member of `org_id` may do (role permissions, role
/// deletion): drops the org's shared permission cache and every guard cache entry of the org.
/// Returns how many shared permission entries were cleared.
pub async fn org_changed(state: &AppState, org_id: &str) -> u64 {
    let cleared = services::permissions::invalidate_org(&state.cache, org_id).await;
    state
        .announcements
        .invalidate(&state.cache, Scope::Org(org_id.to_owned()))
        .await;
    cleared
}

/// After a commit that changed what a cached [`View`] shows but nothing the guard or the
/// permission cache holds: a member's profile (`Scope::User`), an org's settings
/// (`Scope::Org`). Drops the views here at once and on every other process through Redis.
pub async fn views_changed(state: &AppState, scope: Scope) {
    state.announcements.invalidate(&state.cache, scope).await;
}
