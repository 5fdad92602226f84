//! Success envelope: `{"code":"ok","message":"OK","data":…,"details":{}}` (contract §10).
//!
//! Handlers return `Envelope<T>` (or `Created<T>`) and the body is serialised straight into the
//! envelope, instead of re-parsing every JSON body in a middleware as the legacy service did.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// 200 `{"code":"ok","message":"OK","data":T,"details":{}}`.
pub struct Envelope<T>(pub T);

/// 201 `{"code":"created","message":"Created","data":T,"details":{}}`.
pub struct Created<T>(pub T);

#[derive(Serialize)]
struct Body<'a, T> {
    code: &'static str,
    message: &'static str,
    data: &'a T,
    details: EmptyObject,
}

#[derive(Serialize)]
struct EmptyObject {}

fn render<T: Serialize>(
    status: StatusCode,
    code: &'static str,
    message: &'static str,
    data: &T,
) -> Response {
    let body = Body {
        code,
        message,
        data,
        details: EmptyObject {},
    };
    (status, axum::Json(body)).into_response()
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        render(StatusCode::OK, "ok", "OK", &self.0)
    }
}

impl<T: Serialize> IntoResponse for Created<T> {
    fn into_response(self) -> Response {
        render(StatusCode::CREATED, "created", "Created", &self.0)
    }
}

/// The legacy 204 → 200 `data: null` rule, for deletes and logout.
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        render(StatusCode::OK, "ok", "OK", &())
    }
}
