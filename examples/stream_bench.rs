//! The announcement-stream benchmark behind `scripts/bench streams`.
//!
//! Creates a throwaway database (migrated, one org, one member), starts the given `sole` binary
//! on loopback with Redis, signs the member in over HTTP, opens N idle streams on raw HTTP/1.1
//! connections, then measures the server's RSS and CPU while the streams idle, and the time from
//! a Redis `PUBLISH` on the org's channel (what any `sole` or legacy instance does after a
//! commit) to the moment the last of the N clients has read the event. Prints `key=value` lines
//! for the script to format; progress goes to stderr. Everything is stopped and dropped at the
//! end.
//!
//! cargo run --release --example stream_bench -- SOLE_BIN ADMIN_DATABASE_URL REDIS_URL STREAMS

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const ORG: &str = "bench";
const EMAIL: &str = "streams@bench.example";
const PASSWORD: &str = "Correct#Horse42battery";
const IDLE_SECONDS: u64 = 30;
const PUBLISHES: usize = 5;

fn log(msg: &str) {
    eprintln!("[stream_bench] {msg}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, sole_bin, admin_url, redis_url, streams] = args.as_slice() else {
        anyhow::bail!("usage: stream_bench SOLE_BIN ADMIN_DATABASE_URL REDIS_URL STREAMS");
    };
    let streams: usize = streams.parse()?;
    let db_name = format!("sole_bench_streams_{}", std::process::id());
    let mut admin_url = url::Url::parse(admin_url)?;
    let mut admin = PgConnection::connect(admin_url.as_str()).await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)"#
        )))
        .await?;
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{db_name}""#
        )))
        .await?;
    admin_url.set_path(&format!("/{db_name}"));
    let db_url = admin_url.to_string();

    let result = run(sole_bin, &db_url, redis_url, streams).await;

    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)"#
        )))
        .await?;
    result
}

async fn setup_database(db_url: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(db_url).await?;
    sole::db::migrator::migrate(&mut conn).await?;
    sqlx::query("INSERT INTO orgs (id, name, slug, status) VALUES ($1, 'Bench', $1, 'ACTIVE')")
        .bind(ORG)
        .execute(&mut conn)
        .await?;
    sole::db::partitions::ensure_org_partitions(&mut conn, ORG).await?;
    sole::services::roles::ensure_system_roles(&mut conn, ORG).await?;
    let hasher = sole::auth::password::PasswordHasher::new(&sole::config::Argon2Settings {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    })?;
    let identity = uuid::Uuid::new_v4();
    let user = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO identities (id, email, hashed_password, must_change_password, is_active) \
         VALUES ($1, $2, $3, false, true)",
    )
    .bind(identity)
    .bind(EMAIL)
    .bind(hasher.hash(PASSWORD)?)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO users (id, org_id, email, is_active, is_superuser, identity_id) \
         VALUES ($1, $2, $3, true, false, $4)",
    )
    .bind(user)
    .bind(ORG)
    .bind(EMAIL)
    .bind(identity)
    .execute(&mut conn)
    .await?;
    sqlx::query(
        "INSERT INTO org_memberships (id, org_id, user_id, employee_id, employment_status, \
         platform_status, invitation_status, invited_at, accepted_at) \
         VALUES ($1, $2, $3, 'E-1', 'ACTIVE', 'ACTIVE', 'ACCEPTED', now(), now())",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(ORG)
    .bind(user)
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// One request over a fresh connection; returns the JSON body.
async fn post_json(
    port: u16,
    path: &str,
    bearer: Option<&str>,
    body: &Value,
) -> anyhow::Result<Value> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.to_string();
    let auth = bearer
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    sock.write_all(
        format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await?;
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw);
    let (_, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| anyhow::anyhow!("no HTTP body"))?;
    Ok(serde_json::from_str(body.trim())?)
}

async fn sign_in(port: u16) -> anyhow::Result<String> {
    let login = post_json(
        port,
        "/api/v1/auth/login",
        None,
        &json!({"email": EMAIL, "password": PASSWORD}),
    )
    .await?;
    let pre_org = login["data"]["pre_org_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?;
    let tokens = post_json(
        port,
        "/api/v1/auth/select-org",
        Some(pre_org),
        &json!({"org_id": ORG}),
    )
    .await?;
    Ok(tokens["data"]["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("select-org failed: {tokens}"))?
        .to_owned())
}

/// Opens one stream and waits for `: connected`; returns the socket and what it read so far.
async fn open_stream(port: u16, token: &str) -> anyhow::Result<TcpStream> {
    let mut sock = TcpStream::connect(("127.0.0.1", port)).await?;
    sock.write_all(
        format!(
            "GET /api/v1/announcements/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer {token}\r\nX-Org-Id: {ORG}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .as_bytes(),
    )
    .await?;
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&seen, b": connected") {
        let n = sock.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "stream closed before `: connected`");
        seen.extend_from_slice(&buf[..n]);
    }
    anyhow::ensure!(seen.starts_with(b"HTTP/1.1 200"), "stream refused");
    Ok(sock)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// (utime + stime) clock ticks and VmRSS kB of a process.
fn proc_usage(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks, rss)
}

fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

async fn run(sole_bin: &str, db_url: &str, redis_url: &str, streams: usize) -> anyhow::Result<()> {
    log("creating and migrating the bench database");
    setup_database(db_url).await?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?.port()
    };
    let prefix = format!("bench{}", std::process::id());
    let keys = sole::auth::jwt::JwtKeys::generate_ephemeral_pems()?;
    let mut server = tokio::process::Command::new(sole_bin)
        .args(["--no-dotenv", "serve"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db_url)
        .env("DB_SSL", "false")
        .env("REDIS_URL", redis_url)
        .env("REDIS_KEY_PREFIX", &prefix)
        .env("TENANCY_MODE", "multi")
        .env("ENVIRONMENT", "development")
        .env("LOG_LEVEL", "warn")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("RATE_LIMIT_PER_MINUTE", "100000")
        .env("JWT_PRIVATE_KEY", keys.private_pem.expose_secret())
        .env("JWT_PUBLIC_KEY", &keys.public_pem)
        .env("SECRET_KEY", "bench-secret-key-0123456789abcdef0123456789")
        .env("FERNET_KDF_SALT", "bench-fernet-kdf-salt-0001")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = server.id().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "sole did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let token = sign_in(port).await?;
    let (_, rss_before) = proc_usage(pid);

    log(&format!("opening {streams} streams"));
    let opened = Instant::now();
    let mut sockets = Vec::with_capacity(streams);
    let mut pending = tokio::task::JoinSet::new();
    for _ in 0..streams {
        let token = token.clone();
        pending.spawn(async move { open_stream(port, &token).await });
        // At most 200 handshakes in flight (the listen backlog).
        while pending.len() >= 200 {
            sockets.push(pending.join_next().await.unwrap()??);
        }
    }
    while let Some(s) = pending.join_next().await {
        sockets.push(s??);
    }
    let open_ms = opened.elapsed().as_secs_f64() * 1000.0;

    // Readers: each reports when it has read the n-th event.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    for mut sock in sockets {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 4096];
            let mut carry: Vec<u8> = Vec::new();
            let mut events = 0;
            loop {
                let Ok(n) = sock.read(&mut buf).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                carry.extend_from_slice(&buf[..n]);
                let needle = b"event: announcement.published";
                while let Some(pos) = carry.windows(needle.len()).position(|w| w == needle) {
                    events += 1;
                    let _ = tx.send((events, Instant::now()));
                    carry.drain(..pos + needle.len());
                }
                if carry.len() > needle.len() {
                    carry.drain(..carry.len() - needle.len());
                }
            }
        });
    }
    drop(tx);

    log(&format!(
        "idling {IDLE_SECONDS} s with {streams} open streams"
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ticks0, rss_idle0) = proc_usage(pid);
    let idle_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let (ticks1, rss_idle) = proc_usage(pid);
    let idle_cpu_pct =
        (ticks1 - ticks0) as f64 / clock_ticks() as f64 / idle_started.elapsed().as_secs_f64()
            * 100.0;

    let redis = redis::Client::open(redis_url)?;
    let mut conn = redis.get_multiplexed_async_connection().await?;
    let channel = format!("{prefix}:announcements:{ORG}");
    let mut last_ms = Vec::new();
    let mut median_ms = Vec::new();
    let mut receivers = 0;
    for n in 1..=PUBLISHES {
        let payload =
            json!({"type": "announcement.published", "id": uuid::Uuid::new_v4().to_string(),
            "org_id": ORG, "title": format!("bench {n}"), "announcement_type": "GENERAL",
            "status": "PUBLISHED", "published_at": "2026-01-01T00:00:00+00:00"})
            .to_string();
        let t0 = Instant::now();
        receivers = redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(&payload)
            .query_async::<i64>(&mut conn)
            .await?;
        let mut arrivals = Vec::with_capacity(streams);
        while arrivals.len() < streams {
            let (seen, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await?
                .ok_or_else(|| anyhow::anyhow!("readers gone"))?;
            if seen == n {
                arrivals.push(at.duration_since(t0).as_secs_f64() * 1000.0);
            }
        }
        arrivals.sort_by(f64::total_cmp);
        last_ms.push(arrivals[arrivals.len() - 1]);
        median_ms.push(arrivals[arrivals.len() / 2]);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (_, rss_after) = proc_usage(pid);
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };

    println!("streams={streams}");
    println!("open_ms={open_ms:.0}");
    println!("rss_before_kb={rss_before}");
    println!("rss_idle_start_kb={rss_idle0}");
    println!("rss_idle_kb={rss_idle}");
    println!("rss_after_kb={rss_after}");
    println!("idle_seconds={IDLE_SECONDS}");
    println!("idle_cpu_pct={idle_cpu_pct:.2}");
    println!("redis_receivers={receivers}");
    println!("publishes={PUBLISHES}");
    println!(
        "last_ms_runs={}",
        last_ms
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!("last_ms={:.1}", med(&mut last_ms));
    println!("median_ms={:.1}", med(&mut median_ms));

    server.start_kill()?;
    let _ = server.wait().await;
    Ok(())
}
