//! Route table: one module per resource, each exporting `router()`.

pub mod acls;
pub mod announcements;
pub mod audit_logs;
pub mod auth;
pub mod departments;
pub mod documents;
pub mod health;
pub mod loans;
pub mod member_lists;
pub mod meta;
pub mod org_settings;
pub mod org_users;
pub mod orgs;
pub mod roles;
pub mod self_context;
pub mod self_profile;
pub mod stock;
pub mod user_summary;

use utoipa_axum::router::OpenApiRouter;

use crate::http::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(meta::router())
        .merge(auth::router())
        .merge(org_settings::router())
        .merge(self_context::router())
        .merge(audit_logs::router())
        .merge(user_summary::router())
        .merge(orgs::router())
        .merge(org_users::router())
        .merge(self_profile::router())
        .merge(member_lists::router())
        .merge(roles::router())
        .merge(acls::router())
        .merge(departments::router())
        .merge(announcements::router())
        .merge(stock::router())
        .merge(documents::router())
        .merge(loans::router())
        .merge(loans::admin::router())
}
