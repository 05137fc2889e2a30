//! The edge's output: the signed event bus to a core ([`bus`]), the OSSIM agent protocol
//! ([`agent`]) or JSON lines to a file ([`file`]). After each batch is written, the file positions it carries are saved
//! ([`Checkpoints`]), so a restart resumes after what was sent, and its RELP receipts are
//! confirmed ([`Receipts`]), so senders hear of it.

pub mod agent;
pub mod bus;
pub mod file;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;
use tracing::{error, warn};
use vigil_store::StateFile;
use vigil_tail::{Checkpoint, CheckpointFile};

use crate::metrics::EdgeMetrics;
use crate::pipeline::ForwardBatch;
use crate::queue::{QueueControl, Queued};
use crate::source::relp::resend::{Journal, SentLine};
use crate::source::{FileMark, Receipt};

/// What every output works with.
pub struct OutputParts {
    /// The queue of batches it drains, until it closes.
    pub input: UnboundedReceiver<Queued<ForwardBatch>>,
    /// That queue's depth and closing.
    pub control: QueueControl,
    /// File positions, saved once the lines before them are written (or spooled).
    pub checkpoints: Checkpoints,
    /// The edge's metrics.
    pub metrics: EdgeMetrics,
    /// Cancelled when shutdown stops waiting: retries end, what is left is counted as lost.
    pub give_up: CancellationToken,
    /// Receipts of RELP sources, confirmed once their lines are written.
    pub receipts: Receipts,
}

/// Confirms RELP receipts; with a journal (outputs that write durably: the spool, a file),
/// their lines are first recorded with the output position the batch reaches, so resends
/// of them are recognised after a restart.
pub struct Receipts {
    journal: Option<Journal>,
}

impl Receipts {
    /// Receipts recorded in `journal`, if any.
    pub fn new(journal: Option<Journal>) -> Receipts {
        Receipts { journal }
    }

    /// Where the journal is (for error messages).
    pub fn journal_path(&self) -> PathBuf {
        self.journal.as_ref().map(Journal::path).unwrap_or_default()
    }

    /// Before writing a batch after which the output is at `position`: durably records the
    /// lines of its receipts.
    pub fn record(&mut self, receipts: &[Receipt], position: u64) -> std::io::Result<()> {
        match &mut self.journal {
            Some(journal) if !receipts.is_empty() => journal.record(&lines(receipts), position),
            _ => Ok(()),
        }
    }

    /// The batch is written (and synced) and the output is at `position`: senders hear of it.
    pub fn confirm(&self, receipts: Vec<Receipt>, position: u64) {
        if let Some(journal) = &self.journal
            && !receipts.is_empty()
        {
            journal.written(&lines(&receipts), position);
        }
        for receipt in receipts {
            receipt.confirm();
        }
    }
}

fn lines(receipts: &[Receipt]) -> Vec<SentLine> {
    receipts
        .iter()
        .flat_map(|r| r.lines.iter().copied())
        .collect()
}

/// Name of the file positions' file in the data directory.
const CHECKPOINTS_FILE: &str = "file-checkpoints.json";

/// How often file positions are written to disk at most (and always at shutdown, and once
/// the output has been idle this long).
pub const SAVE_EVERY: Duration = Duration::from_secs(1);

/// The saved positions of every followed file (`<data_dir>/file-checkpoints.json`, with a
/// checksum trailer: [`vigil_store::write_state`]).
pub struct Checkpoints {
    path: PathBuf,
    file: CheckpointFile,
    /// The file was damaged: no position is known, every followed file is read from its
    /// beginning.
    lost: bool,
    dirty: bool,
    saved: Instant,
}

impl Checkpoints {
    /// `<data_dir>/file-checkpoints.json`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(CHECKPOINTS_FILE)
    }

    /// Loads the saved positions (none the first time). A damaged file (it fails its checksum
    /// or does not parse) is quarantined (`<data_dir>/quarantine/`), logged and counted
    /// (`vigil_edge_state_corruption_total{file="file-checkpoints.json"}`): no line is lost,
    /// every followed file is read again from its beginning ([`Checkpoints::lost`]).
    pub fn load(data_dir: &Path, metrics: &EdgeMetrics) -> anyhow::Result<Checkpoints> {
        let path = Checkpoints::path_in(data_dir);
        let parse = |bytes: &[u8]| serde_json::from_slice(bytes).map_err(|e| e.to_string());
        let read = vigil_store::read_state(&path, parse)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let (file, lost) = match read {
            StateFile::Valid(file) => (file, false),
            StateFile::Missing => (CheckpointFile::default(), false),
            StateFile::Damaged(found) => {
                metrics.state_damaged(CHECKPOINTS_FILE);
                error!(
                    file = %path.display(),
                    quarantine = ?found.quarantine,
                    "file positions damaged: every followed file is read again from its beginning, so lines forwarded before are forwarded again"
                );
                (CheckpointFile::default(), true)
            }
        };
        Ok(Checkpoints {
            path,
            file,
            lost,
            dirty: false,
            saved: Instant::now()
                .checked_sub(SAVE_EVERY)
                .unwrap_or_else(Instant::now),
        })
    }

    /// Whether the saved positions were damaged: followed files start at their beginning
    /// whatever their `start_at`.
    pub fn lost(&self) -> bool {
        self.lost
    }

    /// The saved position of `path`.
    pub fn get(&self, path: &Path) -> Option<&Checkpoint> {
        self.file.files.get(path)
    }

    /// Records positions of a batch that was just written; saves if one is due.
    pub fn advance(&mut self, marks: Vec<FileMark>) {
        for mark in marks {
            self.file.files.insert(mark.path, mark.checkpoint);
            self.dirty = true;
        }
        if self.dirty && self.saved.elapsed() >= SAVE_EVERY {
            self.save();
        }
    }

    /// Whether positions changed since the last save.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Writes the positions if they changed since the last save.
    pub fn save(&mut self) {
        if !self.dirty {
            return;
        }
        let saved = serde_json::to_vec_pretty(&self.file)
            .map_err(std::io::Error::other)
            .and_then(|json| vigil_store::write_state(&self.path, &json));
        match saved {
            Ok(()) => {
                self.dirty = false;
                self.saved = Instant::now();
            }
            Err(e) => warn!(error = %e, "cannot save file positions; retrying with the next batch"),
        }
    }
}
