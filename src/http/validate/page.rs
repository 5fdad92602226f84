//! Pagination query parameters with FastAPI's `Query(ge=…, le=…)` errors.

use serde::Deserialize;
use serde_json::json;

use crate::http::error::{ApiError, FieldError};

/// `page` ≥ 1 (default 1) and `page_size` 1–100 (default 20), validated like FastAPI's
/// `Query(ge=…, le=…)`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    #[param(minimum = 1)]
    pub page: Option<i64>,
    #[param(minimum = 1, maximum = 100)]
    pub page_size: Option<i64>,
}

impl PageQuery {
    /// `(offset, limit)`, or the 422 of the first out-of-range parameter.
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let page = self.page.unwrap_or(1);
        let size = self.page_size.unwrap_or(20);
        if page < 1 {
            return Err(range_error("page", page, "greater_than_equal", "ge", 1));
        }
        if size < 1 {
            return Err(range_error(
                "page_size",
                size,
                "greater_than_equal",
                "ge",
                1,
            ));
        }
        if size > 100 {
            return Err(range_error("page_size", size, "less_than_equal", "le", 100));
        }
        Ok(((page - 1).saturating_mul(size), size))
    }
}

fn range_error(field: &str, value: i64, kind: &'static str, bound: &str, limit: i64) -> ApiError {
    let relation = if bound == "ge" {
        "greater than or equal to"
    } else {
        "less than or equal to"
    };
    ApiError::validation(vec![FieldError {
        kind,
        loc: vec![json!("query"), json!(field)],
        msg: format!("Input should be {relation} {limit}"),
        input: json!(value.to_string()),
        ctx: Some(json!({ bound: limit })),
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds_follow_fastapi_limits() {
        let q = |page, page_size| PageQuery { page, page_size };
        assert_eq!(q(None, None).bounds().unwrap(), (0, 20));
        assert_eq!(q(Some(2), Some(2)).bounds().unwrap(), (2, 2));
        assert_eq!(
            q(None, Some(101)).bounds().unwrap_err().message,
            "page_size: Input should be less than or equal to 100"
        );
        assert_eq!(
            q(None, Some(0)).bounds().unwrap_err().message,
            "page_size: Input should be greater than or equal to 1"
        );
        assert_eq!(
            q(Some(0), None).bounds().unwrap_err().message,
            "page: Input should be greater than or equal to 1"
        );
    }
}
