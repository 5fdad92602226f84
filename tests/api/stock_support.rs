//! The stock tests' world: the org `sole-llc` as the legacy golden samples were recorded in it
//! (the seed's demo people with their start dates and demo grants, the admin, an HR user, an
//! onboarded user still INVITED), the app's clock on the recording day, and a replay of
//! recorded exchanges that maps the recording's ids to this world's.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};
use sole::domain::stock::reservations::Allocation;
use sole::services::seed::data::SeedData;
use sole::services::stock::reservations;
use time::Date;
use time::macros::date;
use uuid::Uuid;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, expect_sample, sample, spawn_app_on};

pub const FILE: &str = "domain-stock.json";
pub const ORG: &str = "sole-llc";
/// The day the samples were recorded.
pub const TODAY: Date = date!(2026 - 12 - 07);

/// Recorded membership ids → demo people.
const RECORDED_MEMBERS: &[(&str, &str)] = &[
    ("880981c5-61d4-4ffc-9d93-3a7c226519d3", "evan.chen"),
    ("4a6c5eb5-362d-47e6-9083-14e37f01f3de", "priya.sharma"),
    ("bff62fd9-f6bb-49c6-b05c-956752839a82", "robert.kim"),
    ("97d6a826-97e1-4fa2-80b2-32360798e8d0", "daniel.okafor"),
    ("02a6ec3c-0ace-44b1-a7b4-c8e6722c3962", "admin"),
    ("9414a3be-ad87-4f80-aceb-ddcc875dbbe3", "pending"),
];

pub struct World {
    pub app: TestApp,
    /// By short name: the demo people (`evan.chen`, …), `admin`, `pending`.
    pub members: HashMap<String, Member>,
    sessions: Mutex<HashMap<String, Session>>,
    /// Recorded id → this world's id.
    ids: Mutex<HashMap<String, String>>,
}

impl World {
    /// The world on the recording day.
    pub async fn new() -> Self {
        Self::on(spawn_app_on(TODAY).await).await
    }

    /// The same world on a server without Redis (the in-process cache).
    pub async fn without_redis() -> Self {
        let db_name = crate::helpers::fresh_database().await;
        let prefix = format!("test:{}", Uuid::new_v4().simple());
        let mut env = crate::helpers::base_env(&db_name, &prefix);
        env.overlay(sole::config::EnvMap::from_pairs([(
            "REDIS_URL",
            String::new(),
        )]));
        let app = crate::helpers::spawn_with(
            env,
            db_name,
            prefix,
            sole::clock::Clock::fixed(TODAY),
            |_| {},
        )
        .await;
        Self::on(app).await
    }

    async fn on(app: TestApp) -> Self {
        create_org(&app, ORG, "SOLE LLC").await;
        let data =
            SeedData::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"))
                .expect("seed data");
        let mut members = HashMap::new();
        let admin = create_member(
            &app,
            ORG,
            // The seeded superuser's name, as audit rows show it.
            MemberSpec::admin("admin@example.com")
                .superuser()
                .full_name("Admin User"),
        )
        .await;
        members.insert("admin".to_owned(), admin);
        let mut conn = app.db.acquire().await.unwrap();
        members.extend(seed_demo_people(&app, ORG, &data, &mut conn).await);
        let pending = create_member(
            &app,
            ORG,
            MemberSpec::new("stock.pending@example.com").statuses("ACTIVE", "INVITED", "PENDING"),
        )
        .await;
        sqlx::query(
            "UPDATE org_memberships SET employment_start_date = '2025-03-01' WHERE id = $1",
        )
        .bind(pending.membership_id)
        .execute(&mut *conn)
        .await
        .unwrap();
        members.insert("pending".to_owned(), pending);
        drop(conn);
        let mut ids = HashMap::new();
        for (recorded, who) in RECORDED_MEMBERS {
            ids.insert(
                (*recorded).to_owned(),
                members[*who].membership_id.to_string(),
            );
        }
        Self {
            app,
            members,
            sessions: Mutex::new(HashMap::new()),
            ids: Mutex::new(ids),
        }
    }

    pub fn member(&self, who: &str) -> &Member {
        &self.members[who]
    }

    pub async fn session(&self, who: &str) -> Session {
        if let Some(s) = self.sessions.lock().unwrap().get(who) {
            return s.clone();
        }
        let s = self.app.sign_in(self.member(who)).await;
        self.sessions
            .lock()
            .unwrap()
            .insert(who.to_owned(), s.clone());
        s
    }

    /// Our id for a recorded id (unknown ids pass through).
    pub fn map_id(&self, recorded: &str) -> String {
        self.ids
            .lock()
            .unwrap()
            .get(recorded)
            .cloned()
            .unwrap_or_else(|| recorded.to_owned())
    }

    /// Recorded ids in `text` replaced by ours.
    pub fn translate(&self, text: &str) -> String {
        let ids = self.ids.lock().unwrap();
        let mut out = text.to_owned();
        for (recorded, ours) in ids.iter() {
            out = out.replace(recorded.as_str(), ours);
        }
        out
    }

    /// Sends a request as `who` (`None`: no token), in `org` when given.
    pub async fn call(
        &self,
        who: Option<&str>,
        org: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let token = match who {
            Some(who) => Some(self.session(who).await.access),
            None => None,
        };
        self.app
            .call(method, path)
            .maybe_token(token.as_deref())
            .maybe_org(org)
            .headers(headers)
            .maybe_json(body)
            .fetch()
            .await
    }

    /// Replays the recorded exchange `name` as `who` (`None`: without a token) and checks the
    /// answer against the recording: status, and the body with [`assert_like`] except at the
    /// JSON pointers in `skip`. Returns our body.
    pub async fn replay_skipping(&self, name: &str, who: Option<&str>, skip: &[&str]) -> Value {
        self.replay_with(name, who, skip, &[]).await
    }

    /// [`World::replay_skipping`] with extra request headers (e.g. `X-Step-Up-Token`).
    pub async fn replay_with(
        &self,
        name: &str,
        who: Option<&str>,
        skip: &[&str],
        headers: &[(&str, &str)],
    ) -> Value {
        let s = sample(FILE, name);
        let req = &s["request"];
        let path = self.translate(req["path"].as_str().unwrap().trim_start_matches("/api/v1"));
        let query: Vec<String> = req["query"]
            .as_object()
            .map(|q| {
                q.iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => format!("{k}={s}"),
                        other => format!("{k}={other}"),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let path = if query.is_empty() {
            path
        } else {
            // Query values may name recorded ids too (e.g. an audit log `resource_id`).
            format!("{path}?{}", self.translate(&query.join("&")))
        };
        let org = req["headers"]["X-Org-Id"].as_str();
        let body = match &req["body"] {
            Value::Null => None,
            b => Some(serde_json::from_str(&self.translate(&b.to_string())).unwrap()),
        };
        let (status, ours) = self
            .call(
                who,
                org,
                req["method"].as_str().unwrap(),
                &path,
                body,
                headers,
            )
            .await;
        self.expect(name, status, &ours, skip);
        ours
    }

    /// Checks an answer obtained otherwise against the recording `name`: status, and the body
    /// with [`assert_like`] except at the JSON pointers in `skip`; learns the ids met.
    pub fn expect(&self, name: &str, status: u16, ours: &Value, skip: &[&str]) {
        let learned = expect_sample(FILE, name, status, ours, skip);
        let mut ids = self.ids.lock().unwrap();
        for (recorded, mine) in learned {
            ids.entry(recorded).or_insert(mine);
        }
    }

    pub async fn replay(&self, name: &str, who: Option<&str>) -> Value {
        self.replay_skipping(name, who, &[]).await
    }

    /// Writes a deny row of `code` for `who` (the recording's sarah and lisa).
    pub async fn deny(&self, who: &str, code: &str) {
        let m = self.member(who);
        sqlx::query(
            "INSERT INTO user_permissions (id, org_id, user_id, permissions, effect) \
             VALUES ($1, $2, $3, $4, 'deny')",
        )
        .bind(Uuid::new_v4())
        .bind(ORG)
        .bind(m.user_id)
        .bind(sqlx::types::Json(json!([code])))
        .execute(&self.app.db)
        .await
        .unwrap();
    }

    /// Sets columns of the org's settings row directly.
    pub async fn settings(&self, assignments: &str) {
        crate::fixtures::set_org_settings(&self.app, ORG, assignments).await;
    }
}

/// The seed's demo people with grants, their start dates, profiles and grants, in `org`.
async fn seed_demo_people(
    app: &TestApp,
    org: &str,
    data: &SeedData,
    conn: &mut sqlx::pool::PoolConnection<sqlx::Postgres>,
) -> HashMap<String, Member> {
    let mut members = HashMap::new();
    for user in data
        .demo_users
        .iter()
        .filter(|u| !u.stock_grants.is_empty())
    {
        let email = user.email_for(org);
        let roles: Vec<&'static str> = user.roles.iter().map(|r| r.stored_name()).collect();
        // Holders of sensitive permissions must have MFA enrolled to sign in.
        let employee_only = roles == ["EMPLOYEE"];
        let member = create_member(
            app,
            org,
            MemberSpec::new(&email).roles(&roles).mfa(!employee_only),
        )
        .await;
        let p = &user.profile;
        sqlx::query("UPDATE org_memberships SET employment_start_date = $2 WHERE id = $1")
            .bind(member.membership_id)
            .bind(user.employment_start_date)
            .execute(&mut **conn)
            .await
            .unwrap();
        sqlx::query(
            "UPDATE org_user_profiles SET phone_number = $2, timezone = $3, marital_status = $4, \
             country = $5, state = $6, address_line1 = $7, postal_code = $8 WHERE membership_id = $1",
        )
        .bind(member.membership_id)
        .bind(&p.phone_number)
        .bind(&p.timezone)
        .bind(&p.marital_status)
        .bind(&p.country)
        .bind(&p.state)
        .bind(&p.address_line1)
        .bind(&p.postal_code)
        .execute(&mut **conn)
        .await
        .unwrap();
        for grant in &user.stock_grants {
            sole::services::stock::grants::create(
                conn,
                org,
                member.membership_id,
                &sole::services::stock::grants::NewGrant {
                    schedule: &grant.schedule,
                    exercise_price: &grant.exercise_price,
                    notes: grant.notes.as_deref(),
                },
            )
            .await
            .unwrap();
        }
        let short = email.split('@').next().unwrap().to_owned();
        members.insert(short, member);
    }
    members
}

/// A second org seeded like `sole-llc` (the recording's `acme-corp`): the admin identity as
/// its ORG ADMIN and the demo people with their grants.
pub async fn seed_second_org(app: &TestApp, org: &str) -> Member {
    create_org(app, org, "Acme Corp").await;
    let admin = create_member(app, org, MemberSpec::admin("admin@example.com")).await;
    let data = SeedData::load_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds"))
        .expect("seed data");
    let mut conn = app.db.acquire().await.unwrap();
    seed_demo_people(app, org, &data, &mut conn).await;
    admin
}

/// The audit rows of a grant, oldest first: `(action, changes, summary, old, new)`.
pub async fn audit_rows(
    app: &TestApp,
    grant_id: &str,
) -> Vec<(String, Option<Value>, String, Option<Value>, Option<Value>)> {
    sqlx::query_as::<
        _,
        (
            String,
            Option<sqlx::types::Json<Value>>,
            String,
            Option<sqlx::types::Json<Value>>,
            Option<sqlx::types::Json<Value>>,
        ),
    >(
        "SELECT action, changes, summary, old_value, new_value FROM audit_logs WHERE org_id = $1 \
         AND resource_type = 'employee_stock_grant' AND resource_id = $2 ORDER BY created_at, id",
    )
    .bind(ORG)
    .bind(grant_id)
    .fetch_all(&app.db)
    .await
    .unwrap()
    .into_iter()
    .map(|(a, c, s, o, n)| (a, c.map(|j| j.0), s, o.map(|j| j.0), n.map(|j| j.0)))
    .collect()
}

/// `data` of a body.
pub fn data(body: &Value) -> &Map<String, Value> {
    body["data"].as_object().expect("data is an object")
}

const ADMIN: Option<&str> = Some("admin");

/// The writes of the recording's grant history (creates and patches), in order.
pub async fn replay_grant_history(w: &World) {
    for name in [
        "create SCHEDULED grant 201 (exercise_price echoed as sent, events sorted by vest_date)",
        "create IMMEDIATE grant 201 without events (one event generated at grant_date)",
        "patch notes only",
        "patch empty body (no change, still 200 and audited)",
        "patch replace vesting_events",
        "patch total_shares together with new events",
        "patch switch to IMMEDIATE with a single matching event",
        "patch status CANCELLED",
        "patch status back to ACTIVE (no state machine)",
        "patch as the frontend edit dialog sends it for an IMMEDIATE grant (status + notes)",
    ] {
        w.replay(name, ADMIN).await;
    }
}

/// A loan application of `membership_id` for `shares` (the NOT NULL columns, and the figures
/// of the recorded ACTIVE loan: 19000 at 6 % over 12 months, principal and interest).
pub(crate) async fn loan(w: &World, membership_id: Uuid, shares: i64, status: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO loan_applications (id, org_id, org_membership_id, status, version, as_of_date, \
         selection_mode, selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot, \
         purchase_price, down_payment_amount, loan_principal, interest_type, repayment_method, term_months, \
         nominal_annual_rate_percent, estimated_monthly_payment, total_payable_amount, total_interest_amount, \
         quote_inputs_snapshot, quote_option_snapshot, allocation_strategy, allocation_snapshot, \
         org_settings_snapshot, eligibility_result_snapshot) VALUES ($1, $2, $3, $4, 1, $5, \
         'SHARES', $6, $6, $6, 19000, 0, 19000, 'FIXED', 'PRINCIPAL_AND_INTEREST', 12, 6, 1635.26, \
         19623.12, 623.12, '{}', '{}', 'OLDEST_VESTED_FIRST', '[]', '{}', '{}')",
    )
    .bind(id)
    .bind(ORG)
    .bind(membership_id)
    .bind(status)
    .bind(TODAY)
    .bind(shares)
    .execute(&w.app.db)
    .await
    .unwrap();
    id
}

/// The id of `who`'s grant dated `grant_date`.
pub(crate) async fn grant_of(w: &World, who: &str, grant_date: Date) -> Uuid {
    sqlx::query_scalar(
        "SELECT id FROM employee_stock_grants WHERE org_membership_id = $1 AND grant_date = $2",
    )
    .bind(w.member(who).membership_id)
    .bind(grant_date)
    .fetch_one(&w.app.db)
    .await
    .unwrap()
}

/// Reserves `shares` of `grant` for `loan` and commits, as the loan submission does.
pub(crate) async fn reserve(w: &World, who: &str, loan: Uuid, grant: Uuid, shares: i64) {
    let mut tx = w.app.db.begin().await.unwrap();
    reservations::reserve(
        &mut tx,
        ORG,
        w.member(who).membership_id,
        loan,
        &[Allocation {
            grant_id: grant,
            shares,
        }],
        "SUBMITTED",
        TODAY,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}
