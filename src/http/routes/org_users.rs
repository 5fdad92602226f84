//! `/org/users*`: the member list and detail, onboarding (single and CSV), deletes, status and
//! profile changes, forced password reset and admin MFA reset (contract §3 "Org users /
//! onboarding", frontend-client §10.2–§10.3).

mod bulk;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::Date;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::policy::PasswordPolicy;
use crate::domain::permissions::{perm, step};
use crate::domain::profile::{Patch, Profile};
use crate::domain::{email, membership, people};
use crate::http::envelope::{Created, Envelope, NoContent};
use crate::http::error::{ApiError, ApiResult, ConstraintExt, FieldError};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::guard::{Can, CurrentUser, GuardMode};
use crate::http::state::AppState;
use crate::http::step_up::StepUp;
use crate::http::validate::{
    ProfileUpdate, check_len, parse_iso_date, patch_body, patch_text, profile_error, too_long,
};
use crate::services;
use crate::services::members::{self, Filter, Shape};
use crate::services::onboarding::{self, NewMember, Refusal};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, onboard))
        .routes(routes!(bulk::template))
        .routes(routes!(bulk::upload))
        .routes(routes!(bulk_delete))
        .routes(routes!(detail, delete, update_status))
        .routes(routes!(update_profile))
        .routes(routes!(force_password_reset))
        .routes(routes!(reset_mfa))
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (onboarding responses).
fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

// ---------------------------------------------------------------------------------------------
// List and detail

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number (values below 1 become 1).
    page: Option<i64>,
    /// Page size (values below 1 become 20; capped at 200).
    page_size: Option<i64>,
    /// Case-insensitive substring of e-mail, names or employee id.
    search: Option<String>,
    employment_status: Option<String>,
    platform_status: Option<String>,
    invitation_status: Option<String>,
    role_id: Option<Uuid>,
    department_id: Option<Uuid>,
}

/// Members of the org, `{items, total}`, ordered by name, e-mail, membership id.
#[utoipa::path(get, path = "/org/users", tag = "org-users", params(ListQuery), security(("bearer" = [])),
    responses((status = 200, description = "One page of members"), (status = 403, description = "Missing permission: user.view")))]
pub async fn list(
    State(state): State<AppState>,
    user: Can<perm::UserView>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Envelope<members::Page<members::ListItem>>> {
    let (page, page_size) = members::paging(query.page, query.page_size);
    let employment_status = query
        .employment_status
        .map(|s| people::employment_status(&s).map_or(s, str::to_owned));
    let filter = Filter {
        search: query.search,
        employment_status,
        platform_status: query.platform_status,
        invitation_status: query.invitation_status,
        role_id: query.role_id,
        department_id: query.department_id,
    };
    let (result, _conn) = crate::db::retry::read_retrying_once!(&state.db, |conn| {
        members::list(
            conn,
            user.org_id.as_str(),
            &filter,
            page,
            page_size,
            Shape::Full,
        )
    })
    .await?;
    Ok(Envelope(result))
}

/// One member (UserDetail).
#[utoipa::path(get, path = "/org/users/{membership_id}", tag = "org-users", security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")),
    responses((status = 200, description = "UserDetail"), (status = 404, description = "Membership not found")))]
pub async fn detail(
    State(state): State<AppState>,
    user: Can<perm::UserView>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Envelope<members::UserDetail>> {
    let mut conn = state.db.acquire().await?;
    let detail = members::detail_by_id(&mut conn, user.org_id.as_str(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    Ok(Envelope(detail))
}

// ---------------------------------------------------------------------------------------------
// Single onboarding

/// `POST /org/users` body (OnboardingUserCreate). The profile fields are spelled out instead of
/// a flattened `Profile`: serde's flatten would lose a wrongly typed field's name from the 422
/// (`loc` would be just `body`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct OnboardingRequest {
    #[schema(format = Email)]
    email: String,
    first_name: String,
    last_name: String,
    employee_id: String,
    employment_start_date: Value,
    middle_name: Option<String>,
    preferred_name: Option<String>,
    timezone: Option<String>,
    phone_number: Option<String>,
    marital_status: Option<String>,
    country: Option<String>,
    state: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    postal_code: Option<String>,
    temporary_password: Option<String>,
    employment_status: Option<String>,
}

/// Validates and normalises the single-onboarding body (422 on failure).
fn new_member(req: OnboardingRequest) -> Result<NewMember, Vec<FieldError>> {
    let mut errors = Vec::new();
    let email = match email::normalize(&req.email) {
        Ok(e) => e.to_lowercase(),
        Err(reason) => {
            errors.push(
                FieldError::body(
                    &["email"],
                    "value_error",
                    email::error_message(reason),
                    json!(req.email),
                )
                .with_ctx(json!({"reason": reason})),
            );
            String::new()
        }
    };
    let date = match &req.employment_start_date {
        Value::String(s) => parse_iso_date(s),
        _ => None,
    };
    if date.is_none() {
        errors.push(FieldError::body(
            &["employment_start_date"],
            "date_from_datetime_parsing",
            "Input should be a valid date or datetime, invalid date format",
            req.employment_start_date.clone(),
        ));
    }
    let employment_status = match people::clean(req.employment_status.as_deref()) {
        None => "ACTIVE".to_owned(),
        Some(raw) => match people::employment_status(&raw) {
            Some(s) => s.to_owned(),
            None => {
                errors.push(FieldError::value_error(
                    "body",
                    "employment_status",
                    people::INVALID_EMPLOYMENT_STATUS,
                    json!(raw),
                ));
                String::new()
            }
        },
    };
    let (profile, problems) = Profile {
        first_name: Some(req.first_name),
        middle_name: req.middle_name,
        last_name: Some(req.last_name),
        preferred_name: req.preferred_name,
        timezone: req.timezone,
        phone_number: req.phone_number,
        marital_status: req.marital_status,
        country: req.country,
        state: req.state,
        address_line1: req.address_line1,
        address_line2: req.address_line2,
        postal_code: req.postal_code,
    }
    .normalised();
    errors.extend(problems.into_iter().map(profile_error));
    let member = NewMember {
        email,
        profile,
        temporary_password: req.temporary_password.filter(|p| !p.is_empty()),
        employee_id: req.employee_id.trim().to_owned(),
        employment_start_date: date.unwrap_or(Date::MIN),
        employment_status,
    };
    validate_member_lengths(&member, &mut errors);
    if errors.is_empty() {
        Ok(member)
    } else {
        Err(errors)
    }
}

/// Column limits of a new member (a 4xx instead of a database error).
pub(crate) fn validate_member_lengths(m: &NewMember, errors: &mut Vec<FieldError>) {
    use people::limits as l;
    check_len(errors, "email", Some(&m.email), l::EMAIL);
    errors.extend(m.profile.too_long().into_iter().map(profile_error));
    check_len(errors, "employee_id", Some(&m.employee_id), l::EMPLOYEE_ID);
    if m.employee_id.is_empty() {
        errors.push(FieldError::body(
            &["employee_id"],
            "string_too_short",
            "String should have at least 1 character",
            json!(m.employee_id),
        ));
    }
}

pub(crate) fn refusal_error(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Message(m) => ApiError::bad_request(m),
        Refusal::Constraint { message, details } => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "constraint_error",
            message,
            details,
        ),
        Refusal::Db(e) => ApiError::from(e),
        Refusal::Hash(e) => {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        }
    }
}

pub(crate) fn onboarding_context<'a, M: GuardMode>(
    state: &'a AppState,
    user: &'a CurrentUser<M>,
) -> onboarding::Context<'a> {
    onboarding::Context {
        org_id: user.org_id.as_str(),
        actor_id: user.user_id,
        impersonator_id: user.impersonator_id(),
        passwords: &state.auth.passwords,
        policy: PasswordPolicy::new(state.settings.default_password_min_length),
    }
}

/// Onboards one member: 201 for a new and for an existing member alike; the temporary
/// password is never returned.
#[utoipa::path(post, path = "/org/users", tag = "org-users", request_body = OnboardingRequest, security(("bearer" = [])),
    responses((status = 201, description = "Onboarded (or already onboarded)"), (status = 400, description = "Conflicting employee id or weak password"),
              (status = 403, description = "Missing permission: user.onboard")))]
pub async fn onboard(
    State(state): State<AppState>,
    user: Can<perm::UserOnboard>,
    ApiJson(body): ApiJson<OnboardingRequest>,
) -> ApiResult<Response> {
    let input = new_member(body).map_err(ApiError::validation)?;
    let ctx = onboarding_context(&state, &user);
    let mut tx = state.db.begin().await?;
    let outcome = onboarding::onboard(&mut tx, &ctx, &input)
        .await
        .map_err(refusal_error)?;
    tx.commit().await?;
    if outcome.membership_status == "created" {
        crate::http::guard::user_changed(&state, user.org_id.as_str(), outcome.row.user_id).await;
    }
    let body = json!({
        "user": outcome.row.onboarding_user(),
        "membership": outcome.row.onboarding_membership(),
        "user_status": outcome.user_status,
        "membership_status": outcome.membership_status,
        "credentials_issued": outcome.credentials_issued,
    });
    Ok(no_store(Created(body).into_response()))
}

// ---------------------------------------------------------------------------------------------
// Deletes

/// Deletes one membership; the identity is kept.
#[utoipa::path(delete, path = "/org/users/{membership_id}", tag = "org-users", security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")),
    responses((status = 200, description = "Deleted (data null)"), (status = 404, description = "Membership not found")))]
pub async fn delete(
    State(state): State<AppState>,
    user: Can<perm::UserManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<NoContent> {
    let mut tx = state.db.begin().await?;
    let row = members::delete(&mut tx, &user.actor(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    tx.commit().await?;
    crate::http::guard::user_changed(&state, user.org_id.as_str(), row.user_id).await;
    Ok(NoContent)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct BulkDeleteRequest {
    membership_ids: Vec<String>,
}

/// Deletes several memberships, each in its own transaction; unknown or malformed ids are
/// listed in `not_found`.
#[utoipa::path(post, path = "/org/users/bulk/delete", tag = "org-users", request_body = BulkDeleteRequest, security(("bearer" = [])),
    responses((status = 200, description = "`{deleted, not_found}`")))]
pub async fn bulk_delete(
    State(state): State<AppState>,
    user: Can<perm::UserManage>,
    ApiJson(body): ApiJson<BulkDeleteRequest>,
) -> ApiResult<Envelope<Value>> {
    let mut deleted = 0_i64;
    let mut not_found = Vec::new();
    for raw in body.membership_ids {
        let Ok(id) = Uuid::parse_str(raw.trim()) else {
            not_found.push(raw);
            continue;
        };
        let mut tx = state.db.begin().await?;
        match members::delete(&mut tx, &user.actor(), id).await? {
            Some(row) => {
                tx.commit().await?;
                deleted += 1;
                crate::http::guard::user_changed(&state, user.org_id.as_str(), row.user_id).await;
            }
            None => not_found.push(raw),
        }
    }
    Ok(Envelope(
        json!({"deleted": deleted, "not_found": not_found}),
    ))
}

// ---------------------------------------------------------------------------------------------
// Status

/// `PATCH /org/users/{membership_id}` body; null or an empty string leaves a status as it is.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct StatusUpdate {
    /// Employment status (aliases accepted).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    employment_status: Patch,
    /// INVITED, ENABLED, DISABLED, LOCKED or ACTIVE (any case).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    platform_status: Patch,
}

/// Platform statuses the frontend's strict schema accepts.
const PLATFORM_STATUSES: [&str; 5] = ["INVITED", "ENABLED", "DISABLED", "LOCKED", "ACTIVE"];

/// Changes employment and/or platform status. A result that is not ACTIVE/ACTIVE removes the
/// user's roles, revokes their sessions and invalidates their permission cache.
#[utoipa::path(patch, path = "/org/users/{membership_id}", tag = "org-users", request_body = StatusUpdate, security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")),
    responses((status = 200, description = "UserDetail"), (status = 404, description = "Membership not found"), (status = 422, description = "Invalid status")))]
pub async fn update_status(
    State(state): State<AppState>,
    user: Can<perm::UserManage>,
    ApiPath(id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Envelope<members::UserDetail>> {
    let body: StatusUpdate = patch_body(&body)?;
    let mut errors = Vec::new();
    let employment =
        match patch_text("employment_status", body.employment_status, &mut errors).flatten() {
            None => None,
            Some(v) => match people::employment_status(&v) {
                Some(s) => Some(s.to_owned()),
                None => {
                    errors.push(FieldError::value_error(
                        "body",
                        "employment_status",
                        people::INVALID_EMPLOYMENT_STATUS,
                        json!(v),
                    ));
                    None
                }
            },
        };
    let platform = match patch_text("platform_status", body.platform_status, &mut errors).flatten()
    {
        None => None,
        Some(v) => {
            let upper = v.to_uppercase();
            if PLATFORM_STATUSES.contains(&upper.as_str()) {
                Some(upper)
            } else {
                errors.push(FieldError::value_error(
                    "body",
                    "platform_status",
                    "Invalid platform_status value",
                    json!(v),
                ));
                None
            }
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut tx = state.db.begin().await?;
    let change = members::change_status(
        &mut tx,
        &user.actor(),
        id,
        employment.as_deref(),
        platform.as_deref(),
    )
    .await?
    .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    let detail = members::detail(&mut tx, &change.after).await?;
    tx.commit().await?;
    // Any status change: the guard's cached membership gate must see it (a deactivation also
    // removed the roles).
    crate::http::guard::user_changed(&state, user.org_id.as_str(), change.after.user_id).await;
    Ok(Envelope(detail))
}

// ---------------------------------------------------------------------------------------------
// Profile

/// An admin edits a member's profile and/or `users.email` (login e-mail unchanged).
#[utoipa::path(patch, path = "/org/users/{membership_id}/profile", tag = "org-users", request_body = ProfileUpdate, security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")),
    responses((status = 200, description = "UserDetail"), (status = 400, description = "duplicate_email"), (status = 404, description = "Membership not found")))]
pub async fn update_profile(
    State(state): State<AppState>,
    user: Can<perm::UserManage>,
    _: StepUp<step::UserProfileEdit>,
    ApiPath(id): ApiPath<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<Envelope<members::UserDetail>> {
    let body: ProfileUpdate = patch_body(&body)?;
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let before = members::find(&mut tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;

    let mut errors = Vec::new();
    let new_email = match patch_text("email", body.email, &mut errors).flatten() {
        None => None,
        Some(raw_email) => match email::normalize(&raw_email) {
            Ok(e) if e.chars().count() <= people::limits::EMAIL => Some(e),
            Ok(e) => {
                errors.push(too_long("email", &e, people::limits::EMAIL));
                None
            }
            Err(reason) => {
                errors.push(
                    FieldError::body(
                        &["email"],
                        "value_error",
                        email::error_message(reason),
                        json!(raw_email),
                    )
                    .with_ctx(json!({"reason": reason})),
                );
                None
            }
        },
    };
    let (changes, problems) = body.profile.changes(before.profile.country.as_deref());
    errors.extend(problems.into_iter().map(profile_error));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let duplicate = || {
        ApiError::coded(
            StatusCode::BAD_REQUEST,
            "duplicate_email",
            "Email already exists",
            json!({}),
        )
    };
    if let Some(email) = &new_email
        && !email.eq_ignore_ascii_case(&before.email)
    {
        if services::users::email_taken(&mut tx, org, email, before.user_id).await? {
            return Err(duplicate());
        }
        services::users::set_email(&mut tx, before.user_id, email)
            .await
            .on_constraint("uq_users_org_email", duplicate)?;
    }
    if !changes.is_empty() {
        services::profiles::apply(&mut tx, &before, &changes).await?;
    }
    let after = members::find(&mut tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Membership not found"))?;
    if new_email.is_some() || !changes.is_empty() {
        services::audit::record(
            &mut tx,
            user.audit(
                "user.profile.updated",
                "org_membership",
                id,
                Some(json!({"email": before.email, "profile": before.profile_snapshot()})),
                Some(json!({"email": after.email, "profile": after.profile_snapshot()})),
            ),
        )
        .await?;
    }
    let detail = members::detail(&mut tx, &after).await?;
    tx.commit().await?;
    if new_email.is_some() {
        crate::http::guard::user_changed(&state, org, after.user_id).await;
    } else if !changes.is_empty() {
        // `/auth/me` shows the name: the cached view of every process goes.
        crate::http::guard::views_changed(&state, crate::guard_cache::Scope::User(after.user_id))
            .await;
    }
    Ok(Envelope(detail))
}

// ---------------------------------------------------------------------------------------------
// Password and MFA

/// Refuses an identity-wide change (403) unless the acting org may speak for the whole
/// identity: the actor is a superuser, or the person belongs to this org alone, accepted the
/// membership and is not a superuser (DESIGN.md §4). The refusal names no other org; it is
/// logged with the actor, the org and the target.
async fn may_change_identity<M: GuardMode>(
    conn: &mut sqlx::PgConnection,
    user: &CurrentUser<M>,
    row: &members::MemberRow,
    action: &str,
) -> ApiResult<()> {
    let actor_is_superuser = user.bypasses_permissions() && user.is_superuser;
    let reach = services::identities::reach(conn, row.identity_id, user.org_id.as_str()).await?;
    if membership::may_change_identity(actor_is_superuser, reach) {
        return Ok(());
    }
    tracing::warn!(
        actor_user_id = %user.user_id,
        org_id = user.org_id.as_str(),
        target_membership_id = %row.membership_id,
        action,
        "identity-wide change refused: the org does not hold the whole identity"
    );
    Err(ApiError::forbidden(membership::IDENTITY_CHANGE_REFUSED))
}

/// Flags the member's identity for a password change at next login and revokes its sessions.
#[utoipa::path(post, path = "/org/users/{membership_id}/force-password-reset", tag = "org-users", security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")),
    responses((status = 200, description = "`{message}`"), (status = 400, description = "Own account"), (status = 404, description = "User not found")))]
pub async fn force_password_reset(
    State(state): State<AppState>,
    user: Can<perm::UserManage>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Envelope<Value>> {
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let row = members::find(&mut tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    if row.user_id == user.user_id {
        return Err(ApiError::bad_request(
            "Cannot force-reset your own password. Use change-password instead.",
        ));
    }
    may_change_identity(&mut tx, &user, &row, "force_password_reset").await?;
    let previous = services::identities::force_password_change(&mut tx, row.identity_id).await?;
    let Some(previous) = previous else {
        return Err(ApiError::bad_request("User has no identity record"));
    };
    services::audit::record(
        &mut tx,
        user.audit(
            "user.password.force_reset",
            "user",
            row.user_id,
            Some(json!({"must_change_password": previous})),
            Some(json!({"must_change_password": true})),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::identity_changed(&state, row.identity_id).await;
    Ok(Envelope(
        json!({"message": format!("Password reset required for {}", row.email)}),
    ))
}

/// Turns off a member's MFA: identity fields, their remembered devices in this org and every
/// recovery code.
#[utoipa::path(post, path = "/org/users/{membership_id}/mfa/reset", tag = "org-users", security(("bearer" = [])),
    params(("membership_id" = uuid::Uuid, Path, description = "Membership id")),
    responses((status = 200, description = "`{message}`"), (status = 400, description = "Own account or MFA not enabled"), (status = 404, description = "User not found")))]
pub async fn reset_mfa(
    State(state): State<AppState>,
    user: Can<perm::UserMfaReset>,
    _: StepUp<step::UserMfaReset>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Envelope<Value>> {
    let org = user.org_id.as_str();
    let mut tx = state.db.begin().await?;
    let row = members::find(&mut tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found("User not found"))?;
    if row.user_id == user.user_id {
        return Err(ApiError::bad_request(
            "Cannot reset your own MFA via admin endpoint. Use self-service reset.",
        ));
    }
    may_change_identity(&mut tx, &user, &row, "mfa_reset").await?;
    // The identity's own flag: the member row hides it until the membership is accepted.
    let mfa_enabled = services::identities::mfa_enabled(&mut tx, row.identity_id).await?;
    if mfa_enabled != Some(true) {
        return Err(ApiError::bad_request("User does not have MFA enabled"));
    }
    services::identities::reset_mfa(&mut tx, row.identity_id, Some((org, row.user_id))).await?;
    services::audit::record(
        &mut tx,
        user.audit(
            "user.mfa.reset",
            "user",
            row.user_id,
            Some(json!({"mfa_enabled": true})),
            Some(json!({"mfa_enabled": false})),
        ),
    )
    .await?;
    tx.commit().await?;
    crate::http::guard::identity_changed(&state, row.identity_id).await;
    Ok(Envelope(
        json!({"message": format!("MFA has been reset for user {}", row.email)}),
    ))
}
