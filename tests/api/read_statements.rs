//! Statements per request on the main read endpoints, counted at the PostgreSQL wire (see
//! `statement_support`): with the guard warm, each answers with one statement, and the two
//! every page load repeats (`/auth/me`, `/self/context`) with none.

use crate::fixtures::{MemberSpec, create_member, create_org};
use crate::statement_support::instances;

#[tokio::test]
async fn each_read_answers_with_one_statement_or_none_after_a_warm_guard() {
    let instances = instances(1, &[]).await;
    let one = &instances[0];
    create_org(&one.app, "acme", "Acme").await;
    let admin = create_member(&one.app, "acme", MemberSpec::admin("admin@acme.example")).await;
    for i in 0..24 {
        create_member(
            &one.app,
            "acme",
            MemberSpec::new(&format!("member{i}@acme.example")).full_name(&format!("Member {i}")),
        )
        .await;
    }
    let session = one.app.sign_in(&admin).await;
    one.wait_subscribed(&session).await;
    // (path, statements once the guard and the path's own cached view are warm)
    let reads = [
        ("/auth/me".to_owned(), 0),
        ("/self/context".to_owned(), 0),
        ("/self/profile".to_owned(), 1),
        ("/org/users?page_size=20".to_owned(), 1),
        (format!("/org/users/{}", admin.membership_id), 1),
        ("/me/loan-applications?limit=10".to_owned(), 1),
    ];
    let mut report = Vec::new();
    for (path, expected) in &reads {
        // The first call fills the guard cache (and its permissions).
        let (status, _, _) = one.cost(path, &session).await;
        assert_eq!(status, 200, "{path}");
        let (status, spent, sql) = one.cost(path, &session).await;
        assert_eq!(status, 200, "{path}");
        report.push(format!("{path}: {spent}"));
        assert_eq!(spent, *expected, "{path} ran {sql:#?}");
    }
    println!("statements per warm request: {report:?}");
}
