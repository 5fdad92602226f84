//! Data fixtures written straight to the test database (orgs, identities, members), and
//! sign-in helpers that go through the real HTTP flow.

#![allow(dead_code)]

use serde_json::{Value, json};
use sole::auth::totp;
use uuid::Uuid;

use crate::helpers::TestApp;

/// A password that passes the policy.
pub const PASSWORD: &str = "Correct#Horse42battery";

pub async fn create_org(app: &TestApp, id: &str, name: &str) {
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::query("INSERT INTO orgs (id, name, slug, status) VALUES ($1, $2, $1, 'ACTIVE')")
        .bind(id)
        .bind(name)
        .execute(&mut *conn)
        .await
        .unwrap();
    sole::db::partitions::ensure_org_partitions(&mut conn, id)
        .await
        .unwrap();
    sole::services::roles::ensure_system_roles(&mut conn, id)
        .await
        .unwrap();
}

#[derive(Clone, Debug)]
pub struct MemberSpec {
    pub email: String,
    pub password: String,
    pub superuser: bool,
    /// Stored role names, e.g. "ORG ADMIN", "EMPLOYEE".
    pub roles: Vec<&'static str>,
    pub mfa: bool,
    pub must_change_password: bool,
    pub employment_status: &'static str,
    pub platform_status: &'static str,
    pub invitation_status: &'static str,
    pub full_name: Option<String>,
}

impl MemberSpec {
    pub fn new(email: &str) -> Self {
        Self {
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            superuser: false,
            roles: vec!["EMPLOYEE"],
            mfa: false,
            must_change_password: false,
            employment_status: "ACTIVE",
            platform_status: "ACTIVE",
            invitation_status: "ACCEPTED",
            full_name: None,
        }
    }

    pub fn admin(email: &str) -> Self {
        Self {
            roles: vec!["ORG ADMIN", "EMPLOYEE"],
            mfa: true,
            ..Self::new(email)
        }
    }

    pub fn roles(mut self, roles: &[&'static str]) -> Self {
        self.roles = roles.to_vec();
        self
    }
    pub fn mfa(mut self, on: bool) -> Self {
        self.mfa = on;
        self
    }
    pub fn superuser(mut self) -> Self {
        self.superuser = true;
        self
    }
    pub fn must_change_password(mut self) -> Self {
        self.must_change_password = true;
        self
    }
    pub fn statuses(
        mut self,
        employment: &'static str,
        platform: &'static str,
        invitation: &'static str,
    ) -> Self {
        self.employment_status = employment;
        self.platform_status = platform;
        self.invitation_status = invitation;
        self
    }
    pub fn password(mut self, password: &str) -> Self {
        self.password = password.to_owned();
        self
    }
    pub fn full_name(mut self, name: &str) -> Self {
        self.full_name = Some(name.to_owned());
        self
    }
}

#[derive(Clone, Debug)]
pub struct Member {
    pub org_id: String,
    pub email: String,
    pub password: String,
    pub user_id: Uuid,
    pub identity_id: Uuid,
    pub membership_id: Uuid,
    /// The TOTP secret, when MFA is enabled.
    pub totp_secret: Option<String>,
}

/// Creates (or reuses, by e-mail) the identity and adds a user, membership, profile and roles
/// in `org_id`.
pub async fn create_member(app: &TestApp, org_id: &str, spec: MemberSpec) -> Member {
    let mut conn = app.db.acquire().await.unwrap();
    let existing: Option<(Uuid, Option<String>)> =
        sqlx::query_as("SELECT id, mfa_secret_encrypted FROM identities WHERE email = $1")
            .bind(&spec.email)
            .fetch_optional(&mut *conn)
            .await
            .unwrap();
    let (identity_id, totp_secret) = match existing {
        Some((id, secret)) => (id, secret.map(|s| app.auth.crypto.decrypt_str(&s).unwrap())),
        None => {
            let id = Uuid::new_v4();
            let hash = app.auth.passwords.hash(&spec.password).unwrap();
            let secret = spec.mfa.then(totp::generate_secret);
            let encrypted = secret.as_deref().map(|s| app.auth.crypto.encrypt_str(s));
            sqlx::query(
                "INSERT INTO identities (id, email, hashed_password, mfa_enabled, mfa_method, mfa_secret_encrypted, \
                 must_change_password, is_active) VALUES ($1, $2, $3, $4, $5, $6, $7, true)",
            )
            .bind(id)
            .bind(&spec.email)
            .bind(hash)
            .bind(spec.mfa)
            .bind(spec.mfa.then_some("TOTP"))
            .bind(encrypted)
            .bind(spec.must_change_password)
            .execute(&mut *conn)
            .await
            .unwrap();
            (id, secret)
        }
    };
    let user_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO users (id, org_id, email, is_active, is_superuser, identity_id) VALUES ($1, $2, $3, true, $4, $5)",
    )
    .bind(user_id)
    .bind(org_id)
    .bind(&spec.email)
    .bind(spec.superuser)
    .bind(identity_id)
    .execute(&mut *conn)
    .await
    .unwrap();
    let membership_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO org_memberships (id, org_id, user_id, employee_id, employment_status, platform_status, \
         invitation_status, invited_at, accepted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now(), now())",
    )
    .bind(membership_id)
    .bind(org_id)
    .bind(user_id)
    .bind(format!("E-{}", &user_id.simple().to_string()[..8]))
    .bind(spec.employment_status)
    .bind(spec.platform_status)
    .bind(spec.invitation_status)
    .execute(&mut *conn)
    .await
    .unwrap();
    let full_name = spec
        .full_name
        .clone()
        .unwrap_or_else(|| "Test Person".to_owned());
    let (first, last) = full_name
        .split_once(' ')
        .unwrap_or((full_name.as_str(), ""));
    sqlx::query(
        "INSERT INTO org_user_profiles (id, org_id, membership_id, full_name, first_name, last_name) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::new_v4())
    .bind(org_id)
    .bind(membership_id)
    .bind(&full_name)
    .bind(first)
    .bind(last)
    .execute(&mut *conn)
    .await
    .unwrap();
    for role in &spec.roles {
        let role_id: Uuid =
            sqlx::query_scalar("SELECT id FROM roles WHERE org_id = $1 AND name = $2")
                .bind(org_id)
                .bind(role)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
        sole::services::roles::assign(&mut conn, org_id, user_id, role_id)
            .await
            .unwrap();
    }
    Member {
        org_id: org_id.to_owned(),
        email: spec.email,
        password: spec.password,
        user_id,
        identity_id,
        membership_id,
        totp_secret,
    }
}

pub async fn set_org_settings(app: &TestApp, org_id: &str, assignments: &str) {
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::query("INSERT INTO org_settings (org_id) VALUES ($1) ON CONFLICT (org_id) DO NOTHING")
        .bind(org_id)
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE org_settings SET {assignments} WHERE org_id = $1"
    )))
    .bind(org_id)
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// A TOTP code for `secret` the server accepts now: the current time step, or the next one
/// (within the ±1 step window) when this test already used the current one, because the
/// server accepts each step once per identity, as a person waiting for the next code would.
pub fn totp_now(secret: &str) -> String {
    static USED: std::sync::Mutex<Vec<(String, u64)>> = std::sync::Mutex::new(Vec::new());
    let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
    let current = now / totp::STEP_SECONDS;
    let mut used = USED.lock().unwrap();
    let step = match used.iter().find(|(s, _)| s == secret) {
        Some((_, last)) if *last >= current => last + 1,
        _ => current,
    };
    used.retain(|(s, _)| s != secret);
    used.push((secret.to_owned(), step));
    totp::code_at(secret, step * totp::STEP_SECONDS).unwrap()
}

/// A signed-in session as the frontend holds it.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub csrf: Option<String>,
    pub org_id: String,
}

impl TestApp {
    pub async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        self.call("POST", "/auth/login")
            .json(&json!({"email": email, "password": password}))
            .fetch()
            .await
    }

    /// Login → select-org → (TOTP challenge when asked). Panics on an unexpected step.
    pub async fn sign_in(&self, member: &Member) -> Session {
        let (status, body) = self.login(&member.email, &member.password).await;
        assert_eq!(status, 200, "login: {body}");
        let pre_org = body["data"]["pre_org_token"].as_str().unwrap().to_owned();
        let (status, body) = self
            .call("POST", "/auth/select-org")
            .token(&pre_org)
            .json(&json!({"org_id": member.org_id}))
            .fetch()
            .await;
        assert_eq!(status, 200, "select-org: {body}");
        let data = &body["data"];
        let data = if data["mfa_required"] == true {
            let secret = member.totp_secret.as_deref().expect("member has MFA");
            let (status, body) = self
                .call("POST", "/auth/mfa/verify")
                .token(&pre_org)
                .json(
                    &json!({"challenge_token": data["challenge_token"], "code": totp_now(secret)}),
                )
                .fetch()
                .await;
            assert_eq!(status, 200, "mfa/verify: {body}");
            body["data"].clone()
        } else {
            assert_eq!(
                data["mfa_setup_required"], false,
                "member needs MFA enrolment: {data}"
            );
            data.clone()
        };
        Session {
            access: data["access_token"].as_str().unwrap().to_owned(),
            refresh: data["refresh_token"].as_str().unwrap().to_owned(),
            csrf: data["csrf_token"].as_str().map(str::to_owned),
            org_id: member.org_id.clone(),
        }
    }
}

/// An org with a signed-in admin (ORG ADMIN + EMPLOYEE, MFA) and a signed-in plain employee.
pub struct Org {
    pub admin: Member,
    pub admin_s: Session,
    pub emp: Member,
    pub emp_s: Session,
}

pub async fn org(app: &TestApp, id: &str) -> Org {
    create_org(app, id, &format!("Org {id}")).await;
    let admin = create_member(
        app,
        id,
        MemberSpec::admin(&format!("admin@{id}.example.com")),
    )
    .await;
    let emp = create_member(
        app,
        id,
        MemberSpec::new(&format!("emp@{id}.example.com")).full_name("Emma Ployee"),
    )
    .await;
    let admin_s = app.sign_in(&admin).await;
    let emp_s = app.sign_in(&emp).await;
    Org {
        admin,
        admin_s,
        emp,
        emp_s,
    }
}

/// Answers a step-up challenge with the member's current TOTP code.
pub async fn step_up_token(
    app: &TestApp,
    member: &Member,
    session: &Session,
    challenge: &Value,
) -> String {
    let (status, body) = app
        .call("POST", "/auth/step-up/verify")
        .session(session)
        .json(&json!({
            "challenge_token": challenge,
            "code": totp_now(member.totp_secret.as_deref().unwrap()),
        }))
        .fetch()
        .await;
    assert_eq!(status, 200, "step-up verify: {body}");
    body["data"]["step_up_token"]
        .as_str()
        .or_else(|| body["data"]["token"].as_str())
        .unwrap_or_else(|| panic!("no step-up token in {body}"))
        .to_owned()
}

pub async fn me_permissions(app: &TestApp, session: &Session) -> Vec<String> {
    let (status, body) = app.call("GET", "/auth/me").session(session).fetch().await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body["data"]["permissions"].clone()).unwrap()
}
