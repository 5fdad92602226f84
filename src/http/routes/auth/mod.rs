//! `/auth/*`: login, org selection, MFA, sessions, step-up and impersonation (contract §3
//! "Auth", §4).

mod impersonation;
mod limits;
mod login;
mod mfa;
mod session;
mod step_up;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::http::state::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login::login))
        .routes(routes!(login::orgs))
        .routes(routes!(login::select_org))
        .routes(routes!(mfa::verify))
        .routes(routes!(mfa::enroll_start))
        .routes(routes!(mfa::enroll_verify))
        .routes(routes!(mfa::setup_start))
        .routes(routes!(mfa::setup_verify))
        .routes(routes!(mfa::recovery_count))
        .routes(routes!(mfa::recovery_regenerate))
        .routes(routes!(mfa::reset))
        .routes(routes!(session::refresh_csrf))
        .routes(routes!(session::refresh))
        .routes(routes!(session::logout))
        .routes(routes!(session::me))
        .routes(routes!(session::change_password))
        .routes(routes!(step_up::verify))
        .routes(routes!(impersonation::start))
        .routes(routes!(impersonation::stop))
        .layer(axum::middleware::from_fn(no_store))
}

/// Token responses must never be cached: every auth endpoint except `/auth/me` sends these
/// on its 2xx answers (the legacy service sent them on 2xx only).
async fn no_store(req: Request, next: Next) -> Response {
    let is_me = req.uri().path().ends_with("/auth/me");
    let mut response = next.run(req).await;
    if !is_me && response.status().is_success() {
        let h = response.headers_mut();
        h.insert(
            "cache-control",
            HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
        );
        h.insert("pragma", HeaderValue::from_static("no-cache"));
        h.insert("expires", HeaderValue::from_static("0"));
    }
    response
}

/// `code_type` of MFA verification requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CodeType {
    #[default]
    Totp,
    Recovery,
}

impl CodeType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Recovery => "recovery",
        }
    }

    /// The `mfa_method` claim of a session verified with this kind of code.
    pub fn mfa_method(self) -> crate::auth::jwt::MfaMethod {
        match self {
            Self::Totp => crate::auth::jwt::MfaMethod::Totp,
            Self::Recovery => crate::auth::jwt::MfaMethod::Recovery,
        }
    }
}

/// The client address for rate limits and remembered devices.
pub fn client_ip(parts: &axum::http::Extensions) -> Option<String> {
    parts
        .get::<crate::http::middleware::ClientIp>()
        .map(|ip| ip.0.to_string())
}
