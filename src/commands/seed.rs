//! `sole seed`: runs `services::seed` for every org in one transaction under an advisory lock,
//! then prints what it did.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use sqlx::{Connection, Executor, PgConnection};

use crate::cli::SeedArgs;
use crate::commands::Reported;
use crate::config::{Environment, Settings};
use crate::db::{connect_once, direct_url};
use crate::services::seed::{self, OrgReport, PasswordCache, SeedData, SeedPlan};

pub fn run(settings: Settings, args: &SeedArgs) -> anyhow::Result<()> {
    let data = load_data(args.seeds_dir.as_deref())?;
    let plan = plan(&settings, &args.extra_orgs, args.no_demo, data)?;
    let reports = crate::commands::runtime()?.block_on(async {
        let url = direct_url(&settings, args.database_url.as_ref())
            .map_err(|e| Reported::new(2, e.to_string()))?;
        let mut conn = connect_once(&url, &settings.database)
            .await
            .map_err(|e| Reported::new(1, e.to_string()))?;
        let reports = execute(&mut conn, &settings, &plan, std::io::stdout().is_terminal()).await;
        let current = if settings.environment.is_development() {
            logins_with_seed_password(&mut conn, &settings, &plan).await
        } else {
            Default::default()
        };
        conn.close().await.ok();
        anyhow::Ok((reports?, current))
    })?;
    let (reports, current) = reports;
    print_reports(&reports);
    print_logins(&plan, &settings.environment, None, &current);
    Ok(())
}

/// The seed data: `dir` when given, else `./seeds` when it exists, else the built-in copy.
pub fn load_data(dir: Option<&Path>) -> anyhow::Result<SeedData> {
    let local = PathBuf::from("seeds");
    let dir = match dir {
        Some(dir) => Some(dir.to_owned()),
        None if local.is_dir() => Some(local),
        None => None,
    };
    let data = match dir {
        Some(dir) => SeedData::load_dir(&dir),
        None => SeedData::embedded(),
    };
    data.map_err(|e| Reported::new(2, format!("invalid seed data: {e}")).into())
}

/// Builds the plan, reporting every problem at once (exit 2).
pub fn plan(
    settings: &Settings,
    extra_orgs: &[String],
    no_demo: bool,
    data: SeedData,
) -> anyhow::Result<SeedPlan> {
    SeedPlan::build(settings, extra_orgs, no_demo, data).map_err(|problems| {
        let list = problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n");
        Reported::new(2, format!("cannot seed:\n{list}")).into()
    })
}

/// Checks the schema, then seeds every org in one transaction under the seed lock and
/// commits. Concurrent runs wait for each other; the later one finds nothing to do.
pub async fn execute(
    conn: &mut PgConnection,
    settings: &Settings,
    plan: &SeedPlan,
    progress: bool,
) -> anyhow::Result<Vec<OrgReport>> {
    // DB_STATEMENT_TIMEOUT_MS budgets API queries; waiting for another seed must not hit it.
    conn.execute("SET statement_timeout = 0")
        .await
        .map_err(|e| Reported::new(1, format!("cannot configure the session: {e}")))?;
    if let Some(reason) = seed::not_migrated(conn)
        .await
        .map_err(|e| Reported::new(1, format!("cannot read the migration state: {e:#}")))?
    {
        return Err(Reported::new(1, format!("{reason}: run `sole migrate` first")).into());
    }
    let bar = progress.then(|| {
        let bar = indicatif::ProgressBar::new(plan.orgs.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("seeding {bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let failed = |e: anyhow::Error| -> anyhow::Error {
        Reported::new(1, format!("seed failed (nothing was committed): {e:#}")).into()
    };
    let mut tx = conn.begin().await.map_err(|e| failed(e.into()))?;
    seed::lock(&mut tx).await.map_err(|e| failed(e.into()))?;
    let mut passwords = PasswordCache::new(&settings.argon2);
    let mut reports = Vec::with_capacity(plan.orgs.len());
    for (i, org) in plan.orgs.iter().enumerate() {
        match &bar {
            Some(bar) => bar.set_message(org.id.as_str().to_owned()),
            None => println!("seeding org {} ({}/{})", org.id, i + 1, plan.orgs.len()),
        }
        let report = seed::seed_org(&mut tx, plan, org, &mut passwords)
            .await
            .map_err(failed)?;
        reports.push(report);
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    }
    tx.commit().await.map_err(|e| failed(e.into()))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(reports)
}

pub fn print_reports(reports: &[OrgReport]) {
    for r in reports {
        println!(
            "org {}: {} created, {} updated, {} unchanged",
            r.org_id, r.created, r.updated, r.unchanged
        );
        for change in &r.changes {
            println!("  updated {change}");
        }
    }
    let created: usize = reports.iter().map(|r| r.created).sum();
    let updated: usize = reports.iter().map(|r| r.updated).sum();
    if created == 0 && updated == 0 {
        println!(
            "nothing to do: {} org(s) already match the seed data",
            reports.len()
        );
    } else {
        println!(
            "seeded {} org(s): {created} created, {updated} updated",
            reports.len()
        );
    }
}

/// Which seeded logins still accept the seed password (`SEED_ADMIN_PASSWORD`, or the one
/// `--dev` generated): an identity keeps its password across seed runs, so one created earlier
/// or changed at first sign-in must not be shown with the current one. Only the password hashes
/// of the listed emails are read; nothing is printed here.
pub async fn logins_with_seed_password(
    conn: &mut PgConnection,
    settings: &Settings,
    plan: &SeedPlan,
) -> std::collections::BTreeSet<String> {
    use secrecy::ExposeSecret as _;
    let mut out = std::collections::BTreeSet::new();
    let Some(password) = &settings.seed_admin_password else {
        return out;
    };
    let emails: Vec<String> = plan
        .orgs
        .iter()
        .flat_map(|org| plan.logins(org.id.as_str()))
        .map(|e| e.to_lowercase())
        .collect();
    let rows: Vec<(String, Option<String>)> = match sqlx::query_as(
        "SELECT lower(email), hashed_password FROM identities WHERE lower(email) = ANY($1)",
    )
    .bind(&emails)
    .fetch_all(&mut *conn)
    .await
    {
        Ok(rows) => rows,
        Err(_) => return out,
    };
    let Ok(hasher) = crate::auth::password::PasswordHasher::new(&settings.argon2) else {
        return out;
    };
    for (email, hash) in rows {
        if hash.is_some_and(|h| hasher.verify(password.expose_secret(), &h)) {
            out.insert(email);
        }
    }
    out
}

/// The logins, in development only, one per line. The password is printed only when
/// `dev_password` is given (a password `sole serve --dev` generated itself), otherwise named,
/// and only next to the logins that still accept it.
pub fn print_logins(
    plan: &SeedPlan,
    environment: &Environment,
    dev_password: Option<&str>,
    current: &std::collections::BTreeSet<String>,
) {
    if !environment.is_development() {
        return;
    }
    let password = dev_password.unwrap_or("the value of SEED_ADMIN_PASSWORD");
    if current.is_empty() {
        println!("logins (each with the password chosen at its first sign-in):");
    } else {
        println!("logins (marked *: password {password}, to be changed at first sign-in):");
    }
    for org in &plan.orgs {
        println!("  org {}:", org.id);
        for (i, login) in plan.logins(org.id.as_str()).into_iter().enumerate() {
            let role = match (i, org.is_default) {
                (0, true) => "ORG ADMIN, superuser",
                (0, false) => "ORG ADMIN",
                _ => "demo",
            };
            let mark = if current.contains(&login.to_lowercase()) {
                "*"
            } else {
                " "
            };
            println!("   {mark} {login:<36} {role}");
        }
    }
}
