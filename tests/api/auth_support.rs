//! Shared helpers of the auth test files: raw responses with headers, comparison against the
//! recorded legacy samples (status, code, message, `data` keys in order, no-store headers,
//! cookie attributes, `X-CSRF-Token` presence), token minting and decoding, and DB pokes.

#![allow(dead_code)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fixtures::{Member, Session, totp_now};
use crate::helpers::{Resp, TestApp, sample, vector_keys};

impl Resp {
    /// Compares with the recorded legacy exchange `name` of `auth.json`: status, code, message,
    /// the key order of `data` (and of error `details`), the no-store headers (present on 2xx
    /// auth answers only), `X-CSRF-Token` presence and the `Set-Cookie` shapes.
    pub fn like(&self, name: &str) -> &Self {
        self.like_with(name, false)
    }

    /// As [`Resp::like`], but `data` may carry extra keys after the recorded ones (`/auth/me`,
    /// DESIGN.md §4).
    pub fn like_prefix(&self, name: &str) -> &Self {
        self.like_with(name, true)
    }

    fn like_with(&self, name: &str, prefix: bool) -> &Self {
        let s = sample("auth.json", name);
        let expected = &s["response"];
        assert_eq!(
            self.status, expected["status"],
            "status of {name:?}; body: {}",
            self.body
        );
        let eb = &expected["body"];
        assert_eq!(
            self.body["code"], eb["code"],
            "code of {name:?}: {}",
            self.body
        );
        if eb["code"] != "validation_error" {
            assert_eq!(
                self.body["message"], eb["message"],
                "message of {name:?}: {}",
                self.body
            );
        } else {
            let prefix = eb["message"].as_str().unwrap().split(':').next().unwrap();
            assert!(
                self.body["message"].as_str().unwrap().starts_with(prefix),
                "message of {name:?}: {}",
                self.body
            );
        }
        let keys = |v: &Value| -> Vec<String> {
            v.as_object()
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let (ak, ek) = (keys(&self.body["data"]), keys(&eb["data"]));
        if prefix {
            assert!(
                ak.starts_with(&ek),
                "data keys of {name:?}: {ak:?} vs {ek:?}"
            );
        } else {
            assert_eq!(ak, ek, "data keys of {name:?}");
        }
        // Value types of `data` (null stays null, booleans equal, strings stay strings…);
        // ids, names and counts depend on the recorded database and are not compared.
        if let (Some(actual), Some(expected)) =
            (self.body["data"].as_object(), eb["data"].as_object())
        {
            for (k, ev) in expected {
                if prefix && k == "full_name" {
                    continue; // DESIGN.md §4: the real name instead of the legacy null
                }
                let av = &actual[k];
                let same = match ev {
                    Value::Null => av.is_null(),
                    Value::Bool(b) => {
                        av.as_bool() == Some(*b)
                            || k == "must_change_password"
                            || k == "mfa_enabled"
                            || k == "is_superuser"
                    }
                    Value::String(_) => av.is_string(),
                    Value::Number(_) => av.is_number(),
                    Value::Array(_) => av.is_array(),
                    Value::Object(_) => av.is_object(),
                };
                assert!(same, "data.{k} of {name:?}: {av} vs recorded {ev}");
            }
        }
        assert_eq!(
            self.body["data"].is_null(),
            eb["data"].is_null(),
            "data null of {name:?}: {}",
            self.body
        );
        if eb["code"] != "validation_error" {
            assert_eq!(
                keys(&self.body["details"]),
                keys(&eb["details"]),
                "details keys of {name:?}"
            );
        }
        let eh = &expected["headers"];
        for h in ["cache-control", "pragma", "expires"] {
            assert_eq!(
                self.headers.get(h).map(|v| v.to_str().unwrap().to_owned()),
                eh[h].as_str().map(str::to_owned),
                "header {h} of {name:?}"
            );
        }
        assert_eq!(
            self.headers.contains_key("x-csrf-token"),
            !eh["x-csrf-token"].is_null(),
            "x-csrf-token presence of {name:?}"
        );
        let expected_cookies: Vec<String> = eh["set-cookie"]
            .as_array()
            .map(|a| a.iter().map(|c| c.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        let actual: Vec<String> = self.cookies().iter().map(|c| mask_cookie(c)).collect();
        let expected: Vec<String> = expected_cookies.iter().map(|c| mask_cookie(c)).collect();
        assert_eq!(actual, expected, "set-cookie of {name:?}");
        if let Some(csrf) = self.headers.get("x-csrf-token") {
            assert_eq!(csrf.to_str().unwrap(), self.body["data"]["csrf_token"]);
        }
        self
    }
}

/// `name=<value>; …` with the value and any `expires=` date masked.
fn mask_cookie(line: &str) -> String {
    line.split("; ")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                let (k, v) = part.split_once('=').unwrap();
                if v == "\"\"" {
                    format!("{k}=\"\"")
                } else {
                    format!("{k}=<value>")
                }
            } else if part.to_ascii_lowercase().starts_with("expires=") {
                "expires=<date>".to_owned()
            } else {
                part.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub async fn me(app: &TestApp, token: &str, org: &str) -> Resp {
    app.call("GET", "/auth/me")
        .without_cookies()
        .token(token)
        .org(org)
        .send()
        .await
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> Resp {
    app.call("POST", "/auth/login")
        .without_cookies()
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
}

/// Login → pre-org token.
pub async fn pre_org(app: &TestApp, member: &Member) -> String {
    let r = login(app, &member.email, &member.password).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.str("pre_org_token")
}

pub async fn select_org(app: &TestApp, pre_org: &str, org: &str, device: Option<&str>) -> Resp {
    let mut body = json!({"org_id": org});
    if let Some(d) = device {
        body["remember_device_token"] = json!(d);
    }
    app.call("POST", "/auth/select-org")
        .without_cookies()
        .token(pre_org)
        .json(&body)
        .send()
        .await
}

/// Signs in and answers the MFA challenge with `remember_device: true`; returns the session
/// data (with `remember_device_token`).
pub async fn sign_in_remembering(app: &TestApp, member: &Member) -> Resp {
    let pre = pre_org(app, member).await;
    let sel = select_org(app, &pre, &member.org_id, None).await;
    assert_eq!(sel.data()["mfa_required"], true, "{}", sel.body);
    let r = app
        .call("POST", "/auth/mfa/verify")
        .without_cookies()
        .token(&pre)
        .json(&json!({"challenge_token": sel.str("challenge_token"),
               "code": totp_now(member.totp_secret.as_deref().unwrap()),
               "remember_device": true}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r
}

/// The decoded header and claims of a JWT (no verification).
pub fn decode_jwt(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let h = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    let c = URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap();
    (
        serde_json::from_slice(&h).unwrap(),
        serde_json::from_slice(&c).unwrap(),
    )
}

/// Signs `claims` as the legacy service did: RS256, header `{"alg":"RS256","typ":"JWT"}`
/// without `kid`, with whatever claims are given (no `iss` unless the caller adds one).
pub fn legacy_sign(claims: &Value) -> String {
    let (private, _) = vector_keys();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &key,
    )
    .unwrap()
}

/// HS256 signed with the PUBLIC key as the HMAC secret (the key-confusion attack).
pub fn hs256_with_public_key(claims: &Value) -> String {
    let (_, public) = vector_keys();
    let key = jsonwebtoken::EncodingKey::from_secret(public.as_bytes());
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &key,
    )
    .unwrap()
}

/// `alg: none`, empty signature.
pub fn alg_none(claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap());
    format!("{h}.{c}.")
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims of an access token for `member` in the legacy layout.
pub fn legacy_access_claims(member: &Member, tv: i64, exp_in: i64) -> Value {
    let now = now();
    json!({
        "sub": member.user_id.to_string(), "org": member.org_id, "iid": member.identity_id.to_string(),
        "su": false, "mfa": false, "aud": "sole-backend", "exp": now + exp_in, "iat": now,
        "type": "access", "tv": tv,
    })
}

pub async fn last_active(app: &TestApp, identity: Uuid) -> Option<time::OffsetDateTime> {
    sqlx::query_scalar("SELECT last_active_at FROM identities WHERE id = $1")
        .bind(identity)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

pub async fn set_last_active_minutes_ago(app: &TestApp, identity: Uuid, minutes: i64) {
    sqlx::query(
        "UPDATE identities SET last_active_at = now() - make_interval(mins => $2::int) WHERE id = $1",
    )
    .bind(identity)
    .bind(minutes as i32)
    .execute(&app.db)
    .await
    .unwrap();
}

pub async fn token_version(app: &TestApp, identity: Uuid) -> i32 {
    sqlx::query_scalar("SELECT token_version FROM identities WHERE id = $1")
        .bind(identity)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Stores `codes` as the identity's recovery codes (the stored form: SHA-256 of the
/// normalised code).
pub async fn store_recovery_codes(app: &TestApp, identity: Uuid, codes: &[&str]) {
    let mut conn = app.db.acquire().await.unwrap();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| sole::auth::recovery::hash_recovery_code(c))
        .collect();
    sole::services::mfa::replace_recovery_codes(&mut conn, identity, &hashes)
        .await
        .unwrap();
}

/// Step-up: triggers the 403 with `call`, verifies the challenge with TOTP and returns the
/// step-up token.
pub async fn step_up_token(
    app: &TestApp,
    session: &Session,
    member: &Member,
    challenge: &str,
) -> String {
    let r = app.call("POST", "/auth/step-up/verify").without_cookies().token(&session.access).org(&session.org_id).json(&json!({"challenge_token": challenge, "code": totp_now(member.totp_secret.as_deref().unwrap())})).send().await;
    r.like("step-up verify success (TOTP)");
    r.str("step_up_token")
}
