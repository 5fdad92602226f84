//! `sole serve --dev`: a working platform from one command on a laptop.
//!
//! 1. Development defaults are injected into the merged environment before the settings are
//!    parsed (settings are immutable afterwards): `ENVIRONMENT=development`, pretty logs, the
//!    usual frontend dev origins, object storage on the local disk in `.sole/uploads`.
//!    `ENVIRONMENT=production` is refused.
//! 2. Missing JWT keys, `SECRET_KEY`, `FERNET_KDF_SALT` and `SEED_ADMIN_PASSWORD` are generated
//!    once into `.sole/` (files of mode 0600) and reused on the next start, with a loud warning.
//! 3. Without `DATABASE_URL`: the local PostgreSQL (`postgres://localhost/sole`, as the current
//!    user and then as `postgres`, or the usual unix sockets); when nothing listens and the
//!    server binaries exist (`initdb`/`pg_ctl` on PATH or under `/usr/lib/postgresql/*/bin`), a
//!    private cluster in `.sole/pgdata` on a unix socket, stopped when `sole` exits. As root,
//!    PostgreSQL refuses to run, so the cluster is run as the `postgres` user (`runuser`).
//!    `SOLE_DEV_POSTGRES=local|private` forces one of the two.
//! 4. The database is created when missing, migrated and seeded, then the API serves.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, Executor};

use crate::cli::{Cli, ServeArgs};
use crate::commands::{Reported, load_env, runtime, secrets, seed, serve};
use crate::config::{EnvMap, Environment, Settings};
use crate::db::{DbError, DbUrl, connect_once, describe_connect_error};

/// The directory, relative to the working directory, holding generated dev state.
pub const STATE_DIR: &str = ".sole";
const SECRETS_FILE: &str = "dev.env";
const PRIVATE_KEY_FILE: &str = "jwt-private.pem";
const PUBLIC_KEY_FILE: &str = "jwt-public.pem";
const DEV_ADMIN_EMAIL: &str = "admin@example.com";
const DEV_DATABASE: &str = "sole";
/// The private cluster's port (it only listens on its own unix socket directory).
const PRIVATE_PORT: u16 = 5432;

pub fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let mut env = load_env(cli).map_err(|e| Reported::new(2, e.to_string()))?;
    if let Some(raw) = env.get("ENVIRONMENT")
        && Environment::parse_str(raw).is_production()
    {
        return Err(Reported::new(
            2,
            "--dev is for local development and is never allowed with ENVIRONMENT=production",
        )
        .into());
    }
    let state_dir = std::env::current_dir()
        .context("cannot read the working directory")?
        .join(STATE_DIR);
    apply_defaults(&mut env);
    apply_storage_defaults(&mut env, args.port);
    let secrets = ensure_secrets(&mut env, &state_dir)?;
    if !secrets.generated.is_empty() || !secrets.reused.is_empty() {
        warn_secrets(&secrets, &state_dir);
    }

    runtime()?.block_on(async move {
        let database = resolve_database(&env, &state_dir).await?;
        match &database.source {
            Some(source) => env.set_from("DATABASE_URL", database.url.expose_secret(), source),
            None => env.set("DATABASE_URL", database.url.expose_secret()),
        }
        let settings = Settings::from_env(&env).map_err(|e| Reported::new(2, e.to_string()))?;
        crate::telemetry::init(
            &settings.log_level,
            settings.log_format,
            settings.google_cloud_project.clone(),
        );

        // Migrate, then seed, on one connection.
        let url = crate::db::runtime_url(&settings).map_err(|e| Reported::new(2, e.to_string()))?;
        let mut conn = connect_once(&url, &settings.database)
            .await
            .map_err(|e| Reported::new(1, e.to_string()))?;
        conn.execute("SET statement_timeout = 0").await?;
        let migrated = crate::db::migrator::migrate(&mut conn)
            .await
            .map_err(|e| Reported::new(1, format!("migrate failed: {e:#}")))?;
        for m in &migrated.applied {
            println!("applied migration {m}");
        }
        let data = seed::load_data(args.seeds_dir.as_deref())?;
        let plan = seed::plan(&settings, &[], false, data)?;
        let reports =
            seed::execute(&mut conn, &settings, &plan, std::io::stdout().is_terminal()).await?;
        let current = seed::logins_with_seed_password(&mut conn, &settings, &plan).await;
        conn.close().await.ok();
        seed::print_reports(&reports);

        let state = serve::build_state(Arc::new(settings))?;
        let host = args.host.as_deref().unwrap_or("127.0.0.1");
        let addr = format!("{host}:{}", args.port);
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        let local = listener.local_addr()?;
        let reachable = serve::probe_dependencies(&state).await;
        banner(
            &state.settings,
            &plan,
            &secrets,
            &database,
            &reachable,
            &current,
            local,
        );
        reachable.warn();
        // As `sole serve`: open announcement streams end at once on Ctrl-C/SIGTERM instead of
        // holding the drain open.
        let shutdown = crate::http::ending_streams(&state, crate::http::shutdown_signal());
        let limits = crate::http::ConnectionLimits::from_settings(&state.settings);
        crate::http::serve(
            listener,
            crate::http::app(state),
            limits,
            shutdown,
            serve::SHUTDOWN_GRACE,
        )
        .await?;
        tracing::info!("sole stopped");
        // `database.cluster` (if any) is stopped when it drops, on success and on every error.
        drop(database);
        Ok(())
    })
}

impl Environment {
    fn parse_str(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Self::Production,
            "development" | "dev" => Self::Development,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Development defaults for anything not set by the environment, `.env` or `--config`.
fn apply_defaults(env: &mut EnvMap) {
    let defaults = [
        ("ENVIRONMENT", "development"),
        ("LOG_FORMAT", "pretty"),
        (
            "ALLOWED_ORIGINS",
            "http://localhost:3000,http://localhost:5173",
        ),
        ("SEED_ADMIN_EMAIL", DEV_ADMIN_EMAIL),
        // Plain http on localhost: HSTS would pin the browser to https for localhost.
        ("ENABLE_HSTS", "false"),
    ];
    for (key, value) in defaults {
        if env.get(key).is_none_or(|v| v.trim().is_empty()) {
            env.set(key, value);
        }
    }
}

/// Object storage on the local disk under `.sole/uploads`, with upload and download URLs
/// pointing at this server (unless the environment chose otherwise). With `--port 0` the port
/// is unknown until bound, so `PUBLIC_BASE_URL` keeps its default.
fn apply_storage_defaults(env: &mut EnvMap, port: u16) {
    let mut defaults = vec![
        ("STORAGE_PROVIDER", "local".to_owned()),
        ("LOCAL_UPLOAD_DIR", format!("{STATE_DIR}/uploads")),
    ];
    if port != 0 {
        defaults.push(("PUBLIC_BASE_URL", format!("http://localhost:{port}")));
    }
    for (key, value) in defaults {
        if unset(env, key) {
            env.set(key, value);
        }
    }
}

/// What `ensure_secrets` did, for the warning and the banner.
#[derive(Debug, Default)]
pub struct DevSecrets {
    pub generated: Vec<&'static str>,
    pub reused: Vec<&'static str>,
    /// The seed admin password when it is a generated dev one (shown in the banner).
    pub dev_password: Option<SecretString>,
}

fn unset(env: &EnvMap, key: &str) -> bool {
    env.get(key).is_none_or(|v| v.trim().is_empty())
}

/// Fills in missing secrets from `.sole/`, generating (and storing) the ones not there yet.
fn ensure_secrets(env: &mut EnvMap, dir: &Path) -> anyhow::Result<DevSecrets> {
    let mut out = DevSecrets::default();
    let wanted: Vec<&'static str> = ["SECRET_KEY", "FERNET_KDF_SALT", "SEED_ADMIN_PASSWORD"]
        .into_iter()
        .filter(|k| unset(env, k))
        .collect();
    let keys_missing = unset(env, "JWT_PRIVATE_KEY")
        && unset(env, "JWT_PRIVATE_KEY_PATH")
        && unset(env, "JWT_PUBLIC_KEY")
        && unset(env, "JWT_PUBLIC_KEY_PATH");
    if wanted.is_empty() && !keys_missing {
        return Ok(out);
    }
    create_private_dir(dir)?;

    let path = dir.join(SECRETS_FILE);
    let mut stored = EnvMap::new();
    if path.exists() {
        for item in dotenvy::from_path_iter(&path)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            let (k, v) = item.with_context(|| format!("cannot parse {}", path.display()))?;
            stored.set(&k, v);
        }
    }
    let mut append = String::new();
    for key in wanted {
        let value = match stored.get(key) {
            Some(v) if !v.is_empty() => {
                out.reused.push(key);
                v.to_owned()
            }
            _ => {
                out.generated.push(key);
                let value = generate(key);
                append.push_str(&format!("{key}='{value}'\n"));
                value
            }
        };
        if key == "SEED_ADMIN_PASSWORD" {
            out.dev_password = Some(SecretString::from(value.clone()));
        }
        env.set(key, value);
    }
    if !append.is_empty() {
        let mut file = secrets::append_private(&path)?;
        if !path.exists() || std::fs::metadata(&path)?.len() == 0 {
            file.write_all(
                b"# Generated by `sole serve --dev` for local development only. Never deploy these.\n",
            )?;
        }
        file.write_all(append.as_bytes())?;
    }

    if keys_missing {
        let private = dir.join(PRIVATE_KEY_FILE);
        let public = dir.join(PUBLIC_KEY_FILE);
        if private.exists() && public.exists() {
            out.reused.push("JWT_PRIVATE_KEY/JWT_PUBLIC_KEY");
        } else {
            let pair = secrets::rsa_key_pair(2048)
                .map_err(|e| anyhow::anyhow!("cannot generate dev JWT keys: {e}"))?;
            secrets::write_private(&private, pair.private_pem.expose_secret())?;
            secrets::write_private(&public, &pair.public_pem)?;
            out.generated.push("JWT_PRIVATE_KEY/JWT_PUBLIC_KEY");
        }
        env.set("JWT_PRIVATE_KEY_PATH", private.display().to_string());
        env.set("JWT_PUBLIC_KEY_PATH", public.display().to_string());
    }
    Ok(out)
}

/// The same formats `sole setup-env` writes.
fn generate(key: &str) -> String {
    match key {
        "SEED_ADMIN_PASSWORD" => secrets::dev_password(),
        "FERNET_KDF_SALT" => secrets::kdf_salt(),
        _ => secrets::secret_key(),
    }
}

/// `.sole/`: 0755 so that a private cluster run as `postgres` can reach its data directory;
/// the secret files inside are 0600.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    }
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(&ignore, "*\n")?;
    }
    Ok(())
}

fn warn_secrets(secrets: &DevSecrets, dir: &Path) {
    let bar = "!".repeat(78);
    eprintln!("{bar}");
    eprintln!("!! DEVELOPMENT SECRETS: for this machine only, never for a deployment.");
    if !secrets.generated.is_empty() {
        eprintln!(
            "!! generated into {}: {}",
            dir.display(),
            secrets.generated.join(", ")
        );
    }
    if !secrets.reused.is_empty() {
        eprintln!(
            "!! reused from {}: {}",
            dir.display(),
            secrets.reused.join(", ")
        );
    }
    eprintln!("!! Set them in the environment or .env (see `sole setup-env`) to use your own.");
    eprintln!("{bar}");
}

// ---------------------------------------------------------------------------------------------
// Database

/// The database `--dev` uses; owns the private cluster, if one was started.
pub struct DevDatabase {
    pub url: SecretString,
    pub origin: String,
    /// Where the URL came from, for connection errors.
    pub source: Option<String>,
    pub cluster: Option<PrivateCluster>,
}

async fn resolve_database(env: &EnvMap, state_dir: &Path) -> anyhow::Result<DevDatabase> {
    if let Some(raw) = env.get("DATABASE_URL").filter(|v| !v.trim().is_empty()) {
        let origin = env.origin("DATABASE_URL").map(str::to_owned);
        let url = DbUrl::parse("DATABASE_URL", raw)
            .map_err(|e| Reported::new(2, e.to_string()))?
            .with_origin(origin.as_deref());
        ensure_database(&url).await.map_err(|e| {
            Reported::new(
                1,
                format!(
                    "cannot connect to PostgreSQL ({}): {e}",
                    url.describe_connection()
                ),
            )
        })?;
        return Ok(DevDatabase {
            url: SecretString::from(raw.to_owned()),
            origin: format!(
                "DATABASE_URL{} ({})",
                origin
                    .as_deref()
                    .map(|o| format!(" from {o}"))
                    .unwrap_or_default(),
                url.describe()
            ),
            source: origin,
            cluster: None,
        });
    }
    let mode = env
        .get("SOLE_DEV_POSTGRES")
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_else(|| "auto".into());
    let mut refused: Vec<String> = Vec::new();
    if mode != "private" {
        for candidate in local_candidates() {
            let url = DbUrl::parse("DATABASE_URL", &candidate)?;
            match ensure_database(&url).await {
                Ok(()) => {
                    println!("using the local PostgreSQL at {}", url.describe());
                    return Ok(DevDatabase {
                        url: SecretString::from(candidate),
                        origin: format!("local PostgreSQL ({})", url.describe()),
                        source: Some("sole serve --dev (local PostgreSQL)".into()),
                        cluster: None,
                    });
                }
                Err(Probe::NotListening) => {}
                Err(Probe::Refused(reason)) => {
                    refused.push(format!("{}: {reason}", url.describe_connection()))
                }
            }
        }
        if !refused.is_empty() || mode == "local" {
            return Err(Reported::new(
                1,
                format!(
                    "no usable local PostgreSQL ({}); set DATABASE_URL (e.g. postgres://user:password@localhost/sole), \
                     or SOLE_DEV_POSTGRES=private for a private cluster in .sole/pgdata",
                    if refused.is_empty() {
                        "nothing listens on localhost:5432 or the usual unix sockets".to_owned()
                    } else {
                        refused.join("; ")
                    }
                ),
            )
            .into());
        }
    }
    let cluster = PrivateCluster::start(state_dir).map_err(|e| {
        Reported::new(
            1,
            format!(
                "no PostgreSQL listens locally and a private cluster could not be started: {e:#}\n\
                 install PostgreSQL (initdb/pg_ctl) or set DATABASE_URL"
            ),
        )
    })?;
    let raw = cluster.url(DEV_DATABASE);
    let url = DbUrl::parse("DATABASE_URL", &raw)?;
    ensure_database(&url)
        .await
        .map_err(|e| Reported::new(1, e.to_string()))?;
    println!(
        "using a private PostgreSQL cluster in {} (stopped when sole exits)",
        cluster.data_dir.display()
    );
    Ok(DevDatabase {
        url: SecretString::from(raw),
        origin: format!("private cluster {}", cluster.data_dir.display()),
        source: Some("sole serve --dev (private cluster)".into()),
        cluster: Some(cluster),
    })
}

/// The first local PostgreSQL URL `--dev` would use (it answers and accepts the login), for
/// `sole setup-env --profile dev`, so that the file it writes and `--dev` agree. Nothing is
/// created. `None` when no local server accepts any of the usual logins.
pub fn probe_local_database() -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime.block_on(async {
        for candidate in local_candidates() {
            let Ok(url) = DbUrl::parse("DATABASE_URL", &candidate) else {
                continue;
            };
            let Ok(options) = url.with_database("postgres").connect_options() else {
                continue;
            };
            let connect = sqlx::ConnectOptions::connect(&options);
            if let Ok(Ok(conn)) = tokio::time::timeout(Duration::from_secs(3), connect).await {
                conn.close().await.ok();
                return Some(candidate);
            }
        }
        None
    })
}

/// Local servers to try, in order.
fn local_candidates() -> Vec<String> {
    let mut out = vec![
        format!("postgres://localhost:5432/{DEV_DATABASE}"),
        format!("postgres://postgres@localhost:5432/{DEV_DATABASE}"),
    ];
    for dir in ["/var/run/postgresql", "/tmp"] {
        if Path::new(dir).join(".s.PGSQL.5432").exists() {
            out.push(format!("postgres://localhost/{DEV_DATABASE}?host={dir}"));
            out.push(format!(
                "postgres://postgres@localhost/{DEV_DATABASE}?host={dir}"
            ));
        }
    }
    out
}

#[derive(Debug, thiserror::Error)]
enum Probe {
    #[error("nothing listens")]
    NotListening,
    #[error("{0}")]
    Refused(String),
}

impl From<DbError> for Probe {
    fn from(e: DbError) -> Self {
        Probe::Refused(e.to_string())
    }
}

/// Connects to the server's `postgres` database and creates `url`'s database when missing.
async fn ensure_database(url: &DbUrl) -> Result<(), Probe> {
    let name = url.database_name();
    let options = url.with_database("postgres").connect_options()?;
    let connect = sqlx::ConnectOptions::connect(&options);
    let mut conn = match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Err(_) => return Err(Probe::NotListening),
        Ok(Err(sqlx::Error::Io(_))) => return Err(Probe::NotListening),
        Ok(Err(e)) => return Err(Probe::Refused(describe_connect_error(&e))),
        Ok(Ok(conn)) => conn,
    };
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| Probe::Refused(e.to_string()))?;
    if exists.is_none() {
        let sql = format!(
            "CREATE DATABASE {}",
            crate::db::partitions::quote_ident(&name)
        );
        match conn.execute(sqlx::AssertSqlSafe(sql)).await {
            Ok(_) => println!("created database {name}"),
            // A concurrent creator won: fine.
            Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("42P04") => {}
            Err(e) => {
                return Err(Probe::Refused(format!(
                    "cannot create database {name}: {e}"
                )));
            }
        }
    }
    conn.close().await.ok();
    Ok(())
}

/// A PostgreSQL cluster in `.sole/pgdata`, listening only on a unix socket; stopped on drop.
pub struct PrivateCluster {
    bin: PathBuf,
    pub data_dir: PathBuf,
    socket_dir: PathBuf,
    as_postgres: bool,
}

impl PrivateCluster {
    fn start(state_dir: &Path) -> anyhow::Result<Self> {
        let bin = find_pg_bin()
            .context("initdb/pg_ctl not found on PATH or under /usr/lib/postgresql/*/bin")?;
        create_private_dir(state_dir)?;
        let as_postgres = is_root();
        let data_dir = state_dir.join("pgdata");
        // Unix socket paths are limited to ~107 bytes.
        let mut socket_dir = state_dir.join("run");
        if socket_dir.as_os_str().len() > 80 {
            let digest = short_hash(&state_dir.display().to_string());
            socket_dir = std::env::temp_dir().join(format!("sole-pg-{digest}"));
        }
        let log = state_dir.join("postgres.log");
        for dir in [&data_dir, &socket_dir] {
            std::fs::create_dir_all(dir)?;
        }
        if !log.exists() {
            std::fs::write(&log, "")?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o700))?;
            if as_postgres {
                let (uid, gid) = postgres_ids()?;
                for path in [&data_dir, &socket_dir, &log] {
                    std::os::unix::fs::chown(path, Some(uid), Some(gid)).with_context(|| {
                        format!("cannot hand {} to the postgres user", path.display())
                    })?;
                }
            }
        }
        let cluster = Self {
            bin,
            data_dir,
            socket_dir,
            as_postgres,
        };
        if !cluster.data_dir.join("PG_VERSION").exists() {
            println!(
                "initialising a private PostgreSQL cluster in {}",
                cluster.data_dir.display()
            );
            cluster.run(
                "initdb",
                &[
                    "-D".as_ref(),
                    cluster.data_dir.as_os_str(),
                    "-U".as_ref(),
                    "postgres".as_ref(),
                    "-A".as_ref(),
                    "trust".as_ref(),
                    "-E".as_ref(),
                    "UTF8".as_ref(),
                    "--locale=C".as_ref(),
                    "--no-sync".as_ref(),
                ],
            )?;
        }
        if cluster
            .socket_dir
            .join(format!(".s.PGSQL.{PRIVATE_PORT}"))
            .exists()
            && cluster
                .run(
                    "pg_ctl",
                    &[
                        "-D".as_ref(),
                        cluster.data_dir.as_os_str(),
                        "status".as_ref(),
                    ],
                )
                .is_ok()
        {
            // Left running by a sole that was killed: adopt it (and stop it on exit).
            return Ok(cluster);
        }
        let options = format!(
            "-c listen_addresses='' -p {PRIVATE_PORT} -k '{}' -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            cluster.socket_dir.display()
        );
        cluster
            .run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    cluster.data_dir.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "start".as_ref(),
                ],
            )
            .with_context(|| format!("see {}", log.display()))?;
        Ok(cluster)
    }

    fn url(&self, database: &str) -> String {
        let socket: String =
            url::form_urlencoded::byte_serialize(self.socket_dir.display().to_string().as_bytes())
                .collect();
        format!("postgres://postgres@localhost/{database}?host={socket}&port={PRIVATE_PORT}")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // Its own process group: a Ctrl-C in the terminal goes to sole, which then stops the
        // cluster after draining requests, instead of killing the database first.
        #[cfg(unix)]
        {
            use std::os::unix::process::CommandExt as _;
            cmd.process_group(0);
        }
        cmd.stdin(std::process::Stdio::null());
        cmd
    }

    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .with_context(|| format!("cannot run {program}"))?;
        if out.status.success() {
            Ok(())
        } else {
            anyhow::bail!(
                "{program} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        }
    }

    pub fn stop(&self) -> anyhow::Result<()> {
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                self.data_dir.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        )
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        match self.stop() {
            Ok(()) => eprintln!("stopped the private PostgreSQL cluster"),
            Err(e) => eprintln!("could not stop the private PostgreSQL cluster: {e:#}"),
        }
    }
}

fn short_hash(s: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn find_pg_bin() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Some(
                    std::fs::canonicalize(dir.join("pg_ctl"))
                        .ok()?
                        .parent()?
                        .to_owned(),
                );
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

#[cfg(unix)]
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    // The owner of a file we just could create tells our effective uid without libc.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_root() -> bool {
    false
}

#[cfg(unix)]
fn postgres_ids() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd")?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres") && fields.len() > 3)
                .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
                .flatten()
        })
        .context("PostgreSQL refuses to run as root and there is no 'postgres' user to run it as")
}

fn banner(
    settings: &Settings,
    plan: &crate::services::seed::SeedPlan,
    secrets: &DevSecrets,
    database: &DevDatabase,
    reachable: &serve::Reachability,
    current: &std::collections::BTreeSet<String>,
    addr: std::net::SocketAddr,
) {
    let host = if addr.ip().is_unspecified() {
        "localhost".to_owned()
    } else {
        addr.ip().to_string()
    };
    let base = format!("http://{host}:{}", addr.port());
    let line = "=".repeat(78);
    println!("{line}");
    println!("sole is running in development mode");
    println!("  API:      {base}/api/v1");
    if settings.docs_enabled {
        println!("  Docs:     {base}/docs");
    }
    println!("  Health:   {base}/api/v1/health/live");
    match &reachable.database {
        Ok(_) => println!("  Database: {}", database.origin),
        Err(e) => println!("  Database: NOT REACHABLE: {e}"),
    }
    match &reachable.cache {
        Ok(what) => println!("  Cache:    {what}"),
        Err(e) => println!("  Cache:    NOT REACHABLE: {e} (logins answer 503 until it is)"),
    }
    let storage = &settings.storage;
    match storage.provider {
        crate::storage::Provider::Local => println!(
            "  Storage:  local files in {}",
            storage.local_upload_dir.display()
        ),
        crate::storage::Provider::Gcs => println!(
            "  Storage:  GCS bucket {}",
            storage
                .gcs_bucket
                .as_deref()
                .unwrap_or("(GCS_BUCKET is not set)")
        ),
    }
    let password = secrets
        .dev_password
        .as_ref()
        .map(|p| p.expose_secret().to_owned());
    seed::print_logins(plan, &settings.environment, password.as_deref(), current);
    if !current.is_empty() {
        println!(
            "  First sign-in: POST /api/v1/auth/login, then change the password; see README, First sign-in."
        );
    }
    println!("Stop with Ctrl-C.");
    println!("{line}");
}
