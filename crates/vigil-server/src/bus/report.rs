//! Reports about the bus itself: each refused input, connection too slow, event loss, silent
//! sensor and clock skew becomes an event of the reserved plugin [`BUS_PLUGIN_ID`] and an alarm, stored together; a
//! silent sensor heard again completes its alarm (a new revision), and a sensor that stopped
//! cleanly is a low-priority event without an alarm. A sensor whose history restarted under a
//! new spool epoch ([`BusIncident::HistoryRestarted`]) is an alarm like event loss.
//! Damage found in the core's own store at start is reported the same way
//! ([`BusIncident::StoreCorruption`]), and so is a core clock that disagrees with the store's
//! history or jumps while running ([`BusIncident::StoreClock`]) or with most of its edges
//! ([`BusIncident::CoreClockDisagreesWithEdges`]). Reports are dated by the core's proven time
//! ([`crate::clock`]), never by a wall clock found wrong.
//! These are attacks on the SIEM (or its failures): the alarm is raised whatever the
//! directives say. A peer repeating the same offence raises one alarm a minute, not one per
//! attempt; the rest are counted (`vigil_bus_alarms_suppressed_total`). Event loss is
//! aggregated instead: the gaps of one sensor within a minute of its first are one alarm, raised
//! at the first and revised with the counts at most once a second ([`Reporter::event_loss`],
//! [`Reporter::revise_losses`]), each gap stored as its own event up to [`LOSS_EVIDENCE`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};
use uuid::Uuid;
use vigil_bus::Gap;
use vigil_event::{Alarm, CorrelationState, Event, Evidence, Timestamp, Transport};

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
            | BusIncident::SessionTimedOut => 5,
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
/// The same incident from the same peer raises at most one alarm this often; the window of an
/// aggregated event-loss alarm.
const ALARM_EVERY: Duration = Duration::from_secs(60);

/// Evidence events stored per event-loss alarm, at most; further gaps are only counted.
pub const LOSS_EVIDENCE: usize = 100;
/// Missing ranges named in a revised event-loss alarm; the rest are counted.
const LOSS_RANGES_NAMED: usize = 5;

/// The event-loss alarm of one sensor's current window (from its first gap, [`ALARM_EVERY`]).
struct Loss {
    since: Instant,
    latest: Instant,
    alarm: Alarm,
    ranges: Vec<Gap>,
    gaps: u64,
    missing: u64,
    detail: String,
    /// Gaps counted since the last stored revision.
    pending: bool,
}

impl Loss {
    /// The alarm's next revision, with the counts so far, if gaps were counted since the last.
    fn revision(&mut self, sensor: &str, now: Timestamp) -> Option<Alarm> {
        if !std::mem::take(&mut self.pending) {
            return None;
        }
        let mut named: Vec<String> = self
            .ranges
            .iter()
            .map(|g| format!("{}..={}", g.first, g.last))
            .collect();
        if self.gaps > self.ranges.len() as u64 {
            named.push(format!("and {} more", self.gaps - self.ranges.len() as u64));
        }
        self.alarm.revision += 1;
        self.alarm.event_count = self.gaps;
        self.alarm.last_seen = now;
        self.alarm.name = format!(
            "{}: {sensor}: {} gaps, {} events missing in {:.1} s ({}); latest: {}",
            BusIncident::EventLoss.title(),
            self.gaps,
            self.missing,
            self.latest.duration_since(self.since).as_secs_f64(),
            named.join(", "),
            self.detail
        );
        Some(self.alarm.clone())
    }
}

/// Builds, rate-limits and queues bus reports.
pub struct Reporter {
    core: String,
    queue: IntakeQueue,
    metrics: Metrics,
    clock: Arc<CoreClock>,
    last: Mutex<HashMap<(BusIncident, String), Instant>>,
    losses: Mutex<HashMap<String, Loss>>,
}

impl Reporter {
    /// A reporter storing through `queue`, dating by `clock`; `core` is the core's name.
    pub fn new(core: String, queue: IntakeQueue, metrics: Metrics, clock: Arc<CoreClock>) -> Self {
        Reporter {
            core,
            queue,
            metrics,
            clock,
            last: Mutex::new(HashMap::new()),
            losses: Mutex::new(HashMap::new()),
        }
    }

    /// Reports `gap` missing from `sensor` (`detail` says so): the first gap of a window raises
    /// the sensor's event-loss alarm, later ones are counted into it (stored by
    /// [`Reporter::revise_losses`]); each is stored as an event while the alarm has fewer than
    /// [`LOSS_EVIDENCE`], and counted in `vigil_bus_alerts_total`.
    pub async fn event_loss(&self, sensor: &str, gap: Gap, detail: String) {
        let incident = BusIncident::EventLoss;
        if let Some(kind) = incident.alert_kind() {
            self.metrics.bus_alert(kind);
        }
        let now = Instant::now();
        let (events, alarms) = {
            let mut losses = self.losses.lock().unwrap_or_else(|p| p.into_inner());
            match losses.get_mut(sensor) {
                Some(loss) if now.duration_since(loss.since) < ALARM_EVERY => {
                    loss.gaps += 1;
                    loss.missing += gap.len();
                    loss.latest = now;
                    loss.pending = true;
                    if loss.ranges.len() < LOSS_RANGES_NAMED {
                        loss.ranges.push(gap);
                    }
                    loss.detail = detail;
                    let evidence = loss
                        .alarm
                        .evidence
                        .first_mut()
                        .filter(|e| e.event_ids.len() < LOSS_EVIDENCE);
                    match evidence {
                        Some(evidence) => {
                            let event = self.event(incident, sensor, None, &loss.detail);
                            evidence.event_ids.push(event.id);
                            (vec![event], Vec::new())
                        }
                        None => (Vec::new(), Vec::new()),
                    }
                }
                _ => {
                    warn!(sensor, incident = incident.title(), %detail, "bus alarm");
                    let event = self.event(incident, sensor, None, &detail);
                    let alarm = alarm(incident, sensor, &detail, &event);
                    let loss = Loss {
                        since: now,
                        latest: now,
                        alarm: alarm.clone(),
                        ranges: vec![gap],
                        gaps: 1,
                        missing: gap.len(),
                        detail,
                        pending: false,
                    };
                    // The revision still owed by the window this one replaces.
                    let owed = losses
                        .insert(sensor.to_string(), loss)
                        .and_then(|mut old| old.revision(sensor, self.clock.now()));
                    (vec![event], owed.into_iter().chain([alarm]).collect())
                }
            }
        };
        if !events.is_empty() || !alarms.is_empty() {
            self.store(events, alarms).await;
        }
    }

    /// Stores the next revision of every event-loss alarm that counted gaps since its last one
    /// (called once a second), and forgets the windows that are over.
    pub async fn revise_losses(&self) {
        let revisions: Vec<Alarm> = {
            let mut losses = self.losses.lock().unwrap_or_else(|p| p.into_inner());
            let revisions = losses
                .iter_mut()
                .filter_map(|(sensor, loss)| loss.revision(sensor, self.clock.now()))
                .collect();
            losses.retain(|_, loss| loss.since.elapsed() < ALARM_EVERY);
            revisions
        };
        for alarm in &revisions {
            warn!(alarm = %alarm.name, revision = alarm.revision, "bus alarm revised");
        }
        if !revisions.is_empty() {
            self.store(Vec::new(), revisions).await;
        }
    }

    /// Reports an incident about `sensor` (or the peer address when it has no identity),
    /// from `peer`, with a human `detail`. `limit_key` groups repeats for rate limiting
    /// (None: never limited, for incidents that are raised once by construction).
    pub async fn report(
        &self,
        incident: BusIncident,
        sensor: &str,
        peer: Option<IpAddr>,
        detail: String,
        limit_key: Option<String>,
    ) {
        if let Some((event, alarm)) = self.raise(incident, sensor, peer, detail, limit_key) {
            self.store(vec![event], vec![alarm]).await;
        }
    }

    /// Builds the event and alarm of an incident, unless rate limiting suppresses it (counted),
    /// and counts and logs it; [`Reporter::store`] stores them.
    pub fn raise(
        &self,
        incident: BusIncident,
        sensor: &str,
        peer: Option<IpAddr>,
        detail: String,
        limit_key: Option<String>,
    ) -> Option<(Event, Alarm)> {
        if let Some(key) = limit_key {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            last.retain(|_, at| now.duration_since(*at) < ALARM_EVERY);
            if last.contains_key(&(incident, key.clone())) {
                self.metrics.bus_alarms_suppressed.increment(1);
                return None;
            }
            last.insert((incident, key), now);
        }
        if let Some(kind) = incident.alert_kind() {
            self.metrics.bus_alert(kind);
        }
        warn!(sensor, ?peer, incident = incident.title(), %detail, "bus alarm");
        let event = self.event(incident, sensor, peer, &detail);
        let alarm = alarm(incident, sensor, &detail, &event);
        Some((event, alarm))
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
