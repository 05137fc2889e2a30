//! Bounded backlog state that a flood cannot turn against the analyst.
//!
//! Each directive holds at most `max_backlogs_per_directive` live backlogs, and each source
//! address at most `max_backlogs_per_source` of them. When a cap is reached the **least
//! advanced** backlog goes first (fewest fired levels, then fewest events counted at its current
//! level to a factor of two, then the oldest): an attacker who floods one-off events from many addresses evicts
//! his own one-off backlogs, never the brute force already under way. A new backlog always gets
//! in, so a cap filled with slightly advanced backlogs cannot keep a new attack out. Eviction
//! raises a "correlation state under pressure" alarm per directive ([`Pressure`]).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{Alarm, Timestamp, Uuid};

use crate::few::Few;

/// How far a backlog has come: fired levels in the high half; in the low half, the events
/// counted toward the next level to a factor of two (their bit length), so that a backlog is
/// ranked again only when its count doubles, not at every event. Higher is more advanced.
pub type Progress = u64;

/// The progress of a backlog with `levels` fired levels and `counted` events toward the next.
pub fn progress(levels: usize, counted: u64) -> Progress {
    ((levels.min(u32::MAX as usize) as u64) << 32) | u64::from(u64::BITS - counted.leading_zeros())
}

/// Live backlogs per directive, least advanced first, and per (directive, source).
#[derive(Debug, Default)]
pub struct Ranking {
    per_directive: HashMap<u32, BTreeSet<(Progress, u64)>>,
    /// Almost every source holds one backlog of a directive: kept inline, no tree per source.
    per_source: HashMap<(u32, IpAddr), Few<(Progress, u64)>>,
}

impl Ranking {
    /// Files backlog `seq` of `directive` started by `source` at `progress`.
    pub fn insert(&mut self, directive: u32, source: IpAddr, progress: Progress, seq: u64) {
        self.per_directive
            .entry(directive)
            .or_default()
            .insert((progress, seq));
        Few::add(&mut self.per_source, (directive, source), (progress, seq));
    }

    /// Removes what [`Ranking::insert`] filed.
    pub fn remove(&mut self, directive: u32, source: IpAddr, progress: Progress, seq: u64) {
        if let Some(set) = self.per_directive.get_mut(&directive) {
            set.remove(&(progress, seq));
            if set.is_empty() {
                self.per_directive.remove(&directive);
            }
        }
        Few::take(&mut self.per_source, (directive, source), (progress, seq));
    }

    /// Live backlogs of `directive`.
    pub fn len(&self, directive: u32) -> usize {
        self.per_directive.get(&directive).map_or(0, BTreeSet::len)
    }

    /// Live backlogs of `directive` started by `source`.
    pub fn len_of_source(&self, directive: u32, source: IpAddr) -> usize {
        self.per_source
            .get(&(directive, source))
            .map_or(0, |held| held.as_slice().len())
    }

    /// The least advanced (then oldest) backlog of `directive`.
    pub fn least(&self, directive: u32) -> Option<(Progress, u64)> {
        self.per_directive.get(&directive)?.first().copied()
    }

    /// The least advanced (then oldest) backlog of `directive` started by `source`.
    pub fn least_of_source(&self, directive: u32, source: IpAddr) -> Option<(Progress, u64)> {
        self.per_source
            .get(&(directive, source))?
            .as_slice()
            .iter()
            .min()
            .copied()
    }

    /// Drops everything (reload rebuilds it).
    pub fn clear(&mut self) {
        self.per_directive.clear();
        self.per_source.clear();
    }
}

/// Event time without eviction after which a directive's next eviction opens a new incident.
const QUIET_SECS: i64 = 3600;

/// A directive's run of evictions, raised as one alarm: revised at the 1st, 2nd, 4th, 8th...
/// eviction; a new incident after an hour of event time without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pressure {
    /// Alarm id.
    pub id: Uuid,
    /// Revisions emitted.
    pub revision: u32,
    /// Backlogs evicted (or not kept) so far.
    pub evicted: u64,
    /// Event time of the first eviction.
    pub first_seen: Timestamp,
    /// Event time of the latest.
    pub last_seen: Timestamp,
}

impl Pressure {
    /// A new incident for `directive` at `time`.
    pub fn new(directive: u32, time: Timestamp) -> Pressure {
        Pressure {
            id: crate::engine::derived_id(
                b"pressure",
                &[&directive.to_le_bytes(), &time.as_micros().to_le_bytes()],
            ),
            revision: 0,
            evicted: 0,
            first_seen: time,
            last_seen: time,
        }
    }

    /// Whether an eviction at `time` still belongs to this incident.
    pub fn continues_at(&self, time: Timestamp) -> bool {
        time.as_secs().saturating_sub(self.last_seen.as_secs()) <= QUIET_SECS
    }

    /// Counts `n` evictions at `time`; true when a revision is due.
    pub fn add(&mut self, n: u64, time: Timestamp) -> bool {
        let before = self.evicted;
        self.evicted += n;
        self.last_seen = self.last_seen.max(time);
        // A power of two was reached or passed.
        before == 0 || (before + 1..=self.evicted).any(u64::is_power_of_two)
    }

    /// The alarm revision: the directive, its cap, what was evicted, and the sources holding
    /// the most backlogs (`top`, most first).
    pub fn alarm(
        &mut self,
        directive: (u32, &str),
        cap: usize,
        live: usize,
        top: &[(IpAddr, usize)],
    ) -> Alarm {
        self.revision += 1;
        let sources: Vec<String> = top.iter().map(|(ip, n)| format!("{ip} ({n})")).collect();
        Alarm {
            revision: self.revision,
            directive_id: 0,
            // A source only when one stands out: among equals the first is no suspect.
            src_ip: match top {
                [(ip, n), ..] if *n > 1 => *ip,
                _ => IpAddr::from([0, 0, 0, 0]),
            },
            priority: 3,
            reliability: 10,
            risk: crate::risk::risk(3, 10, 2, 2).max(),
            last_seen: self.last_seen,
            event_count: self.evicted,
            ..Alarm::new(
                self.id,
                format!(
                    "Correlation state under pressure: directive {} ({}): {} backlogs evicted at the cap of {cap} ({live} live); top sources: {}",
                    directive.0,
                    directive.1,
                    self.evicted,
                    sources.join(", ")
                ),
                self.first_seen,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_advanced_then_oldest_goes_first() {
        let a = IpAddr::from([192, 0, 2, 1]);
        let b = IpAddr::from([192, 0, 2, 2]);
        let mut r = Ranking::default();
        r.insert(7, a, progress(1, 1), 0);
        r.insert(7, b, progress(1, 0), 1);
        r.insert(7, b, progress(1, 0), 2);
        r.insert(7, b, progress(2, 0), 3);
        assert_eq!(r.least(7), Some((progress(1, 0), 1)));
        assert_eq!(r.least_of_source(7, a), Some((progress(1, 1), 0)));
        assert_eq!((r.len(7), r.len_of_source(7, b)), (4, 3));
        r.remove(7, b, progress(1, 0), 1);
        assert_eq!(r.least(7), Some((progress(1, 0), 2)));
        assert!(progress(2, 0) > progress(1, u64::MAX));
        assert!(progress(1, 1) > progress(1, 0));
        assert_eq!(
            progress(1, 5),
            progress(1, 7),
            "ranked again only when the count doubles"
        );
    }

    #[test]
    fn revisions_at_powers_of_two() {
        let mut p = Pressure::new(1, Timestamp::from_secs(0));
        let due: Vec<u64> = (1..=9)
            .filter(|_| p.add(1, Timestamp::from_secs(0)))
            .collect();
        assert_eq!(due, vec![1, 2, 4, 8]);
        assert!(p.continues_at(Timestamp::from_secs(3600)));
        assert!(!p.continues_at(Timestamp::from_secs(3601)));
    }
}
