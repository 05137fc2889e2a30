//! The normalised security event and where it came from.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Protocol, Timestamp};

/// OSSIM's "generic event" sid (`SIM_PLUGIN_SID_NONEXISTENT`), given to events whose sid is unknown.
pub const GENERIC_PLUGIN_SID: u32 = 2_000_000_000;

/// OSSIM event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A detector event: something a sensor saw.
    #[default]
    Detector,
    /// A monitor event: an answer to a monitor request.
    Monitor,
}

/// Which clock gave an event its [`Event::time`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The authenticated edge stamped the event on arrival (trusted).
    Edge,
    /// The device or agent said when it happened (`date`/`fdate`); not authenticated.
    Device,
    /// Neither gave a time; the core's receive time was used (untrusted for correlation windows).
    #[default]
    Received,
}

/// How the event reached the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// The legacy OSSIM agent text protocol (TCP 40001); unauthenticated.
    #[default]
    OssimAgent,
    /// Vigil's signed event bus.
    Bus,
    /// Offline replay of a file.
    Replay,
    /// Raised by the core itself (its reports about the bus: refused input, loss, silence).
    Core,
}

/// Where an event came from and which clocks stamped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Provenance {
    /// Identity of the sensor that sent the event (configured name, or its address when unnamed).
    pub sensor: String,
    /// The sensor's OSSIM UUID (`sensor_id`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<Uuid>,
    /// The sender's own per-sensor sequence number (signed edges number every event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<u64>,
    /// The time the device or agent reported, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_time: Option<Timestamp>,
    /// The time the edge stamped on arrival, if the event came through an edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_time: Option<Timestamp>,
    /// When the core received it.
    pub received_at: Timestamp,
    /// Which of the clocks above [`Event::time`] was taken from.
    pub time_source: TimeSource,
    /// How the event arrived.
    pub transport: Transport,
    /// Whether the sender was cryptographically authenticated.
    pub authenticated: bool,
    /// Network address of the peer that delivered it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer: Option<IpAddr>,
    /// Set when correlation found the event's time out of bounds: how many seconds it lay
    /// ahead of (positive) or behind (negative) what the core trusted. Such an event is stored
    /// and correlated, but moves no clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_out_of_bounds_secs: Option<i64>,
}

/// A normalised security event: every OSSIM event field (spec 2.5) plus provenance.
///
/// Free-text fields are UTF-8; bytes that were not valid UTF-8 are replaced with U+FFFD.
/// `password` never holds a plaintext secret: intake replaces it with a keyed fingerprint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// JSON shape version ([`crate::JSON_SCHEMA_VERSION`]).
    #[serde(default = "json_version")]
    pub v: u16,
    /// Event id: the agent's `event_id` when it sent one, otherwise assigned at intake (UUIDv7).
    pub id: Uuid,
    /// Detector or monitor.
    pub kind: EventKind,
    /// Event time: what correlation windows and searches use. See [`Provenance::time_source`].
    pub time: Timestamp,
    /// OSSIM data source id.
    pub plugin_id: u32,
    /// OSSIM event type id within the plugin ([`GENERIC_PLUGIN_SID`] when unknown).
    pub plugin_sid: u32,
    /// The sid the sender gave when it was unknown and replaced by [`GENERIC_PLUGIN_SID`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_sid: Option<u32>,
    /// IP protocol (TCP when the sender gave none).
    pub protocol: Protocol,
    /// Source address (`0.0.0.0` when the sender gave none).
    pub src_ip: IpAddr,
    /// Source port (0 = none).
    pub src_port: u16,
    /// Destination address (`0.0.0.0` when the sender gave none).
    pub dst_ip: IpAddr,
    /// Destination port (0 = none).
    pub dst_port: u16,
    /// Address of the sensor that collected the event.
    pub sensor_ip: IpAddr,
    /// Address of the device that logged it (defaults to the sensor).
    pub device_ip: IpAddr,
    /// Capture interface (`none` by default).
    pub interface: String,
    /// Priority 0-5, when the sender or the plugin's sid table set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u8>,
    /// Reliability 0-10, when the sender or the plugin's sid table set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reliability: Option<u8>,
    /// Asset value of the source 0-5, when the sender fixed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_src: Option<u8>,
    /// Asset value of the destination 0-5, when the sender fixed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_dst: Option<u8>,
    /// Risk to the source (compromise), 0-10, once qualified by the core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_c: Option<u8>,
    /// Risk to the destination (attack), 0-10, once qualified by the core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_a: Option<u8>,
    /// The sender's time-zone offset in hours (informational; times are UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tzone: Option<f32>,
    /// How many identical occurrences this event stands for (aggregation); at least 1.
    pub occurrences: u32,
    /// Tenant context (OSSIM `ctx`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctx: Option<Uuid>,
    /// User name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Keyed fingerprint of a password seen in the log (`fp:` + hex), never the password itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// File name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Plugin-defined fields `userdata1`..`userdata9`.
    #[serde(flatten)]
    pub userdata: Userdata,
    /// The raw log line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// Payload text (OSSIM `data`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Other OSSIM fields, kept verbatim by their protocol name (hostnames, MACs, reputation, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// Where the event came from.
    pub provenance: Provenance,
}

fn json_version() -> u16 {
    crate::JSON_SCHEMA_VERSION
}

/// The nine OSSIM `userdataN` fields; JSON keys `userdata1`..`userdata9`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct Userdata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata4: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata7: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata8: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userdata9: Option<String>,
}

impl Userdata {
    /// The field `userdata{n}` for n in 1..=9.
    pub fn get(&self, n: usize) -> Option<&Option<String>> {
        self.slots().get(n.wrapping_sub(1)).copied()
    }

    /// Mutable access to `userdata{n}` for n in 1..=9.
    pub fn get_mut(&mut self, n: usize) -> Option<&mut Option<String>> {
        self.slots_mut().into_iter().nth(n.wrapping_sub(1))
    }

    /// All nine slots in order.
    pub fn slots(&self) -> [&Option<String>; 9] {
        [
            &self.userdata1,
            &self.userdata2,
            &self.userdata3,
            &self.userdata4,
            &self.userdata5,
            &self.userdata6,
            &self.userdata7,
            &self.userdata8,
            &self.userdata9,
        ]
    }

    /// All nine slots in order, mutably.
    pub fn slots_mut(&mut self) -> [&mut Option<String>; 9] {
        [
            &mut self.userdata1,
            &mut self.userdata2,
            &mut self.userdata3,
            &mut self.userdata4,
            &mut self.userdata5,
            &mut self.userdata6,
            &mut self.userdata7,
            &mut self.userdata8,
            &mut self.userdata9,
        ]
    }
}

impl Event {
    /// A detector event with OSSIM's defaults: addresses `0.0.0.0`, protocol TCP, interface `none`,
    /// one occurrence, and the given id, time and plugin.
    pub fn new(id: Uuid, time: Timestamp, plugin_id: u32, plugin_sid: u32) -> Self {
        let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        Event {
            v: crate::JSON_SCHEMA_VERSION,
            id,
            kind: EventKind::Detector,
            time,
            plugin_id,
            plugin_sid,
            unknown_sid: None,
            protocol: Protocol::TCP,
            src_ip: unspecified,
            src_port: 0,
            dst_ip: unspecified,
            dst_port: 0,
            sensor_ip: unspecified,
            device_ip: unspecified,
            interface: "none".to_string(),
            priority: None,
            reliability: None,
            asset_src: None,
            asset_dst: None,
            risk_c: None,
            risk_a: None,
            tzone: None,
            occurrences: 1,
            ctx: None,
            username: None,
            password: None,
            filename: None,
            userdata: Userdata::default(),
            log: None,
            data: None,
            extra: BTreeMap::new(),
            provenance: Provenance {
                received_at: time,
                ..Provenance::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_omits_absent_fields_and_round_trips() {
        let mut event = Event::new(Uuid::nil(), Timestamp::from_secs(1_375_799_426), 4003, 1);
        event.userdata.userdata2 = Some("srv01".into());
        event.provenance.sensor = "edge-1".into();
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["v"], 2);
        assert_eq!(json["time"], "2013-08-06T14:30:26Z");
        assert_eq!(json["protocol"], "TCP");
        assert_eq!(json["userdata2"], "srv01");
        assert_eq!(json["src_ip"], "0.0.0.0");
        assert!(json.get("userdata1").is_none());
        assert!(json.get("priority").is_none());
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn userdata_slots_are_numbered_from_one() {
        let mut userdata = Userdata::default();
        *userdata.get_mut(9).unwrap() = Some("nine".into());
        assert_eq!(userdata.userdata9.as_deref(), Some("nine"));
        assert!(userdata.get(0).is_none());
        assert!(userdata.get(10).is_none());
    }
}
