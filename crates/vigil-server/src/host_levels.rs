//! The compromise and attack (C & A) levels of hosts, as the correlation engine in the store
//! writer holds them, published after each batch for the hosts that batch touched (only when
//! they changed), with a bounded history per host: what the console shows of hosts. A level is
//! as of the host's latest event (decay since is not applied).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::RwLock;

use serde::Serialize;
use vigil_event::Timestamp;

/// Points of history kept per host.
pub const HISTORY: usize = 240;
/// Most hosts tracked; hosts beyond are not (the first ones stay).
pub const MAX_HOSTS: usize = 100_000;

/// A host's levels at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LevelPoint {
    /// Event time of the levels (the engine's clock).
    #[schema(value_type = String, format = DateTime)]
    pub time: Timestamp,
    /// Compromise level.
    pub compromise: u32,
    /// Attack level.
    pub attack: u32,
}

/// Every tracked host's levels over time, newest last.
#[derive(Debug, Default)]
pub struct HostLevels {
    hosts: RwLock<HashMap<IpAddr, VecDeque<LevelPoint>>>,
}

impl HostLevels {
    /// Records each `(host, compromise, attack)` of `levels` at `time` where it changed; a host
    /// not yet tracked is only tracked once a level is above 0.
    pub fn publish(&self, time: Timestamp, levels: impl IntoIterator<Item = (IpAddr, u32, u32)>) {
        let mut hosts = self.hosts.write().unwrap_or_else(|p| p.into_inner());
        for (host, compromise, attack) in levels {
            let point = LevelPoint {
                time,
                compromise,
                attack,
            };
            let tracked = hosts.len();
            match hosts.get_mut(&host) {
                Some(history) => {
                    if history
                        .back()
                        .is_some_and(|last| (last.compromise, last.attack) == (compromise, attack))
                    {
                        continue;
                    }
                    if history.len() == HISTORY {
                        history.pop_front();
                    }
                    history.push_back(point);
                }
                None if (compromise, attack) == (0, 0) || tracked >= MAX_HOSTS => {}
                None => {
                    hosts.insert(host, VecDeque::from([point]));
                }
            }
        }
    }

    /// Every tracked host with its latest levels.
    pub fn latest(&self) -> Vec<(IpAddr, LevelPoint)> {
        let hosts = self.hosts.read().unwrap_or_else(|p| p.into_inner());
        hosts
            .iter()
            .filter_map(|(host, history)| Some((*host, *history.back()?)))
            .collect()
    }

    /// The levels of `host` over time, oldest first (empty when it is not tracked).
    pub fn history(&self, host: IpAddr) -> Vec<LevelPoint> {
        let hosts = self.hosts.read().unwrap_or_else(|p| p.into_inner());
        hosts
            .get(&host)
            .map(|h| h.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_are_kept_and_history_is_bounded() {
        let levels = HostLevels::default();
        let a: IpAddr = "10.0.0.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let b: IpAddr = "10.0.0.6".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        levels.publish(Timestamp::from_secs(1), [(a, 0, 4), (b, 0, 0)]);
        levels.publish(Timestamp::from_secs(2), [(a, 0, 4)]);
        levels.publish(Timestamp::from_secs(3), [(a, 0, 8)]);
        let times: Vec<i64> = levels
            .history(a)
            .iter()
            .map(|p| p.time.as_micros())
            .collect();
        assert_eq!(times, [1_000_000, 3_000_000]);
        assert!(levels.history(b).is_empty());
        for n in 0..(HISTORY as u32 + 10) {
            levels.publish(Timestamp::from_secs(10 + i64::from(n)), [(a, n, 0)]);
        }
        assert_eq!(levels.history(a).len(), HISTORY);
        assert_eq!(levels.latest().len(), 1);
    }
}
