//! JSON lines output: one event per line (the versioned shape of `docs/formats.md`), appended
//! to a file on a thread of its own (file I/O never blocks the runtime). Every batch is
//! written through to the file; the file is synced before the positions of the batches it
//! holds are saved, and when the output has been idle a second. A write that fails is undone
//! (the file cut back to where it was) and retried with growing waits, from a fresh open of the
//! file, until it succeeds or shutdown gives up; meanwhile the queues push back on the sources.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::OutputParts;
use crate::metrics::EdgeMetrics;
use crate::queue::Queued;

/// The longest wait between two attempts to write a batch.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// The open output file.
struct Output {
    path: PathBuf,
    writer: Option<std::io::BufWriter<std::fs::File>>,
}

impl Output {
    fn writer(&mut self) -> std::io::Result<&mut std::io::BufWriter<std::fs::File>> {
        if self.writer.is_none() {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&self.path)?;
            cut_torn_line(&file, &self.path)?;
            self.writer = Some(std::io::BufWriter::with_capacity(1 << 20, file));
        }
        self.writer
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no output file"))
    }

    /// Appends the lines and writes them through to the file. On failure the file is cut
    /// back to where it was, so a batch is never half there (no torn JSON line).
    fn write(&mut self, lines: &[u8]) -> std::io::Result<()> {
        let writer = self.writer()?;
        let before = writer.get_ref().metadata()?.len();
        let result = writer.write_all(lines).and_then(|()| writer.flush());
        if result.is_err()
            && let Some(w) = self.writer.take()
        {
            let _ = w.into_parts().0.set_len(before);
        }
        result
    }

    /// The file's length: its position for RELP receipts.
    fn len(&mut self) -> std::io::Result<u64> {
        Ok(self.writer()?.get_ref().metadata()?.len())
    }

    fn sync(&mut self) -> std::io::Result<()> {
        let result = self.writer().and_then(|w| {
            w.flush()?;
            w.get_ref().sync_data()
        });
        if result.is_err() {
            self.writer = None;
        }
        result
    }
}

/// Cuts a last line without its newline off `file`: what a crash left of a batch being written
/// (never acknowledged, so it is sent again), which the next batch must not be glued to.
fn cut_torn_line(file: &std::fs::File, path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - start) as usize];
        file.read_exact_at(part, start)?;
        if let Some(newline) = part.iter().rposition(|&b| b == b'\n') {
            end = start + newline as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        warn!(file = %path.display(), bytes = len - end, "cut a torn last line (left by a crash)");
        file.set_len(end)?;
    }
    Ok(())
}

/// Appends every batch to `path` until the queue closes; `give_up` stops retrying a failing
/// write (what is left is counted as lost).
pub fn run(path: &Path, parts: OutputParts, runtime: tokio::runtime::Handle) {
    let OutputParts {
        mut input,
        control,
        mut checkpoints,
        metrics,
        give_up,
        mut receipts,
    } = parts;
    let mut output = Output {
        path: path.to_path_buf(),
        writer: None,
    };
    info!(path = %path.display(), "writing events as JSON lines");
    let mut lines = Vec::with_capacity(1 << 20);
    loop {
        let next =
            runtime.block_on(async { tokio::time::timeout(super::SAVE_EVERY, input.recv()).await });
        let queued = match next {
            Ok(Some(queued)) => queued,
            Ok(None) => break,
            Err(_) => {
                // Idle: make what was written durable, and save the positions it covers.
                if checkpoints.is_dirty() && output.sync().is_ok() {
                    checkpoints.save();
                }
                continue;
            }
        };
        lines.clear();
        for event in &queued.item.events {
            // Serialising an event into memory cannot fail (string keys, no maps of other keys).
            if serde_json::to_writer(&mut lines, event).is_ok() {
                lines.push(b'\n');
            }
        }
        let n = queued.item.events.len() as u64;
        let durable = !queued.item.marks.is_empty() || !queued.item.receipts.is_empty();
        let mut position = 0;
        let written = with_retries(&metrics, &give_up, "write to", path, || {
            position = output.len()? + lines.len() as u64;
            receipts.record(&queued.item.receipts, position)?;
            output.write(&lines)?;
            match durable {
                true => output.sync(),
                false => Ok(()),
            }
        });
        if !written {
            metrics.lose(n);
            break;
        }
        metrics.forwarded.increment(n);
        metrics.forward_depth.set(control.depth() as f64);
        let Queued { item, .. } = queued;
        checkpoints.advance(item.marks);
        receipts.confirm(item.receipts, position);
    }
    // Whatever could not be written is lost; nothing can be queued any more.
    input.close();
    while let Ok(queued) = input.try_recv() {
        metrics.lose(queued.item.events.len() as u64);
    }
    if output.sync().is_ok() {
        checkpoints.save();
    }
}

/// Runs `attempt` until it succeeds (true) or `give_up` is cancelled (false), waiting longer
/// after each failure (counted and logged).
fn with_retries(
    metrics: &EdgeMetrics,
    give_up: &CancellationToken,
    what: &str,
    path: &Path,
    mut attempt: impl FnMut() -> std::io::Result<()>,
) -> bool {
    let mut wait = Duration::from_millis(100);
    loop {
        match attempt() {
            Ok(()) => return true,
            Err(e) => {
                metrics.forward_errors.increment(1);
                warn!(error = %e, retry_in = ?wait, "cannot {what} {}", path.display());
            }
        }
        if give_up.is_cancelled() {
            return false;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(RETRY_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_and_whole_lines_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        for (before, after) in [
            ("{\"a\":1}\n{\"b\":2}\n{\"c\":", "{\"a\":1}\n{\"b\":2}\n"),
            ("{\"a\":1}\n", "{\"a\":1}\n"),
            ("{\"torn\":", ""),
            ("", ""),
        ] {
            std::fs::write(&path, before).unwrap();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .open(&path)
                .unwrap();
            cut_torn_line(&file, &path).unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), after, "{before:?}");
        }
    }
}
