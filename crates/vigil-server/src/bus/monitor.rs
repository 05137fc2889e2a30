//! Watches every sensor once a second: sequence numbers missing longer than `gap_timeout`
//! become an event-loss alarm naming the sensor, the range and its last heartbeat's counters
//! (an edge that dropped events from a full spool says so in `dropped`; once per range; the
//! further gaps of a sensor within a minute revise that alarm with their counts); a sensor seen
//! before that sends no heartbeat or batch for `silence_timeout` becomes a silent-sensor alarm
//! with its last counters (once, until it is heard from again, which completes the alarm), so
//! "quiet" (heartbeats keep coming, nothing to send) is told apart from "cut off" (nothing comes
//! at all). A sensor that said goodbye (stopped cleanly) is not silent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use vigil_bus::Gap;

use super::BusShared;

/// How often the monitor looks.
const TICK: Duration = Duration::from_secs(1);

/// Runs until `shutdown`.
pub async fn run(shared: Arc<BusShared>, shutdown: CancellationToken) {
    let mut first_seen: HashMap<(String, u64), Instant> = HashMap::new();
    let mut reported: HashSet<(String, Gap)> = HashSet::new();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                shared.reporter.revise().await;
                return;
            }
            () = tokio::time::sleep(TICK) => {}
        }
        let now = Instant::now();
        let gaps: Vec<(String, Gap)> = {
            let book = shared.book.lock().unwrap_or_else(|p| p.into_inner());
            book.iter()
                .flat_map(|(sensor, b)| b.gaps().into_iter().map(|g| (sensor.to_string(), g)))
                .collect()
        };
        let open: HashSet<(String, u64)> = gaps.iter().map(|(s, g)| (s.clone(), g.last)).collect();
        first_seen.retain(|key, _| open.contains(key));
        reported.retain(|(s, g)| open.contains(&(s.clone(), g.last)));
        for (sensor, gap) in gaps {
            let since = *first_seen.entry((sensor.clone(), gap.last)).or_insert(now);
            if now.duration_since(since) >= shared.config.gap_timeout
                && reported.insert((sensor.clone(), gap))
            {
                let detail = format!(
                    "sequence {}..={} ({} events) missing for {:?}; last heartbeat: {}",
                    gap.first,
                    gap.last,
                    gap.len(),
                    shared.config.gap_timeout,
                    shared.last_heartbeat(&sensor)
                );
                shared.reporter.event_loss(&sensor, gap, detail).await;
            }
        }
        shared.reporter.revise().await;
        for (event, alarm) in shared.silent_sensors(shared.config.silence_timeout) {
            shared.reporter.store(vec![event], vec![alarm]).await;
        }
    }
}
