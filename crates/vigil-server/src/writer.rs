//! The store writer: one thread that drains the intake queue in group commits, qualifying and
//! correlating each event in arrival order ([`Analyzer`]) before storing it with what it caused.
//!
//! Intake sessions take one permit of [`IntakeQueue`] per event before queueing it, so at most
//! `store.queue_events` events wait between intake and the disk; when the queue is full, sessions
//! stop reading their sockets and TCP pushes back on the senders. Nothing is dropped: a failed
//! write is retried until it succeeds or the server is stopped.
//!
//! Bus events carry their sensor's sequence number: the writer stores each (sensor, sequence)
//! once, checking the shared [`SequenceBook`] and the batch being written, and records what it
//! stored in the book only once it is durable. A bus session learns when its batch is durable
//! (or that it could not be stored) through [`IntakeQueue::push_acknowledged`], and only then
//! acknowledges it to the edge. Reports about the bus itself (rejected input, gaps, silent
//! sensors) are stored as they are, with their alarms, through [`IntakeQueue::push_report`].
//!
//! A bus batch carries the spool epoch of its session and is stored only while that is its
//! sensor's current epoch. A sensor's first or new epoch is put in force by the writer when it
//! reaches it ([`IntakeQueue::push_epoch`], with the report of a restarted history), in queue
//! order, so the book always matches the store: the report is stored before any event of the
//! new epoch, and the book is saved right after it, before the session is told.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use std::sync::Mutex;

use tokio::runtime::Handle;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use vigil_bus::{Announced, Epoch, SequenceBook};
use vigil_event::{Alarm, Event, Transport};
use vigil_store::Store;

use crate::clock::CoreClock;
use crate::metrics::Metrics;
use vigil_analysis::analysis::Analyzer;

/// How long a failing write is retried after shutdown began, before giving up loudly.
const SHUTDOWN_RETRY: Duration = Duration::from_secs(10);

/// What became of an acknowledged submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Durable {
    /// Events stored now.
    pub stored: u64,
    /// Bus events skipped because their (sensor, sequence) was stored before.
    pub duplicates: u64,
}

/// One queued unit of work for the writer.
struct Submission {
    events: Vec<Event>,
    permits: u32,
    /// Stored as they are (reports about the bus), without analysis.
    report: Option<Vec<Alarm>>,
    done: Option<oneshot::Sender<Durable>>,
    /// Cancelled when the batch is no longer wanted (its session was ended): not stored then.
    withdrawn: Option<CancellationToken>,
    /// How it relates to its sensor's spool epochs (bus batches and history restarts).
    epoch: Option<Epochal>,
}

/// A submission's sensor and spool epoch.
enum Epochal {
    /// A bus batch of a session that announced this epoch: stored only while it is the
    /// sensor's current one.
    Batch(String, Epoch),
    /// A session announced this first or new epoch of the sensor: the writer puts it in force
    /// when it reaches it, storing the report of a restarted history with it (nothing if another
    /// session put it in force first).
    Announce(String, Epoch),
}

impl Submission {
    fn withdrawn(&self) -> bool {
        self.withdrawn
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
    }
}

/// The sending side of the intake queue, shared by every session.
#[derive(Clone)]
pub struct IntakeQueue {
    sender: mpsc::UnboundedSender<Submission>,
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
        self.submit(batch, None, None, None, None).await
    }

    /// Queues a bus batch of `sensor`'s session that announced `epoch`, and returns what will
    /// say when it is durable. The receiver fails if the batch could not be stored (the store
    /// failing past the shutdown grace), was withdrawn (once `withdrawn` is cancelled, the
    /// writer no longer stores it, unless it is being written already), or `epoch` is no
    /// longer the sensor's current one.
    pub async fn push_acknowledged(
        &self,
        batch: Vec<Event>,
        withdrawn: CancellationToken,
        sensor: &str,
        epoch: Epoch,
    ) -> Result<oneshot::Receiver<Durable>, WriterStopped> {
        let (done, durable) = oneshot::channel();
        let epoch = Epochal::Batch(sensor.to_string(), epoch);
        self.submit(batch, None, Some(done), Some(withdrawn), Some(epoch))
            .await?;
        Ok(durable)
    }

    /// Queues `sensor`'s first or new `epoch`, with the report of a restarted history (stored
    /// as they are, unless another session put the epoch in force first). Resolves once the
    /// epoch is in force and durable; fails if that could not be stored.
    pub async fn push_epoch(
        &self,
        sensor: &str,
        epoch: Epoch,
        events: Vec<Event>,
        alarms: Vec<Alarm>,
    ) -> Result<oneshot::Receiver<Durable>, WriterStopped> {
        let (done, durable) = oneshot::channel();
        let epoch = Epochal::Announce(sensor.to_string(), epoch);
        self.submit(events, Some(alarms), Some(done), None, Some(epoch))
            .await?;
        Ok(durable)
    }

    /// Queues a report about the bus: its events (if any) and alarms are stored as they are.
    pub async fn push_report(
        &self,
        events: Vec<Event>,
        alarms: Vec<Alarm>,
    ) -> Result<(), WriterStopped> {
        self.submit(events, Some(alarms), None, None, None).await
    }

    async fn submit(
        &self,
        events: Vec<Event>,
        report: Option<Vec<Alarm>>,
        done: Option<oneshot::Sender<Durable>>,
        withdrawn: Option<CancellationToken>,
        epoch: Option<Epochal>,
    ) -> Result<(), WriterStopped> {
        let wanted = events.len().clamp(1, self.capacity) as u32;
        let permits = self
            .permits
            .acquire_many(wanted)
            .await
            .map_err(|_| WriterStopped)?;
        permits.forget();
        self.metrics.queue_depth.increment(events.len() as f64);
        self.sender
            .send(Submission {
                events,
                permits: wanted,
                report,
                done,
                withdrawn,
                epoch,
            })
            .map_err(|_| WriterStopped)
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
    /// Which bus sequence numbers are stored, shared with the bus sessions and monitor.
    pub book: Arc<Mutex<SequenceBook>>,
    /// The core's proven time, which retention measures from.
    pub clock: Arc<CoreClock>,
    /// How often retention runs.
    pub retention_interval: Duration,
    /// Where the hosts' C & A levels are published after each batch.
    pub host_levels: Arc<crate::host_levels::HostLevels>,
    /// Where each durable batch's alarm revisions go (the console's alarm book), if anywhere.
    pub alarm_feed: Option<mpsc::UnboundedSender<Vec<Alarm>>>,
}

/// The outcome of a reload, as reported to whoever asked.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReloadReport {
    /// Directives now loaded.
    pub directives: usize,
    /// Policies now loaded.
    pub policies: usize,
    /// Backlogs carried over.
    pub kept_backlogs: usize,
    /// Backlogs dropped because their directive changed or disappeared.
    pub dropped_backlogs: usize,
    /// Directives left out because of errors (only with `allow_partial_rules`; otherwise such
    /// a reload is refused), one `file:line:column: error: ...` line each.
    pub dropped_directives: Vec<String>,
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
        book: setup.book,
        clock: setup.clock,
        retention_interval: setup.retention_interval,
        host_levels: setup.host_levels,
        alarm_feed: setup.alarm_feed,
        reloads,
        runtime,
    };
    let thread = std::thread::Builder::new()
        .name("vigil-store-writer".into())
        .spawn(move || writer.run())?;
    Ok((queue, reload_sender, stop, thread))
}

/// Logs every stored alarm revision, so the log alone tells what was raised.
fn log_alarms(alarms: &[Alarm]) {
    for alarm in alarms {
        info!(
            id = %alarm.id,
            revision = alarm.revision,
            directive = alarm.directive_id,
            name = %alarm.name,
            risk = alarm.risk,
            src = %alarm.src_ip,
            dst = %alarm.dst_ip,
            "alarm"
        );
    }
}

struct Writer {
    stop: StopHandle,
    store: Store,
    analyzer: Analyzer,
    data_dir: std::path::PathBuf,
    snapshot_interval: Duration,
    receiver: mpsc::UnboundedReceiver<Submission>,
    permits: Arc<Semaphore>,
    metrics: Metrics,
    batch_max: usize,
    correlation: vigil_analysis::config::CorrelationConfig,
    taxonomy: Arc<vigil_correlate::Taxonomy>,
    book: Arc<Mutex<SequenceBook>>,
    reloads: mpsc::UnboundedReceiver<ReloadRequest>,
    runtime: Handle,
    clock: Arc<CoreClock>,
    retention_interval: Duration,
    host_levels: Arc<crate::host_levels::HostLevels>,
    alarm_feed: Option<mpsc::UnboundedSender<Vec<Alarm>>>,
}

impl Writer {
    /// Applies pending reload requests between batches, so a reload never splits one.
    fn serve_reloads(&mut self) {
        while let Ok(reply) = self.reloads.try_recv() {
            self.correlation.disabled_directives =
                crate::console::directives::disabled(&self.data_dir);
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
                            dropped_directives: setup.dropped,
                        }
                    });
            match &result {
                Ok(report) => {
                    self.metrics.reloads_applied.increment(1);
                    info!(?report, "correlation rules reloaded");
                }
                Err(e) => {
                    self.metrics.reloads_refused.increment(1);
                    warn!(error = %e, "reload refused; the running rules are unchanged");
                }
            }
            // The requester may have given up waiting; the reload happened all the same.
            let _ = reply.send(result);
        }
    }

    fn run(mut self) -> Store {
        let _close = CloseOnExit(self.permits.clone());
        let mut last_retention: Option<Instant> = None;
        let mut last_snapshot = Instant::now();
        self.publish_stats();
        loop {
            self.serve_reloads();
            if last_retention.is_none_or(|at| at.elapsed() >= self.retention_interval) {
                self.retention();
                last_retention = Some(Instant::now());
            }
            let next = self.runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(1), self.receiver.recv()).await
            });
            let mut pending = match next {
                Ok(Some(submission)) => vec![submission],
                Ok(None) => break,
                // Stopping, and nothing queued: sessions that still hold a sender are stuck.
                Err(_) if self.stop.stopped_since().is_some() => break,
                Err(_) => continue,
            };
            let mut events: usize = pending[0].events.len();
            while events < self.batch_max {
                match self.receiver.try_recv() {
                    Ok(submission) => {
                        events += submission.events.len();
                        pending.push(submission);
                    }
                    Err(_) => break,
                }
            }
            let permits: usize = pending.iter().map(|s| s.permits as usize).sum();
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

    /// Drops from each submission the bus events whose (sensor, sequence) is stored already or
    /// comes earlier in this group commit, and the batches of a superseded spool epoch; puts
    /// announced epochs in force, in order. Returns the numbers kept (to record once durable),
    /// each submission's counts, and whether an epoch was put in force. The shared book is
    /// locked only for this pass, not for analysis.
    fn skip_stored(&self, pending: &mut [Submission]) -> (SequenceBook, Vec<Durable>, bool) {
        let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        let mut kept = SequenceBook::default();
        let mut entered = false;
        let counts = pending
            .iter_mut()
            .map(|submission| {
                match &submission.epoch {
                    Some(Epochal::Announce(sensor, epoch)) => match book.enter(sensor, *epoch) {
                        Announced::Adopted => {
                            entered = true;
                            info!(sensor, %epoch, "spool epoch of the sensor recorded");
                        }
                        Announced::New { previous } => {
                            entered = true;
                            self.metrics.bus_alert("history_restarted");
                            info!(sensor, %previous, %epoch, "sensor history restarted under a new spool epoch");
                        }
                        // Another session put it in force first (or superseded it since).
                        Announced::Current | Announced::Superseded { .. } => {
                            submission.events.clear();
                            submission.report = Some(Vec::new());
                        }
                    },
                    Some(Epochal::Batch(sensor, epoch)) => {
                        if book.is_current(sensor, *epoch) {
                            kept.enter(sensor, *epoch);
                        } else {
                            // Its session's epoch was superseded since it sent: never stored,
                            // never acknowledged.
                            warn!(sensor, %epoch, events = submission.events.len(), "a bus batch of a superseded spool epoch is not stored");
                            submission.events.clear();
                            submission.done = None;
                        }
                    }
                    None => {}
                }
                let before = submission.events.len();
                if submission.report.is_none() {
                    submission.events.retain(|event| {
                        let p = &event.provenance;
                        let (Transport::Bus, Some(seq)) = (p.transport, p.sequence) else {
                            return true;
                        };
                        let new = !book.contains(&p.sensor, seq) && !kept.contains(&p.sensor, seq);
                        if new {
                            kept.insert(&p.sensor, seq, seq);
                        }
                        new
                    });
                }
                let stored = submission.events.len();
                Durable {
                    stored: stored as u64,
                    duplicates: (before - stored) as u64,
                }
            })
            .collect();
        (kept, counts, entered)
    }

    /// Qualifies and correlates the submissions' events in order (bus events already stored
    /// are skipped), then stores them with what they caused; then tells each submitter.
    fn process(&mut self, mut pending: Vec<Submission>) {
        let queued: usize = pending.iter().map(|s| s.events.len()).sum();
        pending.retain(|submission| {
            let withdrawn = submission.withdrawn();
            if withdrawn {
                // Dropping `done` tells the session it was not stored.
                warn!(
                    events = submission.events.len(),
                    "a bus batch of an ended session (revoked certificate) is not stored"
                );
            }
            !withdrawn
        });
        let (sequenced, counts, entered) = self.skip_stored(&mut pending);
        // What is left to analyse and store: not the duplicates, nor a superseded epoch's.
        let inputs: usize = pending.iter().map(|s| s.events.len()).sum();
        let duplicates: u64 = counts.iter().map(|d| d.duplicates).sum();
        let mut events: Vec<Event> = Vec::with_capacity(inputs);
        let mut alarms: Vec<Alarm> = Vec::new();
        let (mut stored_inputs, mut directive_events) = (0u64, 0u64);
        let mut notices = Vec::new();
        for (submission, durable) in pending.into_iter().zip(counts) {
            notices.extend(submission.done.map(|d| (d, durable)));
            if let Some(report) = submission.report {
                // Reports about the bus are stored as they are.
                stored_inputs += durable.stored;
                events.extend(submission.events);
                alarms.extend(report);
                continue;
            }
            for event in submission.events {
                let id = event.id;
                let analysis = self.analyzer.analyze(event);
                if analysis.unknown_sid {
                    self.metrics.unknown_sid.increment(1);
                }
                if analysis.time_out_of_bounds {
                    self.metrics.time_out_of_bounds.increment(1);
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
        }
        let analysed = inputs as u64;
        let raised = alarms.len() as u64;
        if self.store_durably(&events, &alarms, stored_inputs) {
            log_alarms(&alarms);
            if let Some(feed) = self.alarm_feed.as_ref().filter(|_| !alarms.is_empty()) {
                // The console may have stopped; the alarms are stored all the same.
                let _ = feed.send(std::mem::take(&mut alarms));
            }
            self.book
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .merge(&sequenced);
            if entered {
                // Durable before any event of the epoch is sent.
                self.save_book();
            }
            for (done, durable) in notices {
                // The session may have ended meanwhile; the edge will send the batch again.
                let _ = done.send(durable);
            }
        }
        self.metrics.bus_duplicates.increment(duplicates);
        self.metrics
            .not_stored
            .increment(analysed.saturating_sub(stored_inputs));
        self.metrics.directive_events.increment(directive_events);
        self.metrics.alarms.increment(raised);
        self.metrics.queue_depth.decrement(queued as f64);
        let engine = self.analyzer.engine();
        self.publish_levels(&events);
        self.metrics.backlogs.set(engine.live_backlogs() as f64);
        self.metrics
            .backlogs_evicted
            .absolute(engine.stats().backlogs_evicted);
        self.publish_stats();
    }

    /// Publishes the C & A levels of the hosts of `events`.
    fn publish_levels(&self, events: &[Event]) {
        use vigil_correlate::LevelKind;
        let hosts: std::collections::BTreeSet<std::net::IpAddr> = events
            .iter()
            .flat_map(|e| [e.src_ip, e.dst_ip])
            .filter(|ip| !ip.is_unspecified())
            .collect();
        let engine = self.analyzer.engine();
        self.host_levels.publish(
            engine.watermark(),
            hosts.into_iter().map(|host| {
                (
                    host,
                    engine.level(host, LevelKind::Compromise),
                    engine.level(host, LevelKind::Attack),
                )
            }),
        );
    }

    fn save_state(&mut self) {
        if let Err(e) =
            vigil_analysis::correlation::save_state(&self.data_dir, &self.analyzer, &self.store)
        {
            self.metrics.store_errors.increment(1);
            warn!(error = %e, "cannot save the correlation state; will retry");
        }
        self.save_book();
    }

    fn save_book(&mut self) {
        let book = self.book.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Err(e) = crate::bus::state::save(&self.data_dir, &book, &self.store) {
            self.metrics.store_errors.increment(1);
            warn!(error = %e, "cannot save the bus sequence book; will retry");
        }
    }

    /// Appends events, then alarms, until both succeed; after shutdown began, gives up after
    /// [`SHUTDOWN_RETRY`] and counts unstored input events as lost. Returns whether the events
    /// are stored.
    fn store_durably(&mut self, events: &[Event], alarms: &[Alarm], inputs: u64) -> bool {
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
                    return events_done;
                }
                warn!(error = %e, retry_in = ?delay, "store write failed; retrying (intake pushes back meanwhile)");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
        true
    }

    /// One retention pass of both logs, measured from the core's proven time (never from a
    /// wall clock that jumped ahead).
    fn retention(&mut self) {
        let now = self.clock.retention_now();
        match self.store.events.enforce_retention(now) {
            Ok(report) if report.refused => self.metrics.retention_refused.increment(1),
            Ok(report) => self.metrics.retention_deleted.increment(report.records),
            Err(e) => {
                self.metrics.store_errors.increment(1);
                warn!(error = %e, "retention failed; will retry");
            }
        }
        match self.store.alarms.enforce_retention(now) {
            Ok(report) if report.refused => self.metrics.retention_refused.increment(1),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "alarm retention failed; will retry"),
        }
        self.metrics.retention_passes.increment(1);
        self.publish_stats();
    }

    fn publish_stats(&self) {
        let stats = self.store.events.stats();
        self.metrics.store_records.set(stats.records as f64);
        self.metrics.store_bytes.set(stats.bytes as f64);
    }
}
