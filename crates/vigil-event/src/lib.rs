//! The Vigil event and alarm model.
//!
//! [`Event`] carries every field of an OSSIM event (see `docs/formats.md`) plus its
//! [`Provenance`]: which sensor sent it, under which sequence number, and which clocks
//! stamped it. [`Alarm`] is what correlation raises, with the ids of the events behind it.
//!
//! Two encodings are stable and versioned: the JSON shape (serde, [`JSON_SCHEMA_VERSION`]) and
//! a compact binary codec ([`codec`]) used by the store and, later, the bus.

pub mod alarm;
pub mod audit;
pub mod codec;
pub mod event;
pub mod protocol;
pub mod time;

pub use alarm::{
    Alarm, CorrelationState, Evidence, MAX_EVIDENCE_PER_LEVEL, MAX_NAMES, Triage, TriageStatus,
};
pub use audit::{AuditAction, AuditEntry, AuditOutcome};
pub use event::{Event, EventKind, GENERIC_PLUGIN_SID, Provenance, TimeSource, Transport};
pub use protocol::Protocol;
pub use time::Timestamp;
pub use uuid::Uuid;

/// Version of the JSON shape of events and alarms (`"v"` in every document).
pub const JSON_SCHEMA_VERSION: u16 = 2;

/// Normalises an address: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes IPv4.
pub fn canonical_ip(ip: std::net::IpAddr) -> std::net::IpAddr {
    ip.to_canonical()
}

/// The stored form of a secret seen in a log (e.g. OSSIM's `password` field): `fp:` plus the
/// first 16 bytes of a keyed BLAKE3 hash, in hex. Equal secrets give equal fingerprints under one
/// key, so correlation can still compare them, but the secret itself is never stored.
pub fn secret_fingerprint(key: &[u8; 32], secret: &str) -> String {
    let hash = blake3::keyed_hash(key, secret.as_bytes());
    let mut out = String::with_capacity(35);
    out.push_str("fp:");
    for byte in &hash.as_bytes()[..16] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// What replaces a secret seen in a log wherever it would be stored in text (a field a plugin
/// marks secret, and the raw line): `[secret len=N fp:…]`, its length in characters and its
/// [`secret_fingerprint`]. Equal secrets give equal markers under one key.
pub fn secret_marker(key: &[u8; 32], secret: &str) -> String {
    format!(
        "[secret len={} {}]",
        secret.chars().count(),
        secret_fingerprint(key, secret)
    )
}
