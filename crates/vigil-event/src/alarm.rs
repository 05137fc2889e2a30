//! Alarms raised by correlation, with the evidence behind them.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Protocol, Timestamp};

/// Where the correlation behind an alarm stands: the engine's view, kept apart from the
/// analyst's [`Triage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CorrelationState {
    /// Its backlog is live: later events may still revise it.
    #[default]
    Active,
    /// Its backlog reached a leaf (or the incident it reports is over): no further revision
    /// will come from correlation.
    Completed,
    /// Its backlog's window closed before it reached a leaf.
    Expired,
}

/// What an analyst has done with an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TriageStatus {
    /// Nobody has looked at it yet.
    #[default]
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Handled.
    Closed,
}

/// An analyst's triage of an alarm: status, who set it and when. Correlation never sets it:
/// every alarm the engine raises starts `open`, with no one and no time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Triage {
    /// The status.
    pub status: TriageStatus,
    /// Who set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// When it was set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// The analyst's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The events that advanced one level of a directive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Directive rule level (1 = root).
    pub level: u8,
    /// Ids of the events that matched at that level.
    pub event_ids: Vec<Uuid>,
}

/// Most event ids an alarm keeps as evidence for one level.
pub const MAX_EVIDENCE_PER_LEVEL: usize = 10_000;

/// Most user names (and sensors) an alarm lists.
pub const MAX_NAMES: usize = 32;

/// An alarm: a backlog (or a single event) whose risk reached 1 or more.
///
/// An alarm is stored again each time its backlog advances; the newest revision of an `id` wins.
/// Its JSON also carries `event_ids`: every id of `evidence`, flattened (computed, not stored).
#[derive(Debug, Clone, PartialEq, Deserialize)]
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
    /// Where its correlation stands.
    pub correlation: CorrelationState,
    /// When it completed or expired (event time); none while active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    /// What analysts have done with it.
    #[serde(default)]
    pub triage: Triage,
    /// Name of the directive rule that fired last (empty for a single-event alarm).
    #[serde(default)]
    pub rule: String,
    /// Events counted by its backlog so far (fired levels and events absorbed since).
    #[serde(default)]
    pub event_count: u64,
    /// The events behind the alarm, per level (at most [`MAX_EVIDENCE_PER_LEVEL`] per level).
    pub evidence: Vec<Evidence>,
    /// Ids of counted events left out of `evidence` by its cap (they stay searchable in the
    /// store by the alarm's addresses and time range).
    #[serde(default)]
    pub evidence_omitted: u64,
    /// User names of its events, in order of first appearance (at most [`MAX_NAMES`]).
    #[serde(default)]
    pub usernames: Vec<String>,
    /// Sensors of its events, in order of first appearance (at most [`MAX_NAMES`]).
    #[serde(default)]
    pub sensors: Vec<String>,
    /// Alarms of one directive with the same `groupalarmby` fields within its
    /// `groupalarmtimeout` share a group id, so a console can show them as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Uuid>,
}

impl Alarm {
    /// The first revision of an alarm raised at `time`: active, untriaged, with nothing else
    /// filled in yet (unspecified addresses, TCP, zero priority and risk, no evidence).
    pub fn new(id: Uuid, name: String, time: Timestamp) -> Alarm {
        Alarm {
            v: crate::JSON_SCHEMA_VERSION,
            id,
            revision: 1,
            directive_id: 0,
            name,
            src_ip: IpAddr::from([0, 0, 0, 0]),
            src_port: 0,
            dst_ip: IpAddr::from([0, 0, 0, 0]),
            dst_port: 0,
            protocol: Protocol::TCP,
            priority: 0,
            reliability: 0,
            risk: 0,
            level: 1,
            first_seen: time,
            last_seen: time,
            correlation: CorrelationState::Active,
            ended_at: None,
            triage: Triage::default(),
            rule: String::new(),
            event_count: 0,
            evidence: Vec::new(),
            evidence_omitted: 0,
            usernames: Vec::new(),
            sensors: Vec::new(),
            group: None,
        }
    }

    /// Ids of every event behind the alarm, level by level.
    pub fn event_ids(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.evidence
            .iter()
            .flat_map(|e| e.event_ids.iter().copied())
    }
}

impl Serialize for Alarm {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The JSON shape: every field, plus the flattened `event_ids`.
        #[derive(Serialize)]
        struct Json<'a> {
            v: u16,
            id: Uuid,
            revision: u32,
            directive_id: u32,
            name: &'a str,
            src_ip: IpAddr,
            src_port: u16,
            dst_ip: IpAddr,
            dst_port: u16,
            protocol: Protocol,
            priority: u8,
            reliability: u8,
            risk: u8,
            level: u8,
            first_seen: Timestamp,
            last_seen: Timestamp,
            correlation: CorrelationState,
            #[serde(skip_serializing_if = "Option::is_none")]
            ended_at: Option<Timestamp>,
            triage: &'a Triage,
            rule: &'a str,
            event_count: u64,
            evidence: &'a [Evidence],
            evidence_omitted: u64,
            event_ids: Vec<Uuid>,
            usernames: &'a [String],
            sensors: &'a [String],
            #[serde(skip_serializing_if = "Option::is_none")]
            group: Option<Uuid>,
        }
        Json {
            v: self.v,
            id: self.id,
            revision: self.revision,
            directive_id: self.directive_id,
            name: &self.name,
            src_ip: self.src_ip,
            src_port: self.src_port,
            dst_ip: self.dst_ip,
            dst_port: self.dst_port,
            protocol: self.protocol,
            priority: self.priority,
            reliability: self.reliability,
            risk: self.risk,
            level: self.level,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            correlation: self.correlation,
            ended_at: self.ended_at,
            triage: &self.triage,
            rule: &self.rule,
            event_count: self.event_count,
            evidence: &self.evidence,
            evidence_omitted: self.evidence_omitted,
            event_ids: self.event_ids().collect(),
            usernames: &self.usernames,
            sensors: &self.sensors,
            group: self.group,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_carries_the_flattened_event_ids() {
        let alarm = Alarm {
            v: 1,
            id: Uuid::nil(),
            revision: 1,
            directive_id: 50004,
            name: "brute force".into(),
            src_ip: IpAddr::from([203, 0, 113, 7]),
            src_port: 0,
            dst_ip: IpAddr::from([10, 0, 0, 5]),
            dst_port: 22,
            protocol: Protocol::TCP,
            priority: 4,
            reliability: 4,
            risk: 1,
            level: 2,
            first_seen: Timestamp::from_secs(1),
            last_seen: Timestamp::from_secs(2),
            correlation: CorrelationState::Active,
            ended_at: None,
            triage: Triage::default(),
            rule: "three failures".into(),
            event_count: 3,
            evidence_omitted: 0,
            usernames: vec!["root".into()],
            sensors: vec!["edge-1".into()],
            evidence: vec![
                Evidence {
                    level: 1,
                    event_ids: vec![Uuid::from_u128(1)],
                },
                Evidence {
                    level: 2,
                    event_ids: vec![Uuid::from_u128(2), Uuid::from_u128(3)],
                },
            ],
            group: None,
        };
        let json = serde_json::to_value(&alarm).unwrap();
        let ids: Vec<String> = (1..=3u128)
            .map(|n| Uuid::from_u128(n).to_string())
            .collect();
        assert_eq!(json["event_ids"], serde_json::json!(ids));
        assert_eq!(json["directive_id"], 50004);
        assert!(json.get("group").is_none());
        assert_eq!(json["correlation"], "active");
        assert_eq!(json["triage"], serde_json::json!({"status": "open"}));
        assert_eq!(
            serde_json::from_value::<Alarm>(json).unwrap(),
            alarm,
            "event_ids is derived, not read"
        );
    }
}
