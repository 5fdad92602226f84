//! The borrower-view and loan-dashboard tests' world: the org `sole-llc` on the recording day
//! with the recording's actors, and loans, stages, documents and repayments written with SQL
//! under the recording's ids (each test has its own database), so the golden answers compare
//! verbatim.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use sole::config::EnvMap;
use time::Date;
use time::macros::date;
use uuid::Uuid;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::{TestApp, base_env, fresh_database, json, spawn_with};

pub const FILE: &str = "domain-loans.json";
pub const ORG: &str = "sole-llc";
pub const OTHER_ORG: &str = "acme-corp";
/// The day the samples were recorded.
pub const TODAY: Date = date!(2026 - 12 - 07);

/// The borrower's 12-month loan (§5.2 L1), activated on the recording day.
pub const L1: &str = "2bbf2c20-8763-434a-a6c9-9ae3b088addf";
/// The married employee's 6-month loan (§5.2 LB), fully paid by its schedule.
pub const LB: &str = "1d8bf436-157b-4e48-971d-bda75eca50be";
/// The borrower's cancelled draft.
pub const CANCELLED: &str = "bd6ba3c7-f774-474c-92fe-5e560c10fc5a";

/// A recorded exchange of the loans samples.
pub fn sample(name: &str) -> Value {
    crate::helpers::sample(FILE, name)
}

/// The `data` of a recorded answer.
pub fn sample_data(name: &str) -> Value {
    sample(name)["response"]["body"]["data"].clone()
}

pub struct LoanWorld {
    pub app: TestApp,
    pub store: tempfile::TempDir,
    /// `admin` (superuser), `borrower`, `married`, `other` (EMPLOYEE), `noperm` (no role).
    pub members: HashMap<&'static str, Member>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// A `loan_applications` row (the columns the views read; the rest get neutral values).
#[derive(Clone, Debug)]
pub struct LoanRow {
    pub id: Uuid,
    pub who: &'static str,
    pub status: &'static str,
    pub decision_reason: Option<&'static str>,
    pub shares: i64,
    pub principal: &'static str,
    pub rate: &'static str,
    pub term_months: i32,
    pub interest_type: &'static str,
    pub method: &'static str,
    pub monthly: &'static str,
    pub payable: &'static str,
    pub interest: &'static str,
    pub as_of_date: Date,
    /// A timestamptz literal.
    pub activation: Option<&'static str>,
    pub due_83b: Option<Date>,
    pub created_at: &'static str,
}

impl LoanRow {
    /// L1 of §5.2: 1000 shares at 2.50, 6.5 % fixed, P&I over 12 months, activated today.
    pub fn l1() -> Self {
        Self {
            id: Uuid::parse_str(L1).unwrap(),
            who: "borrower",
            status: "ACTIVE",
            decision_reason: None,
            shares: 1000,
            principal: "2500.000000",
            rate: "6.5000",
            term_months: 12,
            interest_type: "FIXED",
            method: "PRINCIPAL_AND_INTEREST",
            monthly: "215.740000",
            payable: "2588.880000",
            interest: "88.880000",
            as_of_date: TODAY,
            activation: Some("2026-12-07T00:36:52.867032Z"),
            due_83b: Some(date!(2027 - 01 - 06)),
            created_at: "2026-12-07T00:36:50.644711Z",
        }
    }

    /// LB of §5.2: 150 shares at 3.00, 7 % fixed, P&I over 6 months, activated today.
    pub fn lb() -> Self {
        Self {
            id: Uuid::parse_str(LB).unwrap(),
            who: "married",
            shares: 150,
            principal: "450.000000",
            rate: "7.0000",
            term_months: 6,
            monthly: "76.540000",
            payable: "459.240000",
            interest: "9.240000",
            activation: Some("2026-12-07T00:36:55.102311Z"),
            created_at: "2026-12-07T00:36:51.913214Z",
            ..Self::l1()
        }
    }

    /// A SUBMITTED loan of `who` (no activation).
    pub fn submitted(who: &'static str) -> Self {
        Self {
            id: Uuid::new_v4(),
            who,
            status: "SUBMITTED",
            activation: None,
            due_83b: None,
            ..Self::l1()
        }
    }

    pub fn with_status(mut self, status: &'static str) -> Self {
        self.status = status;
        self
    }
}

/// One `loan_repayments` row.
#[derive(Clone, Debug)]
pub struct RepaymentRow {
    pub id: Uuid,
    pub loan: Uuid,
    pub amount: &'static str,
    pub principal: &'static str,
    pub interest: &'static str,
    pub payment_date: Date,
    pub created_at: String,
}

impl LoanWorld {
    pub async fn new() -> Self {
        let store = tempfile::tempdir().unwrap();
        let db_name = fresh_database().await;
        let redis_prefix = format!("test:{}", Uuid::new_v4().simple());
        let mut env = base_env(&db_name, &redis_prefix);
        env.overlay(EnvMap::from_pairs([
            (
                "LOCAL_UPLOAD_DIR",
                store.path().to_str().unwrap().to_owned(),
            ),
            ("PUBLIC_BASE_URL", "http://localhost:8311".to_owned()),
        ]));
        let app = spawn_with(
            env,
            db_name,
            redis_prefix,
            sole::clock::Clock::fixed(TODAY),
            |_| {},
        )
        .await;
        create_org(&app, ORG, "SOLE LLC").await;
        create_org(&app, OTHER_ORG, "Acme Corp").await;
        let mut members = HashMap::new();
        let admin = create_member(
            &app,
            ORG,
            MemberSpec::admin("admin@example.com").superuser(),
        )
        .await;
        members.insert("admin", admin);
        for (who, email) in [
            ("borrower", "golden.borrower@example.com"),
            ("married", "golden.married@example.com"),
            ("other", "golden.nogrant@example.com"),
        ] {
            members.insert(who, create_member(&app, ORG, MemberSpec::new(email)).await);
        }
        let noperm = create_member(
            &app,
            ORG,
            MemberSpec::new("golden.noperm@example.com").roles(&[]),
        )
        .await;
        members.insert("noperm", noperm);
        Self {
            app,
            store,
            members,
            sessions: Mutex::new(HashMap::new()),
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

    /// A request as `who` (`None`: no token) with `X-Org-Id: org` when given.
    pub async fn request(
        &self,
        who: Option<&str>,
        org: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let token = match who {
            Some(who) => Some(self.session(who).await.access),
            None => None,
        };
        self.app
            .call(method, path)
            .maybe_token(token.as_deref())
            .maybe_org(org)
            .maybe_json(body)
            .response()
            .await
    }

    /// A JSON call as `who` in `sole-llc`.
    pub async fn call(
        &self,
        who: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        json(self.request(Some(who), Some(ORG), method, path, body).await).await
    }

    pub async fn get(&self, who: &str, path: &str) -> (u16, Value) {
        self.call(who, "GET", path, None).await
    }

    pub async fn insert_loan(&self, row: &LoanRow) -> Uuid {
        let m = self.member(row.who);
        sqlx::query(
            "INSERT INTO loan_applications (id, org_id, org_membership_id, status, decision_reason, version, \
             as_of_date, selection_mode, selection_value_snapshot, shares_to_exercise, \
             total_exercisable_shares_snapshot, purchase_price, down_payment_amount, loan_principal, \
             policy_version_snapshot, interest_type, repayment_method, term_months, nominal_annual_rate_percent, \
             estimated_monthly_payment, total_payable_amount, total_interest_amount, quote_inputs_snapshot, \
             quote_option_snapshot, allocation_strategy, allocation_snapshot, org_settings_snapshot, \
             eligibility_result_snapshot, activation_date, election_83b_due_date, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 4, $6, 'SHARES', $7, $7, 4000, $8::numeric, 0, $8::numeric, 3, $9, \
             $10, $11, $12::numeric, $13::numeric, $14::numeric, $15::numeric, '{}', '{}', \
             'OLDEST_VESTED_FIRST', '[]', '{}', '{}', $16::timestamptz, $17, $18::timestamptz, \
             $18::timestamptz)",
        )
        .bind(row.id)
        .bind(ORG)
        .bind(m.membership_id)
        .bind(row.status)
        .bind(row.decision_reason)
        .bind(row.as_of_date)
        .bind(row.shares)
        .bind(row.principal)
        .bind(row.interest_type)
        .bind(row.method)
        .bind(row.term_months)
        .bind(row.rate)
        .bind(row.monthly)
        .bind(row.payable)
        .bind(row.interest)
        .bind(row.activation)
        .bind(row.due_83b)
        .bind(row.created_at)
        .execute(&self.app.db)
        .await
        .unwrap();
        row.id
    }

    /// A workflow stage of `loan`, created at `created_at`.
    pub async fn insert_stage(&self, loan: Uuid, stage_type: &str, status: &str, created_at: &str) {
        sqlx::query(
            "INSERT INTO loan_workflow_stages (id, org_id, loan_application_id, stage_type, status, \
             completed_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, \
             CASE WHEN $5 = 'COMPLETED' THEN $6::timestamptz END, $6::timestamptz, $6::timestamptz)",
        )
        .bind(Uuid::new_v4())
        .bind(ORG)
        .bind(loan)
        .bind(stage_type)
        .bind(status)
        .bind(created_at)
        .execute(&self.app.db)
        .await
        .unwrap();
    }

    /// The five stages of an activated loan: the three core stages completed, then the two
    /// post-activation stages (83(b) completed when `election_done`).
    pub async fn activated_stages(&self, loan: Uuid, election_done: bool) {
        for stage in ["HR_REVIEW", "FINANCE_PROCESSING", "LEGAL_EXECUTION"] {
            self.insert_stage(loan, stage, "COMPLETED", "2026-12-07T00:36:51.332247Z")
                .await;
        }
        self.insert_stage(
            loan,
            "LEGAL_POST_ISSUANCE",
            "PENDING",
            "2026-12-07T00:36:52.855654Z",
        )
        .await;
        self.insert_stage(
            loan,
            "BORROWER_83B_ELECTION",
            if election_done {
                "COMPLETED"
            } else {
                "PENDING"
            },
            "2026-12-07T00:36:52.855654Z",
        )
        .await;
    }

    pub async fn insert_repayment(&self, r: &RepaymentRow, recorded_by: Option<Uuid>) {
        sqlx::query(
            "INSERT INTO loan_repayments (id, org_id, loan_application_id, amount, principal_amount, \
             interest_amount, payment_date, recorded_by_user_id, created_at) VALUES ($1, $2, $3, \
             $4::numeric, $5::numeric, $6::numeric, $7, $8, $9::timestamptz)",
        )
        .bind(r.id)
        .bind(ORG)
        .bind(r.loan)
        .bind(r.amount)
        .bind(r.principal)
        .bind(r.interest)
        .bind(r.payment_date)
        .bind(recorded_by)
        .bind(&r.created_at)
        .execute(&self.app.db)
        .await
        .unwrap();
    }

    /// The two recorded repayments of L1 (§5.3: period 1, then period 2 + 100.00 principal),
    /// recorded by the admin.
    pub async fn l1_repayments(&self) {
        let loan = Uuid::parse_str(L1).unwrap();
        let admin = self.member("admin").user_id;
        for (id, amount, principal, interest, at) in [
            (
                "9c883ba0-c1da-43e5-99f1-a2dd9a25198f",
                "215.740000",
                "202.200000",
                "13.540000",
                "2026-12-07T00:36:53.230463Z",
            ),
            (
                "7ab7def1-7b71-4059-8985-d8264f1bf754",
                "315.740000",
                "303.290000",
                "12.450000",
                "2026-12-07T00:36:53.283824Z",
            ),
        ] {
            self.insert_repayment(
                &RepaymentRow {
                    id: Uuid::parse_str(id).unwrap(),
                    loan,
                    amount,
                    principal,
                    interest,
                    payment_date: TODAY,
                    created_at: at.to_owned(),
                },
                Some(admin),
            )
            .await;
        }
    }

    /// LB's six scheduled instalments, all paid on the recording day (459.23 in total).
    pub async fn lb_paid_in_full(&self) {
        let loan = Uuid::parse_str(LB).unwrap();
        let admin = self.member("admin").user_id;
        let rows = [
            ("76.540000", "73.910000", "2.630000"),
            ("76.540000", "74.350000", "2.190000"),
            ("76.540000", "74.780000", "1.760000"),
            ("76.540000", "75.220000", "1.320000"),
            ("76.540000", "75.650000", "0.890000"),
            ("76.530000", "76.090000", "0.440000"),
        ];
        for (i, (amount, principal, interest)) in rows.into_iter().enumerate() {
            self.insert_repayment(
                &RepaymentRow {
                    id: Uuid::new_v4(),
                    loan,
                    amount,
                    principal,
                    interest,
                    payment_date: TODAY,
                    created_at: format!("2026-12-07T00:37:0{i}.000000Z"),
                },
                Some(admin),
            )
            .await;
        }
    }

    /// A `loan_documents` row from a recorded LoanDocument object, uploaded by `uploader`.
    pub async fn insert_document(&self, doc: &Value, uploader: &str) {
        let text = |k: &str| doc[k].as_str().map(str::to_owned);
        sqlx::query(
            "INSERT INTO loan_documents (id, org_id, loan_application_id, stage_type, document_type, \
             file_name, storage_path_or_url, storage_provider, storage_bucket, storage_object_key, \
             content_type, size_bytes, checksum, uploaded_by_user_id, uploaded_at, created_at) VALUES \
             ($1::uuid, $2, $3::uuid, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15::timestamptz, $16::timestamptz)",
        )
        .bind(text("id"))
        .bind(text("org_id"))
        .bind(text("loan_application_id"))
        .bind(text("stage_type"))
        .bind(text("document_type"))
        .bind(text("file_name"))
        .bind(text("storage_path_or_url"))
        .bind(text("storage_provider"))
        .bind(text("storage_bucket"))
        .bind(text("storage_object_key"))
        .bind(text("content_type"))
        .bind(doc["size_bytes"].as_i64())
        .bind(text("checksum"))
        .bind(self.member(uploader).user_id)
        .bind(text("uploaded_at"))
        .bind(text("created_at"))
        .execute(&self.app.db)
        .await
        .unwrap();
    }

    /// The recording's org state at the loan-summary samples: L1 and LB active (with their
    /// stages and repayments), three submitted loans with their open core stages, two
    /// cancelled drafts.
    pub async fn recorded_portfolio(&self) {
        let l1 = self.insert_loan(&LoanRow::l1()).await;
        self.activated_stages(l1, true).await;
        self.l1_repayments().await;
        let lb = self.insert_loan(&LoanRow::lb()).await;
        self.activated_stages(lb, false).await;
        self.lb_paid_in_full().await;
        for who in ["borrower", "married", "borrower"] {
            let id = self.insert_loan(&LoanRow::submitted(who)).await;
            for stage in ["HR_REVIEW", "FINANCE_PROCESSING", "LEGAL_EXECUTION"] {
                self.insert_stage(id, stage, "PENDING", "2026-12-07T00:36:51Z")
                    .await;
            }
        }
        let mut cancelled = LoanRow::submitted("borrower").with_status("CANCELLED");
        cancelled.id = Uuid::parse_str(CANCELLED).unwrap();
        self.insert_loan(&cancelled).await;
        self.insert_loan(&LoanRow::submitted("married").with_status("CANCELLED"))
            .await;
    }
}
