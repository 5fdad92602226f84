//! `/auth/*`: login, org selection, MFA, sessions, step-up and impersonation (contract §3
//! "Auth", §4).

mod impersonation;
mod limits;
mod login;
mod mfa;
mod session;
pub mod step_up;

use axum::extract::{FromRequestParts, Request};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::tenant::bearer_token;
use crate::http::token::{self, TokenView};
use crate::services;
use crate::services::identities::Identity;
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

/// Identity-only authentication (`/auth/orgs`, select-org, MFA verify/enrol): a pre-org or an
/// access token names an identity; no tenant is resolved, so a stray `X-Org-Id` is ignored.
pub struct IdentityAuth {
    pub identity: Identity,
    pub claims: TokenView,
    pub raw_token: String,
}

impl FromRequestParts<AppState> for IdentityAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let raw = bearer_token(&parts.headers)
            .ok_or_else(|| ApiError::unauthorized("Missing authentication token"))?;
        let claims = token::decode(state, raw)?;
        let identity_id: Option<Uuid> = match claims.typ.as_str() {
            "pre_org" => claims.sub_uuid(),
            "access" => match claims.iid_uuid() {
                Some(iid) => Some(iid),
                None => {
                    let Some(user_id) = claims.sub_uuid() else {
                        return Err(ApiError::unauthorized("Invalid token"));
                    };
                    let mut conn = state.db.acquire().await?;
                    sqlx::query_scalar("SELECT identity_id FROM users WHERE id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *conn)
                        .await?
                }
            },
            _ => {
                return Err(ApiError::unauthorized(
                    "Unsupported token type for identity resolution",
                ));
            }
        };
        let inactive = || ApiError::unauthorized("Identity not found or inactive");
        let identity_id = identity_id.ok_or_else(inactive)?;
        let mut conn = state.db.acquire().await?;
        let identity = services::identities::find_by_id(&mut conn, identity_id)
            .await?
            .ok_or_else(inactive)?;
        if !identity.is_active {
            return Err(inactive());
        }
        // A revoked access token (logout, password change, refresh reuse) must not reach
        // select-org, or it could mint a fresh session and undo the revocation.
        if claims.typ == "access"
            && claims
                .tv
                .is_some_and(|tv| tv != i64::from(identity.token_version))
        {
            return Err(ApiError::unauthorized("Token revoked"));
        }
        Ok(Self {
            identity,
            claims,
            raw_token: raw.to_owned(),
        })
    }
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
}

/// The client address for rate limits and remembered devices.
pub fn client_ip(parts: &axum::http::Extensions) -> Option<String> {
    parts
        .get::<crate::http::middleware::ClientIp>()
        .map(|ip| ip.0.to_string())
}
