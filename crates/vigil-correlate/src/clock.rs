//! The engine's clock: which event times may move it, and which are out of bounds.
//!
//! Correlation runs on event time, so whoever dates an event could drag the engine's clock
//! (its watermark) and expire every live backlog with one event dated years ahead. No single
//! event or sensor may do that:
//!
//! * **Ahead.** An event may lie at most `max_ahead_secs` ahead of a reference the sender does
//!   not control: live, the core's clock when it received the event; in replay (there is no
//!   live clock), `replay_max_ahead_secs` ahead of the median time of the last [`RECENT`]
//!   replayed events, which no minority of them moves. The first replayed events have no
//!   median yet: they move no clock.
//! * **Behind.** An event may lie at most `max_behind_secs` behind the latest in-bounds time of
//!   its own sensor: an edge whose clock was wrong while it was offline is caught when its
//!   spool arrives, however late.
//!
//! An event out of bounds is still stored and correlated (at its own time, so it joins no
//! window it does not belong to), but moves no clock, and its sensor's time incident
//! ([`TimeIncidents`]) raises or revises an alarm.

use std::collections::{BTreeMap, VecDeque};

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{
    Alarm, CorrelationState, Event, Evidence, MAX_EVIDENCE_PER_LEVEL, Timestamp, Transport, Uuid,
};
use vigil_inventory::Assets;

/// How many recent replayed event times make the replay's reference.
pub const RECENT: usize = 31;

/// Most sensors whose clocks (and open time incidents) are kept: senders that name themselves
/// cannot grow the state without bound. Past it the first sensor in name order is forgotten
/// (only its "behind" check starts afresh).
pub const MAX_SENSORS: usize = 65_536;

/// Bounds on event times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockConfig {
    /// Seconds an event may lie ahead of the core's receive clock.
    pub max_ahead_secs: u32,
    /// Seconds a replayed event may lie ahead of the median of recent ones (logs fall quiet for
    /// hours, so this bound is wider than the live one).
    #[serde(default = "default_replay_max_ahead")]
    pub replay_max_ahead_secs: u32,
    /// Seconds an event may lie behind its sensor's latest in-bounds time.
    pub max_behind_secs: u32,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            max_ahead_secs: 300,
            replay_max_ahead_secs: default_replay_max_ahead(),
            max_behind_secs: 3600,
        }
    }
}

fn default_replay_max_ahead() -> u32 {
    7 * 86_400
}

/// Which bound an event's time broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Ahead of the core's clock when it received the event.
    #[default]
    AheadOfCore,
    /// Ahead of the median of the replayed events around it.
    AheadOfReplay,
    /// Behind the latest in-bounds time of its own sensor.
    BehindSensor,
}

impl Bound {
    /// How an alarm says it, with the offset in seconds.
    fn describe(self, secs: i64) -> String {
        let abs = secs.unsigned_abs();
        match self {
            Bound::AheadOfCore => format!("{abs} s ahead of the core's clock"),
            Bound::AheadOfReplay => format!("{abs} s ahead of the replayed events around it"),
            Bound::BehindSensor => format!("{abs} s behind its own clock"),
        }
    }
}

/// What the clock made of one event's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    /// Seconds out of bounds: positive ahead, negative behind; `None` in bounds.
    pub out_of_bounds_secs: Option<i64>,
    /// The bound broken (meaningful when out of bounds).
    pub bound: Bound,
    /// What the engine's clock may move to: an in-bounds correlation time, once it could be
    /// judged.
    pub advance_to: Option<Timestamp>,
    /// The trusted time the verdict was made against: the reference (ahead), the sensor's
    /// clock (behind), or the correlation time itself.
    pub against: Timestamp,
}

/// Per-sensor clocks and the replay's recent times.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// Latest in-bounds correlation time of each sensor.
    sensors: BTreeMap<String, Timestamp>,
    /// Correlation times of the latest replayed events, oldest first.
    recent: VecDeque<Timestamp>,
    /// The latest time the clock was allowed to move to: a replayed time not past it moves
    /// nothing, so it needs no reference.
    #[serde(default)]
    high: Option<Timestamp>,
}

impl Clock {
    /// Judges `time`, the correlation time of the input `event`, and records it.
    pub fn judge(&mut self, config: &ClockConfig, event: &Event, time: Timestamp) -> Judgement {
        let replayed = event.provenance.transport == Transport::Replay;
        let (reference, max_ahead) = if replayed {
            if self.recent.len() == RECENT {
                self.recent.pop_front();
            }
            self.recent.push_back(time);
            let reference = match self.high.is_some_and(|high| time <= high) {
                true => Some(time),
                false => self.replay_reference(),
            };
            (reference, config.replay_max_ahead_secs)
        } else {
            (Some(event.provenance.received_at), config.max_ahead_secs)
        };
        // Until the replay's reference exists nothing can tell an outlier from the rest: no
        // clock moves (`vigil replay --until` closes the windows of a short input).
        let advance_to = reference.map(|_| time);
        let ahead = reference
            .map(|r| time.as_secs().saturating_sub(r.as_secs()))
            .filter(|&secs| secs > i64::from(max_ahead));
        let own = self.sensors.get_mut(event.provenance.sensor.as_str());
        let behind = own
            .as_deref()
            .map(|own| time.as_secs().saturating_sub(own.as_secs()))
            .filter(|&secs| secs < -i64::from(config.max_behind_secs));
        let broken = match (ahead, behind) {
            (Some(secs), _) if replayed => Some((secs, Bound::AheadOfReplay)),
            (Some(secs), _) => Some((secs, Bound::AheadOfCore)),
            (None, Some(secs)) => Some((secs, Bound::BehindSensor)),
            (None, None) => None,
        };
        if let Some((secs, bound)) = broken {
            let against = Timestamp::from_micros(
                time.as_micros()
                    .saturating_sub(secs.saturating_mul(1_000_000)),
            );
            return Judgement {
                out_of_bounds_secs: Some(secs),
                bound,
                advance_to: None,
                against,
            };
        }
        match (own, advance_to) {
            (Some(own), Some(at)) => *own = (*own).max(at),
            (None, Some(at)) => {
                if self.sensors.len() >= MAX_SENSORS {
                    self.sensors.pop_first();
                }
                self.sensors.insert(event.provenance.sensor.clone(), at);
            }
            (_, None) => {}
        }
        if let Some(at) = advance_to {
            self.high = self.high.max(Some(at));
        }
        // A legacy agent's own date is not what correlation runs on (its receive time is), so
        // it moves nothing; but the event is stored and searched under it, so a date ahead of
        // the core's clock is marked and alarmed. A date behind it is an old log being read
        // late, which agents do.
        let device = (!replayed && event.time != time)
            .then(|| event.time.as_secs().saturating_sub(time.as_secs()))
            .filter(|&secs| secs > i64::from(config.max_ahead_secs))
            .map(|secs| (secs, Bound::AheadOfCore));
        Judgement {
            out_of_bounds_secs: device.map(|d| d.0),
            bound: device.map_or(Bound::AheadOfCore, |d| d.1),
            advance_to,
            against: time,
        }
    }

    /// The median of the recent replayed times, once there are enough of them that one outlier
    /// cannot be the median.
    fn replay_reference(&self) -> Option<Timestamp> {
        if self.recent.len() <= RECENT / 2 {
            return None;
        }
        let mut window = [Timestamp::MIN; RECENT];
        let n = self.recent.len();
        for (slot, time) in window.iter_mut().zip(&self.recent) {
            *slot = *time;
        }
        let (_, median, _) = window[..n].select_nth_unstable(n / 2);
        Some(*median)
    }
}

/// A sensor's run of out-of-bounds event times, raised as one alarm: revised at the 1st, 2nd,
/// 4th, 8th... such event, and completed when the sensor sends an in-bounds time again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeIncident {
    /// Alarm id.
    pub id: Uuid,
    /// Revisions emitted.
    pub revision: u32,
    /// Out-of-bounds events so far.
    pub count: u64,
    /// Trusted time of the first.
    pub first_seen: Timestamp,
    /// Trusted time of the latest.
    pub last_seen: Timestamp,
    /// Offset of the latest, in seconds.
    pub offset_secs: i64,
    /// Their ids (at most [`MAX_EVIDENCE_PER_LEVEL`]).
    pub events: Vec<Uuid>,
    /// The device whose clock it is.
    pub device: IpAddr,
    /// The bound the latest broke.
    #[serde(default)]
    pub bound: Bound,
    /// The count at the latest revision.
    #[serde(default)]
    pub revised_count: u64,
}

impl TimeIncident {
    /// Adds one out-of-bounds event; true when this count is a revision to emit.
    pub fn add(&mut self, event: Uuid, offset_secs: i64, bound: Bound, at: Timestamp) -> bool {
        self.count += 1;
        self.offset_secs = offset_secs;
        self.bound = bound;
        self.last_seen = self.last_seen.max(at);
        if self.events.len() < MAX_EVIDENCE_PER_LEVEL {
            self.events.push(event);
        }
        self.count.is_power_of_two()
    }

    /// The alarm revision for the incident so far (completed at `ended` if given): priority 3,
    /// reliability 10, risk from the device's asset value.
    pub fn alarm(&mut self, sensor: &str, assets: &Assets, ended: Option<Timestamp>) -> Alarm {
        let risk = crate::risk::risk(3, 10, assets.asset_value(self.device), 0).max();
        self.revision += 1;
        self.revised_count = self.count;
        let offset = self.bound.describe(self.offset_secs);
        Alarm {
            revision: self.revision,
            src_ip: self.device,
            priority: 3,
            reliability: 10,
            risk,
            last_seen: self.last_seen,
            correlation: match ended {
                Some(_) => CorrelationState::Completed,
                None => CorrelationState::Active,
            },
            ended_at: ended,
            event_count: self.count,
            evidence: vec![Evidence {
                level: 1,
                event_ids: self.events.clone(),
            }],
            evidence_omitted: self.count.saturating_sub(self.events.len() as u64),
            sensors: vec![sensor.to_string()],
            ..Alarm::new(
                self.id,
                format!("Event time out of bounds: sensor {sensor}, {offset}"),
                self.first_seen,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::Uuid;

    fn event(secs: i64, transport: Transport, received: i64, sensor: &str) -> Event {
        let mut e = Event::new(Uuid::nil(), Timestamp::from_secs(secs), 1, 1);
        e.provenance.transport = transport;
        e.provenance.received_at = Timestamp::from_secs(received);
        e.provenance.sensor = sensor.into();
        e
    }

    fn judge(clock: &mut Clock, e: &Event) -> Judgement {
        clock.judge(&ClockConfig::default(), e, e.time)
    }

    #[test]
    fn live_events_are_bounded_by_the_receive_clock_and_their_sensors_own() {
        let mut clock = Clock::default();
        let ok = judge(&mut clock, &event(1000, Transport::Bus, 1000, "a"));
        assert_eq!(ok.out_of_bounds_secs, None);
        assert_eq!(ok.advance_to, Some(Timestamp::from_secs(1000)));
        // 300 s ahead is the limit; 301 is out.
        assert_eq!(
            judge(&mut clock, &event(1300, Transport::Bus, 1000, "a")).out_of_bounds_secs,
            None
        );
        let far = judge(
            &mut clock,
            &event(1000 + 86_400 * 365, Transport::Bus, 1000, "a"),
        );
        assert_eq!(far.out_of_bounds_secs, Some(86_400 * 365));
        assert_eq!(far.advance_to, None);
        // Spooled events arrive late: in bounds while they keep up with their sensor's clock.
        assert_eq!(
            judge(&mut clock, &event(1300 - 3600, Transport::Bus, 90_000, "a")).out_of_bounds_secs,
            None
        );
        let back = judge(&mut clock, &event(1300 - 3601, Transport::Bus, 90_000, "a"));
        assert_eq!(back.out_of_bounds_secs, Some(-3601));
        // Another sensor has its own clock.
        assert_eq!(
            judge(&mut clock, &event(0, Transport::Bus, 90_000, "b")).out_of_bounds_secs,
            None
        );
    }

    #[test]
    fn a_legacy_agents_own_date_ahead_is_judged_but_moves_nothing() {
        let mut clock = Clock::default();
        let mut e = event(5000 + 86_400, Transport::OssimAgent, 5000, "agent");
        // Correlation runs on the receive time; the stored date is a day ahead of it.
        let j = clock.judge(&ClockConfig::default(), &e, Timestamp::from_secs(5000));
        assert_eq!(j.out_of_bounds_secs, Some(86_400));
        assert_eq!(j.bound, Bound::AheadOfCore);
        assert_eq!(j.advance_to, Some(Timestamp::from_secs(5000)));
        e.time = Timestamp::from_secs(5000 + 60);
        let j = clock.judge(&ClockConfig::default(), &e, Timestamp::from_secs(5000));
        assert_eq!(j.out_of_bounds_secs, None, "a minute off is no incident");
        e.time = Timestamp::from_secs(5000 - 400 * 86_400);
        let j = clock.judge(&ClockConfig::default(), &e, Timestamp::from_secs(5000));
        assert_eq!(j.out_of_bounds_secs, None, "an old log read late");
    }

    #[test]
    fn one_replayed_outlier_never_moves_the_replay_reference() {
        let mut clock = Clock::default();
        let mut moved = Vec::new();
        for n in 0..60 {
            let secs = if n == 0 || n == 3 || n == 20 {
                4_000_000_000
            } else {
                1000 + n
            };
            let j = judge(&mut clock, &event(secs, Transport::Replay, 0, "r"));
            if n == 20 {
                // The window holds lines 0..=20: three outliers and 18 others, median 1012.
                assert_eq!(j.out_of_bounds_secs, Some(4_000_000_000 - 1012));
            }
            moved.extend(j.advance_to);
        }
        assert!(moved.iter().all(|t| t.as_secs() < 1100), "{moved:?}");
        assert_eq!(
            moved.first(),
            Some(&Timestamp::from_secs(1000 + RECENT as i64 / 2)),
            "judged once there is a median"
        );
        assert_eq!(moved.last(), Some(&Timestamp::from_secs(1059)));
    }
}
