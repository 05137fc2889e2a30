//! A backlog: one live instance of a directive, waiting at some level for its next event.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;
use vigil_event::{Evidence, Timestamp};

use crate::compile::{CompiledDirective, NodeId};
use crate::matcher::Facts;
use crate::pressure::{Progress, progress};
use vigil_event::{Event, MAX_NAMES};

pub use vigil_event::MAX_EVIDENCE_PER_LEVEL;

/// Adds `name` to `names` if new and there is room.
fn note_name(names: &mut Vec<String>, name: Option<&str>) {
    if let Some(name) = name.filter(|n| !n.is_empty())
        && names.len() < MAX_NAMES
        && !names.iter().any(|n| n == name)
    {
        names.push(name.to_string());
    }
}

/// Per-child progress at the backlog's current level.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ChildProgress {
    /// Events counted toward the child's occurrence.
    pub count: u32,
    /// Their ids (evidence for the level once it fires).
    pub events: Vec<Uuid>,
    /// Values already counted, for `sticky_different`.
    pub seen: Vec<String>,
    /// A matching event arrived: a `not` child can no longer fire.
    pub invalidated: bool,
    /// Highest source/destination asset value among the counted events.
    pub max_assets: (u8, u8),
}

/// The alarm a backlog has raised: what a revision without a new directive event (an absorbed
/// event, the end of the backlog) repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmState {
    /// Revisions emitted so far.
    pub revision: u32,
    /// Highest risk reached: an alarm's risk never goes down.
    pub risk: u8,
    /// Highest reliability reached.
    pub reliability: u8,
    /// Name, placeholders substituted, as of the latest directive event.
    #[serde(default)]
    pub name: String,
    /// Priority of the latest directive event (after policies).
    #[serde(default)]
    pub priority: u8,
    /// Alarm group.
    #[serde(default)]
    pub group: Option<Uuid>,
    /// The backlog's event count at the latest revision.
    #[serde(default)]
    pub counted_at: u64,
}

impl AlarmState {
    /// Whether an absorbing backlog's count has doubled past the latest revision's (the next
    /// power of two reached or jumped over, by an aggregate).
    pub fn due_at(&self, event_count: u64) -> bool {
        event_count.leading_zeros() < self.counted_at.leading_zeros()
    }
}

/// A live backlog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backlog {
    /// Backlog (and alarm) id, derived from the directive and the first event.
    pub id: Uuid,
    /// Creation order: ties and iteration follow it, so results are deterministic.
    pub seq: u64,
    /// Directive id.
    pub directive: u32,
    /// The node whose rule fired last.
    pub current: NodeId,
    /// Facts of the events that fired levels 1..=current level.
    pub bindings: Vec<Facts>,
    /// Event time at which the current level fired; child windows start here.
    pub time_last: Timestamp,
    /// Event time of the first event.
    pub first_seen: Timestamp,
    /// Event time of the newest event.
    pub last_seen: Timestamp,
    /// Progress of each child of the current node, in document order.
    pub children: Vec<ChildProgress>,
    /// Asset values of the level that fired last (for its directive event).
    pub max_assets: (u8, u8),
    /// Events behind the fired levels, as (level, event id) in order: one allocation, grouped
    /// per level only when an alarm is emitted.
    pub evidence: Vec<(u8, Uuid)>,
    /// The alarm, once raised.
    pub alarm: Option<AlarmState>,
    /// Directive events emitted (numbers their ids).
    pub emitted: u32,
    /// The progress it is ranked under for eviction ([`crate::pressure`]).
    #[serde(default)]
    pub rank: Progress,
    /// Events counted (fired levels and absorbed), aggregates by their `occurrences`.
    #[serde(default)]
    pub event_count: u64,
    /// Distinct events counted (an aggregate is one), for the ids evidence leaves out.
    #[serde(default)]
    pub events_noted: u64,
    /// User names of its events, first seen first (at most [`MAX_NAMES`]).
    #[serde(default)]
    pub usernames: Vec<String>,
    /// Sensors of its events, first seen first (at most [`MAX_NAMES`]).
    #[serde(default)]
    pub sensors: Vec<String>,
}

impl Backlog {
    /// How far it has come: fired levels, then events counted toward the next.
    pub fn progress(&self) -> Progress {
        let counted = self.children.iter().map(|c| u64::from(c.count)).sum();
        progress(self.bindings.len(), counted)
    }

    /// Counts an event that fired or was absorbed, with its user name and sensor.
    pub fn note(&mut self, event: &Event) {
        self.event_count += u64::from(event.occurrences.max(1));
        self.events_noted += 1;
        note_name(&mut self.usernames, event.username.as_deref());
        note_name(&mut self.sensors, Some(&event.provenance.sensor));
    }

    /// Counted events whose ids the evidence leaves out (the per-level cap).
    pub fn evidence_omitted(&self) -> u64 {
        let kept = self.evidence.len() + self.pending_evidence().len();
        self.events_noted.saturating_sub(kept as u64)
    }

    /// Ids of the events counted toward the next level so far (the child closest to firing).
    pub fn pending_evidence(&self) -> &[Uuid] {
        self.children
            .iter()
            .max_by_key(|c| c.count)
            .map_or(&[][..], |c| c.events.as_slice())
    }

    /// The source address of the event that started it (what one source may hold is bounded).
    pub fn source(&self) -> IpAddr {
        self.bindings
            .first()
            .map_or(IpAddr::from([0, 0, 0, 0]), |f| f.src_ip)
    }

    /// Moves to `node`, which fired on an event described by `facts` at `time`.
    pub fn advance(
        &mut self,
        directive: &CompiledDirective,
        node: NodeId,
        facts: Facts,
        time: Timestamp,
        evidence: Vec<Uuid>,
        max_assets: (u8, u8),
    ) {
        self.current = node;
        self.bindings.push(facts);
        self.time_last = time;
        self.last_seen = self.last_seen.max(time);
        self.max_assets = max_assets;
        let level = directive.nodes[node].level;
        // A level of occurrence 1,000,000 must not make an alarm too large to store: the first
        // MAX_EVIDENCE_PER_LEVEL events of a level are kept (the rest are in the store,
        // searchable by the alarm's addresses and time range).
        self.evidence.extend(
            evidence
                .into_iter()
                .take(MAX_EVIDENCE_PER_LEVEL)
                .map(|id| (level, id)),
        );
        self.children = vec![ChildProgress::default(); directive.nodes[node].children.len()];
    }

    /// The evidence grouped per level, as alarms carry it: the events that fired each level,
    /// then (under the next level) those counted toward it so far.
    pub fn evidence(&self, next_level: u8) -> Vec<Evidence> {
        let mut grouped: Vec<Evidence> = Vec::new();
        for &(level, id) in &self.evidence {
            match grouped.last_mut() {
                Some(last) if last.level == level => last.event_ids.push(id),
                _ => grouped.push(Evidence {
                    level,
                    event_ids: vec![id],
                }),
            }
        }
        let pending = self.pending_evidence();
        if !pending.is_empty() {
            grouped.push(Evidence {
                level: next_level,
                event_ids: pending.to_vec(),
            });
        }
        grouped
    }

    /// When something next happens to this backlog without any event: a `not` child's window
    /// ends, or the whole backlog expires. `None` = never (a child without `time_out`, as OSSIM).
    pub fn deadline(&self, directive: &CompiledDirective) -> Option<Timestamp> {
        let children = &directive.nodes[self.current].children;
        if children.is_empty() {
            return None;
        }
        let at = |secs: u32| {
            Timestamp::from_micros(
                self.time_last
                    .as_micros()
                    .saturating_add(i64::from(secs) * 1_000_000),
            )
        };
        let pending_not = children
            .iter()
            .zip(&self.children)
            .filter(|(c, p)| {
                directive.nodes[**c].not && !p.invalidated && directive.nodes[**c].time_out > 0
            })
            .map(|(c, _)| at(directive.nodes[*c].time_out))
            .min();
        let expiry = if children.iter().any(|&c| directive.nodes[c].time_out == 0) {
            None
        } else {
            children
                .iter()
                .map(|&c| directive.nodes[c].time_out)
                .max()
                .map(at)
        };
        match (pending_not, expiry) {
            (Some(n), Some(e)) => Some(n.min(e)),
            (n, e) => n.or(e),
        }
    }
}
