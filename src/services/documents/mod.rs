//! The org document library (contract `domain-documents.md` §5.1–§5.11): folders, with the four
//! system folders, and templates that point at stored objects. SQL only; the storage side of a
//! template lives in [`crate::services::uploads`] and [`crate::storage`].

pub mod folders;
pub mod templates;
