//! `/meta/timezones`, `/meta/countries`, `/meta/countries/{code}/subdivisions`.

use utoipa_axum::router::OpenApiRouter;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
