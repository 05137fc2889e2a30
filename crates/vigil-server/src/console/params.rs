//! Query-string parameters looked up by name, for the alarm and audit lists whose filters are
//! comma lists and ranges: decoded, parsed with errors that name the parameter. The
//! primitives (decoding, page sizes, the 400 answer, JSON bodies) are [`super::input`]'s.

use std::str::FromStr;

use axum::response::Response;
use vigil_event::Timestamp;

use super::input::{DEFAULT_LIMIT, MAX_LIMIT, bad_request, decode};

/// The decoded `name=value` pairs of a query string.
pub struct Params(Vec<(String, String)>);

/// A parameter that could not be understood: a 400 problem naming it.
#[derive(Debug)]
pub struct BadParam(pub String);

impl BadParam {
    /// The 400 answer (counted as refused).
    pub fn response(&self) -> Response {
        bad_request(&self.0)
    }
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
        // A malformed escape stays as it is (as browsers decode); bytes that are not UTF-8 are
        // refused.
        let kept = Params::parse(Some("q=%zz"), &["q"]).unwrap();
        assert_eq!(kept.text("q"), Some("%zz"));
        assert!(Params::parse(Some("q=%ff"), &["q"]).is_err());
        assert!(Params::parse(Some("q=%e2"), &["q"]).is_err());
        let p = Params::parse(Some("limit=501"), &["limit"]).unwrap();
        assert_eq!(
            p.limit().unwrap_err().0,
            "limit=501 is out of range (1 to 500)"
        );
    }
}
