//! `/self/profile` (GET, PATCH) and `/self/export` (contract §3 "Self").

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::geo;
use crate::domain::permissions::MfaAction;
use crate::guard_cache::Scope;
use crate::http::envelope::Envelope;
use crate::http::error::{ApiError, ApiResult};
use crate::http::guard::CurrentUser;
use crate::http::state::AppState;
use crate::http::step_up;
use crate::http::validate::{SelfProfileUpdate, patch_body, profile_error};
use crate::services;
use crate::services::members;
use crate::timefmt;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_profile, patch_profile))
        .routes(routes!(export))
}

/// The caller's own UserDetail.
#[utoipa::path(get, path = "/self/profile", tag = "self", security(("bearer" = [])),
    responses((status = 200, description = "UserDetail"), (status = 404, description = "Membership not found")))]
pub async fn get_profile(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Envelope<members::UserDetail>> {
    let mut conn = state.db.acquire().await?;
    let detail = members::detail_by_user(&mut conn, user.org_id.as_str(), user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    Ok(Envelope(detail))
}

/// The caller edits their own profile (when the org allows it).
#[utoipa::path(patch, path = "/self/profile", tag = "self", request_body = SelfProfileUpdate, security(("bearer" = [])),
    responses((status = 200, description = "UserDetail"), (status = 403, description = "Impersonating, editing disabled or step-up required"),
              (status = 422, description = "Invalid value")))]
pub async fn patch_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Envelope<members::UserDetail>> {
    if user.is_impersonating() {
        return Err(ApiError::forbidden(
            "Cannot edit profile during impersonation",
        ));
    }
    let org = user.org_id.as_str();
    let mut conn = state.db.acquire().await?;
    let policy = members::self_service_policy(&mut conn, org).await?;
    drop(conn);
    if !policy.allow_profile_edit {
        return Err(ApiError::forbidden(
            "Profile editing is disabled for this organization",
        ));
    }
    step_up::require_action(&state, &user, &headers, MfaAction::UserProfileEdit).await?;
    let body: SelfProfileUpdate = patch_body(&body)?;
    let mut tx = state.db.begin().await?;
    let before = members::find_by_user(&mut tx, org, user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    let (changes, problems) = body
        .into_profile()
        .changes(before.profile.country.as_deref());
    if !problems.is_empty() {
        return Err(ApiError::validation(
            problems.into_iter().map(profile_error).collect(),
        ));
    }
    if changes.is_empty() {
        let detail = members::detail(&mut tx, &before).await?;
        return Ok(Envelope(detail));
    }
    services::profiles::apply(&mut tx, &before, &changes).await?;
    let after = members::find_by_user(&mut tx, org, user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    services::audit::record(
        &mut tx,
        user.audit(
            "user.profile.self_updated",
            "org_membership",
            after.membership_id,
            Some(json!({"profile": before.profile_snapshot()})),
            Some(json!({"profile": after.profile_snapshot()})),
        ),
    )
    .await?;
    let detail = members::detail(&mut tx, &after).await?;
    tx.commit().await?;
    // `/auth/me` shows the name: the cached view of every process goes.
    crate::http::guard::views_changed(&state, Scope::User(after.user_id)).await;
    Ok(Envelope(detail))
}

/// One CSV cell with minimal quoting (Python's `csv.QUOTE_MINIMAL`).
fn csv_cell(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// The caller's data as a two-column CSV (not enveloped).
#[utoipa::path(get, path = "/self/export", tag = "self", security(("bearer" = [])),
    responses((status = 200, description = "CSV `Field,Value`", content_type = "text/csv"), (status = 403, description = "Export disabled")))]
pub async fn export(State(state): State<AppState>, user: CurrentUser) -> ApiResult<Response> {
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let policy = members::self_service_policy(&mut tx, org).await?;
    if !policy.allow_user_data_export {
        return Err(ApiError::forbidden(
            "User data export is disabled for this organization",
        ));
    }
    let row = members::find_by_user(&mut tx, org, user.user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    let detail = members::detail(&mut tx, &row).await?;
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let country = row
        .profile
        .country
        .as_deref()
        .map(|c| geo::country_name(c).unwrap_or(c).to_owned());
    let state_name = row.profile.state.as_deref().map(|st| {
        row.profile
            .country
            .as_deref()
            .and_then(|c| geo::subdivision_name(c, st))
            .unwrap_or(st)
            .to_owned()
    });
    let date = row
        .employment_start_date
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()));
    let rows: Vec<(&str, String)> = vec![
        ("Email", row.email.clone()),
        ("First Name", s(&row.profile.first_name)),
        ("Middle Name", s(&row.profile.middle_name)),
        ("Last Name", s(&row.profile.last_name)),
        ("Preferred Name", s(&row.profile.preferred_name)),
        ("Phone Number", s(&row.profile.phone_number)),
        ("Timezone", s(&row.profile.timezone)),
        ("Marital Status", s(&row.profile.marital_status)),
        ("Country", s(&country)),
        ("State", s(&state_name)),
        ("Address Line 1", s(&row.profile.address_line1)),
        ("Address Line 2", s(&row.profile.address_line2)),
        ("Postal Code", s(&row.profile.postal_code)),
        ("Organization", s(&row.org_name)),
        ("Employee ID", row.employee_id.clone()),
        ("Department", s(&row.department_name)),
        ("Employment Status", row.employment_status.clone()),
        ("Platform Status", row.platform_status.clone()),
        ("Invitation Status", row.invitation_status.clone()),
        ("Employment Start Date", s(&date)),
        (
            "Invited At",
            row.invited_at.map(timefmt::iso_offset).unwrap_or_default(),
        ),
        (
            "Accepted At",
            row.accepted_at.map(timefmt::iso_offset).unwrap_or_default(),
        ),
        ("Roles", detail.role_names.join(", ")),
        (
            "MFA Enabled",
            if row.mfa_enabled { "Yes" } else { "No" }.to_owned(),
        ),
        ("Account Created", timefmt::iso_offset(row.user_created_at)),
    ];
    let mut body = String::from("Field,Value\r\n");
    for (field, value) in rows {
        body.push_str(&csv_cell(field));
        body.push(',');
        body.push_str(&csv_cell(&value));
        body.push_str("\r\n");
    }
    services::audit::record(
        &mut tx,
        user.audit(
            "user.data.exported",
            "org_membership",
            row.membership_id,
            None,
            None,
        ),
    )
    .await?;
    tx.commit().await?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"my_data_export.csv\""),
    );
    Ok(response)
}
