//! How a spool is bounded and what it does when full.

use serde::{Deserialize, Serialize};

use crate::error::SpoolError;
use crate::format::HEADER_LEN;

/// What [`crate::Spool::append`] does when the append would take the spool over `max_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overflow {
    /// Refuse with [`SpoolError::Full`], writing nothing: the caller applies back-pressure.
    #[default]
    Block,
    /// Delete the oldest whole segments (acknowledged or not) until the append fits, and report
    /// the unacknowledged range lost in [`crate::Appended::dropped`].
    DropOldest,
}

/// Bounds and policy of a spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolOptions {
    /// Upper bound on the sum of the live segment files' sizes (default 1 GiB).
    pub max_bytes: u64,
    /// A segment is rolled over before it would exceed this size (default 64 MiB); a record
    /// larger than this gets a segment of its own.
    pub segment_bytes: u64,
    /// Largest payload accepted (default 16 MiB, at most `u32::MAX`).
    pub max_record_bytes: usize,
    /// What to do when an append does not fit (default [`Overflow::Block`]).
    pub overflow: Overflow,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            max_record_bytes: 16 << 20,
            overflow: Overflow::Block,
        }
    }
}

impl SpoolOptions {
    /// Checks that the bounds are usable.
    pub(crate) fn validate(&self) -> Result<(), SpoolError> {
        let bad = |what: &str| Err(SpoolError::InvalidOptions(what.to_owned()));
        if self.max_bytes <= HEADER_LEN {
            return bad("max_bytes must be larger than one record header (16 bytes)");
        }
        if self.segment_bytes == 0 {
            return bad("segment_bytes must be positive");
        }
        if self.max_record_bytes == 0 {
            return bad("max_record_bytes must be positive");
        }
        if u32::try_from(self.max_record_bytes).is_err() {
            return bad("max_record_bytes must fit in 32 bits");
        }
        Ok(())
    }
}
