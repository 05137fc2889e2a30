//! Syslog intake for the Vigil edge, as pure, sans-I/O building blocks.
//!
//! * [`framing`]: cutting a TCP/TLS byte stream into messages (RFC 6587 octet counting and
//!   LF framing, detected per message) and UDP datagrams into one message each, with typed,
//!   counted errors and resynchronisation.
//! * [`parse()`]: one message into fields (RFC 5424 with structured data, RFC 3164 with and
//!   without PRI and its common timestamp variants). It never fails: what is not syslog is
//!   [`Format::Unknown`] with the whole text as body.
//! * [`time`]: the [`ParseContext`] (receipt clock and per-source zone) and the year
//!   inference rule for RFC 3164 timestamps.
//!
//! Sockets and TLS listeners live elsewhere; they push bytes into a [`Decoder`] and hand each
//! frame to [`parse()`] with the receipt time.
//!
//! [`fuzz_parse`] and [`fuzz_framing`] are the bodies of the cargo-fuzz targets in `fuzz/`;
//! the test suite runs them over the seed corpus and over proptest inputs.

pub mod framing;
mod parse;
pub mod time;

pub use framing::{
    BadCount, Decoder, Frame, FrameError, FrameStats, Framing, FramingMode, datagram, fuzz_framing,
};
pub use parse::{Element, Format, Message, facility_name, fuzz_parse, parse, severity_name};
pub use time::{ParseContext, ZoneError, zone_from_config};
