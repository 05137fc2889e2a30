//! What the historian needs to know about a stored record.

use std::net::IpAddr;

use vigil_event::codec::{self, DecodeError};
use vigil_event::{Alarm, AuditEntry, Event, Timestamp};

/// The indexed fields of a record; `None` means "not indexed for this record kind".
#[derive(Debug, Clone, Copy, Default)]
pub struct IndexFields<'a> {
    /// Source address.
    pub src_ip: Option<IpAddr>,
    /// Destination address.
    pub dst_ip: Option<IpAddr>,
    /// Plugin id (directive id for alarms).
    pub plugin_id: Option<u32>,
    /// Plugin sid.
    pub plugin_sid: Option<u32>,
    /// A second sid the record is also found under: for an event whose sid was unknown and
    /// replaced by the generic sid, the sid its sender gave.
    pub original_sid: Option<u32>,
    /// Sensor identity.
    pub sensor: Option<&'a str>,
}

/// A record kind the historian can store and index.
pub trait Record: Sized {
    /// Appends the binary form.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads the binary form.
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
    /// The time searches and ordering use.
    fn time(&self) -> Timestamp;
    /// When the core received it (retention by age uses this).
    fn received_at(&self) -> Timestamp;
    /// The fields to index.
    fn index_fields(&self) -> IndexFields<'_>;
}

impl Record for Event {
    fn encode(&self, out: &mut Vec<u8>) {
        codec::encode_event(self, out);
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_event(bytes)
    }

    fn time(&self) -> Timestamp {
        self.time
    }

    fn received_at(&self) -> Timestamp {
        self.provenance.received_at
    }

    fn index_fields(&self) -> IndexFields<'_> {
        IndexFields {
            src_ip: Some(self.src_ip),
            dst_ip: Some(self.dst_ip),
            plugin_id: Some(self.plugin_id),
            plugin_sid: Some(self.plugin_sid),
            original_sid: self.unknown_sid,
            sensor: Some(&self.provenance.sensor),
        }
    }
}

impl Record for Alarm {
    fn encode(&self, out: &mut Vec<u8>) {
        codec::encode_alarm(self, out);
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_alarm(bytes)
    }

    fn time(&self) -> Timestamp {
        self.last_seen
    }

    fn received_at(&self) -> Timestamp {
        self.last_seen
    }

    fn index_fields(&self) -> IndexFields<'_> {
        IndexFields {
            src_ip: Some(self.src_ip),
            dst_ip: Some(self.dst_ip),
            plugin_id: Some(self.directive_id),
            plugin_sid: None,
            original_sid: None,
            sensor: None,
        }
    }
}

/// Version byte in front of an audit entry's postcard encoding.
const AUDIT_VERSION: u8 = 1;

impl Record for AuditEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(AUDIT_VERSION);
        // Writing plain strings, maps and integers to a Vec cannot fail.
        if let Ok(bytes) = postcard::to_stdvec(self) {
            out.extend_from_slice(&bytes);
        }
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.split_first() {
            Some((&AUDIT_VERSION, rest)) => postcard::from_bytes(rest).map_err(|_| DecodeError {
                offset: 1,
                what: "an audit entry",
            }),
            _ => Err(DecodeError {
                offset: 0,
                what: "audit entry version 1",
            }),
        }
    }

    fn time(&self) -> Timestamp {
        self.time
    }

    fn received_at(&self) -> Timestamp {
        self.time
    }

    fn index_fields(&self) -> IndexFields<'_> {
        IndexFields::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::{AuditAction, AuditOutcome, Uuid};

    #[test]
    fn audit_entries_round_trip_and_bad_bytes_are_errors() {
        let entry = AuditEntry {
            id: Uuid::from_u128(7),
            time: Timestamp::from_secs(1_700_000_000),
            actor: "alice".into(),
            action: AuditAction::AlarmTriage,
            target: Uuid::from_u128(9).to_string(),
            outcome: AuditOutcome::Success,
            detail: [("status".to_string(), "closed".to_string())].into(),
            peer: Some("127.0.0.1:5000".into()),
        };
        let mut bytes = Vec::new();
        entry.encode(&mut bytes);
        assert_eq!(AuditEntry::decode(&bytes), Ok(entry));
        assert_eq!(AuditEntry::decode(&[]).map_err(|e| e.offset), Err(0));
        assert_eq!(
            AuditEntry::decode(&bytes[..5]).map_err(|e| e.offset),
            Err(1)
        );
    }
}
