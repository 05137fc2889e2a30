//! The inventory TOML file (schema in the crate docs): loading with
//! positioned errors, and writing.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use vigil_event::Protocol;

use crate::hosts::{
    Inventory, MAX_RELIABILITY, Service, Vulnerability, check_vulnerability, os_name, os_sid,
};

/// An inventory file error with its place: `file:line:column: reason` (lines and columns
/// 1-based, columns in characters); for errors with no place in the text (reading the file)
/// `file: reason`.
pub use vigil_textpos::FileError as InventoryError;

/// An error at the start of `span` in `text` (or about the whole file without a span).
fn error_at(
    file: &str,
    text: &str,
    span: Option<Range<usize>>,
    reason: impl Into<String>,
) -> InventoryError {
    let (line, column) = span.map_or((0, 0), |span| vigil_textpos::position(text, span.start));
    InventoryError::new(file, line, column, reason)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIn {
    #[serde(default)]
    host: Vec<HostIn>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HostIn {
    ip: Spanned<String>,
    os: Option<Spanned<IntOrText>>,
    #[serde(default)]
    service: Vec<ServiceIn>,
    #[serde(default)]
    vulnerability: Vec<VulnerabilityIn>,
}

/// A value that may be an integer or a string (`os`, `protocol`).
enum IntOrText {
    Int(i64),
    Text(String),
}

impl<'de> Deserialize<'de> for IntOrText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = IntOrText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<IntOrText, E> {
                Ok(IntOrText::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<IntOrText, E> {
                i64::try_from(v)
                    .map(IntOrText::Int)
                    .map_err(|_| E::custom(format!("integer {v} is too large")))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IntOrText, E> {
                Ok(IntOrText::Text(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceIn {
    port: Spanned<i64>,
    protocol: Spanned<IntOrText>,
    name: Option<String>,
    banner: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VulnerabilityIn {
    plugin_id: Spanned<i64>,
    sid: Spanned<i64>,
    reliability: Option<Spanned<i64>>,
}

#[derive(Serialize)]
struct FileOut {
    host: Vec<HostOut>,
}

#[derive(Serialize)]
struct HostOut {
    ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<OsOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    service: Vec<ServiceOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vulnerability: Vec<VulnerabilityOut>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum OsOut {
    Name(&'static str),
    Sid(u32),
}

#[derive(Serialize)]
struct ServiceOut {
    port: u16,
    protocol: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    banner: Option<String>,
}

#[derive(Serialize)]
struct VulnerabilityOut {
    plugin_id: u32,
    sid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    reliability: Option<u8>,
}

/// Converts one spanned value, or errors at its place.
struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

impl Checker<'_> {
    fn error(&self, span: Range<usize>, reason: impl Into<String>) -> InventoryError {
        error_at(self.file, self.text, Some(span), reason)
    }

    fn int<T>(&self, value: &Spanned<i64>, what: &str, range: (T, T)) -> Result<T, InventoryError>
    where
        T: TryFrom<i64> + PartialOrd + fmt::Display + Copy,
    {
        let n = *value.get_ref();
        T::try_from(n)
            .ok()
            .filter(|v| *v >= range.0 && *v <= range.1)
            .ok_or_else(|| {
                self.error(
                    value.span(),
                    format!("{what} {n} is out of range {}..={}", range.0, range.1),
                )
            })
    }

    fn ip(&self, value: &Spanned<String>) -> Result<IpAddr, InventoryError> {
        let text = value.get_ref();
        text.parse()
            .map_err(|_| self.error(value.span(), format!("invalid IP address {text:?}")))
    }

    fn os(&self, value: &Spanned<IntOrText>) -> Result<u32, InventoryError> {
        match value.get_ref() {
            IntOrText::Int(n) => u32::try_from(*n).map_err(|_| {
                self.error(
                    value.span(),
                    format!("OS sid {n} is out of range 0..={}", u32::MAX),
                )
            }),
            IntOrText::Text(name) => os_sid(name).ok_or_else(|| {
                let known: Vec<&str> = crate::hosts::OSSIM_OS.iter().map(|(_, n)| *n).collect();
                self.error(
                    value.span(),
                    format!(
                        "unknown OS {name:?}: use an OSSIM OS name ({}) or a plugin 5001 sid",
                        known.join(", ")
                    ),
                )
            }),
        }
    }

    fn protocol(&self, value: &Spanned<IntOrText>) -> Result<Protocol, InventoryError> {
        match value.get_ref() {
            IntOrText::Int(n) => u8::try_from(*n).map(Protocol).map_err(|_| {
                self.error(
                    value.span(),
                    format!("protocol {n} is out of range 0..=255"),
                )
            }),
            IntOrText::Text(name) => Protocol::from_name_or_number(name).ok_or_else(|| {
                self.error(
                    value.span(),
                    format!("unknown protocol {name:?} (use e.g. \"tcp\", \"udp\" or a number)"),
                )
            }),
        }
    }
}

impl Inventory {
    /// Parses an inventory TOML text (schema in the crate docs).
    /// `source_name` is only used in errors.
    ///
    /// # Errors
    ///
    /// TOML syntax, unknown keys, missing keys, wrong types, an invalid IP
    /// address, a host listed twice, an unknown OS name, a
    /// port outside `1..=65535`, an unknown protocol, a service listed twice
    /// (same port and protocol), a vulnerability listed twice (same plugin
    /// and sid) or of plugin 5001/5002, ids outside `0..=u32::MAX`, a
    /// reliability outside `0..=10` — each with the line and column of the
    /// offending key or value.
    pub fn from_toml(source_name: &str, text: &str) -> Result<Inventory, InventoryError> {
        let file: FileIn = toml::from_str(text)
            .map_err(|e| error_at(source_name, text, e.span(), e.message().trim_end()))?;
        let check = Checker {
            file: source_name,
            text,
        };
        let mut inventory = Inventory::new();
        let mut first_line: HashMap<IpAddr, usize> = HashMap::new();
        for host in &file.host {
            let ip = check.ip(&host.ip)?;
            if let Some(line) = first_line.get(&ip) {
                return Err(check.error(
                    host.ip.span(),
                    format!("host {ip} is listed twice (first at line {line})"),
                ));
            }
            first_line.insert(ip, vigil_textpos::position(text, host.ip.span().start).0);
            inventory.add_host(ip);
            if let Some(os) = &host.os {
                inventory.set_os(ip, Some(check.os(os)?));
            }
            for service in &host.service {
                let port = check.int(&service.port, "port", (1u16, u16::MAX))?;
                let protocol = check.protocol(&service.protocol)?;
                let new = Service {
                    port,
                    protocol,
                    name: service.name.clone(),
                    banner: service.banner.clone(),
                };
                let replaced = inventory
                    .add_service(ip, new)
                    .map_err(|e| check.error(service.port.span(), e.to_string()))?;
                if replaced.is_some() {
                    return Err(check.error(
                        service.port.span(),
                        format!("service {port}/{protocol} of host {ip} is listed twice"),
                    ));
                }
            }
            for vulnerability in &host.vulnerability {
                let new = Vulnerability {
                    plugin_id: check.int(
                        &vulnerability.plugin_id,
                        "plugin_id",
                        (0u32, u32::MAX),
                    )?,
                    sid: check.int(&vulnerability.sid, "sid", (0u32, u32::MAX))?,
                    reliability: match &vulnerability.reliability {
                        Some(r) => Some(check.int(r, "reliability", (0u8, MAX_RELIABILITY))?),
                        None => None,
                    },
                };
                check_vulnerability(&new)
                    .map_err(|e| check.error(vulnerability.plugin_id.span(), e.to_string()))?;
                let added = inventory
                    .add_vulnerability(ip, new)
                    .map_err(|e| check.error(vulnerability.plugin_id.span(), e.to_string()))?;
                if !added {
                    return Err(check.error(
                        vulnerability.plugin_id.span(),
                        format!("vulnerability {} of host {ip} is listed twice", new.key()),
                    ));
                }
            }
        }
        Ok(inventory)
    }

    /// Reads and parses an inventory TOML file.
    ///
    /// # Errors
    ///
    /// The file cannot be read or is not valid UTF-8 (line and column 0), or
    /// any [`Inventory::from_toml`] error.
    pub fn load_path(path: &Path) -> Result<Inventory, InventoryError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| error_at(&name, "", None, format!("cannot read file: {e}")))?;
        Inventory::from_toml(&name, &text)
    }

    /// The inventory as TOML in the documented schema, hosts by ascending
    /// address; [`Inventory::from_toml`] reads it back to an equal
    /// inventory. OS sids with an OSSIM name are written as the name.
    pub fn to_toml(&self) -> String {
        let file = FileOut {
            host: self
                .hosts()
                .map(|(ip, profile)| HostOut {
                    ip: ip.to_string(),
                    os: profile
                        .os()
                        .map(|sid| os_name(sid).map_or(OsOut::Sid(sid), OsOut::Name)),
                    service: profile
                        .services()
                        .iter()
                        .map(|s| ServiceOut {
                            port: s.port,
                            protocol: s
                                .protocol
                                .name()
                                .map_or_else(|| s.protocol.0.to_string(), str::to_ascii_lowercase),
                            name: s.name.clone(),
                            banner: s.banner.clone(),
                        })
                        .collect(),
                    vulnerability: profile
                        .vulnerabilities()
                        .iter()
                        .map(|v| VulnerabilityOut {
                            plugin_id: v.plugin_id,
                            sid: v.sid,
                            reliability: v.reliability,
                        })
                        .collect(),
                })
                .collect(),
        };
        // Only strings, integers, tables and arrays of tables, every table
        // after its plain keys: serialization cannot fail. Panicking beats
        // silently persisting an empty inventory if that ever changes.
        #[allow(clippy::expect_used)]
        toml::to_string(&file).expect("inventory TOML serialization cannot fail")
    }
}

#[cfg(test)]
mod tests;
