//! Spool epochs. Every edge spool gets a random id when it is created, and the edge announces
//! it in [`crate::Hello`]. A sensor's sequence numbers mean something only within one epoch: an
//! edge whose spool was lost (reinstalled) numbers from 1 again under a new epoch, which the
//! core takes for a new history of the sensor, not for duplicates; an epoch the sensor has
//! moved on from is an earlier installation's spool (restored, replayed or rolled back) and is
//! refused.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// A spool's random 128-bit id, shown as 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Epoch(pub [u8; 16]);

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Superseded epochs remembered per sensor, the most recent; one older still, announced
/// again, is taken for a new history (and alarmed as one) instead of being refused.
pub const SUPERSEDED_KEPT: usize = 256;

/// What an epoch a sensor announces is to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Announced {
    /// The sensor had none (new, or known from before epochs): it is adopted, numbers kept.
    Adopted,
    /// Its current epoch.
    Current,
    /// A new one: the sensor's history restarts, `previous` is superseded.
    New {
        /// The epoch it supersedes.
        previous: Epoch,
    },
    /// One it superseded before: an earlier installation's spool.
    Superseded {
        /// The sensor's current epoch.
        current: Epoch,
    },
}

/// One sensor's epochs: the current one and those it superseded, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epochs {
    current: Option<Epoch>,
    superseded: VecDeque<Epoch>,
}

impl Epochs {
    /// The current epoch, if one was announced.
    pub fn current(&self) -> Option<Epoch> {
        self.current
    }

    /// What `epoch` is to this sensor.
    pub fn classify(&self, epoch: Epoch) -> Announced {
        match self.current {
            None => Announced::Adopted,
            Some(current) if current == epoch => Announced::Current,
            Some(current) if self.superseded.contains(&epoch) => Announced::Superseded { current },
            Some(previous) => Announced::New { previous },
        }
    }

    /// Makes `epoch` (neither current nor superseded) the current one; the one it replaces is
    /// superseded, and only the [`SUPERSEDED_KEPT`] most recent are remembered.
    pub fn supersede(&mut self, epoch: Epoch) {
        debug_assert!(matches!(
            self.classify(epoch),
            Announced::Adopted | Announced::New { .. }
        ));
        if let Some(previous) = self.current.replace(epoch) {
            self.superseded.push_back(previous);
            if self.superseded.len() > SUPERSEDED_KEPT {
                self.superseded.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adopted_current_new_and_superseded() {
        let (a, b, c) = (Epoch([1; 16]), Epoch([2; 16]), Epoch([3; 16]));
        let mut epochs = Epochs::default();
        assert_eq!(epochs.classify(a), Announced::Adopted);
        epochs.supersede(a);
        assert_eq!(epochs.classify(a), Announced::Current);
        assert_eq!(epochs.classify(b), Announced::New { previous: a });
        epochs.supersede(b);
        epochs.supersede(c);
        assert_eq!(epochs.current(), Some(c));
        assert_eq!(epochs.classify(a), Announced::Superseded { current: c });
        assert_eq!(epochs.classify(b), Announced::Superseded { current: c });
        assert_eq!(a.to_string(), "01".repeat(16));
    }

    #[test]
    fn only_the_most_recent_superseded_are_kept() {
        let epoch = |n: usize| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(n as u64).to_le_bytes());
            Epoch(id)
        };
        let mut epochs = Epochs::default();
        for n in 0..=SUPERSEDED_KEPT + 1 {
            epochs.supersede(epoch(n));
        }
        assert_eq!(epochs.superseded.len(), SUPERSEDED_KEPT);
        assert_eq!(
            epochs.classify(epoch(0)),
            Announced::New {
                previous: epoch(SUPERSEDED_KEPT + 1)
            }
        );
        assert!(matches!(
            epochs.classify(epoch(1)),
            Announced::Superseded { .. }
        ));
    }
}
