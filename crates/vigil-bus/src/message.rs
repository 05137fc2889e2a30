//! The bus messages. Every message is one frame holding its postcard encoding.
//!
//! An edge opens with [`Hello`]; the core answers [`Welcome`] with a fresh session id. Batches,
//! heartbeats and command results travel as [`Signed`] bodies: the body bytes and an Ed25519
//! signature by the key of the sender's certificate over a context string and the body
//! ([`signing_message`]). Bodies name the sensor and the session, so a body signed for one
//! session and sent again on another is recognisable as a replay, and a sensor cannot pass
//! another sensor's body as its own. The core signs commands the same way with its key.

use serde::{Deserialize, Serialize};

use crate::epoch::Epoch;

/// Version of this protocol, exchanged in [`Hello`] and [`Welcome`] (2: `Hello` carries the
/// spool epoch).
pub const PROTOCOL_VERSION: u16 = 2;

/// A session id, chosen at random by the core for each connection.
pub type SessionId = [u8; 16];

/// What an edge sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeMessage {
    /// The first message of a connection.
    Hello(Hello),
    /// A signed [`BatchBody`].
    Batch(Signed),
    /// A signed [`HeartbeatBody`].
    Heartbeat(Signed),
    /// A signed [`CommandResultBody`].
    CommandResult(Signed),
    /// A signed [`GoodbyeBody`]: the edge is stopping cleanly.
    Goodbye(Signed),
}

/// What the core sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoreMessage {
    /// The answer to [`Hello`].
    Welcome(Welcome),
    /// A batch is durable in the core (or was already).
    Ack(Ack),
    /// A batch or message was refused; the connection is closed after it.
    Reject(Reject),
    /// A signed [`CommandBody`].
    Command(Signed),
}

/// The edge introduces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL_VERSION`] of the edge.
    pub protocol: u16,
    /// The sensor name the edge claims; it must be its certificate's name.
    pub sensor: String,
    /// The epoch of the edge's spool: its sequence numbers count within it.
    pub epoch: Epoch,
}

/// The protocol version of a `Hello` frame that does not decode as this version's (from an
/// edge of another version), so that the refusal can say so; `None` if it is not a `Hello`.
pub fn hello_version(frame: &[u8]) -> Option<u16> {
    // A `Hello` of any version starts with the variant index 0 and the version.
    match postcard::take_from_bytes::<(u32, u16)>(frame) {
        Ok(((0, version), _)) => Some(version),
        _ => None,
    }
}

/// The core accepts the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// [`PROTOCOL_VERSION`] of the core.
    pub protocol: u16,
    /// Id every signed body of this session must carry.
    pub session: SessionId,
    /// The core's name (its certificate's).
    pub core: String,
    /// The core's clock when it answered, in microseconds since the epoch.
    pub core_time_micros: i64,
    /// Every sequence number of this sensor under the `Hello`'s epoch up to here is stored
    /// (0: none, and always 0 for an epoch new to the core).
    pub stored_through: u64,
}

/// A body and its signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signed {
    /// The encoded body.
    pub body: Vec<u8>,
    /// Ed25519 signature of [`signing_message`] for the body.
    pub signature: Vec<u8>,
}

/// What a signature covers, so a signature for one kind of body never passes for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedKind {
    /// A [`BatchBody`].
    Batch,
    /// A [`HeartbeatBody`].
    Heartbeat,
    /// A [`CommandBody`].
    Command,
    /// A [`CommandResultBody`].
    CommandResult,
    /// A [`GoodbyeBody`].
    Goodbye,
}

/// The bytes a signature covers: a context naming the protocol and the body kind, then the body.
pub fn signing_message(kind: SignedKind, body: &[u8]) -> Vec<u8> {
    let context: &[u8] = match kind {
        SignedKind::Batch => b"vigil-bus/1 batch\0",
        SignedKind::Heartbeat => b"vigil-bus/1 heartbeat\0",
        SignedKind::Command => b"vigil-bus/1 command\0",
        SignedKind::CommandResult => b"vigil-bus/1 command-result\0",
        SignedKind::Goodbye => b"vigil-bus/1 goodbye\0",
    };
    let mut message = Vec::with_capacity(context.len() + body.len());
    message.extend_from_slice(context);
    message.extend_from_slice(body);
    message
}

/// The header of a batch of consecutively numbered events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchHeader {
    /// The sensor that numbered the events.
    pub sensor: String,
    /// The session the batch is signed for.
    pub session: SessionId,
    /// Sequence number of the first event; the others follow one by one.
    pub first_sequence: u64,
    /// The edge's clock when it sent the batch, in microseconds since the epoch.
    pub sent_at_micros: i64,
}

/// A batch: its header and its events, each in the binary event codec of `vigil-event`.
///
/// Encoded as the postcard header, then each event as a 4-byte little-endian length and its
/// bytes (events are not re-encoded on the way: the edge's spool already holds these bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchBody {
    /// Who, which session, where the numbering starts, when it was sent.
    pub header: BatchHeader,
    /// The encoded events.
    pub events: Vec<Vec<u8>>,
}

/// Why bytes are not a valid message or body.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The postcard part is invalid.
    #[error("invalid message: {0}")]
    Postcard(#[from] postcard::Error),
    /// The event list is cut or its lengths are wrong.
    #[error("invalid event list at byte {0}")]
    Events(usize),
}

impl BatchBody {
    /// Encodes the body from the header and the encoded events.
    pub fn encode<E: AsRef<[u8]>>(header: &BatchHeader, events: &[E]) -> Vec<u8> {
        let size: usize = events.iter().map(|e| 4 + e.as_ref().len()).sum();
        let mut out = postcard::to_allocvec(header).unwrap_or_default();
        out.reserve(size + 4);
        out.extend_from_slice(&(events.len() as u32).to_le_bytes());
        for event in events {
            let event = event.as_ref();
            out.extend_from_slice(&(event.len() as u32).to_le_bytes());
            out.extend_from_slice(event);
        }
        out
    }

    /// Decodes a body; never panics on any input.
    pub fn decode(bytes: &[u8]) -> Result<BatchBody, DecodeError> {
        let (header, rest) = postcard::take_from_bytes::<BatchHeader>(bytes)?;
        let offset = bytes.len() - rest.len();
        let count = read_u32(rest, 0).ok_or(DecodeError::Events(offset))? as usize;
        let mut events = Vec::with_capacity(count.min(rest.len() / 4));
        let mut at = 4;
        for _ in 0..count {
            let len = read_u32(rest, at).ok_or(DecodeError::Events(offset + at))? as usize;
            at += 4;
            let event = rest
                .get(at..at.saturating_add(len))
                .ok_or(DecodeError::Events(offset + at))?;
            events.push(event.to_vec());
            at += len;
        }
        if at != rest.len() {
            return Err(DecodeError::Events(offset + at));
        }
        Ok(BatchBody { header, events })
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// The edge is stopping cleanly (SIGTERM): its silence from now on is expected, not an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoodbyeBody {
    /// The sensor.
    pub sensor: String,
    /// The session it is signed for.
    pub session: SessionId,
    /// The edge's clock, in microseconds since the epoch.
    pub sent_at_micros: i64,
}

/// A heartbeat: the edge is alive, and what it has counted since it started, so the core can
/// tell a quiet sensor (nothing received) from one cut off from its sources or from the core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatBody {
    /// The sensor.
    pub sensor: String,
    /// The session it is signed for.
    pub session: SessionId,
    /// The edge's clock, in microseconds since the epoch.
    pub sent_at_micros: i64,
    /// The next sequence number the edge will give (every lower one is spooled).
    pub next_sequence: u64,
    /// Messages and lines received from sources since the edge started.
    pub received: u64,
    /// Events waiting in the spool for an acknowledgement.
    pub spooled: u64,
    /// Events lost at the edge (spool overflow with drop-oldest, or shutdown), since it started.
    pub dropped: u64,
}

/// The core's acknowledgement of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// First sequence number of the batch.
    pub first_sequence: u64,
    /// Events in the batch.
    pub count: u64,
    /// Whether the events were stored now or had been before.
    pub status: AckStatus,
}

/// What became of an acknowledged batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckStatus {
    /// Stored now (some events may have been stored before, through another path).
    Stored,
    /// Every event had been stored before.
    Duplicate,
}

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// First sequence number of the refused batch (0 when not about a batch).
    pub first_sequence: u64,
    /// Why.
    pub reason: RejectReason,
    /// Details for the edge's log.
    pub detail: String,
}

/// Why the core refused input from an edge. Each is counted and raises an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum RejectReason {
    /// Bytes that are not a valid message, body or event.
    Malformed,
    /// The signature does not verify with the key of the connection's certificate: forged or
    /// tampered with.
    BadSignature,
    /// The message names another sensor than the certificate.
    IdentityMismatch,
    /// A validly signed body of another session, or a `Hello` with a spool epoch the sensor
    /// has superseded: replayed.
    Replayed,
    /// Sequence numbers too far ahead of what the sensor sent before, or not consecutive.
    OutOfWindow,
    /// Messages in the wrong order or of the wrong protocol version.
    Protocol,
}

impl RejectReason {
    /// Every reason, for metrics.
    pub const ALL: [RejectReason; 6] = [
        RejectReason::Malformed,
        RejectReason::BadSignature,
        RejectReason::IdentityMismatch,
        RejectReason::Replayed,
        RejectReason::OutOfWindow,
        RejectReason::Protocol,
    ];

    /// The label used in metrics and alarms.
    pub fn label(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::BadSignature => "bad_signature",
            RejectReason::IdentityMismatch => "identity_mismatch",
            RejectReason::Replayed => "replayed",
            RejectReason::OutOfWindow => "out_of_window",
            RejectReason::Protocol => "protocol",
        }
    }
}

/// A command's id (chosen by the core), shown as lower-case hex in logs and answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommandId(pub [u8; 16]);

impl std::fmt::Display for CommandId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// A command from the core to an edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandBody {
    /// Unique id, echoed in the result.
    pub id: CommandId,
    /// The sensor it is for.
    pub sensor: String,
    /// The core's clock when issued, in microseconds since the epoch.
    pub issued_at_micros: i64,
    /// The edge refuses it after this time.
    pub expires_at_micros: i64,
    /// What to do.
    pub action: CommandAction,
}

/// What a command asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandAction {
    /// Log every message of a source (`verbose`), or stop doing so.
    SetVerbosity {
        /// The source's name in the edge configuration.
        source: String,
        /// Whether to log each message.
        verbose: bool,
    },
    /// Run one of the response scripts configured on the edge, with these arguments.
    RunResponse {
        /// The response's name in the edge configuration.
        name: String,
        /// Its arguments (checked by the edge against the response's allowed pattern).
        args: Vec<String>,
    },
}

/// An edge's report on a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandResultBody {
    /// The command's id.
    pub id: CommandId,
    /// The sensor.
    pub sensor: String,
    /// Whether it was carried out successfully.
    pub ok: bool,
    /// What happened (exit status, or why it was refused).
    pub detail: String,
}

/// Encodes any message or body with postcard.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).unwrap_or_default()
}

/// Decodes a message or body; never panics on any input.
pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    Ok(postcard::from_bytes(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> BatchHeader {
        BatchHeader {
            sensor: "fw1".into(),
            session: [7; 16],
            first_sequence: 41,
            sent_at_micros: 1_700_000_000_000_000,
        }
    }

    #[test]
    fn batch_round_trip() {
        let events = vec![b"one".to_vec(), Vec::new(), b"three".to_vec()];
        let bytes = BatchBody::encode(&header(), &events);
        let body = BatchBody::decode(&bytes).unwrap();
        assert_eq!(body.header, header());
        assert_eq!(body.events, events);
    }

    #[test]
    fn every_cut_or_flip_is_an_error_or_a_different_body() {
        let events = vec![b"one".to_vec(), b"three".to_vec()];
        let bytes = BatchBody::encode(&header(), &events);
        for cut in 0..bytes.len() {
            assert!(BatchBody::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(BatchBody::decode(&longer).is_err());
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x55;
            if let Ok(body) = BatchBody::decode(&flipped) {
                assert!(body.header != header() || body.events != events);
            }
        }
    }

    #[test]
    fn messages_round_trip() {
        let m = EdgeMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            sensor: "fw1".into(),
            epoch: Epoch([9; 16]),
        });
        assert_eq!(decode::<EdgeMessage>(&encode(&m)).unwrap(), m);
        assert_eq!(hello_version(&encode(&m)), Some(PROTOCOL_VERSION));
        let c = CoreMessage::Ack(Ack {
            first_sequence: 1,
            count: 512,
            status: AckStatus::Stored,
        });
        assert_eq!(decode::<CoreMessage>(&encode(&c)).unwrap(), c);
        assert!(decode::<CoreMessage>(&[0xff, 0xff]).is_err());
    }

    #[test]
    fn a_version_1_hello_does_not_decode_but_says_its_version() {
        #[derive(Serialize)]
        enum Version1 {
            Hello { protocol: u16, sensor: String },
        }
        let old = encode(&Version1::Hello {
            protocol: 1,
            sensor: "fw1".into(),
        });
        assert!(decode::<EdgeMessage>(&old).is_err());
        assert_eq!(hello_version(&old), Some(1));
        let goodbye = encode(&EdgeMessage::Goodbye(Signed {
            body: Vec::new(),
            signature: Vec::new(),
        }));
        assert_eq!(hello_version(&goodbye), None);
    }

    #[test]
    fn contexts_differ() {
        assert_ne!(
            signing_message(SignedKind::Batch, b"x"),
            signing_message(SignedKind::Heartbeat, b"x")
        );
    }
}
