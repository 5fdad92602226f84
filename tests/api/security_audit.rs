//! Accountability across tenants (issue 13): a superuser acting in an org other than its
//! session's writes an audit row there naming the superuser and its own org; a refused
//! cross-tenant attempt is logged with the actor, the token's org and the requested org.

use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::{TestApp, spawn_app};

const ORG_A: &str = "acme";
const ORG_B: &str = "globex";

/// The cross-org audit rows of `org`: (actor_id, new_value).
async fn cross_org_rows(app: &TestApp, org: &str) -> Vec<(uuid::Uuid, Value)> {
    sqlx::query_as::<_, (uuid::Uuid, sqlx::types::Json<Value>)>(
        "SELECT actor_id, new_value FROM audit_logs \
         WHERE org_id = $1 AND action = 'superuser.cross_org_access' ORDER BY created_at",
    )
    .bind(org)
    .fetch_all(&app.db)
    .await
    .unwrap()
    .into_iter()
    .map(|(a, v)| (a, v.0))
    .collect()
}

#[tokio::test]
async fn security_a_superuser_in_another_org_leaves_an_audit_row_there() {
    let app = spawn_app().await;
    create_org(&app, ORG_A, "Acme Inc").await;
    create_org(&app, ORG_B, "Globex").await;
    let root = create_member(
        &app,
        ORG_A,
        MemberSpec::admin("root@acme.example.com").superuser(),
    )
    .await;
    let root_s = app.sign_in(&root).await;
    let b_admin = create_member(&app, ORG_B, MemberSpec::admin("boss@globex.example.com")).await;
    let b_admin_s = app.sign_in(&b_admin).await;

    // In its own org, and an org admin in theirs: no extra rows.
    assert_eq!(
        app.call("GET", "/org/users")
            .token(&root_s.access)
            .org(ORG_A)
            .fetch()
            .await
            .0,
        200
    );
    assert_eq!(
        app.call("GET", "/org/users")
            .token(&b_admin_s.access)
            .org(ORG_B)
            .fetch()
            .await
            .0,
        200
    );
    assert!(cross_org_rows(&app, ORG_A).await.is_empty());
    assert!(cross_org_rows(&app, ORG_B).await.is_empty());

    // Reading org B's data: one row in org B naming the superuser and its own org.
    assert_eq!(
        app.call("GET", "/org/users")
            .token(&root_s.access)
            .org(ORG_B)
            .fetch()
            .await
            .0,
        200
    );
    let rows = cross_org_rows(&app, ORG_B).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, root.user_id);
    assert_eq!(
        rows[0].1,
        json!({"actor_org_id": ORG_A, "method": "GET", "path": "/api/v1/org/users"})
    );
    assert!(cross_org_rows(&app, ORG_A).await.is_empty());
}

/// Every event logged in this process, as its fields (tests run one per process under
/// nextest; under `cargo test` the events of other tests are filtered out by their values).
fn logged() -> &'static Mutex<Vec<Map<String, Value>>> {
    static EVENTS: OnceLock<Mutex<Vec<Map<String, Value>>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other logger in this test process (unset TEST_LOG)");
        Mutex::new(Vec::new())
    })
}

struct Capture;

struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), json!(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), json!(format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        fields
            .0
            .insert("level".into(), json!(event.metadata().level().to_string()));
        logged().lock().unwrap().push(fields.0);
    }
}

#[tokio::test]
async fn security_a_refused_cross_tenant_attempt_is_logged_with_actor_and_both_orgs() {
    logged();
    let app = spawn_app().await;
    create_org(&app, ORG_A, "Acme Inc").await;
    create_org(&app, ORG_B, "Globex").await;
    let a_admin = create_member(&app, ORG_A, MemberSpec::admin("boss@acme.example.com")).await;
    let s = app.sign_in(&a_admin).await;

    assert_eq!(
        app.call("GET", "/org/users")
            .token(&s.access)
            .org(ORG_B)
            .fetch()
            .await
            .0,
        403
    );
    let sub = a_admin.user_id.to_string();
    let events = logged().lock().unwrap().clone();
    let refusals: Vec<_> = events
        .iter()
        .filter(|e| e.get("actor_user_id") == Some(&json!(sub)))
        .collect();
    assert_eq!(refusals.len(), 1, "{events:?}");
    let e = refusals[0];
    assert_eq!(e["message"], "cross-tenant request refused");
    assert_eq!(e["level"], "WARN");
    assert_eq!(e["token_org"], ORG_A);
    assert_eq!(e["requested_org"], ORG_B);
    assert_eq!(
        e["actor_identity_id"],
        json!(a_admin.identity_id.to_string())
    );
}
