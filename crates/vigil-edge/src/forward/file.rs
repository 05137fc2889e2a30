//! JSON lines output: one event per line (the versioned shape of `docs/formats.md`), appended
//! to a file and synced before the file positions of its batches are saved.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};

use super::Checkpoints;
use crate::metrics::EdgeMetrics;
use crate::pipeline::ForwardBatch;
use crate::queue::{DepthProbe, Queued};

/// Appends every batch to `path` until the queue closes.
pub async fn run(
    path: &Path,
    mut input: UnboundedReceiver<Queued<ForwardBatch>>,
    depth: DepthProbe,
    mut checkpoints: Checkpoints,
    metrics: EdgeMetrics,
) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open the output file {}", path.display()))?;
    info!(path = %path.display(), "writing events as JSON lines");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut line = Vec::with_capacity(1024);
    loop {
        let queued = match tokio::time::timeout(super::SAVE_EVERY, input.recv()).await {
            Ok(Some(queued)) => queued,
            Ok(None) => break,
            Err(_) => {
                if checkpoints.is_dirty() {
                    sync(&mut out, path)?;
                    checkpoints.save();
                }
                continue;
            }
        };
        let batch = queued.item;
        let n = batch.events.len() as u64;
        for event in &batch.events {
            line.clear();
            serde_json::to_writer(&mut line, event)?;
            line.push(b'\n');
            out.write_all(&line)
                .with_context(|| format!("cannot write to {}", path.display()))?;
        }
        metrics.forwarded.increment(n);
        metrics.forward_depth.set(depth.depth() as f64);
        if !batch.marks.is_empty() {
            sync(&mut out, path)?;
            checkpoints.advance(batch.marks);
        }
    }
    sync(&mut out, path)?;
    checkpoints.save();
    Ok(())
}

fn sync(out: &mut std::io::BufWriter<std::fs::File>, path: &Path) -> anyhow::Result<()> {
    out.flush()
        .and_then(|()| out.get_ref().sync_data())
        .map_err(|e| {
            warn!(error = %e, "cannot sync the output file");
            e
        })
        .with_context(|| format!("cannot sync {}", path.display()))
}
