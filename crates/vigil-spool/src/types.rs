//! The values the spool hands back.

use std::path::PathBuf;

/// One spooled event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// The bytes appended.
    pub payload: Vec<u8>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Sequence of the first payload appended (the others follow consecutively).
    pub first: u64,
    /// How many payloads were appended.
    pub count: u64,
    /// Under [`crate::Overflow::DropOldest`]: the unacknowledged sequences deleted to make
    /// room, `(first, last)` inclusive (some in between may have been acknowledged already).
    /// `None` if nothing unacknowledged was dropped.
    pub dropped: Option<(u64, u64)>,
}

/// A snapshot of the spool's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolStats {
    /// Records stored and not yet acknowledged.
    pub records_unacked: u64,
    /// Sum of the live segment files' sizes.
    pub bytes: u64,
    /// Number of live segment files.
    pub segments: usize,
    /// The sequence the next appended record will get.
    pub next_sequence: u64,
    /// The oldest unacknowledged sequence, if any.
    pub oldest_unacked: Option<u64>,
}

/// A torn tail cut off the last segment when the spool was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncatedTail {
    /// The segment file.
    pub path: PathBuf,
    /// Offset the file was cut at (the start of the first record that did not verify).
    pub offset: u64,
    /// Bytes removed.
    pub bytes: u64,
    /// Why the record there did not verify.
    pub reason: String,
}

/// A damaged range in a segment found when the spool was opened: its bytes were copied to a
/// quarantine file, then skipped; the records after it are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedRange {
    /// The segment file.
    pub path: PathBuf,
    /// First damaged byte.
    pub from: u64,
    /// End of the damaged bytes: where the next record starts, or the end of the file.
    pub to: u64,
    /// The sequences lost with it, inclusive; `None` if it held none (bytes inserted between
    /// records). At the end of a segment other than the last, every sequence up to the next
    /// segment: some may never have been there.
    pub lost: Option<(u64, u64)>,
    /// Why the frame at `from` did not verify.
    pub reason: String,
    /// The copy of the damaged bytes.
    pub quarantine: PathBuf,
}

/// A state file of the spool (`state.json` or `epoch.json`) found damaged when the spool was
/// opened: moved to the quarantine and rebuilt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedFile {
    /// The file.
    pub path: PathBuf,
    /// Its length.
    pub bytes: u64,
    /// Where it was moved: `<spool>/quarantine/<name>-0-<bytes>.bin`.
    pub quarantine: PathBuf,
    /// How it was rebuilt, in words (whether the epoch was kept, where numbering goes on, how
    /// many records are sent again).
    pub rebuilt: String,
}

/// What [`crate::Spool::open`] found and repaired.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Segment files kept.
    pub segments: usize,
    /// Complete records found in them (acknowledged or not).
    pub records: u64,
    /// Damaged ranges quarantined and skipped, in spool order.
    pub damaged: Vec<DamagedRange>,
    /// Damaged state files quarantined and rebuilt.
    pub damaged_files: Vec<DamagedFile>,
    /// Bytes cut off the torn tail of the last segment (0 if it was clean).
    pub truncated_bytes: u64,
    /// Details of the cut, if one was made.
    pub truncated: Option<TruncatedTail>,
    /// Segment files that held no complete record and were removed.
    pub empty_segments_removed: usize,
}
