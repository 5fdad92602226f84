//! `sole seed`: orgs, system roles, the seed admin and (outside production) demo data.
//!
//! Everything is find-or-create and then brought in step with the seed data ("convergent"):
//! a second run changes nothing, a run after a change of `seeds/*.yaml` or of the settings
//! updates exactly what changed, and every update is part of the caller's transaction (the
//! legacy seed only flushed its updates, so they were lost unless something was also created).
//!
//! These functions take `&mut PgConnection` and never commit; `commands::seed` owns the
//! transaction, takes the advisory lock first ([`lock`]) and commits once.

pub mod data;

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::password::PasswordHasher;
use crate::auth::policy::PasswordPolicy;
use crate::config::{Argon2Settings, Settings, WEAK_SEED_PASSWORDS};
use crate::domain::org::OrgId;
use crate::domain::permissions::SystemRole;
use crate::services::roles::{self, Outcome};

pub use data::SeedData;

/// `pg_advisory_xact_lock` key serialising seed runs ("sole-seed" in ASCII).
pub const LOCK_KEY: i64 = 0x736f_6c65_7365_6564;

/// One org to seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedOrg {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    /// Where the org was named (`DEFAULT_ORG_ID`, a YAML file, `EXTRA_SEED_ORG_IDS`,
    /// `--extra-orgs`).
    pub source: &'static str,
    /// Name and slug are kept in step (YAML orgs); otherwise only used on creation.
    pub converge_name: bool,
    pub is_default: bool,
}

/// The seed admin identity (`SEED_ADMIN_*`).
#[derive(Clone, Debug)]
pub struct AdminSeed {
    pub email: String,
    pub password: SecretString,
    pub full_name: String,
}

/// What one run will do, decided before connecting.
#[derive(Clone, Debug)]
pub struct SeedPlan {
    pub orgs: Vec<PlannedOrg>,
    pub admin: AdminSeed,
    /// Demo departments and users (not in production, not with `--no-demo`).
    pub demo: bool,
    pub data: SeedData,
}

/// "acme-west" -> "Acme West Organization" (the legacy seed's name for extra orgs).
pub fn derived_org_name(id: &str) -> String {
    let words: Vec<String> = id
        .replace('-', " ")
        .split_whitespace()
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(first) => first
                    .to_uppercase()
                    .chain(chars.flat_map(char::to_lowercase))
                    .collect(),
                None => String::new(),
            }
        })
        .collect();
    format!("{} Organization", words.join(" "))
}

impl SeedPlan {
    /// Validates the settings and the org lists; every problem is reported at once.
    pub fn build(
        settings: &Settings,
        extra_orgs_flag: &[String],
        no_demo: bool,
        data: SeedData,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();

        let email = match settings.seed_admin_email.as_deref() {
            None => {
                problems.push("SEED_ADMIN_EMAIL is required by sole seed".to_owned());
                String::new()
            }
            Some(raw) => match crate::domain::email::normalize(raw) {
                Ok(email) => email,
                Err(reason) => {
                    problems.push(format!(
                        "SEED_ADMIN_EMAIL is not a valid e-mail address: {reason}"
                    ));
                    String::new()
                }
            },
        };
        let password = match &settings.seed_admin_password {
            None => {
                problems.push("SEED_ADMIN_PASSWORD is required by sole seed".to_owned());
                SecretString::from(String::new())
            }
            Some(password) => {
                let policy = PasswordPolicy::new(settings.default_password_min_length);
                if let Err(violation) = policy.check(password.expose_secret()) {
                    problems.push(format!(
                        "SEED_ADMIN_PASSWORD does not pass the password policy: {violation}"
                    ));
                }
                if settings.environment.is_production()
                    && WEAK_SEED_PASSWORDS
                        .contains(&password.expose_secret().to_lowercase().as_str())
                {
                    problems.push(
                        "SEED_ADMIN_PASSWORD is a known weak value; production refuses it"
                            .to_owned(),
                    );
                }
                password.clone()
            }
        };

        let mut orgs: Vec<PlannedOrg> = Vec::new();
        let default_id = settings.default_org_id.clone();
        let default_slug = if settings.default_org_slug.trim().is_empty() {
            default_id.as_str().to_owned()
        } else {
            settings.default_org_slug.clone()
        };
        orgs.push(PlannedOrg {
            name: settings.default_org_name.clone(),
            slug: default_slug,
            id: default_id,
            source: "DEFAULT_ORG_ID",
            converge_name: false,
            is_default: true,
        });
        for (id, org) in &data.orgs {
            if orgs.iter().any(|o| &o.id == id) {
                continue;
            }
            orgs.push(PlannedOrg {
                id: id.clone(),
                name: org.name.trim().to_owned(),
                slug: org
                    .slug
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or(id.as_str())
                    .to_owned(),
                source: "seeds",
                converge_name: true,
                is_default: false,
            });
        }
        let extras = settings
            .extra_seed_org_ids
            .iter()
            .map(|raw| ("EXTRA_SEED_ORG_IDS", raw))
            .chain(extra_orgs_flag.iter().map(|raw| ("--extra-orgs", raw)));
        for (source, raw) in extras {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            match OrgId::parse(raw) {
                Err(e) => problems.push(format!("{source}: {raw:?}: {e}")),
                Ok(id) => {
                    if orgs.iter().any(|o| o.id == id) {
                        continue;
                    }
                    orgs.push(PlannedOrg {
                        name: derived_org_name(id.as_str()),
                        slug: id.as_str().to_owned(),
                        id,
                        source,
                        converge_name: false,
                        is_default: false,
                    });
                }
            }
        }
        let mut slugs: HashMap<&str, &OrgId> = HashMap::new();
        for org in &orgs {
            if let Some(other) = slugs.insert(org.slug.as_str(), &org.id) {
                problems.push(format!(
                    "orgs {other} and {} would both get the slug {:?}",
                    org.id, org.slug
                ));
            }
        }

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(SeedPlan {
            orgs,
            admin: AdminSeed {
                email,
                password,
                full_name: settings.seed_admin_full_name.clone(),
            },
            demo: !settings.environment.is_production() && !no_demo,
            data,
        })
    }

    /// The logins the seed provides in `org` (admin first).
    pub fn logins(&self, org: &str) -> Vec<String> {
        let mut out = vec![self.admin.email.clone()];
        if self.demo {
            out.extend(self.data.demo_users.iter().map(|u| u.email_for(org)));
        }
        out
    }
}

/// Hashes each distinct password once per run, and builds the hasher only when a password is
/// actually needed (a run that creates no identity hashes nothing).
pub struct PasswordCache {
    argon2: Argon2Settings,
    hasher: Option<PasswordHasher>,
    hashes: Vec<(SecretString, String)>,
}

impl PasswordCache {
    pub fn new(argon2: &Argon2Settings) -> Self {
        Self {
            argon2: argon2.clone(),
            hasher: None,
            hashes: Vec::new(),
        }
    }

    /// Number of distinct passwords hashed so far.
    pub fn hashed(&self) -> usize {
        self.hashes.len()
    }

    pub async fn hash(&mut self, password: &SecretString) -> anyhow::Result<String> {
        if let Some((_, hash)) = self
            .hashes
            .iter()
            .find(|(p, _)| p.expose_secret() == password.expose_secret())
        {
            return Ok(hash.clone());
        }
        let hasher = match &self.hasher {
            Some(h) => h.clone(),
            None => {
                let settings = self.argon2.clone();
                let h =
                    tokio::task::spawn_blocking(move || PasswordHasher::new(&settings)).await??;
                self.hasher = Some(h.clone());
                h
            }
        };
        let hash = hasher.hash_async(password.expose_secret()).await?;
        self.hashes.push((password.clone(), hash.clone()));
        Ok(hash)
    }
}

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
            first_name: Some(admin.full_name.clone()),
            last_name: Some(String::new()),
            ..ProfileRow::default()
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
                    first_name: Some(p.first_name.clone()),
                    middle_name: p.middle_name.clone(),
                    last_name: Some(p.last_name.clone()),
                    preferred_name: p.preferred_name.clone(),
                    timezone: p.timezone.clone(),
                    phone_number: p.phone_number.clone(),
                    marital_status: p.marital_status.clone(),
                    country: p.country.as_ref().map(|c| c.to_ascii_uppercase()),
                    state: p.state.as_ref().map(|s| s.to_ascii_uppercase()),
                    address_line1: p.address_line1.clone(),
                    address_line2: p.address_line2.clone(),
                    postal_code: p.postal_code.as_ref().map(|s| s.to_ascii_uppercase()),
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
    first_name: Option<String>,
    middle_name: Option<String>,
    last_name: Option<String>,
    preferred_name: Option<String>,
    timezone: Option<String>,
    phone_number: Option<String>,
    marital_status: Option<String>,
    country: Option<String>,
    state: Option<String>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    postal_code: Option<String>,
}

impl ProfileRow {
    fn fields(&self) -> [(&'static str, Option<&str>); 13] {
        [
            ("full_name", Some(self.full_name.as_str())),
            ("first_name", self.first_name.as_deref()),
            ("middle_name", self.middle_name.as_deref()),
            ("last_name", self.last_name.as_deref()),
            ("preferred_name", self.preferred_name.as_deref()),
            ("timezone", self.timezone.as_deref()),
            ("phone_number", self.phone_number.as_deref()),
            ("marital_status", self.marital_status.as_deref()),
            ("country", self.country.as_deref()),
            ("state", self.state.as_deref()),
            ("address_line1", self.address_line1.as_deref()),
            ("address_line2", self.address_line2.as_deref()),
            ("postal_code", self.postal_code.as_deref()),
        ]
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
    let existing: Option<ProfileRow> = sqlx::query_as(
        "SELECT full_name, first_name, middle_name, last_name, preferred_name, timezone, phone_number, \
         marital_status, country, state, address_line1, address_line2, postal_code \
         FROM org_user_profiles WHERE org_id = $1 AND membership_id = $2 FOR UPDATE",
    )
    .bind(org_id)
    .bind(membership_id)
    .fetch_optional(&mut *conn)
    .await?;
    let wanted = &person.profile;
    match existing {
        None => {
            sqlx::query(
                "INSERT INTO org_user_profiles (id, org_id, membership_id, full_name, first_name, middle_name, \
                 last_name, preferred_name, timezone, phone_number, marital_status, country, state, address_line1, \
                 address_line2, postal_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(Uuid::new_v4())
            .bind(org_id)
            .bind(membership_id)
            .bind(&wanted.full_name)
            .bind(&wanted.first_name)
            .bind(&wanted.middle_name)
            .bind(&wanted.last_name)
            .bind(&wanted.preferred_name)
            .bind(&wanted.timezone)
            .bind(&wanted.phone_number)
            .bind(&wanted.marital_status)
            .bind(&wanted.country)
            .bind(&wanted.state)
            .bind(&wanted.address_line1)
            .bind(&wanted.address_line2)
            .bind(&wanted.postal_code)
            .execute(&mut *conn)
            .await?;
            report.count(Outcome::Created);
        }
        Some(current) => {
            let target = match person.profile_fields {
                ProfileFields::All => wanted.clone(),
                ProfileFields::NamesOnly => ProfileRow {
                    full_name: wanted.full_name.clone(),
                    first_name: wanted.first_name.clone(),
                    ..current.clone()
                },
            };
            let changed: Vec<&str> = current
                .fields()
                .iter()
                .zip(target.fields().iter())
                .filter(|(a, b)| a.1 != b.1)
                .map(|(a, _)| a.0)
                .collect();
            if changed.is_empty() {
                report.count(Outcome::Unchanged);
            } else {
                sqlx::query(
                    "UPDATE org_user_profiles SET full_name = $3, first_name = $4, middle_name = $5, last_name = $6, \
                     preferred_name = $7, timezone = $8, phone_number = $9, marital_status = $10, country = $11, \
                     state = $12, address_line1 = $13, address_line2 = $14, postal_code = $15, updated_at = now() \
                     WHERE org_id = $1 AND membership_id = $2",
                )
                .bind(org_id)
                .bind(membership_id)
                .bind(&target.full_name)
                .bind(&target.first_name)
                .bind(&target.middle_name)
                .bind(&target.last_name)
                .bind(&target.preferred_name)
                .bind(&target.timezone)
                .bind(&target.phone_number)
                .bind(&target.marital_status)
                .bind(&target.country)
                .bind(&target.state)
                .bind(&target.address_line1)
                .bind(&target.address_line2)
                .bind(&target.postal_code)
                .execute(&mut *conn)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnvMap;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut env = EnvMap::from_pairs([
            ("SEED_ADMIN_EMAIL", "Admin@Example.COM"),
            ("SEED_ADMIN_PASSWORD", "Seed#Admin42pass"),
        ]);
        env.overlay(EnvMap::from_pairs(pairs.iter().copied()));
        Settings::from_env(&env).unwrap()
    }

    #[test]
    fn extra_org_names_follow_the_legacy_rule() {
        assert_eq!(derived_org_name("acme-west"), "Acme West Organization");
        assert_eq!(derived_org_name("beta"), "Beta Organization");
    }

    #[test]
    fn orgs_from_env_and_flag_are_normalised_and_deduplicated() {
        let s = settings(&[("EXTRA_SEED_ORG_IDS", " Acme ,beta,acme,default")]);
        let plan = SeedPlan::build(
            &s,
            &["BETA".into(), "gamma".into()],
            false,
            SeedData::default(),
        )
        .unwrap();
        let ids: Vec<_> = plan.orgs.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(ids, ["default", "acme", "beta", "gamma"]);
        assert_eq!(plan.admin.email, "Admin@example.com");
        assert!(plan.demo);
    }

    #[test]
    fn every_problem_is_reported() {
        let s = settings(&[
            ("SEED_ADMIN_PASSWORD", "short"),
            ("EXTRA_SEED_ORG_IDS", "Not Valid!"),
        ]);
        let problems = SeedPlan::build(&s, &["x".into()], false, SeedData::default()).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("SEED_ADMIN_PASSWORD does not pass"));
        assert!(problems[1].starts_with("EXTRA_SEED_ORG_IDS"));
        assert!(problems[2].starts_with("--extra-orgs"));
    }

    #[test]
    fn production_refuses_weak_passwords_and_skips_demo_data() {
        let s = settings(&[
            ("ENVIRONMENT", "production"),
            ("SEED_ADMIN_PASSWORD", "ChangeMe123!"),
        ]);
        let problems = SeedPlan::build(&s, &[], false, SeedData::default()).unwrap_err();
        assert!(
            problems.iter().any(|p| p.contains("known weak value")),
            "{problems:?}"
        );
        let s = settings(&[("ENVIRONMENT", "production")]);
        assert!(
            !SeedPlan::build(&s, &[], false, SeedData::default())
                .unwrap()
                .demo
        );
        let s = settings(&[]);
        assert!(
            !SeedPlan::build(&s, &[], true, SeedData::default())
                .unwrap()
                .demo
        );
    }
}
