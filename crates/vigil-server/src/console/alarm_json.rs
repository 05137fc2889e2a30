//! The alarm JSON of the console API: [`AlarmSummary`] (an alarm's latest revision without its
//! evidence, with the analysts' triage and assignee overlaid) and its OpenAPI schema.

use std::net::IpAddr;

use serde::Serialize;
use utoipa::ToSchema;
use vigil_event::{Alarm, CorrelationState, Protocol, Timestamp, Triage, Uuid};

/// An alarm's latest revision as the console lists it: the alarm JSON of `docs/formats.md`
/// without `evidence` and `event_ids`, `triage` from analysts' actions, and `assignee`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlarmSummary {
    /// JSON shape version.
    pub v: u16,
    /// Alarm id, stable across revisions.
    pub id: Uuid,
    /// Revision number (1 = first raised).
    pub revision: u32,
    /// Directive that raised it (0 for a single-event alarm).
    pub directive_id: u32,
    /// Directive name, or the event's sid name.
    pub name: String,
    /// Source address.
    #[schema(value_type = String, example = "203.0.113.7")]
    pub src_ip: IpAddr,
    /// Source port (0 = none).
    pub src_port: u16,
    /// Destination address.
    #[schema(value_type = String, example = "10.0.0.5")]
    pub dst_ip: IpAddr,
    /// Destination port (0 = none).
    pub dst_port: u16,
    /// IP protocol name.
    #[schema(value_type = String, example = "TCP")]
    pub protocol: Protocol,
    /// Priority 0-5.
    pub priority: u8,
    /// Reliability 0-10.
    pub reliability: u8,
    /// Risk 0-10.
    pub risk: u8,
    /// Highest directive level reached.
    pub level: u8,
    /// Event time of the first event (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub first_seen: Timestamp,
    /// Event time of the newest event (RFC 3339).
    #[schema(value_type = String, format = DateTime)]
    pub last_seen: Timestamp,
    /// `active`, `completed` or `expired`.
    #[schema(value_type = String, example = "active")]
    pub correlation: CorrelationState,
    /// When correlation completed or expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended_at: Option<Timestamp>,
    /// The analysts' triage.
    #[schema(value_type = TriageJson)]
    pub triage: Triage,
    /// Name of the directive rule that fired last.
    pub rule: String,
    /// Events counted by its backlog.
    pub event_count: u64,
    /// Evidence event ids left out by the evidence cap.
    pub evidence_omitted: u64,
    /// User names of its events (at most 32).
    pub usernames: Vec<String>,
    /// Sensors of its events (at most 32).
    pub sensors: Vec<String>,
    /// Group of related alarms of one directive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Uuid>,
    /// Who the alarm is assigned to.
    pub assignee: Option<String>,
}

/// An analyst's triage of an alarm (schema of [`Triage`]).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TriageJson {
    /// `open`, `acknowledged` or `closed`.
    status: String,
    /// Who set it.
    by: Option<String>,
    /// When it was set (RFC 3339).
    #[schema(format = DateTime)]
    at: Option<String>,
    /// The analyst's comment.
    comment: Option<String>,
}

impl AlarmSummary {
    /// The summary of `alarm` (its evidence left out) with `triage` and `assignee`.
    pub fn new(alarm: &Alarm, triage: Triage, assignee: Option<String>) -> AlarmSummary {
        AlarmSummary {
            v: alarm.v,
            id: alarm.id,
            revision: alarm.revision,
            directive_id: alarm.directive_id,
            name: alarm.name.clone(),
            src_ip: alarm.src_ip,
            src_port: alarm.src_port,
            dst_ip: alarm.dst_ip,
            dst_port: alarm.dst_port,
            protocol: alarm.protocol,
            priority: alarm.priority,
            reliability: alarm.reliability,
            risk: alarm.risk,
            level: alarm.level,
            first_seen: alarm.first_seen,
            last_seen: alarm.last_seen,
            correlation: alarm.correlation,
            ended_at: alarm.ended_at,
            triage,
            rule: alarm.rule.clone(),
            event_count: alarm.event_count,
            evidence_omitted: alarm.evidence_omitted,
            usernames: alarm.usernames.clone(),
            sensors: alarm.sensors.clone(),
            group: alarm.group,
            assignee,
        }
    }
}
