//! `sole config check`: offline validation of a configuration, every problem at once.

use crate::cli::Cli;
use crate::commands::{Reported, load_env};
use crate::config::Settings;

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let env = load_env(cli).map_err(|e| Reported::new(1, e.to_string()))?;
    let (settings, problems) = Settings::check(&env);
    if problems.is_empty() {
        println!(
            "configuration OK (ENVIRONMENT={}, TENANCY_MODE={})",
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
    Err(Reported::new(1, String::new()).into())
}
