//! Connection poolers between `sole` and PostgreSQL (`DB_POOLER`, README "Connection poolers").
//!
//! What sqlx 0.9 does on the wire, and why a transaction-mode pooler needs more than a setting:
//! - every `query()` is sent with the extended protocol in two synchronised batches:
//!   `Parse`+`Describe`+`Sync`, then (after `ReadyForQuery`) `Bind`+`Execute`+`Close`+`Sync`;
//! - `persistent(true)` (the default) parses a *named* statement `sqlx_s_N`, even with
//!   `statement_cache_capacity(0)`, which only stops it from being remembered and closed: the
//!   name stays on the server until the session ends; `persistent(false)` uses the unnamed one.
//!
//! A transaction-mode pooler hands the server connection back at every `ReadyForQuery` outside
//! a transaction, so between the two batches the statement can land on another server (where
//! it does not exist, or where another client's statement of the same name does). No sqlx
//! option fixes that; a transaction does, since the pooler keeps the server for its whole
//! length. So with `DB_POOLER=transaction` every pool checkout is one transaction
//! ([`begin_checkout`] .. [`end_checkout`]), the statement cache is off, and the names a
//! checkout leaves behind are dropped by the next checkout on that server (`DEALLOCATE ALL`).
//! `pool.begin()` inside a checkout sends its own `BEGIN` (a no-op warning, silenced) and its
//! `COMMIT` is the real commit, before the handler answers.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor};

use super::{DbUrl, connect_options, describe_connect_error};
use crate::config::{DatabaseSettings, DbPooler};

/// `DB_POOLER=session`: the statement timeout as a session setting (a pooler refuses it as a
/// startup parameter).
pub async fn session_setup(conn: &mut PgConnection, timeout_ms: i64) -> Result<(), sqlx::Error> {
    if timeout_ms > 0 {
        conn.execute(AssertSqlSafe(format!(
            "SET statement_timeout = {timeout_ms}"
        )))
        .await?;
    }
    Ok(())
}

/// `DB_POOLER=transaction`, at checkout: one simple-protocol round trip that opens the
/// checkout's transaction, keeps its settings local to it, and drops the statements an earlier
/// checkout left on this server connection.
pub async fn begin_checkout(conn: &mut PgConnection, timeout_ms: i64) -> Result<bool, sqlx::Error> {
    // `client_min_messages`: sqlx's own BEGIN inside this transaction warns "there is already
    // a transaction in progress"; nothing else of ours warns.
    let mut sql = String::from("BEGIN; SET LOCAL client_min_messages = error; ");
    if timeout_ms > 0 {
        sql.push_str(&format!("SET LOCAL statement_timeout = {timeout_ms}; "));
    }
    sql.push_str("DEALLOCATE ALL");
    conn.execute(AssertSqlSafe(sql)).await?;
    Ok(true)
}

/// `DB_POOLER=transaction`, when the connection goes back to the pool: commits what the
/// checkout wrote outside an explicit transaction, or ends an aborted one. `BEGIN; COMMIT`
/// works whether or not the transaction is still open (a handler's `commit()` ends it).
pub async fn end_checkout(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    match conn.execute("BEGIN; COMMIT").await {
        Ok(_) => Ok(true),
        // "current transaction is aborted": a failed statement; nothing to keep.
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("25P02") => {
            conn.execute("ROLLBACK").await?;
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// What the start-up probe found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The connection works with this `DB_POOLER` (the note says what was seen).
    Fits(String),
    /// It does not: the message names the fix; `serve` exits with it.
    Breaks(String),
    /// No answer (PostgreSQL unreachable, timeout): the reachability warning says so.
    Unknown(String),
}

/// How long the probe may take in all.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks that `DB_POOLER` matches what `DATABASE_URL` really is, before requests find out.
pub async fn probe(url: &DbUrl, db: &DatabaseSettings) -> Verdict {
    let run = async {
        match url.pooler() {
            DbPooler::Transaction => probe_transaction_mode(url, db).await,
            DbPooler::None | DbPooler::Session => probe_session_bound(url, db).await,
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| {
            Verdict::Unknown(format!(
                "the connection-pooler check got no answer within {}s",
                PROBE_TIMEOUT.as_secs()
            ))
        })
}

const FIX: &str = "set DB_POOLER=transaction (and DATABASE_URL_DIRECT for `sole migrate` and \
                   `sole seed`), or use a session-mode pool, or PgBouncer 1.21+ with \
                   max_prepared_statements > 0";

/// `DB_POOLER=none|session` caches named prepared statements per connection, which holds only
/// if each client connection keeps its server session. Two connections A and B run the same
/// cached statement while B holds a transaction: on a direct or session-mode connection each
/// has its own backend; behind a transaction-mode pooler they share backends (PgBouncer reuses
/// the server A just released for B's transaction, so B's `Parse` of `sqlx_s_1` meets A's, and
/// A's next `Bind` goes to another server that never saw it).
async fn probe_session_bound(url: &DbUrl, db: &DatabaseSettings) -> Verdict {
    let (mut a, mut b) = match (connect(url, db).await, connect(url, db).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(v), _) | (_, Err(v)) => return v,
    };
    let mut shared = false;
    let mut verdict = None;
    for _ in 0..3 {
        let round = async {
            let a1 = backend_pid(&mut a).await?;
            b.execute("BEGIN").await?;
            let b1 = backend_pid(&mut b).await?;
            let a2 = backend_pid(&mut a).await?;
            b.execute("ROLLBACK").await?;
            Ok::<_, sqlx::Error>(b1 == a1 || a2 != a1)
        };
        match round.await {
            Ok(seen) => shared |= seen,
            Err(e) => {
                verdict = Some(statement_verdict(&e));
                break;
            }
        }
    }
    let _ = a.close().await;
    let _ = b.close().await;
    verdict.unwrap_or_else(|| {
        Verdict::Fits(if shared {
            "connections share server sessions (a transaction-mode pooler) and prepared statements survive it".into()
        } else {
            "each connection keeps its own server session".into()
        })
    })
}

/// `DB_POOLER=transaction`: one checkout as the pool runs it (its BEGIN batch, two statements,
/// its end), on a connection of its own so that a refusal is seen rather than retried until
/// the pool times out. A statement-mode pooler refuses the transaction.
async fn probe_transaction_mode(url: &DbUrl, db: &DatabaseSettings) -> Verdict {
    let mut conn = match connect(url, db).await {
        Ok(conn) => conn,
        Err(v) => return v,
    };
    let run = async {
        begin_checkout(&mut conn, db.statement_timeout_ms).await?;
        backend_pid(&mut conn).await?;
        backend_pid(&mut conn).await?;
        end_checkout(&mut conn).await?;
        Ok::<_, sqlx::Error>(())
    };
    let result = run.await;
    let _ = conn.close().await;
    match result {
        Ok(()) => Verdict::Fits("every checkout runs in one transaction".into()),
        Err(e) => {
            let text = e.to_string();
            if text.contains("transaction blocks not allowed") || text.contains("statement pooling")
            {
                Verdict::Breaks(format!(
                    "DATABASE_URL goes through a statement-mode pooler ({}), which allows no \
                     transaction; sole needs transactions: use pool_mode=transaction with \
                     DB_POOLER=transaction, or pool_mode=session",
                    describe_connect_error(&e)
                ))
            } else {
                Verdict::Unknown(describe_connect_error(&e))
            }
        }
    }
}

async fn connect(url: &DbUrl, db: &DatabaseSettings) -> Result<PgConnection, Verdict> {
    match connect_options(url, db) {
        Err(e) => Err(Verdict::Unknown(e.to_string())),
        Ok(options) => options.connect().await.map_err(|e| connect_verdict(&e)),
    }
}

/// One cached, named prepared statement (sqlx's default for `query`).
async fn backend_pid(conn: &mut PgConnection) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid() + $1")
        .bind(0_i32)
        .fetch_one(conn)
        .await
}

fn connect_verdict(e: &sqlx::Error) -> Verdict {
    let reason = describe_connect_error(e);
    if reason.contains("unsupported startup parameter") {
        Verdict::Breaks(format!(
            "DATABASE_URL goes through a connection pooler that refuses PostgreSQL's startup \
             parameters ({reason}): set DB_POOLER=session or DB_POOLER=transaction to match its \
             pool mode"
        ))
    } else {
        Verdict::Unknown(reason)
    }
}

fn statement_verdict(e: &sqlx::Error) -> Verdict {
    match e {
        // 26000: prepared statement does not exist; 42P05: it already exists.
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("26000" | "42P05")) => {
            Verdict::Breaks(format!(
                "DATABASE_URL goes through a transaction-mode connection pooler that does not \
                 keep prepared statements (PostgreSQL said: {}), but DB_POOLER is not \
                 'transaction': {FIX}",
                db.message()
            ))
        }
        other => Verdict::Unknown(describe_connect_error(other)),
    }
}
