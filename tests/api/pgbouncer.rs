//! `sole` through a real PgBouncer (Debian's 1.18: no `max_prepared_statements`, so named
//! prepared statements do not survive transaction pooling). PgBouncer comes from
//! `SOLE_TEST_PGBOUNCER` or the PATH (`scripts/test` installs it as root); without it these
//! tests print SKIPPED locally and fail under CI.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::json;
use sole::config::EnvMap;

use crate::fixtures::org;
use crate::helpers::{
    admin_url, audit_count, base_env, fresh_database, spawn_with_env, vector_keys,
};

/// A PgBouncer process on a free loopback port in front of the test PostgreSQL; killed and its
/// directory removed on drop.
struct PgBouncer {
    child: std::process::Child,
    dir: PathBuf,
    port: u16,
    user: String,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl PgBouncer {
    /// The URL of database `db` through this PgBouncer.
    fn url(&self, db: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{db}", self.user, self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }
}

fn pgbouncer_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SOLE_TEST_PGBOUNCER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join("pgbouncer"))
        .find(|p| p.is_file())
}

/// The uid and gid of the `postgres` user (PgBouncer refuses to run as root).
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = std::process::Command::new("id")
            .args([flag, "postgres"])
            .output()
            .expect("id");
        assert!(
            out.status.success(),
            "running as root needs a 'postgres' user for PgBouncer"
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts PgBouncer with `pool_mode` and `pool_size` server connections per database, or says
/// why not (skipping is allowed only outside CI).
fn start_pgbouncer(pool_mode: &str, pool_size: u32) -> Option<PgBouncer> {
    let Some(binary) = pgbouncer_binary() else {
        let why =
            "pgbouncer not found (set SOLE_TEST_PGBOUNCER or run scripts/test, which installs it)";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
        return None;
    };
    let upstream = url::Url::parse(&admin_url()).unwrap();
    let user = match upstream.username() {
        "" => "postgres".to_owned(),
        u => u.to_owned(),
    };
    let dir =
        std::env::temp_dir().join(format!("sole-pgbouncer-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let ini = format!(
        "[databases]\n* = host={host} port={pg_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
         listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {users}\n\
         pool_mode = {pool_mode}\ndefault_pool_size = {pool_size}\nmax_client_conn = 200\n\
         query_wait_timeout = 15\nlogfile = {log}\n",
        host = upstream.host_str().unwrap_or("127.0.0.1"),
        pg_port = upstream.port().unwrap_or(5432),
        users = dir.join("userlist.txt").display(),
        log = dir.join("pgbouncer.log").display(),
    );
    std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
    std::fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"\"\n")).unwrap();
    let mut cmd = std::process::Command::new(&binary);
    cmd.arg(dir.join("pgbouncer.ini"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // PgBouncer refuses to run as root: hand the process (and its files) to postgres.
    if running_as_root() {
        use std::os::unix::process::CommandExt as _;
        let (uid, gid) = postgres_ids();
        for entry in [
            dir.clone(),
            dir.join("pgbouncer.ini"),
            dir.join("userlist.txt"),
        ] {
            std::os::unix::fs::chown(&entry, Some(uid), Some(gid)).unwrap();
        }
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd.spawn().expect("start pgbouncer");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
            panic!("pgbouncer exited ({status}):\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "pgbouncer did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(PgBouncer {
        child,
        dir,
        port,
        user,
    })
}

/// Whether this process runs as root (from /proc, without libc).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Server connections PgBouncer holds to database `db`.
async fn backends_of(db: &str) -> i64 {
    let mut admin = crate::helpers::connect("postgres").await;
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(db)
        .fetch_one(&mut admin)
        .await
        .unwrap()
}

/// Sign-in, reads, writes with their audit rows, and more concurrent requests than PgBouncer
/// has server connections, all through transaction pooling with `DB_POOLER=transaction`.
#[tokio::test]
async fn serve_works_through_pgbouncer_in_transaction_mode() {
    let Some(bouncer) = start_pgbouncer("transaction", 2) else {
        return;
    };
    let db = fresh_database().await;
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let mut env = base_env(&db, &prefix);
    env.overlay(EnvMap::from_pairs([
        ("DATABASE_URL", bouncer.url(&db)),
        ("DB_POOLER", "transaction".to_owned()),
        ("DB_POOL_SIZE", "12".to_owned()),
    ]));
    let app = spawn_with_env(env, db.clone(), prefix).await;

    // Sign-in (inside `org`) and reads.
    let a = org(&app, "org-a").await;
    let (status, body) = app
        .call("GET", "/auth/me")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .call("GET", "/departments")
        .session(&a.admin_s)
        .fetch()
        .await;
    assert_eq!(status, 200, "{body}");

    // A write and its audit row.
    let (status, body) = app
        .call("POST", "/departments")
        .session(&a.admin_s)
        .json(&json!({"name": "First", "code": "first"}))
        .fetch()
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(audit_count(&app, "org-a", "department.created").await, 1);

    // 36 requests at once over a 12-connection pool and 2 server connections.
    let requests = (0..36).map(|i| {
        let app = &app;
        let a = &a;
        async move {
            match i % 3 {
                0 => app.call("GET", "/auth/me").session(&a.emp_s).fetch().await,
                1 => {
                    app.call("GET", "/departments")
                        .session(&a.admin_s)
                        .fetch()
                        .await
                }
                _ => {
                    app.call("POST", "/departments")
                        .session(&a.admin_s)
                        .json(&json!({"name": format!("Team {i}"), "code": format!("team-{i}")}))
                        .fetch()
                        .await
                }
            }
        }
    });
    for (status, body) in join_all(requests).await {
        assert!(
            (200..300).contains(&status),
            "{status} {body}\n{}",
            bouncer.log()
        );
    }
    assert_eq!(audit_count(&app, "org-a", "department.created").await, 13);
    let departments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM departments WHERE org_id = 'org-a'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(departments, 13);
    // The test's own direct pool holds at most 2 more; PgBouncer never opened more than 2.
    assert!(backends_of(&db).await <= 4, "PgBouncer was not pooling");
}

/// `sole serve` as a process; returns its exit status and its combined output, or, when it
/// was still running after `within`, kills it and returns what it had printed.
async fn serve_exit(
    database_url: &str,
    extra: &[(&str, &str)],
    within: Duration,
) -> Result<(i32, String), String> {
    let (private_pem, public_pem) = vector_keys();
    let port = free_port();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args([
        "--no-dotenv",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("DATABASE_URL", database_url)
    .env("DB_SSL", "false")
    .env("JWT_PRIVATE_KEY", private_pem)
    .env("JWT_PUBLIC_KEY", public_pem)
    .env("SECRET_KEY", "pgbouncer-test-secret-key-0123456789abcdef")
    .env("FERNET_KDF_SALT", "pgbouncer-test-fernet-salt")
    .env("FERNET_KDF_ITERATIONS", "100000")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>| {
        tokio::spawn(async move {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut text).await;
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let status = tokio::time::timeout(within, child.wait()).await;
    if status.is_err() {
        let _ = child.kill().await;
    }
    let text = format!("{}{}", stdout.await.unwrap(), stderr.await.unwrap());
    match status {
        Ok(status) => Ok((status.unwrap().code().unwrap_or(-1), text)),
        Err(_) => Err(format!(
            "still running after {within:?}; it printed:\n{text}"
        )),
    }
}

/// The pooler breaks what the configured `DB_POOLER` relies on: `serve` stops at once with a
/// message naming the fix, instead of failing some requests later.
#[tokio::test]
async fn serve_refuses_to_run_when_the_pooler_breaks_its_statements() {
    let Some(transaction) = start_pgbouncer("transaction", 2) else {
        return;
    };
    let Some(statement) = start_pgbouncer("statement", 2) else {
        return;
    };
    let db = fresh_database().await;
    let within = Duration::from_secs(20);

    // Transaction pooling, but DB_POOLER=session keeps named statements per connection.
    let (code, out) = serve_exit(&transaction.url(&db), &[("DB_POOLER", "session")], within)
        .await
        .unwrap_or_else(|out| {
            panic!("serve kept running behind a transaction pooler with DB_POOLER=session: {out}")
        });
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not keep prepared statements"), "{out}");
    assert!(out.contains("set DB_POOLER=transaction"), "{out}");

    // DB_POOLER unset: PgBouncer refuses the startup parameters a direct connection uses.
    let (code, out) = serve_exit(&transaction.url(&db), &[], within)
        .await
        .unwrap_or_else(|out| {
            panic!("serve kept running behind PgBouncer with DB_POOLER unset: {out}")
        });
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("unsupported startup parameter"), "{out}");
    assert!(out.contains("DB_POOLER=transaction"), "{out}");

    // Statement pooling allows no transaction at all.
    let (code, out) = serve_exit(&statement.url(&db), &[("DB_POOLER", "transaction")], within)
        .await
        .unwrap_or_else(|out| panic!("serve kept running behind a statement pooler: {out}"));
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("statement-mode pooler"), "{out}");
}

/// The right setting passes the probe: the server keeps serving and is ready.
#[tokio::test]
async fn serve_with_db_pooler_transaction_passes_the_probe() {
    let Some(bouncer) = start_pgbouncer("transaction", 2) else {
        return;
    };
    let db = fresh_database().await;
    let (private_pem, public_pem) = vector_keys();
    let port = free_port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sole"))
        .args([
            "--no-dotenv",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", bouncer.url(&db))
        .env("DB_POOLER", "transaction")
        .env("DB_SSL", "false")
        .env("REDIS_URL", crate::helpers::redis_url())
        .env("JWT_PRIVATE_KEY", private_pem)
        .env("JWT_PUBLIC_KEY", public_pem)
        .env("SECRET_KEY", "pgbouncer-test-secret-key-0123456789abcdef")
        .env("FERNET_KDF_SALT", "pgbouncer-test-fernet-salt")
        .env("FERNET_KDF_ITERATIONS", "100000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The probe's verdict is logged on stdout; wait for it (bounded), then ask for readiness.
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let verdict = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("every checkout runs in one transaction") || line.contains("ERROR") {
                return line;
            }
        }
        String::new()
    })
    .await
    .expect("no pooler verdict within 20s");
    assert!(
        verdict.contains("every checkout runs in one transaction"),
        "{verdict}"
    );
    let resp = crate::helpers::client()
        .get(format!("http://127.0.0.1:{port}/api/v1/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(child.try_wait().unwrap().is_none(), "serve exited");
}

/// Commands that need a session refuse a transaction-pooled DATABASE_URL with the fix.
#[tokio::test]
async fn migrate_and_seed_need_a_direct_url_behind_a_transaction_pooler() {
    for command in ["migrate", "seed"] {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sole"))
            .args(["--no-dotenv", command])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:6432/app")
            .env("DB_POOLER", "transaction")
            .env("SEED_ADMIN_EMAIL", "admin@example.com")
            .env("SEED_ADMIN_PASSWORD", "Pgbouncer-Test-Pass-1")
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {text}");
        assert!(text.contains("DATABASE_URL_DIRECT"), "{command}: {text}");
    }
}
