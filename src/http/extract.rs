//! Request extractors whose rejections use the API's 422 `validation_error` shape, with
//! pydantic-like entries (`type`, `loc`, `msg`, `input`) because that is what the frontend and
//! the recorded samples know.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::http::error::{ApiError, FieldError};

/// JSON bodies larger than this are refused before parsing (the CSV upload is multipart and
/// has its own limit).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// `Json<T>` with the API's rejection shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::http(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            } else {
                ApiError::bad_request("Could not read the request body")
            }
        })?;
        if bytes.len() > MAX_JSON_BODY {
            return Err(ApiError::http(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
            ));
        }
        parse_json_body(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body into `T`, mapping every failure to a 422 like the legacy service.
pub fn parse_json_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::validation(vec![FieldError::body(
            &[],
            "missing",
            "Field required",
            Value::Null,
        )]));
    }
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::validation(vec![FieldError {
            kind: "json_invalid",
            loc: vec![json!("body"), json!(e.column())],
            msg: "JSON decode error".into(),
            input: json!({}),
            ctx: Some(json!({"error": e.to_string()})),
        }])
    })?;
    from_value(value, "body")
}

/// Deserialises an already-parsed value, locating errors under `location`.
pub fn from_value<T: DeserializeOwned>(value: Value, location: &str) -> Result<T, ApiError> {
    match serde_path_to_error::deserialize::<_, T>(&value) {
        Ok(v) => Ok(v),
        Err(err) => Err(ApiError::validation(vec![field_error(
            &value, location, &err,
        )])),
    }
}

fn field_error(
    root: &Value,
    location: &str,
    err: &serde_path_to_error::Error<serde_json::Error>,
) -> FieldError {
    let mut loc = vec![json!(location)];
    let mut input = root;
    for segment in err.path().iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => {
                loc.push(json!(index));
                input = input.get(index).unwrap_or(&Value::Null);
            }
            serde_path_to_error::Segment::Map { key }
            | serde_path_to_error::Segment::Enum { variant: key } => {
                loc.push(json!(key));
                input = input.get(key).unwrap_or(&Value::Null);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let text = err.inner().to_string();
    describe(loc, input.clone(), &text)
}

/// Turns a serde message into pydantic's wording.
fn describe(mut loc: Vec<Value>, input: Value, text: &str) -> FieldError {
    let text = text.split(" at line ").next().unwrap_or(text);
    if let Some(rest) = text.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        loc.push(json!(field));
        return FieldError {
            kind: "missing",
            loc,
            msg: "Field required".into(),
            input,
            ctx: None,
        };
    }
    if let Some(rest) = text.strip_prefix("Value error, ") {
        return FieldError {
            kind: "value_error",
            loc,
            msg: format!("Value error, {rest}"),
            input,
            ctx: Some(json!({"error": {}})),
        };
    }
    if let Some(rest) = text.strip_prefix("unknown variant `") {
        let expected = rest.split_once("expected ").map(|(_, e)| e).unwrap_or("");
        let options: Vec<String> = expected
            .replace("one of ", "")
            .split(", ")
            .map(|s| s.trim_matches('`').to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let msg = format!("Input should be {}", quoted_or(&options));
        return FieldError {
            kind: "enum",
            loc,
            msg,
            input,
            ctx: Some(json!({"expected": quoted_or(&options)})),
        };
    }
    if text.starts_with("invalid type")
        || text.starts_with("invalid value")
        || text.starts_with("invalid length")
    {
        let expected = text.rsplit("expected ").next().unwrap_or("");
        let (kind, msg) = expected_kind(expected, &input);
        return FieldError {
            kind,
            loc,
            msg,
            input,
            ctx: None,
        };
    }
    if text.starts_with("UUID parsing failed")
        || text.contains("invalid character")
        || text.contains("invalid length")
    {
        return FieldError {
            kind: "uuid_parsing",
            loc,
            msg: format!(
                "Input should be a valid UUID, {}",
                text.trim_start_matches("UUID parsing failed: ")
            ),
            input,
            ctx: None,
        };
    }
    FieldError {
        kind: "value_error",
        loc,
        msg: text.to_owned(),
        input,
        ctx: None,
    }
}

fn quoted_or(options: &[String]) -> String {
    let quoted: Vec<String> = options.iter().map(|o| format!("'{o}'")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}

fn expected_kind(expected: &str, input: &Value) -> (&'static str, String) {
    let e = expected.to_ascii_lowercase();
    if e.contains("uuid") {
        (
            "uuid_type",
            "UUID input should be a string, bytes or UUID object".into(),
        )
    } else if e.contains("i64")
        || e.contains("i32")
        || e.contains("u32")
        || e.contains("u64")
        || e.contains("integer")
    {
        if input.is_string() {
            (
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer".into(),
            )
        } else {
            ("int_type", "Input should be a valid integer".into())
        }
    } else if e.contains("f64") || e.contains("float") || e.contains("decimal") {
        ("float_type", "Input should be a valid number".into())
    } else if e.contains("bool") {
        ("bool_type", "Input should be a valid boolean".into())
    } else if e.contains("sequence") || e.contains("array") || e.contains("list") {
        ("list_type", "Input should be a valid list".into())
    } else if e.contains("map") || e.contains("struct") {
        (
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from".into(),
        )
    } else {
        ("string_type", "Input should be a valid string".into())
    }
}

/// Query parameters with the API's rejection shape. Values arrive as strings; numbers are
/// parsed by the target type.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(url::form_urlencoded::parse(query.as_bytes()));
        match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(v) => Ok(ApiQuery(v)),
            Err(err) => {
                let mut loc = vec![json!("query")];
                let mut name = String::new();
                for segment in err.path().iter() {
                    if let serde_path_to_error::Segment::Map { key } = segment {
                        loc.push(json!(key));
                        name = key.clone();
                    }
                }
                let input = url::form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| json!(v))
                    .unwrap_or(Value::Null);
                let text = err.inner().to_string();
                let entry =
                    if text.contains("invalid digit") || text.contains("cannot parse integer") {
                        FieldError {
                        kind: "int_parsing",
                        loc,
                        msg:
                            "Input should be a valid integer, unable to parse string as an integer"
                                .into(),
                        input,
                        ctx: None,
                    }
                    } else {
                        describe(loc, input, &text)
                    };
                Err(ApiError::validation(vec![entry]))
            }
        }
    }
}

/// Typed path parameters with the legacy 422 (`loc: ["path", "<name>"]`). One parameter:
/// `ApiPath(id): ApiPath<Uuid>`; two: `ApiPath((a, b)): ApiPath<(Uuid, Uuid)>`, in route order.
/// Declare it after `Can<…>`: a malformed id of a caller without the permission is a 403.
pub struct ApiPath<T>(pub T);

/// A value a path segment parses into, naming the parameter in its 422.
pub trait PathParam: Sized {
    fn parse(name: &str, raw: &str) -> Result<Self, ApiError>;
}

impl PathParam for uuid::Uuid {
    fn parse(name: &str, raw: &str) -> Result<Self, ApiError> {
        parse_uuid_param(name, raw)
    }
}

impl PathParam for String {
    fn parse(_name: &str, raw: &str) -> Result<Self, ApiError> {
        Ok(raw.to_owned())
    }
}

/// The route's parameters as `(name, value)`, percent-decoded like `Path`.
async fn path_params<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
) -> Result<Vec<(String, String)>, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|e| ApiError::from_unexpected("path parameters", &e))?;
    Ok(params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn no_param() -> ApiError {
    ApiError::from_unexpected(
        "path parameters",
        &std::io::Error::other("the route has fewer parameters than ApiPath expects"),
    )
}

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: PathParam,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = path_params(parts, state).await?;
        let (name, raw) = params.last().ok_or_else(no_param)?;
        T::parse(name, raw).map(ApiPath)
    }
}

impl<S, A, B> FromRequestParts<S> for ApiPath<(A, B)>
where
    S: Send + Sync,
    A: PathParam,
    B: PathParam,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let params = path_params(parts, state).await?;
        let [(a_name, a_raw), (b_name, b_raw)] = params.as_slice() else {
            return Err(no_param());
        };
        Ok(ApiPath((
            A::parse(a_name, a_raw)?,
            B::parse(b_name, b_raw)?,
        )))
    }
}

/// One path parameter, named for error messages (`membership_id: Input should be a valid UUID…`).
pub fn parse_uuid_param(name: &str, raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|e| {
        ApiError::validation(vec![FieldError {
            kind: "uuid_parsing",
            loc: vec![json!("path"), json!(name)],
            msg: format!("Input should be a valid UUID, {e}"),
            input: json!(raw),
            ctx: Some(json!({"error": e.to_string()})),
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
        days: Option<i64>,
        tags: Option<Vec<uuid::Uuid>>,
    }

    fn message(body: &str) -> String {
        parse_json_body::<Login>(body.as_bytes())
            .unwrap_err()
            .message
            .clone()
    }

    #[test]
    fn serde_errors_read_like_pydantic() {
        assert_eq!(message(""), "Field required");
        assert_eq!(message(r#"{"email":"a@b.c"}"#), "password: Field required");
        assert_eq!(
            message(r#"{"email":"a","password":"b","days":"many"}"#),
            "days: Input should be a valid integer, unable to parse string as an integer"
        );
        assert_eq!(
            message(r#"{"email":1,"password":"b"}"#),
            "email: Input should be a valid string"
        );
        assert!(
            message(r#"{"email":"a","password":"b","tags":["nope"]}"#)
                .starts_with("tags.0: Input should be a valid UUID")
        );
        assert!(message("{nope").ends_with("JSON decode error"));
    }

    #[test]
    fn uuid_path_errors_name_the_parameter() {
        let err = parse_uuid_param("role_id", "nope").unwrap_err();
        assert!(
            err.message
                .starts_with("role_id: Input should be a valid UUID, invalid character")
        );
    }
}
