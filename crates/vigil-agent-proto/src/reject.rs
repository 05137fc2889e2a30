//! Why a line or a session was refused, and what happens next.

use std::fmt;

/// What the session does after a rejected line (spec 2.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The line is skipped; the session goes on.
    SkipLine,
    /// The session is closed.
    CloseSession,
}

/// Every reason intake refuses input on the agent port; each is a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The first word of the line is not a command.
    UnknownCommand,
    /// A key that the command's scope does not know (OSSIM rejects the whole line).
    UnknownKey,
    /// Something other than `key="value"` where a key was expected.
    Syntax,
    /// A numeric field that is not a number in range.
    InvalidNumber,
    /// An address field that is not a canonical IPv4/IPv6 address.
    InvalidIp,
    /// A UUID field that is not a UUID.
    InvalidUuid,
    /// A base64 field that does not decode.
    InvalidBase64,
    /// A plain-text field that is not UTF-8.
    InvalidUtf8,
    /// An `fdate` that is not `YYYY-MM-DD HH:MM:SS`, or a `date` out of range.
    InvalidDate,
    /// A value that is not a quoted string (closes the session, as in OSSIM).
    UnquotedValue,
    /// A key without `=value` (closes the session, as in OSSIM).
    MissingValue,
    /// `binary_data` that is not hex (closes the session, as in OSSIM).
    InvalidHex,
    /// An event without `type`.
    MissingType,
    /// An event whose `type` is neither `detector` nor `monitor`.
    InvalidType,
    /// An event without a non-zero `plugin_id`.
    MissingPluginId,
    /// A line longer than the configured limit.
    LineTooLong,
    /// A command other than `connect` before the session completed its handshake.
    NotConnected,
    /// A BSON session (5.x agents' default); Vigil speaks the text protocol only.
    BsonRefused,
    /// The first bytes of the session are neither `conn` nor BSON.
    BadHandshake,
    /// `connect` with a session type Vigil does not accept here.
    SessionTypeRefused,
    /// A 4.x+ sensor connected without `sensor_id`.
    SensorIdRequired,
    /// The peer's address belongs to a configured sensor with another `sensor_id` (`noack`).
    SensorIdMismatch,
    /// A sensor that is not configured, while unknown sensors are refused.
    UnknownSensor,
    /// The connection sent no handshake within the time limit.
    HandshakeTimeout,
    /// A known OSSIM command that Vigil does not serve on the agent port (answered `error`).
    UnsupportedCommand,
}

impl RejectReason {
    /// Every reason, for pre-registering metrics.
    pub const ALL: [RejectReason; 25] = [
        RejectReason::UnknownCommand,
        RejectReason::UnknownKey,
        RejectReason::Syntax,
        RejectReason::InvalidNumber,
        RejectReason::InvalidIp,
        RejectReason::InvalidUuid,
        RejectReason::InvalidBase64,
        RejectReason::InvalidUtf8,
        RejectReason::InvalidDate,
        RejectReason::UnquotedValue,
        RejectReason::MissingValue,
        RejectReason::InvalidHex,
        RejectReason::MissingType,
        RejectReason::InvalidType,
        RejectReason::MissingPluginId,
        RejectReason::LineTooLong,
        RejectReason::NotConnected,
        RejectReason::BsonRefused,
        RejectReason::BadHandshake,
        RejectReason::SessionTypeRefused,
        RejectReason::SensorIdRequired,
        RejectReason::SensorIdMismatch,
        RejectReason::UnknownSensor,
        RejectReason::HandshakeTimeout,
        RejectReason::UnsupportedCommand,
    ];

    /// The snake_case label used in logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::UnknownCommand => "unknown_command",
            RejectReason::UnknownKey => "unknown_key",
            RejectReason::Syntax => "syntax",
            RejectReason::InvalidNumber => "invalid_number",
            RejectReason::InvalidIp => "invalid_ip",
            RejectReason::InvalidUuid => "invalid_uuid",
            RejectReason::InvalidBase64 => "invalid_base64",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::InvalidDate => "invalid_date",
            RejectReason::UnquotedValue => "unquoted_value",
            RejectReason::MissingValue => "missing_value",
            RejectReason::InvalidHex => "invalid_hex",
            RejectReason::MissingType => "missing_type",
            RejectReason::InvalidType => "invalid_type",
            RejectReason::MissingPluginId => "missing_plugin_id",
            RejectReason::LineTooLong => "line_too_long",
            RejectReason::NotConnected => "not_connected",
            RejectReason::BsonRefused => "bson_refused",
            RejectReason::BadHandshake => "bad_handshake",
            RejectReason::SessionTypeRefused => "session_type_refused",
            RejectReason::SensorIdRequired => "sensor_id_required",
            RejectReason::SensorIdMismatch => "sensor_id_mismatch",
            RejectReason::UnknownSensor => "unknown_sensor",
            RejectReason::HandshakeTimeout => "handshake_timeout",
            RejectReason::UnsupportedCommand => "unsupported_command",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused line: the reason, a human-readable detail naming the field, and the outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why.
    pub reason: RejectReason,
    /// Which key or token was wrong, and how.
    pub detail: String,
    /// Skip the line or close the session.
    pub outcome: Outcome,
}

impl Rejection {
    /// A rejection that skips the line.
    pub fn skip(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
            outcome: Outcome::SkipLine,
        }
    }

    /// A rejection that closes the session.
    pub fn close(reason: RejectReason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
            outcome: Outcome::CloseSession,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason, self.detail)
    }
}

impl std::error::Error for Rejection {}
