//! Route table: one module per resource, each exporting `router()`.

pub mod acls;
pub mod auth;
pub mod departments;
pub mod health;
pub mod meta;
pub mod roles;

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(meta::router())
        .merge(auth::router())
        .merge(roles::router())
        .merge(acls::router())
        .merge(departments::router())
}
