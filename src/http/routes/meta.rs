//! `/meta/timezones`, `/meta/countries`, `/meta/countries/{code}/subdivisions` (contract §3,
//! frontend §10.11). No auth, no tenant; the data is in [`crate::domain::geo`].
//!
//! Many pages request these lists, and they never change while the process runs, so each
//! envelope is serialised once, on first use, and served as shared bytes afterwards.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::geo;
use crate::http::envelope::Envelope;
use crate::http::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timezones))
        .routes(routes!(countries))
        .routes(routes!(subdivisions))
}

/// A country or a subdivision.
#[derive(Serialize, ToSchema)]
struct CodeName {
    /// ISO 3166-1 alpha-2 code, or the ISO 3166-2 code without the country prefix ("AL").
    code: &'static str,
    name: &'static str,
}

#[derive(Serialize, ToSchema)]
struct TimezoneList {
    /// Curated IANA time-zone names.
    timezones: &'static [&'static str],
}

#[derive(Serialize, ToSchema)]
struct CountryList {
    /// The UN member states, sorted by name.
    countries: Vec<CodeName>,
}

#[derive(Serialize, ToSchema)]
struct SubdivisionList {
    /// The requested code, upper-cased.
    country: String,
    /// Sorted by name; empty for an unknown country.
    subdivisions: Vec<CodeName>,
}

fn country_list() -> CountryList {
    CountryList {
        countries: geo::countries()
            .iter()
            .map(|c| CodeName {
                code: c.code,
                name: c.name,
            })
            .collect(),
    }
}

fn subdivision_list(country: String) -> SubdivisionList {
    let subdivisions = geo::subdivisions(&country)
        .iter()
        .map(|s| CodeName {
            code: s.code,
            name: s.name,
        })
        .collect();
    SubdivisionList {
        country,
        subdivisions,
    }
}

/// The body [`Envelope`] renders, built here so it can be serialised ahead of time (a unit
/// test checks the two stay byte-identical).
#[derive(Serialize)]
struct OkBody<'a, T> {
    code: &'static str,
    message: &'static str,
    data: &'a T,
    details: Empty,
}

#[derive(Serialize)]
struct Empty {}

/// The serialised success envelope around `data`; `None` only if serialisation failed, in
/// which case the handlers fall back to rendering [`Envelope`] per request.
fn ok_body<T: Serialize>(data: &T) -> Option<Bytes> {
    let body = OkBody {
        code: "ok",
        message: "OK",
        data,
        details: Empty {},
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => Some(Bytes::from(bytes)),
        Err(e) => {
            tracing::error!(error = %e, "meta: serialising a reference list failed");
            None
        }
    }
}

fn json_bytes(bytes: &Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes.clone(),
    )
        .into_response()
}

static TIMEZONES_BODY: LazyLock<Option<Bytes>> = LazyLock::new(|| {
    ok_body(&TimezoneList {
        timezones: geo::timezones(),
    })
});

static COUNTRIES_BODY: LazyLock<Option<Bytes>> = LazyLock::new(|| ok_body(&country_list()));

/// Upper-case alpha-2 code → envelope, for every country that has subdivisions.
static SUBDIVISION_BODIES: LazyLock<HashMap<&'static str, Bytes>> = LazyLock::new(|| {
    geo::countries_with_subdivisions()
        .filter_map(|code| Some((code, ok_body(&subdivision_list(code.to_owned()))?)))
        .collect()
});

/// The curated time-zone list (100 IANA names, legacy order).
#[utoipa::path(get, path = "/meta/timezones", tag = "meta", responses((status = 200, description = "Curated IANA time zones", body = TimezoneList)))]
async fn timezones() -> Response {
    match &*TIMEZONES_BODY {
        Some(bytes) => json_bytes(bytes),
        None => Envelope(TimezoneList {
            timezones: geo::timezones(),
        })
        .into_response(),
    }
}

/// The country list (193 UN member states, sorted by name).
#[utoipa::path(get, path = "/meta/countries", tag = "meta", responses((status = 200, description = "Countries", body = CountryList)))]
async fn countries() -> Response {
    match &*COUNTRIES_BODY {
        Some(bytes) => json_bytes(bytes),
        None => Envelope(country_list()).into_response(),
    }
}

/// A country's ISO 3166-2 subdivisions. The code is case-insensitive and echoed upper-cased;
/// an unknown code answers 200 with an empty list.
#[utoipa::path(
    get,
    path = "/meta/countries/{country_code}/subdivisions",
    tag = "meta",
    params(("country_code" = String, Path, description = "ISO 3166-1 alpha-2 code, any case")),
    responses((status = 200, description = "Subdivisions of the country (empty when unknown)", body = SubdivisionList))
)]
async fn subdivisions(Path(country_code): Path<String>) -> Response {
    let country = country_code.to_uppercase();
    match SUBDIVISION_BODIES.get(country.as_str()) {
        Some(bytes) => json_bytes(bytes),
        None => Envelope(subdivision_list(country)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(resp: Response) -> Bytes {
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn prebuilt_bodies_match_what_the_envelope_renders() {
        let rendered = body_of(Envelope(country_list()).into_response()).await;
        assert_eq!(COUNTRIES_BODY.as_ref().unwrap(), &rendered);

        let rendered = body_of(
            Envelope(TimezoneList {
                timezones: geo::timezones(),
            })
            .into_response(),
        )
        .await;
        assert_eq!(TIMEZONES_BODY.as_ref().unwrap(), &rendered);

        let rendered = body_of(Envelope(subdivision_list("US".into())).into_response()).await;
        assert_eq!(SUBDIVISION_BODIES.get("US").unwrap(), &rendered);
    }

    #[tokio::test]
    async fn prebuilt_responses_are_json() {
        let resp = countries().await;
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let resp = subdivisions(Path("gb".into())).await;
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let resp = subdivisions(Path("nowhere".into())).await;
        let body: serde_json::Value = serde_json::from_slice(&body_of(resp).await).unwrap();
        assert_eq!(body["data"]["country"], "NOWHERE");
        assert_eq!(body["data"]["subdivisions"], serde_json::json!([]));
    }
}
