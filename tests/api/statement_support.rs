//! Counts the statements that reach PostgreSQL: a TCP relay between the app and the test
//! server that reads the client's side of the wire protocol. Every simple query (`Q`, which
//! is how `BEGIN` travels) and every extended-protocol `Execute` (`E`, one per prepared
//! statement run, `COMMIT` included) is one statement; pings and the startup handshake are not.
//! The app under test points `DATABASE_URL` at [`PgCounter::url_for`], so everything it runs,
//! the guard's reads included, is counted, and nothing else is.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::fixtures::Session;
use crate::helpers::{TestApp, base_env, fresh_database, json, spawn_with_env};

#[derive(Clone)]
pub struct PgCounter {
    port: u16,
    count: Arc<AtomicU64>,
    log: Arc<Mutex<Vec<String>>>,
}

impl PgCounter {
    /// A relay to the test server on an ephemeral port.
    pub async fn start() -> Self {
        let upstream = url::Url::parse(&crate::helpers::admin_url()).expect("admin url");
        let target = format!(
            "{}:{}",
            upstream.host_str().unwrap_or("127.0.0.1"),
            upstream.port().unwrap_or(5432)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let counter = Self {
            port: listener.local_addr().unwrap().port(),
            count: Arc::default(),
            log: Arc::default(),
        };
        let relay = counter.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&target).await else {
                    continue;
                };
                tokio::spawn(relay.clone().pipe(client, server));
            }
        });
        counter
    }

    /// The URL of database `db` through this relay.
    pub fn url_for(&self, db: &str) -> String {
        let mut url = url::Url::parse(&crate::helpers::url_for(db)).unwrap();
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(self.port)).unwrap();
        url.to_string()
    }

    /// Statements counted so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The statements counted since the last call, as their SQL (for failure messages).
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    async fn pipe(self, mut client: TcpStream, server: TcpStream) {
        let (mut server_read, mut server_write) = server.into_split();
        let (mut client_read, mut client_write) = client.split();
        let upstream = async {
            let mut parser = Parser::default();
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match client_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                // Counted before it is forwarded: the answer cannot arrive first.
                for statement in parser.feed(&buf[..n]) {
                    self.count.fetch_add(1, Ordering::SeqCst);
                    self.log.lock().unwrap().push(statement);
                }
                if server_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            let _ = server_write.shutdown().await;
        };
        let downstream = async {
            let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
            let _ = client_write.shutdown().await;
        };
        tokio::join!(upstream, downstream);
    }
}

/// The client's side of the protocol: untyped startup messages, then typed messages.
#[derive(Default)]
struct Parser {
    buf: Vec<u8>,
    started: bool,
    prepared: HashMap<String, String>,
    bound: String,
}

fn cstr(bytes: &[u8]) -> (String, &[u8]) {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    let rest = bytes.get(end + 1..).unwrap_or_default();
    (String::from_utf8_lossy(&bytes[..end]).into_owned(), rest)
}

impl Parser {
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            if !self.started {
                if self.buf.len() < 8 {
                    break;
                }
                let len = u32::from_be_bytes(self.buf[0..4].try_into().unwrap()) as usize;
                if self.buf.len() < len {
                    break;
                }
                let code = u32::from_be_bytes(self.buf[4..8].try_into().unwrap());
                // 3.0 startup: typed messages follow (SSL/GSS requests are answered first).
                if code >> 16 == 3 {
                    self.started = true;
                }
                self.buf.drain(..len);
                continue;
            }
            if self.buf.len() < 5 {
                break;
            }
            let kind = self.buf[0];
            let len = u32::from_be_bytes(self.buf[1..5].try_into().unwrap()) as usize;
            if self.buf.len() < 1 + len {
                break;
            }
            let body: Vec<u8> = self.buf[5..1 + len].to_vec();
            self.buf.drain(..1 + len);
            match kind {
                b'Q' => out.push(cstr(&body).0),
                b'P' => {
                    let (name, rest) = cstr(&body);
                    let (query, _) = cstr(rest);
                    self.prepared.insert(name, query);
                }
                b'B' => {
                    let (_portal, rest) = cstr(&body);
                    self.bound = cstr(rest).0;
                }
                b'E' => out.push(
                    self.prepared
                        .get(&self.bound)
                        .cloned()
                        .unwrap_or_else(|| format!("<statement {}>", self.bound)),
                ),
                _ => {}
            }
        }
        out
    }
}

/// One `sole` instance with its own statement counter (the guard-cache and read-statement
/// tests).
pub struct Instance {
    pub app: TestApp,
    pub statements: PgCounter,
}

/// `n` instances on one fresh database and one Redis prefix, with extra settings.
pub async fn instances(n: usize, settings: &[(&str, &str)]) -> Vec<Instance> {
    let db_name = fresh_database().await;
    let prefix = format!("test:{}", uuid::Uuid::new_v4().simple());
    let mut out = Vec::new();
    for _ in 0..n {
        let statements = PgCounter::start().await;
        let mut env = base_env(&db_name, &prefix);
        let mut overrides = vec![("DATABASE_URL", statements.url_for(&db_name))];
        overrides.extend(settings.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env.overlay(sole::config::EnvMap::from_pairs(overrides));
        let app = spawn_with_env(env, db_name.clone(), prefix.clone()).await;
        out.push(Instance { app, statements });
    }
    out
}

impl Instance {
    pub async fn get(&self, path: &str, session: &Session) -> (u16, Value) {
        self.app.call("GET", path).session(session).fetch().await
    }

    /// Statements (and their SQL) one GET costs.
    pub async fn cost(&self, path: &str, session: &Session) -> (u16, u64, Vec<String>) {
        self.statements.take_log();
        let before = self.statements.count();
        let (status, _) = self.get(path, session).await;
        let spent = self.statements.count() - before;
        (status, spent, self.statements.take_log())
    }

    /// Waits until the hub's subscription is confirmed (an authenticated request starts it).
    pub async fn wait_subscribed(&self, session: &Session) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let _ = self.get("/auth/me", session).await;
            let (_, body) = json(self.app.get("/health/ready").await).await;
            if body["data"]["announcements_pubsub"] == "subscribed" {
                return;
            }
            assert!(Instant::now() < deadline, "never subscribed: {body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Sends `method path` with the session's token and org and a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        session: &Session,
        body: Value,
    ) -> (u16, Value) {
        self.app
            .call(method, path)
            .session(session)
            .json(&body)
            .fetch()
            .await
    }

    pub async fn pubsub_state(&self) -> Value {
        let (_, body) = json(self.app.get("/health/ready").await).await;
        body["data"]["announcements_pubsub"].clone()
    }
}
