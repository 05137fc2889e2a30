//! What the console's data and admin handlers share about their input: JSON bodies, query
//! times, pagination, and the 400 answer naming what was wrong.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;
use vigil_event::Timestamp;

use super::{problem, refused};

/// Items of a list answer when the request gives no `limit`.
pub const DEFAULT_LIMIT: usize = 50;
/// Most items of a list answer.
pub const MAX_LIMIT: usize = 500;

/// A page of a list: its items and the cursor of the next page (null on the last one).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// This page's items.
    pub items: Vec<T>,
    /// What to send as `cursor` for the next page; null when there is none.
    pub next_cursor: Option<String>,
}

/// A 400 problem naming what was wrong, counted as refused (`bad_request`).
pub fn bad_request(detail: &str) -> Response {
    refused("bad_request");
    problem(StatusCode::BAD_REQUEST, detail)
}

/// The JSON body of a request as `T`: 415 when it is not JSON, 400 naming the error when it
/// does not parse.
#[allow(clippy::result_large_err)]
pub fn json_body<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, Response> {
    if !crate::http::is_json(headers) {
        refused("media_type");
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| bad_request(&format!("invalid body: {e}")))
}

/// The time of query parameter `name` (RFC 3339 or epoch seconds), or `default` without it.
#[allow(clippy::result_large_err)]
pub fn time(name: &str, given: Option<&str>, default: Timestamp) -> Result<Timestamp, Response> {
    match given {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            bad_request(&format!(
                "invalid {name} {text:?}: give an RFC 3339 time (2026-11-22T10:00:00Z) or epoch seconds"
            ))
        }),
    }
}

/// The page size of `limit`: [`DEFAULT_LIMIT`] without it, 1 to [`MAX_LIMIT`].
#[allow(clippy::result_large_err)]
pub fn limit(given: Option<usize>) -> Result<usize, Response> {
    match given.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        n => Err(bad_request(&format!(
            "invalid limit {n}: give 1 to {MAX_LIMIT}"
        ))),
    }
}

/// `text` of a query string with `+` and `%XX` decoded; `None` if the result is not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|t| t.into_owned())
}

/// The query string of `uri` as `T`, whose fields are all strings: each parameter
/// percent-decoded; an unknown or repeated parameter is a 400 naming it.
#[allow(clippy::result_large_err)]
pub fn query<T: DeserializeOwned>(uri: &axum::http::Uri) -> Result<T, Response> {
    let mut params = serde_json::Map::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(name), Some(value)) = (decode(name), decode(value)) else {
            return Err(bad_request(&format!(
                "query parameter {pair:?} is not UTF-8 once decoded"
            )));
        };
        if params.contains_key(&name) {
            return Err(bad_request(&format!(
                "query parameter {name:?} is given twice"
            )));
        }
        params.insert(name, serde_json::Value::String(value));
    }
    serde_json::from_value(serde_json::Value::Object(params))
        .map_err(|e| bad_request(&format!("invalid query: {e}")))
}

/// Query parameter `name` as a number of type `T`, if given.
#[allow(clippy::result_large_err)]
pub fn number<T: std::str::FromStr>(
    name: &str,
    given: Option<&str>,
) -> Result<Option<T>, Response> {
    given
        .map(|text| {
            text.trim().parse().map_err(|_| {
                bad_request(&format!("invalid {name} {text:?}: not a number in range"))
            })
        })
        .transpose()
}
