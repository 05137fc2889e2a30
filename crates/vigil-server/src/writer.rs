//! The store writer: one thread that drains the intake queue in group commits, qualifying and
//! correlating each event in arrival order ([`Analyzer`]) before storing it with what it caused.
//!
//! Intake sessions take one permit of [`IntakeQueue`] per event before queueing it, so at most
//! `store.queue_events` events wait between intake and the disk; when the queue is full, sessions
//! stop reading their sockets and TCP pushes back on the senders. Nothing is dropped: a failed
//! write is retried until it succeeds or the server is stopped.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc};
use tracing::{error, info, warn};
use vigil_event::{Alarm, Event, Timestamp};
use vigil_store::Store;

use crate::metrics::Metrics;
use vigil_analysis::analysis::Analyzer;

/// How often retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);
/// How long a failing write is retried after shutdown began, before giving up loudly.
const SHUTDOWN_RETRY: Duration = Duration::from_secs(10);

/// The sending side of the intake queue, shared by every session.
#[derive(Clone)]
pub struct IntakeQueue {
    sender: mpsc::UnboundedSender<(Vec<Event>, u32)>,
    permits: Arc<Semaphore>,
    capacity: usize,
    metrics: Metrics,
}

/// The writer thread has stopped; nothing more can be queued.
#[derive(Debug, thiserror::Error)]
#[error("the store writer has stopped")]
pub struct WriterStopped;

impl IntakeQueue {
    /// Queues a batch for storage, waiting while the queue is full.
    pub async fn push(&self, batch: Vec<Event>) -> Result<(), WriterStopped> {
        if batch.is_empty() {
            return Ok(());
        }
        let wanted = batch.len().min(self.capacity) as u32;
        let permits = self
            .permits
            .acquire_many(wanted)
            .await
            .map_err(|_| WriterStopped)?;
        permits.forget();
        self.metrics.queue_depth.increment(batch.len() as f64);
        self.sender.send((batch, wanted)).map_err(|_| WriterStopped)
    }
}

/// What the writer thread works with.
pub struct WriterSetup {
    /// The store it owns.
    pub store: Store,
    /// Qualification and correlation, restored to where it stopped.
    pub analyzer: Analyzer,
    /// Where the correlation state is saved.
    pub data_dir: std::path::PathBuf,
    /// How often the correlation state is saved.
    pub snapshot_interval: Duration,
    /// Events that may wait for the store.
    pub queue_capacity: usize,
    /// Most events per group commit.
    pub batch_max: usize,
    /// What to load again on a reload request.
    pub correlation: vigil_analysis::config::CorrelationConfig,
    /// The taxonomy (from the sid tables loaded at start), kept across reloads.
    pub taxonomy: Arc<vigil_correlate::Taxonomy>,
}

/// The outcome of a reload, as reported to whoever asked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// Directives now loaded.
    pub directives: usize,
    /// Policies now loaded.
    pub policies: usize,
    /// Backlogs carried over.
    pub kept_backlogs: usize,
    /// Backlogs dropped because their directive changed or disappeared.
    pub dropped_backlogs: usize,
}

/// Tells the writer that shutdown has begun: it stores what is queued, closes the queue so
/// sessions still blocked on it end, and stops even if some session still holds a sender.
#[derive(Clone)]
pub struct StopHandle {
    since: Arc<std::sync::OnceLock<Instant>>,
    permits: Arc<Semaphore>,
}

impl StopHandle {
    /// Begins the writer's shutdown.
    pub fn stop(&self) {
        let _ = self.since.set(Instant::now());
        self.permits.close();
    }

    fn stopped_since(&self) -> Option<Instant> {
        self.since.get().copied()
    }
}

/// Closes the intake queue when the writer ends for any reason (a panic included), so sessions
/// waiting for room end instead of hanging.
struct CloseOnExit(Arc<Semaphore>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A reload request: the answer goes back on the channel.
pub type ReloadRequest = tokio::sync::oneshot::Sender<Result<ReloadReport, String>>;

/// Starts the writer thread. It stops once every [`IntakeQueue`] clone is dropped and the queue
/// is drained, saving the correlation state and syncing everything before it returns the store.
pub fn spawn(
    setup: WriterSetup,
    metrics: Metrics,
    runtime: Handle,
) -> std::io::Result<(
    IntakeQueue,
    mpsc::UnboundedSender<ReloadRequest>,
    StopHandle,
    JoinHandle<Store>,
)> {
    let (reload_sender, reloads) = mpsc::unbounded_channel();
    let (sender, receiver) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(setup.queue_capacity));
    let queue = IntakeQueue {
        sender,
        permits: permits.clone(),
        capacity: setup.queue_capacity,
        metrics: metrics.clone(),
    };
    let stop = StopHandle {
        since: Arc::new(std::sync::OnceLock::new()),
        permits: permits.clone(),
    };
    let writer = Writer {
        stop: stop.clone(),
        store: setup.store,
        analyzer: setup.analyzer,
        data_dir: setup.data_dir,
        snapshot_interval: setup.snapshot_interval,
        receiver,
        permits,
        metrics,
        batch_max: setup.batch_max,
        correlation: setup.correlation,
        taxonomy: setup.taxonomy,
        reloads,
        runtime,
    };
    let thread = std::thread::Builder::new()
        .name("vigil-store-writer".into())
        .spawn(move || writer.run())?;
    Ok((queue, reload_sender, stop, thread))
}

struct Writer {
    stop: StopHandle,
    store: Store,
    analyzer: Analyzer,
    data_dir: std::path::PathBuf,
    snapshot_interval: Duration,
    receiver: mpsc::UnboundedReceiver<(Vec<Event>, u32)>,
    permits: Arc<Semaphore>,
    metrics: Metrics,
    batch_max: usize,
    correlation: vigil_analysis::config::CorrelationConfig,
    taxonomy: Arc<vigil_correlate::Taxonomy>,
    reloads: mpsc::UnboundedReceiver<ReloadRequest>,
    runtime: Handle,
}

impl Writer {
    /// Applies pending reload requests between batches, so a reload never splits one.
    fn serve_reloads(&mut self) {
        while let Ok(reply) = self.reloads.try_recv() {
            let result =
                vigil_analysis::correlation::Setup::load(&self.correlation, self.taxonomy.clone())
                    .map_err(|e| format!("{e:#}"))
                    .map(|setup| {
                        let carry = self.analyzer.reload(&setup);
                        ReloadReport {
                            directives: setup.set.directives.len(),
                            policies: setup.policies.len(),
                            kept_backlogs: carry.kept,
                            dropped_backlogs: carry.dropped,
                        }
                    });
            match &result {
                Ok(report) => info!(?report, "correlation rules reloaded"),
                Err(e) => warn!(error = %e, "reload refused; the running rules are unchanged"),
            }
            // The requester may have given up waiting; the reload happened all the same.
            let _ = reply.send(result);
        }
    }

    fn run(mut self) -> Store {
        let _close = CloseOnExit(self.permits.clone());
        let mut last_retention = Instant::now() - RETENTION_INTERVAL;
        let mut last_snapshot = Instant::now();
        self.publish_stats();
        loop {
            self.serve_reloads();
            if last_retention.elapsed() >= RETENTION_INTERVAL {
                self.retention();
                last_retention = Instant::now();
            }
            let next = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(1), self.receiver.recv()).await
            });
            let (mut pending, mut permits) = match next {
                Ok(Some((batch, taken))) => (batch, taken as usize),
                Ok(None) => break,
                // Stopping, and nothing queued: sessions that still hold a sender are stuck.
                Err(_) if self.stop.stopped_since().is_some() => break,
                Err(_) => continue,
            };
            while pending.len() < self.batch_max {
                match self.receiver.try_recv() {
                    Ok((batch, taken)) => {
                        pending.extend(batch);
                        permits += taken as usize;
                    }
                    Err(_) => break,
                }
            }
            self.process(pending);
            self.permits.add_permits(permits);
            if last_snapshot.elapsed() >= self.snapshot_interval {
                self.save_state();
                last_snapshot = Instant::now();
            }
        }
        self.save_state();
        info!(
            records = self.store.events.stats().records,
            "store writer stopped; everything queued was stored"
        );
        self.store
    }

    /// Qualifies and correlates a batch in order, then stores it with what it caused.
    fn process(&mut self, batch: Vec<Event>) {
        let inputs = batch.len();
        let mut events: Vec<Event> = Vec::with_capacity(inputs);
        let mut alarms: Vec<Alarm> = Vec::new();
        let (mut stored_inputs, mut directive_events) = (0u64, 0u64);
        for event in batch {
            let id = event.id;
            let analysis = self.analyzer.analyze(event);
            if analysis.unknown_sid {
                self.metrics.unknown_sid.increment(1);
            }
            for e in analysis.events {
                if e.id == id {
                    stored_inputs += 1;
                } else {
                    directive_events += 1;
                }
                events.push(e);
            }
            alarms.extend(analysis.alarms);
        }
        self.store_durably(&events, &alarms, stored_inputs);
        self.metrics
            .not_stored
            .increment(inputs as u64 - stored_inputs);
        self.metrics.directive_events.increment(directive_events);
        self.metrics.alarms.increment(alarms.len() as u64);
        self.metrics.queue_depth.decrement(inputs as f64);
        let engine = self.analyzer.engine();
        self.metrics.backlogs.set(engine.live_backlogs() as f64);
        self.metrics
            .backlogs_evicted
            .absolute(engine.stats().backlogs_evicted);
        self.publish_stats();
    }

    fn save_state(&mut self) {
        if let Err(e) =
            vigil_analysis::correlation::save_state(&self.data_dir, &self.analyzer, &self.store)
        {
            self.metrics.store_errors.increment(1);
            warn!(error = %e, "cannot save the correlation state; will retry");
        }
    }

    /// Appends events, then alarms, until both succeed; after shutdown began, gives up after
    /// [`SHUTDOWN_RETRY`] and counts unstored input events as lost.
    fn store_durably(&mut self, events: &[Event], alarms: &[Alarm], inputs: u64) {
        let started = Instant::now();
        let give_up = |stop: &StopHandle| {
            stop.stopped_since()
                .is_some_and(|since| since.elapsed() > SHUTDOWN_RETRY)
        };
        let mut delay = Duration::from_millis(50);
        let (mut events_done, mut alarms_done) = (events.is_empty(), alarms.is_empty());
        if events_done {
            self.metrics.stored.increment(inputs);
        }
        loop {
            let result = if !events_done {
                self.store.events.append(events).map(|()| {
                    events_done = true;
                    self.metrics.stored.increment(inputs);
                })
            } else if !alarms_done {
                self.store
                    .alarms
                    .append(alarms)
                    .map(|()| alarms_done = true)
            } else {
                break;
            };
            if let Err(e) = result {
                self.metrics.store_errors.increment(1);
                // A record too large to store will never fit: do not retry it forever.
                let hopeless = matches!(e, vigil_store::StoreError::RecordTooLarge { .. });
                if hopeless
                    || give_up(&self.stop)
                    || (self.receiver.is_closed() && started.elapsed() > SHUTDOWN_RETRY)
                {
                    error!(error = %e, events = events.len(), alarms = alarms.len(), "store write cannot succeed (a record too large, or the store failing past the shutdown grace); these were NOT stored");
                    if !events_done {
                        self.metrics.lost.increment(inputs);
                    }
                    break;
                }
                warn!(error = %e, retry_in = ?delay, "store write failed; retrying (intake pushes back meanwhile)");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }

    fn retention(&mut self) {
        match self.store.events.enforce_retention(Timestamp::now()) {
            Ok(report) => self.metrics.retention_deleted.increment(report.records),
            Err(e) => {
                self.metrics.store_errors.increment(1);
                warn!(error = %e, "retention failed; will retry");
            }
        }
        if let Err(e) = self.store.alarms.enforce_retention(Timestamp::now()) {
            warn!(error = %e, "alarm retention failed; will retry");
        }
        self.publish_stats();
    }

    fn publish_stats(&self) {
        let stats = self.store.events.stats();
        self.metrics.store_records.set(stats.records as f64);
        self.metrics.store_bytes.set(stats.bytes as f64);
    }
}
