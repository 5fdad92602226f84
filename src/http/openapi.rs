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
        (name = "loans", description = "Loan quotes and the borrower's applications; PBGC mid-term rates"),
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
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", spec))
}
