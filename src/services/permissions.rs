//! Effective permissions (contract §6): the union of the user's role permissions in the org,
//! then the one direct `user_permissions` row (deny removes, allow adds) unless expired.
//! ACL rows have no effect on any route, as in the legacy service.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::cache::Cache;
use crate::domain::permissions;

/// How long `permissions:<org>:<user>` lives in the cache.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

#[derive(sqlx::FromRow)]
struct Sources {
    role_permissions: Value,
    direct_permissions: Option<Value>,
    direct_effect: Option<String>,
}

/// Computes the effective permission codes from the database, sorted.
pub async fn effective(
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Vec<String>> {
    let sources: Sources = sqlx::query_as(
        "SELECT \
           COALESCE((SELECT jsonb_agg(r.permissions) FROM user_roles ur \
                     JOIN roles r ON r.id = ur.role_id AND r.org_id = ur.org_id \
                     WHERE ur.org_id = $1 AND ur.user_id = $2), '[]'::jsonb) AS role_permissions, \
           up.permissions AS direct_permissions, up.effect AS direct_effect \
         FROM (SELECT 1) AS one \
         LEFT JOIN user_permissions up ON up.org_id = $1 AND up.user_id = $2 \
              AND (up.expires_at IS NULL OR up.expires_at > now())",
    )
    .bind(org_id)
    .bind(user_id)
    .fetch_one(conn)
    .await?;
    Ok(combine(
        &sources.role_permissions,
        sources.direct_permissions.as_ref(),
        sources.direct_effect.as_deref(),
    ))
}

fn codes(value: &Value) -> impl Iterator<Item = &str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

/// `roles` is a JSON array of per-role code arrays.
pub fn combine(roles: &Value, direct: Option<&Value>, effect: Option<&str>) -> Vec<String> {
    let mut set: BTreeSet<&str> = BTreeSet::new();
    for role in roles.as_array().into_iter().flatten() {
        set.extend(codes(role).filter(|c| permissions::is_known(c)));
    }
    if let Some(direct) = direct {
        if effect.is_some_and(|e| e.eq_ignore_ascii_case("deny")) {
            for code in codes(direct) {
                set.remove(code);
            }
        } else {
            set.extend(codes(direct).filter(|c| permissions::is_known(c)));
        }
    }
    set.into_iter().map(str::to_owned).collect()
}

pub fn cache_key(cache: &Cache, org_id: &str, user_id: Uuid) -> String {
    cache.key(&["permissions", org_id, &user_id.to_string()])
}

/// The cached effective permissions (`permissions:<org>:<user>`), when the shared cache has a
/// readable entry. Callers look here before they take a database connection: a hit needs none.
pub async fn from_cache(cache: &Cache, org_id: &str, user_id: Uuid) -> Option<Vec<String>> {
    match cache.get(&cache_key(cache, org_id, user_id)).await {
        Ok(Some(raw)) => serde_json::from_str::<Vec<String>>(&raw).ok(),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(error = %e, "permission cache read failed; using the database");
            None
        }
    }
}

/// Effective permissions from the database (the truth), written to the shared cache for 5
/// minutes; a cache write failure only costs the next request a query.
pub async fn load_and_cache(
    cache: &Cache,
    conn: &mut PgConnection,
    org_id: &str,
    user_id: Uuid,
) -> sqlx::Result<Vec<String>> {
    let list = effective(conn, org_id, user_id).await?;
    if let Ok(raw) = serde_json::to_string(&list)
        && let Err(e) = cache
            .setex(&cache_key(cache, org_id, user_id), &raw, CACHE_TTL)
            .await
    {
        tracing::warn!(error = %e, "permission cache write failed");
    }
    Ok(list)
}

/// Drops one user's cached permissions (after role or assignment changes).
pub async fn invalidate_user(cache: &Cache, org_id: &str, user_id: Uuid) {
    if let Err(e) = cache.del(&[cache_key(cache, org_id, user_id)]).await {
        tracing::warn!(error = %e, "permission cache invalidation failed");
    }
}

/// Drops every cached permission list of the org; returns how many were cleared.
pub async fn invalidate_org(cache: &Cache, org_id: &str) -> u64 {
    let prefix = format!("{}:", cache.key(&["permissions", org_id]));
    match cache.delete_by_prefix(&prefix).await {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "permission cache invalidation failed");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_union_then_direct_allow_or_deny() {
        let roles = json!([
            ["user.view", "role.view", "not.a.code"],
            ["user.view", "audit_log.view"]
        ]);
        assert_eq!(
            combine(&roles, None, None),
            vec!["audit_log.view", "role.view", "user.view"]
        );
        assert_eq!(
            combine(&roles, Some(&json!(["role.view"])), Some("deny")),
            vec!["audit_log.view", "user.view"]
        );
        assert_eq!(
            combine(&roles, Some(&json!(["acl.manage", "bogus"])), Some("allow")),
            vec!["acl.manage", "audit_log.view", "role.view", "user.view"]
        );
    }
}
