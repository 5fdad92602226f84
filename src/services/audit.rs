//! The audit writer: one row per mutation, written in the caller's transaction before its
//! commit (contract §7 "Audit row content").

use serde_json::{Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

/// What happened, to what, by whom. Snapshots must not contain secrets (no password hashes,
/// no MFA secrets); callers build them from explicit fields.
#[derive(Debug)]
pub struct AuditEntry<'a> {
    pub org_id: &'a str,
    pub actor_id: Option<Uuid>,
    /// The admin behind an impersonation session, if any.
    pub impersonator_id: Option<Uuid>,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: String,
    pub old_value: Option<Value>,
    pub new_value: Option<Value>,
}

/// Who makes a change: the acting user of an org and, during impersonation, the admin behind
/// it. Services that write audit rows of their own take one.
#[derive(Clone, Copy, Debug)]
pub struct Actor<'a> {
    pub org_id: &'a str,
    pub user_id: Uuid,
    pub impersonator_id: Option<Uuid>,
}

impl<'a> Actor<'a> {
    /// The audit row of a change this actor makes.
    pub fn entry(
        &self,
        action: &'a str,
        resource_type: &'a str,
        resource_id: impl ToString,
        old_value: Option<Value>,
        new_value: Option<Value>,
    ) -> AuditEntry<'a> {
        AuditEntry {
            org_id: self.org_id,
            actor_id: Some(self.user_id),
            impersonator_id: self.impersonator_id,
            action,
            resource_type,
            resource_id: resource_id.to_string(),
            old_value,
            new_value,
        }
    }
}

/// The row a superuser's request into an org other than its session's writes (one per
/// request): in the target org, naming the superuser's user and the session's org.
pub fn superuser_cross_org<'a>(
    org_id: &'a str,
    actor_id: Uuid,
    token_org: &str,
    method: &str,
    path: &str,
) -> AuditEntry<'a> {
    AuditEntry {
        org_id,
        actor_id: Some(actor_id),
        impersonator_id: None,
        action: "superuser.cross_org_access",
        resource_type: "org",
        resource_id: org_id.to_owned(),
        old_value: None,
        new_value: Some(serde_json::json!({
            "actor_org_id": token_org,
            "method": method,
            "path": path,
        })),
    }
}

/// Inserts the row; the caller's transaction decides whether it persists.
pub async fn record(conn: &mut PgConnection, entry: AuditEntry<'_>) -> sqlx::Result<Uuid> {
    let changes = diff(entry.old_value.as_ref(), entry.new_value.as_ref());
    let summary = summary(entry.action, changes.as_ref());
    let id = Uuid::new_v4();
    // The snapshots go in as text cast to `json`, which keeps their key order (the legacy's
    // `{"from", "to"}`, the model's field order); a bound `Json` parameter is `jsonb`, whose
    // canonical order would be stored instead.
    let text = |v: Option<Value>| v.map(|v| v.to_string());
    sqlx::query(
        "INSERT INTO audit_logs (id, org_id, actor_id, action, resource_type, resource_id, old_value, \
         new_value, changes, summary, impersonator_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7::json, $8::json, $9::json, $10, $11)",
    )
    .bind(id)
    .bind(entry.org_id)
    .bind(entry.actor_id)
    .bind(entry.action)
    .bind(entry.resource_type)
    .bind(&entry.resource_id)
    .bind(text(entry.old_value))
    .bind(text(entry.new_value))
    .bind(text(changes.map(Value::Object)))
    .bind(summary)
    .bind(entry.impersonator_id)
    .execute(conn)
    .await?;
    Ok(id)
}

/// The flat `"path.to.key": {"from": …, "to": …}` map of differing leaves, or `None`.
pub fn diff(old: Option<&Value>, new: Option<&Value>) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    walk(
        "",
        old.unwrap_or(&Value::Null),
        new.unwrap_or(&Value::Null),
        &mut out,
    );
    (!out.is_empty()).then_some(out)
}

fn walk(prefix: &str, old: &Value, new: &Value, out: &mut Map<String, Value>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                walk(
                    &path,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Null, Value::Object(b)) => walk(
            prefix,
            &Value::Object(Map::new()),
            &Value::Object(b.clone()),
            out,
        ),
        (Value::Object(a), Value::Null) => walk(
            prefix,
            &Value::Object(a.clone()),
            &Value::Object(Map::new()),
            out,
        ),
        (a, b) if a != b => {
            let key = if prefix.is_empty() {
                "value".to_owned()
            } else {
                prefix.to_owned()
            };
            let mut change = Map::new();
            change.insert("from".into(), a.clone());
            change.insert("to".into(), b.clone());
            out.insert(key, Value::Object(change));
        }
        _ => {}
    }
}

/// `action`, or `"action: k1, k2, k3"` with `...` when more than three keys changed.
pub fn summary(action: &str, changes: Option<&Map<String, Value>>) -> String {
    match changes {
        None => action.to_owned(),
        Some(map) if map.is_empty() => action.to_owned(),
        Some(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(3).collect();
            let more = if map.len() > 3 { "..." } else { "" };
            format!("{action}: {}{more}", keys.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_lists_changed_leaves_with_paths() {
        let old = json!({"name": "a", "nested": {"x": 1, "y": 2}, "same": true});
        let new = json!({"name": "b", "nested": {"x": 1, "y": 3}, "same": true, "added": "z"});
        let changes = diff(Some(&old), Some(&new)).unwrap();
        assert_eq!(
            Value::Object(changes.clone()),
            json!({"added": {"from": null, "to": "z"}, "name": {"from": "a", "to": "b"}, "nested.y": {"from": 2, "to": 3}})
        );
        assert_eq!(
            summary("role.updated", Some(&changes)),
            "role.updated: added, name, nested.y"
        );
        assert_eq!(diff(Some(&old), Some(&old)), None);
    }

    #[test]
    fn creation_diffs_against_nothing_and_long_summaries_are_cut() {
        let changes = diff(None, Some(&json!({"a": 1, "b": 2, "c": 3, "d": 4}))).unwrap();
        assert_eq!(changes.len(), 4);
        assert_eq!(
            summary("x.created", Some(&changes)),
            "x.created: a, b, c..."
        );
        assert_eq!(summary("x.deleted", None), "x.deleted");
    }
}
