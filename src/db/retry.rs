//! One retry for a read-only statement whose pooled connection died between checkout and the
//! statement (a failover, an idle-connection reaper, `pg_terminate_backend`).
//!
//! The pool pings a connection only after it sat idle for a while (a ping per checkout costs a
//! round trip on every request), so a connection the server closed a moment ago is handed out
//! and its first statement fails. For a read that failure says nothing about the request: the
//! statement never ran, and running it again on a live connection answers the client instead
//! of a 503. Writes are never retried here: a commit whose answer was lost may have happened.

use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgPool, Postgres};

/// Whether `err` means the connection itself is gone (not the statement's outcome).
pub fn is_dropped_connection(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // admin_shutdown (pg_terminate_backend, a restart), crash_shutdown, and the
            // connection-exception class.
            matches!(code.as_ref(), "57P01" | "57P02") || code.starts_with("08")
        }),
        _ => false,
    }
}

/// Runs `read` (an expression using the connection `conn` names, yielding a future of
/// `sqlx::Result<T>`) on a pooled connection; when it fails because that connection was
/// dropped, runs it once more on a connection proven alive. Evaluates to a future of
/// `sqlx::Result<(T, PoolConnection<Postgres>)>`: the result and the connection used, so the
/// caller can go on with it.
///
/// `read` must be read-only (it may run twice); a statement that writes must not come here.
/// A macro rather than a function taking a closure: a closure returning a future that
/// borrows both the connection and the caller's values cannot be named generically without
/// losing `Send`, and handler futures must be `Send`.
macro_rules! read_retrying_once {
    ($pool:expr, |$conn:ident| $read:expr) => {
        async {
            let pool: &sqlx::PgPool = $pool;
            let result: sqlx::Result<_> = match pool.acquire().await {
                Err(err) => Err(err),
                Ok(mut held) => {
                    let first = {
                        let $conn: &mut sqlx::PgConnection = &mut *held;
                        $read.await
                    };
                    match first {
                        Ok(value) => Ok((value, held)),
                        Err(err) if $crate::db::retry::is_dropped_connection(&err) => {
                            $crate::db::retry::note_retry(&err);
                            // Returning it makes the pool test it and discard it.
                            drop(held);
                            match $crate::db::retry::live_connection(pool).await {
                                Err(err) => Err(err),
                                Ok(mut held) => {
                                    let second = {
                                        let $conn: &mut sqlx::PgConnection = &mut *held;
                                        $read.await
                                    };
                                    second.map(|value| (value, held))
                                }
                            }
                        }
                        Err(err) => Err(err),
                    }
                }
            };
            result
        }
    };
}
pub(crate) use read_retrying_once;

#[doc(hidden)]
pub fn note_retry(err: &sqlx::Error) {
    tracing::info!(error = %err, "read retried once on another connection: the pooled one was dropped");
}

/// A pooled connection that answered a ping. The other idle connections died with the first
/// one more often than not (a restart, a reaper), so each is tested and discarded in turn; a
/// bounded number of tries, then the last error.
#[doc(hidden)]
pub async fn live_connection(pool: &PgPool) -> sqlx::Result<PoolConnection<Postgres>> {
    let tries = pool.options().get_max_connections().saturating_add(1);
    let mut last = None;
    for _ in 0..tries {
        let mut conn = pool.acquire().await?;
        match conn.ping().await {
            Ok(()) => return Ok(conn),
            Err(err) => {
                conn.close_on_drop();
                last = Some(err);
            }
        }
    }
    Err(last.unwrap_or(sqlx::Error::PoolTimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_lost_connection_counts() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(is_dropped_connection(&io));
        assert!(is_dropped_connection(&sqlx::Error::Protocol("eof".into())));
        assert!(!is_dropped_connection(&sqlx::Error::PoolTimedOut));
        assert!(!is_dropped_connection(&sqlx::Error::RowNotFound));
    }
}
