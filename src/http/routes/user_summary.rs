//! `GET /org/dashboard/user-summary`: the People landing page (perm `user.view`).

use axum::extract::State;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::permissions::perm;
use crate::http::envelope::Envelope;
use crate::http::error::ApiResult;
use crate::http::guard::Can;
use crate::http::state::AppState;
use crate::services;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(user_summary))
}

#[derive(Serialize, ToSchema)]
pub struct DepartmentCount {
    department_id: Uuid,
    department_name: String,
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct RoleCount {
    role_id: Uuid,
    role_name: String,
    count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct UserDashboardSummary {
    org_id: String,
    total_users: i64,
    #[schema(value_type = Object)]
    platform_status_counts: Value,
    #[schema(value_type = Object)]
    invitation_status_counts: Value,
    #[schema(value_type = Object)]
    employment_status_counts: Value,
    active_users: i64,
    suspended_users: i64,
    invited_pending: i64,
    accepted_invites: i64,
    mfa_enabled: i64,
    mfa_disabled: i64,
    never_logged_in: i64,
    active_last_7_days: i64,
    active_last_30_days: i64,
    stale_30_plus_days: i64,
    users_with_temp_password: i64,
    users_without_department: i64,
    missing_profile_fields: i64,
    department_counts: Vec<DepartmentCount>,
    role_counts: Vec<RoleCount>,
    roles_with_zero_members: Vec<String>,
}

fn counts(groups: &[(String, i64)]) -> Value {
    Value::Object(
        groups
            .iter()
            .map(|(k, n)| (k.clone(), json!(n)))
            .collect::<Map<String, Value>>(),
    )
}

fn count_of(groups: &[(String, i64)], key: &str) -> i64 {
    groups.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
}

/// Membership, activity, department and role figures of the org, recomputed on every call.
#[utoipa::path(get, path = "/org/dashboard/user-summary", tag = "dashboard", security(("bearer" = [])),
    responses((status = 200, body = UserDashboardSummary), (status = 403, description = "Missing permission: user.view")))]
pub async fn user_summary(
    State(state): State<AppState>,
    user: Can<perm::UserView>,
) -> ApiResult<Envelope<UserDashboardSummary>> {
    let org_id = user.org_id.as_str();
    // One snapshot for every figure.
    let mut tx = state.db.begin().await?;
    services::user_summary::snapshot(&mut tx).await?;
    let s =
        services::user_summary::compute(&mut tx, org_id, time::OffsetDateTime::now_utc()).await?;
    tx.rollback().await?;
    let a = &s.activity;
    let roles_with_zero_members = s
        .roles
        .iter()
        .filter(|(_, _, n)| *n == 0)
        .map(|(_, name, _)| name.clone())
        .collect();
    Ok(Envelope(UserDashboardSummary {
        org_id: org_id.to_owned(),
        total_users: a.total,
        platform_status_counts: counts(&s.platform),
        invitation_status_counts: counts(&s.invitation),
        employment_status_counts: counts(&s.employment),
        active_users: count_of(&s.platform, "ACTIVE"),
        suspended_users: count_of(&s.platform, "SUSPENDED"),
        invited_pending: count_of(&s.invitation, "PENDING"),
        accepted_invites: count_of(&s.invitation, "ACCEPTED"),
        mfa_enabled: a.mfa_enabled,
        mfa_disabled: (a.total - a.mfa_enabled).max(0),
        never_logged_in: a.never_logged_in,
        active_last_7_days: a.active_7,
        active_last_30_days: a.active_30,
        stale_30_plus_days: a.stale_30,
        users_with_temp_password: a.temp_password,
        users_without_department: a.without_department,
        missing_profile_fields: a.missing_profile,
        department_counts: s
            .departments
            .into_iter()
            .map(|(department_id, department_name, count)| DepartmentCount {
                department_id,
                department_name,
                count,
            })
            .collect(),
        role_counts: s
            .roles
            .into_iter()
            .map(|(role_id, role_name, count)| RoleCount {
                role_id,
                role_name,
                count,
            })
            .collect(),
        roles_with_zero_members,
    }))
}
