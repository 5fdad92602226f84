//! Command-line definitions only; each command's behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

/// The SOLE platform core: the HTTP API and the tools that operate it.
///
/// Configuration comes from the environment (same variable names as the legacy service), from
/// `.env` in the working directory when present, and from a flat `KEY: value` YAML file when
/// `--config` or CONFIG_FILE names one. The real environment wins over both files.
#[derive(Debug, Parser)]
#[command(
    name = "sole",
    version,
    about,
    long_about,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    /// Read settings from this YAML file (the Cloud Run --env-vars-file format). Never read
    /// implicitly.
    #[arg(long, global = true, value_name = "FILE", env = "CONFIG_FILE")]
    pub config: Option<PathBuf>,

    /// Do not load `.env` from the working directory.
    #[arg(long, global = true)]
    pub no_dotenv: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (Cloud Run service, laptops).
    ///
    /// Binds 0.0.0.0:$PORT (default 8000) and serves everything under /api/v1, plus /docs and
    /// /openapi.json when docs are enabled. SIGTERM or Ctrl-C drains in-flight requests and
    /// exits within 8 seconds.
    Serve(ServeArgs),

    /// Apply database migrations (Cloud Run job, laptops, CI).
    ///
    /// Connects with --database-url, else DATABASE_URL_DIRECT, else DATABASE_URL. Applies
    /// pending migrations under an advisory lock (concurrent runs wait, then find nothing to
    /// do), adopts a legacy database at Alembic head c4d5e6f7a8b9 without touching it, and
    /// creates any missing audit_logs/journal_entries partition for every org.
    Migrate(MigrateArgs),

    /// Inspect the configuration.
    Config(ConfigArgs),

    /// Fail when code under src/services commits a transaction.
    ///
    /// Services take `&mut PgConnection` and never commit; handlers own the single commit. This
    /// reports every `.commit()` call, `::commit` path call, `commit()` inside macro input and
    /// raw COMMIT/END SQL string whose line lacks a `commit-ok: <reason>` comment.
    LintCommits(LintCommitsArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0", env = "HOST")]
    pub host: String,

    /// Port to bind (Cloud Run injects PORT).
    #[arg(long, default_value_t = 8000, env = "PORT")]
    pub port: u16,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct MigrateArgs {
    /// Database URL for migrations; overrides DATABASE_URL_DIRECT and DATABASE_URL.
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    #[command(subcommand)]
    pub action: Option<MigrateAction>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// List applied and pending migrations.
    Status,
    /// Create migrations/<UTC timestamp>_<slug>.sql with a header comment.
    Revision {
        /// What the migration does, e.g. "add widgets".
        message: String,
        /// Directory to write into.
        #[arg(long, default_value = "migrations")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate the configuration offline, as production would, and list every problem.
    ///
    /// Connects to nothing. Exits 1 when a setting is missing, malformed or (with
    /// ENVIRONMENT=production) too weak. Secret values are never printed.
    Check,
}

#[derive(Debug, Args)]
pub struct LintCommitsArgs {
    /// Directory to scan.
    #[arg(long, default_value = "src/services", value_name = "DIR")]
    pub path: PathBuf,
}
