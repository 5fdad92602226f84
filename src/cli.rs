//! Command-line definitions only; each command's behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

/// The Makefile's `JOB_SECRETS` (the nine Secret Manager secrets of cloudbuild.yaml).
pub const DEFAULT_SECRETS: &str = "DATABASE_URL,DATABASE_URL_DIRECT,REDIS_URL,SECRET_KEY,\
JWT_PRIVATE_KEY,JWT_PUBLIC_KEY,SEED_ADMIN_PASSWORD,SEED_ADMIN_EMAIL,FERNET_KDF_SALT";

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
    /// implicitly. Also accepted after serve, migrate, seed and config.
    #[arg(long, value_name = "FILE", env = "CONFIG_FILE", hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// Do not load `.env` from the working directory. Also accepted after serve, migrate, seed
    /// and config.
    #[arg(long)]
    pub no_dotenv: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// Where settings come from: shown only on the commands that read settings (serve, migrate,
/// seed, config), not on those where they would mean nothing.
#[derive(Clone, Debug, Default, Args)]
pub struct SettingsSource {
    /// Read settings from this YAML file (the Cloud Run --env-vars-file format). Never read
    /// implicitly.
    #[arg(
        long = "config",
        id = "sub_config",
        global = true,
        value_name = "FILE",
        env = "CONFIG_FILE",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,

    /// Do not load `.env` from the working directory.
    #[arg(long = "no-dotenv", id = "sub_no_dotenv", global = true)]
    pub no_dotenv: bool,
}

impl Cli {
    /// The settings source: the flags before the subcommand, or after it.
    pub fn settings_source(&self) -> SettingsSource {
        let sub = match &self.command {
            Command::Serve(a) => Some(&a.source),
            Command::Migrate(a) => Some(&a.source),
            Command::Seed(a) => Some(&a.source),
            Command::Config(a) => Some(&a.source),
            Command::Pbgc(a) => Some(&a.source),
            _ => None,
        };
        SettingsSource {
            config: self
                .config
                .clone()
                .or_else(|| sub.and_then(|s| s.config.clone())),
            no_dotenv: self.no_dotenv || sub.is_some_and(|s| s.no_dotenv),
        }
    }
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

    /// Fail when services commit a transaction, route handlers run SQL, or a resource's routes
    /// import another resource's routes.
    ///
    /// Services take `&mut PgConnection` and never commit; handlers own the single commit. The
    /// commit rule (src/services) reports every `.commit()` call, `::commit` path call,
    /// `commit()` inside macro input and raw COMMIT/END SQL string whose line lacks a
    /// `commit-ok: <reason>` comment. The route rule (src/http/routes) reports every
    /// `sqlx::query*` builder or macro and `sqlx::raw_sql` (health.rs keeps its probe): SQL
    /// belongs in a service. The same directory's import rule reports every path from one
    /// resource's route files (`routes/<resource>…`) into another's: shared code lives under
    /// src/http/ or in a service. Without options all rules run; `--path` or `--routes` alone
    /// runs those rules only.
    LintCommits(LintCommitsArgs),

    /// Write `.env` (dev) or `.env.prod` (prod): an interactive wizard on a terminal, or
    /// `--profile dev|prod --non-interactive` with `--set KEY=VALUE` for scripts and CI.
    ///
    /// Generates SECRET_KEY, FERNET_KDF_SALT and an RS256 key pair (secrets/, mode 0600) when
    /// they are missing, keeps keys it does not know, and never overwrites silently.
    SetupEnv(SetupEnvArgs),

    /// Build, deploy and migrate on Cloud Run by driving `gcloud` (the old `make prod-*`).
    ///
    /// Bare `sole release` runs deploy, update-jobs and migrate, stopping at the first failure.
    Release(ReleaseArgs),

    /// Exit 0 when /api/v1/health/live answers 200 (the container HEALTHCHECK).
    Healthcheck(HealthcheckArgs),

    /// PBGC mid-term rates (the VARIABLE loan base rate).
    Pbgc(PbgcArgs),
}

#[derive(Debug, Args)]
pub struct PbgcArgs {
    #[command(flatten)]
    pub source: SettingsSource,

    /// Database URL; overrides DATABASE_URL_DIRECT and DATABASE_URL.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,

    #[command(subcommand)]
    pub action: PbgcAction,
}

#[derive(Debug, Subcommand)]
pub enum PbgcAction {
    /// Fetch PBGC_MID_TERM_RATES_URL and store the current UTC year's rates (no cooldown). A
    /// page that cannot be fetched or read stores nothing and exits 1 naming what is missing.
    Refresh {
        /// The page to fetch instead of PBGC_MID_TERM_RATES_URL.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub source: SettingsSource,

    /// Address to bind [default: 0.0.0.0, or 127.0.0.1 with --dev].
    #[arg(long, env = "HOST", hide_env_values = true)]
    pub host: Option<String>,

    /// Port to bind (Cloud Run injects PORT).
    #[arg(long, default_value_t = 8000, env = "PORT", hide_env_values = true)]
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
    #[arg(
        long,
        value_name = "DIR",
        env = "SOLE_SEEDS_DIR",
        hide_env_values = true
    )]
    pub seeds_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub source: SettingsSource,

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
    #[arg(
        long,
        value_name = "DIR",
        env = "SOLE_SEEDS_DIR",
        hide_env_values = true
    )]
    pub seeds_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub source: SettingsSource,

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
    #[command(flatten)]
    pub source: SettingsSource,

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
    /// Services directory for the commit rule [default: src/services].
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,

    /// Route directory for the no-SQL and import rules [default: src/http/routes].
    #[arg(long, value_name = "DIR")]
    pub routes: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// Local development: writes `.env`.
    Dev,
    /// Production values for Secret Manager: writes `.env.prod`.
    Prod,
}

#[derive(Debug, Args)]
pub struct SetupEnvArgs {
    /// Which file to prepare (asked interactively when omitted).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,

    /// Never prompt: use --set values, then values already in the file, then defaults.
    #[arg(long)]
    pub non_interactive: bool,

    /// Set a value, e.g. --set DATABASE_URL=postgres://localhost/sole (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE", hide_env_values = true)]
    pub set: Vec<String>,

    /// File to write (default: .env for dev, .env.prod for prod).
    #[arg(long, value_name = "FILE", env = "ENV_FILE", hide_env_values = true)]
    pub output: Option<PathBuf>,

    /// Directory for generated key files.
    #[arg(long, value_name = "DIR", default_value = "secrets")]
    pub secrets_dir: PathBuf,

    /// RSA modulus size of a generated JWT key pair: 2048, 3072 or 4096.
    #[arg(long, default_value_t = 3072)]
    pub key_bits: u32,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    #[command(flatten)]
    pub settings: ReleaseSettings,

    #[command(subcommand)]
    pub step: Option<ReleaseStep>,
}

/// The Makefile's variables, with its defaults.
#[derive(Clone, Debug, Args)]
pub struct ReleaseSettings {
    /// Google Cloud project (required; `gcloud config get-value project` shows gcloud's own
    /// default).
    #[arg(long, global = true, env = "PROJECT_ID", hide_env_values = true)]
    pub project: Option<String>,

    /// Cloud Run region.
    #[arg(
        long,
        global = true,
        env = "REGION",
        hide_env_values = true,
        default_value = "us-central1"
    )]
    pub region: String,

    /// Cloud Run service.
    #[arg(
        long,
        global = true,
        env = "SERVICE_NAME",
        hide_env_values = true,
        default_value = "sole-api"
    )]
    pub service: String,

    /// Cloud Run job that runs `sole migrate`.
    #[arg(
        long,
        global = true,
        env = "MIGRATE_JOB",
        hide_env_values = true,
        default_value = "sole-db-migrate"
    )]
    pub migrate_job: String,

    /// Cloud Run job that runs `sole seed`.
    #[arg(
        long,
        global = true,
        env = "SEED_JOB",
        hide_env_values = true,
        default_value = "sole-db-seed"
    )]
    pub seed_job: String,

    /// Cloud Run job that runs `sole pbgc refresh` on the Cloud Scheduler trigger.
    #[arg(
        long,
        global = true,
        env = "PBGC_JOB",
        hide_env_values = true,
        default_value = "sole-pbgc-refresh"
    )]
    pub pbgc_job: String,

    /// When Cloud Scheduler runs the PBGC job: five unix-cron fields, UTC. The default is the
    /// legacy production scrape time (day 28, 01:59 UTC), which exists in every month.
    #[arg(
        long,
        global = true,
        env = "PBGC_SCHEDULE",
        hide_env_values = true,
        value_name = "CRON",
        default_value = "59 1 28 * *"
    )]
    pub pbgc_schedule: String,

    /// Non-secret settings passed as --env-vars-file to the service and the jobs.
    #[arg(
        long,
        global = true,
        env = "JOB_ENV_FILE",
        hide_env_values = true,
        default_value = "config.prod.yaml"
    )]
    pub env_file: PathBuf,

    /// Secret Manager references for the service and the jobs: names (`SECRET_KEY`, meaning
    /// SECRET_KEY=SECRET_KEY:latest) or mappings (`VAR=SECRET:VERSION`), comma-separated.
    #[arg(
        long,
        global = true,
        env = "JOB_SECRETS",
        hide_env_values = true,
        value_name = "LIST",
        default_value = DEFAULT_SECRETS
    )]
    pub secrets: String,

    /// Cloud Build configuration used by deploy.
    #[arg(
        long,
        global = true,
        default_value = "cloudbuild.yaml",
        value_name = "FILE"
    )]
    pub build_config: PathBuf,

    /// Service account the service and the jobs run as [default:
    /// sole-runner@PROJECT.iam.gserviceaccount.com].
    #[arg(
        long,
        global = true,
        env = "RUNTIME_SERVICE_ACCOUNT",
        value_name = "EMAIL",
        hide_env_values = true
    )]
    pub service_account: Option<String>,

    /// Migrate before the new code serves: build the image, point the jobs at it, run the
    /// migrate job, then deploy the service. Safe when the migrations are additive (the running
    /// code keeps working on the new schema). The default order (deploy, then migrate) is safe
    /// when the new code still works on the old schema, e.g. before a column is dropped.
    #[arg(long, global = true)]
    pub migrate_first: bool,

    /// Print every gcloud command instead of running it.
    #[arg(long, global = true)]
    pub dry_run: bool,
}

#[derive(Clone, Debug, Subcommand)]
pub enum ReleaseStep {
    /// One-time project setup: enable the APIs, create the Artifact Registry repository, the
    /// runtime service account (with access to the secrets), the secrets (without values), the
    /// three jobs and the monthly Cloud Scheduler trigger of the PBGC job. Skips what exists;
    /// try it with --dry-run first.
    Bootstrap,
    /// Build and push the image with Cloud Build and deploy the service (cloudbuild.yaml).
    Deploy,
    /// Point the migrate and seed jobs at the service's current image, env file and secrets,
    /// and deploy the PBGC job with the same (created when missing).
    UpdateJobs,
    /// Execute the migrate job and wait for it.
    Migrate,
    /// Execute the seed job and wait for it.
    Seed,
    /// Execute the PBGC rate job now (what the monthly Cloud Scheduler trigger does) and wait.
    PbgcRefresh,
    /// Show recent ERROR log entries of the service and jobs.
    Logs {
        /// How many entries.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// URL to probe (default: http://127.0.0.1:$PORT/api/v1/health/live, PORT default 8000).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Seconds before giving up.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}
