//! PostgreSQL faults under load: a restart, killed backends, a held table lock, an exhausted
//! pool. Each ends with the load succeeding again and the write ledger checked.

use std::time::Duration;

use sqlx::Connection as _;

use crate::support::{CREATE, LIST, Load, Loop, ME, World};

/// Four readers and four writers: the steady load of every database scenario.
const MIXED: [Loop; 8] = [
    Loop::Me,
    Loop::ListDepartments,
    Loop::Me,
    Loop::ListDepartments,
    Loop::CreateDepartment,
    Loop::CreateDepartment,
    Loop::CreateDepartment,
    Loop::CreateDepartment,
];

const RECOVERY: Duration = Duration::from_secs(15);

async fn finish(
    world: &World,
    load: Load,
    scenario: &str,
) -> std::sync::Arc<crate::support::Ledger> {
    let ledger = load.stop().await;
    eprintln!("[faults] {scenario}: {}", ledger.summary());
    ledger.assert_clean();
    world.server.assert_no_panic();
    world.assert_no_lost_or_half_written(&ledger).await;
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restarted_mid_load_answers_503_then_recovers_without_losing_writes() {
    let world = World::start(&[("DB_STATEMENT_TIMEOUT_MS", "3000")]).await;
    let load = Load::start(&world, &MIXED).await;
    load.until_successes(CREATE, 10, RECOVERY).await;

    tokio::task::block_in_place(|| world.pg.restart_fast());

    load.until_recovered(&[ME, LIST, CREATE], RECOVERY).await;
    let ledger = finish(
        &world,
        load,
        "PostgreSQL restarted (pg_ctl restart -m fast)",
    )
    .await;
    assert!(ledger.successes(CREATE) >= 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backends_terminated_mid_load_never_answer_500_and_lose_no_write() {
    let world = World::start(&[]).await;
    let load = Load::start(&world, &MIXED).await;
    load.until_successes(CREATE, 10, RECOVERY).await;

    let mut admin = world.pg.connect().await;
    for _ in 0..3 {
        let killed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND backend_type = 'client backend') t",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        assert!(killed >= 1, "the server held no connection to kill");
        // The next kill only once the load is flowing again.
        load.until_successes(CREATE, 3, RECOVERY).await;
    }

    load.until_recovered(&[ME, LIST, CREATE], RECOVERY).await;
    finish(
        &world,
        load,
        "backends terminated (pg_terminate_backend ×3)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_lock_held_past_the_statement_timeout_answers_503_not_500() {
    let world = World::start(&[("DB_STATEMENT_TIMEOUT_MS", "400")]).await;
    let load = Load::start(&world, &MIXED).await;
    load.until_successes(CREATE, 10, RECOVERY).await;

    let mut holder = world.pg.connect().await;
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE departments IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    // Held until the writes have timed out on it a few times (each waits 400 ms).
    let ledger = std::sync::Arc::clone(&load.ledger);
    crate::support::eventually(RECOVERY, "writes answering 503 behind the lock", || {
        let n = ledger.count_of(CREATE, "503");
        async move { (n >= 4).then_some(()) }
    })
    .await;
    // Reads that do not touch the table keep working meanwhile.
    load.until_successes(ME, 2, RECOVERY).await;
    lock.rollback().await.unwrap();

    load.until_recovered(&[ME, LIST, CREATE], RECOVERY).await;
    let ledger = finish(
        &world,
        load,
        "LOCK TABLE departments held past a 400 ms statement_timeout",
    )
    .await;
    assert!(ledger.count_of(LIST, "503") >= 1, "{}", ledger.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_exhausted_by_slow_requests_answers_503_then_recovers() {
    let world = World::start(&[
        ("DB_POOL_SIZE", "2"),
        ("DB_POOL_TIMEOUT", "0.5"),
        ("DB_STATEMENT_TIMEOUT_MS", "5000"),
    ])
    .await;
    let load = Load::start(&world, &MIXED).await;
    load.until_successes(CREATE, 10, RECOVERY).await;

    // Requests on `departments` wait on the lock holding both pooled connections; the rest
    // find no connection within the acquire timeout.
    let mut holder = world.pg.connect().await;
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE departments IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let ledger = std::sync::Arc::clone(&load.ledger);
    crate::support::eventually(RECOVERY, "requests answering 503 on the full pool", || {
        let n = ledger.count_of(ME, "503");
        async move { (n >= 3).then_some(()) }
    })
    .await;
    lock.rollback().await.unwrap();

    load.until_recovered(&[ME, LIST, CREATE], RECOVERY).await;
    finish(
        &world,
        load,
        "pool of 2 exhausted by requests blocked on a lock",
    )
    .await;
}
