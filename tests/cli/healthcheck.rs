//! `sole healthcheck` (the container HEALTHCHECK) against a running `sole serve` and against
//! nothing.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::free_port;
use secrecy::ExposeSecret as _;

fn database_url() -> String {
    std::env::var("SOLE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A `sole serve` child process, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts `sole serve` and returns once it logs that it is serving (its listener is bound
    /// before that line is written).
    fn start() -> Self {
        let port = free_port();
        let keys = sole::auth::jwt::JwtKeys::generate_ephemeral_pems().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_sole"))
            .args(["--no-dotenv", "serve", "--host", "127.0.0.1"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port.to_string())
            .env("DATABASE_URL", database_url())
            .env("JWT_PRIVATE_KEY", keys.private_pem.expose_secret())
            .env("JWT_PUBLIC_KEY", &keys.public_pem)
            .env("SECRET_KEY", "healthcheck-test-secret-key-0123456789abcdef")
            .env("FERNET_KDF_SALT", "healthcheck-test-salt")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains("sole is serving") => break,
                Ok(line) => seen.push(line),
                // Timeout, or both pipes closed because the process exited.
                Err(_) => panic!("sole serve did not start:\n{}", seen.join("\n")),
            }
        }
        Self { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn healthcheck(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.arg("healthcheck").args(args).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn healthcheck_passes_against_a_running_server() {
    let server = Server::start();
    let url = format!("http://127.0.0.1:{}/api/v1/health/live", server.port);
    let out = healthcheck(&["--url", &url], &[]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("answered 200"));

    // Without --url it probes $PORT, as the image's HEALTHCHECK does.
    let out = healthcheck(&[], &[("PORT", &server.port.to_string())]);
    assert!(out.status.success(), "{out:?}");

    // A path that is not 200 is unhealthy, with the status.
    let missing = format!("http://127.0.0.1:{}/api/v1/nope", server.port);
    let out = healthcheck(&["--url", &missing], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("answered 404"),
        "{out:?}"
    );
}

#[test]
fn healthcheck_fails_against_nothing() {
    let port = free_port();
    let out = healthcheck(&[], &[("PORT", &port.to_string())]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "unhealthy: http://127.0.0.1:{port}/api/v1/health/live: cannot connect"
        )),
        "{stderr}"
    );
    let out = healthcheck(&["--url", "not a url"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid URL"));
}

#[test]
fn a_failed_probe_says_what_was_reached_in_plain_words() {
    // A listener that accepts and never answers: the probe times out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/health/live", silent.local_addr().unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sole"))
        .args(["healthcheck", "--timeout", "1", "--url", &url])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no answer from 127.0.0.1:"), "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
    drop(silent);

    // Nothing listens.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sole"))
        .args([
            "healthcheck",
            "--url",
            &format!("http://{addr}/api/v1/health/live"),
        ])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot connect to {addr}: connection refused")),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
}
