//! Members of an org as the user pages read them (contract §3 "UserDetail", frontend-client
//! §10.2–§10.3): the user/membership/profile join, role summaries, list filters, pagination and
//! a stable order.
//!
//! Every shape here keeps the legacy key order. Optional fields the frontend validates strictly
//! (`is_active`, `is_superuser`, `mfa_enabled`, `created_at`, `invitation_status`, role
//! `is_system_role`) come from NOT NULL columns, so they are always real values, never null.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::domain::geo;
use crate::domain::profile::Profile;
use crate::services::audit::{self, Actor};
use crate::timefmt;

/// One member: the membership with its user, identity flag, org name, department and profile.
/// The identity's MFA flag reads false until the membership is accepted: an org that merely
/// invited an existing identity learns nothing about it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub membership_id: Uuid,
    pub org_id: String,
    pub user_id: Uuid,
    pub employee_id: String,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
    pub employment_start_date: Option<Date>,
    pub employment_status: String,
    pub platform_status: String,
    pub invitation_status: String,
    pub invited_at: Option<OffsetDateTime>,
    pub accepted_at: Option<OffsetDateTime>,
    pub membership_created_at: OffsetDateTime,
    pub email: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub user_created_at: OffsetDateTime,
    pub identity_id: Uuid,
    pub mfa_enabled: bool,
    pub org_name: Option<String>,
    pub profile_id: Option<Uuid>,
    pub full_name: Option<String>,
    #[sqlx(flatten)]
    pub profile: Profile,
}

const MEMBER_SELECT: &str = "SELECT m.id AS membership_id, m.org_id, m.user_id, m.employee_id, m.department_id, \
        d.name AS department_name, m.employment_start_date, m.employment_status, m.platform_status, \
        m.invitation_status, m.invited_at, m.accepted_at, m.created_at AS membership_created_at, \
        u.email, u.is_active, u.is_superuser, u.created_at AS user_created_at, u.identity_id, \
        COALESCE(i.mfa_enabled AND upper(m.invitation_status) = 'ACCEPTED', false) AS mfa_enabled, o.name AS org_name, p.id AS profile_id, \
        p.full_name, p.first_name, p.middle_name, p.last_name, p.preferred_name, p.timezone, \
        p.phone_number, p.marital_status, p.country, p.state, p.address_line1, p.address_line2, \
        p.postal_code \
     FROM org_memberships m \
     JOIN users u ON u.id = m.user_id \
     LEFT JOIN identities i ON i.id = u.identity_id \
     LEFT JOIN orgs o ON o.id = m.org_id \
     LEFT JOIN departments d ON d.id = m.department_id AND d.org_id = m.org_id \
     LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id";

/// Stable order: membership creation, then id — the legacy service's insertion order made
/// explicit. An index on `(org_id, created_at, id)` serves it, so a page reads its 20 rows
/// instead of sorting the whole org (a name order cost a full join and sort per request).
const MEMBER_ORDER: &str = " ORDER BY m.created_at ASC, m.id ASC";

fn date_string(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

mod date_opt {
    use serde::Serializer;
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::date_string(*d)),
            None => s.serialize_none(),
        }
    }
}

/// `user` of a list item / UserDetail.
#[derive(Clone, Debug, Serialize)]
pub struct UserSummary {
    pub id: Uuid,
    pub org_id: String,
    pub org_name: Option<String>,
    pub email: String,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub preferred_name: Option<String>,
    pub timezone: Option<String>,
    pub phone_number: Option<String>,
    pub marital_status: Option<String>,
    /// Display name of the country (the stored code when unknown).
    pub country: Option<String>,
    pub state: Option<String>,
    pub country_code: Option<String>,
    pub state_code: Option<String>,
    pub country_name: Option<String>,
    pub state_name: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub postal_code: Option<String>,
    pub is_active: bool,
    pub is_superuser: bool,
    pub mfa_enabled: bool,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

/// `membership` of a list item / UserDetail.
#[derive(Clone, Debug, Serialize)]
pub struct MembershipSummary {
    pub id: Uuid,
    pub org_id: String,
    pub user_id: Uuid,
    pub employee_id: String,
    pub department_id: Option<Uuid>,
    pub department_name: Option<String>,
    #[serde(with = "date_opt")]
    pub employment_start_date: Option<Date>,
    pub employment_status: String,
    pub platform_status: String,
    pub invitation_status: String,
    #[serde(with = "timefmt::z::option")]
    pub invited_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

/// `user` of the onboarding responses (raw stored codes, no org name or MFA flag).
#[derive(Clone, Debug, Serialize)]
pub struct OnboardingUser {
    pub id: Uuid,
    pub org_id: String,
    pub email: String,
    #[serde(flatten)]
    pub profile: Profile,
    pub is_active: bool,
    pub is_superuser: bool,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

/// `membership` of the onboarding responses (no department fields).
#[derive(Clone, Debug, Serialize)]
pub struct OnboardingMembership {
    pub id: Uuid,
    pub org_id: String,
    pub user_id: Uuid,
    pub employee_id: String,
    #[serde(with = "date_opt")]
    pub employment_start_date: Option<Date>,
    pub employment_status: String,
    pub platform_status: String,
    pub invitation_status: String,
    #[serde(with = "timefmt::z::option")]
    pub invited_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z::option")]
    pub accepted_at: Option<OffsetDateTime>,
    #[serde(with = "timefmt::z")]
    pub created_at: OffsetDateTime,
}

/// A role as the user pages list it (raw stored name).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct RoleSummary {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_system_role: bool,
}

/// One entry of a user list.
#[derive(Clone, Debug, Serialize)]
pub struct ListItem {
    pub user: UserSummary,
    pub membership: MembershipSummary,
    pub roles: Vec<RoleSummary>,
}

/// `{items, total}`.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
}

/// UserDetail: a list item plus the org name and the sorted raw role names.
#[derive(Clone, Debug, Serialize)]
pub struct UserDetail {
    pub user: UserSummary,
    pub membership: MembershipSummary,
    pub roles: Vec<RoleSummary>,
    pub organization_name: Option<String>,
    pub role_names: Vec<String>,
}

/// How much of the profile a summary carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Everything (users list, detail, self profile).
    Full,
    /// The legacy role/department member lists: org name and every profile field null.
    Bare,
}

fn display_country(code: Option<&str>) -> Option<String> {
    code.map(|c| geo::country_name(c).map_or_else(|| c.to_owned(), str::to_owned))
}

fn display_state(country: Option<&str>, state: Option<&str>) -> Option<String> {
    state.map(|s| {
        country
            .and_then(|c| geo::subdivision_name(c, s))
            .map_or_else(|| s.to_owned(), str::to_owned)
    })
}

impl MemberRow {
    pub fn user_summary(&self, shape: Shape) -> UserSummary {
        let full = shape == Shape::Full;
        let pick = |v: &Option<String>| if full { v.clone() } else { None };
        let country_name = if full {
            display_country(self.profile.country.as_deref())
        } else {
            None
        };
        let state_name = if full {
            display_state(
                self.profile.country.as_deref(),
                self.profile.state.as_deref(),
            )
        } else {
            None
        };
        UserSummary {
            id: self.user_id,
            org_id: self.org_id.clone(),
            org_name: pick(&self.org_name),
            email: self.email.clone(),
            first_name: pick(&self.profile.first_name),
            middle_name: pick(&self.profile.middle_name),
            last_name: pick(&self.profile.last_name),
            preferred_name: pick(&self.profile.preferred_name),
            timezone: pick(&self.profile.timezone),
            phone_number: pick(&self.profile.phone_number),
            marital_status: pick(&self.profile.marital_status),
            country: country_name.clone(),
            state: state_name.clone(),
            country_code: pick(&self.profile.country),
            state_code: pick(&self.profile.state),
            country_name,
            state_name,
            address_line1: pick(&self.profile.address_line1),
            address_line2: pick(&self.profile.address_line2),
            postal_code: pick(&self.profile.postal_code),
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            mfa_enabled: self.mfa_enabled,
            created_at: self.user_created_at,
        }
    }

    pub fn membership_summary(&self) -> MembershipSummary {
        MembershipSummary {
            id: self.membership_id,
            org_id: self.org_id.clone(),
            user_id: self.user_id,
            employee_id: self.employee_id.clone(),
            department_id: self.department_id,
            department_name: self.department_name.clone(),
            employment_start_date: self.employment_start_date,
            employment_status: self.employment_status.clone(),
            platform_status: self.platform_status.clone(),
            invitation_status: self.invitation_status.clone(),
            invited_at: self.invited_at,
            accepted_at: self.accepted_at,
            created_at: self.membership_created_at,
        }
    }

    pub fn onboarding_user(&self) -> OnboardingUser {
        OnboardingUser {
            id: self.user_id,
            org_id: self.org_id.clone(),
            email: self.email.clone(),
            profile: self.profile.clone(),
            is_active: self.is_active,
            is_superuser: self.is_superuser,
            created_at: self.user_created_at,
        }
    }

    pub fn onboarding_membership(&self) -> OnboardingMembership {
        OnboardingMembership {
            id: self.membership_id,
            org_id: self.org_id.clone(),
            user_id: self.user_id,
            employee_id: self.employee_id.clone(),
            employment_start_date: self.employment_start_date,
            employment_status: self.employment_status.clone(),
            platform_status: self.platform_status.clone(),
            invitation_status: self.invitation_status.clone(),
            invited_at: self.invited_at,
            accepted_at: self.accepted_at,
            created_at: self.membership_created_at,
        }
    }

    /// The profile as an audit snapshot (`+00:00` datetimes), without secrets.
    pub fn profile_snapshot(&self) -> serde_json::Value {
        let mut snapshot = serde_json::json!({
            "membership_id": self.membership_id,
            "org_id": self.org_id,
            "full_name": self.full_name,
        });
        if let (Some(out), Ok(serde_json::Value::Object(fields))) = (
            snapshot.as_object_mut(),
            serde_json::to_value(&self.profile),
        ) {
            out.extend(fields);
        }
        snapshot
    }

    /// The membership as an audit snapshot.
    pub fn membership_snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.membership_id,
            "org_id": self.org_id,
            "user_id": self.user_id,
            "employee_id": self.employee_id,
            "department_id": self.department_id,
            "employment_start_date": self.employment_start_date.map(date_string),
            "employment_status": self.employment_status,
            "platform_status": self.platform_status,
            "invitation_status": self.invitation_status,
            "invited_at": self.invited_at.map(timefmt::iso_offset),
            "accepted_at": self.accepted_at.map(timefmt::iso_offset),
            "created_at": timefmt::iso_offset(self.membership_created_at),
        })
    }

    /// The onboarding response objects as an audit snapshot (`user.onboarded`).
    pub fn onboarded_snapshot(&self) -> serde_json::Value {
        let user = self.onboarding_user();
        let mut user_json = serde_json::to_value(&user).unwrap_or_default();
        if let Some(obj) = user_json.as_object_mut() {
            obj.insert(
                "created_at".into(),
                timefmt::iso_offset(self.user_created_at).into(),
            );
        }
        serde_json::json!({"user": user_json, "membership": self.membership_snapshot()})
    }
}

/// One membership of `org_id` by id.
pub async fn find(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 AND m.id = $2"
    )))
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(conn)
    .await
}

/// The membership of `user_id` in `org_id`.
pub async fn find_by_user(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{MEMBER_SELECT} WHERE m.org_id = $1 AND m.user_id = $2"
    )))
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// Roles of each of `user_ids` in `org_id`, by user, ordered by role name.
pub async fn roles_of(
    conn: &mut PgConnection,
    org_id: &str,
    user_ids: &[Uuid],
) -> sqlx::Result<HashMap<Uuid, Vec<RoleSummary>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        user_id: Uuid,
        id: Uuid,
        name: String,
        description: Option<String>,
        is_system_role: bool,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT ur.user_id, r.id, r.name, r.description, r.is_system_role \
         FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
         WHERE ur.org_id = $1 AND ur.user_id = ANY($2) \
         ORDER BY ur.user_id, ur.created_at, r.name, r.id",
    )
    .bind(org_id)
    .bind(user_ids)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<Uuid, Vec<RoleSummary>> = HashMap::new();
    for r in rows {
        out.entry(r.user_id).or_default().push(RoleSummary {
            id: r.id,
            name: r.name,
            description: r.description,
            is_system_role: r.is_system_role,
        });
    }
    Ok(out)
}

/// The UserDetail of a loaded member.
pub async fn detail(conn: &mut PgConnection, row: &MemberRow) -> sqlx::Result<UserDetail> {
    let mut roles = roles_of(conn, &row.org_id, &[row.user_id]).await?;
    let roles = roles.remove(&row.user_id).unwrap_or_default();
    let mut role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
    role_names.sort();
    Ok(UserDetail {
        user: row.user_summary(Shape::Full),
        membership: row.membership_summary(),
        roles,
        organization_name: row.org_name.clone(),
        role_names,
    })
}

/// The UserDetail of membership `membership_id` in `org_id`, if it exists there: the member
/// and their roles in one statement.
pub async fn detail_by_id(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<UserDetail>> {
    detail_where(conn, "m.id = $2", org_id, membership_id).await
}

/// The UserDetail of `user_id`'s membership in `org_id` (the caller's own profile), in one
/// statement.
pub async fn detail_by_user(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<UserDetail>> {
    detail_where(conn, "m.user_id = $2", org_id, user_id).await
}

/// One member (`m.org_id = $1 AND <condition on $2>`) with their roles: the member row of
/// [`find`] and the roles of [`roles_of`], in that order, from one statement.
async fn detail_where(
    conn: &mut PgConnection,
    condition: &'static str,
    org_id: &str,
    key: Uuid,
) -> sqlx::Result<Option<UserDetail>> {
    let row: Option<PageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT pg.*, rl.*, 0::int8 AS total \
         FROM ({MEMBER_SELECT} WHERE m.org_id = $1 AND {condition}) pg {PAGE_ROLES}"
    )))
    .bind(org_id)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|mut row| {
        let roles = row.roles();
        let mut role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
        role_names.sort();
        UserDetail {
            user: row.member.user_summary(Shape::Full),
            membership: row.member.membership_summary(),
            roles,
            organization_name: row.member.org_name.clone(),
            role_names,
        }
    }))
}

/// The largest page the lists serve (the legacy had no maximum).
pub const MAX_PAGE_SIZE: i64 = 200;
pub const DEFAULT_PAGE_SIZE: i64 = 20;

/// `page` < 1 becomes 1; `page_size` < 1 becomes 20 and is capped at [`MAX_PAGE_SIZE`].
pub fn paging(page: Option<i64>, page_size: Option<i64>) -> (i64, i64) {
    let page = page.filter(|p| *p >= 1).unwrap_or(1);
    let size = page_size
        .filter(|s| *s >= 1)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    (page, size)
}

/// Filters of the user lists; all optional and combined with AND.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub search: Option<String>,
    pub employment_status: Option<String>,
    pub platform_status: Option<String>,
    pub invitation_status: Option<String>,
    pub role_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
}

/// The WHERE clause for `org_id` and the active filters only: with no filter the planner
/// serves a page straight from the `(org_id, created_at, id)` index, which a catch-all
/// `($n IS NULL OR …)` clause in a prepared statement would prevent.
#[allow(clippy::too_many_arguments)]
fn push_filter(
    qb: &mut sqlx::QueryBuilder<sqlx::Postgres>,
    org_id: &str,
    pattern: &Option<String>,
    employment: &Option<String>,
    platform: &Option<String>,
    invitation: &Option<String>,
    role_id: Option<Uuid>,
    department_id: Option<Uuid>,
) {
    qb.push(" WHERE m.org_id = ").push_bind(org_id.to_owned());
    if let Some(pattern) = pattern {
        qb.push(" AND (u.email ILIKE ").push_bind(pattern.clone());
        for column in [
            "p.full_name",
            "p.first_name",
            "p.last_name",
            "p.preferred_name",
            "m.employee_id",
        ] {
            qb.push(" OR ")
                .push(column)
                .push(" ILIKE ")
                .push_bind(pattern.clone());
        }
        qb.push(")");
    }
    for (column, value) in [
        ("m.employment_status", employment),
        ("m.platform_status", platform),
        ("m.invitation_status", invitation),
    ] {
        if let Some(value) = value {
            qb.push(" AND upper(")
                .push(column)
                .push(") = upper(")
                .push_bind(value.clone())
                .push(")");
        }
    }
    if let Some(role_id) = role_id {
        qb.push(
            " AND EXISTS (SELECT 1 FROM user_roles ur WHERE ur.org_id = m.org_id AND ur.user_id = m.user_id \
             AND ur.role_id = ",
        )
        .push_bind(role_id)
        .push(")");
    }
    if let Some(department_id) = department_id {
        qb.push(" AND m.department_id = ").push_bind(department_id);
    }
}

/// `%term%` with LIKE metacharacters escaped; `None` for a blank term.
fn like_pattern(term: Option<&str>) -> Option<String> {
    let term = term.map(str::trim).filter(|t| !t.is_empty())?;
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

/// A page row: the member, its roles as parallel arrays (NULL when it has none) and the total.
#[derive(sqlx::FromRow)]
struct PageRow {
    #[sqlx(flatten)]
    member: MemberRow,
    role_ids: Option<Vec<Uuid>>,
    role_names: Option<Vec<String>>,
    role_descriptions: Option<Vec<Option<String>>>,
    role_system: Option<Vec<bool>>,
    total: i64,
}

impl PageRow {
    fn roles(&mut self) -> Vec<RoleSummary> {
        let ids = self.role_ids.take().unwrap_or_default();
        let names = self.role_names.take().unwrap_or_default();
        let descriptions = self.role_descriptions.take().unwrap_or_default();
        let system = self.role_system.take().unwrap_or_default();
        ids.into_iter()
            .zip(names)
            .zip(descriptions)
            .zip(system)
            .map(|(((id, name), description), is_system_role)| RoleSummary {
                id,
                name,
                description,
                is_system_role,
            })
            .collect()
    }
}

/// Each member's roles in the order [`roles_of`] gives them (assignment time, then name).
const PAGE_ROLES: &str = "LEFT JOIN LATERAL (SELECT \
        array_agg(r.id ORDER BY ur.created_at, r.name, r.id) AS role_ids, \
        array_agg(r.name ORDER BY ur.created_at, r.name, r.id) AS role_names, \
        array_agg(r.description ORDER BY ur.created_at, r.name, r.id) AS role_descriptions, \
        array_agg(r.is_system_role ORDER BY ur.created_at, r.name, r.id) AS role_system \
     FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
     WHERE ur.org_id = pg.org_id AND ur.user_id = pg.user_id) rl ON true";

/// One page of members of `org_id` and the total matching the filter.
///
/// One statement answers it: the page (served in order from the `(org_id, created_at, id)`
/// index), each member's roles through the `(org_id, user_id, role_id)` index, and the count
/// as a subquery PostgreSQL runs once. Three round trips cost more than the work itself, and
/// fetching roles by `user_id = ANY($n)` scanned every role assignment of the org. Only a page
/// past the end (no row to carry the total) needs a second statement for the count.
pub async fn list(
    conn: &mut PgConnection,
    org_id: &str,
    filter: &Filter,
    page: i64,
    page_size: i64,
    shape: Shape,
) -> sqlx::Result<Page<ListItem>> {
    let pattern = like_pattern(filter.search.as_deref());
    let blank = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let employment = blank(&filter.employment_status);
    let platform = blank(&filter.platform_status);
    let invitation = blank(&filter.invitation_status);
    let filter_on = |qb: &mut sqlx::QueryBuilder<sqlx::Postgres>| {
        push_filter(
            qb,
            org_id,
            &pattern,
            &employment,
            &platform,
            &invitation,
            filter.role_id,
            filter.department_id,
        );
    };
    // Every membership has its users row (NOT NULL foreign key), so the joins are needed only
    // for a search; without one the count reads the org's memberships alone.
    let count_from = if pattern.is_some() {
        "SELECT count(*) FROM org_memberships m JOIN users u ON u.id = m.user_id \
         LEFT JOIN org_user_profiles p ON p.org_id = m.org_id AND p.membership_id = m.id"
    } else {
        "SELECT count(*) FROM org_memberships m"
    };
    let offset = (page - 1).saturating_mul(page_size);

    let mut select = sqlx::QueryBuilder::new("SELECT pg.*, rl.*, (");
    select.push(count_from);
    filter_on(&mut select);
    select.push(") AS total FROM (").push(MEMBER_SELECT);
    filter_on(&mut select);
    // LIMIT and OFFSET are written as literals (validated integers): as parameters, the
    // generic plan could not know how few rows a page needs, so PostgreSQL re-planned this
    // statement on every call (0.75 ms of planning for 0.1 ms of execution).
    select.push(format!(
        "{MEMBER_ORDER} LIMIT {page_size} OFFSET {offset}) pg {PAGE_ROLES} \
         ORDER BY pg.membership_created_at, pg.membership_id"
    ));
    let rows: Vec<PageRow> = select.build_query_as().fetch_all(&mut *conn).await?;

    let total = match rows.first() {
        Some(row) => row.total,
        None => {
            let mut count = sqlx::QueryBuilder::new(count_from);
            filter_on(&mut count);
            count.build_query_scalar().fetch_one(&mut *conn).await?
        }
    };
    let items = rows
        .into_iter()
        .map(|mut row| ListItem {
            roles: row.roles(),
            user: row.member.user_summary(shape),
            membership: row.member.membership_summary(),
        })
        .collect();
    Ok(Page { items, total })
}

/// The self-service switches of `org_settings` (a missing row means the defaults: both on).
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct SelfServicePolicy {
    pub allow_profile_edit: bool,
    pub allow_user_data_export: bool,
}

pub async fn self_service_policy(
    conn: &mut PgConnection,
    org_id: &str,
) -> sqlx::Result<SelfServicePolicy> {
    let row: Option<SelfServicePolicy> = sqlx::query_as(
        "SELECT allow_profile_edit, allow_user_data_export FROM org_settings WHERE org_id = $1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.unwrap_or(SelfServicePolicy {
        allow_profile_edit: true,
        allow_user_data_export: true,
    }))
}

// ---------------------------------------------------------------------------------------------
// Changes (the caller's transaction; the audit rows are written here, before its commit)

/// Deletes the membership (the profile cascades) and the `users` row when it has no other
/// membership, with their audit rows. `None` when the membership is not in the actor's org.
pub async fn delete(
    conn: &mut PgConnection,
    actor: &Actor<'_>,
    membership_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    let Some(row) = find(conn, actor.org_id, membership_id).await? else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM org_memberships WHERE org_id = $1 AND id = $2")
        .bind(actor.org_id)
        .bind(membership_id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        actor.entry(
            "user.membership.deleted",
            "org_membership",
            membership_id,
            Some(
                json!({"membership": row.membership_snapshot(), "profile": row.profile_snapshot()}),
            ),
            None,
        ),
    )
    .await?;
    let others: i64 = sqlx::query_scalar("SELECT count(*) FROM org_memberships WHERE user_id = $1")
        .bind(row.user_id)
        .fetch_one(&mut *conn)
        .await?;
    if others == 0 {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(row.user_id)
            .execute(&mut *conn)
            .await?;
        audit::record(
            conn,
            actor.entry(
                "user.deleted",
                "user",
                row.user_id,
                Some(json!({
                    "id": row.user_id,
                    "org_id": row.org_id,
                    "email": row.email,
                    "is_active": row.is_active,
                    "is_superuser": row.is_superuser,
                    "identity_id": row.identity_id,
                })),
                None,
            ),
        )
        .await?;
    }
    Ok(Some(row))
}

/// The result of a status change.
#[derive(Debug)]
pub struct StatusChange {
    pub after: MemberRow,
    /// The member is no longer ACTIVE/ACTIVE: their roles are gone and their sessions revoked,
    /// so the caller invalidates their cached permissions after the commit.
    pub deactivated: bool,
}

/// Changes employment and/or platform status (`None` keeps a value). A result that is not
/// ACTIVE/ACTIVE removes every role of the user in the org (audit `role.removed` each), which
/// ends the sessions in this org only (the membership gate refuses them); then the `user.membership.updated` row. `None` when the
/// membership is not in the actor's org.
pub async fn change_status(
    conn: &mut PgConnection,
    actor: &Actor<'_>,
    membership_id: Uuid,
    employment_status: Option<&str>,
    platform_status: Option<&str>,
) -> sqlx::Result<Option<StatusChange>> {
    let org = actor.org_id;
    let Some(before) = find(conn, org, membership_id).await? else {
        return Ok(None);
    };
    sqlx::query(
        "UPDATE org_memberships SET employment_status = COALESCE($3, employment_status), \
         platform_status = COALESCE($4, platform_status), updated_at = now() \
         WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(membership_id)
    .bind(employment_status)
    .bind(platform_status)
    .execute(&mut *conn)
    .await?;
    let Some(after) = find(conn, org, membership_id).await? else {
        return Ok(None);
    };
    let deactivated = after.employment_status != "ACTIVE" || after.platform_status != "ACTIVE";
    if deactivated {
        // The guard and the refresh check this membership on every request, so its sessions
        // end here; the identity's other orgs keep theirs (no identity-wide token bump).
        remove_roles(conn, actor, &after).await?;
    }
    audit::record(
        conn,
        actor.entry(
            "user.membership.updated",
            "org_membership",
            membership_id,
            Some(before.membership_snapshot()),
            Some(after.membership_snapshot()),
        ),
    )
    .await?;
    Ok(Some(StatusChange { after, deactivated }))
}

/// Removes every role of `row`'s user in the org, one `role.removed` audit row each.
async fn remove_roles(
    conn: &mut PgConnection,
    actor: &Actor<'_>,
    row: &MemberRow,
) -> sqlx::Result<()> {
    let removed: Vec<Uuid> = sqlx::query_scalar(
        "DELETE FROM user_roles WHERE org_id = $1 AND user_id = $2 RETURNING role_id",
    )
    .bind(actor.org_id)
    .bind(row.user_id)
    .fetch_all(&mut *conn)
    .await?;
    for role_id in removed {
        audit::record(
            conn,
            actor.entry(
                "role.removed",
                "user_role",
                format!("{}:{}", row.user_id, role_id),
                Some(json!({"user_id": row.user_id, "role_id": role_id})),
                None,
            ),
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_clamps() {
        assert_eq!(paging(None, None), (1, 20));
        assert_eq!(paging(Some(0), Some(0)), (1, 20));
        assert_eq!(paging(Some(-3), Some(-5)), (1, 20));
        assert_eq!(paging(Some(2), Some(1_000_000_000)), (2, MAX_PAGE_SIZE));
        assert_eq!(paging(Some(3), Some(5)), (3, 5));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern(Some(" a_b% ")), Some("%a\\_b\\%%".into()));
        assert_eq!(like_pattern(Some("  ")), None);
    }

    #[test]
    fn display_names_fall_back_to_codes() {
        assert_eq!(display_country(Some("ca")), Some("Canada".into()));
        assert_eq!(display_country(Some("ZZ")), Some("ZZ".into()));
        assert_eq!(
            display_state(Some("ca"), Some("on")),
            Some("Ontario".into())
        );
        assert_eq!(display_state(Some("US"), Some("XX")), Some("XX".into()));
    }
}
