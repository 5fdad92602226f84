//! The OpenAPI 3.1 document (generated from the handlers by utoipa) and the embedded Swagger UI.

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

/// Which token each auth endpoint expects (the "Authorize" button takes one bearer token at a
/// time, so this says which one to paste).
const AUTH_TAG: &str = "Sign-in, MFA, sessions and impersonation. Tokens, by endpoint:\n\n\
- `POST /auth/login`: no token. Returns a **pre-org token** (5 min) and `must_change_password`.\n\
- `GET /auth/orgs`, `POST /auth/select-org`: the pre-org token (or an access token).\n\
- `POST /auth/mfa/verify`: the pre-org token, with the `challenge_token` select-org returned \
(`mfa_required: true`).\n\
- `POST /auth/mfa/enroll/start`, `POST /auth/mfa/enroll/verify`: the pre-org token, with the \
`setup_token` select-org returned (`mfa_setup_required: true`: every superuser and org admin \
enrols at first sign-in). Verify returns the access and refresh tokens.\n\
- `POST /auth/change-password`: the **access token**. While `must_change_password` is set, every \
other endpoint answers 403 \"Password change required\".\n\
- `POST /auth/refresh`: the refresh token (body, or cookie plus `X-CSRF-Token`); \
`POST /auth/refresh/csrf`: the refresh cookie.\n\
- `POST /auth/step-up/verify`: the access token and the challenge of a 403 \
`step_up_mfa_required`; returns the `X-Step-Up-Token` for the retried call.\n\
- Everything else: the access token (`Authorization: Bearer …` and `X-Org-Id`).";

#[derive(OpenApi)]
#[openapi(
    info(title = "SOLE Backend", description = "The SOLE platform core API (`sole`)."),
    // Swagger UI lists tags in this order: signing in first, then the caller's own data, then
    // the org's resources, then reference data and health.
    tags(
        (name = "auth", description = AUTH_TAG),
        (name = "self", description = "The signed-in user's context, policy and profile"),
        (name = "orgs", description = "Organisations"),
        (name = "org-users", description = "Members of the org: invitations, status, roles, profiles"),
        (name = "roles", description = "Roles and their permissions"),
        (name = "acls", description = "Per-resource access grants"),
        (name = "departments", description = "Departments"),
        (name = "org-settings", description = "Org policy and settings"),
        (name = "announcements", description = "Announcements and their live stream"),
        (name = "dashboard", description = "Dashboard summary"),
        (name = "stock", description = "Stock grants, vesting, eligibility and the stock dashboards"),
        (name = "loans", description = "Employee loans: quotes, applications, borrower views, admin workflow and the loan dashboard"),
        (name = "loan-admin", description = "Loan administration: queues, HR/finance/legal workflow, repayments"),
        (name = "documents", description = "Org document folders and templates"),
        (name = "assets", description = "Upload sessions and downloads of stored files"),
        (name = "audit", description = "Audit log"),
        (name = "meta", description = "Reference data: countries, subdivisions, time zones"),
        (name = "health", description = "Liveness, readiness and public status"),
    )
)]
struct ApiDoc;

/// The base document the routers add their paths to.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// `/openapi.json` and Swagger UI at `/docs`, served from the binary (vendored assets).
pub fn docs_router(spec: utoipa::openapi::OpenApi) -> Router {
    Router::from(
        SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", describe_the_wire(spec)),
    )
}

/// The handlers declare what they put in `data`; the wire carries it inside the envelope
/// `{code, message, data, details}`, and every error in the error envelope. This rewrites the
/// generated document so it describes the bytes a client receives:
///
/// - every JSON 2xx schema `S` becomes the success envelope with `data: S`;
/// - every error response gets the `ErrorEnvelope` body;
/// - the errors any endpoint can answer without saying so in its handler are listed: 401 and
///   the tenant 400 on authenticated endpoints, 422 where there is input to validate, 429 (rate
///   limits) and 503 (database or cache unavailable) wherever a request can reach them.
///
/// The result is served as JSON: utoipa's own types cannot read back every schema OpenAPI 3.1
/// allows (an "any value" `data: {}` among them).
fn describe_the_wire(spec: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(&spec).unwrap_or_default();
    wrap_responses(&mut doc);
    doc
}

const ERROR_REF: &str = "#/components/schemas/ErrorEnvelope";

fn error_envelope_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "description": "The error envelope: a stable `code`, a human `message`, `data` (null \
            except where an endpoint says otherwise) and `details` (for 422: `errors[]` with \
            pydantic-shaped `loc`, `msg`, `type`).",
        "required": ["code", "message", "data", "details"],
        "properties": {
            "code": {"type": "string", "examples": ["validation_error"]},
            "message": {"type": "string"},
            "data": {},
            "details": {"type": "object"}
        }
    })
}

fn success_envelope(data: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["code", "message", "data", "details"],
        "properties": {
            "code": {"type": "string", "enum": ["ok", "created"]},
            "message": {"type": "string", "enum": ["OK", "Created"]},
            "data": data,
            "details": {"type": "object"}
        }
    })
}

fn wrap_responses(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};

    if let Some(root) = doc.as_object_mut() {
        let components = root.entry("components").or_insert_with(|| json!({}));
        if let Some(components) = components.as_object_mut() {
            let schemas = components.entry("schemas").or_insert_with(|| json!({}));
            if let Some(schemas) = schemas.as_object_mut() {
                schemas.insert("ErrorEnvelope".to_owned(), error_envelope_schema());
            }
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        let is_health = path.contains("/health/") || path.ends_with("/status/summary");
        let is_static = path.contains("/meta/");
        // File downloads and the local upload target answer the bytes themselves.
        let serves_raw_bytes = path.ends_with("/download") || path.ends_with("/local-content");
        for (method, op) in item.iter_mut() {
            if !matches!(method.as_str(), "get" | "post" | "put" | "patch" | "delete") {
                continue;
            }
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let has_input = op.contains_key("requestBody")
                || op
                    .get("parameters")
                    .and_then(Value::as_array)
                    .is_some_and(|p| !p.is_empty());
            optional_body_is_not_null(op);
            let responses = op.entry("responses").or_insert_with(|| json!({}));
            let Some(responses) = responses.as_object_mut() else {
                continue;
            };
            let mut implied: Vec<(&str, &str)> = Vec::new();
            if secured {
                implied.push(("400", "Tenant resolution failed or a malformed header"));
                implied.push((
                    "401",
                    "Not authenticated, or the token is invalid or revoked",
                ));
            }
            if has_input {
                implied.push((
                    "422",
                    "Validation error: `details.errors[]` names each field",
                ));
            }
            if !is_health {
                implied.push(("429", "Rate limit exceeded; see `Retry-After`"));
            }
            if !is_health && !is_static {
                implied.push((
                    "503",
                    "Database or cache temporarily unavailable; see `Retry-After`",
                ));
            }
            for (status, description) in implied {
                responses
                    .entry(status.to_owned())
                    .or_insert_with(|| json!({"description": description}));
            }
            for (status, response) in responses.iter_mut() {
                let Some(response) = response.as_object_mut() else {
                    continue;
                };
                if status.starts_with('2') {
                    if !response.contains_key("content") && !serves_raw_bytes {
                        // Declared by its description only: still an envelope on the wire.
                        response.insert(
                            "content".to_owned(),
                            json!({"application/json": {"schema": {}}}),
                        );
                    }
                    let json_schema = response
                        .get_mut("content")
                        .and_then(|c| c.get_mut("application/json"))
                        .and_then(Value::as_object_mut);
                    if let Some(media) = json_schema {
                        let data = media.remove("schema").unwrap_or(json!({}));
                        media.insert("schema".to_owned(), success_envelope(data));
                    }
                } else if !response.contains_key("content") {
                    response.insert(
                        "content".to_owned(),
                        json!({"application/json": {"schema": {"$ref": ERROR_REF}}}),
                    );
                }
            }
        }
    }
}

/// utoipa renders an optional body (`Option<T>`) as "`T` or JSON `null`"; the extractors take
/// "no body" for it and refuse a `null` body with 422 like any non-object. The document says
/// so: the body is not required, and when sent it is a `T`.
fn optional_body_is_not_null(op: &mut serde_json::Map<String, serde_json::Value>) {
    use serde_json::Value;

    let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(media) = body
        .get_mut("content")
        .and_then(|c| c.get_mut("application/json"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let Some(arms) = media
        .get("schema")
        .and_then(|s| s.get("oneOf"))
        .and_then(Value::as_array)
    else {
        return;
    };
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if arms.len() == 2
        && arms.iter().any(is_null)
        && let Some(schema) = arms.iter().find(|v| !is_null(v)).cloned()
    {
        media.insert("schema".to_owned(), schema);
        body.insert("required".to_owned(), Value::Bool(false));
    }
}
