//! `sole config check`: offline validation of a configuration, every problem at once. It runs
//! the same preflight as `sole serve` (so "configuration OK" means `serve` starts), and warns
//! about keys nothing reads (probable typos) and about `PORT` in a config file (Cloud Run sets
//! it and refuses a deploy that does).

use crate::cli::Cli;
use crate::commands::{Reported, load_env, preflight};
use crate::config::{ORIGIN_ENVIRONMENT, unknown_keys};

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let env = load_env(cli).map_err(|e| Reported::new(1, e.to_string()))?;
    let (settings, problems) = preflight::check(&env);
    let mut warnings: Vec<String> = unknown_keys(&env).iter().map(ToString::to_string).collect();
    if env.get("PORT").is_some()
        && let Some(origin) = env.origin("PORT").filter(|o| *o != ORIGIN_ENVIRONMENT)
        && origin != ".env"
    {
        warnings.push(format!(
            "PORT (in {origin}): Cloud Run sets PORT itself and refuses an --env-vars-file that \
             sets it; remove it from a file meant for Cloud Run"
        ));
    }
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    println!(
        "checked ENVIRONMENT={}, TENANCY_MODE={}",
        settings.environment.as_str(),
        settings.tenancy_mode.as_str()
    );
    if problems.is_empty() {
        println!(
            "configuration OK (ENVIRONMENT={}, TENANCY_MODE={}): sole serve would start with it",
            settings.environment.as_str(),
            settings.tenancy_mode.as_str()
        );
        if !settings.environment.is_production() {
            println!("note: production rules apply only with ENVIRONMENT=production");
        }
        return Ok(());
    }
    eprintln!("configuration has {} problem(s):", problems.len());
    for p in &problems {
        eprintln!("  - {p}");
    }
    if !settings.environment.is_production() {
        eprintln!(
            "(for local development, `sole serve --dev` fills in the keys, secrets and database)"
        );
    }
    Err(Reported::new(1, String::new()).into())
}
