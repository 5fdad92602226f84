//! The guard's in-process cache: warm requests cost no guard statement, and what one instance
//! changes is enforced by every other instance (two routers on one database and one Redis
//! prefix, as two Cloud Run instances) within a second; without a live subscription the guard
//! reads the database on every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::statement_support::{Instance, instances};

const ORG: &str = "acme";

async fn setup(n: usize) -> (Vec<Instance>, Member, Member) {
    let instances = instances(n, &[]).await;
    let app = &instances[0].app;
    create_org(app, ORG, "Acme").await;
    let admin = create_member(app, ORG, MemberSpec::admin("admin@acme.example")).await;
    let member = create_member(app, ORG, MemberSpec::new("member@acme.example")).await;
    (instances, admin, member)
}

/// Polls `check` on `instance` until it answers `status`, failing after one second.
async fn enforced_within_a_second(
    instance: &Instance,
    path: &str,
    session: &Session,
    status: u16,
    message: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (got, body) = instance.get(path, session).await;
        if got == status {
            assert_eq!(body["message"], message, "{body}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {got} after a second: {body}"
        );
        tokio::task::yield_now().await;
    }
}

/// The member's session is cached on `instance`: a GET of /auth/me costs only the handler's
/// statement.
async fn assert_warm(instance: &Instance, session: &Session) {
    let _ = instance.get("/auth/me", session).await;
    let (status, spent, sql) = instance.cost("/auth/me", session).await;
    assert_eq!(status, 200);
    assert_eq!(spent, 0, "warm /auth/me ran {sql:#?}");
}

#[tokio::test]
async fn a_warm_guard_runs_no_statement() {
    let (instances, _admin, member) = setup(1).await;
    let one = &instances[0];
    let session = one.app.sign_in(&member).await;
    one.wait_subscribed(&session).await;

    // The first request may still read (the subscription's new epoch trusts nothing older);
    // after it, /auth/me costs no statement at all, again and again.
    let (status, _, _) = one.cost("/auth/me", &session).await;
    assert_eq!(status, 200);
    for _ in 0..3 {
        let (status, spent, sql) = one.cost("/auth/me", &session).await;
        assert_eq!(status, 200);
        assert_eq!(spent, 0, "warm /auth/me ran {sql:#?}");
    }
    // Another route of the same user in the same org shares the guard's entry: its own read
    // once, then nothing either.
    let (status, spent, sql) = one.cost("/self/context", &session).await;
    assert_eq!(status, 200);
    assert_eq!(spent, 1, "first /self/context ran {sql:#?}");
    let (status, spent, sql) = one.cost("/self/context", &session).await;
    assert_eq!(status, 200);
    assert_eq!(spent, 0, "warm /self/context ran {sql:#?}");
    // A route whose answer is not cached still costs only its own statement.
    let (status, spent, sql) = one.cost("/self/profile", &session).await;
    assert_eq!(status, 200);
    assert_eq!(spent, 1, "warm /self/profile ran {sql:#?}");
    // An invalidation as another instance publishes it makes the next request read again:
    // the guard's check plus the handler's statement.
    one.app
        .cache
        .publish(
            &format!("{}:guard", one.app.redis_prefix),
            &format!("user:{}", member.user_id),
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, spent, sql) = one.cost("/auth/me", &session).await;
        assert_eq!(status, 200);
        if spent == 2 {
            break;
        }
        assert_eq!(spent, 0, "/auth/me ran {sql:#?}");
        assert!(Instant::now() < deadline, "the invalidation never arrived");
        tokio::task::yield_now().await;
    }
    let (_, spent, sql) = one.cost("/auth/me", &session).await;
    assert_eq!(spent, 0, "/auth/me after the re-read ran {sql:#?}");
}

/// Polls `path` on `instance` until `pointer` of its data equals `expected`, failing after a
/// second.
async fn shown_within_a_second(
    instance: &Instance,
    path: &str,
    session: &Session,
    pointer: &str,
    expected: Value,
) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let (status, body) = instance.get(path, session).await;
        assert_eq!(status, 200, "{body}");
        if body["data"].pointer(pointer) == Some(&expected) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still shows {:?} at {pointer} after a second, not {expected}",
            body["data"].pointer(pointer)
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn cached_me_and_context_show_a_change_made_on_another_instance_within_a_second() {
    let (instances, admin, member) = setup(2).await;
    let (a, b) = (&instances[0], &instances[1]);
    let session = a.app.sign_in(&member).await;
    let admin_session = a.app.sign_in(&admin).await;
    a.wait_subscribed(&session).await;
    b.wait_subscribed(&session).await;
    for instance in [a, b] {
        assert_warm(instance, &session).await;
        let _ = instance.get("/self/context", &session).await;
        let (_, spent, sql) = instance.cost("/self/context", &session).await;
        assert_eq!(spent, 0, "warm /self/context ran {sql:#?}");
    }

    // An admin renames the member on A: A shows it at once, B within a second.
    let (status, body) = a
        .send(
            reqwest::Method::PATCH,
            &format!("/org/users/{}/profile", member.membership_id),
            &admin_session,
            json!({"first_name": "Ada", "last_name": "Lovelace"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, me) = a.get("/auth/me", &session).await;
    assert_eq!(me["data"]["full_name"], "Ada Lovelace", "{me}");
    shown_within_a_second(b, "/auth/me", &session, "/full_name", json!("Ada Lovelace")).await;

    // The org's session timeout changes on A: B's cached context shows it within a second.
    let (status, body) = a
        .send(
            reqwest::Method::PUT,
            "/org/settings",
            &admin_session,
            json!({"session_timeout_minutes": 42}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    shown_within_a_second(
        b,
        "/self/context",
        &session,
        "/session_timeout_minutes",
        json!(42),
    )
    .await;
}

#[tokio::test]
async fn disabling_a_member_on_one_instance_is_enforced_on_the_other_within_a_second() {
    let (instances, admin, member) = setup(2).await;
    let (a, b) = (&instances[0], &instances[1]);
    let admin_session = a.app.sign_in(&admin).await;
    let session = a.app.sign_in(&member).await;
    a.wait_subscribed(&admin_session).await;
    b.wait_subscribed(&session).await;
    assert_warm(b, &session).await;

    let (status, body) = a
        .send(
            reqwest::Method::PATCH,
            &format!("/org/users/{}", member.membership_id),
            &admin_session,
            json!({"platform_status": "DISABLED"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    enforced_within_a_second(b, "/auth/me", &session, 403, "Membership is not active").await;
    let (status, _) = a.get("/auth/me", &session).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn revoked_sessions_are_refused_by_both_instances_within_a_second() {
    let (instances, admin, member) = setup(2).await;
    let (a, b) = (&instances[0], &instances[1]);
    let session = a.app.sign_in(&member).await;
    a.wait_subscribed(&session).await;
    b.wait_subscribed(&session).await;
    assert_warm(a, &session).await;
    assert_warm(b, &session).await;

    // Logout ends every session of the identity (token_version bump) on instance A.
    let (status, _) = a
        .send(reqwest::Method::POST, "/auth/logout", &session, json!({}))
        .await;
    assert_eq!(status, 200);
    enforced_within_a_second(b, "/auth/me", &session, 401, "Token revoked").await;
    let (status, body) = a.get("/auth/me", &session).await;
    assert_eq!(
        (status, body["message"].clone()),
        (401, json!("Token revoked"))
    );

    // An admin's forced password reset (another token_version bump) on B reaches A.
    let admin_session = b.app.sign_in(&admin).await;
    let again = a.app.sign_in(&member).await;
    assert_warm(a, &again).await;
    let (status, body) = b
        .send(
            reqwest::Method::POST,
            &format!("/org/users/{}/force-password-reset", member.membership_id),
            &admin_session,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    enforced_within_a_second(a, "/auth/me", &again, 401, "Token revoked").await;
    let (status, _) = b.get("/auth/me", &again).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn role_and_permission_changes_on_one_instance_reach_the_other_within_a_second() {
    let (instances, admin, member) = setup(2).await;
    let (a, b) = (&instances[0], &instances[1]);
    let admin_session = a.app.sign_in(&admin).await;
    // A custom role that lets the member list the org's users.
    let (status, body) = a
        .send(
            reqwest::Method::POST,
            "/roles",
            &admin_session,
            json!({"name": "Directory", "permissions": ["user.view"]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let role_id = body["data"]["id"].as_str().unwrap().to_owned();
    sqlx::query("INSERT INTO user_roles (id, org_id, user_id, role_id) VALUES ($1, $2, $3, $4)")
        .bind(uuid::Uuid::new_v4())
        .bind(ORG)
        .bind(member.user_id)
        .bind(uuid::Uuid::parse_str(&role_id).unwrap())
        .execute(&a.app.db)
        .await
        .unwrap();
    let session = b.app.sign_in(&member).await;
    a.wait_subscribed(&admin_session).await;
    b.wait_subscribed(&session).await;
    let (status, body) = b.get("/org/users?page_size=20", &session).await;
    assert_eq!(status, 200, "{body}");
    let (status, spent, sql) = b.cost("/org/users?page_size=20", &session).await;
    assert_eq!(status, 200);
    assert_eq!(spent, 1, "warm /org/users ran {sql:#?}");

    // The role loses the permission on A: B refuses within a second.
    let (status, body) = a
        .send(
            reqwest::Method::PATCH,
            &format!("/roles/{role_id}"),
            &admin_session,
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    enforced_within_a_second(
        b,
        "/org/users?page_size=20",
        &session,
        403,
        "Missing permission: user.view",
    )
    .await;

    // It gets it back, B lets the member in again; then the role is taken from the member.
    let (status, body) = a
        .send(
            reqwest::Method::PATCH,
            &format!("/roles/{role_id}"),
            &admin_session,
            json!({"permissions": ["user.view"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(1);
    while b.get("/org/users?page_size=20", &session).await.0 != 200 {
        assert!(Instant::now() < deadline, "permission never came back on B");
        tokio::task::yield_now().await;
    }
    let (status, body) = a
        .send(
            reqwest::Method::DELETE,
            &format!("/roles/org/users/{}/roles", member.membership_id),
            &admin_session,
            json!({"role_ids": [role_id]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    enforced_within_a_second(
        b,
        "/org/users?page_size=20",
        &session,
        403,
        "Missing permission: user.view",
    )
    .await;
}

/// A TCP relay to Redis that the test can cut, as a network failure would.
struct RedisRelay {
    port: u16,
    accept: JoinHandle<()>,
    pipes: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl RedisRelay {
    async fn start() -> Self {
        let upstream = url::Url::parse(&crate::helpers::redis_url()).unwrap();
        let target = format!(
            "{}:{}",
            upstream.host_str().unwrap_or("127.0.0.1"),
            upstream.port().unwrap_or(6379)
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let pipes: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let held = Arc::clone(&pipes);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let Ok(mut server) = TcpStream::connect(&target).await else {
                    continue;
                };
                held.lock().await.push(tokio::spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }));
            }
        });
        Self {
            port,
            accept,
            pipes,
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection and refuses new ones.
    async fn cut(&self) {
        self.accept.abort();
        for pipe in self.pipes.lock().await.drain(..) {
            pipe.abort();
        }
    }
}

#[tokio::test]
async fn with_redis_lost_the_guard_reads_the_database_on_every_request() {
    let relay = RedisRelay::start().await;
    let instances = instances(1, &[("REDIS_URL", &relay.url())]).await;
    let one = &instances[0];
    create_org(&one.app, ORG, "Acme").await;
    let member = create_member(&one.app, ORG, MemberSpec::new("member@acme.example")).await;
    let session = one.app.sign_in(&member).await;
    one.wait_subscribed(&session).await;
    assert_warm(one, &session).await;

    relay.cut().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while one.pubsub_state().await == "subscribed" {
        assert!(Instant::now() < deadline, "the loss was never noticed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Every request reads the database now: two statements for /auth/me, every time.
    for _ in 0..2 {
        let (status, spent, sql) = one.cost("/auth/me", &session).await;
        assert_eq!(status, 200);
        assert_eq!(spent, 2, "/auth/me without a subscription ran {sql:#?}");
    }
    // A change nobody announces (the legacy service, or a publish lost with Redis) is seen
    // on the very next request.
    sqlx::query("UPDATE org_memberships SET platform_status = 'DISABLED' WHERE id = $1")
        .bind(member.membership_id)
        .execute(&one.app.db)
        .await
        .unwrap();
    let (status, body) = one.get("/auth/me", &session).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["message"], "Membership is not active");
}

#[tokio::test]
async fn a_write_nobody_announces_is_seen_once_the_ttl_runs_out() {
    let instances = instances(1, &[("GUARD_CACHE_TTL_SECONDS", "2")]).await;
    let one = &instances[0];
    create_org(&one.app, ORG, "Acme").await;
    let member = create_member(&one.app, ORG, MemberSpec::new("member@acme.example")).await;
    let session = one.app.sign_in(&member).await;
    one.wait_subscribed(&session).await;
    // The guard caches the member, then a write lands straight in the database, as the legacy
    // service makes them (no publish).
    let start = Instant::now();
    assert_warm(one, &session).await;
    sqlx::query("UPDATE org_memberships SET platform_status = 'DISABLED' WHERE id = $1")
        .bind(member.membership_id)
        .execute(&one.app.db)
        .await
        .unwrap();
    loop {
        let (status, _) = one.get("/auth/me", &session).await;
        if status == 403 {
            break;
        }
        // The TTL (2 s) and one request's worth of slack.
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "a cached entry outlived its TTL"
        );
        tokio::task::yield_now().await;
    }
}
