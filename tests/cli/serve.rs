//! `sole serve` as a process: structured logs on stdout and graceful shutdown on SIGTERM.

use crate::support::{free_port, vector_keys};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the server if a test fails halfway.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `sole serve` on a free port with `database_url`; returns once it listens.
fn start(database_url: &str, extra: &[(&str, &str)]) -> (Server, u16) {
    let port = free_port();
    let (private_pem, public_pem) = vector_keys();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
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
    .env("SECRET_KEY", "serve-test-secret-key-0123456789abcdef")
    .env("FERNET_KDF_SALT", "serve-test-fernet-salt")
    .env("FERNET_KDF_ITERATIONS", "100000")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sole serve did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

/// A raw HTTP/1.1 GET; returns the status line and the body.
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn terminate(server: &Server) {
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
}

#[test]
fn logs_are_cloud_logging_json_lines_with_request_context_and_no_secrets() {
    let (mut server, port) = start(
        "postgres://postgres@127.0.0.1:5432/postgres",
        &[
            ("LOG_FORMAT", "json"),
            ("LOG_LEVEL", "INFO"),
            ("GOOGLE_CLOUD_PROJECT", "sole-test"),
        ],
    );
    let (status, _) = get(
        port,
        "/api/v1/health/live",
        &[
            ("X-Request-ID", "req-logs-1"),
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
            ("Authorization", "Bearer secret-bearer-value"),
            ("Cookie", "sole_refresh=secret-cookie-value"),
        ],
    );
    assert!(status.contains("200"), "{status}");
    terminate(&server);
    assert!(server.0.wait().unwrap().success());
    let mut out = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        !out.contains("secret-bearer-value") && !out.contains("secret-cookie-value"),
        "{out}"
    );

    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for line in &lines {
        for key in [
            "timestamp",
            "severity",
            "message",
            "request_id",
            "tenant_id",
        ] {
            assert!(line.get(key).is_some(), "{key} missing: {line}");
        }
    }
    let access = lines
        .iter()
        .find(|l| l["request_id"] == "req-logs-1")
        .unwrap_or_else(|| panic!("no access-log line for the request:\n{out}"));
    assert_eq!(access["severity"], "INFO");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["path"], "/api/v1/health/live");
    assert_eq!(access["status"], 200);
    assert!(access["latency_ms"].is_number());
    assert_eq!(access["tenant_id"], "-");
    assert_eq!(
        access["logging.googleapis.com/trace"],
        "projects/sole-test/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(access["logging.googleapis.com/spanId"], "00f067aa0ba902b7");
    assert_eq!(access["logging.googleapis.com/trace_sampled"], true);
}

/// `LOG_FORMAT=pretty` into a pipe: plain text (no colour codes), one access line that says
/// `GET /path 200` once, and a latency rounded to 0.1 ms.
#[test]
fn pretty_logs_into_a_pipe_are_plain_short_and_rounded() {
    let (mut server, port) = start(
        "postgres://postgres@127.0.0.1:5432/postgres",
        &[("LOG_FORMAT", "pretty"), ("LOG_LEVEL", "INFO")],
    );
    let (status, _) = get(port, "/api/v1/health/live", &[]);
    assert!(status.contains("200"), "{status}");
    terminate(&server);
    assert!(server.0.wait().unwrap().success());
    let mut out = String::new();
    server
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(!out.contains('\u{1b}'), "colour codes in a pipe:\n{out}");
    let access = out
        .lines()
        .find(|l| l.contains("GET /api/v1/health/live 200"))
        .unwrap_or_else(|| panic!("no access line:\n{out}"));
    for repeated in ["method=", "path=", "status="] {
        assert!(!access.contains(repeated), "{repeated} repeated: {access}");
    }
    let latency = access
        .split_once("latency_ms=")
        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or_default())
        .unwrap_or_else(|| panic!("no latency: {access}"));
    let decimals = latency.split_once('.').map_or(0, |(_, d)| d.len());
    assert_eq!(decimals, 1, "latency not rounded to 0.1 ms: {access}");
}

/// `ACCESS_LOG=errors` writes a line for a 404 and none for a 200; `ACCESS_LOG=off` none at
/// all, while other events of the request still log.
#[test]
fn access_log_can_keep_only_errors_or_nothing() {
    for (setting, expect_ok, expect_missing) in [("errors", false, true), ("off", false, false)] {
        let (mut server, port) = start(
            "postgres://postgres@127.0.0.1:5432/postgres",
            &[
                ("LOG_FORMAT", "json"),
                ("LOG_LEVEL", "INFO"),
                ("ACCESS_LOG", setting),
            ],
        );
        let (status, _) = get(port, "/api/v1/health/live", &[]);
        assert!(status.contains("200"), "{status}");
        let (status, _) = get(port, "/api/v1/no-such-route", &[]);
        assert!(status.contains("404"), "{status}");
        terminate(&server);
        assert!(server.0.wait().unwrap().success());
        let mut out = String::new();
        server
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(
            out.contains("GET /api/v1/health/live 200"),
            expect_ok,
            "ACCESS_LOG={setting}:\n{out}"
        );
        assert_eq!(
            out.contains("GET /api/v1/no-such-route 404"),
            expect_missing,
            "ACCESS_LOG={setting}:\n{out}"
        );
        assert!(
            out.contains("sole is serving"),
            "ACCESS_LOG={setting}:\n{out}"
        );
    }
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_exits_promptly() {
    // A "database" that accepts connections and never answers keeps /health/ready busy until
    // its 2 s check timeout: a request that is in flight when SIGTERM arrives.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let db = format!(
        "postgres://postgres@{}/none",
        black_hole.local_addr().unwrap()
    );
    let (mut server, port) = start(&db, &[("LOG_FORMAT", "json")]);
    let in_flight = std::thread::spawn(move || get(port, "/api/v1/health/ready", &[]));
    // Two connections reach the black hole: the connection-pooler check's first one (it waits
    // up to 5 s for an answer that never comes, and only then does the reachability probe
    // connect) and the request's; once both are accepted, the request is in flight.
    let (_pooler_probe, _) = black_hole.accept().unwrap();
    let (_conn, _) = black_hole.accept().unwrap();
    let started = Instant::now();
    terminate(&server);

    let (status, body) = in_flight.join().unwrap();
    // Finished, not cut: 503 because the database never answered.
    assert!(
        status.contains("503"),
        "in-flight request was cut: {status}"
    );
    assert!(body.contains("degraded"), "{body}");
    let exit = server.0.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    // Stopped accepting: nothing listens any more.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    let mut err = String::new();
    server
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let out = BufReader::new(server.0.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>();
    assert!(
        out.iter().any(|l| l.contains("shutdown signal received")),
        "{out:?}{err}"
    );
}

/// PostgreSQL and Redis unreachable at start: a clear warning for each, /health/ready answers
/// 503 (load balancers read the status), /health/live stays 200.
#[test]
fn unreachable_postgres_and_redis_at_start_are_warned_about_and_ready_is_503() {
    let (mut server, port) = start(
        "postgres://someone:hunter2@127.0.0.1:1/app",
        &[
            ("LOG_FORMAT", "json"),
            ("REDIS_URL", "redis://127.0.0.1:1/0"),
            ("DB_POOL_TIMEOUT", "1"),
        ],
    );
    let (status, body) = get(port, "/api/v1/health/ready", &[]);
    assert!(status.contains("503"), "{status}");
    assert!(body.contains("\"ready\":false"), "{body}");
    assert!(body.contains("\"status\":\"degraded\""), "{body}");
    let (status, _) = get(port, "/api/v1/health/live", &[]);
    assert!(status.contains("200"), "{status}");

    terminate(&server);
    server.0.wait().unwrap();
    let out = BufReader::new(server.0.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        out.contains("PostgreSQL is not reachable: host 127.0.0.1, port 1, user someone, database app; DATABASE_URL from the environment"),
        "{out}"
    );
    assert!(
        out.contains("Redis is not reachable: Redis at 127.0.0.1:1 (REDIS_URL)"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");
}
