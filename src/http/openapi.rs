//! The OpenAPI 3.1 document (generated from the handlers by utoipa) and the embedded Swagger UI.

use axum::Router;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_swagger_ui::SwaggerUi;

#[derive(OpenApi)]
#[openapi(
    info(title = "SOLE Backend", description = "The SOLE platform core API (`sole`)."),
    tags(
        (name = "health", description = "Liveness, readiness and public status"),
        (name = "meta", description = "Reference data: countries, subdivisions, time zones"),
    )
)]
struct ApiDoc;

/// The base document the routers add their paths to.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    doc
}

/// `/openapi.json` and Swagger UI at `/docs`, served from the binary (vendored assets).
pub fn docs_router(spec: utoipa::openapi::OpenApi) -> Router {
    Router::from(SwaggerUi::new("/docs").url("/openapi.json", spec))
}
