//! The naming rule for CAs, sensors and cores, and the parsing of `--host`s.
//!
//! A name is one or more dot-separated labels; each label is 1 to 63 characters
//! of `a-z`, `0-9` and `-`, and neither begins nor ends with `-`. That is the
//! regular expression
//! `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`,
//! checked here by hand.

use std::net::IpAddr;

use crate::CaError;

/// Why `name` breaks the naming rule, or `None` when it follows it.
fn rule_violation(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".to_string());
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Some("it has an empty label (a leading, trailing or doubled dot)".to_string());
        }
        if label.len() > 63 {
            return Some(format!(
                "label {label:?} is {} characters long (at most 63)",
                label.len()
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Some(format!(
                "character {c:?} is not allowed (only a-z, 0-9, '-' and '.')"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("label {label:?} begins or ends with '-'"));
        }
    }
    None
}

/// Checks that `name` follows the naming rule (see the module docs).
pub fn validate_name(name: &str) -> Result<(), CaError> {
    match rule_violation(name) {
        None => Ok(()),
        Some(reason) => Err(CaError::InvalidName {
            name: name.to_string(),
            reason,
        }),
    }
}

/// A subject alternative name of a core certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name (follows the naming rule).
    Dns(String),
    /// An IP address.
    Ip(IpAddr),
}

/// Parses a `--host`: an IP address, or else a name following the naming rule.
pub fn parse_host(host: &str) -> Result<Host, CaError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    match rule_violation(host) {
        None => Ok(Host::Dns(host.to_string())),
        Some(reason) => Err(CaError::InvalidHost {
            host: host.to_string(),
            reason: format!("not an IP address, and as a name {reason}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for n in [
            "a",
            "0",
            "sensor-1",
            "core.dc1.example",
            "a1-b2",
            &"x".repeat(63),
        ] {
            assert!(validate_name(n).is_ok(), "{n}");
        }
    }

    #[test]
    fn bad_names() {
        for n in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a..b",
            ".a",
            "a.",
            "a b",
            "é",
            &"x".repeat(64),
            "a.-b",
        ] {
            let err = validate_name(n).expect_err(n);
            assert!(err.to_string().contains(&format!("{n:?}")), "{err}");
        }
    }

    #[test]
    fn hosts() {
        assert_eq!(
            parse_host("10.0.0.1").ok(),
            Some(Host::Ip("10.0.0.1".parse().expect("ip")))
        );
        assert_eq!(
            parse_host("::1").ok(),
            Some(Host::Ip("::1".parse().expect("ip")))
        );
        assert_eq!(
            parse_host("core.example").ok(),
            Some(Host::Dns("core.example".into()))
        );
        assert!(parse_host("Core_1").is_err());
    }
}
