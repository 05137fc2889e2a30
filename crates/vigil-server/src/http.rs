//! What the core's two HTTP APIs (the loopback admin endpoint and the HTTPS console) share:
//! RFC 9457 problem answers and reading the request headers they both check.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An RFC 9457 problem answer (`application/problem+json`) with `detail`, and the members of
/// `extra` (such as the admin API's `reason`).
pub fn problem(status: StatusCode, detail: &str, extra: &[(&str, &str)]) -> Response {
    let mut body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    for (name, value) in extra {
        body[*name] = serde_json::Value::from(*value);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// Whether the request says its body is JSON (`Content-Type: application/json`, parameters
/// allowed).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case): `None`
/// without the header, `Some(None)` when it is not a bearer token.
pub fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim()),
    )
}
