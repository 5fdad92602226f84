use serde_json::json;

use crate::helpers::{assert_same_keys, json, sample, spawn_app, spawn_app_with};

#[tokio::test]
async fn live_answers_ok_in_the_envelope_with_an_iso_timestamp() {
    let app = spawn_app().await;
    let resp = app.get("/health/live").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let (_, body) = json(resp).await;
    let expected = &sample("health-meta.json", "health live")["response"]["body"];
    assert_same_keys(&body, expected);
    assert_same_keys(&body["data"], &expected["data"]);
    assert_eq!(body["code"], "ok");
    assert_eq!(body["data"]["status"], "ok");
    let ts = body["data"]["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("+00:00"), "{ts}");
    assert_eq!(body["details"], json!({}));
}

#[tokio::test]
async fn every_response_carries_request_id_and_security_headers() {
    let app = spawn_app().await;
    let resp = app
        .call("GET", "/health/live")
        .header("X-Request-ID", "req-123")
        .response()
        .await;
    let h = resp.headers();
    assert_eq!(h["x-request-id"], "req-123");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-xss-protection"], "0");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin");
    assert_eq!(h["cross-origin-resource-policy"], "same-origin");
    assert_eq!(h["content-security-policy"], "default-src 'self'");
    assert!(
        h.get("strict-transport-security").is_none(),
        "HSTS is off in the test settings"
    );

    let resp = app.get("/health/live").await;
    let generated = resp.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(generated).is_ok(), "{generated}");
}

#[tokio::test]
async fn hsts_and_report_only_csp_follow_the_settings() {
    let app = spawn_app_with(&[
        ("ENABLE_HSTS", "true"),
        ("CONTENT_SECURITY_POLICY_REPORT_ONLY", "true"),
    ])
    .await;
    let resp = app.get("/health/live").await;
    let h = resp.headers();
    assert_eq!(
        h["strict-transport-security"],
        "max-age=63072000; includeSubDomains; preload"
    );
    assert_eq!(
        h["content-security-policy-report-only"],
        "default-src 'self'"
    );
    assert!(h.get("content-security-policy").is_none());
}

#[tokio::test]
async fn ready_is_ok_when_database_and_redis_answer() {
    let app = spawn_app().await;
    let (status, body) = json(app.get("/health/ready").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["status"], "ok");
    assert_eq!(body["data"]["ready"], true);
    assert_eq!(body["data"]["cache_backend"], "redis");
    assert!(
        body["data"].get("checks").is_none(),
        "checks only with HEALTH_INCLUDE_DETAILS"
    );
}

#[tokio::test]
async fn ready_with_details_reports_each_check() {
    let app = spawn_app_with(&[("HEALTH_INCLUDE_DETAILS", "true")]).await;
    let (_, body) = json(app.get("/health/ready").await).await;
    let data = &body["data"];
    assert_eq!(data["environment"], "development");
    assert_eq!(data["checks"]["api"]["status"], "ok");
    assert_eq!(data["checks"]["api"]["version"], "0.1.0");
    assert_eq!(data["checks"]["database"]["status"], "ok");
    assert_eq!(data["checks"]["redis"]["status"], "ok");
}

#[tokio::test]
async fn ready_is_degraded_and_503_when_the_database_is_down() {
    // A port nothing listens on: the readiness check fails fast.
    let app = spawn_app_with(&[
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nothing"),
        ("HEALTH_INCLUDE_DETAILS", "true"),
        ("DB_POOL_TIMEOUT", "1"),
    ])
    .await;
    let (status, body) = json(app.get("/health/ready").await).await;
    // Load balancers read the status: 503 while not ready, with the legacy body.
    assert_eq!(status, 503);
    assert_eq!(body["data"]["status"], "degraded");
    assert_eq!(body["data"]["ready"], false);
    assert_eq!(body["data"]["checks"]["database"]["status"], "error");
    assert_eq!(body["data"]["checks"]["redis"]["status"], "ok");
    // Liveness never depends on the database.
    assert_eq!(app.get("/health/live").await.status(), 200);
}

#[tokio::test]
async fn ready_is_degraded_when_redis_is_unreachable() {
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let (status, body) = json(app.get("/health/ready").await).await;
    assert_eq!(status, 503);
    assert_eq!(app.get("/health/live").await.status(), 200);
    assert_eq!(body["data"]["status"], "degraded");
    assert_eq!(body["data"]["ready"], false);
}

#[tokio::test]
async fn status_summary_always_lists_the_three_checks() {
    let app = spawn_app().await;
    let (status, body) = json(app.get("/status/summary").await).await;
    assert_eq!(status, 200);
    let data = &body["data"];
    assert_eq!(data["status"], "ok");
    assert_eq!(data["ready"], true);
    assert_eq!(data["version"], "0.1.0");
    for check in ["api", "database", "redis"] {
        assert_eq!(data["checks"][check], json!({"status": "ok"}), "{check}");
    }
    assert!(
        data.get("environment").is_none(),
        "environment only with details"
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_error_envelope() {
    let app = spawn_app().await;
    let (status, body) = json(app.get("/no/such/route").await).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        sample("health-meta.json", "unknown route")["response"]["body"]
    );

    let resp = app.call("POST", "/health/live").response().await;
    let (status, body) = json(resp).await;
    assert_eq!(status, 405);
    assert_eq!(
        body,
        sample("health-meta.json", "method not allowed")["response"]["body"]
    );
}

#[tokio::test]
async fn cors_headers_follow_the_allowed_origins() {
    let app = spawn_app().await;
    let resp = app
        .call("GET", "/health/live")
        .header("Origin", "http://localhost:5173")
        .response()
        .await;
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    assert_eq!(resp.headers()["vary"], "Origin");

    let resp = app
        .call("GET", "/health/live")
        .header("Origin", "https://evil.example.com")
        .response()
        .await;
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");

    // Errors carry the CORS headers too, or the browser hides the status from the frontend.
    let resp = app
        .call("GET", "/nope")
        .header("Origin", "http://localhost:5173")
        .response()
        .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
}

#[tokio::test]
async fn cors_preflights_match_the_legacy_answers() {
    let app = spawn_app().await;
    for name in [
        "CORS preflight allowed (refresh with CSRF + org headers)",
        "CORS preflight disallowed origin",
        "CORS preflight with non-allowed request header (Idempotency-Key)",
    ] {
        let exchange = sample("health-meta.json", name);
        let req = &exchange["request"];
        let mut builder = app.call("OPTIONS", "").url(format!(
            "{}{}",
            app.address,
            req["path"].as_str().unwrap()
        ));
        for (k, v) in req["headers"].as_object().unwrap() {
            builder = builder.header(k, v.as_str().unwrap());
        }
        let resp = builder.response().await;
        let mut expected = exchange["response"].clone();
        // Deliberate difference: `Idempotency-Key` (loan create and submit) is an allowed
        // header, so its preflight passes and every allow-list names it.
        if let Some(list) = expected["headers"]
            .get("access-control-allow-headers")
            .and_then(|v| v.as_str())
        {
            let list = list.replace("Content-Type, ", "Content-Type, Idempotency-Key, ");
            expected["headers"]["access-control-allow-headers"] = serde_json::json!(list);
        }
        if name.contains("Idempotency-Key") {
            expected["status"] = serde_json::json!(200);
            expected["body"] = serde_json::json!("OK");
        }
        let expected = &expected;
        assert_eq!(
            resp.status().as_u16() as u64,
            expected["status"].as_u64().unwrap(),
            "{name}"
        );
        for (k, v) in expected["headers"].as_object().unwrap() {
            assert_eq!(
                resp.headers().get(k.as_str()).map(|h| h.to_str().unwrap()),
                v.as_str(),
                "{name}: header {k}"
            );
        }
        if expected["headers"]
            .get("access-control-allow-origin")
            .is_none()
        {
            assert!(
                resp.headers().get("access-control-allow-origin").is_none(),
                "{name}"
            );
        }
        assert_eq!(
            resp.text().await.unwrap(),
            expected["body"].as_str().unwrap(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn docs_and_openapi_are_served_in_development_only() {
    let app = spawn_app().await;
    let resp = app
        .call("GET", "")
        .url(format!("{}/openapi.json", app.address))
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    let spec: serde_json::Value = resp.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(spec["paths"].get("/api/v1/health/live").is_some());
    // Tags in a reading order, auth first, and every tag used by a path is declared.
    let tags: Vec<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags.first(), Some(&"auth"), "{tags:?}");
    assert_eq!(tags.last(), Some(&"health"), "{tags:?}");
    for op in spec["paths"].as_object().unwrap().values() {
        for method in op.as_object().unwrap().values() {
            for tag in method["tags"].as_array().into_iter().flatten() {
                assert!(
                    tags.contains(&tag.as_str().unwrap()),
                    "{tag} is not declared"
                );
            }
        }
    }
    // The auth tag says which token each auth endpoint expects.
    let auth = spec["tags"][0]["description"].as_str().unwrap();
    for needle in [
        "`POST /auth/mfa/enroll/start`, `POST /auth/mfa/enroll/verify`: the pre-org token",
        "`POST /auth/change-password`: the **access token**",
    ] {
        assert!(auth.contains(needle), "{needle}:\n{auth}");
    }
    // /health/ready documents its 503.
    assert!(
        spec["paths"]["/api/v1/health/ready"]["get"]["responses"]
            .get("503")
            .is_some()
    );
    // The document describes the wire: JSON successes inside the envelope, every error in the
    // error envelope, and the errors every authenticated endpoint can answer.
    let error_ref = "#/components/schemas/ErrorEnvelope";
    assert_eq!(
        spec["components"]["schemas"]["ErrorEnvelope"]["required"],
        serde_json::json!(["code", "message", "data", "details"])
    );
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                let schema = &response["content"]["application/json"]["schema"];
                if status.starts_with('2') {
                    if !schema.is_null() {
                        assert_eq!(
                            schema["required"],
                            serde_json::json!(["code", "message", "data", "details"]),
                            "{method} {path} {status} is not enveloped"
                        );
                    }
                } else if path != "/api/v1/health/ready" {
                    assert_eq!(
                        schema["$ref"], error_ref,
                        "{method} {path} {status} lacks the error envelope"
                    );
                }
            }
            if secured {
                for status in ["401", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} does not list {status}"
                    );
                }
            }
        }
    }
    // Parameters say what validation refuses: paging is in the query with its bounds, ids are
    // UUIDs, and an optional body is left out rather than sent as JSON null.
    let page_size = spec["paths"]["/api/v1/departments"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page_size")
        .unwrap();
    assert_eq!(page_size["in"], "query", "{page_size}");
    assert_eq!(page_size["schema"]["maximum"], 100, "{page_size}");
    let role_id = &spec["paths"]["/api/v1/roles/{role_id}"]["patch"]["parameters"][0];
    assert_eq!(role_id["schema"]["format"], "uuid", "{role_id}");
    let refresh = &spec["paths"]["/api/v1/auth/refresh"]["post"]["requestBody"];
    assert_eq!(refresh["required"], false, "{refresh}");
    assert!(
        refresh["content"]["application/json"]["schema"]["$ref"].is_string(),
        "{refresh}"
    );
    let me = &spec["paths"]["/api/v1/auth/me"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert!(me["properties"]["data"].is_object(), "{me}");
    let resp = app
        .call("GET", "")
        .url(format!("{}/docs/", app.address))
        .response()
        .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("swagger"));

    let prod = spawn_app_with(&[("DOCS_ENABLED", "false")]).await;
    let resp = prod
        .call("GET", "")
        .url(format!("{}/openapi.json", prod.address))
        .response()
        .await;
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn concurrency_limit_answers_429_server_busy() {
    // Saturate the one slot with a slow request: readiness against a local "database" that
    // accepts connections and never answers holds the slot until the check times out.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let db_url = format!(
        "postgres://postgres@{}/none",
        black_hole.local_addr().unwrap()
    );
    let app = spawn_app_with(&[
        ("REQUEST_CONCURRENCY_LIMIT", "1"),
        ("REQUEST_CONCURRENCY_TIMEOUT_SECONDS", "0.2"),
        ("DATABASE_URL", &db_url),
    ])
    .await;
    let slow = {
        let ready = app.call("GET", "/health/ready");
        tokio::spawn(async move { ready.response().await.status() })
    };
    // Wait until the slow request holds the slot: poll until a request is refused.
    let mut refused = None;
    for _ in 0..50 {
        let resp = app.get("/health/live").await;
        if resp.status() == 429 {
            refused = Some(resp);
            break;
        }
    }
    let resp = refused.expect("a second request was refused while the slot was held");
    assert_eq!(resp.headers()["retry-after"], "1");
    let (_, body) = json(resp).await;
    assert_eq!(body["code"], "server_busy");
    assert_eq!(body["message"], "Server is handling too many requests");
    assert_eq!(
        body["details"]["detail"],
        "Concurrency limit reached. Please retry."
    );
    // The database never answers: not ready.
    assert_eq!(slow.await.unwrap(), 503);
}
