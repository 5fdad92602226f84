//! Member profiles (`org_user_profiles`).

use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::people::{self, ProfileChanges};
use crate::services::members::MemberRow;

/// Applies profile changes to the membership's profile (creating it when missing) and
/// recomputes `full_name` from first and last name.
pub async fn apply(
    conn: &mut PgConnection,
    row: &MemberRow,
    changes: &ProfileChanges,
) -> sqlx::Result<()> {
    let get = |name: &str, current: &Option<String>| -> Option<String> {
        changes
            .fields
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| current.clone())
    };
    let first = get("first_name", &row.first_name);
    let last = get("last_name", &row.last_name);
    let names_changed = changes
        .fields
        .iter()
        .any(|(f, _)| *f == "first_name" || *f == "last_name");
    let full_name = if names_changed || row.full_name.is_none() {
        format!(
            "{} {}",
            first.as_deref().unwrap_or(""),
            last.as_deref().unwrap_or("")
        )
        .trim()
        .to_owned()
    } else {
        row.full_name.clone().unwrap_or_default()
    };
    let full_name: String = full_name.chars().take(people::limits::FULL_NAME).collect();
    sqlx::query(
        "INSERT INTO org_user_profiles (id, org_id, membership_id, full_name, first_name, middle_name, \
         last_name, preferred_name, timezone, phone_number, marital_status, country, state, \
         address_line1, address_line2, postal_code) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT ON CONSTRAINT uq_org_user_profiles_org_membership DO UPDATE SET \
         full_name = EXCLUDED.full_name, first_name = EXCLUDED.first_name, \
         middle_name = EXCLUDED.middle_name, last_name = EXCLUDED.last_name, \
         preferred_name = EXCLUDED.preferred_name, timezone = EXCLUDED.timezone, \
         phone_number = EXCLUDED.phone_number, marital_status = EXCLUDED.marital_status, \
         country = EXCLUDED.country, state = EXCLUDED.state, address_line1 = EXCLUDED.address_line1, \
         address_line2 = EXCLUDED.address_line2, postal_code = EXCLUDED.postal_code, updated_at = now()",
    )
    .bind(Uuid::new_v4())
    .bind(&row.org_id)
    .bind(row.membership_id)
    .bind(full_name)
    .bind(first)
    .bind(get("middle_name", &row.middle_name))
    .bind(last)
    .bind(get("preferred_name", &row.preferred_name))
    .bind(get("timezone", &row.timezone))
    .bind(get("phone_number", &row.phone_number))
    .bind(get("marital_status", &row.marital_status))
    .bind(get("country", &row.country))
    .bind(get("state", &row.state))
    .bind(get("address_line1", &row.address_line1))
    .bind(get("address_line2", &row.address_line2))
    .bind(get("postal_code", &row.postal_code))
    .execute(conn)
    .await?;
    Ok(())
}
