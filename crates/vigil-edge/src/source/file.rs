//! Following a log file: `vigil-tail` reads the lines written since the last poll (across
//! rotation, truncation and restarts), at most 4 MiB per poll (a backlog is read poll after
//! poll, without waiting in between); each batch carries the file's position after its lines,
//! which the output saves once the batch is forwarded, so a restart neither rereads nor skips
//! a line.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use vigil_event::Timestamp;
use vigil_tail::{Checkpoint, StartAt, Tailer};

use super::{Batch, FileMark, Source};
use crate::config::StartAtConfig;
use crate::intake::IntakeCounts;
use crate::metrics::Rejected;

/// Opens the tailer: from `checkpoint` when there is one, else where the configuration says,
/// or at the beginning if the saved positions were `lost` (damaged): no line is skipped, the
/// lines forwarded before are forwarded again.
pub fn open(
    source: &Source,
    checkpoint: Option<&Checkpoint>,
    lost: bool,
) -> anyhow::Result<Tailer> {
    let path = source
        .config
        .path
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("source {:?} has no path", source.config.name))?;
    let max = source.config.max_message_bytes;
    if lost {
        debug_assert!(checkpoint.is_none(), "no position survives damage");
        warn!(source = %source.config.name, path = %path.display(), "file positions were damaged: reading the file again from its beginning (its lines forwarded before are forwarded again)");
    }
    let start = match source.config.start_at {
        StartAtConfig::Beginning => StartAt::Beginning,
        StartAtConfig::End if lost => StartAt::Beginning,
        StartAtConfig::End => StartAt::End,
    };
    let tailer = match checkpoint {
        Some(c) => Tailer::resume(path, c, max)?,
        None => Tailer::new(path, start, max)?,
    };
    info!(source = %source.config.name, path = %path.display(), resumed = checkpoint.is_some(), "following file");
    Ok(tailer)
}

/// Polls the file every `poll_interval` until `shutdown`, then once more.
pub async fn follow(mut tailer: Tailer, source: Arc<Source>, shutdown: CancellationToken) {
    let path = source.config.path.clone().unwrap_or_default();
    let mut interval = tokio::time::interval(source.config.poll_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = false;
    let mut more = false;
    loop {
        if !last && !more {
            tokio::select! {
                _ = shutdown.cancelled() => last = true,
                _ = interval.tick() => {}
            }
        } else if !last && shutdown.is_cancelled() {
            last = true;
        }
        let polled = tokio::task::spawn_blocking(move || {
            let mut lines = Vec::new();
            let report = tailer.poll(&mut lines);
            let checkpoint = match &report {
                Ok(_) => tailer.checkpoint(),
                Err(_) => Ok(None),
            };
            (tailer, lines, report, checkpoint)
        })
        .await;
        let Ok((back, lines, report, checkpoint)) = polled else {
            warn!(source = %source.config.name, "file poll task failed; stopping this source");
            return;
        };
        tailer = back;
        more = matches!(&report, Ok(r) if r.more);
        match report {
            Ok(report) => {
                if report.rotated {
                    source.metrics.rotations.increment(1);
                    info!(source = %source.config.name, path = %path.display(), "file rotated; the old file was read to its end");
                }
                if report.truncated {
                    source.metrics.truncations.increment(1);
                    info!(source = %source.config.name, path = %path.display(), "file truncated; reading from its start");
                }
                source.metrics.lines_cut.increment(report.oversized);
            }
            Err(e) => {
                source.metrics.reject(Rejected::ReadError, 1);
                warn!(source = %source.config.name, error = %e, "cannot read the file; retrying");
            }
        }
        let mark = match checkpoint {
            Ok(c) => c.map(|checkpoint| FileMark {
                path: path.clone(),
                checkpoint,
            }),
            Err(e) => {
                warn!(source = %source.config.name, error = %e, "cannot take the file's checkpoint");
                None
            }
        };
        let now = Timestamp::now();
        let mut counts = IntakeCounts::default();
        let events: Vec<_> = lines
            .iter()
            .map(|line| source.parser.line(&line.bytes, now, &mut counts))
            .collect();
        source.metrics.count(&counts);
        let n = events.len();
        if (n > 0 || mark.is_some())
            && source
                .queue
                .send(
                    Batch {
                        events,
                        mark,
                        receipt: None,
                    },
                    n,
                )
                .await
                .is_err()
        {
            return;
        }
        if last {
            return;
        }
    }
}
