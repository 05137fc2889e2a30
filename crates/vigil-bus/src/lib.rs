//! The Vigil event bus between edges and the core: what travels on the mutually
//! authenticated TLS connection, and how the core keeps each sensor's sequence.
//!
//! - [`frame`]: length-prefixed frames on the byte stream, with a size bound.
//! - [`message`]: the messages each side sends, and the signed bodies inside them
//!   (batches of numbered events, heartbeats, downstream commands and their results).
//! - [`sequence`]: the core's record of which sequence numbers of each sensor are stored,
//!   used to deduplicate, to bound how far ahead a sensor may jump, and to find gaps.
//! - [`epoch`]: spool epochs, so numbering from 1 again after a lost spool is a new history of
//!   the sensor, and an earlier installation's spool is refused.
//!
//! Transport security (the private CA, TLS 1.3 with client certificates) is `vigil-ca`;
//! the edge's durable spool is `vigil-spool`.

pub mod epoch;
pub mod frame;
pub mod message;
pub mod sequence;

pub use epoch::{Announced, Epoch};
pub use frame::{FrameError, MAX_FRAME_BYTES, frame_len, read_frame, read_frame_body, write_frame};
pub use message::{
    Ack, AckStatus, BatchBody, CommandAction, CommandBody, CommandId, CommandResultBody,
    CoreMessage, EdgeMessage, GoodbyeBody, HeartbeatBody, Hello, PROTOCOL_VERSION, Reject,
    RejectReason, Signed, Welcome,
};
pub use sequence::{Gap, SensorBook, SequenceBook};

/// ALPN protocol name of the bus.
pub const ALPN: &[u8] = b"vigil-bus/1";

/// Plugin id of the SIEM's reports about itself: the core's about the bus and its store, and
/// an edge's about its spool.
pub const REPORT_PLUGIN_ID: u32 = 1_000_000_001;

/// Plugin sid of the event an edge spools for each damaged range it found in its spool
/// (quarantined and skipped), naming the segment, the byte range and the sequences lost.
pub const SPOOL_CORRUPTION_SID: u32 = 32;
