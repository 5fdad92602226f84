//! The convergent half of `sole seed`: find-or-create each row of the plan and bring it in step
//! with the seed data, inside the caller's transaction (never commits).

use std::collections::HashMap;

use secrecy::SecretString;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::permissions::SystemRole;
use crate::domain::profile::{Field, Profile};
use crate::services::profiles;
use crate::services::roles::{self, Outcome};

use super::LOCK_KEY;
use super::data;
use super::plan::{PasswordCache, PlannedOrg, SeedPlan};

/// What a run did to one org.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgReport {
    pub org_id: String,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// One line per update, e.g. `role ORG ADMIN: permissions/description`.
    pub changes: Vec<String>,
}

impl OrgReport {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }

    fn changed(&mut self, what: String) {
        self.updated += 1;
        self.changes.push(what);
    }

    pub fn changed_anything(&self) -> bool {
        self.created > 0 || self.updated > 0
    }
}

/// Serialises seed runs until the caller's transaction ends (works through transaction
/// poolers, unlike a session lock).
pub async fn lock(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}

/// `Some(reason)` when the database is not (fully) migrated.
pub async fn not_migrated(conn: &mut PgConnection) -> anyhow::Result<Option<String>> {
    let status = crate::db::migrator::status(conn).await?;
    if status.unadopted_alembic.is_some() {
        return Ok(Some(
            "the database holds a legacy Alembic schema that has not been adopted".into(),
        ));
    }
    if !status.pending.is_empty() {
        return Ok(Some(format!(
            "the database is not migrated ({} pending migration(s))",
            status.pending.len()
        )));
    }
    Ok(None)
}

/// Seeds one org: the org row, its partitions, default settings and system roles, the admin,
/// and the demo data when the plan says so.
pub async fn seed_org(
    conn: &mut PgConnection,
    plan: &SeedPlan,
    org: &PlannedOrg,
    passwords: &mut PasswordCache,
) -> anyhow::Result<OrgReport> {
    let org_id = org.id.as_str();
    let mut report = OrgReport {
        org_id: org_id.to_owned(),
        ..OrgReport::default()
    };

    ensure_org(conn, org, &mut report).await?;
    let created = crate::db::partitions::ensure_org_partitions(conn, org_id).await?;
    report.created += created.len();
    report.unchanged += crate::db::partitions::PARTITIONED_TABLES.len() - created.len();
    let inserted = sqlx::query(
        "INSERT INTO org_settings (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING",
    )
    .bind(org_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    report.count(if inserted == 1 {
        Outcome::Created
    } else {
        Outcome::Unchanged
    });

    let mut role_ids: HashMap<&'static str, Uuid> = HashMap::new();
    for (role, id, outcome) in roles::ensure_system_roles(conn, org_id).await? {
        role_ids.insert(role.stored_name(), id);
        if outcome == Outcome::Updated {
            report.changed(format!(
                "role {}: permissions/description",
                role.stored_name()
            ));
        } else {
            report.count(outcome);
        }
    }

    // The admin: one identity, a dedicated user in every seeded org.
    let admin = &plan.admin;
    let identity =
        ensure_identity(conn, &admin.email, &admin.password, passwords, &mut report).await?;
    let person = Person {
        email: admin.email.clone(),
        identity_id: identity,
        superuser: org.is_default,
        employee_id: format!("{org_id}-admin"),
        department_id: None,
        employment_start_date: None,
        roles: vec![SystemRole::OrgAdmin, SystemRole::Employee],
        profile: ProfileRow {
            full_name: admin.full_name.clone(),
            profile: Profile {
                first_name: Some(admin.full_name.clone()),
                last_name: Some(String::new()),
                ..Profile::default()
            },
        },
        profile_fields: ProfileFields::NamesOnly,
        converge_membership: false,
    };
    ensure_person(conn, org_id, &person, &role_ids, &mut report).await?;

    if plan.demo {
        let mut departments: HashMap<&str, Uuid> = HashMap::new();
        for dept in &plan.data.departments {
            let id = ensure_department(conn, org_id, &dept.code, &dept.name, &mut report).await?;
            departments.insert(dept.code.as_str(), id);
        }
        for user in &plan.data.demo_users {
            let email = user.email_for(org_id);
            let identity =
                ensure_identity(conn, &email, &admin.password, passwords, &mut report).await?;
            let p = &user.profile;
            let person = Person {
                email,
                identity_id: identity,
                superuser: false,
                employee_id: user.employee_id_for(org_id),
                department_id: user
                    .department
                    .as_deref()
                    .and_then(|code| departments.get(code).copied()),
                employment_start_date: user.employment_start_date,
                roles: user.roles.clone(),
                profile: ProfileRow {
                    full_name: p.full_name(),
                    profile: p.profile(),
                },
                profile_fields: ProfileFields::All,
                converge_membership: true,
            };
            ensure_person(conn, org_id, &person, &role_ids, &mut report).await?;
            if !user.stock_grants.is_empty() {
                ensure_demo_grants(conn, org_id, &person.email, &user.stock_grants, &mut report)
                    .await?;
            }
        }
    }
    Ok(report)
}

/// The demo grants of one person, found by (org, membership, grant_date, total_shares) as the
/// legacy seed did, created ACTIVE with their events when missing; existing grants are left
/// as they are (an admin may have edited them).
async fn ensure_demo_grants(
    conn: &mut PgConnection,
    org_id: &str,
    email: &str,
    grants: &[data::DemoGrant],
    report: &mut OrgReport,
) -> anyhow::Result<()> {
    let membership_id: Uuid = sqlx::query_scalar(
        "SELECT m.id FROM org_memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND u.org_id = $1 AND u.email = $2",
    )
    .bind(org_id)
    .bind(email)
    .fetch_one(&mut *conn)
    .await?;
    for grant in grants {
        let exists: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM employee_stock_grants WHERE org_id = $1 AND org_membership_id = $2 \
             AND grant_date = $3 AND total_shares = $4 LIMIT 1",
        )
        .bind(org_id)
        .bind(membership_id)
        .bind(grant.schedule.grant_date)
        .bind(grant.schedule.total_shares)
        .fetch_optional(&mut *conn)
        .await?;
        if exists.is_some() {
            report.count(Outcome::Unchanged);
            continue;
        }
        crate::services::stock::grants::create(
            conn,
            org_id,
            membership_id,
            &crate::services::stock::grants::NewGrant {
                schedule: &grant.schedule,
                exercise_price: &grant.exercise_price,
                notes: grant.notes.as_deref(),
            },
        )
        .await?;
        report.count(Outcome::Created);
    }
    Ok(())
}

async fn ensure_org(
    conn: &mut PgConnection,
    org: &PlannedOrg,
    report: &mut OrgReport,
) -> anyhow::Result<()> {
    let existing: Option<(String, String)> =
        sqlx::query_as("SELECT name, slug FROM orgs WHERE id = $1 FOR UPDATE")
            .bind(org.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    let wants_slug = match &existing {
        None => true,
        Some((name, slug)) => org.converge_name && (name != &org.name || slug != &org.slug),
    };
    if wants_slug {
        let taken: Option<String> =
            sqlx::query_scalar("SELECT id FROM orgs WHERE slug = $1 AND id <> $2")
                .bind(&org.slug)
                .bind(org.id.as_str())
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(other) = taken {
            anyhow::bail!(
                "org {} ({}): slug {:?} is already used by org {other}",
                org.id,
                org.source,
                org.slug
            );
        }
    }
    match existing {
        None => {
            sqlx::query("INSERT INTO orgs (id, name, slug, status) VALUES ($1, $2, $3, 'ACTIVE')")
                .bind(org.id.as_str())
                .bind(&org.name)
                .bind(&org.slug)
                .execute(&mut *conn)
                .await?;
            report.count(Outcome::Created);
        }
        Some((name, slug)) if wants_slug => {
            sqlx::query("UPDATE orgs SET name = $2, slug = $3, updated_at = now() WHERE id = $1")
                .bind(org.id.as_str())
                .bind(&org.name)
                .bind(&org.slug)
                .execute(&mut *conn)
                .await?;
            let mut fields = Vec::new();
            if name != org.name {
                fields.push("name");
            }
            if slug != org.slug {
                fields.push("slug");
            }
            report.changed(format!("org {}: {}", org.id, fields.join(", ")));
        }
        Some(_) => report.count(Outcome::Unchanged),
    }
    Ok(())
}

/// The identity with this exact e-mail, created with the password and `must_change_password`
/// when missing. An existing identity is never touched (its password may have been changed).
async fn ensure_identity(
    conn: &mut PgConnection,
    email: &str,
    password: &SecretString,
    passwords: &mut PasswordCache,
    report: &mut OrgReport,
) -> anyhow::Result<Uuid> {
    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM identities WHERE email = $1")
        .bind(email)
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(id) = existing {
        report.count(Outcome::Unchanged);
        return Ok(id);
    }
    let hash = passwords.hash(password).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO identities (id, email, hashed_password, must_change_password, is_active) \
         VALUES ($1, $2, $3, true, true)",
    )
    .bind(id)
    .bind(email)
    .bind(hash)
    .execute(&mut *conn)
    .await?;
    report.count(Outcome::Created);
    Ok(id)
}

async fn ensure_department(
    conn: &mut PgConnection,
    org_id: &str,
    code: &str,
    name: &str,
    report: &mut OrgReport,
) -> anyhow::Result<Uuid> {
    let existing: Option<(Uuid, String)> = sqlx::query_as(
        "SELECT id, name FROM departments WHERE org_id = $1 AND code = $2 FOR UPDATE",
    )
    .bind(org_id)
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some((id, current)) if current == name => {
            report.count(Outcome::Unchanged);
            Ok(id)
        }
        Some((id, _)) => {
            sqlx::query("UPDATE departments SET name = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(name)
                .execute(&mut *conn)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "department {code} in org {org_id}: cannot rename to {name:?}: {e}"
                    )
                })?;
            report.changed(format!("department {code}: name"));
            Ok(id)
        }
        None => {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO departments (id, org_id, name, code, is_archived) VALUES ($1, $2, $3, $4, false)",
            )
            .bind(id)
            .bind(org_id)
            .bind(name)
            .bind(code)
            .execute(&mut *conn)
            .await
            .map_err(|e| anyhow::anyhow!("department {code} in org {org_id}: {e}"))?;
            report.count(Outcome::Created);
            Ok(id)
        }
    }
}

/// Which profile columns the seed owns for a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProfileFields {
    /// The admin: full_name and first_name (last_name "" on creation); the rest is theirs.
    NamesOnly,
    /// Demo users: every column, from the YAML.
    All,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, sqlx::FromRow)]
struct ProfileRow {
    full_name: String,
    #[sqlx(flatten)]
    profile: Profile,
}

impl ProfileRow {
    /// The names of the columns whose values differ from `other`'s.
    fn changed_from(&self, other: &ProfileRow) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.full_name != other.full_name {
            changed.push("full_name");
        }
        changed.extend(
            Field::ALL
                .into_iter()
                .filter(|f| self.profile.get(*f) != other.profile.get(*f))
                .map(Field::name),
        );
        changed
    }
}

/// id, user_id, employee_id, department_id, employment_start_date.
type MembershipRow = (Uuid, Uuid, String, Option<Uuid>, Option<time::Date>);

struct Person {
    email: String,
    identity_id: Uuid,
    superuser: bool,
    employee_id: String,
    department_id: Option<Uuid>,
    employment_start_date: Option<time::Date>,
    roles: Vec<SystemRole>,
    profile: ProfileRow,
    profile_fields: ProfileFields,
    /// Keep employee id, department and start date in step (demo users).
    converge_membership: bool,
}

/// The org-scoped `users` row, membership, profile and roles of one person.
async fn ensure_person(
    conn: &mut PgConnection,
    org_id: &str,
    person: &Person,
    role_ids: &HashMap<&'static str, Uuid>,
    report: &mut OrgReport,
) -> anyhow::Result<()> {
    let who = &person.email;

    // users: by (org, identity), else by (org, email).
    let existing: Option<(Uuid, Uuid, bool)> = sqlx::query_as(
        "SELECT id, identity_id, is_superuser FROM users WHERE org_id = $1 AND (identity_id = $2 OR email = $3) \
         ORDER BY (identity_id = $2) DESC LIMIT 1 FOR UPDATE",
    )
    .bind(org_id)
    .bind(person.identity_id)
    .bind(who)
    .fetch_optional(&mut *conn)
    .await?;
    let user_id = match existing {
        Some((_, identity, _)) if identity != person.identity_id => anyhow::bail!(
            "org {org_id}: a user with e-mail {who} exists but belongs to another identity; fix it by hand"
        ),
        Some((id, _, superuser)) if superuser == person.superuser => {
            report.count(Outcome::Unchanged);
            id
        }
        Some((id, _, _)) => {
            sqlx::query("UPDATE users SET is_superuser = $2, updated_at = now() WHERE id = $1")
                .bind(id)
                .bind(person.superuser)
                .execute(&mut *conn)
                .await?;
            report.changed(format!("user {who}: is_superuser"));
            id
        }
        None => {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO users (id, org_id, email, is_active, is_superuser, identity_id) \
                 VALUES ($1, $2, $3, true, $4, $5)",
            )
            .bind(id)
            .bind(org_id)
            .bind(who)
            .bind(person.superuser)
            .bind(person.identity_id)
            .execute(&mut *conn)
            .await?;
            report.count(Outcome::Created);
            id
        }
    };

    // Membership: by (org, user), else by (org, employee_id) when that one has no other user.
    let existing: Option<MembershipRow> = sqlx::query_as(
        "SELECT id, user_id, employee_id, department_id, employment_start_date FROM org_memberships \
         WHERE org_id = $1 AND (user_id = $2 OR employee_id = $3) ORDER BY (user_id = $2) DESC LIMIT 1 FOR UPDATE",
    )
    .bind(org_id)
    .bind(user_id)
    .bind(&person.employee_id)
    .fetch_optional(&mut *conn)
    .await?;
    let membership_id = match existing {
        Some((_, other, ..)) if other != user_id => anyhow::bail!(
            "org {org_id}: employee id {} is used by another user's membership; {who} cannot get it",
            person.employee_id
        ),
        Some((id, _, employee_id, department_id, start)) => {
            let mut fields = Vec::new();
            if person.converge_membership {
                if employee_id != person.employee_id {
                    fields.push("employee_id");
                }
                if department_id != person.department_id {
                    fields.push("department");
                }
                if start != person.employment_start_date {
                    fields.push("employment_start_date");
                }
            }
            if fields.is_empty() {
                report.count(Outcome::Unchanged);
            } else {
                sqlx::query(
                    "UPDATE org_memberships SET employee_id = $2, department_id = $3, employment_start_date = $4, \
                     updated_at = now() WHERE id = $1",
                )
                .bind(id)
                .bind(&person.employee_id)
                .bind(person.department_id)
                .bind(person.employment_start_date)
                .execute(&mut *conn)
                .await?;
                report.changed(format!("membership {who}: {}", fields.join(", ")));
            }
            id
        }
        None => {
            let id = Uuid::new_v4();
            sqlx::query(
                "INSERT INTO org_memberships (id, org_id, user_id, employee_id, department_id, employment_start_date, \
                 employment_status, platform_status, invitation_status, invited_at, accepted_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'ACTIVE', 'ACTIVE', 'ACCEPTED', now(), now())",
            )
            .bind(id)
            .bind(org_id)
            .bind(user_id)
            .bind(&person.employee_id)
            .bind(person.department_id)
            .bind(person.employment_start_date)
            .execute(&mut *conn)
            .await?;
            report.count(Outcome::Created);
            id
        }
    };

    // Profile.
    let existing: Option<ProfileRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT full_name, {} FROM org_user_profiles \
         WHERE org_id = $1 AND membership_id = $2 FOR UPDATE",
        profiles::columns("")
    )))
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(&mut *conn)
    .await?;
    let wanted = &person.profile;
    match existing {
        None => {
            profiles::write(
                conn,
                org_id,
                membership_id,
                &wanted.full_name,
                &wanted.profile,
            )
            .await?;
            report.count(Outcome::Created);
        }
        Some(current) => {
            let target = match person.profile_fields {
                ProfileFields::All => wanted.clone(),
                ProfileFields::NamesOnly => ProfileRow {
                    full_name: wanted.full_name.clone(),
                    profile: Profile {
                        first_name: wanted.profile.first_name.clone(),
                        ..current.profile.clone()
                    },
                },
            };
            let changed = target.changed_from(&current);
            if changed.is_empty() {
                report.count(Outcome::Unchanged);
            } else {
                profiles::write(
                    conn,
                    org_id,
                    membership_id,
                    &target.full_name,
                    &target.profile,
                )
                .await?;
                report.changed(format!("profile {who}: {}", changed.join(", ")));
            }
        }
    }

    // Roles are only added: an operator may have granted more.
    for role in &person.roles {
        let Some(role_id) = role_ids.get(role.stored_name()) else {
            anyhow::bail!(
                "org {org_id}: system role {} is missing",
                role.stored_name()
            );
        };
        let created = roles::assign(conn, org_id, user_id, *role_id).await?;
        report.count(if created {
            Outcome::Created
        } else {
            Outcome::Unchanged
        });
    }
    Ok(())
}
