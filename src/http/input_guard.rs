//! Refuses input PostgreSQL cannot store before any handler sees it: a U+0000 in a JSON string
//! (or key), a query parameter or the path answers 422 naming the field. PostgreSQL rejects
//! NUL in `text` with an error that used to surface as a 500 on whichever endpoint bound it.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::error::{ApiError, FieldError};

const KIND: &str = "string_contains_nul";
const MESSAGE: &str = "String should not contain NUL characters";

fn refusal(loc: Vec<Value>, input: Value) -> ApiError {
    let mut error = FieldError::body(&[], KIND, MESSAGE, input);
    error.loc = loc;
    ApiError::validation(vec![error])
}

/// The location of the first string (or object key) holding a NUL, depth first.
fn nul_in(value: &Value, path: &mut Vec<Value>) -> Option<Value> {
    match value {
        Value::String(s) if s.contains('\0') => Some(value.clone()),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
            path.push(json!(i));
            let found = nul_in(v, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            path.push(json!(k));
            if k.contains('\0') {
                return Some(json!(k));
            }
            let found = nul_in(v, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        _ => None,
    }
}

/// Fields whose value is never echoed in an error (passwords, codes, tokens, secrets).
fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "code"
        || ["password", "token", "secret"]
            .iter()
            .any(|w| name.contains(w))
}

/// The 422 for a JSON body with a NUL in any string, if it has one. The escape `\u0000` is
/// looked for first, so ordinary bodies are never parsed twice.
pub fn check_json(body: &[u8]) -> Result<(), ApiError> {
    if !body.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Ok(()); // the handler's own parser reports malformed JSON
    };
    let mut path = vec![json!("body")];
    match nul_in(&value, &mut path) {
        Some(input) => {
            let secret = path.iter().any(|p| p.as_str().is_some_and(is_secret_field));
            Err(refusal(path, if secret { Value::Null } else { input }))
        }
        None => Ok(()),
    }
}

/// The 422 for a query string or path with a NUL, if it has one.
pub fn check_uri(path: &str, query: Option<&str>) -> Result<(), ApiError> {
    if path.contains("%00") {
        return Err(refusal(vec![json!("path")], json!(path)));
    }
    if let Some(query) = query.filter(|q| q.contains("%00")) {
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if name.contains('\0') || value.contains('\0') {
                return Err(refusal(
                    vec![json!("query"), json!(name.replace('\0', ""))],
                    json!(value),
                ));
            }
        }
    }
    Ok(())
}

fn is_json_body(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    match req.headers().get(header::CONTENT_TYPE) {
        // Handlers that read the raw body parse it as JSON whatever the type says.
        None => true,
        Some(v) => v.to_str().is_ok_and(|ct| {
            let ct = ct.to_ascii_lowercase();
            ct.contains("json") || ct.starts_with("text/plain")
        }),
    }
}

/// Middleware: the URI checks on every request, the JSON check on bodies that may be JSON
/// (multipart uploads stream through untouched). `max_body` is the body size limit.
pub async fn refuse_nul(State(max_body): State<usize>, req: Request, next: Next) -> Response {
    if let Err(e) = check_uri(req.uri().path(), req.uri().query()) {
        return e.into_response();
    }
    if !is_json_body(&req) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, max_body).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::http(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
                .into_response();
        }
    };
    if let Err(e) = check_json(&bytes) {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field_holding_a_nul() {
        let err = check_json(br#"{"a": "ok", "b": [1, {"c": "x\u0000y"}]}"#).unwrap_err();
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            err.message,
            "b.1.c: String should not contain NUL characters"
        );
        assert!(check_json(br#"{"a": "\\u0000 is text"}"#).is_ok());
        assert!(check_json(br#"{"a": "plain"}"#).is_ok());
        let err = check_json(br#"{"password": "hunter\u00002"}"#).unwrap_err();
        assert_eq!(err.details["errors"][0]["input"], Value::Null);
        let err = check_json(br#"{"k\u0000": 1}"#).unwrap_err();
        assert!(err.message.ends_with(MESSAGE), "{}", err.message);
    }

    #[test]
    fn finds_nul_in_query_and_path() {
        let err = check_uri("/api/v1/org/users", Some("search=a%00b&page=1")).unwrap_err();
        assert_eq!(
            err.message,
            "search: String should not contain NUL characters"
        );
        assert!(check_uri("/api/v1/x%00", None).is_err());
        assert!(check_uri("/api/v1/org/users", Some("search=a%2500")).is_ok());
    }
}
