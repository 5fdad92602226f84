//! The loan administration tests' world: org `sole-llc` as the legacy samples were recorded
//! in it (contract §15): a borrower with one 1000-share grant at 10.00 vesting at once, the
//! reviewers HR, finance and legal, a superuser admin, and loans A (SHARES 400, P&I, 6 months,
//! SUBMITTED), B (PERCENT 30, BALLOON, 12 months, SUBMITTED) and C (DRAFT) written as the
//! employee routes leave them: the row, its reservations and its three PENDING core stages.
//! The app's clock is on the recording day.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};
use sole::domain::decimal::DecimalInput;
use sole::domain::stock::schedule::build_schedule;
use sole::domain::stock::values::VestingStrategy;
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, expect_recorded, sample};

pub const FILE: &str = "domain-loan-admin.json";
pub const ORG: &str = "sole-llc";
pub const OTHER_ORG: &str = "other-org";
pub const TODAY: Date = date!(2026 - 12 - 07);

pub const LOAN_A: &str = "fd8e7ce4-2674-4855-a123-0c934ed6d552";
pub const LOAN_B: &str = "634ecee2-eb7c-4fa5-b401-e2bc6144d6db";
pub const LOAN_C: &str = "f6cac322-51b2-4367-b949-893e08d3199a";

/// Recorded user ids → our people.
const RECORDED_USERS: &[(&str, &str)] = &[
    ("04a2b458-f447-4d8e-983b-716f9253c505", "borrower"),
    ("defbd0fa-a1da-4fe0-be41-2722c5712bdc", "hr"),
    ("6ebaeb0b-ca41-4bfd-889e-cca5caf8431f", "finance"),
    ("9b39e3a9-8536-4fe4-a966-8e50c7e25011", "legal"),
    ("bba19c98-3214-4541-bfe2-5066bad71c9a", "admin"),
    ("a81275e4-5552-42e8-b279-57d9b4756f9b", "outsider"),
];

pub struct World {
    pub app: TestApp,
    /// `LOCAL_UPLOAD_DIR` of the app: stored files live (and die) with the test.
    pub uploads: tempfile::TempDir,
    pub members: HashMap<String, Member>,
    pub grant_id: Uuid,
    /// Our loan ids by letter.
    pub loans: HashMap<char, Uuid>,
    sessions: Mutex<HashMap<String, Session>>,
    ids: Mutex<HashMap<String, String>>,
}

/// The app on the recording day, its local storage under `uploads`, uploads capped at 1 MB.
async fn spawn_app_with_uploads(uploads: &std::path::Path) -> TestApp {
    let db_name = crate::helpers::fresh_database().await;
    let redis_prefix = format!("test:{}", Uuid::new_v4().simple());
    let mut env = crate::helpers::base_env(&db_name, &redis_prefix);
    env.overlay(sole::config::EnvMap::from_pairs([
        ("LOCAL_UPLOAD_DIR", uploads.to_str().unwrap().to_owned()),
        ("MAX_UPLOAD_SIZE_MB", "1".to_owned()),
    ]));
    crate::helpers::spawn_with(
        env,
        db_name,
        redis_prefix,
        sole::clock::Clock::fixed(TODAY),
        |_| {},
    )
    .await
}

fn spec(email: &str, name: &str, roles: &[&'static str]) -> MemberSpec {
    MemberSpec::new(email)
        .roles(roles)
        .mfa(roles != ["EMPLOYEE"])
        .full_name(name)
}

impl World {
    pub async fn new() -> Self {
        let uploads = tempfile::tempdir().unwrap();
        let app = spawn_app_with_uploads(uploads.path()).await;
        create_org(&app, ORG, "SOLE LLC").await;
        create_org(&app, OTHER_ORG, "Other Org").await;
        crate::fixtures::set_org_settings(
            &app,
            ORG,
            "allowed_interest_types = '[\"FIXED\"]', fixed_interest_rate_annual_percent = 6, \
             allowed_repayment_methods = '[\"BALLOON\", \"PRINCIPAL_AND_INTEREST\"]', \
             min_loan_term_months = 6, max_loan_term_months = 60, policy_version = 2",
        )
        .await;
        let mut members = HashMap::new();
        let people: [(&str, MemberSpec); 5] = [
            (
                "borrower",
                spec("loan.borrower@example.com", "Bella Borrower", &["EMPLOYEE"]),
            ),
            (
                "hr",
                spec(
                    "loan.hr@example.com",
                    "Hannah Reviewer",
                    &["Human Resource"],
                ),
            ),
            (
                "finance",
                spec("loan.finance@example.com", "Felix Treasurer", &["FINANCE"]),
            ),
            (
                "legal",
                spec("loan.legal@example.com", "Lena Counsel", &["LEGAL"]),
            ),
            (
                "admin",
                MemberSpec::admin("loan.admin@example.com")
                    .superuser()
                    .full_name("Ada Admin"),
            ),
        ];
        for (who, spec) in people {
            members.insert(who.to_owned(), create_member(&app, ORG, spec).await);
        }
        members.insert(
            "outsider".to_owned(),
            create_member(
                &app,
                OTHER_ORG,
                spec("outsider@example.com", "Otto Outsider", &["EMPLOYEE"]),
            )
            .await,
        );
        let borrower = members["borrower"].clone();
        let mut conn = app.db.acquire().await.unwrap();
        sqlx::query(
            "UPDATE org_memberships SET employee_id = 'LA-EMP-001', \
             employment_start_date = '2020-01-15' WHERE id = $1",
        )
        .bind(borrower.membership_id)
        .execute(&mut *conn)
        .await
        .unwrap();
        let schedule = build_schedule(
            VestingStrategy::Immediate,
            date!(2024 - 01 - 01),
            1000,
            vec![],
        )
        .unwrap();
        let price = DecimalInput::parse("10.00").unwrap();
        let grant = sole::services::stock::grants::create(
            &mut conn,
            ORG,
            borrower.membership_id,
            &sole::services::stock::grants::NewGrant {
                schedule: &schedule,
                exercise_price: &price,
                notes: None,
            },
        )
        .await
        .unwrap();
        drop(conn);
        let mut w = Self {
            app,
            uploads,
            members,
            grant_id: grant.id,
            loans: HashMap::new(),
            sessions: Mutex::new(HashMap::new()),
            ids: Mutex::new(HashMap::new()),
        };
        let a = w.insert_loan('A').await;
        let b = w.insert_loan('B').await;
        let c = w.insert_loan('C').await;
        w.loans.extend([('A', a), ('B', b), ('C', c)]);
        {
            let mut ids = w.ids.lock().unwrap();
            for (recorded, who) in RECORDED_USERS {
                ids.insert((*recorded).to_owned(), w.members[*who].user_id.to_string());
            }
            ids.insert(
                "f904015e-0797-4b46-93d8-3d060234b6b9".into(),
                borrower.membership_id.to_string(),
            );
            ids.insert(
                "2b1b4d37-6fce-48dd-843f-6b8a2cc35589".into(),
                w.grant_id.to_string(),
            );
            for (recorded, letter) in [(LOAN_A, 'A'), (LOAN_B, 'B'), (LOAN_C, 'C')] {
                ids.insert(recorded.to_owned(), w.loans[&letter].to_string());
            }
        }
        w
    }

    /// Inserts loan A, B or C as the employee side leaves it after create (C) or submit (A,
    /// B): the quote columns of the recording, reservations and PENDING core stages.
    async fn insert_loan(&self, letter: char) -> Uuid {
        let detail = sample(FILE, "loan detail (SUBMITTED)")["response"]["body"]["data"].clone();
        let mut d = detail.as_object().unwrap().clone();
        let (
            status,
            shares,
            exercisable,
            mode,
            value,
            method,
            term,
            monthly,
            payable,
            interest,
            created,
            stamped,
        ) = match letter {
            'A' => (
                "SUBMITTED",
                400,
                1000,
                "SHARES",
                "400",
                "PRINCIPAL_AND_INTEREST",
                6,
                "678.38",
                "4070.28",
                "70.28",
                datetime!(2026-12-07 00:36:14.765048 UTC),
                datetime!(2026-12-07 00:36:14.888700 UTC),
            ),
            'B' => (
                "SUBMITTED",
                180,
                600,
                "PERCENT",
                "30",
                "BALLOON",
                12,
                "9.00",
                "1908.00",
                "108.00",
                datetime!(2026-12-07 00:36:14.984225 UTC),
                datetime!(2026-12-07 00:36:15.066736 UTC),
            ),
            _ => (
                "DRAFT",
                10,
                420,
                "SHARES",
                "10",
                "PRINCIPAL_AND_INTEREST",
                6,
                "16.96",
                "101.76",
                "1.76",
                datetime!(2026-12-07 00:36:15.445159 UTC),
                datetime!(2026-12-07 00:36:15.445159 UTC),
            ),
        };
        let price = format!("{}.00", shares * 10);
        d.insert(
            "quote_inputs_snapshot".into(),
            json!({
                "as_of_date": "2026-12-07", "selection_mode": mode, "selection_value": value,
                "desired_term_months": term, "desired_interest_type": "FIXED",
                "desired_repayment_method": method,
            }),
        );
        d.insert("quote_option_snapshot".into(), json!({
            "term_months": term, "interest_type": "FIXED", "total_payable": payable,
            "total_interest": interest, "repayment_method": method, "nominal_annual_rate": "6.00",
            "estimated_monthly_payment": monthly,
        }));
        d.insert(
            "allocation_snapshot".into(),
            json!([{
                "shares": shares, "grant_id": self.grant_id.to_string(), "grant_date": "2024-01-01",
                "exercise_price": "10.00", "purchase_price": price,
            }]),
        );
        let id = Uuid::new_v4();
        let m = &self.members["borrower"];
        let mut tx = self.app.db.begin().await.unwrap();
        sqlx::query(
            "INSERT INTO loan_applications (id, org_id, org_membership_id, status, version, as_of_date, \
             selection_mode, selection_value_snapshot, shares_to_exercise, total_exercisable_shares_snapshot, \
             purchase_price, down_payment_amount, loan_principal, policy_version_snapshot, interest_type, \
             repayment_method, term_months, nominal_annual_rate_percent, estimated_monthly_payment, \
             total_payable_amount, total_interest_amount, quote_inputs_snapshot, quote_option_snapshot, \
             allocation_strategy, allocation_snapshot, org_settings_snapshot, eligibility_result_snapshot, \
             marital_status_snapshot, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, '2026-12-07', $6, \
             $7::numeric, $8, $9, $10::numeric, 0, $10::numeric, 2, 'FIXED', $11, $12, 6, $13::numeric, \
             $14::numeric, $15::numeric, $16, $17, 'OLDEST_VESTED_FIRST', $18, $19, $20, 'SINGLE', $21, $22)",
        )
        .bind(id)
        .bind(ORG)
        .bind(m.membership_id)
        .bind(status)
        .bind(if status == "DRAFT" { 1 } else { 2 })
        .bind(mode)
        .bind(value)
        .bind(shares)
        .bind(exercisable)
        .bind(&price)
        .bind(method)
        .bind(term)
        .bind(monthly)
        .bind(payable)
        .bind(interest)
        .bind(&d["quote_inputs_snapshot"])
        .bind(&d["quote_option_snapshot"])
        .bind(&d["allocation_snapshot"])
        .bind(&d["org_settings_snapshot"])
        .bind(&d["eligibility_result_snapshot"])
        .bind(created)
        .bind(stamped)
        .execute(&mut *tx)
        .await
        .unwrap();
        if status == "SUBMITTED" {
            sqlx::query(
                "INSERT INTO stock_grant_reservations (id, org_id, org_membership_id, grant_id, \
                 loan_application_id, shares_reserved, status, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'SUBMITTED', $7, $7)",
            )
            .bind(Uuid::new_v4())
            .bind(ORG)
            .bind(m.membership_id)
            .bind(self.grant_id)
            .bind(id)
            .bind(i64::from(shares))
            .bind(stamped)
            .execute(&mut *tx)
            .await
            .unwrap();
            for (stage, hint) in [
                ("HR_REVIEW", "HR"),
                ("FINANCE_PROCESSING", "FINANCE"),
                ("LEGAL_EXECUTION", "LEGAL"),
            ] {
                sqlx::query(
                    "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, \
                     status, assigned_role_hint, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'PENDING', $5, $6, $6)",
                )
                .bind(Uuid::new_v4())
                .bind(ORG)
                .bind(id)
                .bind(stage)
                .bind(hint)
                .bind(stamped)
                .execute(&mut *tx)
                .await
                .unwrap();
            }
        }
        tx.commit().await.unwrap();
        id
    }

    pub fn member(&self, who: &str) -> &Member {
        &self.members[who]
    }

    pub fn loan(&self, letter: char) -> Uuid {
        self.loans[&letter]
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

    /// Our value for a recorded one from now on (ids learned from replays, storage keys).
    pub fn learn(&self, recorded: &str, ours: &str) {
        self.ids
            .lock()
            .unwrap()
            .insert(recorded.to_owned(), ours.to_owned());
    }

    /// `text` with every recorded id (or key) we learned replaced by ours.
    pub fn translate(&self, text: &str) -> String {
        let ids = self.ids.lock().unwrap();
        let mut out = text.to_owned();
        for (recorded, ours) in ids.iter() {
            out = out.replace(recorded.as_str(), ours);
        }
        out
    }

    /// Sends a request as `who` (`None`: no token) in `org` when given.
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

    /// `call` as `who` in the org.
    pub async fn as_(
        &self,
        who: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.call(Some(who), Some(ORG), method, path, body, &[])
            .await
    }

    /// Replays the recorded exchange `name` as `who` and checks status and body (ids and
    /// timestamps only by form; pointers in `skip` not compared). Returns our body.
    pub async fn replay_with(
        &self,
        name: &str,
        who: Option<&str>,
        headers: &[(&str, &str)],
        skip: &[&str],
    ) -> Value {
        let s = sample(FILE, name);
        let req = &s["request"];
        let path = self.translate(req["path"].as_str().unwrap().trim_start_matches("/api/v1"));
        let mut query: Vec<String> = Vec::new();
        if let Some(q) = req["query"].as_object() {
            for (k, v) in q {
                match v {
                    Value::Array(items) => {
                        for item in items {
                            query.push(format!("{k}={}", item.as_str().unwrap()));
                        }
                    }
                    Value::String(s) => query.push(format!("{k}={s}")),
                    other => query.push(format!("{k}={other}")),
                }
            }
        }
        let path = if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
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
        let learned = expect_recorded(&s["response"], name, status, &ours, skip);
        let mut ids = self.ids.lock().unwrap();
        for (recorded, mine) in learned {
            ids.entry(recorded).or_insert(mine);
        }
        ours
    }

    pub async fn replay(&self, name: &str, who: Option<&str>) -> Value {
        self.replay_with(name, who, &[], &[]).await
    }

    /// Registers a document row directly (the register routes come later in the flow).
    pub async fn add_document(&self, loan: Uuid, stage: &str, document_type: &str) -> Uuid {
        let id = Uuid::new_v4();
        let key = format!("orgs/{ORG}/loans/{loan}/documents/{}.pdf", id.simple());
        sqlx::query(
            "INSERT INTO loan_documents (id, org_id, loan_application_id, stage_type, document_type, \
             file_name, storage_path_or_url, storage_provider, storage_bucket, storage_object_key, \
             uploaded_by_user_id) VALUES ($1, $2, $3, $4, $5, 'doc.pdf', $6, 'local', 'local', $6, $7)",
        )
        .bind(id)
        .bind(ORG)
        .bind(loan)
        .bind(stage)
        .bind(document_type)
        .bind(&key)
        .bind(self.members["admin"].user_id)
        .execute(&self.app.db)
        .await
        .unwrap();
        id
    }

    /// `(stage_type, status, assigned_to, completed_by)` of the loan's stages, canonical order.
    pub async fn stages(&self, loan: Uuid) -> Vec<(String, String, Option<Uuid>, Option<Uuid>)> {
        sqlx::query_as(
            "SELECT stage_type, status, assigned_to_user_id, completed_by_user_id \
             FROM loan_workflow_stages WHERE loan_application_id = $1 ORDER BY array_position(\
             ARRAY['HR_REVIEW','FINANCE_PROCESSING','LEGAL_EXECUTION','LEGAL_POST_ISSUANCE',\
             'BORROWER_83B_ELECTION']::varchar[], stage_type), created_at",
        )
        .bind(loan)
        .fetch_all(&self.app.db)
        .await
        .unwrap()
    }

    /// `(status, shares_reserved)` of the loan's reservations.
    pub async fn reservations(&self, loan: Uuid) -> Vec<(String, i64)> {
        sqlx::query_as(
            "SELECT status, shares_reserved FROM stock_grant_reservations \
             WHERE loan_application_id = $1 ORDER BY created_at, id",
        )
        .bind(loan)
        .fetch_all(&self.app.db)
        .await
        .unwrap()
    }

    /// `(status, version, activation_date, election_83b_due_date)` of a loan.
    pub async fn loan_row(
        &self,
        loan: Uuid,
    ) -> (String, i32, Option<OffsetDateTime>, Option<Date>) {
        sqlx::query_as(
            "SELECT status, version, activation_date, election_83b_due_date \
             FROM loan_applications WHERE id = $1",
        )
        .bind(loan)
        .fetch_one(&self.app.db)
        .await
        .unwrap()
    }

    /// `(action, resource_type, resource_id, actor_id, old, new)` of the org's audit rows with
    /// an action starting `prefix`, oldest first.
    pub async fn audit(
        &self,
        prefix: &str,
    ) -> Vec<(
        String,
        String,
        String,
        Option<Uuid>,
        Option<Value>,
        Option<Value>,
    )> {
        sqlx::query_as::<
            _,
            (
                String,
                String,
                String,
                Option<Uuid>,
                Option<sqlx::types::Json<Value>>,
                Option<sqlx::types::Json<Value>>,
            ),
        >(
            "SELECT action, resource_type, resource_id, actor_id, old_value, new_value FROM audit_logs \
             WHERE org_id = $1 AND action LIKE $2 ORDER BY created_at, id",
        )
        .bind(ORG)
        .bind(format!("{prefix}%"))
        .fetch_all(&self.app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|(a, t, r, u, o, n)| (a, t, r, u, o.map(|j| j.0), n.map(|j| j.0)))
        .collect()
    }
}

/// A small PDF, as the recording's multipart uploads sent it.
pub const PDF: &[u8] = b"%PDF-1.4\n% loan admin sample document\n%%EOF\n";

/// The register route of a document type's stage (`hr`, `finance`, `legal`, `legal-issuance`).
pub fn stage_route(document_type: &str) -> &'static str {
    match document_type {
        "NOTICE_OF_STOCK_OPTION_GRANT" | "SPOUSE_PARTNER_CONSENT" => "hr",
        "PAYMENT_INSTRUCTIONS" | "PAYMENT_CONFIRMATION" => "finance",
        "SHARE_CERTIFICATE" => "legal-issuance",
        _ => "legal",
    }
}

/// Stage documents the way the frontend (signed URL) and other clients (multipart) send them.
impl World {
    /// `POST …/documents/upload-url` as `who`, then the `PUT` exactly as the SPA sends it (no
    /// token, only `Content-Type`). Returns the ticket (`data`).
    pub async fn spa_put(
        &self,
        who: &str,
        loan: Uuid,
        document_type: &str,
        file_name: &str,
        bytes: &[u8],
    ) -> Value {
        let (status, body) = self
            .as_(
                who,
                "POST",
                &format!("/org/loans/{loan}/documents/upload-url"),
                Some(
                    json!({"document_type": document_type, "file_name": file_name,
                            "content_type": "application/pdf", "size_bytes": bytes.len()}),
                ),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let ticket = body["data"].clone();
        let url = ticket["upload_url"].as_str().unwrap();
        let path = &url[url.find("/api/v1/").unwrap()..];
        let resp = self
            .app
            .call("PUT", "")
            .url(format!("{}{path}", self.app.address))
            .header("Content-Type", "application/pdf")
            .body(bytes.to_vec())
            .response()
            .await;
        assert_eq!(resp.status(), 200, "signed PUT");
        ticket
    }

    /// The register call for an uploaded ticket, as the SPA sends it.
    pub fn register_body(ticket: &Value, document_type: &str, size: usize) -> Value {
        json!({
            "document_type": document_type, "file_name": ticket["file_name"],
            "storage_key": ticket["storage_key"], "storage_provider": ticket["storage_provider"],
            "storage_bucket": ticket["storage_bucket"], "content_type": "application/pdf",
            "size_bytes": size,
        })
    }

    /// Upload URL, signed PUT and registration of a PDF on the type's stage route, as `who`
    /// (with `headers`, e.g. a step-up token). Returns the register answer.
    pub async fn upload_via_url(
        &self,
        who: &str,
        loan: Uuid,
        document_type: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let file_name = format!("{}.pdf", document_type.to_lowercase());
        let ticket = self
            .spa_put(who, loan, document_type, &file_name, PDF)
            .await;
        self.call(
            Some(who),
            Some(ORG),
            "POST",
            &format!("/org/loans/{loan}/documents/{}", stage_route(document_type)),
            Some(Self::register_body(&ticket, document_type, PDF.len())),
            headers,
        )
        .await
    }

    /// `POST …/documents/<route>/upload` as `who`: `document_type` then the file part.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_multipart(
        &self,
        who: &str,
        loan: Uuid,
        route: &str,
        document_type: &str,
        file_name: &str,
        content_type: &str,
        bytes: &[u8],
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec())
            .file_name(file_name.to_owned())
            .mime_str(content_type)
            .unwrap();
        let form = reqwest::multipart::Form::new()
            .text("document_type", document_type.to_owned())
            .part("file", part);
        let mut req = self
            .app
            .call("POST", "")
            .url(
                self.app
                    .url(&format!("/org/loans/{loan}/documents/{route}/upload")),
            )
            .token(self.session(who).await.access)
            .header("X-Org-Id", ORG)
            .multipart(form);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.fetch().await
    }

    /// Files every document `stage` needs through the real routes as `who`: the first by
    /// upload URL and registration, the others by multipart upload.
    pub async fn file_stage_documents(&self, who: &str, loan: Uuid, types: &[&str]) {
        for (i, t) in types.iter().enumerate() {
            let (status, body) = if i == 0 {
                self.upload_via_url(who, loan, t, &[]).await
            } else {
                self.upload_multipart(
                    who,
                    loan,
                    stage_route(t),
                    t,
                    &format!("{}.pdf", t.to_lowercase()),
                    "application/pdf",
                    PDF,
                    &[],
                )
                .await
            };
            assert_eq!(status, 201, "{t}: {body}");
        }
    }

    /// Checks our answer against the recorded exchange `name` (its recorded ids and keys
    /// translated to ours where learned; the pointers in `skip` not compared).
    pub fn expect(&self, name: &str, status: u16, ours: &Value, skip: &[&str]) {
        let mut recorded = sample(FILE, name)["response"].clone();
        recorded["body"] =
            serde_json::from_str(&self.translate(&recorded["body"].to_string())).unwrap();
        let learned = expect_recorded(&recorded, name, status, ours, skip);
        let mut ids = self.ids.lock().unwrap();
        for (recorded, mine) in learned {
            ids.entry(recorded).or_insert(mine);
        }
    }
}

/// Loan A's activation in the recording.
pub const ACTIVATED_AT: &str = "2026-12-07T00:36:19.544786Z";

/// Puts `loan` where the legal completion leaves it (the walk itself is tested in
/// `loan_admin_workflow`): core stages COMPLETED, ACTIVE since the recorded activation time,
/// reservations ACTIVE, post-activation stages PENDING.
pub async fn activate(w: &World, loan: Uuid) {
    let db = &w.app.db;
    sqlx::query(
        "UPDATE loan_applications SET status = 'ACTIVE', version = 3, \
         activation_date = $2::timestamptz, election_83b_due_date = '2027-01-06' WHERE id = $1",
    )
    .bind(loan)
    .bind(ACTIVATED_AT)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE loan_workflow_stages SET status = 'COMPLETED', completed_at = now() \
         WHERE loan_application_id = $1",
    )
    .bind(loan)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE stock_grant_reservations SET status = 'ACTIVE' WHERE loan_application_id = $1",
    )
    .bind(loan)
    .execute(db)
    .await
    .unwrap();
    for (stage, hint) in [
        ("LEGAL_POST_ISSUANCE", "LEGAL"),
        ("BORROWER_83B_ELECTION", "BORROWER"),
    ] {
        sqlx::query(
            "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status, \
             assigned_role_hint) VALUES ($1, $2, $3, $4, 'PENDING', $5)",
        )
        .bind(Uuid::new_v4())
        .bind(ORG)
        .bind(loan)
        .bind(stage)
        .bind(hint)
        .execute(db)
        .await
        .unwrap();
    }
}

/// Makes the org require step-up for WORKFLOW_COMPLETE and LOAN_PAYMENT_RECORD, as in the
/// recording from the legal completion on.
pub async fn require_step_up(w: &World) {
    crate::fixtures::set_org_settings(
        &w.app,
        ORG,
        "require_two_factor = true, \
         mfa_required_actions = '[\"WORKFLOW_COMPLETE\", \"LOAN_PAYMENT_RECORD\"]'",
    )
    .await;
}

/// A step-up token of `who` for the challenge of a 403 `step_up_mfa_required` body.
pub async fn token_for(w: &World, who: &str, denied: &Value) -> String {
    assert_eq!(denied["code"], "step_up_mfa_required", "{denied}");
    let session = w.session(who).await;
    crate::auth_support::step_up_token(
        &w.app,
        &session,
        w.member(who),
        denied["details"]["challenge_token"].as_str().unwrap(),
    )
    .await
}

/// One multipart field: text, or a file `(filename, content type, bytes)`.
pub enum Part {
    Text(String),
    File(String, String, Vec<u8>),
}

/// Posts a multipart repayment form for `loan` as `who` with the step-up `token`.
pub async fn post_form(
    w: &World,
    who: &str,
    loan: Uuid,
    token: Option<&str>,
    parts: Vec<(String, Part)>,
) -> (u16, Value) {
    let mut form = reqwest::multipart::Form::new();
    for (name, part) in parts {
        form = match part {
            Part::Text(v) => form.text(name, v),
            Part::File(file_name, content_type, bytes) => form.part(
                name,
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(file_name)
                    .mime_str(&content_type)
                    .unwrap(),
            ),
        };
    }
    let mut req = w
        .app
        .call("POST", "")
        .url(w.app.url(&format!("/org/loans/{loan}/repayments")))
        .token(w.session(who).await.access)
        .header("X-Org-Id", ORG)
        .multipart(form);
    if let Some(t) = token {
        req = req.header("X-Step-Up-Token", t);
    }
    req.fetch().await
}
