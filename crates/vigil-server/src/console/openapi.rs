//! The console API's OpenAPI 3.1 document, generated from the handlers' annotations and served
//! at `/api/v1/openapi.json`.

use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::{COOKIE, Console};

/// The document's fixed part; handlers add their paths through `utoipa_axum::routes!`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vigil console API",
        description = "Alarms, events, sensors, directives, hosts and administration of a Vigil core. \
            Log in with `POST /api/v1/login` (cookie session; state-changing requests carry \
            `X-CSRF-Token`) or send an API token as `Authorization: Bearer`. Errors are RFC 9457 \
            problem JSON.",
    ),
    modifiers(&Security),
    security(("session" = []), ("token" = [])),
)]
pub struct ApiDoc;

/// An RFC 9457 problem answer, as every error of the API is written.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status's reason phrase.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What was wrong, and where.
    pub detail: String,
}

/// Declares the two ways to authenticate: the session cookie and a bearer API token.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                COOKIE,
                "Set by POST /api/v1/login; state-changing requests also carry X-CSRF-Token",
            ))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token from `vigil token create`"))
                    .build(),
            ),
        );
    }
}

/// `GET /api/v1/openapi.json`, readable without logging in.
pub fn routes(doc: utoipa::openapi::OpenApi) -> anyhow::Result<Router<Arc<Console>>> {
    let json = Arc::new(doc.to_pretty_json()?);
    Ok(Router::new().route(
        "/api/v1/openapi.json",
        get(move || {
            let json = json.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    (*json).clone(),
                )
                    .into_response()
            }
        }),
    ))
}
