//! Memberships as the stock rules read them: raw statuses and the employment start date.

use std::collections::HashMap;

use sqlx::PgConnection;
use time::Date;
use uuid::Uuid;

use crate::domain::stock::dashboard::MembershipCounts;
use crate::domain::stock::eligibility::MemberFacts;
use crate::domain::stock::wire::CountMap;

type FactsRow = (Uuid, Option<String>, Option<String>, Option<Date>);

fn facts((_, employment_status, platform_status, employment_start_date): FactsRow) -> MemberFacts {
    MemberFacts {
        employment_status,
        platform_status,
        employment_start_date,
    }
}

/// The membership `membership_id` of the org (a member of another org is not found).
pub async fn find(
    conn: &mut PgConnection,
    org_id: &str,
    membership_id: Uuid,
) -> sqlx::Result<Option<MemberFacts>> {
    let row: Option<FactsRow> = sqlx::query_as(
        "SELECT id, employment_status, platform_status, employment_start_date \
         FROM org_memberships WHERE org_id = $1 AND id = $2",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(facts))
}

/// The membership of (org, user): the `/me` endpoints' subject. A superuser acting in an
/// org where its org-scoped user has no membership has none (Q22).
pub async fn of_user(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<(Uuid, MemberFacts)>> {
    let row: Option<FactsRow> = sqlx::query_as(
        "SELECT id, employment_status, platform_status, employment_start_date \
         FROM org_memberships WHERE org_id = $1 AND user_id = $2",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.0, facts(r))))
}

/// The memberships owning at least one ACTIVE grant of the org.
pub async fn with_active_grants(
    conn: &mut PgConnection,
    org_id: &str,
) -> sqlx::Result<HashMap<Uuid, MemberFacts>> {
    let rows: Vec<FactsRow> = sqlx::query_as(
        "SELECT m.id, m.employment_status, m.platform_status, m.employment_start_date \
         FROM org_memberships m WHERE m.org_id = $1 AND EXISTS (SELECT 1 FROM employee_stock_grants g \
         WHERE g.org_id = m.org_id AND g.org_membership_id = m.id AND g.status = 'ACTIVE')",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.0, facts(r))).collect())
}

/// Every membership of the org counted by raw platform and employment status.
pub async fn status_counts(
    conn: &mut PgConnection,
    org_id: &str,
) -> sqlx::Result<MembershipCounts> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT platform_status, employment_status, count(*) FROM org_memberships \
         WHERE org_id = $1 GROUP BY platform_status, employment_status",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    let mut counts = MembershipCounts {
        by_platform_status: CountMap::new(),
        by_employment_status: CountMap::new(),
    };
    for (platform, employment, n) in rows {
        counts.by_platform_status.add(&platform, n);
        counts.by_employment_status.add(&employment, n);
    }
    Ok(counts)
}
