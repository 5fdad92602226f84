//! Test fixtures: per-test databases cloned from a migrated template, per-test Redis prefixes,
//! and the app spawned on an ephemeral port; the one request API ([`Call`]), and the one
//! golden-sample assertion ([`expect_sample`]) with the helpers the areas share.

#![allow(dead_code)]

use std::sync::Arc;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sole::cache::Cache;
use sole::config::{EnvMap, Settings};
use sole::http;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use crate::fixtures::Session;

/// The maintenance database the tests create their databases from.
pub fn admin_url() -> String {
    std::env::var("SOLE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("SOLE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn options_for(db: &str) -> PgConnectOptions {
    let opts: PgConnectOptions = admin_url()
        .parse()
        .expect("SOLE_TEST_DATABASE_URL must be a PostgreSQL URL");
    opts.database(db)
        .log_statements(tracing::log::LevelFilter::Off)
}

/// The URL of database `db` on the test server.
pub fn url_for(db: &str) -> String {
    let mut url = url::Url::parse(&admin_url()).expect("valid admin url");
    url.set_path(&format!("/{db}"));
    url.to_string()
}

/// Names the template after the migrations' contents, so a changed migration gets a fresh one.
fn template_name() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("migrations dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    entries.sort();
    let mut hasher = Sha256::new();
    for path in entries {
        hasher.update(path.file_name().unwrap().to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&path).unwrap());
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sole_tpl_{hex}")
}

/// Creates (once, across parallel test processes) the migrated template database.
async fn ensure_template() -> String {
    let name = template_name();
    let mut admin = options_for("postgres")
        .connect()
        .await
        .expect("connect to the test PostgreSQL (is it running?)");
    admin
        .execute("SELECT pg_advisory_lock(4242424242)")
        .await
        .unwrap();
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if exists.is_none() {
        admin
            .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
            .await
            .unwrap();
        let result = async {
            let mut conn = options_for(&name).connect().await?;
            sole::db::migrator::migrate(&mut conn).await?;
            conn.close().await?;
            anyhow::Ok(())
        }
        .await;
        if let Err(e) = result {
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    r#"DROP DATABASE IF EXISTS "{name}""#
                )))
                .await
                .unwrap();
            panic!("migrating the template database failed: {e:#}");
        }
    }
    admin
        .execute("SELECT pg_advisory_unlock(4242424242)")
        .await
        .unwrap();
    admin.close().await.unwrap();
    name
}

/// A fresh, migrated database for one test; returns its name.
pub async fn fresh_database() -> String {
    let template = ensure_template().await;
    let name = format!("sole_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = options_for("postgres").connect().await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            r#"CREATE DATABASE "{name}" TEMPLATE "{template}""#
        )))
        .await
        .unwrap();
    admin.close().await.unwrap();
    name
}

/// An empty database (no migrations) for migrate tests.
pub async fn empty_database() -> String {
    let name = format!("sole_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = options_for("postgres").connect().await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!(r#"CREATE DATABASE "{name}""#)))
        .await
        .unwrap();
    admin.close().await.unwrap();
    name
}

pub async fn connect(db: &str) -> PgConnection {
    options_for(db).connect().await.unwrap()
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// `address` + `/api/v1`
    pub api: String,
    pub client: reqwest::Client,
    pub db: PgPool,
    pub db_name: String,
    pub settings: Arc<Settings>,
    pub cache: Cache,
    pub auth: Arc<sole::http::AuthContext>,
    pub redis_prefix: String,
}

/// Settings every test starts from: cheap argon2 (same code path, smaller parameters), the
/// test database and a private Redis prefix.
/// The throwaway RSA key pair of `../shared/vectors/legacy-vectors.json` (test-only key).
pub fn vector_keys() -> (String, String) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/vectors/legacy-vectors.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (
        v["jwt"]["private_key_pem"].as_str().unwrap().to_owned(),
        v["jwt"]["public_key_pem"].as_str().unwrap().to_owned(),
    )
}

pub fn base_env(db_name: &str, redis_prefix: &str) -> EnvMap {
    let (private_pem, public_pem) = vector_keys();
    EnvMap::from_pairs([
        ("JWT_PRIVATE_KEY", private_pem),
        ("JWT_PUBLIC_KEY", public_pem),
        (
            "SECRET_KEY",
            "test-secret-key-0123456789abcdef0123456789".to_owned(),
        ),
        ("FERNET_KDF_SALT", "test-fernet-kdf-salt-0001".to_owned()),
        ("FERNET_KDF_ITERATIONS", "100000".to_owned()),
        ("TENANCY_MODE", "multi".to_owned()),
        ("ENVIRONMENT", "development".to_owned()),
        ("DATABASE_URL", url_for(db_name)),
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", redis_prefix.to_owned()),
        ("DB_SSL", "false".to_owned()),
        ("ARGON2_MEMORY_KIB", "8".to_owned()),
        ("ARGON2_ITERATIONS", "1".to_owned()),
        ("ARGON2_PARALLELISM", "1".to_owned()),
        ("ALLOWED_ORIGINS", "http://localhost:5173".to_owned()),
        ("AUTH_COOKIE_SECURE", "false".to_owned()),
        ("ENABLE_HSTS", "false".to_owned()),
    ])
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Spawns the app with extra settings layered over [`base_env`].
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let db_name = fresh_database().await;
    let redis_prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let mut env = base_env(&db_name, &redis_prefix);
    env.overlay(EnvMap::from_pairs(
        overrides.iter().map(|(k, v)| (*k, v.to_string())),
    ));
    spawn_with_env(env, db_name, redis_prefix).await
}

pub async fn spawn_with_env(env: EnvMap, db_name: String, redis_prefix: String) -> TestApp {
    spawn_with(
        env,
        db_name,
        redis_prefix,
        sole::clock::Clock::system(),
        |_| {},
    )
    .await
}

/// The app whose "today" is `today` (the golden samples were recorded on 2026-12-07).
pub async fn spawn_app_on(today: time::Date) -> TestApp {
    let db_name = fresh_database().await;
    let redis_prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let env = base_env(&db_name, &redis_prefix);
    spawn_with(
        env,
        db_name,
        redis_prefix,
        sole::clock::Clock::fixed(today),
        |_| {},
    )
    .await
}

/// Spawns the app with extra settings, letting `edit` change the state before the router is
/// built (e.g. a storage backend pointed at an emulator).
pub async fn spawn_app_edit(
    overrides: &[(&str, &str)],
    edit: impl FnOnce(&mut sole::http::AppState),
) -> TestApp {
    let db_name = fresh_database().await;
    let redis_prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let mut env = base_env(&db_name, &redis_prefix);
    env.overlay(EnvMap::from_pairs(
        overrides.iter().map(|(k, v)| (*k, v.to_string())),
    ));
    spawn_with(
        env,
        db_name,
        redis_prefix,
        sole::clock::Clock::system(),
        edit,
    )
    .await
}

/// The one app builder: settings from `env`, a clock, and a last edit of the state.
pub async fn spawn_with(
    env: EnvMap,
    db_name: String,
    redis_prefix: String,
    clock: sole::clock::Clock,
    edit: impl FnOnce(&mut sole::http::AppState),
) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        sole::telemetry::init("debug", sole::config::LogFormat::Pretty, None);
    }
    let settings = Arc::new(Settings::from_env(&env).expect("test settings"));
    let mut state = sole::commands::serve::build_state(settings.clone()).expect("state");
    state.clock = clock;
    edit(&mut state);
    let cache = state.cache.clone();
    let auth = state.auth.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let limits = http::ConnectionLimits::from_settings(&state.settings);
    let app = http::app(state);
    tokio::spawn(http::serve(
        listener,
        app,
        limits,
        std::future::pending(),
        std::time::Duration::from_secs(1),
    ));
    let address = format!("http://127.0.0.1:{port}");
    let db = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options_for(&db_name))
        .await
        .unwrap();
    TestApp {
        api: format!("{address}/api/v1"),
        address,
        client: client(),
        db,
        db_name,
        settings,
        cache,
        auth,
        redis_prefix,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client without a cookie store, so no refresh cookie is ever sent by accident.
pub fn no_cookies() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api, path)
    }

    /// A GET without a token: the raw response.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.call("GET", path).response().await
    }
}

/// One piece of a request, applied in the order the test gave it.
enum Part {
    Bearer(String),
    Header(String, String),
    Json(Value),
    Body(reqwest::Body),
    Multipart(reqwest::multipart::Form),
}

/// The one request API of the tests: `app.call("POST", "/roles")`, then the caller
/// (`.session(&s)`, or `.token(t)` and `.org(o)`), a body (`.json(&v)`) and extra headers, and
/// last `.fetch()` for `(status, json)`, `.send()` for a [`Resp`] with its headers, or
/// `.response()` for the raw response (bytes, streams). `maybe_*` take an `Option` and add
/// nothing for `None`.
#[must_use = "a call does nothing until it is fetched or sent"]
pub struct Call {
    client: reqwest::Client,
    method: reqwest::Method,
    url: String,
    parts: Vec<Part>,
}

impl TestApp {
    /// Starts a request to `path` under `/api/v1`, with the app's cookie-keeping client.
    pub fn call(&self, method: impl AsRef<str>, path: &str) -> Call {
        Call {
            client: self.client.clone(),
            method: reqwest::Method::from_bytes(method.as_ref().as_bytes()).unwrap(),
            url: self.url(path),
            parts: Vec::new(),
        }
    }
}

impl Call {
    /// Sends with a client that keeps no cookies, so no refresh cookie is ever sent by accident.
    pub fn without_cookies(mut self) -> Self {
        self.client = no_cookies();
        self
    }

    /// Sends with `client` (e.g. a browser's own cookie store).
    pub fn client(mut self, client: &reqwest::Client) -> Self {
        self.client = client.clone();
        self
    }

    /// Sends to an absolute URL (e.g. one the API returned) instead of the path.
    pub fn url(mut self, url: impl AsRef<str>) -> Self {
        self.url = url.as_ref().to_owned();
        self
    }

    pub fn token(mut self, token: impl AsRef<str>) -> Self {
        self.parts.push(Part::Bearer(token.as_ref().to_owned()));
        self
    }

    pub fn maybe_token(self, token: Option<&str>) -> Self {
        match token {
            Some(t) => self.token(t),
            None => self,
        }
    }

    /// `X-Org-Id`.
    pub fn org(self, org: &str) -> Self {
        self.header("X-Org-Id", org)
    }

    pub fn maybe_org(self, org: Option<&str>) -> Self {
        match org {
            Some(o) => self.org(o),
            None => self,
        }
    }

    /// The session's bearer token and its org as `X-Org-Id`.
    pub fn session(self, session: &Session) -> Self {
        self.token(&session.access).org(&session.org_id)
    }

    pub fn maybe_session(self, session: Option<&Session>) -> Self {
        match session {
            Some(s) => self.session(s),
            None => self,
        }
    }

    pub fn step_up(self, token: &str) -> Self {
        self.header("X-Step-Up-Token", token)
    }

    pub fn maybe_step_up(self, token: Option<&str>) -> Self {
        match token {
            Some(t) => self.step_up(t),
            None => self,
        }
    }

    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.parts.push(Part::Header(
            name.as_ref().to_owned(),
            value.as_ref().to_owned(),
        ));
        self
    }

    /// Extra headers, in order.
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        headers
            .iter()
            .fold(self, |call, (name, value)| call.header(name, value))
    }

    /// A JSON body (and its `Content-Type`, unless one was set before).
    pub fn json(mut self, body: &impl serde::Serialize) -> Self {
        self.parts
            .push(Part::Json(serde_json::to_value(body).unwrap()));
        self
    }

    pub fn maybe_json(self, body: Option<Value>) -> Self {
        match body {
            Some(b) => self.json(&b),
            None => self,
        }
    }

    /// A raw body (bytes, text or a stream).
    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.parts.push(Part::Body(body.into()));
        self
    }

    pub fn multipart(mut self, form: reqwest::multipart::Form) -> Self {
        self.parts.push(Part::Multipart(form));
        self
    }

    pub async fn response(self) -> reqwest::Response {
        let mut req = self.client.request(self.method, self.url);
        for part in self.parts {
            req = match part {
                Part::Bearer(t) => req.bearer_auth(t),
                Part::Header(k, v) => req.header(k, v),
                Part::Json(b) => req.json(&b),
                Part::Body(b) => req.body(b),
                Part::Multipart(f) => req.multipart(f),
            };
        }
        req.send().await.unwrap()
    }

    /// `(status, json)`; a body that is not JSON reads as `null`.
    pub async fn fetch(self) -> (u16, Value) {
        json(self.response().await).await
    }

    /// Status, headers and body; a body that is not JSON is kept as a string.
    pub async fn send(self) -> Resp {
        Resp::from(self.response().await).await
    }
}

/// A response with its headers kept.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    pub async fn from(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn str(&self, key: &str) -> String {
        self.body["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("data.{key} is not a string: {}", self.body))
            .to_owned()
    }

    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// Asserts status, `code` and `message`.
    pub fn is(&self, status: u16, code: &str, message: &str) -> &Self {
        assert_eq!(self.status, status, "status; body: {}", self.body);
        assert_eq!(self.body["code"], code, "code; body: {}", self.body);
        assert_eq!(
            self.body["message"], message,
            "message; body: {}",
            self.body
        );
        if status >= 400 && code != "step_up_mfa_required" && code != "validation_error" {
            assert_eq!(self.body["data"], Value::Null);
            assert_eq!(self.body["details"], json!({"detail": message}));
        }
        self
    }
}

/// Reads a response as `(status, json)`.
pub async fn json(resp: reqwest::Response) -> (u16, serde_json::Value) {
    let status = resp.status().as_u16();
    let body = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, body)
}

/// The recorded legacy exchanges in `../shared/contract/samples`, by file and name.
pub fn sample(file: &str, name: &str) -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/contract/samples")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    all.into_iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no sample named {name:?} in {file}"))
}

/// Asserts `actual` has exactly the keys of `expected`, in the same order.
pub fn assert_same_keys(actual: &serde_json::Value, expected: &serde_json::Value) {
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    assert_eq!(
        keys(actual),
        keys(expected),
        "keys differ:\nactual: {actual}\nexpected: {expected}"
    );
}

/// The made-up id the samples use for every "unknown id" case.
pub const UNKNOWN: &str = "00000000-0000-4000-8000-000000000000";

pub async fn audit_count(app: &TestApp, org: &str, action: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_logs WHERE org_id = $1 AND action = $2")
        .bind(org)
        .bind(action)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The legacy error envelope with a plain detail.
pub fn error_body(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message, "data": null, "details": {"detail": message}})
}

/// Asserts a 422 whose message is exactly `message`.
pub fn assert_422(result: &(u16, Value), message: &str) {
    assert_eq!(result.0, 422, "{}", result.1);
    assert_eq!(result.1["code"], "validation_error", "{}", result.1);
    assert_eq!(result.1["message"], message, "{}", result.1);
}

/// A deferred constraint trigger that fails the commit, i.e. after the change and its audit
/// row were written: both must disappear.
pub async fn fail_commit_when(app: &TestApp, table: &str, column: &str, value: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE FUNCTION fail_commit_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.{column} = '{value}' THEN RAISE EXCEPTION 'forced commit failure'; END IF; \
         RETURN NEW; END $$; \
         CREATE CONSTRAINT TRIGGER fail_commit_{table} AFTER INSERT OR UPDATE ON {table} \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_commit_{table}();"
    )))
    .execute(&app.db)
    .await
    .unwrap();
}

/// The one golden-sample assertion: our answer `(status, ours)` against the recorded exchange
/// `name` of `../shared/contract/samples/<file>`. The status must be equal, and the body must
/// match by [`assert_like`] except at the JSON pointers in `skip`. Returns the (recorded id,
/// our id) pairs met, for a world to learn.
pub fn expect_sample(
    file: &str,
    name: &str,
    status: u16,
    ours: &Value,
    skip: &[&str],
) -> Vec<(String, String)> {
    expect_recorded(&sample(file, name)["response"], name, status, ours, skip)
}

/// [`expect_sample`] against a recorded `response` the caller prepared (e.g. with the
/// recording's ids already replaced by ours).
pub fn expect_recorded(
    response: &Value,
    name: &str,
    status: u16,
    ours: &Value,
    skip: &[&str],
) -> Vec<(String, String)> {
    assert_eq!(
        json!(status),
        response["status"],
        "status of {name:?}: {ours}"
    );
    let mut learned = Vec::new();
    assert_like(ours, &response["body"], "", skip, &mut learned, name);
    learned
}

fn is_uuid(v: &str) -> bool {
    v.len() == 36 && uuid::Uuid::parse_str(v).is_ok()
}

fn is_timestamp(v: &str) -> bool {
    v.len() >= 20 && v.as_bytes().get(10) == Some(&b'T') && v.ends_with('Z')
}

/// `ours` matches the recording `theirs`: same key order, same array lengths, equal values,
/// except that ids and timestamps only need to be ids and timestamps (recorded ids met along
/// the way are learned as mappings), challenge tokens only need to be strings, and the JSON
/// pointers in `skip` are not compared.
pub fn assert_like(
    ours: &Value,
    theirs: &Value,
    at: &str,
    skip: &[&str],
    learned: &mut Vec<(String, String)>,
    name: &str,
) {
    if skip.contains(&at) {
        return;
    }
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            let ka: Vec<&String> = a.keys().collect();
            let kb: Vec<&String> = b.keys().collect();
            assert_eq!(
                ka, kb,
                "{name}: keys at {at:?} differ\nours: {ours}\ntheirs: {theirs}"
            );
            for (k, v) in a {
                assert_like(v, &b[k], &format!("{at}/{k}"), skip, learned, name);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(
                a.len(),
                b.len(),
                "{name}: length at {at:?}\nours: {ours}\ntheirs: {theirs}"
            );
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_like(x, y, &format!("{at}/{i}"), skip, learned, name);
            }
        }
        (Value::String(a), Value::String(b)) if is_uuid(a) && is_uuid(b) => {
            learned.push((b.clone(), a.clone()));
        }
        (Value::String(a), Value::String(b)) if is_timestamp(a) && is_timestamp(b) => {}
        (Value::String(_), Value::String(b)) if b.starts_with("<jwt") => {}
        (Value::String(a), Value::String(b))
            if a.contains('-') && b.contains('-') && a.len() == b.len() && contains_uuid(b) =>
        {
            // "Review loan <uuid> (HR_REVIEW)"-style texts.
            assert_eq!(strip_uuids(a), strip_uuids(b), "{name}: at {at:?}");
        }
        _ => assert_eq!(ours, theirs, "{name}: value at {at:?}"),
    }
}

fn contains_uuid(s: &str) -> bool {
    s.split([' ', '(', ')']).any(is_uuid)
}

fn strip_uuids(s: &str) -> String {
    s.split(' ')
        .map(|w| if is_uuid(w) { "<uuid>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}
