//! What can be tested of the container without a container engine: the Dockerfile's shape, the
//! ignore files, config.prod.yaml against `sole config check`, cloudbuild.yaml, the lock file and
//! release profile the Dockerfile's cargo command relies on, and the binary running `serve`
//! (probed with `sole healthcheck`, as the image's HEALTHCHECK does), `migrate` and `seed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use sqlx::{Connection as _, Executor as _};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(file)).unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `cargo build …` of the Dockerfile's builder stage, as an argument vector.
fn dockerfile_cargo_command() -> Vec<String> {
    let dockerfile = read("Dockerfile");
    let line = dockerfile
        .lines()
        .find(|l| l.trim_start().starts_with("RUN cargo build"))
        .expect("the Dockerfile builds with `RUN cargo build …`");
    let command = line.trim_start().trim_start_matches("RUN ");
    let command = command.split("&&").next().unwrap().trim_end_matches('\\');
    command.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn dockerfile_is_multi_stage_minimal_non_root_and_runs_sole() {
    let dockerfile = read("Dockerfile");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "builder + runtime");
    assert!(froms[0].starts_with("FROM rust:") && froms[0].ends_with(" AS builder"));
    // Distroless cc: glibc, CA certificates, a nonroot user, no shell or package manager.
    assert_eq!(froms[1], "FROM gcr.io/distroless/cc-debian12:nonroot");
    let cargo = dockerfile_cargo_command();
    assert_eq!(cargo[..2], ["cargo", "build"]);
    assert!(cargo.contains(&"--release".to_owned()) && cargo.contains(&"--locked".to_owned()));
    for needle in [
        "USER nonroot:nonroot",
        "PORT=8080",
        "CMD [\"sole\", \"healthcheck\"]",
        "ENTRYPOINT [\"sole\"]",
        "CMD [\"serve\"]",
        "COPY --from=builder /out/sole /usr/local/bin/sole",
    ] {
        assert!(
            dockerfile.contains(needle),
            "{needle} missing from the Dockerfile"
        );
    }
    assert!(dockerfile.contains("HEALTHCHECK "));
    // Nothing but the binary reaches the runtime stage (migrations are embedded).
    let runtime = dockerfile.split("FROM gcr.io/distroless").nth(1).unwrap();
    assert_eq!(runtime.matches("COPY ").count(), 1);
}

#[test]
fn ignore_files_keep_build_output_and_secrets_out() {
    for file in [".dockerignore", ".gcloudignore"] {
        let lines: Vec<String> = read(file).lines().map(str::to_owned).collect();
        for entry in ["target/", ".env", ".env.*", "secrets/", ".sole/"] {
            assert!(
                lines.iter().any(|l| l == entry),
                "{entry} missing from {file}"
            );
        }
    }
    // Cloud Build needs these uploaded.
    let gcloudignore = read(".gcloudignore");
    for needed in [
        "Dockerfile",
        "cloudbuild.yaml",
        "config.prod.yaml",
        "src/",
        "migrations/",
        "Cargo.lock",
    ] {
        assert!(
            !gcloudignore.lines().any(|l| l.trim() == needed),
            "{needed} must not be ignored"
        );
    }
}

/// Dummy values for the Secret Manager secrets.
fn dummy_secrets() -> Vec<(&'static str, String)> {
    let keys = sole::auth::jwt::JwtKeys::generate_ephemeral_pems().unwrap();
    vec![
        ("DATABASE_URL", "postgres://app:pw@10.0.0.5/sole".to_owned()),
        (
            "DATABASE_URL_DIRECT",
            "postgres://app:pw@10.0.0.6/sole".to_owned(),
        ),
        ("REDIS_URL", "redis://10.0.0.7:6379/0".to_owned()),
        ("SECRET_KEY", "k".repeat(20) + "0123456789abcdefghijklmnop"),
        ("FERNET_KDF_SALT", "a-long-random-salt-value".to_owned()),
        (
            "JWT_PRIVATE_KEY",
            keys.private_pem.expose_secret().to_owned(),
        ),
        ("JWT_PUBLIC_KEY", keys.public_pem),
        ("SEED_ADMIN_EMAIL", "owner@example.com".to_owned()),
        ("SEED_ADMIN_PASSWORD", "Vault-Door-7391!".to_owned()),
    ]
}

fn config_check(env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args([
        "--no-dotenv",
        "--config",
        "config.prod.yaml",
        "config",
        "check",
    ])
    .current_dir(ROOT)
    .env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn config_prod_yaml_passes_config_check_with_the_secrets_and_holds_none() {
    let out = config_check(&dummy_secrets());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("configuration OK (ENVIRONMENT=production, TENANCY_MODE=multi)"));

    // Without them, production validation names every missing secret.
    let out = config_check(&[]);
    assert_eq!(out.status.code(), Some(1));
    let all = text(&out);
    for var in [
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "FERNET_KDF_SALT",
        "JWT_PRIVATE_KEY",
        "JWT_PUBLIC_KEY",
    ] {
        assert!(
            all.contains(&format!("{var}: ")),
            "{var} not reported:\n{all}"
        );
    }

    let yaml = sole::config::read_env_vars_file(&Path::new(ROOT).join("config.prod.yaml")).unwrap();
    for (secret, _) in dummy_secrets() {
        assert!(
            yaml.get(secret).is_none(),
            "{secret} must come from Secret Manager"
        );
    }
    // The cookie path covers refresh and every token-issuing endpoint (DESIGN.md §4).
    let path = yaml.get("AUTH_COOKIE_PATH").unwrap();
    assert!(!path.is_empty());
    for endpoint in [
        "/api/v1/auth/refresh",
        "/api/v1/auth/refresh/csrf",
        "/api/v1/auth/select-org",
        "/api/v1/auth/mfa/verify",
        "/api/v1/auth/mfa/enroll/verify",
        "/api/v1/auth/mfa/setup/verify",
        "/api/v1/auth/change-password",
        "/api/v1/auth/impersonate/start",
        "/api/v1/auth/impersonate/stop",
    ] {
        let covered =
            endpoint == path || endpoint.starts_with(&format!("{}/", path.trim_end_matches('/')));
        assert!(covered, "cookie path {path} does not cover {endpoint}");
    }
    assert_eq!(yaml.get("ENVIRONMENT"), Some("production"));
}

#[test]
fn cloudbuild_tags_every_build_and_deploys_with_the_env_file_and_secrets() {
    let text = read("cloudbuild.yaml");
    let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
    let steps = doc["steps"].as_sequence().unwrap();
    let ids: Vec<&str> = steps.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["build", "push", "deploy"]);
    let image = doc["images"][0].as_str().unwrap();
    assert!(
        image.ends_with(":${BUILD_ID}"),
        "{image}: a manual submit has no SHORT_SHA"
    );
    let deploy: Vec<&str> = steps[2]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(deploy[..3], ["run", "deploy", "${_SERVICE}"]);
    for arg in [
        format!("--image={image}").as_str(),
        "--allow-unauthenticated",
        "--env-vars-file=${_ENV_VARS_FILE}",
        "--set-secrets=${_SECRETS}",
        "--quiet",
    ] {
        assert!(deploy.contains(&arg), "{arg} missing from the deploy step");
    }
    assert_eq!(
        doc["options"]["logging"].as_str(),
        Some("CLOUD_LOGGING_ONLY")
    );
}

fn database_url(db: &str) -> String {
    let admin = std::env::var("SOLE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// The binary the image's jobs and service run. By default the one this test run built: the
/// Dockerfile's `cargo build --release --locked` compiles the same sources with the same lock
/// file, and a second, optimised build of every dependency would double the time CI spends
/// compiling. `SOLE_TEST_RELEASE_BUILD=1` runs the Dockerfile's own command instead (a no-op
/// when target/release is current), for a check before a release.
fn binary_as_the_image_runs_it() -> PathBuf {
    if std::env::var_os("SOLE_TEST_RELEASE_BUILD").is_none_or(|v| v != "1") {
        return PathBuf::from(env!("CARGO_BIN_EXE_sole"));
    }
    let argv = dockerfile_cargo_command();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| argv[0].clone());
    let out = Command::new(cargo)
        .args(&argv[1..])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join("target"));
    let binary = target.join("release/sole");
    assert!(binary.is_file(), "{} missing", binary.display());
    binary
}

/// What the release build adds to the test build, checked without compiling twice: the lock
/// file satisfies `--locked` (Cloud Build fails otherwise), and the release profile keeps
/// unwinding, which the panic-catching middleware needs to answer 500 instead of dying.
#[test]
fn the_dockerfile_build_is_locked_and_keeps_panics_catchable() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--locked",
            "--offline",
            "--format-version",
            "1",
            "--no-deps",
        ])
        .current_dir(ROOT)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Cargo.lock does not satisfy --locked: {}",
        text(&out)
    );

    let manifest = read("Cargo.toml");
    let release = manifest
        .split("[profile.release]")
        .nth(1)
        .expect("Cargo.toml has a [profile.release] section");
    let release = release.split("\n[").next().unwrap();
    let panic = release
        .lines()
        .find_map(|l| l.trim().strip_prefix("panic"))
        .map(|rest| rest.trim_start_matches([' ', '=']).trim().trim_matches('"'));
    assert_ne!(panic, Some("abort"), "release must unwind on panic");
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(binary: &Path, env: &[(&str, String)], port: u16) -> Served {
    let mut cmd = Command::new(binary);
    cmd.args(["--no-dotenv", "serve"])
        .env_clear()
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
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
            Ok(line) if line.contains("sole is serving") => return Served(child),
            Ok(line) => seen.push(line),
            Err(_) => panic!("serve did not start:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn the_binary_migrates_seeds_and_serves_as_the_image_runs_it() {
    let binary = binary_as_the_image_runs_it();
    let db = format!("sole_test_container_{}", uuid::Uuid::new_v4().simple());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin_url = database_url("postgres");
    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{db}""#)))
            .await
            .unwrap();
    });
    let keys = sole::auth::jwt::JwtKeys::generate_ephemeral_pems().unwrap();
    let env: Vec<(&str, String)> = vec![
        ("DATABASE_URL", database_url(&db)),
        (
            "JWT_PRIVATE_KEY",
            keys.private_pem.expose_secret().to_owned(),
        ),
        ("JWT_PUBLIC_KEY", keys.public_pem),
        (
            "SECRET_KEY",
            "container-test-secret-key-0123456789abcdef".to_owned(),
        ),
        ("FERNET_KDF_SALT", "container-test-salt".to_owned()),
        ("SEED_ADMIN_EMAIL", "admin@example.com".to_owned()),
        ("SEED_ADMIN_PASSWORD", "Sturdy-Horse-42!".to_owned()),
    ];
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&binary);
        cmd.arg("--no-dotenv").args(args).env_clear();
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };

    // The jobs: `sole migrate` (then `sole seed` where this build has it).
    let migrate = run(&["migrate"]);
    let status = run(&["migrate", "status"]);
    let seed_available = run(&["seed", "--help"]).status.success();
    let seed = seed_available.then(|| run(&["seed"]));

    // The service, probed the way the image's HEALTHCHECK does.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let served = serve(&binary, &env, port);
    let health = Command::new(&binary)
        .arg("healthcheck")
        .env_clear()
        .env("PORT", port.to_string())
        .output()
        .unwrap();
    drop(served);

    runtime.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                r#"DROP DATABASE IF EXISTS "{db}" WITH (FORCE)"#
            )))
            .await
            .unwrap();
    });
    assert!(migrate.status.success(), "migrate: {}", text(&migrate));
    assert!(status.status.success(), "migrate status: {}", text(&status));
    assert!(
        !text(&status).to_lowercase().contains("pending:"),
        "{}",
        text(&status)
    );
    if let Some(seed) = seed {
        assert!(seed.status.success(), "seed: {}", text(&seed));
    }
    assert!(health.status.success(), "healthcheck: {}", text(&health));
}
