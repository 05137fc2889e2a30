//! The web console's static files (`crates/vigil-server/ui/`), embedded in the binary and
//! served at `/` (the page) and `/assets/<path>` with their content types. No build step: the
//! files are plain HTML, CSS, SVG and JavaScript modules.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Console, problem};

/// Embeds `ui/<path>`, keyed by `path`.
macro_rules! embed {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/", $path)).as_slice())),*]
    };
}

/// Every file under `/assets/`.
const ASSETS: &[(&str, &[u8])] = embed!(
    "app.css",
    "logo.svg",
    "js/api.js",
    "js/chart.js",
    "js/dom.js",
    "js/main.js",
    "js/pages/alarm.js",
    "js/pages/alarms.js",
    "js/pages/audit.js",
    "js/pages/dashboard.js",
    "js/pages/directives.js",
    "js/pages/events.js",
    "js/pages/hosts.js",
    "js/pages/sensors.js",
    "js/pages/users.js",
);

const INDEX: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/ui/index.html"));

/// The routes of the page and its assets.
pub fn router() -> Router<Arc<Console>> {
    Router::new()
        .route("/", get(|| async { file("index.html", INDEX) }))
        .route("/assets/{*path}", get(asset))
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _)| *name == path) {
        Some((name, bytes)) => file(name, bytes),
        None => problem(StatusCode::NOT_FOUND, "no such asset"),
    }
}

/// `bytes` served with the content type `name`'s extension calls for.
fn file(name: &str, bytes: &'static [u8]) -> Response {
    ([(header::CONTENT_TYPE, content_type(name))], bytes).into_response()
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_known_content_type() {
        for (name, bytes) in ASSETS {
            assert_ne!(content_type(name), "application/octet-stream", "{name}");
            assert!(!bytes.is_empty(), "{name} is empty");
        }
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
    }
}
