//! The store writer: one thread that drains the intake queue in group commits.
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
use vigil_event::{Event, Timestamp};
use vigil_store::Store;

use crate::metrics::Metrics;

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

/// Starts the writer thread. It stops once every [`IntakeQueue`] clone is dropped and the queue
/// is drained, syncing everything before it returns the store.
pub fn spawn(
    store: Store,
    queue_capacity: usize,
    batch_max: usize,
    metrics: Metrics,
    runtime: Handle,
) -> std::io::Result<(IntakeQueue, JoinHandle<Store>)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let permits = Arc::new(Semaphore::new(queue_capacity));
    let queue = IntakeQueue {
        sender,
        permits: permits.clone(),
        capacity: queue_capacity,
        metrics: metrics.clone(),
    };
    let writer = Writer {
        store,
        receiver,
        permits,
        metrics,
        batch_max,
        runtime,
    };
    let thread = std::thread::Builder::new()
        .name("vigil-store-writer".into())
        .spawn(move || writer.run())?;
    Ok((queue, thread))
}

struct Writer {
    store: Store,
    receiver: mpsc::UnboundedReceiver<(Vec<Event>, u32)>,
    permits: Arc<Semaphore>,
    metrics: Metrics,
    batch_max: usize,
    runtime: Handle,
}

impl Writer {
    fn run(mut self) -> Store {
        let mut last_retention = Instant::now() - RETENTION_INTERVAL;
        self.publish_stats();
        loop {
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
            self.store_durably(&pending);
            self.permits.add_permits(permits);
        }
        info!(
            records = self.store.events.stats().records,
            "store writer stopped; everything queued was stored"
        );
        self.store
    }

    /// Appends until it succeeds; after shutdown began, gives up after [`SHUTDOWN_RETRY`] and
    /// counts the events as lost.
    fn store_durably(&mut self, events: &[Event]) {
        let started = Instant::now();
        let mut delay = Duration::from_millis(50);
        loop {
            match self.store.events.append(events) {
                Ok(()) => {
                    self.metrics.stored.increment(events.len() as u64);
                    break;
                }
                Err(e) => {
                    self.metrics.store_errors.increment(1);
                    if self.receiver.is_closed() && started.elapsed() > SHUTDOWN_RETRY {
                        error!(error = %e, events = events.len(), "store write keeps failing during shutdown; these events were NOT stored");
                        self.metrics.lost.increment(events.len() as u64);
                        break;
                    }
                    warn!(error = %e, events = events.len(), retry_in = ?delay, "store write failed; retrying (intake pushes back meanwhile)");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.metrics.queue_depth.decrement(events.len() as f64);
        self.publish_stats();
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
