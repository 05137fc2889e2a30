//! What the historian needs to know about a stored record.

use std::net::IpAddr;

use vigil_event::codec::{self, DecodeError};
use vigil_event::{Alarm, Event, Timestamp};

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
