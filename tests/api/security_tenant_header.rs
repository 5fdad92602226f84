//! Two `X-Org-Id` headers, or a comma list in one, name two tenants: 400, never "first one
//! wins" (issue 13, low).

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::helpers::spawn_app;

#[tokio::test]
async fn security_two_org_headers_are_refused() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    create_org(&app, "globex", "Globex").await;
    let m = create_member(&app, "acme", MemberSpec::new("ann@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let me = || app.call("GET", "/auth/me").token(&s.access);

    let (status, body) = me().header("X-Org-Id", "acme").fetch().await;
    assert_eq!(status, 200, "{body}");
    for request in [
        me().header("X-Org-Id", "acme").header("X-Org-Id", "globex"),
        me().header("X-Org-Id", "acme").header("X-Org-Id", "acme"),
        me().header("X-Org-Id", "acme, globex"),
    ] {
        let (status, body) = request.fetch().await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(
            body["message"],
            "Tenant resolution failed: send exactly one X-Org-Id header"
        );
    }
}
