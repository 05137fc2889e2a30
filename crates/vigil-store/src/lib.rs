//! The embedded historian.
//!
//! A [`Log`] is a directory of append-only segment files. Each record is framed as
//! `[length u32][crc32c u32][payload]` and a batch is made durable with one `fdatasync` before
//! [`Log::append`] returns, so whatever it reported stored survives a crash; a torn tail
//! left by a crash is cut off when the log is next opened for writing.
//!
//! Damage in the middle of a segment (a bad record with valid ones after it) costs the damaged
//! records only: every reader resynchronises on the next well-formed record, and a writer first
//! copies the damaged bytes to `<log dir>/quarantine/` and reports them ([`Log::corruption`]).
//!
//! Each segment has an index (per-record offset and time, postings for source and destination
//! address, plugin id, plugin sid and sensor). The active segment's index lives in memory and is
//! rebuilt by scanning on open; a sealed segment's index is written beside it as a checksummed
//! sidecar (`.idx`), itself rebuilt from the segment if missing or damaged.
//!
//! [`Store`] holds the event log and the alarm log of one data directory; [`Store::open_audit`]
//! opens its audit log.

mod index;
mod log;
mod query;
mod record;
mod replace;
mod segment;
mod state_file;

use std::path::{Path, PathBuf};

pub use log::{
    CLOCK_TOLERANCE, ClockCheck, Corruption, Log, LogOptions, LogStats, RetentionReport,
};
pub use query::{Order, Query};
pub use record::{IndexFields, Record};
pub use replace::replace_file;
pub use state_file::{StateFile, read_state, write_state};
use vigil_event::{Alarm, AuditEntry, Event};

/// Errors of the historian. Every variant names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Another process holds the log open for writing.
    #[error(
        "{path} is locked by another process (is a vigil server already running on this data directory?)"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A record (or a batch) is too large to store; nothing of the batch was written.
    #[error(
        "{path}: a record of {size} bytes is too large to store (at most 16 MiB per record and 4 GiB per segment)"
    )]
    RecordTooLarge {
        /// The segment it was meant for.
        path: PathBuf,
        /// Its size.
        size: usize,
    },
    /// An index could not be encoded. (Damaged records are skipped and reported through
    /// [`Log::corruption`], never returned as errors.)
    #[error("{path}: record at byte {offset} is unreadable: {reason}")]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Offset of the record.
        offset: u64,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn io(
        action: &'static str,
        path: &Path,
    ) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.to_path_buf();
        move |source| StoreError::Io {
            action,
            path,
            source,
        }
    }
}

/// The event log and the alarm log of one data directory (`<data>/events`, `<data>/alarms`).
pub struct Store {
    /// Every accepted event.
    pub events: Log<Event>,
    /// Every alarm revision.
    pub alarms: Log<Alarm>,
}

impl Store {
    /// Opens (creating if needed) both logs for writing, recovering from any crash. Alarms are
    /// few and precious: their log is only bounded by size, never aged out, and their segments
    /// are not sealed by age (an alarm's time is its events' time, which can be old).
    pub fn open(data_dir: &Path, options: &LogOptions) -> Result<Store, StoreError> {
        Ok(Store {
            events: Log::open(&data_dir.join("events"), options.clone())?,
            alarms: Log::open(&data_dir.join("alarms"), Self::kept_forever(options))?,
        })
    }

    /// Opens (creating if needed) the audit log `<data>/audit` for writing, recovering from any
    /// crash like the other logs. Like alarms it is bounded by size only. It has its own lock,
    /// so the console can own it while the store writer owns the event and alarm logs.
    pub fn open_audit(
        data_dir: &Path,
        options: &LogOptions,
    ) -> Result<Log<AuditEntry>, StoreError> {
        Log::open(&data_dir.join("audit"), Self::kept_forever(options))
    }

    /// `options` for a log of few, precious records: never aged out, segments not sealed by
    /// age.
    fn kept_forever(options: &LogOptions) -> LogOptions {
        LogOptions {
            retention_max_age: None,
            segment_max_age: std::time::Duration::MAX,
            ..options.clone()
        }
    }
}
