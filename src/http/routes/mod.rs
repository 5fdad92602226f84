//! Route table: one module per resource, each exporting `router()`.

pub mod announcements;
pub mod auth;
pub mod health;
pub mod meta;

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(meta::router())
        .merge(auth::router())
        .merge(announcements::router())
}
