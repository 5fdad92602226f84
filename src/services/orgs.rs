//! Orgs (tenants).

use sqlx::PgConnection;
use time::OffsetDateTime;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub status: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub async fn find(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Org>> {
    sqlx::query_as("SELECT id, name, slug, status, created_at, updated_at FROM orgs WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Whether the org exists and, when `user_id` is given, whether that user has a membership
/// row (any status) in it — one round trip for the tenant check of every request.
pub async fn exists_with_member(
    conn: &mut PgConnection,
    id: &str,
    user_id: Option<uuid::Uuid>,
) -> sqlx::Result<(bool, bool)> {
    sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $1), \
                ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM org_memberships WHERE org_id = $1 AND user_id = $2))",
    )
    .bind(id)
    .bind(user_id)
    .fetch_one(conn)
    .await
}

/// What `create` needs to know about the creator.
#[derive(Clone, Debug)]
pub struct Creator {
    pub identity_id: uuid::Uuid,
    pub email: String,
}

/// Why an org could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("Org with same id or slug already exists")]
    Exists,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Partitions(anyhow::Error),
}

/// Creates an org with everything it needs, in the caller's transaction (POST /orgs): the ACTIVE
/// org row, its `audit_logs`/`journal_entries` partitions, the system roles, the default settings
/// row, and a (non-superuser) user for the creator's identity with an ACTIVE/ACTIVE/ACCEPTED
/// membership (`admin-<user id>`) and the ORG ADMIN and EMPLOYEE roles. No profile is created.
pub async fn create(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
    slug: &str,
    creator: &Creator,
) -> Result<Org, CreateError> {
    let taken: Option<i32> = sqlx::query_scalar("SELECT 1 FROM orgs WHERE id = $1 OR slug = $2")
        .bind(id)
        .bind(slug)
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(CreateError::Exists);
    }
    let inserted = sqlx::query_as(
        "INSERT INTO orgs (id, name, slug, status) VALUES ($1, $2, $3, 'ACTIVE') \
         RETURNING id, name, slug, status, created_at, updated_at",
    )
    .bind(id)
    .bind(name)
    .bind(slug)
    .fetch_one(&mut *conn)
    .await;
    let org: Org = match inserted {
        Ok(org) => org,
        // A concurrent creator won the race for the id or the slug.
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("23505") => {
            return Err(CreateError::Exists);
        }
        Err(e) => return Err(e.into()),
    };
    crate::db::partitions::ensure_org_partitions(conn, id)
        .await
        .map_err(CreateError::Partitions)?;
    let roles = super::roles::ensure_system_roles(conn, id).await?;
    super::org_settings::create_default(conn, id).await?;

    let user_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users (id, org_id, email, is_active, is_superuser, identity_id) \
         VALUES ($1, $2, $3, true, false, $4)",
    )
    .bind(user_id)
    .bind(id)
    .bind(&creator.email)
    .bind(creator.identity_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO org_memberships (id, org_id, user_id, employee_id, employment_status, \
         platform_status, invitation_status, invited_at, accepted_at) \
         VALUES ($1, $2, $3, $4, 'ACTIVE', 'ACTIVE', 'ACCEPTED', now(), now())",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(id)
    .bind(user_id)
    .bind(format!("admin-{user_id}"))
    .execute(&mut *conn)
    .await?;
    use crate::domain::permissions::SystemRole;
    for (role, role_id, _) in roles {
        if matches!(role, SystemRole::OrgAdmin | SystemRole::Employee) {
            super::roles::assign(conn, id, user_id, role_id).await?;
        }
    }
    Ok(org)
}
