//! Route table: one module per resource, each exporting `router()`.

pub mod auth;
pub mod health;
pub mod member_lists;
pub mod meta;
pub mod org_users;
pub mod self_profile;

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(meta::router())
        .merge(auth::router())
        .merge(org_users::router())
        .merge(self_profile::router())
        .merge(member_lists::router())
}
