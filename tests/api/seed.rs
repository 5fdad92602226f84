//! `sole seed` and `sole serve --dev` as people run them: the built binary, real databases.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::PgConnection;

use crate::helpers::{connect, empty_database, fresh_database, url_for};

const PASSWORD: &str = "Seed#Admin42pass";
const ADMIN: &str = "admin@example.com";

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds")
}

/// The binary with a clean environment (no developer DATABASE_URL, CONFIG_FILE or `.env`).
fn sole(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sole"));
    cmd.arg("--no-dotenv")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied());
    cmd
}

fn seed_env(db: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", url_for(db)),
        ("SEED_ADMIN_EMAIL", ADMIN.into()),
        ("SEED_ADMIN_PASSWORD", PASSWORD.into()),
        ("ENVIRONMENT", "development".into()),
        ("ARGON2_MEMORY_KIB", "8".into()),
        ("ARGON2_ITERATIONS", "1".into()),
        ("ARGON2_PARALLELISM", "1".into()),
        ("SOLE_SEEDS_DIR", seeds_dir().display().to_string()),
    ]
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Self {
        assert_eq!(
            self.code,
            Some(0),
            "sole failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

fn seed(db: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    let env = seed_env(db);
    for (k, v) in &env {
        if !extra_env.iter().any(|(key, _)| key == k) {
            pairs.push((k, v.as_str()));
        }
    }
    pairs.extend_from_slice(extra_env);
    let mut all = vec!["seed"];
    all.extend_from_slice(args);
    sole(&all, &pairs).output().expect("run sole").into()
}

async fn count(conn: &mut PgConnection, sql: &str, org: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(org)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Rows per table of one org.
async fn org_rows(conn: &mut PgConnection, org: &str) -> Vec<(&'static str, i64)> {
    let mut out = Vec::new();
    for table in [
        "orgs",
        "org_settings",
        "roles",
        "departments",
        "users",
        "org_memberships",
        "org_user_profiles",
        "user_roles",
    ] {
        let column = if table == "orgs" { "id" } else { "org_id" };
        let n = count(
            conn,
            &format!("SELECT count(*) FROM {table} WHERE {column} = $1"),
            org,
        )
        .await;
        out.push((table, n));
    }
    out
}

fn expected_rows(demo: bool) -> Vec<(&'static str, i64)> {
    let (departments, people, assignments) = if demo { (7, 13, 19) } else { (0, 1, 2) };
    vec![
        ("orgs", 1),
        ("org_settings", 1),
        ("roles", 5),
        ("departments", departments),
        ("users", people),
        ("org_memberships", people),
        ("org_user_profiles", people),
        ("user_roles", assignments),
    ]
}

async fn partitions(conn: &mut PgConnection, org: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE pg_get_expr(c.relpartbound, c.oid) LIKE '%''' || $1 || '''%' ORDER BY 1",
    )
    .bind(org)
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Every seeded id and timestamp, to prove a re-run touches nothing.
async fn snapshot(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT t FROM ( \
           SELECT 'o ' || id || ' ' || name || ' ' || updated_at::text AS t FROM orgs \
           UNION ALL SELECT 'i ' || id || ' ' || email || ' ' || updated_at::text || hashed_password FROM identities \
           UNION ALL SELECT 'u ' || id || ' ' || is_superuser || ' ' || updated_at::text FROM users \
           UNION ALL SELECT 'm ' || id || ' ' || employee_id || ' ' || updated_at::text FROM org_memberships \
           UNION ALL SELECT 'p ' || id || ' ' || full_name || ' ' || updated_at::text FROM org_user_profiles \
           UNION ALL SELECT 'r ' || id || ' ' || permissions::text || ' ' || updated_at::text FROM roles \
           UNION ALL SELECT 'd ' || id || ' ' || name || ' ' || updated_at::text FROM departments \
           UNION ALL SELECT 'ur ' || id FROM user_roles) s ORDER BY t",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// org, superuser, must_change_password, employee id, employment, platform/invitation, name, roles.
type AdminRow = (String, bool, bool, String, String, String, String, String);

#[tokio::test]
async fn seed_on_an_empty_migrated_database_creates_exactly_the_seed_rows() {
    let db = fresh_database().await;
    let run = seed(&db, &["--extra-orgs", "acme-west"], &[]).ok();
    assert!(
        run.stdout
            .contains("org default: 103 created, 0 updated, 0 unchanged"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("org acme-west: 102 created"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("hr-acme-west@example.com"));
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));

    let mut conn = connect(&db).await;
    for org in ["default", "acme-west"] {
        assert_eq!(org_rows(&mut conn, org).await, expected_rows(true), "{org}");
    }
    assert_eq!(
        partitions(&mut conn, "acme-west").await,
        ["audit_logs_acme_west", "journal_entries_acme_west"]
    );
    // One admin identity for both orgs, plus 12 demo identities per org.
    let identities: i64 = sqlx::query_scalar("SELECT count(*) FROM identities")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(identities, 25);
    let names: Vec<(String, String)> =
        sqlx::query_as("SELECT id, name FROM orgs ORDER BY created_at, id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(names.contains(&("acme-west".into(), "Acme West Organization".into())));

    // The admin: must change the password, superuser only in the default org, dedicated rows.
    let admin: Vec<AdminRow> = sqlx::query_as(
        "SELECT u.org_id, u.is_superuser, i.must_change_password, m.employee_id, m.employment_status, \
         m.platform_status || '/' || m.invitation_status, p.full_name, \
         (SELECT string_agg(r.name, ',' ORDER BY r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id) \
         FROM users u JOIN identities i ON i.id = u.identity_id \
         JOIN org_memberships m ON m.user_id = u.id JOIN org_user_profiles p ON p.membership_id = m.id \
         WHERE i.email = $1 ORDER BY u.org_id",
    )
    .bind(ADMIN)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(admin.len(), 2);
    assert_eq!(
        admin[0],
        (
            "acme-west".into(),
            false,
            true,
            "acme-west-admin".into(),
            "ACTIVE".into(),
            "ACTIVE/ACCEPTED".into(),
            "Admin User".into(),
            "EMPLOYEE,ORG ADMIN".into()
        )
    );
    assert_eq!(admin[1].0, "default");
    assert!(admin[1].1, "superuser in the default org");

    // A roster member with the full profile of contract §8.
    let harper: (String, String, String, String, String, String, String) = sqlx::query_as(
        "SELECT m.employee_id, d.code, p.full_name, p.phone_number, p.timezone, p.country || '-' || p.state, \
         (SELECT string_agg(r.name, ',' ORDER BY r.name) FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id) \
         FROM users u JOIN org_memberships m ON m.user_id = u.id JOIN departments d ON d.id = m.department_id \
         JOIN org_user_profiles p ON p.membership_id = m.id WHERE u.email = 'harper.reed@default.example.com'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        harper,
        (
            "default-HR-001".into(),
            "HR".into(),
            "Harper Reed".into(),
            "+1-555-101-0001".into(),
            "America/New_York".into(),
            "US-NY".into(),
            "EMPLOYEE,Human Resource".into()
        )
    );
}

#[tokio::test]
async fn a_second_run_changes_nothing_and_says_so() {
    let db = fresh_database().await;
    seed(&db, &[], &[]).ok();
    let mut conn = connect(&db).await;
    let before = snapshot(&mut conn).await;
    let run = seed(&db, &[], &[]).ok();
    assert!(
        run.stdout
            .contains("org default: 0 created, 0 updated, 103 unchanged"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
    assert_eq!(snapshot(&mut conn).await, before);
}

#[tokio::test]
async fn a_changed_seed_file_updates_what_changed_and_the_updates_persist() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(seeds_dir()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
    }
    let dir_str = dir.path().display().to_string();
    let with_dir = [("SOLE_SEEDS_DIR", dir_str.as_str())];
    seed(&db, &[], &with_dir).ok();

    let users = dir.path().join("demo_users.yaml");
    let text = std::fs::read_to_string(&users).unwrap();
    let text = text.replacen(
        "first_name: Harper, last_name: Reed, timezone: America/New_York",
        "first_name: Harper, last_name: Reed, timezone: Europe/London",
        1,
    );
    std::fs::write(&users, text).unwrap();
    let depts = dir.path().join("departments.yaml");
    let text = std::fs::read_to_string(&depts)
        .unwrap()
        .replace("name: Engineering }", "name: Platform Engineering }");
    std::fs::write(&depts, text).unwrap();
    std::fs::write(
        dir.path().join("orgs.yaml"),
        "orgs:\n  - { id: Globex, name: Globex Corp }\n",
    )
    .unwrap();
    // A stale system role, as after a permission-catalogue change.
    let mut conn = connect(&db).await;
    sqlx::query("UPDATE roles SET permissions = '[]', description = 'old' WHERE name = 'LEGAL'")
        .execute(&mut conn)
        .await
        .unwrap();

    let run = seed(&db, &[], &with_dir).ok();
    for line in [
        "updated role LEGAL: permissions/description",
        "updated department ENG: name",
        "updated profile harper.reed@default.example.com: timezone",
        "org globex: 102 created",
    ] {
        assert!(
            run.stdout.contains(line),
            "missing {line:?} in\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout
            .contains("org default: 0 created, 3 updated, 100 unchanged"),
        "{}",
        run.stdout
    );

    let tz: String = sqlx::query_scalar(
        "SELECT p.timezone FROM org_user_profiles p JOIN org_memberships m ON m.id = p.membership_id \
         WHERE m.employee_id = 'default-HR-001'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tz, "Europe/London");
    let dept: String = sqlx::query_scalar(
        "SELECT name FROM departments WHERE org_id = 'default' AND code = 'ENG'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(dept, "Platform Engineering");
    let legal: serde_json::Value = sqlx::query_scalar(
        "SELECT permissions FROM roles WHERE org_id = 'default' AND name = 'LEGAL'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        legal,
        serde_json::json!(sole::domain::permissions::SystemRole::Legal.permissions())
    );
    assert_eq!(org_rows(&mut conn, "globex").await, expected_rows(true));
    let globex: String = sqlx::query_scalar("SELECT name FROM orgs WHERE id = 'globex'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(globex, "Globex Corp");

    // Converged: the next run has nothing left to do.
    let run = seed(&db, &[], &with_dir).ok();
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
}

#[tokio::test]
async fn production_seeds_no_demo_data_and_refuses_weak_passwords() {
    let db = fresh_database().await;
    let weak = "ChangeMe123!";
    let run = seed(
        &db,
        &[],
        &[("ENVIRONMENT", "production"), ("SEED_ADMIN_PASSWORD", weak)],
    );
    assert_eq!(run.code, Some(2), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("SEED_ADMIN_PASSWORD is a known weak value"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(weak) && !run.stdout.contains(weak));
    let mut conn = connect(&db).await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM orgs WHERE $1 = $1", "x").await,
        0
    );

    let run = seed(&db, &[], &[("ENVIRONMENT", "production")]).ok();
    assert!(!run.stdout.contains(PASSWORD));
    assert!(!run.stdout.contains("logins"), "{}", run.stdout);
    assert_eq!(org_rows(&mut conn, "default").await, expected_rows(false));
    let demo: i64 = sqlx::query_scalar("SELECT count(*) FROM identities WHERE email <> $1")
        .bind(ADMIN)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(demo, 0);
}

#[tokio::test]
async fn extra_orgs_from_env_and_flag_are_combined_normalised_and_deduplicated() {
    let db = fresh_database().await;
    seed(
        &db,
        &["--no-demo", "--extra-orgs", "beta,Gamma,ACME"],
        &[("EXTRA_SEED_ORG_IDS", " Acme , beta,default")],
    )
    .ok();
    let mut conn = connect(&db).await;
    let orgs: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, slug FROM orgs ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        orgs,
        [
            ("acme".into(), "Acme Organization".into(), "acme".into()),
            ("beta".into(), "Beta Organization".into(), "beta".into()),
            (
                "default".into(),
                "Default Organization".into(),
                "default".into()
            ),
            ("gamma".into(), "Gamma Organization".into(), "gamma".into()),
        ]
    );
    for org in ["acme", "beta", "default", "gamma"] {
        assert_eq!(
            org_rows(&mut conn, org).await,
            expected_rows(false),
            "{org}"
        );
    }
    let run = seed(&db, &["--extra-orgs", "bad id!"], &[]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("--extra-orgs: \"bad id!\""),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn concurrent_seeds_both_succeed_and_seed_once() {
    let db = fresh_database().await;
    let spawn = || {
        let env = seed_env(&db);
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        sole(&["seed", "--extra-orgs", "acme"], &pairs)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let a: Run = a.wait_with_output().unwrap().into();
    let b: Run = b.wait_with_output().unwrap().into();
    let (a, b) = (a.ok(), b.ok());
    // Exactly one of them created the rows; the other waited and found them.
    let created = [&a, &b]
        .iter()
        .filter(|r| r.stdout.contains("org default: 103 created"))
        .count();
    assert_eq!(created, 1, "{}\n---\n{}", a.stdout, b.stdout);
    let mut conn = connect(&db).await;
    for org in ["default", "acme"] {
        assert_eq!(org_rows(&mut conn, org).await, expected_rows(true));
    }
}

#[tokio::test]
async fn an_unmigrated_database_is_refused() {
    let db = empty_database().await;
    let run = seed(&db, &[], &[]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("run `sole migrate` first"),
        "{}",
        run.stderr
    );
    let mut conn = connect(&db).await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'orgs'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0);
}

#[tokio::test]
async fn invalid_seed_yaml_names_the_file_and_the_key() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("departments.yaml"),
        "departments:\n  - { code: ENG, name: Engineering, colour: blue }\n",
    )
    .unwrap();
    let dir_str = dir.path().display().to_string();
    let run = seed(&db, &["--seeds-dir", &dir_str], &[]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(run.stderr.contains("departments.yaml"), "{}", run.stderr);
    assert!(run.stderr.contains("colour"), "{}", run.stderr);
    let mut conn = connect(&db).await;
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM orgs WHERE $1 = $1", "x").await,
        0
    );
}

// ---------------------------------------------------------------------------------------------
// serve --dev

/// A running `sole serve --dev`: SIGTERM then SIGKILL on drop, so no test leaves it behind.
struct DevServer {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    base: String,
}

impl DevServer {
    fn start(dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut cmd = sole(
            &["serve", "--dev", "--host", "127.0.0.1", "--port", "0"],
            env,
        );
        let mut child = cmd
            .current_dir(dir)
            .env("HOME", dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let tx2 = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx2.send(format!("stderr: {line}"));
            }
        });
        let mut server = Self {
            child,
            lines: rx,
            stdout: Vec::new(),
            base: String::new(),
        };
        // The banner names the bound port (the server picked a free one).
        let deadline = Instant::now() + Duration::from_secs(90);
        while server.base.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            match server.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix("API:") {
                        server.base = url.trim().trim_end_matches("/api/v1").to_owned();
                    }
                    server.stdout.push(line);
                }
                Err(_) => panic!(
                    "sole serve --dev printed no banner:\n{}",
                    server.stdout.join("\n")
                ),
            }
        }
        server
    }

    fn output(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.stdout.push(line);
        }
        self.stdout.join("\n")
    }

    /// Polls /health/live (bounded) until it answers 200.
    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let url = format!("{}/api/v1/health/live", self.base);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(resp) = client.get(&url).send().await
                && resp.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "not healthy:\n{}", self.output());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.base))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// Signs a demo user in (changing the seeded password as a first sign-in must), opens an
    /// asset upload session and PUTs a PNG to its signed URL without a token, as the SPA does.
    /// Returns the object key and the bytes sent.
    async fn upload_display_image(&self, email: &str) -> (String, Vec<u8>) {
        let client = reqwest::Client::new();
        let api = format!("{}/api/v1", self.base);
        let call = |method: reqwest::Method, path: &str, token: Option<&str>, body: Value| {
            let mut req = client
                .request(method, format!("{api}{path}"))
                .header("X-Org-Id", "default");
            if !body.is_null() {
                req = req.json(&body);
            }
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let path = path.to_owned();
            async move {
                let resp = req.send().await.unwrap();
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap();
                assert!(status < 300, "{path}: {status} {body}");
                body["data"].clone()
            }
        };
        let post = reqwest::Method::POST;
        let login = self
            .login(email, PASSWORD)
            .await
            .json::<Value>()
            .await
            .unwrap();
        let pre_org = login["data"]["pre_org_token"].as_str().unwrap().to_owned();
        let session = call(
            post.clone(),
            "/auth/select-org",
            Some(&pre_org),
            serde_json::json!({"org_id": "default"}),
        )
        .await;
        let session = call(
            post.clone(),
            "/auth/change-password",
            session["access_token"].as_str(),
            serde_json::json!({"current_password": PASSWORD, "new_password": "Dev-upload-passw0rd!"}),
        )
        .await;
        let access = session["access_token"].as_str().unwrap().to_owned();
        let me = call(reqwest::Method::GET, "/auth/me", Some(&access), Value::Null).await;
        let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0; 17]].concat();
        let upload = call(
            post,
            "/assets/upload-sessions",
            Some(&access),
            serde_json::json!({
                "org_id": "default",
                "kind": "display_image_thumb",
                "owner_refs": {"user_id": me["id"]},
                "filename": "me.png",
                "content_type": "image/png",
                "size_bytes": png.len(),
            }),
        )
        .await;
        // With --port 0 the advertised base URL keeps its default port: send the signed path
        // and query to the port this server bound.
        let url = reqwest::Url::parse(upload["upload_url"].as_str().unwrap()).unwrap();
        let put = client
            .put(format!(
                "{}{}?{}",
                self.base,
                url.path(),
                url.query().unwrap()
            ))
            .header("Content-Type", "image/png")
            .body(png.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(put.status(), 200, "{}", put.text().await.unwrap());
        (upload["object_key"].as_str().unwrap().to_owned(), png)
    }

    fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.terminate();
        }
    }
}

fn dev_env(db_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", db_url.to_owned()),
        ("SEED_ADMIN_EMAIL", ADMIN.into()),
        ("SEED_ADMIN_PASSWORD", PASSWORD.into()),
        ("ARGON2_MEMORY_KIB", "8".into()),
        ("ARGON2_ITERATIONS", "1".into()),
        ("ARGON2_PARALLELISM", "1".into()),
        ("DB_SSL", "false".into()),
    ]
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn serve_dev_from_an_empty_directory_creates_migrates_seeds_and_serves() {
    // A database that does not exist yet: --dev creates it.
    let db = format!("sole_test_{}", uuid::Uuid::new_v4().simple());
    let dir = tempfile::tempdir().unwrap();
    let env = dev_env(&url_for(&db));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    let mut server = DevServer::start(dir.path(), &pairs);
    server.wait_healthy().await;
    let resp = server.login(ADMIN, PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let resp = server.login("hr-default@example.com", PASSWORD).await;
    assert_eq!(resp.status(), 200);
    let out = server.output();
    assert!(out.contains("created database"), "{out}");
    assert!(out.contains("org default: 103 created"), "{out}");
    assert!(out.contains("/docs"), "{out}");
    assert!(out.contains("in-process"), "{out}");
    assert!(
        out.contains("Storage:  local files in .sole/uploads"),
        "{out}"
    );
    assert!(out.contains("DEVELOPMENT SECRETS"), "{out}");
    // A password the user gave is never echoed.
    assert!(!out.contains(PASSWORD), "{out}");

    let state = dir.path().join(".sole");
    let private_key = std::fs::read_to_string(state.join("jwt-private.pem")).unwrap();
    let secrets = std::fs::read_to_string(state.join("dev.env")).unwrap();
    assert!(secrets.contains("SECRET_KEY=") && secrets.contains("FERNET_KDF_SALT="));
    assert!(
        !secrets.contains("SEED_ADMIN_PASSWORD"),
        "given, so not generated"
    );
    #[cfg(unix)]
    for file in ["jwt-private.pem", "jwt-public.pem", "dev.env"] {
        assert_eq!(mode(&state.join(file)), 0o600, "{file}");
    }
    // An upload from the frontend's flow lands in .sole/uploads of the working directory.
    let (key, bytes) = server
        .upload_display_image("employee-default@example.com")
        .await;
    assert_eq!(
        std::fs::read(state.join("uploads").join(&key)).unwrap(),
        bytes,
        "the object {key} is a file under .sole/uploads"
    );
    assert_eq!(server.terminate(), Some(0));

    // The next start reuses the generated secrets and finds the seed done.
    let mut server = DevServer::start(dir.path(), &pairs);
    server.wait_healthy().await;
    assert_eq!(server.login(ADMIN, PASSWORD).await.status(), 200);
    let out = server.output();
    assert!(out.contains("reused from"), "{out}");
    assert!(out.contains("nothing to do"), "{out}");
    assert_eq!(
        std::fs::read_to_string(state.join("jwt-private.pem")).unwrap(),
        private_key
    );
    assert_eq!(
        std::fs::read_to_string(state.join("dev.env")).unwrap(),
        secrets
    );
}

#[tokio::test]
async fn serve_dev_refuses_production() {
    let dir = tempfile::tempdir().unwrap();
    let out: Run = sole(&["serve", "--dev"], &[("ENVIRONMENT", "production")])
        .current_dir(dir.path())
        .output()
        .unwrap()
        .into();
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("never allowed with ENVIRONMENT=production"),
        "{}",
        out.stderr
    );
    assert!(!dir.path().join(".sole").exists());
}

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH")?).collect();
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    dirs.extend(versions.into_iter().rev());
    dirs.into_iter()
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

/// Stops a leftover private cluster if the test failed half-way.
struct ClusterGuard(PathBuf);

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        if self.0.join("postmaster.pid").exists()
            && let Some(bin) = pg_bin()
        {
            let pg_ctl = bin.join("pg_ctl");
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args([
                    "-D",
                    &self.0.display().to_string(),
                    "-m",
                    "immediate",
                    "stop",
                ])
                .status();
            let _ = Command::new(&pg_ctl)
                .args([
                    "-D",
                    &self.0.display().to_string(),
                    "-m",
                    "immediate",
                    "stop",
                ])
                .status();
        }
    }
}

#[tokio::test]
async fn serve_dev_without_database_url_runs_a_private_cluster_and_stops_it_on_sigterm() {
    if pg_bin().is_none() {
        eprintln!("initdb/pg_ctl are not installed: the private-cluster path is unavailable here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // As root the cluster runs as `postgres`, which must be able to reach .sole/pgdata.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let pgdata = dir.path().join(".sole/pgdata");
    let _cluster = ClusterGuard(pgdata.clone());
    let env = [
        ("SOLE_DEV_POSTGRES", "private"),
        ("ARGON2_MEMORY_KIB", "8"),
        ("ARGON2_ITERATIONS", "1"),
        ("ARGON2_PARALLELISM", "1"),
    ];
    let mut server = DevServer::start(dir.path(), &env);
    server.wait_healthy().await;
    let out = server.output();
    assert!(out.contains("private PostgreSQL cluster"), "{out}");
    assert!(pgdata.join("postmaster.pid").exists());

    // The generated admin password is in .sole/dev.env and in the banner, and works.
    let secrets = std::fs::read_to_string(dir.path().join(".sole/dev.env")).unwrap();
    let password = secrets
        .lines()
        .find_map(|l| l.strip_prefix("SEED_ADMIN_PASSWORD="))
        .unwrap()
        .trim_matches('\'')
        .to_owned();
    assert!(
        out.contains(&password),
        "development banner shows the generated password"
    );
    assert_eq!(server.login(ADMIN, &password).await.status(), 200);

    assert_eq!(server.terminate(), Some(0), "{}", server.output());
    assert!(
        !pgdata.join("postmaster.pid").exists(),
        "the private cluster is stopped when sole exits:\n{}",
        server.output()
    );
    assert!(
        server
            .output()
            .contains("stopped the private PostgreSQL cluster")
    );
}

#[tokio::test]
async fn demo_stock_grants_are_seeded_once_with_the_legacy_start_dates() {
    let db = fresh_database().await;
    seed(&db, &[], &[]).ok();
    seed(&db, &[], &[]).ok();
    let mut conn = connect(&db).await;
    // The legacy seed's 16 grants with their events, once, whatever the number of runs.
    let (grants, events, shares): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT g.id), count(e.id), COALESCE(sum(e.shares), 0)::bigint \
         FROM employee_stock_grants g JOIN vesting_events e ON e.grant_id = g.id \
         WHERE g.org_id = 'default' AND g.status = 'ACTIVE'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((grants, events, shares), (16, 50, 88_000));
    let evan: (String, time::Date, String) = sqlx::query_as(
        "SELECT g.exercise_price::text, m.employment_start_date, g.vesting_strategy \
         FROM employee_stock_grants g JOIN org_memberships m ON m.id = g.org_membership_id \
         WHERE m.employee_id = 'default-ENG-001' AND g.grant_date = '2024-01-15'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        evan,
        (
            "18.750000".to_owned(),
            time::macros::date!(2021 - 01 - 10),
            "IMMEDIATE".to_owned()
        )
    );
}

/// Only what is true: after SEED_ADMIN_PASSWORD changes, the identities seeded earlier keep
/// their password, so the second run does not claim they accept the new one.
#[tokio::test]
async fn logins_are_marked_only_when_they_still_accept_the_seed_password() {
    let db = fresh_database().await;
    let run = seed(&db, &[], &[]).ok();
    let admin_line = |out: &str| {
        out.lines()
            .find(|l| l.contains(ADMIN))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        run.stdout
            .contains("marked *: password the value of SEED_ADMIN_PASSWORD"),
        "{}",
        run.stdout
    );
    assert!(
        admin_line(&run.stdout).trim_start().starts_with("* "),
        "{}",
        run.stdout
    );
    // Demo logins, one per line.
    assert!(
        run.stdout
            .lines()
            .filter(|l| l.trim_end().ends_with(" demo"))
            .count()
            >= 2,
        "{}",
        run.stdout
    );

    let run = seed(&db, &[], &[("SEED_ADMIN_PASSWORD", "Another#Seed42pass")]).ok();
    assert!(
        !admin_line(&run.stdout).trim_start().starts_with('*'),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("logins (each with the password chosen at its first sign-in):"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Another#Seed42pass"));
}

/// The switch-over path (README "Switching over"): a database the legacy service seeded and then
/// lived in — people changed their passwords and enrolled MFA, an admin added a custom role, the
/// system roles carry an older permission set. `sole seed` on it keeps every person's secrets
/// and every custom role, duplicates nothing, brings only the system roles in step, and a second
/// run changes nothing.
#[tokio::test]
async fn seeding_a_database_the_legacy_service_seeded_keeps_people_secrets_and_custom_roles() {
    let db = fresh_database().await;
    seed(&db, &[], &[]).ok();
    let mut conn = connect(&db).await;
    let legacy_hash =
        "$argon2id$v=19$m=65536,t=3,p=4$bGVnYWN5LXNhbHQ$legacyhashlegacyhashlegacyhash";
    sqlx::query(
        "UPDATE identities SET hashed_password = $1, mfa_enabled = true, mfa_method = 'TOTP', \
         mfa_secret_encrypted = 'gAAAAAlegacy-fernet-token', must_change_password = false \
         WHERE email = $2",
    )
    .bind(legacy_hash)
    .bind(ADMIN)
    .execute(&mut conn)
    .await
    .unwrap();
    // An older catalogue: the system EMPLOYEE role without one of its permissions.
    let dropped: String = sqlx::query_scalar(
        "SELECT permissions->>0 FROM roles WHERE org_id = 'default' AND name = 'EMPLOYEE'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE roles SET permissions = permissions - $1 \
         WHERE org_id = 'default' AND name = 'EMPLOYEE'",
    )
    .bind(&dropped)
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO roles (id, org_id, name, description, is_system_role, permissions) \
         VALUES (gen_random_uuid(), 'default', 'Legacy Auditors', 'made in the legacy UI', false, \
         '[\"audit_log.view\"]'::jsonb)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let before = row_counts(&mut conn).await;

    let run = seed(&db, &[], &[]).ok();
    assert!(run.stdout.contains("1 updated"), "{}", run.stdout);
    assert_eq!(row_counts(&mut conn).await, before, "seed duplicated rows");
    let admin: (String, bool, Option<String>) = sqlx::query_as(
        "SELECT hashed_password, mfa_enabled, mfa_secret_encrypted FROM identities WHERE email = $1",
    )
    .bind(ADMIN)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        admin,
        (
            legacy_hash.to_owned(),
            true,
            Some("gAAAAAlegacy-fernet-token".to_owned())
        ),
        "seed touched a person's password or MFA"
    );
    let custom: String = sqlx::query_scalar(
        "SELECT permissions::text FROM roles WHERE org_id = 'default' AND name = 'Legacy Auditors'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(custom, r#"["audit_log.view"]"#);
    let restored: bool = sqlx::query_scalar(
        "SELECT permissions ? $1 FROM roles WHERE org_id = 'default' AND name = 'EMPLOYEE'",
    )
    .bind(&dropped)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(restored, "the system role was not brought in step");

    let snap = snapshot(&mut conn).await;
    let run = seed(&db, &[], &[]).ok();
    assert!(run.stdout.contains("nothing to do"), "{}", run.stdout);
    assert_eq!(snapshot(&mut conn).await, snap);
}

/// identities/users/memberships/roles/user_roles, as one comparable string.
async fn row_counts(conn: &mut PgConnection) -> String {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM identities) || '/' || (SELECT count(*) FROM users) || '/' || \
         (SELECT count(*) FROM org_memberships) || '/' || (SELECT count(*) FROM roles) || '/' || \
         (SELECT count(*) FROM user_roles)",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}
