//! `/org/documents/*` (the document library) and `/assets/*` (upload sessions and the local
//! byte store), contract `domain-documents.md`. Handlers are thin: they check, call the
//! services in one transaction, write the audit row and commit. Storage I/O goes through
//! `crate::services::uploads` and `crate::storage`; the order of storage writes and commits is
//! stated on each handler that does both.

mod assets;
mod folders;
mod local_content;
mod templates;

use axum::extract::DefaultBodyLimit;
use utoipa_axum::router::OpenApiRouter;

use crate::http::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    // The upload routes stream their bodies through the storage layer, which enforces
    // MAX_UPLOAD_SIZE_MB itself as the bytes arrive (with the legacy messages); the global
    // body limit, meant for JSON, would cut them off with another answer first.
    let uploads = OpenApiRouter::new()
        .merge(templates::upload_router())
        .merge(local_content::router())
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .merge(folders::router())
        .merge(templates::router())
        .merge(assets::router())
        .merge(uploads)
}
