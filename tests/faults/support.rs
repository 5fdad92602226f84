//! The world of one fault test: a throwaway PostgreSQL cluster and Redis, `sole serve` against
//! them, a signed-in admin, a steady load and the ledger of its writes.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

pub const ORG: &str = "default";
pub const ADMIN: &str = "admin@faults.example.com";
pub const PASSWORD: &str = "Fault#Admin42pass";
const DB: &str = "sole";

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The directory of `initdb`/`pg_ctl`: `SOLE_TEST_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`. Missing binaries fail the test: a fault suite that skips
/// proves nothing.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("SOLE_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("pg_ctl").is_file(),
            "SOLE_TEST_PG_BIN={} has no pg_ctl",
            dir.display()
        );
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let major = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "the fault suite needs the PostgreSQL server binaries (initdb, pg_ctl): none in \
             /usr/lib/postgresql/*/bin and SOLE_TEST_PG_BIN is not set; run it through \
             scripts/test, which installs them, or apt-get install postgresql"
        )
    })
}

fn redis_server_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("SOLE_TEST_REDIS_SERVER") {
        return PathBuf::from(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("redis-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the fault suite needs redis-server: not on PATH and SOLE_TEST_REDIS_SERVER is \
                 not set; run it through scripts/test, which installs it, or apt-get install \
                 redis-server"
            )
        })
}

/// Runs a command to completion, panicking with its output when it fails.
fn run(cmd: &mut Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

/// A PostgreSQL cluster of this test only, run as `postgres` when the test runs as root.
pub struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
    root: bool,
}

impl Postgres {
    fn start(tmp: &Path) -> Self {
        let bin = pg_bin();
        let root = is_root();
        let dir = tmp.join("pg");
        std::fs::create_dir_all(&dir).unwrap();
        if root {
            // The temporary directory is root's; the server user must reach its data.
            run(
                Command::new("chmod").arg("755").arg(tmp),
                "chmod the temporary directory",
            );
            run(
                Command::new("chown").arg("postgres").arg(&dir),
                "chown the data directory to postgres",
            );
        }
        let pg = Self {
            bin,
            dir,
            port: free_port(),
            root,
        };
        run(
            &mut pg.command(
                "initdb",
                &[
                    "-D",
                    "data",
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
            ),
            "initdb",
        );
        pg.ctl(&["start"]);
        pg
    }

    fn command(&self, tool: &str, args: &[&str]) -> Command {
        let exe = self.bin.join(tool);
        let mut cmd = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args).current_dir(&self.dir);
        cmd
    }

    fn ctl(&self, action: &[&str]) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=40",
            self.port,
            self.dir.display()
        );
        let mut args = vec![
            "-D",
            "data",
            "-l",
            "server.log",
            "-w",
            "-t",
            "30",
            "-o",
            &opts,
        ];
        args.extend_from_slice(action);
        run(&mut self.command("pg_ctl", &args), "pg_ctl");
    }

    /// `pg_ctl restart -m fast`: every session is cut, the server is back when it returns.
    pub fn restart_fast(&self) {
        self.ctl(&["-m", "fast", "restart"]);
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url(DB)).await.unwrap()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl", &["-D", "data", "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A Redis of this test only; `stop` and `start` on the same port.
pub struct Redis {
    dir: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    fn new(tmp: &Path) -> Self {
        let dir = tmp.join("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = Self {
            dir,
            port: free_port(),
            child: None,
        };
        r.start();
        r
    }

    pub fn start(&mut self) {
        assert!(self.child.is_none(), "Redis already running");
        let child = Command::new(redis_server_bin())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "yes",
            ])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.ping().is_err() {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn ping(&self) -> std::io::Result<()> {
        self.command("PING").map(drop)
    }

    /// One inline command; returns the first reply line.
    pub fn command(&self, line: &str) -> std::io::Result<String> {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.write_all(format!("{line}\r\n").as_bytes())?;
        let mut reply = String::new();
        BufReader::new(s).read_line(&mut reply)?;
        if reply.starts_with('-') {
            return Err(std::io::Error::other(reply));
        }
        Ok(reply)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The legacy vector key pair (test-only RS256 keys).
fn vector_keys() -> (String, String) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/legacy-vectors.json"
    );
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        v["jwt"]["private_key_pem"].as_str().unwrap().to_owned(),
        v["jwt"]["public_key_pem"].as_str().unwrap().to_owned(),
    )
}

/// `sole serve` as a process, its output in files.
pub struct Server {
    child: Child,
    pub port: u16,
    out: PathBuf,
    err: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn terminate(&self) {
        run(
            Command::new("kill").args(["-TERM", &self.child.id().to_string()]),
            "kill -TERM",
        );
    }

    /// Waits for the exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything the server wrote on stdout and stderr.
    pub fn output(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.out).unwrap_or_default(),
            std::fs::read_to_string(&self.err).unwrap_or_default()
        )
    }

    /// No panic reached the logs (the panic hook logs one line naming it).
    pub fn assert_no_panic(&self) {
        let out = self.output();
        let panics: Vec<&str> = out
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("panic"))
            .collect();
        assert!(
            panics.is_empty(),
            "the server panicked:\n{}",
            panics.join("\n")
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// PostgreSQL and Redis of the test, migrated and seeded, and `sole serve` against them.
pub struct World {
    pub pg: Postgres,
    pub redis: Redis,
    pub server: Server,
    pub api: String,
    pub client: reqwest::Client,
    /// The admin's session, shared by the load's loops.
    pub session: Session,
    _tmp: tempfile::TempDir,
}

fn sole(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.arg("--no-dotenv")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

impl World {
    /// Starts everything; `extra` overrides the server's settings (pool size, timeouts).
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let pg = Postgres::start(tmp.path());
        let redis = Redis::new(tmp.path());

        let mut admin = PgConnection::connect(&pg.url("postgres")).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DB}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();

        let (private_pem, public_pem) = vector_keys();
        let mut env: Vec<(String, String)> = [
            ("DATABASE_URL", pg.url(DB)),
            ("DB_SSL", "false".into()),
            ("REDIS_URL", redis.url()),
            ("JWT_PRIVATE_KEY", private_pem),
            ("JWT_PUBLIC_KEY", public_pem),
            (
                "SECRET_KEY",
                "faults-test-secret-key-0123456789abcdef".into(),
            ),
            ("FERNET_KDF_SALT", "faults-test-fernet-salt".into()),
            ("FERNET_KDF_ITERATIONS", "100000".into()),
            ("ENVIRONMENT", "development".into()),
            ("TENANCY_MODE", "multi".into()),
            ("ARGON2_MEMORY_KIB", "8".into()),
            ("ARGON2_ITERATIONS", "1".into()),
            ("ARGON2_PARALLELISM", "1".into()),
            ("AUTH_COOKIE_SECURE", "false".into()),
            ("LOG_FORMAT", "json".into()),
            ("LOG_LEVEL", "INFO".into()),
            ("SEED_ADMIN_EMAIL", ADMIN.into()),
            ("SEED_ADMIN_PASSWORD", PASSWORD.into()),
            (
                "SOLE_SEEDS_DIR",
                concat!(env!("CARGO_MANIFEST_DIR"), "/seeds").into(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            env.retain(|(key, _)| key != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }

        run(sole(&env).arg("migrate"), "sole migrate");
        run(sole(&env).args(["seed", "--no-demo"]), "sole seed");
        // The seeded admin must change the password at first login; this suite is about
        // faults, not first logins.
        let mut conn = pg.connect().await;
        sqlx::query("UPDATE identities SET must_change_password = false WHERE email = $1")
            .bind(ADMIN)
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();

        let port = free_port();
        let out = tmp.path().join("sole.out");
        let err = tmp.path().join("sole.err");
        let child = sole(&env)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("start sole serve");
        let server = Server {
            child,
            port,
            out,
            err,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "sole serve did not listen:\n{}",
                server.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let api = format!("http://127.0.0.1:{port}/api/v1");
        let client = client();
        let session = Self::sign_in(&api, &client).await;
        Self {
            pg,
            redis,
            server,
            api,
            client,
            session,
            _tmp: tmp,
        }
    }

    /// Login, select-org, then the MFA enrolment the admin's permissions force: the admin's
    /// access and refresh tokens. Once per world (each TOTP step is accepted once), so the
    /// load's loops share one session.
    async fn sign_in(api: &str, client: &reqwest::Client) -> Session {
        let post = |path: &str, token: Option<&str>, body: Value| {
            let mut req = client.post(format!("{api}{path}")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let body = expect_ok(
            post(
                "/auth/login",
                None,
                json!({"email": ADMIN, "password": PASSWORD}),
            )
            .await,
            "login",
        )
        .await;
        let pre_org = body["data"]["pre_org_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login: {body}"))
            .to_owned();
        let body = expect_ok(
            post("/auth/select-org", Some(&pre_org), json!({"org_id": ORG})).await,
            "select-org",
        )
        .await;
        let setup = body["data"]["setup_token"]
            .as_str()
            .unwrap_or_else(|| panic!("select-org without MFA enrolment: {body}"))
            .to_owned();
        let body = expect_ok(
            post(
                "/auth/mfa/enroll/start",
                Some(&pre_org),
                json!({"setup_token": setup}),
            )
            .await,
            "mfa enroll start",
        )
        .await;
        let otpauth = url::Url::parse(body["data"]["otpauth_url"].as_str().unwrap()).unwrap();
        let secret = otpauth
            .query_pairs()
            .find(|(k, _)| k == "secret")
            .map(|(_, v)| v.into_owned())
            .expect("otpauth secret");
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
        let code = sole::auth::totp::code_at(&secret, now).unwrap();
        let body = expect_ok(
            post(
                "/auth/mfa/enroll/verify",
                Some(&pre_org),
                json!({"setup_token": setup, "code": code}),
            )
            .await,
            "mfa enroll verify",
        )
        .await;
        let data = &body["data"];
        assert!(data["access_token"].is_string(), "enroll verify: {body}");
        Session {
            access: data["access_token"].as_str().unwrap().to_owned(),
            refresh: data["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn ready(&self) -> (u16, Value) {
        let resp = self
            .client
            .get(format!("{}/health/ready", self.api))
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// The ledger check: every write that answered 201 is stored with exactly one audit row,
    /// every write that failed left neither, and no department exists without its audit row.
    pub async fn assert_no_lost_or_half_written(&self, ledger: &Ledger) {
        let mut conn = self.pg.connect().await;
        let departments: Vec<String> =
            sqlx::query_scalar("SELECT code FROM departments WHERE org_id = $1")
                .bind(ORG)
                .fetch_all(&mut conn)
                .await
                .unwrap();
        let audits: Vec<(String, i64)> = sqlx::query_as(
            "SELECT new_value->>'code', count(*) FROM audit_logs \
             WHERE org_id = $1 AND action = 'department.created' GROUP BY 1",
        )
        .bind(ORG)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let audits: HashMap<String, i64> = audits.into_iter().collect();
        let stored: std::collections::HashSet<&str> =
            departments.iter().map(String::as_str).collect();
        let writes = ledger.writes.lock().unwrap();
        for (code, outcome) in writes.iter() {
            let rows = usize::from(stored.contains(code.as_str()));
            let audit = audits.get(code).copied().unwrap_or(0);
            match outcome {
                WriteOutcome::Created => assert!(
                    rows == 1 && audit == 1,
                    "write {code} answered 201 but left {rows} department(s), {audit} audit row(s)"
                ),
                WriteOutcome::Failed(why) => assert!(
                    rows == 0 && audit == 0,
                    "write {code} failed ({why}) but left {rows} department(s), {audit} audit row(s)"
                ),
            }
        }
        for code in &departments {
            assert_eq!(
                audits.get(code).copied().unwrap_or(0),
                1,
                "department {code} has no single audit row"
            );
            assert!(
                writes.iter().any(|(c, _)| c == code),
                "department {code} was never written by the load"
            );
        }
        assert_eq!(
            audits.values().sum::<i64>() as usize,
            departments.len(),
            "audit rows without their department: {audits:?}"
        );
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn expect_ok(resp: reqwest::Result<reqwest::Response>, what: &str) -> Value {
    let resp = resp.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{what}: {status} {body}");
    body
}

#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
}

#[derive(Clone, Debug)]
pub enum WriteOutcome {
    Created,
    Failed(String),
}

/// What the load saw: status counts per request kind, every write's outcome, and anything a
/// client must never see.
#[derive(Default)]
pub struct Ledger {
    pub counts: Mutex<BTreeMap<String, u64>>,
    pub writes: Mutex<Vec<(String, WriteOutcome)>>,
    pub violations: Mutex<Vec<String>>,
    /// Successes per kind, to tell when the load recovered.
    ok: Mutex<HashMap<&'static str, u64>>,
}

impl Ledger {
    fn count(&self, kind: &str, outcome: &str) {
        *self
            .counts
            .lock()
            .unwrap()
            .entry(format!("{kind} {outcome}"))
            .or_default() += 1;
    }

    pub fn successes(&self, kind: &'static str) -> u64 {
        self.ok.lock().unwrap().get(kind).copied().unwrap_or(0)
    }

    /// Counted status codes, e.g. `POST /departments: 201×40 503×3`.
    pub fn summary(&self) -> String {
        let counts = self.counts.lock().unwrap();
        let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (key, n) in counts.iter() {
            let (kind, outcome) = key.rsplit_once(' ').unwrap_or((key, ""));
            by_kind
                .entry(kind)
                .or_default()
                .push(format!("{outcome}×{n}"));
        }
        by_kind
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join(" ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn count_of(&self, kind: &str, outcome: &str) -> u64 {
        self.counts
            .lock()
            .unwrap()
            .get(&format!("{kind} {outcome}"))
            .copied()
            .unwrap_or(0)
    }

    pub fn assert_clean(&self) {
        let v = self.violations.lock().unwrap();
        assert!(
            v.is_empty(),
            "clients saw what they must never see:\n{}\ncounts: {}",
            v.join("\n"),
            self.summary()
        );
    }

    /// Classifies one answer; returns the body when the status was 2xx.
    async fn record(
        &self,
        kind: &'static str,
        resp: reqwest::Result<reqwest::Response>,
    ) -> Result<Value, String> {
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                let what = if e.is_timeout() {
                    self.violations
                        .lock()
                        .unwrap()
                        .push(format!("{kind}: client timeout {e}"));
                    "timeout"
                } else if e.is_connect() {
                    // Nothing listens (the server stopped): the request never reached it.
                    "refused"
                } else {
                    "conn-error"
                };
                self.count(kind, what);
                return Err(what.into());
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().contains_key("retry-after");
        let body: Value = match resp.bytes().await {
            Ok(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            Err(_) => {
                self.count(kind, "cut");
                return Err("body cut".into());
            }
        };
        self.count(kind, &status.to_string());
        if (200..300).contains(&status) {
            *self.ok.lock().unwrap().entry(kind).or_default() += 1;
            return Ok(body);
        }
        let enveloped = ["code", "message", "data", "details"]
            .iter()
            .all(|k| body.get(k).is_some());
        let acceptable = (400..500).contains(&status) || status == 503;
        if !acceptable || !enveloped {
            self.violations
                .lock()
                .unwrap()
                .push(format!("{kind}: {status} {body}"));
        }
        // A database fault tells the client when to retry.
        if status == 503
            && (body["code"] == "service_unavailable" || body["code"] == "db_overloaded")
            && !retry_after
        {
            self.violations
                .lock()
                .unwrap()
                .push(format!("{kind}: database 503 without Retry-After"));
        }
        Err(status.to_string())
    }
}

/// What each load loop does.
#[derive(Clone, Copy, Debug)]
pub enum Loop {
    /// `GET /auth/me`
    Me,
    /// `GET /departments`
    ListDepartments,
    /// `POST /departments` with a fresh code (the write with an audit row).
    CreateDepartment,
    /// `POST /auth/login` with the admin's password.
    Login,
    /// `POST /auth/refresh` with its own session's refresh token, rotating it.
    Refresh,
}

/// A steady load: one task per loop, each sending its next request when the last answered.
pub struct Load {
    pub ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

static NEXT_CODE: AtomicU64 = AtomicU64::new(1);

impl Load {
    pub async fn start(world: &World, loops: &[Loop]) -> Self {
        let ledger = Arc::new(Ledger::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (i, kind) in loops.iter().copied().enumerate() {
            let session = world.session.clone();
            let api = world.api.clone();
            let client = client();
            let ledger = Arc::clone(&ledger);
            let stop = Arc::clone(&stop);
            tasks.push(tokio::spawn(async move {
                let mut session = session;
                while !stop.load(Ordering::Relaxed) {
                    one_request(&client, &api, kind, i, &mut session, &ledger).await;
                    // Pace the load: a small machine, several test processes.
                    tokio::time::sleep(Duration::from_millis(15)).await;
                }
            }));
        }
        Self {
            ledger,
            stop,
            tasks,
        }
    }

    /// Waits until `kind` has `n` more successes than now (the load is flowing).
    pub async fn until_successes(&self, kind: &'static str, n: u64, limit: Duration) {
        let start = self.ledger.successes(kind);
        let ledger = Arc::clone(&self.ledger);
        eventually(limit, &format!("{n} more successful {kind}"), || {
            let done = ledger.successes(kind) >= start + n;
            async move { done.then_some(()) }
        })
        .await;
    }

    /// Recovery without restarting `sole`: every kind of the load succeeds again.
    pub async fn until_recovered(&self, kinds: &[&'static str], limit: Duration) {
        for kind in kinds {
            self.until_successes(kind, 3, limit).await;
        }
    }

    pub async fn stop(self) -> Arc<Ledger> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            t.await.unwrap();
        }
        self.ledger
    }
}

pub const ME: &str = "GET /auth/me";
pub const LIST: &str = "GET /departments";
pub const CREATE: &str = "POST /departments";
pub const LOGIN: &str = "POST /auth/login";
pub const REFRESH: &str = "POST /auth/refresh";

async fn one_request(
    client: &reqwest::Client,
    api: &str,
    kind: Loop,
    index: usize,
    session: &mut Session,
    ledger: &Ledger,
) {
    match kind {
        Loop::Me => {
            let resp = client
                .get(format!("{api}/auth/me"))
                .bearer_auth(&session.access)
                .header("X-Org-Id", ORG)
                .send()
                .await;
            let _ = ledger.record(ME, resp).await;
        }
        Loop::ListDepartments => {
            let resp = client
                .get(format!("{api}/departments?page_size=5"))
                .bearer_auth(&session.access)
                .header("X-Org-Id", ORG)
                .send()
                .await;
            let _ = ledger.record(LIST, resp).await;
        }
        Loop::CreateDepartment => {
            let n = NEXT_CODE.fetch_add(1, Ordering::Relaxed);
            let code = format!("F{index}_{n}");
            let resp = client
                .post(format!("{api}/departments"))
                .bearer_auth(&session.access)
                .header("X-Org-Id", ORG)
                .json(&json!({"name": format!("Fault Dept {index} {n}"), "code": code}))
                .send()
                .await;
            let outcome = match ledger.record(CREATE, resp).await {
                Ok(body) => {
                    assert_eq!(body["data"]["code"], code.as_str(), "{body}");
                    WriteOutcome::Created
                }
                Err(why) => WriteOutcome::Failed(why),
            };
            ledger.writes.lock().unwrap().push((code, outcome));
        }
        Loop::Login => {
            let resp = client
                .post(format!("{api}/auth/login"))
                .json(&json!({"email": ADMIN, "password": PASSWORD}))
                .send()
                .await;
            let _ = ledger.record(LOGIN, resp).await;
        }
        Loop::Refresh => {
            let resp = client
                .post(format!("{api}/auth/refresh"))
                .header("X-Org-Id", ORG)
                .json(&json!({"refresh_token": session.refresh}))
                .send()
                .await;
            if let Ok(body) = ledger.record(REFRESH, resp).await
                && let Some(t) = body["data"]["refresh_token"].as_str()
            {
                session.refresh = t.to_owned();
            }
        }
    }
}
