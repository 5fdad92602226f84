//! The loan-application tests' world (contract `domain-loans.md` §16): the recording's actors
//! with their grants on the recording day, and the replay of recorded exchanges that maps the
//! recording's ids to ours. Used by loan_applications.rs and loan_goldens.rs.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use sole::domain::decimal::DecimalInput;
use sole::domain::stock::values::VestingStrategy;
use sole::domain::stock::vesting::{Schedule, VestingEvent};
use sole::services::stock::grants::{NewGrant, create};
use time::Date;
use time::macros::date;
use uuid::Uuid;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, expect_sample, sample, spawn_app_on};

pub const FILE: &str = "domain-loans.json";

pub const ORG: &str = "sole-llc";

pub const TODAY: Date = date!(2026 - 12 - 07);

/// The nine self-service loan codes denied to `noperm` in the recording.
const DENIED: &[&str] = &[
    "loan.apply",
    "loan.view_own",
    "loan.cancel_own",
    "loan.document.self_view",
    "loan.document.self_upload_83b",
    "loan.schedule.self.view",
    "loan.payment.self.view",
    "loan.what_if.self.simulate",
    "loan.export.self",
];

/// The recording's world (§16): the admin, the borrower B (G1 4000 @ 2.50 vesting 1000 a year
/// from 2024-01-15, G2 1000 @ 4.125 immediate), the married M (G3 500 @ 3.00), N without
/// grants and D with the self-service loan codes denied; the clock on the recording day.
pub struct LoanWorld {
    pub app: TestApp,
    pub members: HashMap<&'static str, Member>,
    sessions: Mutex<HashMap<&'static str, Session>>,
    /// Recorded id → ours, learned from the answers.
    pub ids: Mutex<HashMap<String, String>>,
}

async fn grant(
    app: &TestApp,
    who: &Member,
    day: Date,
    total: i64,
    price: &str,
    events: &[(Date, i64)],
) {
    let mut conn = app.db.acquire().await.unwrap();
    let schedule = Schedule {
        strategy: if events.is_empty() {
            VestingStrategy::Immediate
        } else {
            VestingStrategy::Scheduled
        },
        grant_date: day,
        total_shares: total,
        events: events
            .iter()
            .map(|&(vest_date, shares)| VestingEvent { vest_date, shares })
            .collect(),
    };
    create(
        &mut conn,
        ORG,
        who.membership_id,
        &NewGrant {
            schedule: &schedule,
            exercise_price: &DecimalInput::parse(price).unwrap(),
            notes: None,
        },
    )
    .await
    .unwrap();
}

impl LoanWorld {
    pub async fn new() -> Self {
        let app = spawn_app_on(TODAY).await;
        create_org(&app, ORG, "SOLE LLC").await;
        create_org(&app, "acme-corp", "Acme").await;
        let mut members = HashMap::new();
        members.insert(
            "admin",
            create_member(
                &app,
                ORG,
                MemberSpec::admin("admin@example.com").superuser(),
            )
            .await,
        );
        for (who, email, marital) in [
            ("borrower", "golden.borrower@example.com", "SINGLE"),
            ("married", "golden.married@example.com", "MARRIED"),
            ("nogrant", "golden.nogrant@example.com", "SINGLE"),
            ("noperm", "golden.noperm@example.com", "SINGLE"),
        ] {
            // The borrower enrolled MFA in the recording (for the step-up samples); the admin
            // answers name it.
            let mut spec = MemberSpec::new(email).mfa(who == "borrower");
            if who == "borrower" {
                spec = spec.full_name("Golden Borrower");
            }
            let m = create_member(&app, ORG, spec).await;
            sqlx::query(
                "UPDATE org_memberships SET employment_start_date = '2020-01-01', \
                 employee_id = CASE WHEN $2 THEN 'GOLD-LOAN-001' ELSE employee_id END WHERE id = $1",
            )
            .bind(m.membership_id)
            .bind(who == "borrower")
            .execute(&app.db)
            .await
            .unwrap();
            sqlx::query(
                "UPDATE org_user_profiles SET marital_status = $2 WHERE membership_id = $1",
            )
            .bind(m.membership_id)
            .bind(marital)
            .execute(&app.db)
            .await
            .unwrap();
            members.insert(who, m);
        }
        sqlx::query(
            "INSERT INTO user_permissions (id, org_id, user_id, permissions, effect) \
             VALUES ($1, $2, $3, $4, 'deny')",
        )
        .bind(Uuid::new_v4())
        .bind(ORG)
        .bind(members["noperm"].user_id)
        .bind(sqlx::types::Json(json!(DENIED)))
        .execute(&app.db)
        .await
        .unwrap();
        let b = &members["borrower"];
        grant(
            &app,
            b,
            date!(2023 - 01 - 15),
            4000,
            "2.50",
            &[
                (date!(2024 - 01 - 15), 1000),
                (date!(2025 - 01 - 15), 1000),
                (date!(2026 - 01 - 15), 1000),
                (date!(2027 - 01 - 15), 1000),
            ],
        )
        .await;
        grant(&app, b, date!(2025 - 03 - 01), 1000, "4.125", &[]).await;
        grant(
            &app,
            &members["married"],
            date!(2025 - 06 - 01),
            500,
            "3.00",
            &[],
        )
        .await;
        Self {
            app,
            members,
            sessions: Mutex::new(HashMap::new()),
            ids: Mutex::new(HashMap::new()),
        }
    }

    pub async fn session(&self, who: &'static str) -> Session {
        if let Some(s) = self.sessions.lock().unwrap().get(who) {
            return s.clone();
        }
        let s = self.app.sign_in(&self.members[who]).await;
        self.sessions.lock().unwrap().insert(who, s.clone());
        s
    }

    pub async fn settings(&self, assignments: &str) {
        crate::fixtures::set_org_settings(&self.app, ORG, assignments).await;
    }

    /// The settings of the recording from sample 4 on, and the PBGC table of its fixture.
    pub async fn loan_policy(&self) {
        self.settings(
            "fixed_interest_rate_annual_percent = 6.5, variable_margin_annual_percent = 1.125, \
             min_loan_term_months = 6, max_loan_term_months = 60, policy_version = 3",
        )
        .await;
        let html = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/pbgc/mid-term-rates.html"),
        )
        .unwrap();
        let parsed = sole::domain::loans::pbgc::parse_rates_page(&html, 2026).unwrap();
        let mut conn = self.app.db.acquire().await.unwrap();
        sole::services::loans::pbgc::store(
            &mut conn,
            &parsed,
            "http://fixture",
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    }

    fn translate(&self, text: &str) -> String {
        let ids = self.ids.lock().unwrap();
        let mut out = text.to_owned();
        for (recorded, ours) in ids.iter() {
            out = out.replace(recorded.as_str(), ours);
        }
        out
    }

    pub fn ours(&self, recorded: &str) -> String {
        self.translate(recorded)
    }

    /// Sends a request as `who` (`None`: no token).
    pub async fn call(
        &self,
        who: Option<&'static str>,
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

    /// Sends the recorded request `name` as `who` and returns our answer, unchecked.
    pub async fn send(&self, name: &str, who: Option<&'static str>) -> (u16, Value, Value) {
        self.send_with(name, who, &[]).await
    }

    /// [`LoanWorld::send`] with extra request headers (e.g. `X-Step-Up-Token`).
    pub async fn send_with(
        &self,
        name: &str,
        who: Option<&'static str>,
        extra: &[(&str, &str)],
    ) -> (u16, Value, Value) {
        let s = sample(FILE, name);
        let req = &s["request"];
        let path = self.translate(req["path"].as_str().unwrap().trim_start_matches("/api/v1"));
        let query: Vec<String> = req["query"]
            .as_object()
            .map(|q| {
                q.iter()
                    .flat_map(|(k, v)| match v {
                        Value::Array(items) => items
                            .iter()
                            .map(|i| format!("{k}={}", i.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>(),
                        Value::String(s) => vec![format!("{k}={s}")],
                        other => vec![format!("{k}={other}")],
                    })
                    .collect()
            })
            .unwrap_or_default();
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        };
        let org = req["headers"]["X-Org-Id"].as_str();
        let key = req["headers"]["Idempotency-Key"].as_str();
        let mut headers: Vec<(&str, &str)> =
            key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        headers.extend_from_slice(extra);
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
                &headers,
            )
            .await;
        (status, ours, s["response"].clone())
    }

    /// Replays `name` and checks status and body against the recording, except at the JSON
    /// pointers in `skip` (ids and times only need to be ids and times).
    pub async fn replay_skipping(
        &self,
        name: &str,
        who: Option<&'static str>,
        skip: &[&str],
    ) -> Value {
        self.replay_with(name, who, skip, &[]).await
    }

    /// [`LoanWorld::replay_skipping`] with extra request headers.
    pub async fn replay_with(
        &self,
        name: &str,
        who: Option<&'static str>,
        skip: &[&str],
        headers: &[(&str, &str)],
    ) -> Value {
        let (status, ours, _) = self.send_with(name, who, headers).await;
        self.expect(name, status, &ours, skip);
        ours
    }

    /// Checks an answer obtained otherwise against the recording `name` (status, then the body
    /// except at the JSON pointers in `skip`) and learns the ids met.
    pub fn expect(&self, name: &str, status: u16, ours: &Value, skip: &[&str]) {
        let learned = expect_sample(FILE, name, status, ours, skip);
        let mut ids = self.ids.lock().unwrap();
        for (recorded, mine) in learned {
            ids.entry(recorded).or_insert(mine);
        }
    }

    pub async fn replay(&self, name: &str, who: Option<&'static str>) -> Value {
        self.replay_skipping(name, who, &[]).await
    }
}
