//! `sole setup-env`: the pure answers → file rendering, the non-interactive mode end to end, and
//! the real interactive wizard driven through a pseudo-terminal.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};

use sole::commands::setup_env::render::{Answers, EnvFile, diff, render};

fn sole(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn dotenv(path: &Path) -> BTreeMap<String, String> {
    dotenvy::from_path_iter(path)
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// The modulus size of a PKCS#8 RSA private key, in bits.
fn rsa_bits(pem_text: &str) -> usize {
    let der = pem::parse(pem_text).unwrap();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der.contents()).unwrap();
    pair.public_modulus_len() * 8
}

#[test]
fn rendering_is_a_pure_function_of_the_old_file_and_the_answers() {
    let old = EnvFile::parse(
        "# my notes\nCUSTOM_FLAG=on\nLOG_LEVEL=debug\nJWT_PRIVATE_KEY=-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let mut answers = Answers::default();
    answers.set("Logs", "LOG_LEVEL", "INFO");
    answers.set("CORS", "ALLOWED_ORIGINS", r#"["http://localhost:5173"]"#);
    answers.set("Keys", "JWT_PRIVATE_KEY_PATH", "secrets/jwt_private.pem");
    answers.set("Keys", "FERNET_KDF_SALT", "salt with spaces & $dollar");
    answers.remove.insert("JWT_PRIVATE_KEY".into());
    let text = render(&old, &answers, "header").unwrap();
    assert_eq!(
        text,
        "# my notes\nCUSTOM_FLAG=on\nLOG_LEVEL=INFO\n\n# --- CORS ---\nALLOWED_ORIGINS='[\"http://localhost:5173\"]'\n\n# --- Keys ---\nJWT_PRIVATE_KEY_PATH=secrets/jwt_private.pem\nFERNET_KDF_SALT='salt with spaces & $dollar'\n"
    );
    // Same input, same output; and dotenvy reads back exactly the answers.
    assert_eq!(render(&old, &answers, "header").unwrap(), text);
    let parsed: BTreeMap<String, String> = dotenvy::from_read_iter(text.as_bytes())
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(parsed["FERNET_KDF_SALT"], "salt with spaces & $dollar");
    assert_eq!(parsed["CUSTOM_FLAG"], "on");
    assert!(!parsed.contains_key("JWT_PRIVATE_KEY"));
    let changed: Vec<String> = diff(&old, &EnvFile::parse(&text))
        .iter()
        .map(|c| format!("{c:?}"))
        .collect();
    assert_eq!(changed.len(), 5, "{changed:?}");

    // A new file starts with the header.
    let fresh = render(&EnvFile::default(), &answers, "Written by sole").unwrap();
    assert!(fresh.starts_with("# Written by sole\n"));
}

#[test]
fn non_interactive_dev_writes_a_valid_private_env_that_config_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = sole(
        dir.path(),
        &["setup-env", "--profile", "dev", "--non-interactive"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let env_path = dir.path().join(".env");
    assert_eq!(mode(&env_path), 0o600);
    let env = dotenv(&env_path);
    assert_eq!(env["ENVIRONMENT"], "development");
    assert_eq!(env["JWT_ALGORITHM"], "RS256");
    assert_eq!(env["JWT_PRIVATE_KEY_PATH"], "secrets/jwt_private.pem");
    assert_eq!(env["JWT_PUBLIC_KEY_PATH"], "secrets/jwt_public.pem");
    assert_eq!(env["SECRET_KEY"].len(), 64);
    assert!(env["SECRET_KEY"].chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(env["FERNET_KDF_SALT"].len(), 32);
    assert_eq!(env["ALLOWED_ORIGINS"], r#"["http://localhost:5173"]"#);
    assert_eq!(env["TENANCY_MODE"], "multi");
    assert_eq!(env["DEFAULT_ORG_ID"], "sole-llc");
    assert!(!env.contains_key("JWT_PRIVATE_KEY"));
    let private = dir.path().join("secrets/jwt_private.pem");
    let public = dir.path().join("secrets/jwt_public.pem");
    assert_eq!(mode(&private), 0o600);
    assert_eq!(mode(&public), 0o600);
    assert_eq!(mode(&dir.path().join("secrets")), 0o700);
    let private_pem = std::fs::read_to_string(&private).unwrap();
    assert!(!private_pem.contains('\r'), "PEM files use LF line endings");
    assert_eq!(rsa_bits(&private_pem), 3072);
    let public_pem = std::fs::read_to_string(&public).unwrap();
    assert!(sole::auth::jwt::JwtKeys::from_pems(&private_pem, &public_pem).is_ok());

    // The server reads the file as written.
    let check = sole(dir.path(), &["config", "check"], &[]);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("configuration OK (ENVIRONMENT=development, TENANCY_MODE=multi)")
    );
}

#[test]
fn rerunning_keeps_unknown_keys_and_secrets_and_backs_up_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let first = sole(
        dir.path(),
        &[
            "setup-env",
            "--profile",
            "dev",
            "--non-interactive",
            "--key-bits",
            "2048",
        ],
        &[],
    );
    assert!(first.status.success(), "{}", text(&first));
    let env_path = dir.path().join(".env");
    let mut original = std::fs::read_to_string(&env_path).unwrap();
    original.push_str("MY_OWN_SETTING='kept as is'\n");
    std::fs::write(&env_path, &original).unwrap();
    let before = dotenv(&env_path);
    let key_before = std::fs::read_to_string(dir.path().join("secrets/jwt_private.pem")).unwrap();

    // Nothing to change: nothing written, no backup.
    let same = sole(
        dir.path(),
        &["setup-env", "--profile", "dev", "--non-interactive"],
        &[],
    );
    assert!(same.status.success(), "{}", text(&same));
    assert!(text(&same).contains(".env is up to date"));
    assert_eq!(std::fs::read_to_string(&env_path).unwrap(), original);

    let out = sole(
        dir.path(),
        &[
            "setup-env",
            "--profile",
            "dev",
            "--non-interactive",
            "--set",
            "LOG_LEVEL=debug",
            "--set",
            "SEED_ADMIN_PASSWORD=Another-Secret-42",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("~ LOG_LEVEL: INFO -> DEBUG"), "{stdout}");
    assert!(stdout.contains("~ SEED_ADMIN_PASSWORD: changed (values hidden)"));
    assert!(!stdout.contains("Another-Secret-42") && !stdout.contains("ChangeMe123!"));
    let after = dotenv(&env_path);
    assert_eq!(after["LOG_LEVEL"], "DEBUG");
    assert_eq!(after["MY_OWN_SETTING"], "kept as is");
    assert_eq!(after["SECRET_KEY"], before["SECRET_KEY"]);
    assert_eq!(after["FERNET_KDF_SALT"], before["FERNET_KDF_SALT"]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secrets/jwt_private.pem")).unwrap(),
        key_before
    );
    let backups: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".env.bak-")
        })
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), original);
    assert_eq!(mode(&backups[0]), 0o600);
}

#[test]
fn non_interactive_prod_lists_every_missing_value_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = sole(
        dir.path(),
        &[
            "setup-env",
            "--profile",
            "prod",
            "--non-interactive",
            "--set",
            "ALLOWED_ORIGINS=ftp://nope",
            "--set",
            "SEED_ADMIN_PASSWORD=ChangeMe123!",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "DATABASE_URL: required",
        "DATABASE_URL_DIRECT: required",
        "REDIS_URL: required",
        "ALLOWED_ORIGINS (from --set): \"ftp://nope\" must use http or https",
        "SEED_ADMIN_EMAIL: required",
        "SEED_ADMIN_PASSWORD (from --set): this password is on the list production refuses",
    ] {
        assert!(stderr.contains(needle), "{needle} missing from:\n{stderr}");
    }
    assert!(
        stderr.contains("cannot write .env.prod: 6 problem(s)"),
        "{stderr}"
    );
    assert!(!dir.path().join(".env.prod").exists());
    assert!(!dir.path().join("secrets").exists());
}

const PROD_SETS: &[&str] = &[
    "--set",
    "DATABASE_URL=postgresql://app:pool-pw@pooler.db.internal/sole?sslmode=require",
    "--set",
    "DATABASE_URL_DIRECT=postgresql://app:direct-pw@db.internal/sole",
    "--set",
    "REDIS_URL=rediss://:redis-pw@cache.internal:6380/0",
    "--set",
    "ALLOWED_ORIGINS=https://app.example.com",
    "--set",
    "SEED_ADMIN_EMAIL=Owner@Example.com",
    "--set",
    "SEED_ADMIN_PASSWORD=Vault-Door-7391!",
];

#[test]
fn non_interactive_prod_writes_env_prod_and_prints_secret_manager_commands_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![
        "setup-env",
        "--profile",
        "prod",
        "--non-interactive",
        "--key-bits",
        "2048",
    ];
    args.extend_from_slice(PROD_SETS);
    let out = sole(dir.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let path = dir.path().join(".env.prod");
    assert_eq!(mode(&path), 0o600);
    let env = dotenv(&path);
    assert_eq!(env["ENVIRONMENT"], "production");
    assert_eq!(env["SEED_ADMIN_EMAIL"], "owner@example.com");
    assert_eq!(
        env["DATABASE_URL"],
        "postgresql://app:pool-pw@pooler.db.internal/sole?sslmode=require"
    );
    assert!(env.contains_key("FERNET_KDF_SALT"));

    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in [
        "DATABASE_URL",
        "DATABASE_URL_DIRECT",
        "REDIS_URL",
        "SECRET_KEY",
        "JWT_PRIVATE_KEY",
        "JWT_PUBLIC_KEY",
        "SEED_ADMIN_PASSWORD",
        "SEED_ADMIN_EMAIL",
        "FERNET_KDF_SALT",
    ] {
        assert!(
            stdout.contains(&format!("gcloud secrets create {name} ")),
            "{name}:\n{stdout}"
        );
        assert!(
            stdout.contains(&format!("gcloud secrets versions add {name} ")),
            "{name}"
        );
    }
    assert!(stdout.contains("--data-file=secrets/jwt_private.pem"));
    for secret in [
        "pool-pw",
        "direct-pw",
        "redis-pw",
        "Vault-Door-7391!",
        &env["SECRET_KEY"],
        &env["FERNET_KDF_SALT"],
    ] {
        assert!(!stdout.contains(secret), "a secret value was printed");
    }

    // The file is a complete production configuration, and a shell can source it.
    let mut check_env: Vec<(String, String)> = env.into_iter().collect();
    check_env.retain(|(k, _)| k != "PATH");
    let pairs: Vec<(&str, &str)> = check_env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let check = sole(dir.path(), &["--no-dotenv", "config", "check"], &pairs);
    assert!(check.status.success(), "{}", text(&check));
    let sourced = Command::new("sh")
        .arg("-c")
        .arg("set -a; . ./.env.prod; set +a; printf '%s' \"$DATABASE_URL\"")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&sourced.stdout),
        "postgresql://app:pool-pw@pooler.db.internal/sole?sslmode=require"
    );
}

#[test]
fn legacy_inline_pem_keys_move_into_key_files() {
    let dir = tempfile::tempdir().unwrap();
    let pair = sole::auth::jwt::JwtKeys::generate_ephemeral_pems().unwrap();
    use secrecy::ExposeSecret as _;
    let legacy = format!(
        "JWT_ALGORITHM=RS256\nJWT_PRIVATE_KEY={}\nJWT_PUBLIC_KEY={}\n",
        pair.private_pem.expose_secret().trim_end(),
        pair.public_pem.trim_end()
    );
    std::fs::write(dir.path().join(".env.prod"), &legacy).unwrap();
    let mut args = vec!["setup-env", "--profile", "prod", "--non-interactive"];
    args.extend_from_slice(PROD_SETS);
    let out = sole(dir.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("moving the inline JWT keys"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("secrets/jwt_private.pem"))
            .unwrap()
            .trim_end(),
        pair.private_pem
            .expose_secret()
            .replace("\r\n", "\n")
            .trim_end()
    );
    let env = dotenv(&dir.path().join(".env.prod"));
    assert!(!env.contains_key("JWT_PRIVATE_KEY") && !env.contains_key("JWT_PUBLIC_KEY"));
    assert_eq!(env["JWT_PRIVATE_KEY_PATH"], "secrets/jwt_private.pem");
}

#[test]
fn without_a_terminal_the_wizard_explains_the_non_interactive_mode() {
    let dir = tempfile::tempdir().unwrap();
    let out = sole(dir.path(), &["setup-env"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--profile dev|prod --non-interactive"));
    let out = sole(dir.path(), &["setup-env", "--non-interactive"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("--non-interactive needs --profile"));
}

#[test]
fn the_interactive_wizard_runs_end_to_end_in_a_pseudo_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args(["setup-env", "--key-bits", "2048"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    let mut p = rexpect::session::spawn_with_options(cmd, options).unwrap();

    let enter = |p: &mut rexpect::session::PtySession| {
        p.send("\r").unwrap();
        p.flush().unwrap();
    };
    let answer = |p: &mut rexpect::session::PtySession, text: &str| {
        p.send(text).unwrap();
        p.send("\r").unwrap();
        p.flush().unwrap();
    };

    p.exp_string("Choose environment").unwrap();
    enter(&mut p); // Development
    p.exp_string("ENVIRONMENT").unwrap();
    enter(&mut p); // development
    p.exp_string("[DATABASE_URL]").unwrap();
    answer(&mut p, "postgres://me@127.0.0.1:5432/mine");
    p.exp_string("[REDIS_URL]").unwrap();
    enter(&mut p);
    p.exp_string("[ALLOWED_ORIGINS]").unwrap();
    answer(&mut p, "ftp://bad.example");
    // Refused with the reason, then asked again.
    p.exp_string("must use http or https").unwrap();
    answer(&mut p, "http://localhost:5173, https://app.example.com/");
    p.exp_string("[ENABLE_HSTS]").unwrap();
    answer(&mut p, "no");
    p.exp_string("[LOG_LEVEL]").unwrap();
    answer(&mut p, "debug");
    p.exp_string("[TENANCY_MODE]").unwrap();
    answer(&mut p, "single");
    p.exp_string("[DEFAULT_ORG_ID]").unwrap();
    answer(&mut p, "acme");
    p.exp_string("[DEFAULT_ORG_NAME]").unwrap();
    answer(&mut p, "Acme Inc");
    p.exp_string("[DEFAULT_ORG_SLUG]").unwrap();
    answer(&mut p, "acme");
    for key in [
        "SESSION_TIMEOUT_MINUTES",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "REFRESH_TOKEN_EXPIRE_MINUTES",
        "DEFAULT_PASSWORD_MIN_LENGTH",
        "RATE_LIMIT_PER_MINUTE",
        "LOGIN_ATTEMPT_LIMIT",
    ] {
        p.exp_string(&format!("[{key}]")).unwrap();
        enter(&mut p);
    }
    p.exp_string("[LOGIN_LOCKOUT_MINUTES]").unwrap();
    answer(&mut p, "0");
    p.exp_string("a whole number from 1 to").unwrap();
    answer(&mut p, "30");
    p.exp_string("[SEED_ADMIN_EMAIL]").unwrap();
    enter(&mut p);
    p.exp_string("[SEED_ADMIN_PASSWORD]").unwrap();
    answer(&mut p, "weak");
    p.exp_string("Password too short; minimum 12 characters")
        .unwrap();
    answer(&mut p, "Sturdy-Horse-42!");
    p.exp_string("Repeat it").unwrap();
    answer(&mut p, "Sturdy-Horse-42!");
    p.exp_string("[SEED_ADMIN_FULL_NAME]").unwrap();
    enter(&mut p);
    p.exp_string("Change proxy trust settings").unwrap();
    p.send("n").unwrap(); // a y/n confirmation takes the key alone
    p.flush().unwrap();
    p.exp_string("wrote .env (mode 0600)").unwrap();
    p.exp_eof().unwrap();

    let env = dotenv(&dir.path().join(".env"));
    assert_eq!(env["DATABASE_URL"], "postgres://me@127.0.0.1:5432/mine");
    assert_eq!(env["REDIS_URL"], "redis://localhost:6379/0");
    assert_eq!(
        env["ALLOWED_ORIGINS"],
        r#"["http://localhost:5173","https://app.example.com"]"#
    );
    assert_eq!(env["ENABLE_HSTS"], "false");
    assert_eq!(env["LOG_LEVEL"], "DEBUG");
    assert_eq!(env["TENANCY_MODE"], "single");
    assert_eq!(env["DEFAULT_ORG_ID"], "acme");
    assert_eq!(env["DEFAULT_ORG_NAME"], "Acme Inc");
    assert_eq!(env["LOGIN_LOCKOUT_MINUTES"], "30");
    assert_eq!(env["SEED_ADMIN_PASSWORD"], "Sturdy-Horse-42!");
    assert_eq!(env["ENVIRONMENT"], "development");
    assert_eq!(env["FERNET_KDF_SALT"].len(), 32);
    assert_eq!(mode(&dir.path().join(".env")), 0o600);
    assert_eq!(mode(&dir.path().join("secrets/jwt_private.pem")), 0o600);
}

#[test]
fn the_wizard_shows_changed_keys_and_writes_nothing_when_declined() {
    let dir = tempfile::tempdir().unwrap();
    let first = sole(
        dir.path(),
        &[
            "setup-env",
            "--profile",
            "dev",
            "--non-interactive",
            "--key-bits",
            "2048",
        ],
        &[],
    );
    assert!(first.status.success(), "{}", text(&first));
    let before = std::fs::read_to_string(dir.path().join(".env")).unwrap();

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.args(["setup-env", "--profile", "dev"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm");
    let options = rexpect::reader::Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    let mut p = rexpect::session::spawn_with_options(cmd, options).unwrap();
    let reply = |p: &mut rexpect::session::PtySession, prompt: &str, answer: &str| {
        p.exp_string(prompt).unwrap();
        p.send(answer).unwrap();
        p.send("\r").unwrap();
        p.flush().unwrap();
    };
    // A y/n confirmation takes the key alone (Enter would answer the next question).
    let key = |p: &mut rexpect::session::PtySession, prompt: &str, k: &str| {
        p.exp_string(prompt).unwrap();
        p.send(k).unwrap();
        p.flush().unwrap();
    };
    reply(&mut p, "ENVIRONMENT", "");
    for key in [
        "DATABASE_URL",
        "REDIS_URL",
        "ALLOWED_ORIGINS",
        "ENABLE_HSTS",
    ] {
        reply(&mut p, &format!("[{key}]"), "");
    }
    reply(&mut p, "[LOG_LEVEL]", "warning");
    reply(&mut p, "[TENANCY_MODE]", "");
    for key in [
        "SESSION_TIMEOUT_MINUTES",
        "ACCESS_TOKEN_EXPIRE_MINUTES",
        "REFRESH_TOKEN_EXPIRE_MINUTES",
        "DEFAULT_PASSWORD_MIN_LENGTH",
        "RATE_LIMIT_PER_MINUTE",
        "LOGIN_ATTEMPT_LIMIT",
        "LOGIN_LOCKOUT_MINUTES",
        "SEED_ADMIN_EMAIL",
        "SEED_ADMIN_PASSWORD",
        "SEED_ADMIN_FULL_NAME",
    ] {
        reply(&mut p, &format!("[{key}]"), "");
    }
    key(&mut p, "Change proxy trust settings", "n");
    reply(&mut p, "Keep the current SECRET_KEY?", "");
    reply(&mut p, "Keep the current FERNET_KDF_SALT?", "");
    reply(&mut p, "Keep the key pair in secrets/jwt_private.pem", "");
    p.exp_string("~ LOG_LEVEL: INFO -> WARNING").unwrap();
    key(&mut p, "Write these changes to .env?", "n");
    p.exp_string("nothing written").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join(".env")).unwrap(),
        before
    );
}

/// Item by item as a newcomer: `setup-env --profile dev` writes the database `sole serve --dev`
/// would pick, and its closing advice (`migrate && seed && serve`) works as printed, including
/// creating a database that does not exist yet.
#[test]
fn the_dev_profile_agrees_with_serve_dev_and_its_closing_advice_works_as_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = sole(
        dir.path(),
        &["setup-env", "--profile", "dev", "--non-interactive"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let all = text(&out);
    let env = dotenv(&dir.path().join(".env"));
    // The test machine's PostgreSQL answers on localhost:5432: the file names a login that works.
    assert!(
        all.contains("found a local PostgreSQL: DATABASE_URL="),
        "{all}"
    );
    assert!(
        env["DATABASE_URL"].ends_with("@localhost:5432/sole")
            || env["DATABASE_URL"] == "postgres://localhost:5432/sole",
        "{}",
        env["DATABASE_URL"]
    );
    // `sole` is not on this PATH: the advice uses the `cargo run --` form.
    assert!(
        all.contains("next: cargo run -- migrate && cargo run -- seed && cargo run -- serve"),
        "{all}"
    );

    // The same advice, on a database of its own that does not exist yet.
    let name = format!("sole_test_advice_{}", std::process::id());
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_sole"), bin.join("sole")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = sole(
        dir.path(),
        &[
            "setup-env",
            "--profile",
            "dev",
            "--non-interactive",
            "--set",
            &format!("DATABASE_URL={url}"),
        ],
        &[("PATH", &path)],
    );
    assert!(out.status.success(), "{}", text(&out));
    let advice = text(&out);
    let line = advice
        .lines()
        .find(|l| l.starts_with("next: "))
        .unwrap()
        .to_owned();
    assert!(
        line.starts_with("next: sole migrate && sole seed && sole serve"),
        "{line}"
    );

    let migrate = sole(dir.path(), &["migrate"], &[("PATH", &path)]);
    assert!(migrate.status.success(), "{}", text(&migrate));
    assert!(
        text(&migrate).contains(&format!("created database {name}")),
        "{}",
        text(&migrate)
    );
    let seed = sole(dir.path(), &["seed"], &[("PATH", &path)]);
    assert!(seed.status.success(), "{}", text(&seed));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(env!("CARGO_BIN_EXE_sole"))
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut healthy = false;
    while std::time::Instant::now() < deadline {
        let probe = sole(
            dir.path(),
            &[
                "healthcheck",
                "--url",
                &format!("http://127.0.0.1:{port}/api/v1/health/live"),
            ],
            &[],
        );
        if probe.status.success() {
            healthy = true;
            break;
        }
        if server.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = server.kill();
    let _ = server.wait();
    assert!(healthy, "sole serve did not come up with the written .env");
}
