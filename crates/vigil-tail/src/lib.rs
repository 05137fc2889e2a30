//! Tailing a log file so that no line is read twice and none is missed, across rotation
//! (rename and re-create), truncation (copytruncate) and restarts.
//!
//! A [`Tailer`] follows one path. [`Tailer::poll`] returns the complete lines written since the
//! last poll. When the path is renamed away and re-created, the rest of the old file is read to
//! its end before the new one is started; when the file shrinks below the read position (it was
//! truncated in place), reading restarts at its beginning.
//!
//! [`Tailer::checkpoint`] says where the lines handed out so far end: the file's identity
//! (device and inode), the byte offset, and a fingerprint of the file's first bytes (so a
//! recycled inode number is not mistaken for the same file). A tailer opened from a checkpoint
//! resumes exactly there, even if the file was rotated while nothing was running: the old file is
//! found among its siblings by its identity and its rest is read first.
//!
//! Generations rotated after the checkpointed file while nothing ran (named after the file with
//! `.`, `-` or `_`, uncompressed, newer than it) are read in full, oldest first.
//!
//! Limits: a file the tailer never saw (created and rotated away while it was stopped, with no
//! checkpoint) cannot be found; compressed generations are not read; with copytruncate, lines
//! written after the last poll and before the truncation are in the copy only and are not read.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// How many leading bytes identify a file's content (with its inode).
const HEAD_LEN: u64 = 256;
/// How much is read per system call.
const CHUNK: usize = 64 * 1024;
/// How much one poll reads at most by default (see [`Tailer::with_poll_budget`]).
pub const DEFAULT_POLL_BUDGET: usize = 4 << 20;

/// Errors of tailing; each names the file.
#[derive(Debug, thiserror::Error)]
#[error("{action} {path}: {source}")]
pub struct TailError {
    action: &'static str,
    path: PathBuf,
    source: std::io::Error,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TailError {
    let path = path.to_path_buf();
    move |source| TailError {
        action,
        path,
        source,
    }
}

/// Where reading stopped: enough to resume without rereading or skipping a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Device of the file.
    pub dev: u64,
    /// Inode of the file.
    pub ino: u64,
    /// Offset just after the last line handed out.
    pub offset: u64,
    /// How many leading bytes the fingerprint covers: at most 256, and never past `offset`,
    /// so appending to the file cannot change it.
    pub head_len: u64,
    /// Fingerprint of the file's first `head_len` bytes.
    pub head: String,
}

/// Where to start a file tailed for the first time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Read it from its beginning.
    Beginning,
    /// Only lines written from now on.
    End,
}

/// A complete line (without its `\n`, and without a trailing `\r`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The bytes (not necessarily UTF-8).
    pub bytes: Vec<u8>,
    /// Whether the line was longer than the limit and was cut.
    pub truncated: bool,
}

/// What happened during a poll, for logging and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollReport {
    /// The file was rotated (renamed away, a new one took its path).
    pub rotated: bool,
    /// The file was truncated in place.
    pub truncated: bool,
    /// Lines longer than the limit (cut to the limit).
    pub oversized: u64,
    /// The poll stopped at its byte budget: more is ready to be read now.
    pub more: bool,
}

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Offset of the next byte to read.
    read_to: u64,
    /// Offset just after the last complete line handed out.
    delivered_to: u64,
    /// Bytes after the last newline (at most `max_line + 1` of them are kept).
    partial: Vec<u8>,
    /// How many bytes the line being read has so far, kept or not.
    partial_len: u64,
}

/// Follows one path.
pub struct Tailer {
    path: PathBuf,
    max_line: usize,
    /// Most bytes one poll reads.
    budget: usize,
    open: Option<Open>,
    /// Files rotated away while nothing ran, oldest first: the rest of the checkpointed one,
    /// then whole generations rotated after it. They are read before the current file.
    pending: std::collections::VecDeque<Open>,
}

/// Fingerprint of the first `len` bytes of a file (fewer if it is shorter).
fn fingerprint(file: &mut File, path: &Path, len: u64) -> Result<String, TailError> {
    let mut head = Vec::with_capacity(len as usize);
    let position = file.stream_position().map_err(io("read", path))?;
    file.seek(SeekFrom::Start(0)).map_err(io("read", path))?;
    file.by_ref()
        .take(len)
        .read_to_end(&mut head)
        .map_err(io("read", path))?;
    file.seek(SeekFrom::Start(position))
        .map_err(io("read", path))?;
    Ok(blake3::hash(&head).to_hex()[..32].to_string())
}

fn open_at(path: &Path, offset: u64) -> Result<Option<Open>, TailError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(TailError {
                action: "open",
                path: path.to_path_buf(),
                source: e,
            });
        }
    };
    let meta = file.metadata().map_err(io("stat", path))?;
    let offset = offset.min(meta.len());
    file.seek(SeekFrom::Start(offset))
        .map_err(io("seek", path))?;
    Ok(Some(Open {
        file,
        dev: meta.dev(),
        ino: meta.ino(),
        read_to: offset,
        delivered_to: offset,
        partial: Vec::new(),
        partial_len: 0,
    }))
}

/// Rotated generations beside `path` newer than `since` (modified at or after it), other than
/// the given identities, oldest first. A rotated name starts with the file's name followed by
/// `.`, `-` or `_` (`app.log.1`, `app.log-20261122`); compressed ones are skipped.
fn newer_generations(
    path: &Path,
    since: std::time::SystemTime,
    exclude: &[(u64, u64)],
) -> Result<Vec<PathBuf>, TailError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io("list", dir))?.flatten() {
        let candidate = entry.path();
        let Some(other) = candidate.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let rotated = other
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(['.', '-', '_']));
        let compressed = [".gz", ".bz2", ".xz", ".zst", ".zip"]
            .iter()
            .any(|ext| other.ends_with(ext));
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        let Ok(modified) = meta.modified() else {
            continue;
        };
        if rotated
            && !compressed
            && modified >= since
            && !exclude.contains(&(meta.dev(), meta.ino()))
        {
            found.push((modified, other.to_string(), candidate));
        }
    }
    found.sort();
    Ok(found.into_iter().map(|(_, _, path)| path).collect())
}

/// Finds, beside `path`, a file with this identity whose head still has this fingerprint.
fn find_rotated(path: &Path, checkpoint: &Checkpoint) -> Result<Option<PathBuf>, TailError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let entries = std::fs::read_dir(dir).map_err(io("list", dir))?;
    for entry in entries.flatten() {
        let candidate = entry.path();
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.dev() == checkpoint.dev && meta.ino() == checkpoint.ino {
            let mut file = File::open(&candidate).map_err(io("open", &candidate))?;
            if fingerprint(&mut file, &candidate, checkpoint.head_len)? == checkpoint.head {
                return Ok(Some(candidate));
            }
        }
    }
    Ok(None)
}

impl Tailer {
    /// Starts following `path` (which may not exist yet) at `start`; lines longer than
    /// `max_line` bytes are cut.
    pub fn new(path: &Path, start: StartAt, max_line: usize) -> Result<Tailer, TailError> {
        let offset = match start {
            StartAt::Beginning => 0,
            StartAt::End => std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        };
        Ok(Tailer {
            path: path.to_path_buf(),
            max_line: max_line.max(1),
            budget: DEFAULT_POLL_BUDGET,
            open: open_at(path, offset)?,
            pending: Default::default(),
        })
    }

    /// Makes each poll read at most `bytes` (at least 1): a file with a large backlog is read
    /// over several polls ([`PollReport::more`]) instead of all at once into memory.
    pub fn with_poll_budget(mut self, bytes: usize) -> Tailer {
        self.budget = bytes.max(1);
        self
    }

    /// Resumes following `path` exactly after the lines a checkpoint says were handed out.
    /// If the file was rotated meanwhile, the rest of the old file (found beside `path` by its
    /// identity) is read first; if it was truncated, or its content replaced, reading starts at
    /// the beginning of the current file.
    pub fn resume(
        path: &Path,
        checkpoint: &Checkpoint,
        max_line: usize,
    ) -> Result<Tailer, TailError> {
        let mut tailer = Tailer {
            path: path.to_path_buf(),
            max_line: max_line.max(1),
            budget: DEFAULT_POLL_BUDGET,
            open: None,
            pending: Default::default(),
        };
        let current = open_at(path, 0)?;
        match current {
            Some(mut open) if open.dev == checkpoint.dev && open.ino == checkpoint.ino => {
                let size = open.file.metadata().map_err(io("stat", path))?.len();
                if size >= checkpoint.offset
                    && fingerprint(&mut open.file, path, checkpoint.head_len)? == checkpoint.head
                {
                    open.file
                        .seek(SeekFrom::Start(checkpoint.offset))
                        .map_err(io("seek", path))?;
                    open.read_to = checkpoint.offset;
                    open.delivered_to = checkpoint.offset;
                }
                tailer.open = Some(open);
            }
            current => {
                if let Some(old_path) = find_rotated(path, checkpoint)?
                    && let Some(old) = open_at(&old_path, checkpoint.offset)?
                {
                    let since = old
                        .file
                        .metadata()
                        .and_then(|m| m.modified())
                        .map_err(io("stat", &old_path))?;
                    let mut exclude = vec![(old.dev, old.ino)];
                    exclude.extend(current.as_ref().map(|c| (c.dev, c.ino)));
                    tailer.pending.push_back(old);
                    for generation in newer_generations(path, since, &exclude)? {
                        tailer.pending.extend(open_at(&generation, 0)?);
                    }
                }
                tailer.open = current;
            }
        }
        Ok(tailer)
    }

    /// Where the lines handed out so far end, in the file currently followed (the pending rest
    /// of a rotated file first).
    pub fn checkpoint(&mut self) -> Result<Option<Checkpoint>, TailError> {
        // Rotated files whose rest has all been read no longer matter: point at the first one
        // with something left, else the current file.
        while self.pending.front().is_some_and(|old| {
            old.partial_len == 0
                && old
                    .file
                    .metadata()
                    .is_ok_and(|m| m.len() <= old.delivered_to)
        }) && (self.pending.len() > 1 || self.open.is_some())
        {
            self.pending.pop_front();
        }
        let chosen = match self.pending.front_mut() {
            Some(old) => Some(old),
            None => self.open.as_mut(),
        };
        let Some(open) = chosen else { return Ok(None) };
        let head_len = open.delivered_to.min(HEAD_LEN);
        let head = fingerprint(&mut open.file, &self.path, head_len)?;
        Ok(Some(Checkpoint {
            dev: open.dev,
            ino: open.ino,
            offset: open.delivered_to,
            head_len,
            head,
        }))
    }

    /// Reads the complete lines written since the last poll into `out`, at most the poll
    /// budget of bytes ([`PollReport::more`] says when more is ready).
    pub fn poll(&mut self, out: &mut Vec<Line>) -> Result<PollReport, TailError> {
        let mut report = PollReport::default();
        let mut budget = self.budget;
        // Files rotated away come first, to their end.
        if !self.drain_pending(out, &mut report, &mut budget)? {
            return Ok(report);
        }
        if self.open.is_none() {
            self.open = open_at(&self.path, 0)?;
        }
        let Some(mut open) = self.open.take() else {
            return Ok(report);
        };
        let complete = self.drain(&mut open, out, &mut report, false, &mut budget)?;
        if !complete {
            self.open = Some(open);
            return Ok(report);
        }
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.dev() != open.dev || meta.ino() != open.ino => {
                // Rotated: the old file is finished first (whatever was written to it before
                // the switch; its last line may lack a newline), then the new one is followed
                // from its start.
                report.rotated = true;
                self.pending.push_back(open);
                self.open = open_at(&self.path, 0)?;
                if !self.drain_pending(out, &mut report, &mut budget)? {
                    return Ok(report);
                }
                if let Some(mut new) = self.open.take() {
                    self.drain(&mut new, out, &mut report, false, &mut budget)?;
                    self.open = Some(new);
                }
            }
            Ok(meta) if meta.len() < open.read_to => {
                report.truncated = true;
                open.file
                    .seek(SeekFrom::Start(0))
                    .map_err(io("seek", &self.path))?;
                open.read_to = 0;
                open.delivered_to = 0;
                open.partial.clear();
                open.partial_len = 0;
                self.drain(&mut open, out, &mut report, false, &mut budget)?;
                self.open = Some(open);
            }
            // Still the same file, or moved away with nothing new yet: keep following it.
            _ => self.open = Some(open),
        }
        report.more |= budget == 0;
        Ok(report)
    }

    /// Finishes the rotated files, oldest first; false when the budget ran out first.
    fn drain_pending(
        &mut self,
        out: &mut Vec<Line>,
        report: &mut PollReport,
        budget: &mut usize,
    ) -> Result<bool, TailError> {
        while let Some(mut old) = self.pending.pop_front() {
            if !self.drain(&mut old, out, report, true, budget)? {
                self.pending.push_front(old);
                report.more = true;
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Reads `open` to its end (true) or until `budget` bytes were read (false), splitting
    /// lines; with `final_read`, a last line without a newline is delivered at the end too
    /// (the file will not grow any more).
    fn drain(
        &self,
        open: &mut Open,
        out: &mut Vec<Line>,
        report: &mut PollReport,
        final_read: bool,
        budget: &mut usize,
    ) -> Result<bool, TailError> {
        let mut buf = vec![0u8; CHUNK.min(*budget).max(1)];
        loop {
            if *budget == 0 {
                report.more = true;
                return Ok(false);
            }
            let want = buf.len().min(*budget);
            let n = open
                .file
                .read(buf.get_mut(..want).unwrap_or_default())
                .map_err(io("read", &self.path))?;
            if n == 0 {
                break;
            }
            *budget -= n;
            open.read_to += n as u64;
            let mut rest = buf.get(..n).unwrap_or_default();
            while let Some(newline) = rest.iter().position(|&b| b == b'\n') {
                self.keep(open, rest.get(..newline).unwrap_or_default());
                rest = rest.get(newline + 1..).unwrap_or_default();
                let consumed = open.partial_len + 1;
                self.emit(open, out, report, consumed);
            }
            self.keep(open, rest);
        }
        if final_read && open.partial_len > 0 {
            let consumed = open.partial_len;
            self.emit(open, out, report, consumed);
        }
        Ok(true)
    }

    /// Adds bytes to the line being read, keeping at most one more than a line may have.
    fn keep(&self, open: &mut Open, bytes: &[u8]) {
        open.partial_len += bytes.len() as u64;
        let room = (self.max_line + 1).saturating_sub(open.partial.len());
        open.partial
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or_default());
    }

    fn emit(&self, open: &mut Open, out: &mut Vec<Line>, report: &mut PollReport, consumed: u64) {
        let mut bytes = std::mem::take(&mut open.partial);
        open.partial_len = 0;
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let truncated = bytes.len() > self.max_line;
        if truncated {
            bytes.truncate(self.max_line);
            report.oversized += 1;
        }
        open.delivered_to += consumed;
        out.push(Line { bytes, truncated });
    }
}

/// Checkpoints of several files, as one JSON document (its owner writes and reads it).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointFile {
    /// Checkpoint per followed path.
    pub files: std::collections::BTreeMap<PathBuf, Checkpoint>,
}
