//! The `connect` handshake and the server's replies (spec 2.3).

use base64::Engine;
use uuid::Uuid;

use crate::lexer::{Lexer, parse_number, text};
use crate::{RejectReason, Rejection};

/// The session type a peer claims in `connect type="..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// An agent/sensor sending events.
    Sensor,
    /// A child server forwarding events.
    Server,
    /// The web UI's control session.
    Web,
    /// The framework daemon's control session.
    Frameworkd,
    /// Missing or anything else (OSSIM answers `error` and closes).
    None,
}

/// A parsed `connect` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Connect {
    /// Transaction id to echo in the reply.
    pub id: Option<u64>,
    /// Claimed session type.
    pub kind: SessionKind,
    /// Agent version text (`5.8.0`).
    pub version: Option<String>,
    /// Agent time-zone offset in hours.
    pub tzone: Option<f32>,
    /// Host name (server-to-server).
    pub hostname: Option<String>,
    /// User name (base64 on the wire). The password is never kept.
    pub username: Option<String>,
    /// Sensor UUID.
    pub sensor_id: Option<Uuid>,
}

impl Connect {
    /// Major version number, when `version` starts with one.
    pub fn major_version(&self) -> Option<u32> {
        self.version
            .as_deref()?
            .split('.')
            .next()?
            .trim()
            .parse()
            .ok()
    }
}

pub(crate) fn parse(lexer: &mut Lexer<'_>) -> Result<Connect, Rejection> {
    let mut connect = Connect {
        id: None,
        kind: SessionKind::None,
        version: None,
        tzone: None,
        hostname: None,
        username: None,
        sensor_id: None,
    };
    while let Some((key, value)) = lexer.next_pair()? {
        match key {
            "id" => connect.id = Some(parse_number(key, value)?),
            "type" => {
                let kind = text(key, value)?;
                connect.kind = match kind.to_ascii_lowercase().as_str() {
                    "sensor" => SessionKind::Sensor,
                    "server" => SessionKind::Server,
                    "web" => SessionKind::Web,
                    "frameworkd" => SessionKind::Frameworkd,
                    _ => SessionKind::None,
                };
            }
            "version" => connect.version = Some(text(key, value)?.to_string()),
            "tzone" => connect.tzone = Some(parse_number(key, value)?),
            "hostname" => connect.hostname = Some(text(key, value)?.to_string()),
            "username" => connect.username = Some(decode_base64_text(key, value)?),
            "password" => {
                decode_base64_text(key, value)?;
            }
            "sensor_id" => connect.sensor_id = Some(parse_uuid(key, value)?),
            _ => {
                return Err(Rejection::skip(
                    RejectReason::UnknownKey,
                    format!("unknown key {key:?} in connect"),
                ));
            }
        }
    }
    Ok(connect)
}

pub(crate) fn parse_uuid(key: &str, value: &[u8]) -> Result<Uuid, Rejection> {
    Uuid::try_parse_ascii(value).map_err(|_| {
        Rejection::skip(
            RejectReason::InvalidUuid,
            format!("{key}={:?} is not a UUID", String::from_utf8_lossy(value)),
        )
    })
}

/// Decodes a base64 field; invalid UTF-8 in the decoded bytes becomes U+FFFD.
pub(crate) fn decode_base64_text(key: &str, value: &[u8]) -> Result<String, Rejection> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let trimmed = value.trim_ascii();
    let bytes = engine.decode(trimmed).map_err(|e| {
        Rejection::skip(
            RejectReason::InvalidBase64,
            format!("{key} is not valid base64: {e}"),
        )
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// A server reply on the agent port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `ok id="N"`.
    Ok(Option<u64>),
    /// `error id="N"`.
    Error(Option<u64>),
    /// `noack id="N" your_sensor_id="UUID"`: the agent should adopt this sensor id and reconnect.
    NoAck(Option<u64>, Uuid),
}

impl Reply {
    /// The reply line, `\n` included. A command without an id is answered with id 0.
    pub fn to_line(&self) -> String {
        match self {
            Reply::Ok(id) => format!("ok id=\"{}\"\n", id.unwrap_or(0)),
            Reply::Error(id) => format!("error id=\"{}\"\n", id.unwrap_or(0)),
            Reply::NoAck(id, uuid) => {
                format!(
                    "noack id=\"{}\" your_sensor_id=\"{uuid}\"\n",
                    id.unwrap_or(0)
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Command, parse_line};

    use super::*;

    fn connect(line: &str) -> Result<Connect, Rejection> {
        match parse_line(line.as_bytes())? {
            Some(Command::Connect(c)) => Ok(c),
            other => panic!("not a connect: {other:?}"),
        }
    }

    #[test]
    fn parses_a_5x_agent_connect() {
        let c = connect(
            "connect id=\"1\" type=\"Sensor\" version=\"5.8.0\" username=\"dmlnaWw=\" password=\"c2VjcmV0\" sensor_id=\"564d1f6a-0000-4000-8000-000000000001\"",
        )
        .unwrap();
        assert_eq!(c.id, Some(1));
        assert_eq!(c.kind, SessionKind::Sensor);
        assert_eq!(c.major_version(), Some(5));
        assert_eq!(c.username.as_deref(), Some("vigil"));
        assert_eq!(
            c.sensor_id,
            Uuid::parse_str("564d1f6a-0000-4000-8000-000000000001").ok()
        );
    }

    #[test]
    fn invalid_connect_lines_are_skipped() {
        assert_eq!(
            connect("connect id=\"x\" type=\"sensor\"")
                .unwrap_err()
                .reason,
            RejectReason::InvalidNumber
        );
        assert_eq!(
            connect("connect id=\"1\" sensor_id=\"nope\"")
                .unwrap_err()
                .reason,
            RejectReason::InvalidUuid
        );
        assert_eq!(
            connect("connect id=\"1\" colour=\"red\"")
                .unwrap_err()
                .reason,
            RejectReason::UnknownKey
        );
        assert_eq!(
            connect("connect id=\"1\" type=\"toaster\"").unwrap().kind,
            SessionKind::None
        );
    }

    #[test]
    fn reply_lines() {
        let uuid = Uuid::nil();
        assert_eq!(Reply::Ok(Some(4)).to_line(), "ok id=\"4\"\n");
        assert_eq!(Reply::Error(None).to_line(), "error id=\"0\"\n");
        assert_eq!(
            Reply::NoAck(Some(1), uuid).to_line(),
            "noack id=\"1\" your_sensor_id=\"00000000-0000-0000-0000-000000000000\"\n"
        );
    }
}
