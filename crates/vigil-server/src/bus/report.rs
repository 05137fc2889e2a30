//! Reports about the bus itself: each refused input, connection too slow or over the limit,
//! event loss, silent sensor and clock skew becomes an event of the reserved plugin
//! [`BUS_PLUGIN_ID`] and an alarm, stored together; a
//! silent sensor heard again completes its alarm (a new revision), and a sensor that stopped
//! cleanly is a low-priority event without an alarm. A sensor whose history restarted under a
//! new spool epoch ([`BusIncident::HistoryRestarted`]) is an alarm like event loss.
//! Damage found in the core's own store at start is reported the same way
//! ([`BusIncident::StoreCorruption`]), and so is a core clock that disagrees with the store's
//! history or jumps while running ([`BusIncident::StoreClock`]) or with most of its edges
//! ([`BusIncident::CoreClockDisagreesWithEdges`]). Reports are dated by the core's proven time
//! ([`crate::clock`]), never by a wall clock found wrong.
//! These are attacks on the SIEM (or its failures): the alarm is raised whatever the
//! directives say. Repeats are aggregated, not raised one by one: the incidents of one kind and
//! key (a sensor, a peer) within a minute of the first are one alarm, raised at the first and
//! revised with the counts at most once a second ([`Reporter::count`], [`Reporter::revise`]):
//! how many, over how long, the peers and the first distinct details (for event loss, the
//! ranges and events missing); each incident is stored as its own event up to
//! [`super::aggregate::EVIDENCE`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use tracing::{info, warn};
use uuid::Uuid;
use vigil_bus::Gap;
use vigil_event::{Alarm, CorrelationState, Event, Evidence, Timestamp, Transport};

use super::aggregate::Open;
use crate::clock::CoreClock;
use crate::metrics::Metrics;
use crate::writer::IntakeQueue;

/// Plugin id of the core's reports about the bus.
pub const BUS_PLUGIN_ID: u32 = vigil_bus::REPORT_PLUGIN_ID;

/// What a report is about; its plugin sid, alarm name and risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BusIncident {
    /// Input refused for this reason.
    Rejected(vigil_bus::RejectReason),
    /// A TLS handshake failed: no certificate, one of another CA, revoked, expired.
    HandshakeRefused,
    /// An open session ended because the CRL now revokes its certificate.
    SessionRevoked,
    /// A connection did not finish its TLS handshake, its `Hello` or a started frame in time
    /// (a slowloris).
    SessionTimedOut,
    /// A connection closed at once: `bus.max_connections` sessions were open.
    ConnectionLimit,
    /// Sequence numbers missing past the gap timeout.
    EventLoss,
    /// No heartbeat past the silence timeout.
    SensorSilent,
    /// The edge's clock differs from the core's past the limit.
    ClockSkew,
    /// The edge said goodbye: stopped cleanly (an event, never an alarm).
    SensorStopped,
    /// The edge announced a new spool epoch: its spool was lost or it was reinstalled, and its
    /// numbers start again.
    HistoryRestarted,
    /// A damaged range in a store segment, quarantined and skipped when the store was opened.
    StoreCorruption,
    /// At start, the core's clock was behind the newest receive time stored, or so far ahead
    /// of it that age retention would have deleted more than `store.retention_max_share`; or
    /// it jumped while the core ran.
    StoreClock,
    /// Most of the edges heard from (at least two) disagree with the core's clock in the same
    /// direction: the core's clock is the wrong one.
    CoreClockDisagreesWithEdges,
    /// An edge reported a damaged range of its spool, quarantined and skipped at its start.
    SpoolCorruption,
}

impl BusIncident {
    /// Its plugin sid.
    pub fn sid(self) -> u32 {
        use vigil_bus::RejectReason as R;
        match self {
            BusIncident::Rejected(R::Malformed) => 1,
            BusIncident::Rejected(R::BadSignature) => 2,
            BusIncident::Rejected(R::IdentityMismatch) => 3,
            BusIncident::Rejected(R::Replayed) => 4,
            BusIncident::Rejected(R::OutOfWindow) => 5,
            BusIncident::Rejected(R::Protocol) => 6,
            BusIncident::HandshakeRefused => 10,
            BusIncident::SessionRevoked => 11,
            BusIncident::SessionTimedOut => 12,
            BusIncident::ConnectionLimit => 13,
            BusIncident::EventLoss => 20,
            BusIncident::SensorSilent => 21,
            BusIncident::ClockSkew => 22,
            BusIncident::SensorStopped => 23,
            BusIncident::HistoryRestarted => 24,
            BusIncident::StoreCorruption => 30,
            BusIncident::StoreClock => 31,
            BusIncident::CoreClockDisagreesWithEdges => 33,
            BusIncident::SpoolCorruption => vigil_bus::SPOOL_CORRUPTION_SID,
        }
    }

    /// The alarm's title.
    pub fn title(self) -> &'static str {
        use vigil_bus::RejectReason as R;
        match self {
            BusIncident::Rejected(R::Malformed) => "Bus: malformed input",
            BusIncident::Rejected(R::BadSignature) => "Bus: forged or tampered batch",
            BusIncident::Rejected(R::IdentityMismatch) => "Bus: sensor claiming another identity",
            BusIncident::Rejected(R::Replayed) => "Bus: replayed batch",
            BusIncident::Rejected(R::OutOfWindow) => "Bus: sequence outside the window",
            BusIncident::Rejected(R::Protocol) => "Bus: protocol violation",
            BusIncident::HandshakeRefused => "Bus: connection without a valid certificate",
            BusIncident::SessionRevoked => "Bus: certificate revoked, session ended",
            BusIncident::SessionTimedOut => "Bus: connection too slow, closed",
            BusIncident::ConnectionLimit => "Bus: connection limit reached",
            BusIncident::EventLoss => "Bus: event loss",
            BusIncident::SensorSilent => "Bus: sensor silent",
            BusIncident::ClockSkew => "Bus: sensor clock skew",
            BusIncident::SensorStopped => "Bus: sensor stopped",
            BusIncident::HistoryRestarted => "Bus: sensor history restarted",
            BusIncident::StoreCorruption => "Store: damaged records quarantined",
            BusIncident::StoreClock => "Store: core clock disagrees with stored history",
            BusIncident::CoreClockDisagreesWithEdges => "Core: clock disagrees with most edges",
            BusIncident::SpoolCorruption => "Edge: damaged spool records quarantined",
        }
    }

    /// Attacks on the bus are priority 5; failures (loss, silence, skew, a restarted history,
    /// store damage or clock) and
    /// sessions ended by a revocation priority 4; a clean stop priority 1.
    fn priority(self) -> u8 {
        match self {
            BusIncident::Rejected(_)
            | BusIncident::HandshakeRefused
            | BusIncident::SessionTimedOut
            | BusIncident::ConnectionLimit => 5,
            BusIncident::SensorStopped => 1,
            _ => 4,
        }
    }

    /// The metric label of the failures counted in `vigil_bus_alerts_total` when raised (a
    /// restarted history is counted by the store writer, once it puts it in force).
    fn alert_kind(self) -> Option<&'static str> {
        match self {
            BusIncident::EventLoss => Some("event_loss"),
            BusIncident::SensorSilent => Some("sensor_silent"),
            BusIncident::ClockSkew => Some("clock_skew"),
            _ => None,
        }
    }
}

/// Asset value of the SIEM itself in the risk formula (the highest).
const SIEM_ASSET: u8 = 5;
/// Builds, aggregates and queues bus reports.
pub struct Reporter {
    core: String,
    queue: IntakeQueue,
    metrics: Metrics,
    clock: Arc<CoreClock>,
    open: Mutex<HashMap<(BusIncident, String), Open>>,
}

impl Reporter {
    /// A reporter storing through `queue`, dating by `clock`; `core` is the core's name.
    pub fn new(core: String, queue: IntakeQueue, metrics: Metrics, clock: Arc<CoreClock>) -> Self {
        Reporter {
            core,
            queue,
            metrics,
            clock,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Reports `gap` missing from `sensor` (`detail` says so): counted into the sensor's
    /// event-loss alarm like any aggregated incident ([`Reporter::count`]), its revisions
    /// naming the ranges and events missing.
    pub async fn event_loss(&self, sensor: &str, gap: Gap, detail: String) {
        let (events, alarms) = self.count(
            BusIncident::EventLoss,
            sensor,
            None,
            detail,
            sensor.to_string(),
            Some(gap),
        );
        self.store_any(events, alarms).await;
    }

    /// Reports an incident about `sensor` (or the peer address when it has no identity),
    /// from `peer`, with a human `detail`. Incidents of the same kind and `window` key are
    /// aggregated ([`Reporter::count`]); without a key (incidents raised once by
    /// construction) each is its own alarm.
    pub async fn report(
        &self,
        incident: BusIncident,
        sensor: &str,
        peer: Option<IpAddr>,
        detail: String,
        window: Option<String>,
    ) {
        let (events, alarms) = match window {
            Some(key) => self.count(incident, sensor, peer, detail, key, None),
            None => {
                let (event, alarm) = self.raise(incident, sensor, peer, detail);
                (vec![event], vec![alarm])
            }
        };
        self.store_any(events, alarms).await;
    }

    /// Counts an incident into the open alarm of its kind and `key`, or raises that alarm
    /// when none is open (its first incident, or the first after [`super::aggregate::WINDOW`]);
    /// returns what to store: its evidence event while the alarm has room for it, the new alarm
    /// (and the revision still owed by the window it replaces). Revisions with the counts are
    /// stored by [`Reporter::revise`]. A `gap` is what an event-loss incident misses.
    pub fn count(
        &self,
        incident: BusIncident,
        sensor: &str,
        peer: Option<IpAddr>,
        detail: String,
        key: String,
        gap: Option<Gap>,
    ) -> (Vec<Event>, Vec<Alarm>) {
        debug_assert_eq!(gap.is_some(), incident == BusIncident::EventLoss);
        if let Some(kind) = incident.alert_kind() {
            self.metrics.bus_alert(kind);
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.get_mut(&(incident, key.clone())) {
            Some(current) if current.is_open() => {
                self.metrics.bus_alarms_suppressed.increment(1);
                let event = current
                    .wants_evidence()
                    .then(|| self.event(incident, sensor, peer, &detail));
                current.count(peer, detail, gap, event.as_ref().map(|e| e.id));
                (event.into_iter().collect(), Vec::new())
            }
            _ => {
                warn!(sensor, ?peer, incident = incident.title(), %detail, "bus alarm");
                let event = self.event(incident, sensor, peer, &detail);
                let raised = alarm(incident, sensor, &detail, &event);
                let first = Open::new(incident, sensor, raised.clone(), peer, detail, gap);
                let owed = open
                    .insert((incident, key), first)
                    .and_then(|mut old| old.revision(self.clock.now()));
                (vec![event], owed.into_iter().chain([raised]).collect())
            }
        }
    }

    /// Stores the next revision of every open alarm that counted incidents since its last one
    /// (called once a second), and forgets the windows that are over.
    pub async fn revise(&self) {
        let revisions: Vec<Alarm> = {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            let revisions = open
                .values_mut()
                .filter_map(|alarm| alarm.revision(self.clock.now()))
                .collect();
            open.retain(|_, alarm| alarm.is_open());
            revisions
        };
        for alarm in &revisions {
            warn!(alarm = %alarm.name, revision = alarm.revision, "bus alarm revised");
        }
        self.store_any(Vec::new(), revisions).await;
    }

    /// Builds the event and alarm of an incident that is never aggregated, and counts and
    /// logs it; [`Reporter::store`] stores them.
    pub fn raise(
        &self,
        incident: BusIncident,
        sensor: &str,
        peer: Option<IpAddr>,
        detail: String,
    ) -> (Event, Alarm) {
        if let Some(kind) = incident.alert_kind() {
            self.metrics.bus_alert(kind);
        }
        warn!(sensor, ?peer, incident = incident.title(), %detail, "bus alarm");
        let event = self.event(incident, sensor, peer, &detail);
        let alarm = alarm(incident, sensor, &detail, &event);
        (event, alarm)
    }

    /// Stores events and alarms unless there are none.
    async fn store_any(&self, events: Vec<Event>, alarms: Vec<Alarm>) {
        if !events.is_empty() || !alarms.is_empty() {
            self.store(events, alarms).await;
        }
    }

    /// Stores a sensor's clean stop: a low-priority event, no alarm.
    pub async fn stopped(&self, sensor: &str, peer: IpAddr, detail: String) {
        info!(sensor, %peer, %detail, "sensor stopped cleanly");
        let event = self.event(BusIncident::SensorStopped, sensor, Some(peer), &detail);
        self.store(vec![event], Vec::new()).await;
    }

    /// Stores report events and alarm revisions as they are.
    pub async fn store(&self, events: Vec<Event>, alarms: Vec<Alarm>) {
        if self.queue.push_report(events, alarms).await.is_err() {
            warn!("the store writer has stopped; a bus report was not stored");
        }
    }

    fn event(
        &self,
        incident: BusIncident,
        sensor: &str,
        peer: Option<IpAddr>,
        detail: &str,
    ) -> Event {
        let now = self.clock.now();
        let mut event = Event::new(Uuid::now_v7(), now, BUS_PLUGIN_ID, incident.sid());
        event.src_ip = peer.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        event.priority = Some(incident.priority());
        event.reliability = Some(10);
        event.asset_dst = Some(SIEM_ASSET);
        event.userdata.userdata1 = Some(sensor.to_string());
        event.userdata.userdata2 = Some(incident.title().to_string());
        event.log = Some(format!("{}: {sensor}: {detail}", incident.title()));
        event.provenance.sensor = self.core.clone();
        event.provenance.received_at = now;
        event.provenance.transport = Transport::Core;
        event.provenance.authenticated = true;
        event.provenance.peer = peer;
        event
    }
}

/// The alarm of an incident, with its event as evidence.
fn alarm(incident: BusIncident, sensor: &str, detail: &str, event: &Event) -> Alarm {
    let priority = incident.priority();
    let risk = vigil_correlate::risk(priority, 10, 0, SIEM_ASSET).attack;
    Alarm {
        src_ip: event.src_ip,
        priority,
        reliability: 10,
        risk,
        event_count: 1,
        sensors: vec![sensor.to_string()],
        evidence: vec![Evidence {
            level: 1,
            event_ids: vec![event.id],
        }],
        ..Alarm::new(
            Uuid::now_v7(),
            format!("{}: {sensor}: {detail}", incident.title()),
            event.time,
        )
    }
}

/// The revision of a silent-sensor alarm that ends it: the sensor was heard again `at`.
pub fn heard_again(silent: &Alarm, at: Timestamp) -> Alarm {
    Alarm {
        revision: silent.revision + 1,
        last_seen: at,
        correlation: CorrelationState::Completed,
        ended_at: Some(at),
        ..silent.clone()
    }
}
