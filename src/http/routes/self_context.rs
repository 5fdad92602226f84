//! `GET /self/context` and `GET /self/policy` (contract §3 "Self").

use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::guard_cache::View;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::guard::CurrentUser;
use crate::http::state::AppState;
use crate::services;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(context))
        .routes(routes!(policy))
}

#[derive(Serialize, ToSchema)]
pub struct ContextOrg {
    id: String,
    name: String,
    slug: String,
    /// As stored (`ACTIVE`).
    status: String,
    #[serde(with = "crate::timefmt::z")]
    #[schema(value_type = String)]
    created_at: time::OffsetDateTime,
    #[serde(with = "crate::timefmt::z")]
    #[schema(value_type = String)]
    updated_at: time::OffsetDateTime,
}

#[derive(Serialize, ToSchema)]
pub struct ContextRole {
    id: Uuid,
    /// The raw stored name (`ORG ADMIN`, `Human Resource` …).
    name: String,
    is_system_role: bool,
    #[schema(value_type = Vec<String>)]
    permissions: Value,
}

#[derive(Serialize, ToSchema)]
pub struct SelfContext {
    org: ContextOrg,
    roles: Vec<ContextRole>,
    /// Effective codes, sorted: role permissions plus the direct assignment (no superuser
    /// expansion).
    permissions: Vec<String>,
    /// The org's setting; the frontend's idle timer.
    session_timeout_minutes: i32,
    /// `single` or `multi`.
    tenancy_mode: &'static str,
}

/// The signed-in user's org, roles and effective permissions.
#[utoipa::path(get, path = "/self/context", tag = "self", security(("bearer" = [])),
    responses((status = 200, body = SelfContext), (status = 401, description = "Not authenticated")))]
pub async fn context(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Envelope<SelfContext>> {
    let org_id = user.org_id.as_str();
    // The first call of every page load: warm, this process answers from its guard cache with
    // no statement; cold, a dropped pooled connection costs a retry.
    let snapshot = match user.cached_view::<services::self_context::Snapshot>(&state, View::Context)
    {
        Some(snapshot) => snapshot,
        None => {
            let ticket = user.view_ticket(&state);
            let (snapshot, conn) = crate::db::retry::read_retrying_once!(&state.db, |conn| {
                services::self_context::snapshot(conn, org_id, user.user_id)
            })
            .await?;
            drop(conn);
            let snapshot =
                snapshot.ok_or_else(|| ApiError::not_found(format!("Org not found: {org_id}")))?;
            user.keep_view(&state, ticket, View::Context, snapshot)
        }
    };
    let permissions = snapshot.effective_permissions();
    Ok(Envelope(SelfContext {
        org: ContextOrg {
            id: snapshot.id.clone(),
            name: snapshot.name.clone(),
            slug: snapshot.slug.clone(),
            status: snapshot.status.clone(),
            created_at: snapshot.created_at,
            updated_at: snapshot.updated_at,
        },
        roles: snapshot
            .roles
            .0
            .iter()
            .map(|r| ContextRole {
                id: r.id,
                name: r.name.clone(),
                is_system_role: r.is_system_role,
                permissions: r.permissions.clone(),
            })
            .collect(),
        permissions,
        session_timeout_minutes: snapshot.session_timeout_minutes,
        tenancy_mode: state.settings.tenancy_mode.as_str(),
    }))
}

/// The org policy the self-service pages read (defaults when the org has no settings row yet;
/// nothing is written).
#[utoipa::path(get, path = "/self/policy", tag = "self", security(("bearer" = [])),
    responses((status = 200, description = "OrgPolicy"), (status = 401, description = "Not authenticated")))]
pub async fn policy(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Envelope<Value>> {
    let org_id = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    let settings = services::org_settings::find(&mut conn, org_id)
        .await?
        .unwrap_or_else(|| services::org_settings::defaults(org_id));
    let settings = services::loans::pbgc::shown_settings(&mut conn, settings).await?;
    Ok(Envelope(settings.policy()))
}
