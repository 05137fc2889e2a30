//! RELP listener (`kind = "relp"`): rsyslog's reliable event logging protocol. A message is
//! acknowledged (`rsp 200`) only once the output has written it durably (synced to the
//! spool or the output file), so a sender keeps, and after a reconnect sends again, every
//! message the edge may not have: killing the edge loses nothing. Lines written whose `rsp`
//! was lost are recognised when they come again ([`resend`]) and acknowledged without being
//! written twice.
//!
//! Each read's run of `syslog` frames is one batch with one [`Receipt`]; answers go out in
//! transaction order. A connection reads no more while `MAX_UNANSWERED` frames wait for their
//! answer (or the queue has no room), which pushes back on the sender.

pub mod frame;
pub mod resend;
pub mod session;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_event::Timestamp;

use self::frame::{Decoder, FrameError};
use self::resend::{Resend, SentLine, Tails};
use self::session::{Protocol, Response, Step};
use super::{Batch, Receipt, Source};
use crate::intake::IntakeCounts;
use crate::metrics::Rejected;

/// Most frames of one connection waiting for their answer before it stops reading.
const MAX_UNANSWERED: usize = 4096;
/// How long a connection waits, after shutdown began, for the answers of what it queued.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Refused frames of one connection logged one by one before only a summary is.
const LOGGED_REFUSALS: u64 = 10;

/// Answers waiting for their turn, and for a batch: the output's word that it is written.
struct Pending {
    answers: Vec<Response>,
    /// The batch's receipt number, until the output confirms it.
    batch: Option<u64>,
}

/// A connection's state between reads.
struct Connection<'a> {
    peer: SocketAddr,
    source: &'a Source,
    protocol: Protocol,
    /// This session's number (in what is remembered of its lines).
    session: u64,
    resend: Resend,
    pending: VecDeque<Pending>,
    unanswered: usize,
    /// Where the output confirms (true) or drops (false) this connection's receipts.
    receipts: mpsc::UnboundedSender<(u64, bool)>,
    next_batch: u64,
    /// The run of lines being read: events, their answers, what to remember of them.
    run: (Vec<vigil_event::Event>, Vec<Response>, Vec<SentLine>),
    counts: IntakeCounts,
    /// Set once no more frames are read (close, a fatal error, shutdown).
    ending: bool,
    /// Lines recognised as resends of lines already written.
    resent: u64,
    resend_logged: bool,
    /// Frames refused so far.
    refused: u64,
}

impl Connection<'_> {
    /// Counts a refused frame, and logs it while few were.
    fn refuse(&mut self, reason: Rejected, what: &dyn std::fmt::Display) {
        self.source.metrics.reject(reason, 1);
        self.refused += 1;
        if self.refused <= LOGGED_REFUSALS {
            warn!(source = %self.source.parser.name, peer = %self.peer, "RELP frame refused: {what}");
        }
    }

    fn answer(&mut self, response: Response) {
        self.unanswered += 1;
        self.pending.push_back(Pending {
            answers: vec![response],
            batch: None,
        });
    }

    /// Queues the run of lines read so far; false when the queue is closed.
    async fn queue_run(&mut self) -> bool {
        let (events, answers, lines) = std::mem::take(&mut self.run);
        if answers.is_empty() {
            return true;
        }
        let batch = self.next_batch;
        self.next_batch += 1;
        let receipt = Receipt::new(lines, batch, self.receipts.clone());
        let n = events.len();
        self.unanswered += answers.len();
        self.pending.push_back(Pending {
            answers,
            batch: Some(batch),
        });
        let batch = Batch {
            events,
            mark: None,
            receipt: Some(receipt),
        };
        self.source.queue.send(batch, n).await.is_ok()
    }

    /// Handles the frames decoded so far; false when the queue is closed.
    async fn frames(&mut self, decoder: &mut Decoder) -> bool {
        let now = Timestamp::now();
        while !self.ending
            && let Some(item) = decoder.next()
        {
            self.source.metrics.relp_frames.increment(1);
            let step = match item {
                Ok(frame) => self.protocol.step(frame),
                Err(e) => {
                    match e {
                        FrameError::Oversized { txnr, max, .. } => {
                            self.refuse(Rejected::Oversized, &e);
                            let reason = format!("frame larger than max_message_bytes ({max})");
                            match self.protocol.refused(txnr, reason) {
                                // Counted as oversized, not as a protocol error.
                                Step::Answer(response) => {
                                    if !self.queue_run().await {
                                        return false;
                                    }
                                    self.answer(response);
                                    continue;
                                }
                                other => other,
                            }
                        }
                        _ => {
                            self.refuse(Rejected::RelpProtocol, &e);
                            self.ending = true;
                            continue;
                        }
                    }
                }
            };
            match step {
                Step::Line { txnr, data } => {
                    let sent = SentLine {
                        peer: self.peer.ip(),
                        session: self.session,
                        digest: resend::digest(&data),
                    };
                    if self.resend.is_resent(&sent.digest) {
                        if !self.queue_run().await {
                            return false;
                        }
                        self.resent += 1;
                        self.source.metrics.relp_resent.increment(1);
                        self.answer(Response::ok(txnr));
                        continue;
                    }
                    if self.resent > 0 && !self.resend_logged {
                        self.resend_logged = true;
                        info!(source = %self.source.parser.name, peer = %self.peer, lines = self.resent, txnr, "lines sent again after a reconnect were already written: acknowledged, not written twice");
                    }
                    let event =
                        self.source
                            .parser
                            .syslog(&data, self.peer.ip(), now, &mut self.counts);
                    self.run.0.push(event);
                    self.run.1.push(Response::ok(txnr));
                    self.run.2.push(sent);
                }
                Step::Answer(response) => {
                    if response.code != 200 {
                        self.refuse(Rejected::RelpProtocol, &response.text);
                    }
                    if !self.queue_run().await {
                        return false;
                    }
                    self.answer(response);
                }
                Step::Close(response) | Step::Refuse(response) => {
                    if response.code != 200 {
                        self.refuse(Rejected::RelpProtocol, &response.text);
                    }
                    if !self.queue_run().await {
                        return false;
                    }
                    self.answer(response);
                    self.ending = true;
                }
            }
        }
        self.source.metrics.count(&std::mem::take(&mut self.counts));
        self.queue_run().await
    }
}

/// Serves one RELP connection to its end (or shutdown).
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: SocketAddr,
    source: &Source,
    tails: &Tails,
    shutdown: &CancellationToken,
) {
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut decoder = Decoder::new(source.config.max_message_bytes);
    let (receipts, mut confirmed) = mpsc::unbounded_channel();
    let mut c = Connection {
        peer,
        source,
        protocol: Protocol::default(),
        session: tails.new_session(),
        resend: tails.resend(peer.ip()),
        pending: VecDeque::new(),
        unanswered: 0,
        receipts,
        next_batch: 0,
        run: Default::default(),
        counts: IntakeCounts::default(),
        ending: false,
        resent: 0,
        resend_logged: false,
        refused: 0,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    let mut deadline: Option<tokio::time::Instant> = None;
    debug!(source = %source.parser.name, %peer, "RELP connection open");
    loop {
        // Answer, in order, everything whose turn has come.
        out.clear();
        while c.pending.front().is_some_and(|p| p.batch.is_none()) {
            if let Some(done) = c.pending.pop_front() {
                debug_assert!(c.unanswered >= done.answers.len());
                c.unanswered = c.unanswered.saturating_sub(done.answers.len());
                for answer in &done.answers {
                    if answer.code == 200 {
                        source.metrics.relp_acknowledged.increment(1);
                    }
                    answer.encode(&mut out);
                }
            }
        }
        if !out.is_empty() && writer.write_all(&out).await.is_err() {
            source.metrics.reject(Rejected::ReadError, 1);
            return;
        }
        if c.ending && c.pending.is_empty() {
            break;
        }
        let reading = !c.ending && c.unanswered < MAX_UNANSWERED;
        tokio::select! {
            Some((batch, written)) = confirmed.recv() => {
                if !written {
                    // Never written (the output gave up): no answer, the sender keeps it.
                    debug!(source = %source.parser.name, %peer, "lines not written: connection closed unanswered");
                    return;
                }
                if let Some(p) = c.pending.iter_mut().find(|p| p.batch == Some(batch)) {
                    p.batch = None;
                }
            }
            _ = shutdown.cancelled(), if deadline.is_none() => {
                c.ending = true;
                deadline = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
            }
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => break,
            read = reader.read(&mut buf), if reading => match read {
                Ok(0) => c.ending = true,
                Ok(n) => {
                    decoder.push(buf.get(..n).unwrap_or_default());
                    if !c.frames(&mut decoder).await {
                        return;
                    }
                }
                Err(e) => {
                    source.metrics.reject(Rejected::ReadError, 1);
                    debug!(source = %source.parser.name, %peer, error = %e, "RELP connection read failed");
                    c.ending = true;
                }
            },
        }
    }
    let _ = writer.shutdown().await;
    if c.refused > LOGGED_REFUSALS {
        warn!(source = %source.parser.name, %peer, refused = c.refused, "RELP connection closed; {} more refused frames were not logged one by one", c.refused - LOGGED_REFUSALS);
    }
    debug!(source = %source.parser.name, %peer, resent = c.resent, "RELP connection closed");
}
