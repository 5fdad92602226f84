//! The loan domain's refusal: the legacy `LoanQuoteError(code, message, details)` and the
//! router's dict details, which reach the wire as a 400
//! `{"code": <code>, "message": <message>, "data": null, "details": <details>}`.
//!
//! The pure rules of `domain::loans` return this type; the HTTP layer turns it into the
//! envelope with status 400 (every domain error of the loan contracts is a 400).

use std::borrow::Cow;
use std::fmt;

use serde_json::{Value, json};

/// A domain error with the exact legacy `code`, `message` and `details` object.
#[derive(Clone, Debug, PartialEq)]
pub struct LoanError {
    pub code: &'static str,
    pub message: Cow<'static, str>,
    /// Always a JSON object; its key order is the legacy order (serde_json keeps insertion
    /// order in this crate).
    pub details: Value,
}

impl LoanError {
    pub fn new(code: &'static str, message: impl Into<Cow<'static, str>>, details: Value) -> Self {
        Self {
            code,
            message: message.into(),
            details,
        }
    }

    /// A domain error with `details: {}`.
    pub fn bare(code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(code, message, json!({}))
    }
}

impl fmt::Display for LoanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for LoanError {}
