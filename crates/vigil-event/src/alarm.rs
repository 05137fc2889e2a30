//! Alarms raised by correlation, with the evidence behind them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Protocol, Timestamp};

/// Lifecycle state of an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AlarmStatus {
    /// Still being updated or not yet handled.
    #[default]
    Open,
    /// Closed by an analyst or by the end of its backlog.
    Closed,
}

/// The events that advanced one level of a directive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Directive rule level (1 = root).
    pub level: u8,
    /// Ids of the events that matched at that level.
    pub event_ids: Vec<Uuid>,
}

/// An alarm: a backlog (or a single event) whose risk reached 1 or more.
///
/// An alarm is stored again each time its backlog advances; the newest revision of an `id` wins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// JSON shape version ([`crate::JSON_SCHEMA_VERSION`]).
    pub v: u16,
    /// Alarm id: the backlog id, stable across revisions.
    pub id: Uuid,
    /// Revision number, 1 for the first time the alarm was raised.
    pub revision: u32,
    /// Directive that raised it (0 for a single-event alarm).
    pub directive_id: u32,
    /// Human-readable name (directive name, or the event's sid name).
    pub name: String,
    /// Source address of the alarm.
    pub src_ip: IpAddr,
    /// Source port (0 = none).
    pub src_port: u16,
    /// Destination address of the alarm.
    pub dst_ip: IpAddr,
    /// Destination port (0 = none).
    pub dst_port: u16,
    /// IP protocol.
    pub protocol: Protocol,
    /// Priority 0-5.
    pub priority: u8,
    /// Reliability 0-10.
    pub reliability: u8,
    /// Risk 0-10: priority x reliability x asset / 25.
    pub risk: u8,
    /// Highest directive level reached.
    pub level: u8,
    /// Event time of the first event.
    pub first_seen: Timestamp,
    /// Event time of the newest event.
    pub last_seen: Timestamp,
    /// Open or closed.
    pub status: AlarmStatus,
    /// The events behind the alarm, per level.
    pub evidence: Vec<Evidence>,
    /// Alarms of one directive with the same `groupalarmby` fields within its
    /// `groupalarmtimeout` share a group id, so a console can show them as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Uuid>,
}

impl Alarm {
    /// Ids of every event behind the alarm, level by level.
    pub fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.evidence
            .iter()
            .flat_map(|e| e.event_ids.iter().copied())
    }
}
