//! MFA: enrolment at login, the login challenge (TOTP, recovery code, remember-device), the
//! attempt limit, post-login setup, recovery codes and step-up.

use serde_json::json;

use crate::auth_support::*;
use crate::fixtures::{MemberSpec, create_member, create_org, set_org_settings, totp_now};
use crate::helpers::spawn_app;

fn secret_of(url: &str) -> String {
    let q = url.split_once('?').unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix("secret="))
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn enrolment_at_login_enables_mfa_and_returns_recovery_codes() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme Corp").await;
    let m = create_member(
        &app,
        "acme",
        MemberSpec::admin("root@acme.example.com")
            .mfa(false)
            .superuser(),
    )
    .await;
    let other = create_member(&app, "acme", MemberSpec::new("x@acme.example.com")).await;
    set_last_active_minutes_ago(&app, m.identity_id, 60).await;

    let pre = pre_org(&app, &m).await;
    let r = select_org(&app, &pre, "acme", None).await;
    r.like("select-org -> mfa_setup_required (superuser without MFA)");
    assert_eq!(r.data()["mfa_setup_required"], true);
    assert_eq!(r.data()["access_token"], json!(null));
    let setup = r.str("setup_token");
    app.call("GET", "/auth/orgs")
        .without_cookies()
        .token(&setup)
        .send()
        .await
        .like("orgs 401 setup token is not accepted as identity token");

    let start = "/auth/mfa/enroll/start";
    app.call("POST", start)
        .without_cookies()
        .token(&pre)
        .json(&json!({"setup_token": "not-a-jwt"}))
        .send()
        .await
        .like("mfa enroll/start 400 invalid setup token");
    let other_pre = pre_org(&app, &other).await;
    app.call("POST", start)
        .without_cookies()
        .token(&other_pre)
        .json(&json!({"setup_token": setup}))
        .send()
        .await
        .like("mfa enroll/start 403 setup token of another identity");
    app.call("POST", start)
        .without_cookies()
        .token(&pre)
        .json(&json!({}))
        .send()
        .await
        .like("mfa enroll/start 422 missing setup_token");
    let r = app
        .call("POST", start)
        .without_cookies()
        .token(&pre)
        .json(&json!({"setup_token": setup}))
        .send()
        .await;
    r.like("mfa enroll/start success");
    let url = r.str("otpauth_url");
    assert!(
        url.starts_with("otpauth://totp/Acme%20Corp:root%40acme.example.com?secret="),
        "{url}"
    );
    assert!(url.ends_with("&issuer=Acme%20Corp"), "{url}");
    assert_eq!(r.data()["issuer"], "Acme Corp");
    assert_eq!(r.data()["account"], "root@acme.example.com");
    assert_eq!(r.data()["remember_device_days"], 30);
    let secret = secret_of(&url);

    let verify = "/auth/mfa/enroll/verify";
    app.call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&json!({"setup_token": setup, "code": "000000"}))
        .send()
        .await
        .like("mfa enroll/verify 401 wrong code");
    let r = app
        .call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&json!({"setup_token": setup, "code": totp_now(&secret), "remember_device": true}))
        .send()
        .await;
    r.like("mfa enroll/verify success with remember_device (tokens + 10 recovery codes)");
    let codes = r.data()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    for c in &codes {
        let c = c.as_str().unwrap();
        assert_eq!(c.len(), 9);
        assert_eq!(&c[4..5], "-");
        assert!(
            c.chars()
                .filter(|ch| *ch != '-')
                .all(|ch| "ABCDEFGHJKLMNPQRSTUVWXYZ23456789".contains(ch))
        );
    }
    assert!(r.data()["remember_device_token"].is_string());
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(
        (claims["mfa"].clone(), claims["mfa_method"].clone()),
        (json!(true), json!("totp"))
    );
    // DESIGN.md §4: enrolment is activity, so the fresh session is not already idle.
    let access = r.str("access_token");
    let r = me(&app, &access, "acme").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.data()["mfa_enabled"], true);

    app.call("POST", start)
        .without_cookies()
        .token(&pre)
        .json(&json!({"setup_token": setup}))
        .send()
        .await
        .like("mfa enroll/start 400 MFA already enabled");
    let r = app
        .call("GET", "/auth/mfa/recovery-codes/count")
        .without_cookies()
        .token(&access)
        .org("acme")
        .send()
        .await;
    r.like("recovery-codes count success");
    assert_eq!(r.data()["remaining_count"], 10);
    app.call("POST", "/auth/mfa/setup/start")
        .without_cookies()
        .token(&access)
        .org("acme")
        .send()
        .await
        .like("mfa setup/start 400 MFA already enabled");
}

#[tokio::test]
async fn login_challenge_accepts_totp_single_use_recovery_codes_and_remembered_devices() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let other = create_member(&app, "acme", MemberSpec::admin("other@acme.example.com")).await;
    let secret = m.totp_secret.clone().unwrap();
    let m_first = m.clone();

    let pre = pre_org(&app, &m).await;
    let r = select_org(&app, &pre, "acme", None).await;
    r.like("select-org -> mfa_required (challenge)");
    let challenge = r.str("challenge_token");
    let verify = "/auth/mfa/verify";
    app.call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&json!({"challenge_token": challenge, "code": "000000"}))
        .send()
        .await
        .like("mfa verify 401 wrong TOTP code");
    app.call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&json!({"challenge_token": "not-a-jwt", "code": "000000"}))
        .send()
        .await
        .like("mfa verify 400 invalid challenge token");
    let other_pre = pre_org(&app, &other).await;
    app.call("POST", verify)
        .without_cookies()
        .token(&other_pre)
        .json(&json!({"challenge_token": challenge, "code": "000000"}))
        .send()
        .await
        .like("mfa verify 403 challenge of another identity");
    app.call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&json!({"challenge_token": challenge, "code": "000000", "code_type": "sms"}))
        .send()
        .await
        .like("mfa verify 422 bad code_type");
    let r = app.call("POST", verify).without_cookies().token(&pre).json(&json!({"challenge_token": challenge, "code": totp_now(&secret), "remember_device": true})).send().await;
    r.like("mfa verify success TOTP with remember_device");
    assert_eq!(r.data()["recovery_codes"], json!(null));
    let device = r.str("remember_device_token");
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(claims["mfa_method"], "totp");

    // The remembered device skips the challenge.
    let pre = pre_org(&app, &m).await;
    let r = select_org(&app, &pre, "acme", Some(&device)).await;
    r.like("select-org success with remember_device_token (no MFA challenge)");
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(
        (claims["mfa"].clone(), claims["mfa_method"].clone()),
        (json!(true), json!("remember_device"))
    );
    select_org(&app, &pre, "acme", Some("unknown-device-token"))
        .await
        .like("select-org with unknown remember_device_token -> mfa_required");

    // Recovery codes: case and dash insensitive, single use. (A second identity, so the
    // challenge is not byte-identical to the one above, which already counted attempts.)
    let m = create_member(&app, "acme", MemberSpec::admin("rec@acme.example.com")).await;
    store_recovery_codes(&app, m.identity_id, &["ABCD-EFGH", "JKLM-NPQR"]).await;
    let pre = pre_org(&app, &m).await;
    let r = select_org(&app, &pre, "acme", None).await;
    let challenge = r.str("challenge_token");
    let rec =
        |code: &str| json!({"challenge_token": challenge, "code": code, "code_type": "recovery"});
    app.call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&rec("ZZZZ-ZZZZ"))
        .send()
        .await
        .like("mfa verify 401 invalid recovery code");
    let r = app
        .call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&rec("abcd-efgh"))
        .send()
        .await;
    r.like("mfa verify success with recovery code (lower-case, dash kept)");
    let (_, claims) = decode_jwt(&r.str("access_token"));
    assert_eq!(claims["mfa_method"], "recovery");
    app.call("POST", verify)
        .without_cookies()
        .token(&pre)
        .json(&rec("ABCDEFGH"))
        .send()
        .await
        .is(401, "unauthorized", "Invalid recovery code");
    let r = app
        .call("GET", "/auth/mfa/recovery-codes/count")
        .without_cookies()
        .token(r.str("access_token"))
        .org("acme")
        .send()
        .await;
    assert_eq!(r.data()["remaining_count"], 1);

    // With require_two_factor and LOGIN in the actions the device no longer skips MFA.
    set_org_settings(
        &app,
        "acme",
        "require_two_factor = true, mfa_required_actions = '[\"LOGIN\"]'",
    )
    .await;
    let admin = m_first;
    let pre = pre_org(&app, &admin).await;
    let r = select_org(&app, &pre, "acme", Some(&device)).await;
    r.like(
        "select-org with valid remember_device_token -> still mfa_required (LOGIN action forced)",
    );
    assert_eq!(r.data()["mfa_required"], true);
    // remember_device_days = 0 disables devices entirely.
    set_org_settings(
        &app,
        "acme",
        "require_two_factor = false, remember_device_days = 0",
    )
    .await;
    let r = select_org(&app, &pre, "acme", Some(&device)).await;
    assert_eq!(r.data()["mfa_required"], true, "{}", r.body);
}

#[tokio::test]
async fn the_sixth_mfa_attempt_on_one_challenge_is_refused() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let pre = pre_org(&app, &m).await;
    let challenge = select_org(&app, &pre, "acme", None)
        .await
        .str("challenge_token");
    let body = json!({"challenge_token": challenge, "code": "000000"});
    for _ in 0..5 {
        app.call("POST", "/auth/mfa/verify")
            .without_cookies()
            .token(&pre)
            .json(&body.clone())
            .send()
            .await
            .is(401, "unauthorized", "Invalid MFA code");
    }
    // Even the right code is refused now.
    let good =
        json!({"challenge_token": challenge, "code": totp_now(m.totp_secret.as_deref().unwrap())});
    app.call("POST", "/auth/mfa/verify")
        .without_cookies()
        .token(&pre)
        .json(&good)
        .send()
        .await
        .like("mfa verify 429 sixth attempt on the same challenge");

    // The same limit guards step-up verification. (Another member: challenges minted for one
    // identity within the same second are byte-identical and share one counter, as in the
    // legacy service.)
    let m2 = create_member(&app, "acme", MemberSpec::admin("admin2@acme.example.com")).await;
    let s = sign_in_remembering(&app, &m2).await;
    let access = s.str("access_token");
    let r = app
        .call("POST", "/auth/mfa/recovery-codes/regenerate")
        .without_cookies()
        .token(&access)
        .org("acme")
        .send()
        .await;
    let challenge = r.body["details"]["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"challenge_token": challenge, "code": "000000"});
    for _ in 0..5 {
        app.call("POST", "/auth/step-up/verify")
            .without_cookies()
            .token(&access)
            .org("acme")
            .json(&body.clone())
            .send()
            .await
            .like("step-up verify 401 wrong TOTP code");
    }
    app.call("POST", "/auth/step-up/verify")
        .without_cookies()
        .token(&access)
        .org("acme")
        .json(&body)
        .send()
        .await
        .is(
            429,
            "rate_limited",
            "Too many MFA verification attempts; please request a new code",
        );
}

#[tokio::test]
async fn step_up_guards_recovery_code_regeneration_and_self_reset() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    let m = create_member(&app, "acme", MemberSpec::admin("admin@acme.example.com")).await;
    let other = create_member(&app, "acme", MemberSpec::admin("other@acme.example.com")).await;
    let plain = create_member(&app, "acme", MemberSpec::new("plain@acme.example.com")).await;
    store_recovery_codes(&app, m.identity_id, &["ABCD-EFGH", "JKLM-NPQR"]).await;
    let s = app.sign_in(&m).await;
    let so = app.sign_in(&other).await;
    let sp = app.sign_in(&plain).await;

    // Without MFA these answer 400 before any step-up.
    app.call("GET", "/auth/mfa/recovery-codes/count")
        .without_cookies()
        .token(&sp.access)
        .org("acme")
        .send()
        .await
        .like("recovery-codes count 400 MFA not enabled");
    app.call("POST", "/auth/mfa/recovery-codes/regenerate")
        .without_cookies()
        .token(&sp.access)
        .org("acme")
        .send()
        .await
        .like("recovery-codes regenerate 400 MFA not enabled");
    app.call("POST", "/auth/mfa/reset")
        .without_cookies()
        .token(&sp.access)
        .org("acme")
        .send()
        .await
        .like("self MFA reset 400 MFA not enabled");

    let regen = "/auth/mfa/recovery-codes/regenerate";
    let r = app
        .call("POST", regen)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    r.like("recovery-codes regenerate 403 step-up required (always)");
    assert_eq!(
        r.body,
        json!({"code": "step_up_mfa_required", "message": "Step-up MFA verification required", "data": null,
               "details": {"step_up_required": true, "challenge_token": r.body["details"]["challenge_token"],
                           "action": "RECOVERY_CODES_REGENERATE"}})
    );
    let challenge = r.body["details"]["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, c) = decode_jwt(&challenge);
    assert_eq!(c["type"], "step_up_challenge");

    let sv = "/auth/step-up/verify";
    let sv_body =
        |code: &str, ty: &str| json!({"challenge_token": challenge, "code": code, "code_type": ty});
    app.call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"challenge_token": "not-a-jwt", "code": "1"}))
        .send()
        .await
        .like("step-up verify 400 garbage challenge");
    app.call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&sv_body("000000", "sms"))
        .send()
        .await
        .like("step-up verify 422 bad code_type");
    app.call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&sv_body("000000", "totp"))
        .send()
        .await
        .like("step-up verify 401 wrong TOTP code");
    app.call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&sv_body("ZZZZ-ZZZZ", "recovery"))
        .send()
        .await
        .like("step-up verify 401 invalid recovery code");
    app.call("POST", sv)
        .without_cookies()
        .token(&so.access)
        .org("acme")
        .json(&sv_body("000000", "totp"))
        .send()
        .await
        .like("step-up verify 403 challenge belongs to another user");
    let pre = pre_org(&app, &m).await;
    let mfa_challenge = select_org(&app, &pre, "acme", None)
        .await
        .str("challenge_token");
    app.call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"challenge_token": mfa_challenge, "code": "000000"}))
        .send()
        .await
        .like("step-up verify 400 wrong token type as challenge (mfa_challenge)");
    app.call("POST", sv)
        .without_cookies()
        .token(&sp.access)
        .org("acme")
        .json(&json!({"challenge_token": challenge, "code": "000000"}))
        .send()
        .await
        .is(
            403,
            "forbidden",
            "Challenge token does not match current user",
        );

    let step_up = step_up_token(&app, &s, &m, &challenge).await;
    let (_, c) = decode_jwt(&step_up);
    assert_eq!(
        (c["type"].clone(), c["action"].clone()),
        (json!("step_up"), json!("RECOVERY_CODES_REGENERATE"))
    );

    let with = |tok: &str| {
        app.call("POST", regen)
            .without_cookies()
            .token(&s.access)
            .org("acme")
            .header("X-Step-Up-Token", tok)
    };
    with("garbage")
        .send()
        .await
        .like("recovery-codes regenerate with garbage step-up token -> 403 new challenge");
    let r = with(&step_up).send().await;
    r.like("recovery-codes regenerate success (replay with X-Step-Up-Token)");
    assert_eq!(r.data()["recovery_codes"].as_array().unwrap().len(), 10);
    let new_code = r.data()["recovery_codes"][0].as_str().unwrap().to_owned();
    app.call("GET", "/auth/mfa/recovery-codes/count")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await
        .like("recovery-codes count after regenerate");
    // A step-up token for one action does not open another.
    let r = app
        .call("POST", "/auth/mfa/reset")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .header("X-Step-Up-Token", step_up.clone())
        .send()
        .await;
    r.like("self MFA reset 403 step-up required (always)");
    assert_eq!(r.body["details"]["action"], "SELF_MFA_RESET");
    let challenge = r.body["details"]["challenge_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Step-up with a recovery code consumes it.
    let r = app
        .call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"challenge_token": challenge, "code": new_code, "code_type": "recovery"}))
        .send()
        .await;
    r.like("step-up verify success with recovery code");
    let reset_token = r.str("step_up_token");
    let r = app
        .call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"challenge_token": challenge, "code": new_code, "code_type": "recovery"}))
        .send()
        .await;
    r.like("step-up verify 401 recovery code already used");

    let r = app
        .call("POST", "/auth/mfa/reset")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .header("X-Step-Up-Token", reset_token)
        .send()
        .await;
    r.like("self MFA reset success (replay with X-Step-Up-Token)");
    assert_eq!(
        r.data()["message"],
        "MFA has been reset. Please set up MFA again."
    );
    app.call("GET", "/auth/mfa/recovery-codes/count")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await
        .like("recovery-codes count 400 after self reset");
    app.call("POST", "/auth/mfa/setup/verify")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"code": "123456"}))
        .send()
        .await
        .like("mfa setup/verify 400 MFA not initialized (after reset)");
    // Sessions survive a self reset.
    assert_eq!(me(&app, &s.access, "acme").await.status, 200);
    let r = app
        .call("POST", sv)
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"challenge_token": challenge, "code": "000000"}))
        .send()
        .await;
    r.like("step-up verify 400 user has no MFA");

    // Post-login enrolment.
    let r = app
        .call("POST", "/auth/mfa/setup/start")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    r.like("mfa setup/start success (post-login enrolment)");
    assert_eq!(r.data()["remember_device_days"], json!(null));
    let secret = secret_of(&r.str("otpauth_url"));
    app.call("POST", "/auth/mfa/setup/verify")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"code": "000000"}))
        .send()
        .await
        .like("mfa setup/verify 401 wrong code");
    app.call("POST", "/auth/mfa/setup/verify")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({}))
        .send()
        .await
        .like("mfa setup/verify 422 missing code");
    let r = app
        .call("POST", "/auth/mfa/setup/verify")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"code": totp_now(&secret), "remember_device": true}))
        .send()
        .await;
    r.like("mfa setup/verify success with remember_device");
    assert_eq!(r.data()["recovery_codes"].as_array().unwrap().len(), 10);
    assert!(r.data()["remember_device_token"].is_string());
}

#[tokio::test]
async fn setup_verify_refuses_remember_device_after_enabling_mfa_when_devices_are_off() {
    let app = spawn_app().await;
    create_org(&app, "acme", "Acme").await;
    set_org_settings(&app, "acme", "remember_device_days = 0").await;
    let m = create_member(&app, "acme", MemberSpec::new("e@acme.example.com")).await;
    let s = app.sign_in(&m).await;
    let r = app
        .call("POST", "/auth/mfa/setup/start")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    let secret = secret_of(&r.str("otpauth_url"));
    app.call("POST", "/auth/mfa/setup/verify")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .json(&json!({"code": totp_now(&secret), "remember_device": true}))
        .send()
        .await
        .like("mfa setup/verify 400 remember device disabled (MFA is enabled anyway)");
    let r = app
        .call("GET", "/auth/mfa/recovery-codes/count")
        .without_cookies()
        .token(&s.access)
        .org("acme")
        .send()
        .await;
    r.like("recovery-codes count after the 400 above (MFA was enabled and codes created)");
    assert_eq!(r.data()["remaining_count"], 10);

    // An org that requires two-factor sends an employee without MFA to enrolment.
    let e = create_member(&app, "acme", MemberSpec::new("f@acme.example.com")).await;
    set_org_settings(&app, "acme", "require_two_factor = true").await;
    let pre = pre_org(&app, &e).await;
    select_org(&app, &pre, "acme", None)
        .await
        .like("select-org -> mfa_setup_required for employee because org requires two-factor");
}
