//! The core's checked clock. What the core dates (receive times, its own reports) and what age
//! retention measures from is its *proven time*: the wall clock at start, or the newest receive
//! time the store holds when the clock was behind it, advanced by the monotonic clock since
//! start. A wall clock that jumps while the core runs moves neither; [`watch`] raises the core
//! clock alarm (plugin 1000000001 sid 31) with the jump, and a second one (sid 33) when most
//! of the connected edges disagree with the core's clock in the same direction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_event::Timestamp;
use vigil_store::{CLOCK_TOLERANCE, ClockCheck};

use crate::bus::report::{BusIncident, Reporter};
use crate::metrics::Metrics;

/// How often [`watch`] looks.
const TICK: Duration = Duration::from_secs(1);
/// An edge's clock reading counts towards the majority for this long after it was taken.
const EDGE_READING_FRESH: Duration = Duration::from_secs(60);

/// The time the core goes by; see the module documentation.
pub struct CoreClock {
    started: Instant,
    /// The wall clock at start.
    wall_at_start: Timestamp,
    /// The proven time at start.
    base: Timestamp,
    /// When the clock was far ahead of the store's history at start: that history plus
    /// [`CLOCK_TOLERANCE`], the latest time age retention may measure from at start.
    retention_cap: Option<Timestamp>,
    /// Each edge's latest clock offset (the core's proven time minus the edge's, µs).
    edges: Mutex<HashMap<String, (i64, Instant)>>,
}

/// Most of the connected edges disagree with the core's clock in one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdgesDisagree {
    /// Their median offset: the core's proven time minus the edges' clocks, µs (positive: the
    /// core is ahead).
    pub offset_micros: i64,
    /// The edges that disagree, by name.
    pub edges: Vec<String>,
    /// The edges heard from recently.
    pub of: usize,
}

impl CoreClock {
    /// Starts the clock with the wall clock `wall` and the start check of the store's history.
    pub fn start(wall: Timestamp, check: ClockCheck) -> CoreClock {
        let (base, retention_cap) = match check {
            ClockCheck::Consistent => (wall, None),
            ClockCheck::Behind { newest, .. } => (newest, None),
            ClockCheck::Ahead { newest, .. } => (wall, Some(add(newest, CLOCK_TOLERANCE))),
        };
        CoreClock {
            started: Instant::now(),
            wall_at_start: wall,
            base,
            retention_cap,
            edges: Mutex::new(HashMap::new()),
        }
    }

    /// The proven time: what the core dates receive times and its own reports with.
    pub fn now(&self) -> Timestamp {
        add(self.base, self.started.elapsed())
    }

    /// The time age retention measures from: the earliest of the wall clock, the proven time
    /// and (after a start far ahead of the history) that history advanced since start.
    pub fn retention_now(&self) -> Timestamp {
        let elapsed = self.started.elapsed();
        let proven = add(self.base, elapsed);
        let capped = self
            .retention_cap
            .map_or(proven, |cap| proven.min(add(cap, elapsed)));
        Timestamp::now().min(capped)
    }

    /// How far the wall clock is from where it was at start advanced by the monotonic clock,
    /// µs (positive: it jumped ahead).
    pub fn drift_micros(&self) -> i64 {
        let expected = add(self.wall_at_start, self.started.elapsed());
        Timestamp::now()
            .as_micros()
            .saturating_sub(expected.as_micros())
    }

    /// Records `sensor`'s latest clock offset (the core's proven time minus the edge's, µs).
    pub fn edge_offset(&self, sensor: &str, offset_micros: i64) {
        let mut edges = self.edges.lock().unwrap_or_else(|p| p.into_inner());
        edges.insert(sensor.to_string(), (offset_micros, Instant::now()));
    }

    /// Each edge's latest clock offset, µs (the core's proven time minus the edge's).
    pub fn edge_offsets(&self) -> HashMap<String, i64> {
        let edges = self.edges.lock().unwrap_or_else(|p| p.into_inner());
        edges
            .iter()
            .map(|(name, (offset, _))| (name.clone(), *offset))
            .collect()
    }

    /// Whether at least two edges heard from recently, and more than half of them, differ from
    /// the core's clock by more than `limit` in the same direction: then it is the core's clock
    /// that is wrong, not theirs.
    pub fn edges_disagree(&self, limit: Duration) -> Option<EdgesDisagree> {
        let mut edges = self.edges.lock().unwrap_or_else(|p| p.into_inner());
        edges.retain(|_, (_, at)| at.elapsed() < EDGE_READING_FRESH);
        majority(
            edges
                .iter()
                .map(|(name, (offset, _))| (name.as_str(), *offset)),
            limit,
        )
    }
}

/// The majority rule of [`CoreClock::edges_disagree`] over (edge, offset µs) readings.
fn majority<'a>(
    readings: impl Iterator<Item = (&'a str, i64)>,
    limit: Duration,
) -> Option<EdgesDisagree> {
    let limit = i64::try_from(limit.as_micros()).unwrap_or(i64::MAX);
    let readings: Vec<(&str, i64)> = readings.collect();
    let of = readings.len();
    if of < 2 {
        return None;
    }
    [1i64, -1].into_iter().find_map(|sign| {
        let mut side: Vec<(&str, i64)> = readings
            .iter()
            .filter(|(_, offset)| {
                offset.signum() == sign && offset.unsigned_abs() > limit.unsigned_abs()
            })
            .copied()
            .collect();
        if side.len() * 2 <= of {
            return None;
        }
        side.sort_by_key(|(_, offset)| *offset);
        let offset_micros = side[side.len() / 2].1;
        let mut edges: Vec<String> = side.iter().map(|(name, _)| name.to_string()).collect();
        edges.sort();
        Some(EdgesDisagree {
            offset_micros,
            edges,
            of,
        })
    })
}

fn add(t: Timestamp, d: Duration) -> Timestamp {
    let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
    Timestamp::from_micros(t.as_micros().saturating_add(micros))
}

/// A length of µs (either sign) as text, to the second ("2d 3h", "1m 30s").
pub fn format_micros(micros: i64) -> String {
    format_span((micros.unsigned_abs() + 500_000) / 1_000_000)
}

/// A duration as text, to the minute ("30d", "2h 5m").
pub fn format_minutes(d: Duration) -> String {
    format_span((d.as_secs() + 30) / 60 * 60)
}

/// Seconds as days, hours, minutes and seconds, the zero ones left out ("100d", "1h 30s").
fn format_span(secs: u64) -> String {
    let parts = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    match text.is_empty() {
        true => "0s".into(),
        false => text.join(" "),
    }
}

/// Watches the core's clock until `shutdown`: a wall clock that moved more than
/// [`CLOCK_TOLERANCE`] away from the proven time since it was last in line raises the clock
/// alarm (sid 31), once per jump; most edges disagreeing with the core by more than
/// `skew_limit` raises sid 33, once per stretch of disagreement. Each is counted in
/// `vigil_core_clock_alarms_total`.
pub async fn watch(
    clock: Arc<CoreClock>,
    reporter: Reporter,
    metrics: Metrics,
    core: String,
    skew_limit: Duration,
    shutdown: CancellationToken,
) {
    let bound = i64::try_from(CLOCK_TOLERANCE.as_micros()).unwrap_or(i64::MAX);
    let mut reported_drift = 0i64;
    let mut edges_reported = false;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(TICK) => {}
        }
        let drift = clock.drift_micros();
        let jump = drift.saturating_sub(reported_drift);
        if jump.unsigned_abs() > bound.unsigned_abs() {
            reported_drift = drift;
            let detail = format!(
                "the wall clock jumped {} {} while running: it is now {} {} the time proven by the monotonic clock since start ({}); the core dates what it creates and measures age retention by the proven time",
                format_micros(jump),
                if jump > 0 { "ahead" } else { "back" },
                format_micros(drift),
                if drift >= 0 { "ahead of" } else { "behind" },
                clock.now(),
            );
            metrics.clock_alarms.increment(1);
            report(&reporter, &core, BusIncident::StoreClock, detail).await;
        }
        match clock.edges_disagree(skew_limit) {
            Some(found) if !edges_reported => {
                edges_reported = true;
                let detail = format!(
                    "{} of the {} edges heard from ({}) say the core's clock is {} {} theirs: the core's clock is wrong; their event times are kept as they are, and no per-edge skew alarm is raised",
                    found.edges.len(),
                    found.of,
                    found.edges.join(", "),
                    format_micros(found.offset_micros),
                    if found.offset_micros > 0 {
                        "ahead of"
                    } else {
                        "behind"
                    },
                );
                metrics.clock_alarms.increment(1);
                report(
                    &reporter,
                    &core,
                    BusIncident::CoreClockDisagreesWithEdges,
                    detail,
                )
                .await;
            }
            Some(_) => {}
            None if edges_reported => {
                edges_reported = false;
                info!("the edges agree with the core's clock again");
            }
            None => {}
        }
    }
}

async fn report(reporter: &Reporter, core: &str, incident: BusIncident, detail: String) {
    warn!(%detail, "the core's clock disagrees");
    reporter.report(incident, core, None, detail, None).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn most_edges_past_the_limit_in_one_direction_blame_the_core() {
        let limit = Duration::from_secs(30);
        let found = majority(
            [("a", 3600 * S), ("b", 3601 * S), ("c", 0)].into_iter(),
            limit,
        )
        .unwrap();
        assert_eq!(
            found,
            EdgesDisagree {
                offset_micros: 3601 * S,
                edges: vec!["a".into(), "b".into()],
                of: 3
            }
        );
        let behind = majority([("a", -100 * S), ("b", -90 * S)].into_iter(), limit).unwrap();
        assert_eq!(behind.offset_micros, -90 * S);
    }

    #[test]
    fn one_edge_a_split_or_a_small_offset_blames_no_one() {
        let limit = Duration::from_secs(30);
        assert_eq!(majority([("a", 3600 * S)].into_iter(), limit), None);
        assert_eq!(
            majority([("a", 3600 * S), ("b", -3600 * S)].into_iter(), limit),
            None
        );
        assert_eq!(
            majority(
                [("a", 3600 * S), ("b", 0), ("c", -3600 * S)].into_iter(),
                limit
            ),
            None
        );
        assert_eq!(
            majority([("a", 20 * S), ("b", 25 * S)].into_iter(), limit),
            None
        );
    }

    #[test]
    fn spans_read_in_days_hours_minutes_and_seconds() {
        assert_eq!(
            format_minutes(Duration::from_secs(100 * 86_400 + 20)),
            "100d"
        );
        assert_eq!(format_minutes(Duration::from_secs(30 * 86_400 - 5)), "30d");
        assert_eq!(format_micros(-(2 * 86_400 + 3600 + 90) * S), "2d 1h 1m 30s");
        assert_eq!(format_micros(400_000), "0s");
    }

    #[test]
    fn the_proven_time_starts_from_the_history_when_the_clock_is_behind_it() {
        let wall = Timestamp::now();
        let newest = add(wall, Duration::from_secs(30 * 86_400));
        let clock = CoreClock::start(
            wall,
            ClockCheck::Behind {
                newest,
                by: Duration::from_secs(30 * 86_400),
            },
        );
        assert!(clock.now() >= newest);
        assert!(
            clock.retention_now() < newest,
            "retention goes by the (earlier) clock"
        );
    }

    #[test]
    fn retention_after_a_start_far_ahead_goes_by_the_history() {
        let wall = Timestamp::now();
        let newest = Timestamp::from_micros(wall.as_micros() - 100 * 86_400 * S);
        let clock = CoreClock::start(
            wall,
            ClockCheck::Ahead {
                newest,
                by: Duration::from_secs(100 * 86_400),
                segments: 3,
            },
        );
        assert!(clock.now() >= wall, "nothing is dated in the past");
        let retention = clock.retention_now();
        assert!(retention >= add(newest, CLOCK_TOLERANCE));
        assert!(retention < add(newest, CLOCK_TOLERANCE + Duration::from_secs(60)));
    }
}
