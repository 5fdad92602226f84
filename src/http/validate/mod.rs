//! Request validation shared by the routes: pydantic-compatible field errors for bodies, queries
//! and lax values. Routes parse bodies with these *after* their permission and step-up checks,
//! because the legacy service validated bodies after its dependencies (403 before 422).

mod body;
pub mod lax;
mod page;
pub mod params;
mod profile;

pub use body::{
    body, body_object, body_uuid, check_len, check_length, known_permissions, parse_iso_date,
    patch_text, pydantic_uuid_text, query_uuid, too_long, tri_state, with_required,
};
pub use page::PageQuery;
pub use profile::{ProfileUpdate, SelfProfileUpdate, patch_body, profile_error};
