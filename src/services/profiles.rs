//! Member profiles (`org_user_profiles`): the one column list and bind order of the profile
//! fields, read and written through [`Profile`].

use std::sync::LazyLock;

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};
use uuid::Uuid;

use crate::domain::profile::{Field, Profile, ProfileChanges};
use crate::services::members::MemberRow;

/// Reads the twelve profile columns by name (rows of any query that selects them).
impl<'r> FromRow<'r, PgRow> for Profile {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let mut profile = Profile::default();
        for field in Field::ALL {
            *profile.get_mut(field) = row.try_get(field.name())?;
        }
        Ok(profile)
    }
}

/// The profile columns, comma-separated in [`Field::ALL`] order, each with `prefix`.
pub fn columns(prefix: &str) -> String {
    Field::ALL
        .iter()
        .map(|f| format!("{prefix}{}", f.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Creates or replaces the profile of a membership. The statement is built from the field
/// table once, so its column list and its bind order cannot disagree.
static UPSERT: LazyLock<String> = LazyLock::new(|| {
    let placeholders: Vec<String> = (5..5 + Field::ALL.len()).map(|i| format!("${i}")).collect();
    let updates: Vec<String> = Field::ALL
        .iter()
        .map(|f| format!("{0} = EXCLUDED.{0}", f.name()))
        .collect();
    format!(
        "INSERT INTO org_user_profiles (id, org_id, membership_id, full_name, {}) \
         VALUES ($1, $2, $3, $4, {}) \
         ON CONFLICT ON CONSTRAINT uq_org_user_profiles_org_membership DO UPDATE SET \
         full_name = EXCLUDED.full_name, {}, updated_at = now()",
        columns(""),
        placeholders.join(", "),
        updates.join(", ")
    )
});

/// Writes `profile` and `full_name` as the membership's profile, creating it when missing.
pub async fn write(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
    full_name: &str,
    profile: &Profile,
) -> sqlx::Result<()> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(UPSERT.as_str()))
        .bind(Uuid::new_v4())
        .bind(org_id)
        .bind(membership_id)
        .bind(full_name);
    for field in Field::ALL {
        query = query.bind(profile.get(field).as_deref());
    }
    query.execute(conn).await?;
    Ok(())
}

/// Applies PATCH changes to the membership's profile (creating it when missing); `full_name`
/// is recomputed from first and last name when either changes or it was never set.
pub async fn apply(
    conn: &mut PgConnection,
    row: &MemberRow,
    changes: &ProfileChanges,
) -> sqlx::Result<()> {
    let next = changes.applied_to(&row.profile);
    let full_name = match &row.full_name {
        Some(current) if !changes.touches_names() => current.clone(),
        _ => next.full_name(),
    };
    write(conn, &row.org_id, row.membership_id, &full_name, &next).await
}
