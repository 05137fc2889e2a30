//! The core's side of the signed event bus: the TLS listener and its sessions ([`session`]),
//! the core's identity ([`identity`]), reports about the bus itself ([`report`]) and their
//! aggregation ([`aggregate`]), the gap and
//! silence monitor ([`monitor`]), downstream commands ([`commands`]), the sessions a
//! revocation ends ([`revocation`]), the sequence book across restarts ([`state`]) and the
//! sensors' spool epochs ([`history`]).
//! What a session may cost: the intake memory budget ([`budget`]), how a frame is read within
//! it and in time ([`reading`]), and the sessions one sensor may open ([`slots`]).

pub mod aggregate;
pub mod budget;
pub mod commands;
pub mod history;
pub mod identity;
pub mod monitor;
pub mod reading;
pub mod report;
pub mod revocation;
pub mod session;
pub mod slots;
pub mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;
use vigil_bus::{HeartbeatBody, SequenceBook};

use crate::clock::CoreClock;
use crate::config::BusConfig;
use crate::metrics::Metrics;
use crate::writer::IntakeQueue;

/// What the core last heard from a sensor.
struct SensorStatus {
    heard: Instant,
    heartbeat: Option<HeartbeatBody>,
    /// The silent-sensor alarm raised and not yet ended by hearing from the sensor again.
    silent: Option<vigil_event::Alarm>,
    /// It said goodbye, or its certificate was revoked: its silence is a stop, not an incident
    /// (until a new session).
    stopped: bool,
}

/// What [`BusShared::sensors_heard`] tells of one sensor.
#[derive(Debug, Clone)]
pub struct SensorHeard {
    /// The sensor's name.
    pub name: String,
    /// When the core last heard from it (its proven time).
    pub last_seen: vigil_event::Timestamp,
    /// A silent-sensor alarm is raised and not yet ended.
    pub silent: bool,
}

/// Everything bus sessions share.
pub struct BusShared {
    /// The bus configuration.
    pub config: BusConfig,
    /// The core's name.
    pub core_name: String,
    /// TLS configuration, following the revocation list.
    pub tls: identity::ServerTls,
    /// Signs commands with the core's key.
    pub signer: vigil_ca::Signer,
    /// Stored sequence numbers (shared with the writer).
    pub book: Arc<Mutex<SequenceBook>>,
    /// The store writer's queue.
    pub queue: IntakeQueue,
    /// Metrics.
    pub metrics: Metrics,
    /// Reports about the bus.
    pub reporter: report::Reporter,
    /// Open sessions and pending commands.
    pub commands: commands::Commands,
    /// Open sessions and their certificates, ended when revoked.
    pub sessions: revocation::OpenSessions,
    /// Memory for frames being read and decoded.
    pub budget: budget::IntakeBudget,
    /// Open sessions per sensor.
    pub slots: slots::SensorSlots,
    /// The core's proven time, and the edges' clocks compared with it.
    pub clock: Arc<CoreClock>,
    sensors: Mutex<HashMap<String, SensorStatus>>,
    connections: Arc<Semaphore>,
}

impl BusShared {
    /// Shared state for the listeners.
    pub fn new(
        config: BusConfig,
        tls: identity::ServerTls,
        book: Arc<Mutex<SequenceBook>>,
        queue: IntakeQueue,
        metrics: Metrics,
        clock: Arc<CoreClock>,
    ) -> anyhow::Result<BusShared> {
        let signer = vigil_ca::Signer::from_pkcs8(tls.identity().key_pkcs8())?;
        let core_name = config.name.clone();
        Ok(BusShared {
            connections: Arc::new(Semaphore::new(config.max_connections)),
            budget: budget::IntakeBudget::new(
                config.intake_memory_mib << 20,
                metrics.bus_intake_reserved.clone(),
            ),
            reporter: report::Reporter::new(
                core_name.clone(),
                queue.clone(),
                metrics.clone(),
                clock.clone(),
            ),
            core_name,
            tls,
            signer,
            book,
            queue,
            metrics,
            commands: commands::Commands::default(),
            sessions: revocation::OpenSessions::default(),
            slots: slots::SensorSlots::default(),
            clock,
            sensors: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// What the core last heard from each sensor: when, and whether it is silent (a silent-
    /// sensor alarm raised and not yet ended).
    pub fn sensors_heard(&self) -> Vec<SensorHeard> {
        let sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        sensors
            .iter()
            .map(|(name, status)| SensorHeard {
                name: name.clone(),
                last_seen: now.saturating_sub_micros(
                    i64::try_from(status.heard.elapsed().as_micros()).unwrap_or(i64::MAX),
                ),
                silent: status.silent.is_some(),
            })
            .collect()
    }

    /// Every number of `sensor` up to here is stored.
    pub fn stored_through(&self, sensor: &str) -> u64 {
        let book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        book.sensor(sensor).map_or(0, |b| b.stored_through())
    }

    /// Whether a batch of `sensor` is within the window.
    pub fn in_window(&self, sensor: &str, first: u64, count: u64, window: u64) -> bool {
        let book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        match book.sensor(sensor) {
            Some(b) => b.in_window(first, count, window),
            None => vigil_bus::SensorBook::default().in_window(first, count, window),
        }
    }

    /// Records that `sensor` was heard from (with its heartbeat, if that is what came; `session`
    /// when it opened a session); a silent-sensor alarm it had raised ends with a new revision.
    pub async fn sensor_heard(
        &self,
        sensor: &str,
        heartbeat: Option<HeartbeatBody>,
        session: bool,
    ) {
        let ended = {
            let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
            let status = sensors
                .entry(sensor.to_string())
                .or_insert_with(|| SensorStatus {
                    heard: Instant::now(),
                    heartbeat: None,
                    silent: None,
                    stopped: false,
                });
            status.heard = Instant::now();
            if session {
                status.stopped = false;
            }
            if heartbeat.is_some() {
                status.heartbeat = heartbeat;
            }
            status.silent.take()
        };
        if let Some(silent) = ended {
            let revision = report::heard_again(&silent, self.clock.now());
            info!(sensor, alarm = %revision.id, "silent sensor heard again; its alarm is completed");
            self.reporter.store(Vec::new(), vec![revision]).await;
        }
    }

    /// `sensor` said goodbye on a session from `peer`: its silence from now on raises no
    /// alarm, and the stop is stored as a low-priority event (once, whichever path said it).
    pub async fn sensor_stopped(&self, sensor: &str, peer: std::net::IpAddr) {
        self.sensor_heard(sensor, None, false).await;
        let (first, counters) = {
            let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
            match sensors.get_mut(sensor) {
                Some(status) => (
                    !std::mem::replace(&mut status.stopped, true),
                    counters(status.heartbeat.as_ref()),
                ),
                None => (false, String::new()),
            }
        };
        if first {
            self.reporter
                .stopped(
                    sensor,
                    peer,
                    format!("said goodbye; last heartbeat: {counters}"),
                )
                .await;
        }
    }

    /// `sensor`'s certificate was revoked: its silence from now on is expected (until a new
    /// session, with a new certificate).
    fn sensor_revoked(&self, sensor: &str) {
        let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(status) = sensors.get_mut(sensor) {
            status.stopped = true;
        }
    }

    /// A connection from `peer` closed at `bus.max_connections`: counted, and counted into the
    /// core's connection-limit alarm, stored on `tracker` (the accept loop does not wait).
    fn connection_refused(self: &Arc<Self>, peer: std::net::SocketAddr, tracker: &TaskTracker) {
        self.metrics.bus_connections_refused.increment(1);
        let detail = format!(
            "from {}: {} connections open (bus.max_connections)",
            peer.ip(),
            self.config.max_connections
        );
        let (events, alarms) = self.reporter.count(
            report::BusIncident::ConnectionLimit,
            &self.core_name,
            Some(peer.ip()),
            detail,
            self.core_name.clone(),
            None,
        );
        if !events.is_empty() {
            let shared = self.clone();
            tracker.spawn(async move { shared.reporter.store(events, alarms).await });
        }
    }

    /// The counters of `sensor`'s last heartbeat, as text.
    fn last_heartbeat(&self, sensor: &str) -> String {
        let sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        counters(sensors.get(sensor).and_then(|s| s.heartbeat.as_ref()))
    }

    /// Raises the silent-sensor alarm of every sensor not heard from for `timeout` that has
    /// none yet and did not say goodbye; returns the events and alarms to store.
    fn silent_sensors(&self, timeout: Duration) -> Vec<(vigil_event::Event, vigil_event::Alarm)> {
        let mut sensors = self.sensors.lock().unwrap_or_else(|p| p.into_inner());
        let mut raised = Vec::new();
        for (name, status) in sensors.iter_mut() {
            if status.silent.is_none() && !status.stopped && status.heard.elapsed() >= timeout {
                let detail = format!(
                    "nothing heard for {timeout:?}; last heartbeat: {}",
                    counters(status.heartbeat.as_ref())
                );
                let (event, alarm) =
                    self.reporter
                        .raise(report::BusIncident::SensorSilent, name, None, detail);
                status.silent = Some(alarm.clone());
                raised.push((event, alarm));
            }
        }
        raised
    }
}

/// A heartbeat's counters as text (`none` without one).
fn counters(heartbeat: Option<&HeartbeatBody>) -> String {
    match heartbeat {
        Some(h) => format!(
            "received {}, spooled {}, dropped at the edge {}, next sequence {}",
            h.received, h.spooled, h.dropped, h.next_sequence
        ),
        None => "none".into(),
    }
}

/// Accepts bus connections on `listener` until `shutdown`; sessions run on `tracker`.
pub async fn serve(
    shared: Arc<BusShared>,
    listener: TcpListener,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let refusals = tracker.clone();
    crate::listen::accept_sessions(
        listener,
        "bus",
        shared.connections.clone(),
        shutdown.clone(),
        tracker,
        |peer| shared.connection_refused(peer, &refusals),
        |stream, peer| {
            let (shared, shutdown) = (shared.clone(), shutdown.clone());
            async move {
                tokio::select! {
                    () = session::run(shared, stream, peer) => {}
                    () = shutdown.cancelled() => {}
                }
            }
        },
    )
    .await;
}
