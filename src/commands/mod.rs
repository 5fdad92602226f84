//! One module per subcommand. Each returns `anyhow::Result`; `main` maps errors to exit codes.

pub mod config_check;
pub mod dev;
pub mod healthcheck;
pub mod lint_commits;
pub mod migrate;
pub mod pbgc;
pub mod preflight;
pub mod release;
pub mod secrets;
pub mod seed;
pub mod serve;
pub mod setup_env;

use std::path::Path;
use std::process::ExitCode;

use crate::cli::{Cli, Command, ConfigAction};
use crate::config::{ConfigError, EnvMap, Settings};

/// A failure that has already been explained to the user; only the exit code is left.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Reported {
    pub message: String,
    pub code: u8,
}

impl Reported {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code,
        }
    }
}

/// Loads the merged environment for the global flags.
pub fn load_env(cli: &Cli) -> Result<EnvMap, ConfigError> {
    let source = cli.settings_source();
    let dotenv = (!source.no_dotenv).then(|| Path::new(".env"));
    EnvMap::load(source.config.as_deref(), dotenv)
}

/// Loads and parses the settings, printing every problem on failure.
pub fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let env = load_env(cli).map_err(|e| Reported::new(2, e.to_string()))?;
    Settings::from_env(&env).map_err(|e| Reported::new(2, e.to_string()).into())
}

pub fn run(cli: Cli) -> ExitCode {
    let result = match &cli.command {
        Command::LintCommits(args) => lint_commits::run(args),
        Command::Config(args) => match args.action {
            ConfigAction::Check => config_check::run(&cli),
        },
        Command::Serve(args) if args.dev => dev::run(&cli, args),
        Command::Serve(args) => serve::start(&cli, args),
        Command::Migrate(args) => load_settings(&cli).and_then(|s| migrate::run(s, args)),
        Command::Seed(args) => load_settings(&cli).and_then(|s| seed::run(s, args)),
        Command::SetupEnv(args) => setup_env::run(args),
        Command::Release(args) => release::run(args),
        Command::Healthcheck(args) => healthcheck::run(args),
        Command::Pbgc(args) => load_settings(&cli).and_then(|s| pbgc::run(s, args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(reported) = err.downcast_ref::<Reported>() {
                if !reported.message.is_empty() {
                    eprintln!("error: {}", reported.message);
                }
                ExitCode::from(reported.code)
            } else {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        }
    }
}

/// A multi-threaded runtime for the async commands.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
