//! Tenant resolution (contract §5): which org a request acts in.
//!
//! Multi mode: `X-Org-Id`, the token's `org`, the subdomain (only hosts in
//! `ALLOWED_TENANT_HOSTS`, DESIGN.md §4), then the refresh cookie on the two refresh paths.
//! Single mode: always `DEFAULT_ORG_ID`. The messages are part of the wire contract: the
//! frontend retries without `X-Org-Id` when a refresh error mentions "tenant", "org" or
//! "member".

use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::auth::jwt::{TokenType, TokenView};
use crate::config::{Settings, TenancyMode};
use crate::domain::org::OrgId;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::http::token;
use crate::services;

/// The resolved tenant, plus the bearer token when one was sent (decoded once per request).
#[derive(Clone, Debug)]
pub struct Tenant {
    pub org_id: OrgId,
    pub bearer: Option<TokenView>,
}

/// The raw `Authorization: Bearer …` value, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn org_header(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-org-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
}

/// Decodes the bearer token if one was sent; a bad token is a 401 even on routes that need no
/// authentication (legacy behaviour), cached in the request extensions.
pub fn decoded_bearer(state: &AppState, parts: &mut Parts) -> Result<Option<TokenView>, ApiError> {
    if let Some(cached) = parts.extensions.get::<Option<TokenView>>() {
        return Ok(cached.clone());
    }
    let view = match bearer_token(&parts.headers) {
        None => None,
        Some(raw) => Some(token::decode(state, raw)?),
    };
    parts.extensions.insert(view.clone());
    Ok(view)
}

/// The subdomain candidate: the first label of a host with at least three labels, only for
/// hosts listed in `ALLOWED_TENANT_HOSTS`.
fn subdomain_candidate(settings: &Settings, headers: &HeaderMap) -> Option<String> {
    if settings.allowed_tenant_hosts.is_empty() {
        return None;
    }
    let host = headers.get(axum::http::header::HOST)?.to_str().ok()?;
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.to_ascii_lowercase();
    if !settings.allowed_tenant_hosts.contains(&host) {
        return None;
    }
    let labels: Vec<&str> = host.split('.').collect();
    (labels.len() >= 3).then(|| labels[0].to_owned())
}

fn is_refresh_path(path: &str) -> bool {
    path.ends_with("/auth/refresh") || path.ends_with("/auth/refresh/csrf")
}

/// The tenant a request names, before any database check: header, token, subdomain or refresh
/// cookie, normalised. Errors are the legacy ones (400/403 and token 401s).
pub fn candidate(
    state: &AppState,
    parts: &mut Parts,
) -> Result<(OrgId, Option<TokenView>), ApiError> {
    // Two `X-Org-Id` headers (or a list in one) name two tenants: refuse, never pick one.
    let mut org_headers = parts.headers.get_all("x-org-id").iter();
    if org_headers
        .next()
        .is_some_and(|v| v.as_bytes().contains(&b','))
        || org_headers.next().is_some()
    {
        return Err(ApiError::bad_request(
            "Tenant resolution failed: send exactly one X-Org-Id header",
        ));
    }
    let bearer = decoded_bearer(state, parts)?;
    let settings = &state.settings;
    let header = org_header(&parts.headers).map(str::to_owned);
    let candidate = match settings.tenancy_mode {
        TenancyMode::Single => {
            let default = settings.default_org_id.as_str();
            if header.as_deref().is_some_and(|h| h != default) {
                return Err(ApiError::bad_request(
                    "Tenant header does not match default org",
                ));
            }
            default.to_owned()
        }
        TenancyMode::Multi => multi_candidate(state, parts, bearer.as_ref(), header)?,
    };
    let org_id = OrgId::parse(&candidate)
        .map_err(|e| ApiError::bad_request(format!("Invalid tenant id format: {e}")))?;
    Ok((org_id, bearer))
}

/// The user whose membership the tenant check requires: the subject of an org-scoped token of a
/// non-superuser, in multi mode.
pub fn member_to_check(state: &AppState, bearer: Option<&TokenView>) -> Option<uuid::Uuid> {
    match (bearer, state.settings.tenancy_mode) {
        (Some(token), TenancyMode::Multi) if !token.su && !token.is(TokenType::PreOrg) => {
            token.sub_uuid()
        }
        _ => None,
    }
}

/// Applies the outcome of the tenant's database check (org exists, membership) in the legacy
/// order and records the tenant for the rest of the request.
pub fn accept(
    parts: &mut Parts,
    org_id: OrgId,
    bearer: Option<TokenView>,
    org_exists: bool,
    is_member: bool,
) -> Result<Tenant, ApiError> {
    if !org_exists {
        return Err(ApiError::not_found(format!("Org not found: {org_id}")));
    }
    if !is_member {
        if let Some(token) = &bearer {
            log_cross_tenant_denial(token, org_id.as_str(), "not a member of the requested org");
        }
        return Err(ApiError::forbidden(
            "User is not a member of this organization",
        ));
    }
    tracing::Span::current().record("tenant_id", org_id.as_str());
    let tenant = Tenant { org_id, bearer };
    parts.extensions.insert(tenant.clone());
    Ok(tenant)
}

/// A refused attempt to act in another tenant, for the security log (ASVS 16.3.2): who
/// (token subject and identity), the org of their token and the org they asked for. The values
/// are logged as fields, so the JSON logger escapes them.
pub fn log_cross_tenant_denial(token: &TokenView, requested_org: &str, reason: &str) {
    tracing::warn!(
        actor_user_id = token.sub.as_deref().unwrap_or(""),
        actor_identity_id = token.iid.as_deref().unwrap_or(""),
        token_org = token.org.as_deref().unwrap_or(""),
        requested_org,
        reason,
        "cross-tenant request refused"
    );
}

/// Resolves and checks the tenant for this request.
pub async fn resolve(state: &AppState, parts: &mut Parts) -> Result<Tenant, ApiError> {
    if let Some(tenant) = parts.extensions.get::<Tenant>() {
        return Ok(tenant.clone());
    }
    let (org_id, bearer) = candidate(state, parts)?;
    let member = member_to_check(state, bearer.as_ref());
    let mut conn = state.db.acquire().await?;
    let (org_exists, is_member) =
        services::orgs::exists_with_member(&mut conn, org_id.as_str(), member).await?;
    drop(conn);
    accept(parts, org_id, bearer, org_exists, is_member)
}

fn multi_candidate(
    state: &AppState,
    parts: &Parts,
    bearer: Option<&TokenView>,
    header: Option<String>,
) -> Result<String, ApiError> {
    if let Some(token) = bearer {
        if token.is(TokenType::PreOrg) {
            return header.ok_or_else(|| {
                ApiError::bad_request(
                    "Pre-org token: provide X-Org-Id or use identity-only endpoints",
                )
            });
        }
        if let Some(org) = &token.org {
            return match header {
                Some(h) if h != *org => {
                    if token.su {
                        Ok(h)
                    } else {
                        log_cross_tenant_denial(token, &h, "tenant header does not match token");
                        Err(ApiError::forbidden("Tenant header does not match token"))
                    }
                }
                _ => Ok(org.clone()),
            };
        }
    }
    if let Some(h) = header {
        return Ok(h);
    }
    if let Some(sub) = subdomain_candidate(&state.settings, &parts.headers) {
        return Ok(sub);
    }
    if is_refresh_path(parts.uri.path())
        && let Some(raw) = token::refresh_cookie(&state.settings, &parts.headers)
    {
        let view = token::decode(state, &raw)?;
        if let Some(org) = view.org {
            return Ok(org);
        }
    }
    Err(ApiError::bad_request(
        "Tenant resolution failed: provide X-Org-Id header",
    ))
}

impl axum::extract::FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        resolve(state, parts).await
    }
}
