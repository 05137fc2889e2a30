//! The [`Spool`] itself: its in-memory state, opening a directory, and the read-only queries.
//! Appending, reading records and acknowledging live in the child modules.

mod ack;
mod append;
mod read;
mod saved;

use std::collections::VecDeque;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::SpoolError;
use crate::format::{HEADER_LEN, parse_segment_name};
use crate::options::SpoolOptions;
use crate::ranges::RangeSet;
use crate::segment::Segment;
use crate::state;
use crate::types::{OpenReport, SpoolStats};

/// Name of the lock file that keeps a second writer out of the directory.
const LOCK_FILE: &str = "lock";

/// A durable, bounded, numbered store-and-forward queue in one directory.
///
/// Single writer: mutating calls take `&mut self`, and an exclusive lock on `dir/lock` keeps
/// other processes (and other `Spool`s) out. All calls are blocking file I/O.
#[derive(Debug)]
pub struct Spool {
    /// The spool directory.
    dir: PathBuf,
    /// Bounds and policy.
    options: SpoolOptions,
    /// Live segments, oldest first; sequences ascend across them.
    segments: VecDeque<Segment>,
    /// Acknowledged sequences, only ever within live segments.
    acked: RangeSet,
    /// This spool's random id, made when the spool was created: numbers mean something only
    /// within one epoch.
    epoch: [u8; 16],
    /// Sequence of the next record appended.
    next_sequence: u64,
    /// `next_sequence` as last written to `state.json` (0 if never written).
    durable_next: u64,
    /// The floor as last written to `epoch.json` (0 if never written).
    durable_floor: u64,
    /// The acknowledgements changed since `state.json` was written.
    state_dirty: bool,
    /// The last segment accepts appends (it is ours to extend, with matching numbering).
    tail_open: bool,
    /// Sum of the live segments' sizes.
    bytes: u64,
    /// Records in live segments not acknowledged.
    records_unacked: u64,
    /// What opening found.
    report: OpenReport,
    /// Encoding buffer reused across appends.
    buf: Vec<u8>,
    /// Record starts within `buf`, reused across appends.
    starts: Vec<u64>,
    /// A failed write could not be undone: refuse further appends.
    poisoned: bool,
    /// Held for the exclusive lock on the directory.
    _lock: File,
}

impl Spool {
    /// Opens (creating if missing, mode 0700) the spool in `dir`.
    ///
    /// Reads `state.json` and `epoch.json` and verifies every segment. A torn tail of the last
    /// segment (a crash mid-write) is cut off, logged and reported in [`Spool::open_report`].
    /// A damaged range anywhere else is quarantined, skipped, logged and reported there too:
    /// the sequences it held count as acknowledged (never read, never sent again) and are
    /// never given again. A record that verifies under the wrong sequence is
    /// [`SpoolError::Corrupt`] naming the file and offset.
    ///
    /// A damaged state file is quarantined, logged, reported there and rebuilt: the epoch from
    /// the other file, the numbering from the segments and both files' floors, and no
    /// acknowledgement beyond the damaged records' (so what is still spooled is sent again).
    ///
    /// A spool without an epoch (a new one, one from before epochs, or one whose two state
    /// files were both damaged) gets a random one, written durably to both files before this
    /// returns.
    pub fn open(dir: impl AsRef<Path>, options: SpoolOptions) -> Result<Self, SpoolError> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let created = !dir.exists();
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| SpoolError::io("create directory", &dir, e))?;
        if let Some(parent) = dir
            .parent()
            .filter(|p| created && !p.as_os_str().is_empty())
        {
            state::sync_dir(parent)?;
        }
        let lock = lock_dir(&dir)?;
        let saved = saved::load(&dir)?;
        let epoch = match saved.epoch {
            Some(epoch) => epoch,
            None => state::new_epoch()?,
        };
        let (mut segments, mut report) = open_segments(&dir)?;
        if let Some(last) = segments.back_mut() {
            last.make_appendable()?;
        }

        let lost: Vec<(u64, u64)> = report.damaged.iter().filter_map(|d| d.lost).collect();
        let last_next = segments.back().map_or(1, Segment::next_seq);
        let past_lost = lost.iter().map(|&(_, last)| last + 1).max().unwrap_or(0);
        let next_sequence = last_next.max(saved.floor).max(past_lost).max(1);
        let tail_open = segments.back().is_some_and(|s| {
            s.next_seq() == next_sequence
                && s.ends_clean()
                && s.size() + HEADER_LEN <= options.segment_bytes
        });
        report.damaged_files = saved.damaged;
        let mut spool = Self {
            bytes: segments.iter().map(Segment::size).sum(),
            records_unacked: segments.iter().map(Segment::len).sum(),
            dir,
            options,
            segments,
            acked: RangeSet::default(),
            epoch,
            next_sequence,
            durable_next: saved.state_next,
            durable_floor: saved.epoch_floor,
            state_dirty: false,
            tail_open,
            report,
            buf: Vec::new(),
            starts: Vec::new(),
            poisoned: false,
            _lock: lock,
        };
        for (a, b) in saved.acked.into_iter().chain(lost) {
            spool.apply_ack(a, b);
        }
        spool.state_dirty = false;
        spool.delete_acked_segments()?;
        // Durable before anything is numbered under the epoch.
        if !saved.epoch_whole {
            spool.write_numbering()?;
        }
        if !saved.state_whole {
            spool.write_state()?;
        }
        if saved.epoch.is_none() {
            tracing::info!(dir = %spool.dir.display(), epoch = %state::hex(&epoch), "new spool epoch");
        }
        spool.describe_rebuilt(saved.epoch.is_some());
        Ok(spool)
    }

    /// This spool's epoch: a random id made with the spool and kept in `state.json` and
    /// `epoch.json`. A spool made again (the directory lost or deleted) has another, and
    /// numbers from 1 again.
    pub fn epoch(&self) -> [u8; 16] {
        self.epoch
    }

    /// What [`Spool::open`] found and repaired.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sequence the next appended record will get. Never decreases, across restarts too.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence
    }

    /// The oldest unacknowledged sequence still stored, if any.
    pub fn first_unacked(&self) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| s.unacked() > 0)
            .map(|s| self.first_unacked_in(s))
    }

    /// Current counters.
    pub fn stats(&self) -> SpoolStats {
        SpoolStats {
            records_unacked: self.records_unacked,
            bytes: self.bytes,
            segments: self.segments.len(),
            next_sequence: self.next_sequence,
            oldest_unacked: self.first_unacked(),
        }
    }

    /// The first unacknowledged sequence of `seg`, which must have one.
    fn first_unacked_in(&self, seg: &Segment) -> u64 {
        match self.acked.containing(seg.first()) {
            Some((_, end)) => end + 1,
            None => seg.first(),
        }
    }

    /// The last unacknowledged sequence of `seg`, which must have one.
    fn last_unacked_in(&self, seg: &Segment) -> u64 {
        match self.acked.containing(seg.last()) {
            Some((start, _)) => start - 1,
            None => seg.last(),
        }
    }
}

impl Spool {
    /// Says, for each state file found damaged, how it was rebuilt, and logs it.
    fn describe_rebuilt(&mut self, epoch_kept: bool) {
        let epoch = state::hex(&self.epoch);
        let (next, resent) = (self.next_sequence, self.records_unacked);
        let state_file = state::state_path(&self.dir);
        for found in &mut self.report.damaged_files {
            found.rebuilt = match (epoch_kept, found.path == state_file) {
                (true, true) => format!(
                    "rebuilt from the segments and epoch.json: epoch {epoch} kept, numbering goes on from {next}, the {resent} records still spooled are sent again (the core drops those it has)"
                ),
                (true, false) => format!(
                    "rewritten from state.json: epoch {epoch} kept, numbering goes on from {next}"
                ),
                (false, _) => format!(
                    "no copy of the epoch survived: new epoch {epoch}, numbering goes on from {next}, the {resent} records still spooled are sent again under it (the core reports the sensor's history restarted)"
                ),
            };
            tracing::error!(
                file = %found.path.display(),
                bytes = found.bytes,
                quarantine = %found.quarantine.display(),
                rebuilt = %found.rebuilt,
                "damaged spool state file quarantined",
            );
        }
    }
}

/// Takes the exclusive lock on `dir/lock`.
fn lock_dir(dir: &Path) -> Result<File, SpoolError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| SpoolError::io("open", &path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(SpoolError::Locked { path }),
        Err(TryLockError::Error(e)) => Err(SpoolError::io("lock", path, e)),
    }
}

/// Lists, orders, verifies and indexes the segment files in `dir`.
fn open_segments(dir: &Path) -> Result<(VecDeque<Segment>, OpenReport), SpoolError> {
    let mut found: Vec<(u64, PathBuf)> = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| SpoolError::io("list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| SpoolError::io("list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        match parse_segment_name(name) {
            Some(first) => found.push((first, entry.path())),
            None if name.ends_with(".spool") => {
                tracing::warn!(file = %entry.path().display(), "ignoring misnamed segment file");
            }
            None => {}
        }
    }
    found.sort_unstable_by_key(|(first, _)| *first);

    let mut report = OpenReport::default();
    let mut segments: VecDeque<Segment> = VecDeque::with_capacity(found.len());
    let next_firsts: Vec<Option<u64>> = found
        .iter()
        .skip(1)
        .map(|&(first, _)| Some(first))
        .chain([None])
        .collect();
    for ((first, path), next_first) in found.into_iter().zip(next_firsts) {
        let opened = Segment::open(path, first, next_first)?;
        let segment = opened.segment;
        let mut lost_inside = 0;
        for d in &opened.damaged {
            tracing::error!(
                file = %d.path.display(),
                from = d.from,
                to = d.to,
                lost = ?d.lost,
                reason = %d.reason,
                quarantine = %d.quarantine.display(),
                "damaged range of a spool segment quarantined and skipped; the records after it are kept",
            );
            if let Some((a, b)) = d.lost.filter(|&(_, b)| b <= segment.last()) {
                lost_inside += b - a + 1;
            }
        }
        report.damaged.extend(opened.damaged);
        if let Some(torn) = opened.torn {
            tracing::warn!(
                file = %torn.path.display(),
                offset = torn.offset,
                bytes = torn.bytes,
                reason = %torn.reason,
                "cut torn tail off the last spool segment",
            );
            report.truncated_bytes = torn.bytes;
            report.truncated = Some(torn);
        }
        if segment.is_empty() {
            segment.remove_file()?;
            report.empty_segments_removed += 1;
            continue;
        }
        if let Some(prev) = segments.back()
            && segment.first() <= prev.last()
        {
            return Err(SpoolError::Corrupt {
                path: segment.path().to_path_buf(),
                offset: 0,
                reason: format!(
                    "starts at sequence {} but {} already holds up to {}",
                    segment.first(),
                    prev.path().display(),
                    prev.last()
                ),
            });
        }
        report.records += segment.len() - lost_inside;
        segments.push_back(segment);
    }
    report.segments = segments.len();
    Ok((segments, report))
}
