//! Where logs come from: syslog listeners ([`syslog`]), RELP listeners ([`relp`]) and followed
//! files ([`file`]). Each
//! source turns what it reads into events with its own [`SourceParser`] and queues them, in
//! batches, for the pipeline.

pub mod file;
pub mod relp;
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
    /// A RELP connection's request to hear once these events are written.
    pub receipt: Option<Receipt>,
}

impl Batch {
    /// A batch of events without a file position.
    pub fn events(events: Vec<Event>) -> Batch {
        Batch {
            events,
            mark: None,
            receipt: None,
        }
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

/// A source's request to hear when a batch's events are written durably (a RELP connection
/// answers its sender only then). Dropped unconfirmed, it tells the source they never were.
pub struct Receipt {
    /// What to remember of the batch's lines, to recognise them if they are sent again.
    pub lines: Vec<relp::resend::SentLine>,
    id: u64,
    to: tokio::sync::mpsc::UnboundedSender<(u64, bool)>,
    confirmed: bool,
}

impl Receipt {
    /// Receipt `id`, reported on `to`.
    pub fn new(
        lines: Vec<relp::resend::SentLine>,
        id: u64,
        to: tokio::sync::mpsc::UnboundedSender<(u64, bool)>,
    ) -> Receipt {
        Receipt {
            lines,
            id,
            to,
            confirmed: false,
        }
    }

    /// The batch is written.
    pub fn confirm(mut self) {
        self.confirmed = true;
        let _ = self.to.send((self.id, true));
    }
}

impl Drop for Receipt {
    fn drop(&mut self) {
        if !self.confirmed {
            let _ = self.to.send((self.id, false));
        }
    }
}
