//! One aggregated bus alarm: the incidents of one kind and key within [`WINDOW`] of the first
//! are counted into the alarm the first raised, and its revisions say how many, over how long,
//! from which peers, the first distinct details and the latest (for event loss, the ranges and
//! events missing).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use uuid::Uuid;
use vigil_bus::Gap;
use vigil_event::{Alarm, Timestamp};

use super::report::BusIncident;

/// How long an aggregated alarm stays open to further incidents of its kind and key, from
/// its first.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Evidence events listed per aggregated alarm, at most; further incidents are only counted.
pub const EVIDENCE: usize = 100;
/// Distinct details, peers and missing ranges named in a revised alarm; the rest are counted.
const NAMED: usize = 5;

/// What event loss adds to its alarm: the ranges missing.
struct Missing {
    /// The first [`NAMED`] ranges.
    ranges: Vec<Gap>,
    events: u64,
}

/// The open alarm of one kind and key.
pub struct Open {
    incident: BusIncident,
    sensor: String,
    since: Instant,
    latest: Instant,
    alarm: Alarm,
    count: u64,
    /// The first [`NAMED`] distinct details.
    details: Vec<String>,
    last_detail: String,
    /// The first [`NAMED`] distinct peers.
    peers: Vec<IpAddr>,
    missing: Option<Missing>,
    /// Incidents counted since the last revision.
    pending: bool,
}

impl Open {
    /// The window opened by the incident that raised `alarm` (with its evidence event);
    /// `gap` is what an event-loss incident misses.
    pub fn new(
        incident: BusIncident,
        sensor: &str,
        alarm: Alarm,
        peer: Option<IpAddr>,
        detail: String,
        gap: Option<Gap>,
    ) -> Open {
        debug_assert_eq!(alarm.evidence.len(), 1);
        let now = Instant::now();
        Open {
            incident,
            sensor: sensor.to_string(),
            since: now,
            latest: now,
            alarm,
            count: 1,
            details: vec![detail.clone()],
            last_detail: detail,
            peers: peer.into_iter().collect(),
            missing: gap.map(|gap| Missing {
                ranges: vec![gap],
                events: gap.len(),
            }),
            pending: false,
        }
    }

    /// Whether further incidents are still counted into it.
    pub fn is_open(&self) -> bool {
        self.since.elapsed() < WINDOW
    }

    /// Whether the alarm lists fewer than [`EVIDENCE`] events.
    pub fn wants_evidence(&self) -> bool {
        self.alarm
            .evidence
            .first()
            .is_some_and(|e| e.event_ids.len() < EVIDENCE)
    }

    /// Counts one more incident into the alarm, listing its `evidence` event if given.
    pub fn count(
        &mut self,
        peer: Option<IpAddr>,
        detail: String,
        gap: Option<Gap>,
        evidence: Option<Uuid>,
    ) {
        debug_assert_eq!(gap.is_some(), self.missing.is_some());
        self.count += 1;
        self.latest = Instant::now();
        self.pending = true;
        if let (Some(listed), Some(id)) = (self.alarm.evidence.first_mut(), evidence) {
            listed.event_ids.push(id);
        }
        if let Some(peer) = peer.filter(|p| self.peers.len() < NAMED && !self.peers.contains(p)) {
            self.peers.push(peer);
        }
        if let (Some(missing), Some(gap)) = (self.missing.as_mut(), gap) {
            missing.events += gap.len();
            if missing.ranges.len() < NAMED {
                missing.ranges.push(gap);
            }
        }
        if self.details.len() < NAMED && !self.details.contains(&detail) {
            self.details.push(detail.clone());
        }
        self.last_detail = detail;
    }

    /// The alarm's next revision, with the counts so far, if incidents were counted since the
    /// last.
    pub fn revision(&mut self, now: Timestamp) -> Option<Alarm> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        self.alarm.revision += 1;
        self.alarm.event_count = self.count;
        self.alarm.last_seen = now;
        self.alarm.name = format!(
            "{}: {}: {}",
            self.incident.title(),
            self.sensor,
            self.summary()
        );
        Some(self.alarm.clone())
    }

    /// What the revised alarm says beyond its title and sensor.
    fn summary(&self) -> String {
        let seconds = self.latest.duration_since(self.since).as_secs_f64();
        let more = |named: usize| {
            (self.count > named as u64).then(|| format!("and {} more", self.count - named as u64))
        };
        match &self.missing {
            Some(missing) => {
                let ranges: Vec<String> = missing
                    .ranges
                    .iter()
                    .map(|g| format!("{}..={}", g.first, g.last))
                    .chain(more(missing.ranges.len()))
                    .collect();
                format!(
                    "{} gaps, {} events missing in {seconds:.1} s ({}); latest: {}",
                    self.count,
                    missing.events,
                    ranges.join(", "),
                    self.last_detail
                )
            }
            None => {
                let peers: Vec<String> = self.peers.iter().map(IpAddr::to_string).collect();
                let peers = match peers.is_empty() {
                    true => String::new(),
                    false => format!(" from {}", peers.join(", ")),
                };
                let distinct = match self.details.len() {
                    NAMED => format!("first {NAMED} distinct"),
                    _ => "distinct".into(),
                };
                format!(
                    "{} times in {seconds:.1} s{peers}; {distinct}: {}; latest: {}",
                    self.count,
                    self.details.join(" | "),
                    self.last_detail
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::Evidence;

    fn raised() -> Alarm {
        Alarm {
            evidence: vec![Evidence {
                level: 1,
                event_ids: vec![Uuid::now_v7()],
            }],
            ..Alarm::new(Uuid::now_v7(), "first".into(), Timestamp::from_secs(1))
        }
    }

    #[test]
    fn a_revision_counts_every_incident_and_names_the_first_distinct_details_and_peers() {
        let incident = BusIncident::Rejected(vigil_bus::RejectReason::Malformed);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let mut open = Open::new(incident, "s", raised(), Some(a), "d0".into(), None);
        assert!(
            open.revision(Timestamp::from_secs(2)).is_none(),
            "nothing new yet"
        );
        for i in 1..10 {
            let peer = if i % 2 == 0 { a } else { b };
            open.count(
                Some(peer),
                format!("d{}", i % 7),
                None,
                Some(Uuid::now_v7()),
            );
        }
        let revision = open.revision(Timestamp::from_secs(3)).unwrap();
        assert_eq!((revision.revision, revision.event_count), (2, 10));
        assert_eq!(revision.evidence[0].event_ids.len(), 10);
        assert!(
            revision.name.starts_with("Bus: malformed input: s: 10 times in ")
                && revision.name.ends_with(
                    " s from 192.0.2.1, 192.0.2.2; first 5 distinct: d0 | d1 | d2 | d3 | d4; latest: d2"
                ),
            "{}",
            revision.name
        );
        assert!(open.revision(Timestamp::from_secs(4)).is_none());
        assert!(open.is_open() && open.wants_evidence());
    }
}
