//! Onboarding: one member (`POST /org/users`) and the per-row loop of the CSV upload
//! (`POST /org/users/bulk`), contract §3 "Org users / onboarding" and DESIGN.md §4.
//!
//! [`onboard`] works in the caller's transaction. [`bulk_row`] is the one place that opens and
//! commits its own transaction per CSV row, so rows are isolated from each other and every
//! created row has its audit row.

use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use time::Date;
use uuid::Uuid;

use crate::auth::password::{self, PasswordHasher};
use crate::auth::policy::{self, PasswordPolicy};
use crate::domain::permissions::SystemRole;
use crate::domain::profile::Profile;
use crate::services::audit::{self, AuditEntry};
use crate::services::members::{self, MemberRow};
use crate::services::{profiles, roles};

/// A validated, normalised onboarding request.
#[derive(Clone, Debug)]
pub struct NewMember {
    /// Trimmed and lower-cased.
    pub email: String,
    /// Normalised by [`Profile::normalised`]; first and last name are always present.
    pub profile: Profile,
    pub temporary_password: Option<String>,
    pub employee_id: String,
    pub employment_start_date: Date,
    pub employment_status: String,
}

/// Who onboards, and with which password rules.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub org_id: &'a str,
    pub actor_id: Uuid,
    pub impersonator_id: Option<Uuid>,
    pub passwords: &'a PasswordHasher,
    pub policy: PasswordPolicy,
}

/// The outcome of one onboarding.
#[derive(Clone, Debug)]
pub struct Onboarded {
    pub row: MemberRow,
    /// "new" | "existing"
    pub user_status: &'static str,
    /// "created" | "already_exists"
    pub membership_status: &'static str,
    pub credentials_issued: bool,
}

/// Why an onboarding was refused.
#[derive(Debug)]
pub enum Refusal {
    /// A plain 400 message (also the bulk row error text).
    Message(String),
    /// A constraint violation: 400 `constraint_error`.
    Constraint {
        message: String,
        details: Value,
    },
    /// Anything else (a 5xx for the single endpoint, a row error in bulk).
    Db(sqlx::Error),
    Hash(password::PasswordError),
}

impl Refusal {
    /// The text of a bulk row error.
    pub fn row_text(&self) -> String {
        match self {
            Refusal::Message(m) => m.clone(),
            Refusal::Constraint { message, .. } => message.clone(),
            Refusal::Db(_) | Refusal::Hash(_) => "Could not onboard this row".to_owned(),
        }
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let code = db.code().map(|c| c.to_string()).unwrap_or_default();
            if code.starts_with("23") || code.starts_with("22") {
                let constraint = db.constraint().map(str::to_owned);
                let pg = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
                let column = pg.and_then(|e| e.column()).map(str::to_owned);
                // PostgreSQL's own text (and its row values in `detail`) stays in the log: it
                // can quote other rows' data and names the schema.
                tracing::warn!(error = %db, "onboarding refused by a database rule");
                return Refusal::Constraint {
                    message: "The data conflicts with a database rule".to_owned(),
                    details: json!({
                        "constraint": constraint,
                        "sqlstate": code,
                        "column": column,
                        "detail": null,
                    }),
                };
            }
        }
        Refusal::Db(err)
    }
}

const EMPLOYEE_ID_IN_USE: &str = "employee_id already in use for this organization";
const OTHER_EMPLOYEE_ID: &str = "User already onboarded with a different employee_id";

async fn employee_id_taken(
    conn: &mut PgConnection,
    org_id: &str,
    employee_id: &str,
) -> sqlx::Result<bool> {
    let found: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM org_memberships WHERE org_id = $1 AND employee_id = $2")
            .bind(org_id)
            .bind(employee_id)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

async fn create_membership(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
    input: &NewMember,
) -> sqlx::Result<Uuid> {
    let membership_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO org_memberships (id, org_id, user_id, employee_id, employment_start_date, \
         employment_status, platform_status, invitation_status, invited_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'INVITED', 'PENDING', now())",
    )
    .bind(membership_id)
    .bind(org_id)
    .bind(user_id)
    .bind(&input.employee_id)
    .bind(input.employment_start_date)
    .bind(&input.employment_status)
    .execute(&mut *conn)
    .await?;
    let profile = &input.profile;
    profiles::write(conn, org_id, membership_id, &profile.full_name(), profile).await?;
    Ok(membership_id)
}

/// Onboards one member in the caller's transaction and writes `user.onboarded` when a
/// membership was created. The temporary password is hashed and stored, never returned.
pub async fn onboard(
    conn: &mut PgConnection,
    ctx: &Context<'_>,
    input: &NewMember,
) -> Result<Onboarded, Refusal> {
    if let Some(pw) = input.temporary_password.as_deref() {
        ctx.policy
            .check(pw)
            .map_err(|v| Refusal::Message(v.to_string()))?;
        password::check_input_limits(pw).map_err(|e| Refusal::Message(e.to_string()))?;
    }
    let org_id = ctx.org_id;
    let existing_user: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM users WHERE org_id = $1 AND lower(email) = lower($2)")
            .bind(org_id)
            .bind(&input.email)
            .fetch_optional(&mut *conn)
            .await?;

    let (user_id, user_status, credentials_issued) = match existing_user {
        Some(user_id) => {
            if let Some(row) = members::find_by_user(conn, org_id, user_id).await? {
                if row.employee_id != input.employee_id {
                    return Err(Refusal::Message(OTHER_EMPLOYEE_ID.into()));
                }
                return Ok(Onboarded {
                    row,
                    user_status: "existing",
                    membership_status: "already_exists",
                    credentials_issued: false,
                });
            }
            if employee_id_taken(conn, org_id, &input.employee_id).await? {
                return Err(Refusal::Message(EMPLOYEE_ID_IN_USE.into()));
            }
            (user_id, "existing", false)
        }
        None => {
            if employee_id_taken(conn, org_id, &input.employee_id).await? {
                return Err(Refusal::Message(EMPLOYEE_ID_IN_USE.into()));
            }
            let identity: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM identities WHERE lower(email) = lower($1)")
                    .bind(&input.email)
                    .fetch_optional(&mut *conn)
                    .await?;
            let (identity_id, issued) = match identity {
                Some(id) => (id, false),
                None => {
                    let temporary = input
                        .temporary_password
                        .clone()
                        .unwrap_or_else(policy::generate_temporary_password);
                    let hash = ctx
                        .passwords
                        .hash_async(&temporary)
                        .await
                        .map_err(Refusal::Hash)?;
                    let id = Uuid::new_v4();
                    sqlx::query(
                        "INSERT INTO identities (id, email, hashed_password, mfa_enabled, token_version, \
                         must_change_password, is_active) VALUES ($1, $2, $3, false, 0, true, true)",
                    )
                    .bind(id)
                    .bind(&input.email)
                    .bind(hash)
                    .execute(&mut *conn)
                    .await?;
                    (id, true)
                }
            };
            let user_id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO users (id, org_id, email, is_active, is_superuser, identity_id) \
                 VALUES ($1, $2, $3, true, false, $4)",
            )
            .bind(user_id)
            .bind(org_id)
            .bind(&input.email)
            .bind(identity_id)
            .execute(&mut *conn)
            .await?;
            (user_id, "new", issued)
        }
    };

    let membership_id = create_membership(conn, org_id, user_id, input).await?;
    let system = roles::ensure_system_roles(conn, org_id).await?;
    if let Some((_, role_id, _)) = system.iter().find(|(r, _, _)| *r == SystemRole::Employee) {
        roles::assign(conn, org_id, user_id, *role_id).await?;
    }
    let row = members::find(conn, org_id, membership_id)
        .await?
        .ok_or(Refusal::Db(sqlx::Error::RowNotFound))?;
    audit::record(
        conn,
        AuditEntry {
            org_id,
            actor_id: Some(ctx.actor_id),
            impersonator_id: ctx.impersonator_id,
            action: "user.onboarded",
            resource_type: "org_membership",
            resource_id: membership_id.to_string(),
            old_value: None,
            new_value: Some(row.onboarded_snapshot()),
        },
    )
    .await?;
    Ok(Onboarded {
        row,
        user_status,
        membership_status: "created",
        credentials_issued,
    })
}

/// Onboards one CSV row in its own transaction, committed on success and rolled back on any
/// refusal, so one bad row never affects another and never fails the upload.
pub async fn bulk_row(
    pool: &PgPool,
    ctx: &Context<'_>,
    input: &NewMember,
) -> Result<Onboarded, Refusal> {
    let mut tx = pool.begin().await?;
    let outcome = onboard(&mut tx, ctx, input).await?;
    tx.commit().await?; // commit-ok: per-row isolation in bulk onboarding
    Ok(outcome)
}
