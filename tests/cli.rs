//! The CLI as users run it: `--help`, `--version`, `config check`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

fn sole(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sole")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_command_and_version_prints() {
    let out = sole(&["--help"], &[]);
    assert!(out.status.success());
    let (stdout, _) = text(&out);
    for cmd in ["serve", "migrate", "config", "lint-commits"] {
        assert!(stdout.contains(cmd), "{cmd} missing from --help:\n{stdout}");
    }
    let out = sole(&["--version"], &[]);
    assert_eq!(
        text(&out).0.trim(),
        format!("sole {}", env!("CARGO_PKG_VERSION"))
    );
    for sub in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["config", "check", "--help"],
        &["lint-commits", "--help"],
    ] {
        let out = sole(sub, &[]);
        assert!(out.status.success(), "{sub:?}");
    }
}

#[test]
fn help_never_shows_secret_values_from_the_environment() {
    let out = sole(
        &["migrate", "--help"],
        &[
            ("DATABASE_URL", "postgres://u:hunter2@db/x"),
            ("SECRET_KEY", "super-secret-value-123456"),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(!stdout.contains("hunter2") && !stderr.contains("hunter2"));
    assert!(!stdout.contains("super-secret-value"));
}

#[test]
fn config_check_passes_a_development_configuration() {
    let out = sole(&["--no-dotenv", "config", "check"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK"));
}

const GOOD_PROD: &[(&str, &str)] = &[
    ("ENVIRONMENT", "production"),
    ("DATABASE_URL", "postgres://app:pw@db.internal/sole"),
    ("REDIS_URL", "redis://cache.internal:6379/0"),
    ("SECRET_KEY", "0123456789abcdef0123456789abcdef0123456789"),
    ("FERNET_KDF_SALT", "a-long-random-salt-value"),
    (
        "JWT_PRIVATE_KEY",
        "-----BEGIN PRIVATE KEY-----\\nMII\\n-----END PRIVATE KEY-----",
    ),
    (
        "JWT_PUBLIC_KEY",
        "-----BEGIN PUBLIC KEY-----\\nMII\\n-----END PUBLIC KEY-----",
    ),
    ("ALLOWED_ORIGINS", "https://app.example.com"),
];

#[test]
fn config_check_accepts_a_complete_production_configuration() {
    let out = sole(&["--no-dotenv", "config", "check"], GOOD_PROD);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
}

#[test]
fn config_check_reports_every_production_problem_at_once_without_secrets() {
    let out = sole(
        &["--no-dotenv", "config", "check"],
        &[
            ("ENVIRONMENT", "prod"),
            ("SECRET_KEY", "changeme"),
            ("FERNET_KDF_SALT", "short"),
            ("SEED_ADMIN_PASSWORD", "Password123"),
            ("AUTH_COOKIE_SAMESITE", "none"),
            ("AUTH_COOKIE_SECURE", "false"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = text(&out);
    let all = format!("{stdout}{stderr}");
    for var in [
        "DATABASE_URL:",
        "REDIS_URL:",
        "SECRET_KEY: must be at least 32",
        "SECRET_KEY: is a known placeholder",
        "FERNET_KDF_SALT:",
        "JWT_PRIVATE_KEY:",
        "JWT_PUBLIC_KEY:",
        "SEED_ADMIN_PASSWORD:",
        "AUTH_COOKIE_SECURE:",
    ] {
        assert!(all.contains(var), "{var} not reported:\n{all}");
    }
    for secret in ["changeme\n", "Password123", "short\n"] {
        assert!(
            !all.contains(secret),
            "secret value {secret:?} printed:\n{all}"
        );
    }
}

#[test]
fn config_check_reports_parse_errors_by_variable() {
    let out = sole(
        &["--no-dotenv", "config", "check"],
        &[
            ("TENANCY_MODE", "both"),
            ("ALLOWED_ORIGINS", "*"),
            ("JWT_ALGORITHM", "HS256"),
            ("DB_POOL_SIZE", "x"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (_, stderr) = text(&out);
    for var in [
        "TENANCY_MODE:",
        "ALLOWED_ORIGINS:",
        "JWT_ALGORITHM:",
        "DB_POOL_SIZE:",
    ] {
        assert!(stderr.contains(var), "{var}:\n{stderr}");
    }
}

#[test]
fn config_check_reads_an_explicit_env_vars_file_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.prod.yaml");
    std::fs::write(
        &file,
        "ENVIRONMENT: production\nTENANCY_MODE: \"multi\"\nDB_POOL_SIZE: 7\nENABLE_HSTS: true\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    // Production from the file, but nothing else: every missing secret is reported.
    let out = sole(&["--no-dotenv", "--config", path, "config", "check"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("SECRET_KEY"));
    // The real environment overrides the file.
    let out = sole(
        &["--no-dotenv", "--config", path, "config", "check"],
        &[("ENVIRONMENT", "development")],
    );
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("TENANCY_MODE=multi"));
    // CONFIG_FILE works like --config.
    let out = sole(
        &["--no-dotenv", "config", "check"],
        &[("CONFIG_FILE", path)],
    );
    assert_eq!(out.status.code(), Some(1));
    // A missing file is a clear error.
    let out = sole(
        &[
            "--no-dotenv",
            "--config",
            "/nonexistent/x.yaml",
            "config",
            "check",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).1.contains("/nonexistent/x.yaml"));
}

#[test]
fn config_prod_yaml_in_the_working_directory_is_never_read_implicitly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.prod.yaml"),
        "ENVIRONMENT: production\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sole"))
        .args(["--no-dotenv", "config", "check"])
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    assert!(text(&out).0.contains("ENVIRONMENT=development"));
}

#[test]
fn dotenv_is_loaded_but_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "TENANCY_MODE=multi\nENVIRONMENT=staging\n",
    )
    .unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
        cmd.args(["config", "check"])
            .current_dir(dir.path())
            .env_clear();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[]);
    assert!(
        text(&out)
            .0
            .contains("ENVIRONMENT=staging, TENANCY_MODE=multi"),
        "{:?}",
        text(&out)
    );
    let out = run(&[("TENANCY_MODE", "single")]);
    assert!(
        text(&out).0.contains("TENANCY_MODE=single"),
        "{:?}",
        text(&out)
    );
}

#[test]
fn serve_refuses_an_invalid_production_configuration_before_connecting() {
    let out = sole(
        &["--no-dotenv", "serve", "--port", "0"],
        &[("ENVIRONMENT", "production")],
    );
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("SECRET_KEY") && stderr.contains("REDIS_URL"),
        "{stderr}"
    );
}
