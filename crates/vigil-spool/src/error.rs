//! The spool's error type.

use std::io;
use std::path::PathBuf;

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// An I/O operation on a file or directory failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`"open"`, `"write"`, `"fsync"`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A segment holds a record that verifies under a sequence other than the one expected
    /// where it stands, or a record changed on disk since it was indexed: the spool refuses to
    /// guess. (Damaged bytes found at open are quarantined and skipped instead.)
    #[error("corrupt segment {} at offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the bad record in that file.
        offset: u64,
        /// What did not verify.
        reason: String,
    },
    /// A state file the spool cannot use and will not guess about: `state.json` of another
    /// version, or `epoch.json` naming another epoch than `state.json`. (A damaged one is
    /// quarantined and rebuilt instead.)
    #[error("bad state file {}: {reason}", path.display())]
    BadState {
        /// The state file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// Another `Spool` (in this or another process) holds the directory's lock.
    #[error("spool directory {} is in use by another writer", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The append does not fit under `max_bytes` and the overflow policy is `Block`: nothing
    /// was written; retry once acknowledgements have freed space.
    #[error("spool full: append needs {needed} bytes, {free} free")]
    Full {
        /// Bytes the append would add (records with their headers).
        needed: u64,
        /// Bytes free under `max_bytes`.
        free: u64,
    },
    /// The append alone is larger than `max_bytes`: it can never fit.
    #[error("append of {needed} bytes can never fit in a spool of at most {max_bytes} bytes")]
    TooLarge {
        /// Bytes the append would add (records with their headers).
        needed: u64,
        /// The configured bound.
        max_bytes: u64,
    },
    /// One payload is larger than `max_record_bytes`.
    #[error("payload {index} of the append is {len} bytes, more than the {max} allowed")]
    RecordTooLarge {
        /// Index of the payload within the append.
        index: usize,
        /// Its length.
        len: usize,
        /// The configured `max_record_bytes`.
        max: usize,
    },
    /// The options make no sense (a zero bound, a record limit above 4 GiB, ...).
    #[error("invalid spool options: {0}")]
    InvalidOptions(String),
    /// The operating system gave no random bytes for a new spool's epoch.
    #[error("no randomness for the spool epoch: {0}")]
    NoRandomness(String),
    /// Sequence numbers are exhausted (u64 wrapped).
    #[error("sequence numbers exhausted")]
    SequenceOverflow,
    /// A failed write could not be rolled back, so the files may no longer match the in-memory
    /// index; drop this `Spool` and open the directory again (which rescans and repairs).
    #[error("spool is unusable after a failed write that could not be undone; reopen it")]
    Poisoned,
}

impl SpoolError {
    /// An [`SpoolError::Io`] for `op` on `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
