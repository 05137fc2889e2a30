//! The OSSIM agent text protocol, as spoken to `ossim-server` on TCP 40001.
//!
//! [`parse_line`] turns one `\n`-terminated line into a [`Command`], or into a [`Rejection`]
//! whose [`Outcome`] says what OSSIM does with such a line: skip it, or close the session
//! (spec 2.7). Every rejection names a [`RejectReason`] so intake can log and count it.
//! [`RawEvent::into_event`] applies the post-parse defaults of spec 2.6.
//!
//! Framing (the 4-byte `conn` magic, line splitting, length limits) is the caller's job; see
//! [`HANDSHAKE_MAGIC`] and [`classify_handshake`].

mod connect;
mod encode;
mod event;
mod lexer;
mod reject;

pub use connect::{Connect, Reply, SessionKind};
pub use encode::event_line;
pub use event::{EventContext, RawEvent};
pub use reject::{Outcome, RejectReason, Rejection};

/// The first four bytes of every text session (`connect ...`).
pub const HANDSHAKE_MAGIC: &[u8; 4] = b"conn";

/// OSSIM's longest line: `BUFFER_SIZE` - 2 bytes.
pub const MAX_LINE_BYTES: usize = 131_068;

/// What the first four bytes of a session say about the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// A text session (`conn`).
    Text,
    /// Looks like a BSON document length: a 5.x agent speaking BSON, which Vigil refuses.
    Bson,
    /// Neither: garbage.
    Garbage,
}

/// Classifies the first four bytes of a session (spec 2.1).
pub fn classify_handshake(first: [u8; 4]) -> Handshake {
    if &first == HANDSHAKE_MAGIC {
        return Handshake::Text;
    }
    let length = u32::from_le_bytes(first);
    if (5..131_066).contains(&length) {
        Handshake::Bson
    } else {
        Handshake::Garbage
    }
}

/// A parsed protocol line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command<'a> {
    /// `connect ...`: the session handshake.
    Connect(Connect),
    /// `event ...`: a security event.
    Event(Box<RawEvent>),
    /// `session-append-plugin ...`: the agent announces a plugin; answered with `ok`.
    AppendPlugin {
        /// Transaction id to echo.
        id: Option<u64>,
    },
    /// Agent bookkeeping that needs no answer (`agent-date`, `pong`, `ok`, plugin state ...).
    Ignored {
        /// The command word.
        name: &'a str,
    },
    /// A known OSSIM command that Vigil does not serve on the agent port (server-to-server,
    /// frameworkd and web control, inventory, IDM); answered with `error`.
    Unsupported {
        /// The command word.
        name: &'a str,
        /// Transaction id to echo.
        id: Option<u64>,
    },
}

/// Parses one line (without its trailing `\n`).
///
/// Returns `Ok(None)` for lines OSSIM ignores outright (two bytes or fewer, blank, comments only).
pub fn parse_line(line: &[u8]) -> Result<Option<Command<'_>>, Rejection> {
    if line.len() <= 2 {
        return Ok(None);
    }
    let mut lexer = lexer::Lexer::new(line);
    let Some(word) = lexer.command_word()? else {
        return Ok(None);
    };
    match word {
        "event" => event::parse(&mut lexer).map(|e| Some(Command::Event(Box::new(e)))),
        "connect" => connect::parse(&mut lexer).map(|c| Some(Command::Connect(c))),
        "session-append-plugin" => Ok(Some(Command::AppendPlugin {
            id: transaction_id(&mut lexer)?,
        })),
        "agent-date"
        | "pong"
        | "ok"
        | "error"
        | "session-remove-plugin"
        | "plugin-process-started"
        | "plugin-process-stopped"
        | "plugin-process-unknown"
        | "plugin-enabled"
        | "plugin-disabled" => Ok(Some(Command::Ignored { name: word })),
        "host-os-event"
        | "host-mac-event"
        | "host-service-event"
        | "snort-event"
        | "idm-event"
        | "server-get-sensors"
        | "server-get-sensor-plugins"
        | "server-set-data-role"
        | "sensor-plugin-start"
        | "sensor-plugin-stop"
        | "sensor-plugin-enable"
        | "sensor-plugin-disable"
        | "server-get-framework"
        | "server-ping"
        | "server-get-db"
        | "backlog-event"
        | "database-query"
        | "database-answer" => Ok(Some(Command::Unsupported {
            name: word,
            id: transaction_id(&mut lexer)?,
        })),
        w if w.starts_with("reload-") => Ok(Some(Command::Unsupported {
            name: w,
            id: transaction_id(&mut lexer)?,
        })),
        _ => Err(Rejection::skip(
            RejectReason::UnknownCommand,
            format!("unknown command {word:?}"),
        )),
    }
}

/// Reads the `id` of a command whose other keys Vigil does not use.
fn transaction_id(lexer: &mut lexer::Lexer<'_>) -> Result<Option<u64>, Rejection> {
    let mut id = None;
    while let Some((key, value)) = lexer.next_pair()? {
        if key == "id" {
            id = Some(lexer::parse_number::<u64>(key, value)?);
        }
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_classification() {
        assert_eq!(classify_handshake(*b"conn"), Handshake::Text);
        assert_eq!(classify_handshake(200u32.to_le_bytes()), Handshake::Bson);
        assert_eq!(classify_handshake(*b"GET "), Handshake::Garbage);
    }

    #[test]
    fn short_and_blank_lines_are_ignored() {
        assert_eq!(parse_line(b"ok"), Ok(None));
        assert_eq!(parse_line(b"     \r"), Ok(None));
        assert_eq!(parse_line(b"# just a comment"), Ok(None));
    }

    #[test]
    fn known_commands_and_unknown_words() {
        assert_eq!(
            parse_line(b"agent-date agent_date=\"1\""),
            Ok(Some(Command::Ignored { name: "agent-date" }))
        );
        assert_eq!(
            parse_line(b"session-append-plugin id=\"7\" plugin_id=\"4003\" enabled=\"true\""),
            Ok(Some(Command::AppendPlugin { id: Some(7) }))
        );
        assert_eq!(
            parse_line(b"reload-directives id=\"3\""),
            Ok(Some(Command::Unsupported {
                name: "reload-directives",
                id: Some(3)
            }))
        );
        let err = parse_line(b"hello world=\"1\"").unwrap_err();
        assert_eq!(
            (err.reason, err.outcome),
            (RejectReason::UnknownCommand, Outcome::SkipLine)
        );
    }
}
