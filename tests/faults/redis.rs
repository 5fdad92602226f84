//! Redis faults under load: stopped then started again, and put to sleep with `DEBUG SLEEP`.
//! Logins fail closed (503) while Redis is gone; reads that do not need it keep answering.

use std::time::Duration;

use serde_json::json;

use crate::support::{CREATE, LIST, LOGIN, Load, Loop, ME, World, eventually};

const LOAD: [Loop; 8] = [
    Loop::Me,
    Loop::ListDepartments,
    Loop::Me,
    Loop::ListDepartments,
    Loop::CreateDepartment,
    Loop::CreateDepartment,
    Loop::CreateDepartment,
    Loop::Login,
];

const LIMIT: Duration = Duration::from_secs(20);

async fn login_status(world: &World) -> u16 {
    world
        .client
        .post(format!("{}/auth/login", world.api))
        .json(&json!({"email": crate::support::ADMIN, "password": crate::support::PASSWORD}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_then_started_fails_logins_closed_keeps_reads_and_recovers() {
    let mut world = World::start(&[]).await;
    let load = Load::start(&world, &LOAD).await;
    load.until_successes(CREATE, 10, LIMIT).await;
    load.until_successes(LOGIN, 1, LIMIT).await;

    world.redis.stop();

    // Logins fail closed…
    eventually(
        LIMIT,
        "a login answering 503 while Redis is down",
        || async { (login_status(&world).await == 503).then_some(()) },
    )
    .await;
    // …while reads and writes that do not need Redis keep answering, and readiness says so.
    let me_before = load.ledger.count_of(ME, "200");
    load.until_successes(ME, 3, LIMIT).await;
    load.until_successes(LIST, 3, LIMIT).await;
    load.until_successes(CREATE, 3, LIMIT).await;
    assert!(load.ledger.count_of(ME, "200") >= me_before + 3);
    let (status, body) = world.ready().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["data"]["status"], "degraded", "{body}");
    assert_eq!(
        load.ledger.count_of(ME, "503"),
        0,
        "{}",
        load.ledger.summary()
    );
    assert_eq!(
        load.ledger.count_of(LIST, "503"),
        0,
        "{}",
        load.ledger.summary()
    );

    world.redis.start();

    eventually(LIMIT, "readiness back to ok with Redis started", || async {
        let (status, body) = world.ready().await;
        (status == 200 && body["data"]["status"] == "ok").then_some(())
    })
    .await;
    load.until_recovered(&[ME, LIST, CREATE, LOGIN], LIMIT)
        .await;
    let ledger = load.stop().await;
    eprintln!("[faults] Redis stopped, then started: {}", ledger.summary());
    assert!(ledger.count_of(LOGIN, "503") >= 1, "{}", ledger.summary());
    ledger.assert_clean();
    world.server.assert_no_panic();
    world.assert_no_lost_or_half_written(&ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_slowed_by_debug_sleep_never_answers_500_and_recovers() {
    let world = World::start(&[]).await;
    let load = Load::start(&world, &LOAD).await;
    load.until_successes(CREATE, 10, LIMIT).await;
    load.until_successes(LOGIN, 1, LIMIT).await;

    // Redis answers nothing for 3 s; the command returns when it wakes.
    let started = std::time::Instant::now();
    tokio::task::block_in_place(|| world.redis.command("DEBUG SLEEP 3")).expect("DEBUG SLEEP");
    assert!(started.elapsed() >= Duration::from_secs(3));

    load.until_recovered(&[ME, LIST, CREATE, LOGIN], LIMIT)
        .await;
    let ledger = load.stop().await;
    eprintln!(
        "[faults] Redis slowed (DEBUG SLEEP 3): {}",
        ledger.summary()
    );
    ledger.assert_clean();
    world.server.assert_no_panic();
    world.assert_no_lost_or_half_written(&ledger).await;
}
