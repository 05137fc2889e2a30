//! Reconciling the two state files at open: the epoch from whichever verifies, the numbering's
//! floor from both, the acknowledgements from `state.json` only (without it, nothing is
//! provably acknowledged: the records still in segments are sent again and the core drops
//! the ones it already stores).

use crate::error::SpoolError;
use crate::state::{self, Read};
use crate::types::DamagedFile;

/// What the state files say.
pub(super) struct Saved {
    /// The epoch one of them holds; `None` if neither does (a new spool, one from before
    /// epochs, or both files damaged).
    pub(super) epoch: Option<[u8; 16]>,
    /// No sequence below this is given again: the higher of `state.json`'s next sequence and
    /// `epoch.json`'s floor (0 if neither verified).
    pub(super) floor: u64,
    /// The acknowledged ranges of a `state.json` that verified.
    pub(super) acked: Vec<(u64, u64)>,
    /// `state.json`'s next sequence, if it verified (else 0).
    pub(super) state_next: u64,
    /// `epoch.json`'s floor, if it verified (else 0).
    pub(super) epoch_floor: u64,
    /// `state.json` verified and holds the epoch: it need not be written at open.
    pub(super) state_whole: bool,
    /// `epoch.json` verified: it need not be written at open.
    pub(super) epoch_whole: bool,
    /// The files found damaged (quarantined), `state.json` first.
    pub(super) damaged: Vec<DamagedFile>,
}

/// Reads and reconciles `dir`'s `state.json` and `epoch.json`. Two that verify but name
/// different epochs are [`SpoolError::BadState`]: the spool refuses to guess.
pub(super) fn load(dir: &std::path::Path) -> Result<Saved, SpoolError> {
    let state = state::load(dir)?;
    let numbering = state::load_numbering(dir)?;
    let in_state = state.valid().and_then(|s| s.epoch);
    let in_numbering = numbering.valid().and_then(|n| n.epoch);
    let epoch = match (in_state, in_numbering) {
        (Some(a), Some(b)) if a != b => {
            return Err(SpoolError::BadState {
                path: state::epoch_path(dir),
                reason: format!(
                    "epoch {} differs from state.json's {}",
                    state::hex(&b),
                    state::hex(&a)
                ),
            });
        }
        (Some(e), _) | (None, Some(e)) => Some(e),
        (None, None) => None,
    };
    let state_next = state.valid().map_or(0, |s| s.next_sequence);
    let epoch_floor = numbering.valid().map_or(0, |n| n.floor);
    let state_whole = in_state.is_some();
    let epoch_whole = numbering.valid().is_some();
    let mut damaged = Vec::new();
    let acked = match state {
        Read::Valid(s) => s.acked,
        Read::Damaged(found) => {
            damaged.push(found);
            Vec::new()
        }
        Read::Missing => Vec::new(),
    };
    if let Read::Damaged(found) = numbering {
        damaged.push(found);
    }
    Ok(Saved {
        epoch,
        floor: state_next.max(epoch_floor),
        acked,
        state_next,
        epoch_floor,
        state_whole,
        epoch_whole,
        damaged,
    })
}
