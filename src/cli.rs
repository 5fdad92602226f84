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

    /// Create the orgs, system roles, seed admin and demo data (Cloud Run job, laptops).
    ///
    /// Orgs: DEFAULT_ORG_ID (DEFAULT_ORG_NAME, DEFAULT_ORG_SLUG), the orgs of seeds/*.yaml,
    /// EXTRA_SEED_ORG_IDS and --extra-orgs; each gets its audit/journal partitions, default
    /// settings and the system roles of the permission catalogue. The SEED_ADMIN_EMAIL identity
    /// (password SEED_ADMIN_PASSWORD, must change it at first login) gets a user, an
    /// ACTIVE/ACTIVE/ACCEPTED membership, a profile (SEED_ADMIN_FULL_NAME) and ORG ADMIN +
    /// EMPLOYEE in every seeded org, and is superuser in the default org only. Outside
    /// production (and without --no-demo) every org also gets the demo departments and users of
    /// seeds/*.yaml.
    ///
    /// Safe to re-run and to retry: everything is find-or-create, then brought in step with the
    /// seed data; a second run changes nothing and says so. Runs are serialised by a
    /// PostgreSQL advisory lock and commit once. Connects with --database-url, else
    /// DATABASE_URL_DIRECT, else DATABASE_URL; an unmigrated database is refused.
    Seed(SeedArgs),

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
    /// Address to bind [default: 0.0.0.0, or 127.0.0.1 with --dev].
    #[arg(long, env = "HOST")]
    pub host: Option<String>,

    /// Port to bind (Cloud Run injects PORT).
    #[arg(long, default_value_t = 8000, env = "PORT")]
    pub port: u16,

    /// Zero-configuration local mode: ENVIRONMENT=development defaults; without DATABASE_URL,
    /// the local PostgreSQL (postgres://localhost/sole or the unix socket) or else a private
    /// cluster under .sole/pgdata, stopped on exit; creates the database, migrates and seeds;
    /// missing JWT keys, SECRET_KEY, FERNET_KDF_SALT and seed admin password are generated once
    /// into .sole/ (mode 0600) and reused; no REDIS_URL means the in-process cache. Refused with
    /// ENVIRONMENT=production.
    #[arg(long)]
    pub dev: bool,

    /// With --dev: the directory of the seed YAML files (default: ./seeds when present, else
    /// the built-in copy).
    #[arg(long, value_name = "DIR", env = "SOLE_SEEDS_DIR")]
    pub seeds_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// More org ids to seed, comma-separated (added to EXTRA_SEED_ORG_IDS; normalised and
    /// de-duplicated).
    #[arg(long, value_name = "ID,ID", value_delimiter = ',')]
    pub extra_orgs: Vec<String>,

    /// Skip the demo departments and users even outside production.
    #[arg(long)]
    pub no_demo: bool,

    /// Database URL; overrides DATABASE_URL_DIRECT and DATABASE_URL.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// The directory of the seed YAML files (default: ./seeds when present, else the built-in
    /// copy of the repository's seeds/).
    #[arg(long, value_name = "DIR", env = "SOLE_SEEDS_DIR")]
    pub seeds_dir: Option<PathBuf>,
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
