//! Which sequence numbers of each sensor the core has stored.
//!
//! An edge numbers its events 1, 2, 3, ... and never reuses a number. The core keeps, per
//! sensor, the number below which everything is stored and the stored ranges above it: enough
//! to tell a duplicate (stored before, through another path or before a crash) from a new
//! event, to refuse numbers far ahead of anything seen (a sensor cannot burn the number space
//! or hide a gap by jumping), and to list the gaps that the monitor turns into event-loss
//! alarms when they stay open.
//!
//! Numbers count within the sensor's spool epoch ([`crate::epoch`]): the book keeps each
//! sensor's current epoch and those it superseded, and a new epoch starts the sensor's numbers
//! afresh.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::epoch::{Announced, Epoch, Epochs};

/// One sensor's stored numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorBook {
    /// Every number below this is stored.
    next: u64,
    /// Stored ranges above `next`, first → last (inclusive), disjoint and not adjacent.
    above: BTreeMap<u64, u64>,
}

impl Default for SensorBook {
    fn default() -> Self {
        SensorBook {
            next: 1,
            above: BTreeMap::new(),
        }
    }
}

/// A run of numbers missing between stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Gap {
    /// First missing number.
    pub first: u64,
    /// Last missing number.
    pub last: u64,
}

impl Gap {
    /// How many numbers are missing.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Never true: a gap has at least one number.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl SensorBook {
    /// Every number up to here is stored (0 when none).
    pub fn stored_through(&self) -> u64 {
        self.next - 1
    }

    /// The highest stored number (0 when none).
    pub fn highest(&self) -> u64 {
        self.above
            .last_key_value()
            .map_or(self.next - 1, |(_, &last)| last)
    }

    /// Whether `seq` is stored.
    pub fn contains(&self, seq: u64) -> bool {
        seq < self.next
            || self
                .above
                .range(..=seq)
                .next_back()
                .is_some_and(|(_, &last)| last >= seq)
    }

    /// Records `first..=last` as stored (numbers already stored are left as they are).
    pub fn insert(&mut self, first: u64, last: u64) {
        let mut start = first.max(self.next);
        if start > last {
            return;
        }
        let mut end = last;
        let touching: Vec<(u64, u64)> = self
            .above
            .range(..=end.saturating_add(1))
            .rev()
            .take_while(|&(_, &e)| e.saturating_add(1) >= start)
            .map(|(&s, &e)| (s, e))
            .collect();
        for (s, e) in touching {
            self.above.remove(&s);
            start = start.min(s);
            end = end.max(e);
        }
        if start == self.next {
            self.next = end.saturating_add(1);
        } else {
            self.above.insert(start, end);
        }
    }

    /// The stored runs, first → last, in order.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let below = (self.next > 1).then_some((1, self.next - 1));
        below
            .into_iter()
            .chain(self.above.iter().map(|(&s, &e)| (s, e)))
            .collect()
    }

    /// The missing runs below the highest stored number, in order.
    pub fn gaps(&self) -> Vec<Gap> {
        let mut gaps = Vec::new();
        let mut from = self.next;
        for (&s, &e) in &self.above {
            gaps.push(Gap {
                first: from,
                last: s - 1,
            });
            from = e + 1;
        }
        gaps
    }

    /// Whether a batch `first..first+count` may be accepted: numbers start at 1 and the batch
    /// ends at most `window` past the highest stored number.
    pub fn in_window(&self, first: u64, count: u64, window: u64) -> bool {
        let Some(last) = first.checked_add(count.saturating_sub(1)) else {
            return false;
        };
        first >= 1 && last <= self.highest().saturating_add(window)
    }
}

/// Every sensor's [`SensorBook`], under its current spool epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SequenceBook {
    sensors: HashMap<String, SensorBook>,
    /// Each sensor's epochs (none in a book saved before epochs: its sensors adopt the first
    /// they announce).
    #[serde(default)]
    epochs: HashMap<String, Epochs>,
}

impl SequenceBook {
    /// The current spool epoch of `sensor`, if it announced one.
    pub fn epoch(&self, sensor: &str) -> Option<Epoch> {
        self.epochs.get(sensor).and_then(Epochs::current)
    }

    /// Whether numbers of `sensor` under `epoch` count here: it is the sensor's current epoch,
    /// or the sensor has none.
    pub fn is_current(&self, sensor: &str, epoch: Epoch) -> bool {
        self.epoch(sensor).is_none_or(|current| current == epoch)
    }

    /// What `sensor` announcing `epoch` would be; changes nothing ([`Self::enter`] does).
    pub fn classify(&self, sensor: &str, epoch: Epoch) -> Announced {
        self.epochs
            .get(sensor)
            .map_or(Announced::Adopted, |epochs| epochs.classify(epoch))
    }

    /// Puts `epoch` in force for `sensor`, and returns what it was: adopted by a sensor without
    /// one (its numbers kept), or new, superseding the current one and starting the sensor's
    /// numbers afresh; a current or superseded epoch changes nothing.
    pub fn enter(&mut self, sensor: &str, epoch: Epoch) -> Announced {
        let epochs = self.epochs.entry(sensor.to_string()).or_default();
        let announced = epochs.classify(epoch);
        match announced {
            Announced::Adopted => epochs.supersede(epoch),
            Announced::New { .. } => {
                epochs.supersede(epoch);
                self.sensors.remove(sensor);
            }
            Announced::Current | Announced::Superseded { .. } => {}
        }
        announced
    }

    /// Forgets the numbers stored of `sensor`, keeping its epochs: its history restarted at
    /// this point of the store (rebuilding the book from stored events).
    pub fn restart_numbers(&mut self, sensor: &str) {
        self.sensors.remove(sensor);
    }

    /// The book of `sensor`, if it ever stored anything (under its current epoch).
    pub fn sensor(&self, sensor: &str) -> Option<&SensorBook> {
        self.sensors.get(sensor)
    }

    /// Records `first..=last` of `sensor` as stored (the sensor's name is copied only the
    /// first time: this runs for every event the core stores).
    pub fn insert(&mut self, sensor: &str, first: u64, last: u64) {
        match self.sensors.get_mut(sensor) {
            Some(book) => book.insert(first, last),
            None => {
                let mut book = SensorBook::default();
                book.insert(first, last);
                self.sensors.insert(sensor.to_string(), book);
            }
        }
    }

    /// Records everything `other` holds as stored here too, except the numbers of a sensor
    /// under an epoch `other` names that is not the sensor's current one here (its history
    /// restarted meanwhile).
    pub fn merge(&mut self, other: &SequenceBook) {
        for (sensor, book) in &other.sensors {
            if other
                .epoch(sensor)
                .is_some_and(|epoch| !self.is_current(sensor, epoch))
            {
                continue;
            }
            for (first, last) in book.ranges() {
                self.insert(sensor, first, last);
            }
        }
    }

    /// Whether `seq` of `sensor` is stored.
    pub fn contains(&self, sensor: &str, seq: u64) -> bool {
        self.sensors.get(sensor).is_some_and(|b| b.contains(seq))
    }

    /// Sensors and their books.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SensorBook)> {
        self.sensors.iter().map(|(k, v)| (k.as_str(), v))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn in_order_out_of_order_and_gaps() {
        let mut b = SensorBook::default();
        assert_eq!(b.stored_through(), 0);
        b.insert(1, 3);
        b.insert(7, 7);
        b.insert(9, 10);
        assert_eq!(b.stored_through(), 3);
        assert_eq!(b.highest(), 10);
        assert_eq!(
            b.gaps(),
            vec![Gap { first: 4, last: 6 }, Gap { first: 8, last: 8 }]
        );
        assert!(b.contains(2) && b.contains(7) && !b.contains(8) && !b.contains(11));
        b.insert(8, 8);
        assert_eq!(b.gaps(), vec![Gap { first: 4, last: 6 }]);
        b.insert(4, 6);
        assert_eq!(b.stored_through(), 10);
        assert!(b.gaps().is_empty());
        assert!(b.in_window(11, 100, 100) && !b.in_window(11, 101, 100));
        assert!(!b.in_window(0, 1, 100) && !b.in_window(u64::MAX, 2, 100));
    }

    #[test]
    fn a_new_epoch_restarts_the_numbers_and_merges_only_into_its_own_history() {
        let (a, b) = (Epoch([1; 16]), Epoch([2; 16]));
        let mut book = SequenceBook::default();
        book.insert("fw1", 1, 50);
        // A book from before epochs: the first epoch announced is adopted, numbers kept.
        assert_eq!(book.classify("fw1", a), Announced::Adopted);
        assert_eq!(book.epoch("fw1"), None, "classifying changes nothing");
        assert_eq!(book.enter("fw1", a), Announced::Adopted);
        assert_eq!(book.sensor("fw1").map(SensorBook::stored_through), Some(50));
        assert_eq!(book.enter("fw1", a), Announced::Current);
        assert_eq!(book.classify("fw1", b), Announced::New { previous: a });

        let mut kept = SequenceBook::default();
        kept.enter("fw1", a);
        kept.insert("fw1", 51, 60);
        assert_eq!(book.enter("fw1", b), Announced::New { previous: a });
        assert_eq!(book.enter("fw1", b), Announced::Current);
        assert!(book.sensor("fw1").is_none() && !book.contains("fw1", 1));
        // Numbers of the superseded history stored meanwhile do not count in the new one.
        book.merge(&kept);
        assert!(book.sensor("fw1").is_none());
        assert_eq!(book.enter("fw1", a), Announced::Superseded { current: b });
        assert_eq!(book.epoch("fw1"), Some(b));
        assert!(book.is_current("fw1", b) && !book.is_current("fw1", a));
        assert!(book.is_current("fw2", a), "a sensor without an epoch");

        let json = serde_json::to_string(&book).unwrap();
        assert_eq!(serde_json::from_str::<SequenceBook>(&json).unwrap(), book);
        let before_epochs: SequenceBook =
            serde_json::from_str(r#"{"sensors":{"fw1":{"next":8,"above":{}}}}"#).unwrap();
        assert_eq!(
            (
                before_epochs.epoch("fw1"),
                before_epochs.sensor("fw1").map(SensorBook::stored_through)
            ),
            (None, Some(7))
        );
    }

    proptest! {
        #[test]
        fn agrees_with_a_set(ops in proptest::collection::vec((1u64..200, 0u64..8), 0..60)) {
            let mut b = SensorBook::default();
            let mut model = BTreeSet::new();
            for (first, len) in ops {
                b.insert(first, first + len);
                model.extend(first..=first + len);
                for seq in 0..220 {
                    prop_assert_eq!(b.contains(seq), seq == 0 || model.contains(&seq));
                }
                let missing: u64 = b.gaps().iter().map(Gap::len).sum();
                let high = model.last().copied().unwrap_or(0);
                prop_assert_eq!(b.highest(), high);
                prop_assert_eq!(missing, high - model.len() as u64);
            }
        }
    }
}
