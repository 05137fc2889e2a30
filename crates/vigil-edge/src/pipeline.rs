//! The edge's one ordered stage, on its own thread: aggregation of event showers, site-local
//! correlation (the core's analysis, with the edge's directives; its alarms and directive
//! events are stored in the edge's data directory and the directive events are forwarded),
//! then pseudonymisation of everything that leaves, then the output queue.
//!
//! File positions travel with the events read before them and are released to the output
//! only when none of those events is still held in an open aggregate, so a saved position
//! never skips an event that was not sent. RELP receipts travel the same way, so a sender
//! hears its lines are written only once all of them are.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};
use vigil_analysis::analysis::Analyzer;
use vigil_event::{Event, Timestamp};
use vigil_store::Store;

use crate::aggregate::{AggregationStats, Aggregator};
use crate::anonymize::Anonymizer;
use crate::metrics::EdgeMetrics;
use crate::queue::{QueueControl, QueueSender, Queued};
use crate::source::{Batch, FileMark, Receipt};

/// What the output receives: events to send, then file positions to save once they are.
#[derive(Default)]
pub struct ForwardBatch {
    /// Events, in order.
    pub events: Vec<Event>,
    /// Positions of files whose lines up to there are all in this batch or earlier ones.
    pub marks: Vec<FileMark>,
    /// Receipts of batches whose events are all in this batch or earlier ones: confirmed
    /// once this batch is written.
    pub receipts: Vec<Receipt>,
}

impl ForwardBatch {
    /// Whether there is nothing to write, save or confirm.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.marks.is_empty() && self.receipts.is_empty()
    }
}

/// What waits for the events before it to leave the aggregator.
enum Held {
    Mark(FileMark),
    Receipt(Receipt),
}

/// Site-local correlation: the analysis and where its results are kept.
pub struct EdgeCorrelation {
    /// The analysis (sid tables, policies, directives).
    pub analyzer: Analyzer,
    /// The edge's store: directive events and alarms.
    pub store: Store,
    /// The data directory (for the engine's saved state).
    pub data_dir: PathBuf,
    /// How often the engine state is saved.
    pub snapshot_interval: Duration,
}

/// The pipeline's state.
pub struct Pipeline {
    aggregator: Aggregator,
    correlation: Option<EdgeCorrelation>,
    anonymizer: Option<Anonymizer>,
    metrics: EdgeMetrics,
    /// File positions waiting for the events before them to leave the aggregator.
    held: VecDeque<(u64, Held)>,
    last_snapshot: Instant,
}

impl Pipeline {
    /// A pipeline with these stages.
    pub fn new(
        aggregator: Aggregator,
        correlation: Option<EdgeCorrelation>,
        anonymizer: Option<Anonymizer>,
        metrics: EdgeMetrics,
    ) -> Pipeline {
        Pipeline {
            aggregator,
            correlation,
            anonymizer,
            metrics,
            held: VecDeque::new(),
            last_snapshot: Instant::now(),
        }
    }

    /// Runs one batch through; what is ready to leave goes to `out`.
    pub fn process(&mut self, batch: Batch, out: &mut ForwardBatch) {
        let mut stats = AggregationStats::default();
        let mut ready = Vec::new();
        self.aggregator
            .push_all(batch.events, &mut stats, &mut ready);
        let pushed = self.aggregator.pushed();
        if let Some(mark) = batch.mark {
            self.held.push_back((pushed, Held::Mark(mark)));
        }
        if let Some(receipt) = batch.receipt {
            self.held.push_back((pushed, Held::Receipt(receipt)));
        }
        self.metrics.aggregated.increment(stats.collapsed);
        self.leave(ready, out);
    }

    /// Emits aggregates whose window ended before `now`, and saves the correlation state when
    /// it is due.
    pub fn tick(&mut self, now: Timestamp, out: &mut ForwardBatch) {
        let mut stats = AggregationStats::default();
        let mut ready = Vec::new();
        self.aggregator.flush(now, &mut stats, &mut ready);
        self.leave(ready, out);
        if let Some(c) = &self.correlation
            && self.last_snapshot.elapsed() >= c.snapshot_interval
        {
            self.save_state();
        }
    }

    /// Emits everything still held and saves the correlation state (at shutdown).
    pub fn finish(&mut self, out: &mut ForwardBatch) {
        let mut stats = AggregationStats::default();
        let mut ready = Vec::new();
        self.aggregator.drain(&mut stats, &mut ready);
        self.leave(ready, out);
        if self.correlation.is_some() {
            self.save_state();
        }
    }

    fn save_state(&mut self) {
        self.last_snapshot = Instant::now();
        if let Some(c) = &self.correlation
            && let Err(e) =
                vigil_analysis::correlation::save_state(&c.data_dir, &c.analyzer, &c.store)
        {
            warn!(error = %e, "cannot save the edge correlation state");
        }
    }

    /// Correlates, pseudonymises and hands over events that left the aggregator, then the
    /// file positions no held event precedes.
    fn leave(&mut self, mut ready: Vec<Event>, out: &mut ForwardBatch) {
        if self.correlation.is_none() && self.anonymizer.is_none() {
            match out.events.is_empty() {
                true => out.events = ready,
                false => out.events.append(&mut ready),
            }
            ready = Vec::new();
        }
        for event in ready {
            let directive_events = self.correlate(&event);
            for mut e in std::iter::once(event).chain(directive_events) {
                if let Some(anonymizer) = &self.anonymizer {
                    anonymizer.anonymize(&mut e);
                    self.metrics.anonymized.increment(1);
                }
                out.events.push(e);
            }
        }
        while let Some((pushed, _)) = self.held.front() {
            if !self.aggregator.emitted_before(*pushed) {
                break;
            }
            match self.held.pop_front() {
                Some((_, Held::Mark(mark))) => out.marks.push(mark),
                Some((_, Held::Receipt(receipt))) => out.receipts.push(receipt),
                None => {}
            }
        }
    }

    /// Edge correlation of one event: stores its directive events and alarms, returns the
    /// directive events (to be forwarded too).
    fn correlate(&mut self, event: &Event) -> Vec<Event> {
        let Some(c) = &mut self.correlation else {
            return Vec::new();
        };
        let analysis = c.analyzer.analyze(event.clone());
        let directive_events: Vec<Event> = analysis
            .events
            .into_iter()
            .filter(|e| e.id != event.id)
            .collect();
        self.metrics
            .directive_events
            .increment(directive_events.len() as u64);
        self.metrics.alarms.increment(analysis.alarms.len() as u64);
        for alarm in &analysis.alarms {
            info!(alarm = %alarm.id, directive = alarm.directive_id, risk = alarm.risk, name = %alarm.name, "edge alarm");
        }
        if let Err(e) = c.store.events.append(&directive_events) {
            self.metrics.store_errors.increment(1);
            warn!(error = %e, "cannot store edge directive events (they are still forwarded)");
        }
        if let Err(e) = c.store.alarms.append(&analysis.alarms) {
            self.metrics.store_errors.increment(1);
            warn!(error = %e, "cannot store edge alarms (their directive events are still forwarded)");
        }
        directive_events
    }
}

/// Runs the pipeline on the current thread until every source has stopped and the queue is
/// empty; then drains it and closes the output queue (by dropping it). If the output stops
/// taking batches (it gave up at shutdown), everything still in the pipeline and its queue is
/// counted as lost.
pub fn run(
    mut pipeline: Pipeline,
    mut input: UnboundedReceiver<Queued<Batch>>,
    input_control: QueueControl,
    output: QueueSender<ForwardBatch>,
    runtime: tokio::runtime::Handle,
) {
    let tick = Duration::from_millis(500);
    loop {
        let received = runtime.block_on(async { tokio::time::timeout(tick, input.recv()).await });
        let mut out = ForwardBatch::default();
        let done = match received {
            Ok(Some(queued)) => {
                pipeline.process(queued.item, &mut out);
                false
            }
            Ok(None) => {
                pipeline.finish(&mut out);
                true
            }
            Err(_) => {
                pipeline.tick(Timestamp::now(), &mut out);
                false
            }
        };
        pipeline
            .metrics
            .queue_depth
            .set(input_control.depth() as f64);
        if !out.is_empty() {
            let n = out.events.len();
            if runtime.block_on(output.send(out, n)).is_err() {
                // The output gave up: what it was handed and all that is left here is lost.
                let mut rest = ForwardBatch::default();
                pipeline.finish(&mut rest);
                input.close();
                let mut lost = (n + rest.events.len()) as u64;
                while let Some(queued) = runtime.block_on(input.recv()) {
                    lost += queued.item.events.len() as u64;
                }
                pipeline.metrics.lose(lost);
                warn!(lost, "the output stopped before the pipeline was empty");
                return;
            }
        }
        if done {
            return;
        }
    }
}
