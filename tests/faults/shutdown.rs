//! SIGTERM under load: logins, refreshes, writes and reads in flight and an announcement stream
//! open. The server drains within 8 s and exits 0; every write it acknowledged is stored with
//! its audit row, every other left nothing.

use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use sqlx::Connection as _;

use crate::support::{CREATE, LOGIN, Load, Loop, ORG, REFRESH, World, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_requests_and_a_stream_in_flight_drains_within_8s_and_exits_0() {
    let mut world = World::start(&[]).await;
    let session = world.session.clone();
    let stream = world
        .client
        .get(format!("{}/announcements/stream", world.api))
        .bearer_auth(&session.access)
        .header("X-Org-Id", ORG)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut frames = stream.bytes_stream();
    let first = frames.next().await.expect("a first frame").unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("connected"),
        "{first:?}"
    );
    let stream_end = tokio::spawn(async move {
        // Reads until the server ends the stream (or cuts it: the item is an error).
        let mut clean = true;
        while let Some(frame) = frames.next().await {
            clean &= frame.is_ok();
        }
        (Instant::now(), clean)
    });

    let load = Load::start(
        &world,
        &[
            Loop::Login,
            Loop::Refresh,
            Loop::Me,
            Loop::CreateDepartment,
            Loop::CreateDepartment,
            Loop::CreateDepartment,
            Loop::Me,
            Loop::ListDepartments,
        ],
    )
    .await;
    let limit = Duration::from_secs(20);
    load.until_successes(CREATE, 10, limit).await;
    load.until_successes(REFRESH, 3, limit).await;
    load.until_successes(LOGIN, 1, limit).await;

    // Writes certainly in flight at the signal: the department writers wait on a lock that is
    // released only once the server has begun to drain.
    let mut holder = world.pg.connect().await;
    let mut lock = holder.begin().await.unwrap();
    sqlx::query("LOCK TABLE departments IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let mut watcher = world.pg.connect().await;
    let deadline = Instant::now() + limit;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND datname = current_database()",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        if waiting >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the writes never waited on the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let created_before = load.ledger.count_of(CREATE, "201");

    let sent = Instant::now();
    world.server.terminate();
    eventually(limit, "the server noticing SIGTERM", || {
        let noticed = world.server.output().contains("shutdown signal received");
        async move { noticed.then_some(()) }
    })
    .await;
    lock.rollback().await.unwrap();
    let exit = tokio::task::block_in_place(|| world.server.wait_exit(Duration::from_secs(8)));
    let drained = sent.elapsed();
    let exit = exit.unwrap_or_else(|| {
        panic!(
            "sole did not exit within 8 s of SIGTERM:\n{}",
            world.server.output()
        )
    });
    assert!(exit.success(), "exit {exit:?}:\n{}", world.server.output());

    let (ended, clean) = tokio::time::timeout(Duration::from_secs(5), stream_end)
        .await
        .expect("the stream ended with the server")
        .unwrap();
    assert!(
        ended <= sent + drained + Duration::from_millis(500),
        "stream outlived the server"
    );
    let ledger = load.stop().await;
    let drained_writes = ledger.count_of(CREATE, "201") - created_before;
    assert!(
        drained_writes >= 3,
        "the writes in flight at SIGTERM were not answered: {}",
        ledger.summary()
    );
    eprintln!(
        "[faults] SIGTERM under load: exit 0 after {drained:?}, {drained_writes} writes in flight answered 201, stream ended {}; {}",
        if clean { "cleanly" } else { "with an error" },
        ledger.summary()
    );
    ledger.assert_clean();
    world.server.assert_no_panic();
    world.assert_no_lost_or_half_written(&ledger).await;
    assert!(
        world.server.output().contains("shutdown signal received"),
        "{}",
        world.server.output()
    );
}
