//! The OSSIM agent listener (TCP 40001): one lightweight task per session, no thread each.
//!
//! A session reads its socket in chunks, splits lines, answers `connect` and the other
//! commands, turns `event` lines into events and queues each chunk's events as one batch
//! (enrichment, policies and correlation happen after, in `vigil_analysis`). When
//! the store queue is full the session stops reading, so TCP pushes back on the agent.
//! At shutdown a session still processes every byte the kernel has already received, then ends.
//! A session is closed when a line is not completed within `agent.line_timeout` of its first
//! bytes, or nothing arrives for `agent.idle_timeout` (a slowloris holds no session for long);
//! counted in `vigil_agent_sessions_timed_out_total{stage}` and logged (the log's repeat limit
//! bounds a flood of them).
//! Every rejected input is counted by reason; the first [`LOGGED_REJECTIONS`] of a session are
//! logged one by one and the rest are summed up when the session ends, so a hostile peer cannot
//! flood the log.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use uuid::Uuid;
use vigil_agent_proto::{
    Command, EventContext, Handshake, Outcome, RejectReason, Reply, classify_handshake, parse_line,
};
use vigil_event::{Event, Timestamp};

use crate::clock::CoreClock;
use crate::config::AgentConfig;
use crate::metrics::Metrics;
use crate::sensors::{Admission, AgentSensors, SensorRegistry};
use crate::writer::IntakeQueue;

/// Rejections logged individually per session before the rest are only counted.
pub const LOGGED_REJECTIONS: u32 = 20;
const READ_CHUNK: usize = 64 * 1024;

/// Everything sessions share.
pub struct AgentIntake {
    config: AgentConfig,
    sensors: SensorRegistry,
    metrics: Metrics,
    queue: IntakeQueue,
    secret_key: [u8; 32],
    sessions: Arc<Semaphore>,
    /// Dates what arrives (the core's proven time).
    clock: Arc<CoreClock>,
    /// What was heard from each sensor, for the console.
    heard: Arc<AgentSensors>,
}

impl AgentIntake {
    /// Builds the intake from its configuration and the shared pipeline parts.
    pub fn new(
        config: AgentConfig,
        metrics: Metrics,
        queue: IntakeQueue,
        secret_key: [u8; 32],
        clock: Arc<CoreClock>,
        heard: Arc<AgentSensors>,
    ) -> Self {
        let sensors = SensorRegistry::new(config.sensors.clone(), config.unknown_sensors);
        let sessions = Arc::new(Semaphore::new(config.max_connections));
        AgentIntake {
            config,
            sensors,
            metrics,
            queue,
            secret_key,
            sessions,
            clock,
            heard,
        }
    }

    /// Accepts sessions until `shutdown`; sessions run on `tracker` and end at shutdown too.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: CancellationToken,
        tracker: TaskTracker,
    ) {
        let metrics = self.metrics.clone();
        crate::listen::accept_sessions(
            listener,
            "agent",
            self.sessions.clone(),
            shutdown.clone(),
            tracker,
            move |_| metrics.connections_refused.increment(1),
            |stream, peer| {
                let (intake, shutdown) = (self.clone(), shutdown.clone());
                async move {
                    intake.metrics.connections.increment(1.0);
                    intake.metrics.connections_total.increment(1);
                    Session::new(&intake, peer).run(stream, &shutdown).await;
                    intake.metrics.connections.decrement(1.0);
                }
            },
        )
        .await;
    }
}

/// The identity a session was admitted with.
struct Admitted {
    name: String,
    sensor_ip: IpAddr,
    sensor_id: Option<Uuid>,
}

/// What a session was waiting for when it timed out.
#[derive(Clone, Copy)]
enum Stage {
    /// The rest of a line begun.
    Line,
    /// Any line.
    Idle,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

struct Session<'a> {
    intake: &'a AgentIntake,
    peer: SocketAddr,
    sensor: Option<Admitted>,
    line_no: u64,
    logged: u32,
    rejected: BTreeMap<&'static str, u64>,
    replies: Vec<u8>,
    batch: Vec<Event>,
}

impl<'a> Session<'a> {
    fn new(intake: &'a AgentIntake, peer: SocketAddr) -> Self {
        Session {
            intake,
            peer,
            sensor: None,
            line_no: 0,
            logged: 0,
            rejected: BTreeMap::new(),
            replies: Vec::new(),
            batch: Vec::new(),
        }
    }

    async fn run(mut self, mut stream: TcpStream, shutdown: &CancellationToken) {
        if let Err(e) = stream.set_nodelay(true) {
            debug!(peer = %self.peer, error = %e, "cannot set TCP_NODELAY");
        }
        let mut first = [0u8; 4];
        let handshake = tokio::select! {
            () = shutdown.cancelled() => return,
            read = tokio::time::timeout(self.intake.config.handshake_timeout, stream.read_exact(&mut first)) => read,
        };
        match handshake {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return, // closed before sending anything: nothing to count
            Err(_) => {
                self.reject(
                    RejectReason::HandshakeTimeout,
                    "no data within the handshake timeout",
                );
                return self.finish();
            }
        }
        match classify_handshake(first) {
            Handshake::Text => {}
            Handshake::Bson => {
                self.reject(
                    RejectReason::BsonRefused,
                    "BSON sessions are not supported: configure the agent for the text protocol",
                );
                return self.finish();
            }
            Handshake::Garbage => {
                self.reject(
                    RejectReason::BadHandshake,
                    "session does not start with `connect`",
                );
                return self.finish();
            }
        }
        let mut buf = Vec::with_capacity(READ_CHUNK);
        buf.extend_from_slice(&first);
        let max_line = self.intake.config.max_line_bytes;
        let mut discarding = false;
        let mut draining = false;
        // When the line not yet completed began (None between lines).
        let mut line_since = None;
        loop {
            let received_at = self.intake.clock.now();
            let mut start = 0;
            let mut flow = Flow::Continue;
            let mut completed = false;
            while let Some(newline) = memchr::memchr(b'\n', &buf[start..]) {
                let line = &buf[start..start + newline];
                start += newline + 1;
                self.line_no += 1;
                completed = true;
                if std::mem::take(&mut discarding) {
                    continue;
                }
                if line.len() > max_line {
                    self.reject(
                        RejectReason::LineTooLong,
                        &format!("{} bytes (limit {max_line})", line.len()),
                    );
                    continue;
                }
                if self.handle_line(line, received_at) == Flow::Close {
                    flow = Flow::Close;
                    break;
                }
            }
            if flow == Flow::Continue && buf.len() - start > max_line {
                if !discarding {
                    self.line_no += 1;
                    self.reject(
                        RejectReason::LineTooLong,
                        &format!("more than {max_line} bytes without a newline"),
                    );
                    discarding = true;
                }
                start = buf.len();
            }
            buf.drain(..start);
            if !self.flush(&mut stream).await || flow == Flow::Close {
                break;
            }
            // Timed once flushed: a wait for the store (only after completed lines) is not the
            // agent's.
            line_since = match (buf.is_empty() && !discarding, completed, line_since) {
                (true, _, _) => None,
                (false, false, Some(since)) => Some(since),
                _ => Some(tokio::time::Instant::now()),
            };
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            let read = if draining {
                // Shutting down: take only what the kernel already holds, then stop.
                match read_held(&stream, &mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    other => other,
                }
            } else {
                let (deadline, stage) = self.deadline(line_since);
                tokio::select! {
                    () = shutdown.cancelled() => {
                        draining = true;
                        continue;
                    }
                    read = tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)) => match read {
                        Ok(read) => read,
                        Err(_) => {
                            self.timed_out(stage);
                            break;
                        }
                    },
                }
            };
            match read {
                Ok(0) => {
                    // A last line without its newline is still an event the agent sent.
                    if !buf.is_empty() && !discarding {
                        self.line_no += 1;
                        let last = std::mem::take(&mut buf);
                        let received_at = self.intake.clock.now();
                        self.handle_line(&last, received_at);
                        self.flush(&mut stream).await;
                    }
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    debug!(peer = %self.peer, error = %e, "agent connection read failed");
                    break;
                }
            }
        }
        self.finish();
    }

    /// When the next bytes are due: the line begun at `line_since` within `agent.line_timeout`,
    /// else any within `agent.idle_timeout`.
    fn deadline(&self, line_since: Option<tokio::time::Instant>) -> (tokio::time::Instant, Stage) {
        let config = &self.intake.config;
        match line_since {
            Some(since) => (since + config.line_timeout, Stage::Line),
            None => (
                tokio::time::Instant::now() + config.idle_timeout,
                Stage::Idle,
            ),
        }
    }

    /// Counts and logs the session closed for being too slow at `stage`.
    fn timed_out(&self, stage: Stage) {
        let (limit, option) = match stage {
            Stage::Line => {
                self.intake.metrics.agent_line_timed_out.increment(1);
                (self.intake.config.line_timeout, "agent.line_timeout")
            }
            Stage::Idle => {
                self.intake.metrics.agent_idle_timed_out.increment(1);
                (self.intake.config.idle_timeout, "agent.idle_timeout")
            }
        };
        let sensor = self.sensor.as_ref().map_or("-", |s| s.name.as_str());
        warn!(peer = %self.peer, sensor, ?limit, option, "agent session too slow, closed");
    }

    /// Sends replies and queues the batch; false if the session must end.
    async fn flush(&mut self, stream: &mut TcpStream) -> bool {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.intake.metrics.received.increment(batch.len() as u64);
            if let Some(sensor) = &self.sensor {
                let now = self.intake.clock.now();
                self.intake
                    .heard
                    .heard(&sensor.name, now, batch.len() as u64);
            }
            if self.intake.queue.push(batch).await.is_err() {
                warn!(peer = %self.peer, "store writer stopped; closing agent session");
                return false;
            }
        }
        if !self.replies.is_empty() {
            let replies = std::mem::take(&mut self.replies);
            if stream.write_all(&replies).await.is_err() {
                return false;
            }
        }
        true
    }

    fn handle_line(&mut self, line: &[u8], received_at: Timestamp) -> Flow {
        let command = match parse_line(line) {
            Ok(Some(command)) => command,
            Ok(None) => return Flow::Continue,
            Err(rejection) => {
                self.reject(rejection.reason, &rejection.detail);
                return if rejection.outcome == Outcome::CloseSession {
                    Flow::Close
                } else {
                    Flow::Continue
                };
            }
        };
        match command {
            Command::Connect(connect) => {
                let (admission, first_seen) = self.intake.sensors.admit(&connect, self.peer.ip());
                if first_seen {
                    self.intake.metrics.sensors_first_seen.increment(1);
                }
                match admission {
                    Admission::Accept {
                        name,
                        sensor_ip,
                        sensor_id,
                    } => {
                        info!(peer = %self.peer, sensor = %name, version = connect.version.as_deref().unwrap_or("?"), "agent connected");
                        self.intake.heard.heard(&name, self.intake.clock.now(), 0);
                        self.sensor = Some(Admitted {
                            name,
                            sensor_ip,
                            sensor_id,
                        });
                        self.reply(Reply::Ok(connect.id));
                        Flow::Continue
                    }
                    Admission::NoAck(known) => {
                        self.reply(Reply::NoAck(connect.id, known));
                        self.reject(
                            RejectReason::SensorIdMismatch,
                            &format!(
                                "this address is sensor {known}; told the agent to adopt that id"
                            ),
                        );
                        Flow::Close
                    }
                    Admission::Refuse(reason) => {
                        self.reply(Reply::Error(connect.id));
                        self.reject(
                            reason,
                            &format!(
                                "connect refused ({:?} session, sensor_id {:?})",
                                connect.kind, connect.sensor_id
                            ),
                        );
                        Flow::Close
                    }
                }
            }
            Command::Event(raw) => {
                let Some(sensor) = &self.sensor else {
                    self.reject(
                        RejectReason::NotConnected,
                        "event before a successful connect",
                    );
                    return Flow::Continue;
                };
                let context = EventContext {
                    sensor: &sensor.name,
                    sensor_ip: sensor.sensor_ip,
                    sensor_id: sensor.sensor_id,
                    peer: Some(self.peer.ip()),
                    received_at,
                    secret_key: &self.intake.secret_key,
                };
                self.batch.push(raw.into_event(&context));
                Flow::Continue
            }
            Command::AppendPlugin { id } => {
                if self.sensor.is_some() {
                    self.reply(Reply::Ok(id));
                } else {
                    self.reject(
                        RejectReason::NotConnected,
                        "session-append-plugin before a successful connect",
                    );
                }
                Flow::Continue
            }
            Command::Ignored { .. } => Flow::Continue,
            Command::Unsupported { name, id } => {
                self.reply(Reply::Error(id));
                self.reject(
                    RejectReason::UnsupportedCommand,
                    &format!("{name} is not served on the agent port"),
                );
                Flow::Continue
            }
        }
    }

    fn reply(&mut self, reply: Reply) {
        self.replies.extend_from_slice(reply.to_line().as_bytes());
    }

    fn reject(&mut self, reason: RejectReason, detail: &str) {
        self.intake.metrics.reject(reason);
        *self.rejected.entry(reason.as_str()).or_default() += 1;
        let sensor = self.sensor.as_ref().map_or("-", |s| s.name.as_str());
        if self.logged < LOGGED_REJECTIONS {
            self.logged += 1;
            warn!(peer = %self.peer, sensor, line = self.line_no, reason = reason.as_str(), detail, "agent input rejected");
            if self.logged == LOGGED_REJECTIONS {
                warn!(peer = %self.peer, sensor, "further rejections in this session are counted but not logged one by one");
            }
        }
    }

    fn finish(self) {
        let total: u64 = self.rejected.values().sum();
        if u64::from(self.logged) < total {
            warn!(peer = %self.peer, rejected = ?self.rejected, "agent session ended with more rejections than were logged");
        }
        debug!(peer = %self.peer, lines = self.line_no, "agent session ended");
    }
}

/// Reads what the kernel already holds for `stream` into `buf` without waiting. Asks the socket
/// itself: tokio's `try_read_buf` answers from its cached readiness, which can say "would block"
/// while bytes that arrived just before shutdown wait unread.
fn read_held(stream: &TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; READ_CHUNK];
    let read = std::io::Read::read(&mut &*socket2::SockRef::from(stream), &mut chunk)?;
    buf.extend_from_slice(&chunk[..read]);
    Ok(read)
}
