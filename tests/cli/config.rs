//! The CLI as users run it: `--help`, `--version`, `config check`.

use crate::support::vector_keys;
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

/// The legacy vectors' RS256 pair: a valid, matching key pair.
/// Everything `serve` needs in development: a PostgreSQL URL, SECRET_KEY and a key pair.
fn dev_complete() -> Vec<(&'static str, String)> {
    let (private, public) = vector_keys();
    vec![
        (
            "DATABASE_URL",
            "postgres://postgres@127.0.0.1:5432/sole".to_owned(),
        ),
        ("SECRET_KEY", "dev-secret-key-0123456789abcdef".to_owned()),
        ("JWT_PRIVATE_KEY", private),
        ("JWT_PUBLIC_KEY", public),
    ]
}

fn pairs<'a>(owned: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    owned.iter().map(|(k, v)| (*k, v.as_str())).collect()
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
    let env = dev_complete();
    let out = sole(&["--no-dotenv", "config", "check"], &pairs(&env));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("configuration OK"));
}

fn good_prod() -> Vec<(&'static str, String)> {
    let (private, public) = vector_keys();
    [
        ("ENVIRONMENT", "production"),
        ("DATABASE_URL", "postgres://app:pw@db.internal/sole"),
        ("REDIS_URL", "redis://cache.internal:6379/0"),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef0123456789"),
        ("FERNET_KDF_SALT", "a-long-random-salt-value"),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .chain([("JWT_PRIVATE_KEY", private), ("JWT_PUBLIC_KEY", public)])
    .collect()
}

#[test]
fn config_check_accepts_a_complete_production_configuration() {
    let env = good_prod();
    let out = sole(&["--no-dotenv", "config", "check"], &pairs(&env));
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
}

/// Item by item what `serve` refuses, `config check` reports, all in one run.
#[test]
fn config_check_refuses_what_serve_refuses_all_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (private, _) = vector_keys();
    // A key pair that does not match: the vectors' private key and a fresh public key.
    let other_public = {
        let pair = sole::auth::jwt::JwtKeys::generate_ephemeral_pems().unwrap();
        pair.public_pem
    };
    let private_path = dir.path().join("private.pem");
    let public_path = dir.path().join("public.pem");
    std::fs::write(&private_path, &private).unwrap();
    std::fs::write(&public_path, &other_public).unwrap();
    let run = |extra: &[(&str, &str)]| {
        let mut env = vec![("SECRET_KEY", "dev-secret-key-0123456789abcdef")];
        env.extend_from_slice(extra);
        let out = sole(&["--no-dotenv", "config", "check"], &env);
        let (stdout, stderr) = text(&out);
        (out.status.code(), format!("{stdout}{stderr}"))
    };

    // Mismatched pair, non-PostgreSQL URL.
    let (code, all) = run(&[
        ("DATABASE_URL", "mysql://u:pw@db/app"),
        ("JWT_PRIVATE_KEY_PATH", private_path.to_str().unwrap()),
        ("JWT_PUBLIC_KEY_PATH", public_path.to_str().unwrap()),
    ]);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("configuration has 2 problem(s)"), "{all}");
    assert!(
        all.contains("DATABASE_URL: unsupported scheme \"mysql\""),
        "{all}"
    );
    assert!(
        all.contains("JWT_PUBLIC_KEY: does not belong to JWT_PRIVATE_KEY"),
        "{all}"
    );
    assert!(!all.contains("pw@"), "{all}");

    // Missing and garbage key files, each named, in plain words.
    std::fs::write(
        &public_path,
        "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    let (code, all) = run(&[
        ("DATABASE_URL", "postgres://localhost/sole"),
        ("JWT_PRIVATE_KEY_PATH", "/nonexistent/jwt_private.pem"),
        ("JWT_PUBLIC_KEY_PATH", public_path.to_str().unwrap()),
    ]);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("JWT_PRIVATE_KEY: cannot read the key file /nonexistent/jwt_private.pem (JWT_PRIVATE_KEY_PATH): no such file"),
        "{all}"
    );
    assert!(
        !all.contains("os error") && !all.contains("entity not found"),
        "{all}"
    );

    let (code, all) = run(&[
        ("DATABASE_URL", "postgres://localhost/sole"),
        ("JWT_PRIVATE_KEY_PATH", private_path.to_str().unwrap()),
        ("JWT_PUBLIC_KEY_PATH", public_path.to_str().unwrap()),
    ]);
    assert_eq!(code, Some(1), "{all}");
    assert!(
        all.contains("JWT_PUBLIC_KEY: not a valid RSA public key in PEM format"),
        "{all}"
    );
}

#[test]
fn config_check_flags_unknown_keys_and_port_in_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cloudrun.yaml");
    std::fs::write(&file, "DATABSE_URL: postgres://localhost/x\nPORT: 8080\n").unwrap();
    let env = dev_complete();
    let out = sole(
        &[
            "--no-dotenv",
            "--config",
            file.to_str().unwrap(),
            "config",
            "check",
        ],
        &pairs(&env),
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.contains("warning: DATABSE_URL (in ") && stderr.contains("a typo of DATABASE_URL?"),
        "{stderr}"
    );
    assert!(stderr.contains("warning: PORT (in "), "{stderr}");
    assert!(stderr.contains("Cloud Run sets PORT itself"), "{stderr}");
}

#[test]
fn a_config_file_that_does_not_exist_is_refused_and_the_message_says_why() {
    let out = sole(
        &["--no-dotenv", "config", "check"],
        &[("CONFIG_FILE", "/nonexistent/sole.yaml")],
    );
    assert_eq!(out.status.code(), Some(1));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("/nonexistent/sole.yaml: no such file (named by CONFIG_FILE; sole refuses a missing configuration file, where the legacy service silently ignored it)"),
        "{stderr}"
    );
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
    let dev = dev_complete();
    let mut env = pairs(&dev);
    env.push(("ENVIRONMENT", "development"));
    let out = sole(&["--no-dotenv", "--config", path, "config", "check"], &env);
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
    assert!(
        text(&out).0.contains("checked ENVIRONMENT=development"),
        "{:?}",
        text(&out)
    );
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

#[test]
fn plain_serve_in_development_lists_every_missing_setting_and_suggests_dev() {
    let out = sole(&["--no-dotenv", "serve", "--port", "0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    for var in [
        "DATABASE_URL: is required",
        "SECRET_KEY: is required",
        "JWT_PRIVATE_KEY: is required",
        "JWT_PUBLIC_KEY: is required",
    ] {
        assert!(stderr.contains(var), "{var}:\n{stderr}");
    }
    assert!(stderr.contains("(4 problem(s))"), "{stderr}");
    assert!(stderr.contains("`sole serve --dev`"), "{stderr}");
}

#[test]
fn migrate_without_a_database_url_says_it_is_required() {
    let out = sole(&["--no-dotenv", "migrate"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let (_, stderr) = text(&out);
    assert!(stderr.contains("DATABASE_URL is required"), "{stderr}");
    assert!(!stderr.contains("not a valid PostgreSQL URL"), "{stderr}");
    assert!(stderr.contains("sole setup-env --profile dev"), "{stderr}");
}

#[test]
fn connection_errors_name_host_port_user_database_and_origin_never_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // A role that does not exist, from .env.
    std::fs::write(
        dir.path().join(".env"),
        "DATABASE_URL=postgres://nobody_here:hunter2@127.0.0.1:5432/sole_nowhere\nDB_SSL=false\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sole"))
        .args(["migrate"])
        .current_dir(dir.path())
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains(
            "host 127.0.0.1, port 5432, user nobody_here, database sole_nowhere; DATABASE_URL from .env"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nobody_here"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");

    // Nothing listens: the same description, from the environment this time.
    let out = sole(
        &["--no-dotenv", "migrate"],
        &[("DATABASE_URL", "postgres://me:pw@127.0.0.1:1/app")],
    );
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains(
            "host 127.0.0.1, port 1, user me, database app; DATABASE_URL from the environment"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
}

#[test]
fn help_shows_settings_flags_only_where_they_mean_something_and_no_empty_env_values() {
    for sub in [
        &["setup-env", "--help"][..],
        &["release", "--help"],
        &["healthcheck", "--help"],
    ] {
        let (stdout, _) = text(&sole(sub, &[]));
        assert!(!stdout.contains("--config"), "{sub:?}:\n{stdout}");
        assert!(!stdout.contains("--no-dotenv"), "{sub:?}:\n{stdout}");
    }
    for sub in [
        &["serve", "--help"][..],
        &["migrate", "--help"],
        &["config", "check", "--help"],
    ] {
        let (stdout, _) = text(&sole(sub, &[]));
        assert!(stdout.contains("--config"), "{sub:?}:\n{stdout}");
        assert!(!stdout.contains("=]"), "{sub:?}:\n{stdout}");
    }
    let (stdout, _) = text(&sole(&["serve", "--help"], &[("PORT", "9999")]));
    assert!(stdout.contains("[env: PORT]"), "{stdout}");
    assert!(!stdout.contains("9999"), "{stdout}");
    // Both positions work.
    let env = dev_complete();
    for args in [
        &["--no-dotenv", "config", "check"][..],
        &["config", "check", "--no-dotenv"],
    ] {
        let out = sole(args, &pairs(&env));
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    }
}
