//! Where logs come from: syslog listeners ([`syslog`]) and followed files ([`file`]). Each
//! source turns what it reads into events with its own [`SourceParser`] and queues them, in
//! batches, for the pipeline.

pub mod file;
pub mod syslog;
pub mod tls;

use std::path::PathBuf;

use vigil_event::Event;

use crate::config::SourceConfig;
use crate::intake::SourceParser;
use crate::metrics::SourceMetrics;
use crate::queue::QueueSender;

/// Events read together, and for a file, where reading stopped after them.
pub struct Batch {
    /// The events, in the order they were read.
    pub events: Vec<Event>,
    /// A file source's position after these events: saved once they are forwarded.
    pub mark: Option<FileMark>,
}

impl Batch {
    /// A batch of events without a file position.
    pub fn events(events: Vec<Event>) -> Batch {
        Batch { events, mark: None }
    }
}

/// Where a followed file's reading stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMark {
    /// The followed path.
    pub path: PathBuf,
    /// The position after the last line handed out.
    pub checkpoint: vigil_tail::Checkpoint,
}

/// What a running source needs.
pub struct Source {
    /// Its configuration.
    pub config: SourceConfig,
    /// Its parsing.
    pub parser: SourceParser,
    /// Its metrics.
    pub metrics: SourceMetrics,
    /// The pipeline's queue.
    pub queue: QueueSender<Batch>,
}
