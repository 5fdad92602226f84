//! The announcement tests' org: an admin and an employee, both signed in, and the request
//! helper of the REST and stream tests.

use serde_json::Value;

use crate::fixtures::{Member, MemberSpec, Session, create_member, create_org};
use crate::helpers::TestApp;

pub struct Org {
    pub app: TestApp,
    pub admin: Session,
    pub employee: Session,
    pub employee_member: Member,
}

/// Org `acme` with an ORG ADMIN (announcement.manage) and an EMPLOYEE, both signed in.
pub async fn org_with_members(app: TestApp, org: &str) -> Org {
    create_org(&app, org, "Acme").await;
    let admin = create_member(&app, org, MemberSpec::admin(&format!("admin@{org}.test"))).await;
    let employee = create_member(&app, org, MemberSpec::new(&format!("emp@{org}.test"))).await;
    let admin = app.sign_in(&admin).await;
    let employee_session = app.sign_in(&employee).await;
    Org {
        app,
        admin,
        employee: employee_session,
        employee_member: employee,
    }
}

pub async fn create(app: &TestApp, admin: &Session, body: Value) -> Value {
    let (status, out) = app
        .call("POST", "/announcements")
        .session(admin)
        .json(&body)
        .fetch()
        .await;
    assert_eq!(status, 201, "{out}");
    out["data"].clone()
}
