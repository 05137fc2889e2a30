//! What a console request carries: query-string parameters (decoded, looked up by name, parsed
//! with errors that name the parameter) and JSON bodies.

use std::str::FromStr;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use vigil_event::Timestamp;

use super::{problem, refused};

/// Most items a list page holds.
pub const MAX_LIMIT: usize = 500;
/// Items of a list page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;

/// The decoded `name=value` pairs of a query string.
pub struct Params(Vec<(String, String)>);

/// A parameter that could not be understood: a 400 problem naming it.
#[derive(Debug)]
pub struct BadParam(pub String);

impl BadParam {
    /// The 400 answer (counted as refused).
    pub fn response(&self) -> Response {
        refused("bad_request");
        problem(StatusCode::BAD_REQUEST, &self.0)
    }
}

/// `%XX` and `+` decoded; `None` if an escape is malformed or the result is not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

impl Params {
    /// The pairs of `query` (the part after `?`), refusing parameters not in `known`.
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Params, BadParam> {
        let mut pairs = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (Some(name), Some(value)) = (decode(name), decode(value)) else {
                return Err(BadParam(format!("malformed query parameter {pair:?}")));
            };
            if !known.contains(&name.as_str()) {
                return Err(BadParam(format!(
                    "unknown query parameter {name:?} (known: {})",
                    known.join(", ")
                )));
            }
            pairs.push((name, value));
        }
        Ok(Params(pairs))
    }

    /// The value of `name` (the last one given), if given.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// `name` parsed, if given; `what` describes a valid value in the error.
    pub fn parse_as<T: FromStr>(&self, name: &str, what: &str) -> Result<Option<T>, BadParam> {
        self.text(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| BadParam(format!("{name}={v:?} is not {what}")))
            })
            .transpose()
    }

    /// `name` as a time (RFC 3339 or epoch seconds), if given.
    pub fn time(&self, name: &str) -> Result<Option<Timestamp>, BadParam> {
        self.parse_as(name, "a time (RFC 3339 or epoch seconds)")
    }

    /// `name` as a comma list of values `parse` accepts, empty if not given.
    pub fn list<T>(
        &self,
        name: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, BadParam> {
        let Some(text) = self.text(name) else {
            return Ok(Vec::new());
        };
        text.split(',')
            .map(|item| {
                parse(item.trim())
                    .ok_or_else(|| BadParam(format!("{name}: {item:?} is not one of {what}")))
            })
            .collect()
    }

    /// `limit` (1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`]).
    pub fn limit(&self) -> Result<usize, BadParam> {
        match self.parse_as::<usize>("limit", "a number")? {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(n) => Err(BadParam(format!(
                "limit={n} is out of range (1 to {MAX_LIMIT})"
            ))),
        }
    }
}

/// The JSON body of a request as `T`: 415 if it is not JSON, 400 naming what is wrong.
#[allow(clippy::result_large_err)]
pub fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Response> {
    if !crate::http::is_json(headers) {
        refused("media_type");
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| BadParam(format!("invalid body: {e}")).response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_names_what_is_wrong() {
        let p = Params::parse(
            Some("q=brute+force%21&src=10.0.0.0%2F8&limit=7"),
            &["q", "src", "limit"],
        )
        .unwrap();
        assert_eq!(p.text("q"), Some("brute force!"));
        assert_eq!(p.text("src"), Some("10.0.0.0/8"));
        assert_eq!(p.limit().unwrap(), 7);
        let err = Params::parse(Some("nope=1"), &["q"]).err().unwrap();
        assert_eq!(err.0, "unknown query parameter \"nope\" (known: q)");
        assert!(Params::parse(Some("q=%zz"), &["q"]).is_err());
        assert!(Params::parse(Some("q=%e2"), &["q"]).is_err());
        let p = Params::parse(Some("limit=501"), &["limit"]).unwrap();
        assert_eq!(
            p.limit().unwrap_err().0,
            "limit=501 is out of range (1 to 500)"
        );
    }
}
