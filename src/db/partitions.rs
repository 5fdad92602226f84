//! Per-org partitions of `audit_logs` and `journal_entries`.
//!
//! Both tables are LIST-partitioned by `org_id` with no default partition (as in the legacy
//! schema), so an org without its partition cannot write audit rows. Every path that creates an
//! org calls [`ensure_org_partitions`]; `sole migrate` calls [`repair_all`] for the orgs that
//! predate that rule.
//!
//! Whether an org already has a partition is decided by PostgreSQL itself: each partition's
//! constraint (`pg_get_partition_constraintdef`) is evaluated against the org id, so a partition
//! under another name, or one listing several orgs, counts. A partition *name* is derived from
//! the org id and two ids can map to the same name (`a-b` and `a_b`); that is reported as a
//! [`PartitionConflict`] instead of letting `CREATE TABLE IF NOT EXISTS` skip it silently.

use std::collections::HashSet;

use sqlx::{AssertSqlSafe, Executor, PgConnection};

use crate::domain::org::partition_suffix;

/// The tables partitioned by org, in the order their partitions are created.
pub const PARTITIONED_TABLES: [&str; 2] = ["audit_logs", "journal_entries"];

/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1); the legacy service relied on
/// that implicitly, so the truncated name is the real one.
const MAX_IDENTIFIER_BYTES: usize = 63;

/// What a partition pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PartitionRepair {
    /// Partitions created, e.g. `audit_logs_sole_llc`.
    pub created: Vec<String>,
    /// Orgs left without a partition because their partition's name is taken.
    pub conflicts: Vec<PartitionConflict>,
}

/// An org whose partition could not be created because the name is already in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "org {org_id:?} has no {parent} partition and {name} is taken ({reason}); create one by hand, e.g. CREATE TABLE {parent}_<other_name> PARTITION OF {parent} FOR VALUES IN ({literal})",
    literal = quote_literal(org_id)
)]
pub struct PartitionConflict {
    pub parent: String,
    pub name: String,
    pub org_id: String,
    pub reason: String,
}

/// `<parent>_<suffix>`, as the legacy service named partitions, truncated as PostgreSQL would.
pub fn partition_name(parent: &str, org_id: &str) -> String {
    let mut name = format!("{parent}_{}", partition_suffix(org_id));
    if name.len() > MAX_IDENTIFIER_BYTES {
        let mut end = MAX_IDENTIFIER_BYTES;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    name
}

/// A double-quoted SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A SQL string literal that means the same with `standard_conforming_strings` on or off
/// (the same rule as PostgreSQL's `quote_literal`).
pub fn quote_literal(value: &str) -> String {
    let quoted = value.replace('\'', "''");
    if value.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// Creates the missing `audit_logs` and `journal_entries` partitions of one org (used when an
/// org is created). Fails when a partition name is taken by another org.
pub async fn ensure_org_partitions(
    conn: &mut PgConnection,
    org_id: &str,
) -> anyhow::Result<Vec<String>> {
    let repair = ensure_partitions(conn, &[org_id.to_owned()]).await?;
    if let Some(conflict) = repair.conflicts.into_iter().next() {
        return Err(conflict.into());
    }
    Ok(repair.created)
}

/// Creates the missing partitions of every org in `orgs`. Conflicts are collected, not
/// raised, so one bad id does not leave the other orgs unrepaired.
pub async fn repair_all(conn: &mut PgConnection) -> anyhow::Result<PartitionRepair> {
    let org_ids: Vec<String> = sqlx::query_scalar("SELECT id FROM orgs ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    ensure_partitions(conn, &org_ids).await
}

/// Creates, for each org and partitioned table, the partition when no existing one accepts
/// the org.
pub async fn ensure_partitions(
    conn: &mut PgConnection,
    org_ids: &[String],
) -> anyhow::Result<PartitionRepair> {
    let mut repair = PartitionRepair::default();
    if org_ids.is_empty() {
        return Ok(repair);
    }
    for parent in PARTITIONED_TABLES {
        let covered = orgs_with_partition(conn, parent, org_ids).await?;
        for org_id in org_ids.iter().filter(|id| !covered.contains(*id)) {
            let name = partition_name(parent, org_id);
            if let Some(reason) = name_taken(conn, parent, &name).await? {
                repair.conflicts.push(PartitionConflict {
                    parent: parent.to_owned(),
                    name,
                    org_id: org_id.clone(),
                    reason,
                });
                continue;
            }
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES IN ({})",
                quote_ident(&name),
                quote_ident(parent),
                quote_literal(org_id),
            );
            conn.execute(AssertSqlSafe(sql)).await?;
            // IF NOT EXISTS keeps concurrent creators of the same org's partition from
            // failing, but would also hide a concurrent creator of a colliding name: check.
            if orgs_with_partition(conn, parent, std::slice::from_ref(org_id))
                .await?
                .is_empty()
            {
                repair.conflicts.push(PartitionConflict {
                    parent: parent.to_owned(),
                    name,
                    org_id: org_id.clone(),
                    reason: "another org's partition was created under that name meanwhile".into(),
                });
            } else {
                repair.created.push(name);
            }
        }
    }
    Ok(repair)
}

/// The ids among `org_ids` that some partition of `parent` accepts.
async fn orgs_with_partition(
    conn: &mut PgConnection,
    parent: &str,
    org_ids: &[String],
) -> anyhow::Result<HashSet<String>> {
    let constraints: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_partition_constraintdef(c.oid)
           FROM pg_inherits i
           JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = to_regclass($1)
            AND pg_get_partition_constraintdef(c.oid) IS NOT NULL",
    )
    .bind(quote_ident(parent))
    .fetch_all(&mut *conn)
    .await?;
    if constraints.is_empty() {
        return Ok(HashSet::new());
    }
    // The constraints are expressions over the partition key column, rendered by PostgreSQL
    // from its own catalog; evaluating them against the candidate ids asks PostgreSQL which
    // partition would take each row, without writing one.
    let sql = constraints
        .iter()
        .map(|constraint| {
            format!("SELECT org_id FROM unnest($1::varchar[]) AS o(org_id) WHERE {constraint}")
        })
        .collect::<Vec<_>>()
        .join(" UNION ");
    let covered: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(org_ids)
        .fetch_all(&mut *conn)
        .await?;
    Ok(covered.into_iter().collect())
}

/// Why `name` cannot be used for a new partition of `parent`, if it cannot.
async fn name_taken(
    conn: &mut PgConnection,
    parent: &str,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let existing: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT p.relname::text, pg_get_expr(c.relpartbound, c.oid)
           FROM pg_class c
           LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
           LEFT JOIN pg_class p ON p.oid = i.inhparent
          WHERE c.oid = to_regclass($1)",
    )
    .bind(quote_ident(name))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(existing.map(|(of, bound)| match (of, bound) {
        (Some(of), Some(bound)) if of == parent => {
            format!("it is the partition {bound} of another org")
        }
        (Some(of), _) => format!("it is a partition of {of}"),
        _ => format!("a table of that name exists and is not a partition of {parent}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_double_quoted_with_inner_quotes_doubled() {
        assert_eq!(
            quote_ident("audit_logs_sole_llc"),
            r#""audit_logs_sole_llc""#
        );
        assert_eq!(quote_ident(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(quote_ident(r#"""#), r#""""""#);
    }

    #[test]
    fn literals_double_single_quotes() {
        assert_eq!(quote_literal("sole-llc"), "'sole-llc'");
        assert_eq!(quote_literal("o'brien"), "'o''brien'");
        assert_eq!(
            quote_literal("x'); DROP TABLE orgs; --"),
            "'x''); DROP TABLE orgs; --'"
        );
        assert_eq!(quote_literal(""), "''");
    }

    #[test]
    fn literals_with_backslashes_use_the_escape_form() {
        assert_eq!(quote_literal(r"a\b"), r"E'a\\b'");
        assert_eq!(quote_literal(r"a\'b"), r"E'a\\''b'");
    }

    #[test]
    fn partition_names_follow_the_legacy_suffix_rule() {
        assert_eq!(
            partition_name("audit_logs", "sole-llc"),
            "audit_logs_sole_llc"
        );
        assert_eq!(
            partition_name("journal_entries", "9lives"),
            "journal_entries_org_9lives"
        );
        assert_eq!(
            partition_name("audit_logs", "a-b"),
            partition_name("audit_logs", "a_b")
        );
    }

    #[test]
    fn partition_names_are_truncated_like_postgresql_identifiers() {
        let name = partition_name("journal_entries", &"x".repeat(100));
        assert_eq!(name.len(), MAX_IDENTIFIER_BYTES);
        assert!(name.starts_with("journal_entries_xxx"));
    }
}
