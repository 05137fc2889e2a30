//! The subset of GLib's GScanner that the OSSIM text protocol relies on (spec 2.2).
//!
//! A line is `command key="value" key='value' ...`. Identifiers are `[A-Za-z0-9:._-]+`, values
//! are quoted strings, `#` starts a comment and `/* */` is a comment outside quotes. Inside a
//! value a backslash keeps the next byte as data, so `\"` does not end the string.

use std::str::FromStr;

use crate::{RejectReason, Rejection};

pub(crate) struct Lexer<'a> {
    line: &'a [u8],
    pos: usize,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-')
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Lexer { line, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.line.get(self.pos).copied()
    }

    /// Skips white space (`\r` included) and comments; false if the line ended inside a comment.
    fn skip_blank(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c => self.pos += 1,
                b'#' => self.pos = self.line.len(),
                b'/' if self.line.get(self.pos + 1) == Some(&b'*') => {
                    let rest = &self.line[self.pos + 2..];
                    self.pos = match rest.windows(2).position(|w| w == b"*/") {
                        Some(end) => self.pos + 2 + end + 2,
                        None => self.line.len(),
                    };
                }
                _ => return,
            }
        }
    }

    fn ident(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_ident) {
            self.pos += 1;
        }
        // Identifier bytes are ASCII, so this never fails.
        std::str::from_utf8(&self.line[start..self.pos]).unwrap_or_default()
    }

    /// The command word, or `None` for a line with nothing but blanks and comments.
    pub(crate) fn command_word(&mut self) -> Result<Option<&'a str>, Rejection> {
        self.skip_blank();
        if self.peek().is_none() {
            return Ok(None);
        }
        let word = self.ident();
        if word.is_empty() {
            return Err(Rejection::skip(
                RejectReason::UnknownCommand,
                format!(
                    "line does not start with a command word (byte {})",
                    self.pos + 1
                ),
            ));
        }
        Ok(Some(word))
    }

    /// The next `key="value"` pair, with the raw bytes of the value; `None` at the end of line.
    pub(crate) fn next_pair(&mut self) -> Result<Option<(&'a str, &'a [u8])>, Rejection> {
        self.skip_blank();
        if self.peek().is_none() {
            return Ok(None);
        }
        let at = self.pos + 1;
        let key = self.ident();
        if key.is_empty() {
            return Err(Rejection::skip(
                RejectReason::Syntax,
                format!("expected key=\"value\" at byte {at}"),
            ));
        }
        self.skip_blank();
        if self.peek() != Some(b'=') {
            return Err(Rejection::close(
                RejectReason::MissingValue,
                format!("key {key:?} has no value"),
            ));
        }
        self.pos += 1;
        self.skip_blank();
        let quote = match self.peek() {
            Some(q @ (b'"' | b'\'')) => q,
            Some(_) => {
                return Err(Rejection::close(
                    RejectReason::UnquotedValue,
                    format!("value of {key:?} is not a quoted string"),
                ));
            }
            None => {
                return Err(Rejection::close(
                    RejectReason::MissingValue,
                    format!("key {key:?} has no value"),
                ));
            }
        };
        self.pos += 1;
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == quote {
                let value = &self.line[start..self.pos];
                self.pos += 1;
                return Ok(Some((key, value)));
            }
            self.pos += if b == b'\\' { 2 } else { 1 };
        }
        Err(Rejection::close(
            RejectReason::UnquotedValue,
            format!("value of {key:?} is not terminated"),
        ))
    }
}

/// A plain-text value as UTF-8.
pub(crate) fn text<'a>(key: &str, value: &'a [u8]) -> Result<&'a str, Rejection> {
    std::str::from_utf8(value)
        .map_err(|_| Rejection::skip(RejectReason::InvalidUtf8, format!("{key} is not UTF-8")))
}

/// A decimal value.
pub(crate) fn parse_number<T: FromStr>(key: &str, value: &[u8]) -> Result<T, Rejection> {
    text(key, value)?.trim().parse().map_err(|_| {
        Rejection::skip(
            RejectReason::InvalidNumber,
            format!(
                "{key}={:?} is not a number in range",
                String::from_utf8_lossy(value)
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(line: &str) -> Result<Vec<(String, String)>, Rejection> {
        let mut lexer = Lexer::new(line.as_bytes());
        lexer.command_word()?;
        let mut out = Vec::new();
        while let Some((k, v)) = lexer.next_pair()? {
            out.push((k.to_string(), String::from_utf8_lossy(v).into_owned()));
        }
        Ok(out)
    }

    #[test]
    fn quotes_comments_and_escapes() {
        let got = pairs("event a=\"1\"\tb = 'two' /* note */ c=\"x\\\"y\" # tail c=\"ignored\"\r")
            .unwrap();
        assert_eq!(
            got,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "two".into()),
                ("c".into(), "x\\\"y".into())
            ]
        );
    }

    #[test]
    fn malformed_values_close_the_session() {
        assert_eq!(
            pairs("event plugin_id=5").unwrap_err().reason,
            RejectReason::UnquotedValue
        );
        assert_eq!(
            pairs("event plugin_id").unwrap_err().reason,
            RejectReason::MissingValue
        );
        assert_eq!(
            pairs("event plugin_id=").unwrap_err().reason,
            RejectReason::MissingValue
        );
        assert_eq!(
            pairs("event log=\"abc").unwrap_err().reason,
            RejectReason::UnquotedValue
        );
        let stray = pairs("event \"x\"").unwrap_err();
        assert_eq!(
            (stray.reason, stray.outcome),
            (RejectReason::Syntax, crate::Outcome::SkipLine)
        );
    }
}
