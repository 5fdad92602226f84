//! Org-scoped users and their memberships, as the guards and auth flows need them.

use sqlx::PgConnection;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::membership::{self, Gate, Refusal};

/// Everything the User guard checks, fetched in one round trip.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserContext {
    pub user_id: Uuid,
    pub user_org_id: String,
    pub user_email: String,
    pub user_is_active: bool,
    pub is_superuser: bool,
    pub user_created_at: OffsetDateTime,
    pub user_identity_id: Uuid,
    pub identity_id: Uuid,
    pub identity_email: String,
    pub identity_is_active: bool,
    pub token_version: i32,
    pub last_active_at: Option<OffsetDateTime>,
    pub must_change_password: bool,
    pub mfa_enabled: bool,
    pub membership_id: Option<Uuid>,
    pub employment_status: Option<String>,
    pub platform_status: Option<String>,
    pub invitation_status: Option<String>,
}

impl UserContext {
    /// The membership gate on the user's membership in the org.
    pub fn membership(&self, gate: Gate) -> Result<(), Refusal> {
        membership::check(
            gate,
            self.employment_status.as_deref(),
            self.platform_status.as_deref(),
            self.invitation_status.as_deref(),
        )
    }
}

/// Loads the user `user_id`, the identity `identity_id` (or the user's own identity) and the
/// user's membership in `org_id`.
pub async fn context(
    conn: &mut PgConnection,
    user_id: Uuid,
    identity_id: Option<Uuid>,
    org_id: &str,
) -> sqlx::Result<Option<UserContext>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.org_id AS user_org_id, u.email AS user_email, u.is_active AS user_is_active, \
                u.is_superuser, u.created_at AS user_created_at, u.identity_id AS user_identity_id, \
                i.id AS identity_id, i.email AS identity_email, i.is_active AS identity_is_active, \
                i.token_version, i.last_active_at, i.must_change_password, i.mfa_enabled, \
                m.id AS membership_id, m.employment_status, m.platform_status, m.invitation_status \
         FROM users u \
         JOIN identities i ON i.id = COALESCE($2, u.identity_id) \
         LEFT JOIN org_memberships m ON m.org_id = $3 AND m.user_id = u.id \
         WHERE u.id = $1",
    )
    .bind(user_id)
    .bind(identity_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// The identity a user row belongs to (tokens minted before the `iid` claim name only the user).
pub async fn identity_id(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT identity_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

/// Whether another user of the org has this e-mail (case-insensitive).
pub async fn email_taken(
    conn: &mut PgConnection,
    org_id: &str,
    email: &str,
    except_user_id: Uuid,
) -> sqlx::Result<bool> {
    let taken: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM users WHERE org_id = $1 AND lower(email) = lower($2) AND id <> $3",
    )
    .bind(org_id)
    .bind(email)
    .bind(except_user_id)
    .fetch_optional(conn)
    .await?;
    Ok(taken.is_some())
}

/// Sets the org user's e-mail (the identity's login e-mail is unchanged). A clash with another
/// user of the org violates `uq_users_org_email`.
pub async fn set_email(conn: &mut PgConnection, user_id: Uuid, email: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE users SET email = $2, updated_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(email)
        .execute(conn)
        .await?;
    Ok(())
}

/// The tenant check and the guard's [`context`] in one round trip: whether the org exists,
/// whether `user_id` has a membership row there (any status), and the context itself.
#[derive(Clone, Debug)]
pub struct GuardCheck {
    pub org_exists: bool,
    pub has_membership: bool,
    pub context: Option<UserContext>,
}

/// [`UserContext`] with every column nullable (the user may not exist).
#[derive(sqlx::FromRow)]
struct GuardRow {
    org_exists: bool,
    has_membership: bool,
    user_id: Option<Uuid>,
    user_org_id: Option<String>,
    user_email: Option<String>,
    user_is_active: Option<bool>,
    is_superuser: Option<bool>,
    user_created_at: Option<OffsetDateTime>,
    user_identity_id: Option<Uuid>,
    identity_id: Option<Uuid>,
    identity_email: Option<String>,
    identity_is_active: Option<bool>,
    token_version: Option<i32>,
    last_active_at: Option<OffsetDateTime>,
    must_change_password: Option<bool>,
    mfa_enabled: Option<bool>,
    membership_id: Option<Uuid>,
    employment_status: Option<String>,
    platform_status: Option<String>,
    invitation_status: Option<String>,
}

impl GuardRow {
    fn context(self) -> Option<UserContext> {
        Some(UserContext {
            user_id: self.user_id?,
            user_org_id: self.user_org_id?,
            user_email: self.user_email?,
            user_is_active: self.user_is_active?,
            is_superuser: self.is_superuser?,
            user_created_at: self.user_created_at?,
            user_identity_id: self.user_identity_id?,
            identity_id: self.identity_id?,
            identity_email: self.identity_email?,
            identity_is_active: self.identity_is_active?,
            token_version: self.token_version?,
            last_active_at: self.last_active_at,
            must_change_password: self.must_change_password?,
            mfa_enabled: self.mfa_enabled?,
            membership_id: self.membership_id,
            employment_status: self.employment_status,
            platform_status: self.platform_status,
            invitation_status: self.invitation_status,
        })
    }
}

pub async fn guard_check(
    conn: &mut PgConnection,
    user_id: Option<Uuid>,
    identity_id: Option<Uuid>,
    org_id: &str,
) -> sqlx::Result<GuardCheck> {
    let row: GuardRow = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM orgs WHERE id = $3) AS org_exists, \
                ($1::uuid IS NOT NULL AND EXISTS (SELECT 1 FROM org_memberships WHERE org_id = $3 AND user_id = $1)) \
                  AS has_membership, \
                c.* \
         FROM (SELECT 1) AS one \
         LEFT JOIN LATERAL ( \
           SELECT u.id AS user_id, u.org_id AS user_org_id, u.email AS user_email, u.is_active AS user_is_active, \
                  u.is_superuser, u.created_at AS user_created_at, u.identity_id AS user_identity_id, \
                  i.id AS identity_id, i.email AS identity_email, i.is_active AS identity_is_active, \
                  i.token_version, i.last_active_at, i.must_change_password, i.mfa_enabled, \
                  m.id AS membership_id, m.employment_status, m.platform_status, m.invitation_status \
           FROM users u \
           JOIN identities i ON i.id = COALESCE($2, u.identity_id) \
           LEFT JOIN org_memberships m ON m.org_id = $3 AND m.user_id = u.id \
           WHERE u.id = $1) AS c ON true",
    )
    .bind(user_id)
    .bind(identity_id)
    .bind(org_id)
    .fetch_one(conn)
    .await?;
    let (org_exists, has_membership) = (row.org_exists, row.has_membership);
    Ok(GuardCheck {
        org_exists,
        has_membership,
        context: row.context(),
    })
}

/// The identity's user row in `org_id`, with its membership.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrgUser {
    pub user_id: Uuid,
    pub email: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub membership_id: Option<Uuid>,
    pub employment_status: Option<String>,
    pub platform_status: Option<String>,
    pub invitation_status: Option<String>,
}

impl OrgUser {
    /// The membership gate on the user's membership in the org.
    pub fn membership(&self, gate: Gate) -> Result<(), Refusal> {
        membership::check(
            gate,
            self.employment_status.as_deref(),
            self.platform_status.as_deref(),
            self.invitation_status.as_deref(),
        )
    }
}

pub async fn in_org_for_identity(
    conn: &mut PgConnection,
    org_id: &str,
    identity_id: Uuid,
) -> sqlx::Result<Option<OrgUser>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.is_active, u.is_superuser, m.id AS membership_id, \
                m.employment_status, m.platform_status, m.invitation_status \
         FROM users u LEFT JOIN org_memberships m ON m.org_id = u.org_id AND m.user_id = u.id \
         WHERE u.org_id = $1 AND u.identity_id = $2",
    )
    .bind(org_id)
    .bind(identity_id)
    .fetch_optional(conn)
    .await
}

/// A `users` row as impersonation reads it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub email: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub identity_id: Uuid,
}

pub async fn find(conn: &mut PgConnection, user_id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as("SELECT email, is_active, is_superuser, identity_id FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

/// The member an admin asks to impersonate: user, membership statuses and identity flags.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ImpersonationTarget {
    pub user_id: Uuid,
    pub email: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub employment_status: String,
    pub platform_status: String,
    pub invitation_status: String,
    pub identity_active: bool,
    pub mfa_enabled: bool,
}

/// The membership `membership_id` of `org_id` as an impersonation target.
pub async fn impersonation_target(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<ImpersonationTarget>> {
    sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.is_active, u.is_superuser, m.employment_status, \
                m.platform_status, m.invitation_status, i.is_active AS identity_active, \
                i.mfa_enabled \
         FROM org_memberships m JOIN users u ON u.id = m.user_id AND u.org_id = m.org_id \
         JOIN identities i ON i.id = u.identity_id WHERE m.id = $1 AND m.org_id = $2",
    )
    .bind(membership_id)
    .bind(org_id)
    .fetch_optional(conn)
    .await
}

/// After a forced first-login password change the invitation counts as accepted.
pub async fn accept_invitation(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE org_memberships SET invitation_status = 'ACCEPTED', accepted_at = now(), \
         platform_status = 'ACTIVE', updated_at = now() WHERE org_id = $1 AND user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// The display name of a user's profile: preferred → full → first+last → first → last,
/// skipping values that contain "@" (they are e-mails copied into name fields).
pub async fn display_name(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<String>> {
    let row: Option<NameParts> = sqlx::query_as(
        "SELECT p.preferred_name, p.full_name, p.first_name, p.last_name FROM org_user_profiles p \
         JOIN org_memberships m ON m.id = p.membership_id AND m.org_id = p.org_id \
         WHERE m.org_id = $1 AND m.user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(preferred, full, first, last)| {
        pick_display_name(preferred, Some(full), first, last)
    }))
}

type NameParts = (Option<String>, String, Option<String>, Option<String>);

pub fn pick_display_name(
    preferred: Option<String>,
    full: Option<String>,
    first: Option<String>,
    last: Option<String>,
) -> Option<String> {
    let usable = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.contains('@'))
            .map(str::to_owned)
    };
    let first_last = match (usable(&first), usable(&last)) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        _ => None,
    };
    usable(&preferred)
        .or_else(|| usable(&full))
        .or(first_last)
        .or_else(|| usable(&first))
        .or_else(|| usable(&last))
}

/// The full name used by `/auth/me` (DESIGN.md §4: the real value, not the legacy null).
pub async fn full_name(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT p.full_name FROM org_user_profiles p JOIN org_memberships m ON m.id = p.membership_id \
         AND m.org_id = p.org_id WHERE m.org_id = $1 AND m.user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await
}

/// What `/auth/me` shows beyond the guard's context, in one round trip: the profile's full
/// name, the sorted role names and the effective permissions (computed like
/// `services::permissions::effective`, from the same rows).
pub struct MeSnapshot {
    pub full_name: Option<String>,
    pub role_names: Vec<String>,
    pub permissions: Vec<String>,
}

pub async fn me_snapshot(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<MeSnapshot> {
    let (full_name, role_names, role_permissions, direct, effect): (
        Option<String>,
        Vec<String>,
        serde_json::Value,
        Option<serde_json::Value>,
        Option<String>,
    ) = sqlx::query_as(
        "SELECT (SELECT p.full_name FROM org_user_profiles p JOIN org_memberships m \
                 ON m.id = p.membership_id AND m.org_id = p.org_id \
                 WHERE m.org_id = $1 AND m.user_id = $2), \
                ARRAY(SELECT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
                      WHERE ur.org_id = $1 AND ur.user_id = $2 ORDER BY r.name), \
                COALESCE((SELECT jsonb_agg(r.permissions) FROM user_roles ur \
                          JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
                          WHERE ur.org_id = $1 AND ur.user_id = $2), '[]'::jsonb), \
                up.permissions, up.effect \
         FROM (SELECT 1) AS one \
         LEFT JOIN user_permissions up ON up.org_id = $1 AND up.user_id = $2 \
              AND (up.expires_at IS NULL OR up.expires_at > now())",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(conn)
    .await?;
    let permissions = crate::services::permissions::combine(
        &role_permissions,
        direct.as_ref(),
        effect.as_deref(),
    );
    Ok(MeSnapshot {
        full_name,
        role_names,
        permissions,
    })
}

#[cfg(test)]
mod tests {
    use super::pick_display_name;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    #[test]
    fn display_name_prefers_usable_names() {
        assert_eq!(
            pick_display_name(s("Pri"), s("Priya Sharma"), None, None),
            s("Pri")
        );
        assert_eq!(
            pick_display_name(s("p@x.io"), s("Priya Sharma"), None, None),
            s("Priya Sharma")
        );
        assert_eq!(
            pick_display_name(None, s("a@b.c"), s("Priya"), s("Sharma")),
            s("Priya Sharma")
        );
        assert_eq!(
            pick_display_name(None, None, None, s("Sharma")),
            s("Sharma")
        );
        assert_eq!(pick_display_name(None, s(" "), None, None), None);
    }
}
