//! `/announcements*` (contract/announcements-and-summary.md Part 1): lists, unread, detail,
//! create, update, mark-read and the live stream (`stream.rs`).
//!
//! Fixes over the legacy service (issue 7): lists are ordered newest first (published_at, then
//! created_at, ties by id); a duplicate or over-long title is a 400 with a clear message instead
//! of a 500; a Redis failure while publishing the event is logged and never turns the saved
//! change into a 500.
//!
//! Check order follows the legacy dependency order: tenant and token, then the permission, then
//! the path/query/body validation (so an employee gets 403, not 422, for a bad body).

pub mod stream;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::domain::org::OrgId;
use crate::domain::permissions::{Permission, perm};
use crate::http::envelope::{Created, Envelope};
use crate::http::error::{ApiError, ApiResult, ConstraintExt, FieldError};
use crate::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::http::guard::{Can, CurrentUser, OrgMember};
use crate::http::state::AppState;
use crate::services::announcements::{
    self as svc, AnnouncementOut, Changes, Filter, NewAnnouncement, PUBLISHED, TITLE_MAX_CHARS,
    UNIQUE_TITLE,
};
use crate::services::audit::{self, AuditEntry};

const NOT_FOUND: &str = "Announcement not found";
const DUPLICATE_TITLE: &str = "An announcement with this title already exists";

pub fn router() -> OpenApiRouter<AppState> {
    // Static segments are declared before `/{announcement_id}` (axum prefers them anyway).
    OpenApiRouter::new()
        .routes(routes!(stream::stream))
        .routes(routes!(admin_list))
        .routes(routes!(unread_list))
        .routes(routes!(unread_count))
        .routes(routes!(list, create))
        .routes(routes!(get_one, update))
        .routes(routes!(mark_read))
}

/// `{"items": [...], "total": n}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AnnouncementList {
    pub items: Vec<AnnouncementOut>,
    pub total: i64,
}

/// Raw pagination parameters; validated after the guard and the permission check.
#[derive(Deserialize, Default)]
pub struct PageQuery {
    page: Option<String>,
    page_size: Option<String>,
}

impl PageQuery {
    /// `page` ≥ 1 (default 1) and `page_size` 1–100 (default 20), with pydantic's messages.
    fn validate(&self) -> ApiResult<(i64, i64)> {
        let page = bounded("page", self.page.as_deref(), 1, 1, None)?;
        let page_size = bounded("page_size", self.page_size.as_deref(), 20, 1, Some(100))?;
        Ok((page, page_size))
    }
}

fn bounded(
    name: &str,
    raw: Option<&str>,
    default: i64,
    ge: i64,
    le: Option<i64>,
) -> ApiResult<i64> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let loc = vec![json!("query"), json!(name)];
    let Ok(value) = raw.trim().parse::<i64>() else {
        return Err(ApiError::validation(vec![FieldError {
            kind: "int_parsing",
            loc,
            msg: "Input should be a valid integer, unable to parse string as an integer".into(),
            input: json!(raw),
            ctx: None,
        }]));
    };
    if value < ge {
        return Err(ApiError::validation(vec![FieldError {
            kind: "greater_than_equal",
            loc,
            msg: format!("Input should be greater than or equal to {ge}"),
            input: json!(raw),
            ctx: Some(json!({"ge": ge})),
        }]));
    }
    if let Some(le) = le
        && value > le
    {
        return Err(ApiError::validation(vec![FieldError {
            kind: "less_than_equal",
            loc,
            msg: format!("Input should be less than or equal to {le}"),
            input: json!(raw),
            ctx: Some(json!({"le": le})),
        }]));
    }
    Ok(value)
}

async fn page_of(
    state: &AppState,
    org_id: &OrgId,
    filter: Filter,
    query: &PageQuery,
) -> ApiResult<Envelope<AnnouncementList>> {
    let (page, page_size) = query.validate()?;
    let mut conn = state.db.acquire().await?;
    let (items, total) = svc::list(&mut conn, org_id, filter, page, page_size).await?;
    Ok(Envelope(AnnouncementList { items, total }))
}

/// The org's PUBLISHED announcements (for everyone, managers included).
#[utoipa::path(get, path = "/announcements", tag = "announcements", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, minimum = 1), ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = AnnouncementList), (status = 422, description = "Invalid pagination")))]
async fn list(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<AnnouncementList>> {
    page_of(&state, &user.org_id, Filter::Published, &query).await
}

/// Every announcement of the org, any status (`announcement.manage`).
#[utoipa::path(get, path = "/announcements/admin", tag = "announcements", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, minimum = 1), ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = AnnouncementList), (status = 403, description = "Missing permission: announcement.manage")))]
async fn admin_list(
    State(state): State<AppState>,
    user: Can<perm::AnnouncementManage>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<AnnouncementList>> {
    page_of(&state, &user.org_id, Filter::All, &query).await
}

/// PUBLISHED announcements the current user has not marked read.
#[utoipa::path(get, path = "/announcements/unread", tag = "announcements", security(("bearer" = [])),
    params(("page" = Option<i64>, Query, minimum = 1), ("page_size" = Option<i64>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = AnnouncementList)))]
async fn unread_list(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Envelope<AnnouncementList>> {
    page_of(&state, &user.org_id, Filter::UnreadBy(user.user_id), &query).await
}

/// `{"unread": n}`: the size of the unread list.
#[utoipa::path(get, path = "/announcements/unread/count", tag = "announcements", security(("bearer" = [])),
    responses((status = 200, description = "{\"unread\": n}")))]
async fn unread_count(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
) -> ApiResult<Envelope<Value>> {
    let mut conn = state.db.acquire().await?;
    let unread = svc::unread_count(&mut conn, &user.org_id, user.user_id).await?;
    Ok(Envelope(json!({ "unread": unread })))
}

/// One announcement; a non-published one only for `announcement.manage` (404 otherwise).
#[utoipa::path(get, path = "/announcements/{announcement_id}", tag = "announcements", security(("bearer" = [])),
    params(("announcement_id" = uuid::Uuid, Path)),
    responses((status = 200, body = AnnouncementOut), (status = 404, description = "Announcement not found")))]
async fn get_one(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Envelope<AnnouncementOut>> {
    let org = &user.org_id;
    let mut conn = state.db.acquire().await?;
    let found = svc::find(&mut conn, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    if found.status != PUBLISHED {
        drop(conn);
        match user
            .require_permission(&state, Permission::AnnouncementManage)
            .await
        {
            Ok(()) => {}
            Err(e) if e.status == StatusCode::FORBIDDEN => {
                return Err(ApiError::not_found(NOT_FOUND));
            }
            Err(e) => return Err(e),
        }
        conn = state.db.acquire().await?;
    }
    let reads = svc::read_count(&mut conn, org, id).await?;
    let target = svc::target_count(&mut conn, org).await?;
    Ok(Envelope(found.into_out(reads, target)))
}

/// The create body. `title` and `body` are trimmed and must not be blank.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateAnnouncement {
    #[serde(deserialize_with = "required_text")]
    title: String,
    #[serde(deserialize_with = "required_text")]
    body: String,
    #[serde(default, deserialize_with = "status_opt")]
    status: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "type_opt")]
    #[schema(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "datetime_opt")]
    #[schema(value_type = Option<String>)]
    scheduled_at: Option<OffsetDateTime>,
}

/// The update body: every key optional; blank `title`/`body` are ignored, `scheduled_at: null`
/// clears the schedule.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct UpdateAnnouncement {
    #[serde(default, deserialize_with = "optional_text")]
    title: Option<String>,
    #[serde(default, deserialize_with = "optional_text")]
    body: Option<String>,
    #[serde(default, deserialize_with = "status_opt")]
    status: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "type_opt")]
    #[schema(rename = "type")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "present_datetime")]
    #[schema(value_type = Option<String>)]
    scheduled_at: Option<Option<OffsetDateTime>>,
}

fn custom<E: serde::de::Error>(msg: impl std::fmt::Display) -> E {
    E::custom(msg)
}

fn required_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        Err(custom("Value error, Value cannot be empty"))
    } else {
        Ok(trimmed.to_owned())
    }
}

fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
}

fn status_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| svc::normalize_status(&s).map_err(custom))
        .transpose()
}

fn type_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| svc::normalize_type(&s).map_err(custom))
        .transpose()
}

fn datetime_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_datetime(&s).map(Some).ok_or_else(|| {
            custom("Input should be a valid datetime or date, invalid datetime format")
        }),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
            .map(Some)
            .ok_or_else(|| custom("Input should be a valid datetime")),
        Some(_) => Err(custom("Input should be a valid datetime")),
    }
}

/// Present keys only (absent keeps the `#[serde(default)]` `None`).
fn present_datetime<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
    datetime_opt(d).map(Some)
}

/// pydantic's datetime input: ISO 8601 with `T` or a space, optional seconds and fraction,
/// `Z` or `±HH:MM` (no zone means UTC, as the legacy database read it), or a bare date.
pub fn parse_datetime(raw: &str) -> Option<OffsetDateTime> {
    use time::macros::format_description;
    use time::{Date, PrimitiveDateTime, UtcOffset};

    let s = raw.trim();
    if let Ok(date) = Date::parse(s, format_description!("[year]-[month]-[day]")) {
        return Some(date.midnight().assume_utc());
    }
    let s = s.replacen(' ', "T", 1);
    let (naive, offset) = if let Some(rest) = s.strip_suffix(['Z', 'z']) {
        (rest.to_owned(), UtcOffset::UTC)
    } else if s.len() > 16
        // `get`, not `[11..]`: byte 11 of non-ASCII input may fall inside a character.
        && let Some(pos) = s.get(11..).and_then(|t| t.rfind(['+', '-'])).map(|p| p + 11)
    {
        let offset = UtcOffset::parse(
            &s[pos..],
            format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
        )
        .or_else(|_| {
            UtcOffset::parse(
                &s[pos..],
                format_description!("[offset_hour sign:mandatory][offset_minute]"),
            )
        })
        .ok()?;
        (s[..pos].to_owned(), offset)
    } else {
        (s.clone(), UtcOffset::UTC)
    };
    let formats = [
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
        format_description!("[year]-[month]-[day]T[hour]:[minute]"),
    ];
    formats
        .iter()
        .find_map(|f| PrimitiveDateTime::parse(&naive, f).ok())
        .map(|dt| {
            let dt = dt.assume_offset(offset).to_offset(UtcOffset::UTC);
            // PostgreSQL keeps microseconds.
            dt.replace_nanosecond(dt.nanosecond() / 1_000 * 1_000)
                .unwrap_or(dt)
        })
}

/// 400 instead of the legacy 500 (the column is varchar(255)).
fn check_title(title: &str) -> ApiResult<()> {
    if title.chars().count() > TITLE_MAX_CHARS {
        return Err(ApiError::bad_request(format!(
            "Announcement title must be at most {TITLE_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// Creates an announcement (default DRAFT / GENERAL); a PUBLISHED one is announced on the
/// stream after the commit.
#[utoipa::path(post, path = "/announcements", tag = "announcements", security(("bearer" = [])),
    request_body = CreateAnnouncement,
    responses((status = 201, body = AnnouncementOut), (status = 400, description = "Duplicate or over-long title"),
        (status = 403, description = "Missing permission: announcement.manage"), (status = 422, description = "Validation error")))]
async fn create(
    State(state): State<AppState>,
    user: Can<perm::AnnouncementManage>,
    ApiJson(input): ApiJson<CreateAnnouncement>,
) -> ApiResult<Created<AnnouncementOut>> {
    check_title(&input.title)?;
    let org = &user.org_id;
    let new = NewAnnouncement {
        title: input.title,
        body: input.body,
        status: input.status.unwrap_or_else(|| "DRAFT".to_owned()),
        kind: input.kind.unwrap_or_else(|| "GENERAL".to_owned()),
        scheduled_at: input.scheduled_at,
    };
    let mut tx = state.db.begin().await?;
    let created = svc::create(&mut tx, org, new)
        .await
        .on_constraint(UNIQUE_TITLE, || ApiError::bad_request(DUPLICATE_TITLE))?;
    audit::record(
        &mut tx,
        AuditEntry {
            org_id: org.as_str(),
            actor_id: Some(user.user_id),
            impersonator_id: None,
            action: "announcement.created",
            resource_type: "announcement",
            resource_id: created.id.to_string(),
            old_value: None,
            new_value: Some(created.snapshot()),
        },
    )
    .await?;
    let target = svc::target_count(&mut tx, org).await?;
    tx.commit().await?;
    if created.status == PUBLISHED {
        publish(&state, &created).await;
    }
    Ok(Created(created.into_out(0, target)))
}

/// Updates an announcement (legacy rules: blank title/body ignored, publish keeps an existing
/// published_at, any other status clears it); announced on the stream whenever the result is
/// PUBLISHED.
#[utoipa::path(patch, path = "/announcements/{announcement_id}", tag = "announcements", security(("bearer" = [])),
    params(("announcement_id" = uuid::Uuid, Path)), request_body = UpdateAnnouncement,
    responses((status = 200, body = AnnouncementOut), (status = 400, description = "Duplicate or over-long title"),
        (status = 403, description = "Missing permission: announcement.manage"), (status = 404, description = "Announcement not found")))]
async fn update(
    State(state): State<AppState>,
    user: Can<perm::AnnouncementManage>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<UpdateAnnouncement>,
) -> ApiResult<Envelope<AnnouncementOut>> {
    if let Some(title) = &input.title {
        check_title(title)?;
    }
    let org = &user.org_id;
    let mut tx = state.db.begin().await?;
    let current = svc::find_for_update(&mut tx, org, id)
        .await?
        .ok_or_else(|| ApiError::not_found(NOT_FOUND))?;
    let changes = Changes {
        title: input.title,
        body: input.body,
        status: input.status,
        kind: input.kind,
        scheduled_at: input.scheduled_at,
    };
    let updated = svc::update(&mut tx, &current, changes)
        .await
        .on_constraint(UNIQUE_TITLE, || ApiError::bad_request(DUPLICATE_TITLE))?;
    audit::record(
        &mut tx,
        AuditEntry {
            org_id: org.as_str(),
            actor_id: Some(user.user_id),
            impersonator_id: None,
            action: "announcement.updated",
            resource_type: "announcement",
            resource_id: updated.id.to_string(),
            old_value: Some(current.snapshot()),
            new_value: Some(updated.snapshot()),
        },
    )
    .await?;
    let reads = svc::read_count(&mut tx, org, id).await?;
    let target = svc::target_count(&mut tx, org).await?;
    tx.commit().await?;
    if updated.status == PUBLISHED {
        publish(&state, &updated).await;
    }
    Ok(Envelope(updated.into_out(reads, target)))
}

/// Marks a PUBLISHED announcement read for the current user (idempotent, no audit row).
#[utoipa::path(post, path = "/announcements/{announcement_id}/read", tag = "announcements", security(("bearer" = [])),
    params(("announcement_id" = uuid::Uuid, Path)),
    responses((status = 200, description = "{\"status\": \"ok\"}"), (status = 404, description = "Announcement not found")))]
async fn mark_read(
    State(state): State<AppState>,
    user: CurrentUser<OrgMember>,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Envelope<Value>> {
    let mut tx = state.db.begin().await?;
    if !svc::mark_read(&mut tx, &user.org_id, id, user.user_id).await? {
        return Err(ApiError::not_found(NOT_FOUND));
    }
    tx.commit().await?;
    Ok(Envelope(json!({"status": "ok"})))
}

/// After the commit: a Redis failure is logged by the hub, never returned.
async fn publish(state: &AppState, announcement: &svc::Announcement) {
    const PUBLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);
    let payload = announcement.event_payload();
    let sent = state
        .announcements
        .publish(&state.cache, &announcement.org_id, &payload);
    if tokio::time::timeout(PUBLISH_TIMEOUT, sent).await.is_err() {
        tracing::error!(
            announcement_id = %announcement.id,
            "publishing the announcement event timed out; the change is saved"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn datetimes_parse_like_pydantic_and_naive_means_utc() {
        assert_eq!(
            parse_datetime("2026-12-01T10:30"),
            Some(datetime!(2026-12-01 10:30 UTC))
        );
        assert_eq!(
            parse_datetime("2026-12-01 10:30:15.5Z"),
            Some(datetime!(2026-12-01 10:30:15.5 UTC))
        );
        assert_eq!(
            parse_datetime("2026-12-01T12:30:00+02:00"),
            Some(datetime!(2026-12-01 10:30 UTC))
        );
        assert_eq!(
            parse_datetime("2026-12-01"),
            Some(datetime!(2026-12-01 0:00 UTC))
        );
        assert_eq!(parse_datetime("soon"), None);
        assert_eq!(parse_datetime("2026-12-01é10:30:00+02:00"), None);
        assert_eq!(parse_datetime("ééééééééééééééééé"), None);
        assert_eq!(parse_datetime("2026-13-01T10:30"), None);
    }

    #[test]
    fn pagination_bounds_read_like_pydantic() {
        let q = PageQuery {
            page: None,
            page_size: Some("101".into()),
        };
        assert_eq!(
            q.validate().unwrap_err().message,
            "page_size: Input should be less than or equal to 100"
        );
        let q = PageQuery {
            page: Some("0".into()),
            page_size: None,
        };
        assert_eq!(
            q.validate().unwrap_err().message,
            "page: Input should be greater than or equal to 1"
        );
        assert_eq!(PageQuery::default().validate().unwrap(), (1, 20));
    }
}
