//! Compromise and attack (C & A) levels per host (spec 7.1, the OSSIM 2.x model): every
//! qualified event adds its source risk to the source's compromise level and its destination
//! risk to the destination's attack level; every `interval` of event time, `recovery` is taken
//! off each level (never below 0). Crossing a threshold raises one alarm, re-armed once the
//! level falls back below it. Decay runs on event time, so replay gives the same levels.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::Timestamp;

/// Tunables of C & A levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelsConfig {
    /// Seconds of event time between two recoveries (OSSIM's scheduler interval, 15 s).
    pub interval_secs: u32,
    /// Taken off every level at each interval (OSSIM's `recovery`, 1).
    pub recovery: u32,
    /// A host whose compromise level reaches this raises an alarm (0 = never).
    pub compromise_threshold: u32,
    /// A host whose attack level reaches this raises an alarm (0 = never).
    pub attack_threshold: u32,
}

impl Default for LevelsConfig {
    fn default() -> Self {
        LevelsConfig {
            interval_secs: 15,
            recovery: 1,
            compromise_threshold: 30,
            attack_threshold: 30,
        }
    }
}

/// Which level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LevelKind {
    /// How compromised a host looks (as a source of risky events).
    Compromise,
    /// How attacked a host is (as a destination of risky events).
    Attack,
}

/// One host's level of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Level {
    value: u32,
    /// Event time up to which recovery has been applied.
    settled: Timestamp,
    /// An alarm was raised and the level has not fallen below the threshold since.
    alarmed: bool,
}

/// A threshold crossing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    /// The host.
    pub host: IpAddr,
    /// Which level.
    pub kind: LevelKind,
    /// Its value after the event.
    pub value: u32,
    /// The threshold it reached.
    pub threshold: u32,
}

/// The levels of every host with a non-zero level.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Levels {
    #[serde(with = "entries")]
    levels: BTreeMap<(IpAddr, LevelKind), Level>,
}

/// Serialises the map as a list of entries (JSON map keys must be strings).
mod entries {
    use std::collections::BTreeMap;
    use std::net::IpAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Level, LevelKind};

    type Map = BTreeMap<(IpAddr, LevelKind), Level>;

    pub fn serialize<S: Serializer>(map: &Map, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(map.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map, D::Error> {
        Vec::<((IpAddr, LevelKind), Level)>::deserialize(deserializer)
            .map(|v| v.into_iter().collect())
    }
}

impl Levels {
    /// Adds `risk` to a host's level at event time `time`; returns a crossing if this raised it to
    /// the threshold for the first time since it was last below.
    pub fn add(
        &mut self,
        config: &LevelsConfig,
        host: IpAddr,
        kind: LevelKind,
        risk: u8,
        time: Timestamp,
    ) -> Option<Crossing> {
        if risk == 0 || host.is_unspecified() {
            return None;
        }
        let threshold = match kind {
            LevelKind::Compromise => config.compromise_threshold,
            LevelKind::Attack => config.attack_threshold,
        };
        let level = self.levels.entry((host, kind)).or_insert(Level {
            value: 0,
            settled: time,
            alarmed: false,
        });
        settle(level, config, time, threshold);
        level.value = level.value.saturating_add(u32::from(risk));
        if threshold > 0 && level.value >= threshold && !level.alarmed {
            level.alarmed = true;
            return Some(Crossing {
                host,
                kind,
                value: level.value,
                threshold,
            });
        }
        None
    }

    /// A host's level at event time `time` (recovery applied).
    pub fn value(
        &self,
        config: &LevelsConfig,
        host: IpAddr,
        kind: LevelKind,
        time: Timestamp,
    ) -> u32 {
        self.levels.get(&(host, kind)).map_or(0, |level| {
            let mut level = *level;
            settle(&mut level, config, time, 0);
            level.value
        })
    }

    /// Applies recovery up to `time` everywhere and forgets hosts back at zero.
    pub fn sweep(&mut self, config: &LevelsConfig, time: Timestamp) {
        for ((_, kind), level) in self.levels.iter_mut() {
            let threshold = match kind {
                LevelKind::Compromise => config.compromise_threshold,
                LevelKind::Attack => config.attack_threshold,
            };
            settle(level, config, time, threshold);
        }
        self.levels.retain(|_, level| level.value > 0);
    }

    /// Hosts with a non-zero level.
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// Whether no host has a level.
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }
}

/// Applies the recoveries due between `level.settled` and `time` (whole intervals only).
fn settle(level: &mut Level, config: &LevelsConfig, time: Timestamp, threshold: u32) {
    let interval = i64::from(config.interval_secs.max(1)) * 1_000_000;
    let elapsed = time.as_micros().saturating_sub(level.settled.as_micros());
    if elapsed < interval {
        return;
    }
    let steps = elapsed / interval;
    let recovered = u64::try_from(steps)
        .unwrap_or(u64::MAX)
        .saturating_mul(u64::from(config.recovery));
    level.value = u32::try_from(u64::from(level.value).saturating_sub(recovered)).unwrap_or(0);
    level.settled = Timestamp::from_micros(
        level
            .settled
            .as_micros()
            .saturating_add(steps.saturating_mul(interval)),
    );
    if threshold == 0 || level.value < threshold {
        level.alarmed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "10.0.0.5";

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_secs(secs)
    }

    #[test]
    fn levels_rise_decay_on_event_time_and_alarm_once_per_crossing() {
        let config = LevelsConfig {
            interval_secs: 10,
            recovery: 2,
            compromise_threshold: 10,
            attack_threshold: 0,
        };
        let mut levels = Levels::default();
        let host: IpAddr = HOST.parse().unwrap();
        assert_eq!(
            levels.add(&config, host, LevelKind::Compromise, 4, t(0)),
            None
        );
        assert_eq!(
            levels.add(&config, host, LevelKind::Compromise, 4, t(5)),
            None
        );
        assert_eq!(levels.value(&config, host, LevelKind::Compromise, t(9)), 8);
        assert_eq!(
            levels.value(&config, host, LevelKind::Compromise, t(10)),
            6,
            "one interval: -2"
        );
        let crossing = levels.add(&config, host, LevelKind::Compromise, 5, t(10));
        assert_eq!(
            crossing,
            Some(Crossing {
                host,
                kind: LevelKind::Compromise,
                value: 11,
                threshold: 10
            })
        );
        assert_eq!(
            levels.add(&config, host, LevelKind::Compromise, 5, t(11)),
            None,
            "still above: no second alarm"
        );
        // 16 -> after 40 s (4 intervals, -8) 8 < 10: re-armed.
        assert_eq!(levels.value(&config, host, LevelKind::Compromise, t(50)), 8);
        assert!(
            levels
                .add(&config, host, LevelKind::Compromise, 3, t(50))
                .is_some(),
            "re-armed after falling below"
        );
        assert_eq!(
            levels.add(&config, host, LevelKind::Attack, 9, t(50)),
            None,
            "threshold 0: never"
        );
        levels.sweep(&config, t(1_000));
        assert!(
            levels.is_empty(),
            "everything recovered to zero and was forgotten"
        );
    }

    #[test]
    fn risk_zero_and_unspecified_hosts_leave_no_trace() {
        let config = LevelsConfig::default();
        let mut levels = Levels::default();
        assert_eq!(
            levels.add(&config, HOST.parse().unwrap(), LevelKind::Attack, 0, t(0)),
            None
        );
        assert_eq!(
            levels.add(
                &config,
                "0.0.0.0".parse().unwrap(),
                LevelKind::Attack,
                5,
                t(0)
            ),
            None
        );
        assert!(levels.is_empty());
    }
}
