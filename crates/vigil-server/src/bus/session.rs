//! One bus connection: TLS handshake with a client certificate, `Hello`, then batches,
//! heartbeats and command results until the edge leaves.
//!
//! Every input is checked before it costs anything else, cheapest first: frame size, message
//! syntax, the Ed25519 signature by the key of the connection's certificate, the sensor named in
//! the body (its certificate's), the session id (a body signed for another session is a
//! replay), the spool epoch (still the sensor's current one, [`super::history`]), the sequence
//! window, and every event's encoding and number. A refusal is counted,
//! raises an alarm, is answered with `Reject`, and ends the connection. Accepted batches go to
//! the store writer; the `Ack` is sent once the writer says the batch is durable, in order, by a
//! task of its own, so the session keeps reading meanwhile. A session whose certificate gets
//! revoked is ended ([`super::revocation`]): it stops reading and acknowledging at once, and its
//! batches not yet being written are not stored.
//! A connection is given `bus.handshake_timeout` for its TLS handshake and `Hello` together,
//! a sensor at most `bus.max_sessions_per_sensor` sessions, and every frame is read within the
//! intake budget and its time limits ([`super::reading`]); a connection too slow at any stage
//! is closed, counted, and (unless merely idle) alarmed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncWrite, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_bus::message::{BatchHeader, SignedKind, decode, encode, signing_message};
use vigil_bus::{
    Ack, AckStatus, BatchBody, CommandResultBody, CoreMessage, EdgeMessage, Epoch, GoodbyeBody,
    HeartbeatBody, Hello, PROTOCOL_VERSION, Reject, RejectReason, Signed, Welcome, write_frame,
};
use vigil_event::{Event, Timestamp, Transport};

use super::BusShared;
use super::reading::{ReadError, Stage, hello_frame, next_frame};
use super::report::BusIncident;
use crate::writer::Durable;

/// What the writing task sends, in order.
pub enum Outgoing {
    /// A message to send now.
    Message(CoreMessage),
    /// An `Ack` to send once the batch is durable.
    Ack {
        /// First sequence number of the batch.
        first: u64,
        /// Events in the batch.
        count: u64,
        /// Resolves when the writer has stored it.
        durable: tokio::sync::oneshot::Receiver<Durable>,
    },
}

/// A refusal: why, and what to log.
struct Refusal(RejectReason, String);

/// How a session ends other than cleanly.
enum End {
    /// Input refused: answered with `Reject`, counted and alarmed.
    Refused(Refusal),
    /// Too slow at a stage (with what to log): counted and alarmed (unless idle).
    TimedOut(Stage, String),
}

impl From<super::history::Superseded> for Refusal {
    fn from((reason, detail): super::history::Superseded) -> Self {
        Refusal(reason, detail)
    }
}

impl From<Refusal> for End {
    fn from(refusal: Refusal) -> End {
        End::Refused(refusal)
    }
}

/// Runs one accepted TCP connection to its end.
pub async fn run(shared: Arc<BusShared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    // A certificate revoked a moment ago is refused at this handshake already.
    shared.check_revocations(false).await;
    let acceptor = tokio_rustls::TlsAcceptor::from(shared.tls.config());
    let deadline = tokio::time::Instant::now() + shared.config.handshake_timeout;
    let handshake = tokio::time::timeout_at(deadline, acceptor.accept(stream));
    let tls = match handshake.await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            shared.metrics.bus_handshakes_refused.increment(1);
            shared
                .reporter
                .report(
                    BusIncident::HandshakeRefused,
                    &peer.ip().to_string(),
                    Some(peer.ip()),
                    format!("TLS handshake from {peer} failed: {e}"),
                    Some(peer.ip().to_string()),
                )
                .await;
            return;
        }
        Err(_) => {
            let detail = format!(
                "no TLS handshake within {:?}",
                shared.config.handshake_timeout
            );
            timed_out(
                &shared,
                Stage::Handshake,
                &peer.ip().to_string(),
                peer.ip(),
                detail,
            )
            .await;
            return;
        }
    };
    let chain: Vec<CertificateDer<'static>> = tls
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
        .unwrap_or_default();
    let Some(cert) = chain.first().cloned() else {
        shared.metrics.bus_handshakes_refused.increment(1);
        return;
    };
    let name = match vigil_ca::peer_name(&cert) {
        Ok(name) => name,
        Err(e) => {
            shared.metrics.bus_handshakes_refused.increment(1);
            warn!(%peer, error = %e, "bus certificate without a name");
            return;
        }
    };
    shared.metrics.bus_connections.increment(1.0);
    let mut session = Session {
        shared: shared.clone(),
        cert,
        chain,
        name,
        peer: peer.ip(),
        id: random_session_id(),
        epoch: Epoch([0; 16]),
        skew_reported: false,
    };
    let (reader, writer) = tokio::io::split(tls);
    session.serve(reader, writer, deadline).await;
    shared.metrics.bus_connections.decrement(1.0);
}

/// Counts a connection closed at `stage` for taking too long, and counts it into its alarm
/// (one per stage, sensor and peer) unless it was merely idle.
async fn timed_out(shared: &BusShared, stage: Stage, who: &str, peer: IpAddr, detail: String) {
    shared.metrics.bus_timed_out(stage);
    if stage == Stage::Idle {
        info!(sensor = who, %peer, %detail, "idle bus session closed");
        return;
    }
    shared
        .reporter
        .report(
            BusIncident::SessionTimedOut,
            who,
            Some(peer),
            format!("from {peer}: {detail}"),
            Some(format!("{}/{who}/{peer}", stage.label())),
        )
        .await;
}

fn random_session_id() -> [u8; 16] {
    let mut id = [0u8; 16];
    if getrandom::fill(&mut id).is_err() {
        // No OS randomness: a time-based id still differs per session.
        id = uuid::Uuid::now_v7().into_bytes();
    }
    id
}

struct Session {
    shared: Arc<BusShared>,
    cert: CertificateDer<'static>,
    /// The client certificate chain, `cert` first.
    chain: Vec<CertificateDer<'static>>,
    name: String,
    peer: IpAddr,
    id: [u8; 16],
    /// The spool epoch its `Hello` announced (zeros until then).
    epoch: Epoch,
    skew_reported: bool,
}

type Reader = tokio::io::ReadHalf<TlsStream<TcpStream>>;

impl Session {
    async fn serve(
        &mut self,
        mut reader: Reader,
        writer: WriteHalf<TlsStream<TcpStream>>,
        deadline: tokio::time::Instant,
    ) {
        let mut frame = Vec::new();
        let hello = self.read_hello(&mut reader, &mut frame, deadline).await;
        let (out, outgoing) = mpsc::unbounded_channel();
        // Cancelled when a revocation ends the session.
        let ended = CancellationToken::new();
        let writing = tokio::spawn(write_loop(
            writer,
            outgoing,
            self.shared.clone(),
            ended.clone(),
        ));
        let shared = self.shared.clone();
        let max = shared.config.max_sessions_per_sensor;
        let result = hello.and_then(|epoch| {
            self.epoch = epoch;
            shared.slots.take(&self.name, max).ok_or_else(|| {
                End::Refused(Refusal(
                    RejectReason::Protocol,
                    format!("{max} sessions of this sensor are open already (bus.max_sessions_per_sensor)"),
                ))
            })
        });
        let result = match result {
            Ok(slot) => match self
                .shared
                .open_history(&self.name, self.peer, self.epoch)
                .await
            {
                Ok(true) => Ok(Some(slot)),
                // The core is stopping.
                Ok(false) => Ok(None),
                Err(superseded) => Err(End::Refused(superseded.into())),
            },
            Err(end) => Err(end),
        };
        let result = match result {
            Ok(None) => Ok(()),
            Ok(Some(_slot)) => {
                let stored_through = self.shared.stored_through(&self.name);
                let _ = out.send(Outgoing::Message(CoreMessage::Welcome(Welcome {
                    protocol: PROTOCOL_VERSION,
                    session: self.id,
                    core: self.shared.core_name.clone(),
                    core_time_micros: self.shared.clock.now().as_micros(),
                    stored_through,
                })));
                info!(sensor = %self.name, peer = %self.peer, stored_through, "bus session open");
                let route = self.shared.commands.register(&self.name, out.clone());
                let open = self.shared.sessions.open(
                    &self.name,
                    self.peer,
                    self.chain.clone(),
                    ended.clone(),
                );
                // The CRL may have been reloaded since this handshake.
                self.shared.end_if_revoked(open).await;
                self.shared.sensor_heard(&self.name, None, true).await;
                let result = self.read_loop(&mut reader, &mut frame, &out, &ended).await;
                self.shared.sessions.close(open);
                self.shared.commands.unregister(&self.name, route);
                result
            }
            Err(end) => Err(end),
        };
        match result {
            Ok(()) => {}
            Err(End::TimedOut(stage, detail)) => {
                timed_out(&self.shared, stage, &self.name, self.peer, detail).await;
            }
            Err(End::Refused(refusal)) => self.refuse(refusal, &out).await,
        }
        drop(out);
        let _ = writing.await;
        info!(sensor = %self.name, peer = %self.peer, "bus session closed");
    }

    /// Answers a refusal with `Reject`, counts it and raises its alarm.
    async fn refuse(
        &self,
        Refusal(reason, detail): Refusal,
        out: &mpsc::UnboundedSender<Outgoing>,
    ) {
        self.shared.metrics.bus_reject(reason);
        let _ = out.send(Outgoing::Message(CoreMessage::Reject(Reject {
            first_sequence: 0,
            reason,
            detail: detail.clone(),
        })));
        self.shared
            .reporter
            .report(
                BusIncident::Rejected(reason),
                &self.name,
                Some(self.peer),
                format!("from {}: {detail}", self.peer),
                Some(format!("{}/{}", self.name, self.peer)),
            )
            .await;
    }

    /// Reads and checks the `Hello`, due by `deadline` (that of the handshake).
    async fn read_hello(
        &self,
        reader: &mut Reader,
        frame: &mut Vec<u8>,
        deadline: tokio::time::Instant,
    ) -> Result<Epoch, End> {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let read = tokio::time::timeout_at(deadline, hello_frame(reader, frame, left));
        let late = || {
            End::TimedOut(
                Stage::Hello,
                format!(
                    "no Hello within {:?} of connecting",
                    self.shared.config.handshake_timeout
                ),
            )
        };
        match read.await {
            Err(_) | Ok(Err(ReadError::Idle | ReadError::Slow)) => return Err(late()),
            Ok(Err(ReadError::Frame(vigil_bus::FrameError::TooLarge(n)))) => {
                return Err(Refusal(RejectReason::Malformed, format!("frame of {n} bytes")).into());
            }
            Ok(Err(ReadError::Frame(e))) => {
                return Err(Refusal(RejectReason::Protocol, format!("no Hello: {e}")).into());
            }
            Ok(Ok(())) => {}
        }
        Ok(self.hello(frame)?)
    }

    /// Checks the `Hello`; returns the spool epoch it announces.
    fn hello(&self, frame: &[u8]) -> Result<Epoch, Refusal> {
        let hello: Hello = match decode::<EdgeMessage>(frame) {
            Ok(EdgeMessage::Hello(hello)) => hello,
            Ok(_) => return Err(Refusal(RejectReason::Protocol, "expected Hello".into())),
            Err(e) => match vigil_bus::message::hello_version(frame) {
                Some(version) if version != PROTOCOL_VERSION => {
                    return Err(Refusal(
                        RejectReason::Protocol,
                        format!("protocol version {version} is not {PROTOCOL_VERSION}"),
                    ));
                }
                _ => return Err(Refusal(RejectReason::Malformed, e.to_string())),
            },
        };
        if hello.protocol != PROTOCOL_VERSION {
            return Err(Refusal(
                RejectReason::Protocol,
                format!(
                    "protocol version {} is not {PROTOCOL_VERSION}",
                    hello.protocol
                ),
            ));
        }
        if hello.sensor != self.name {
            return Err(Refusal(
                RejectReason::IdentityMismatch,
                format!(
                    "certificate of {:?} says Hello as {:?}",
                    self.name, hello.sensor
                ),
            ));
        }
        Ok(hello.epoch)
    }

    async fn read_loop(
        &mut self,
        reader: &mut Reader,
        frame: &mut Vec<u8>,
        out: &mpsc::UnboundedSender<Outgoing>,
        ended: &CancellationToken,
    ) -> Result<(), End> {
        let (idle, frame_timeout) = (
            self.shared.config.idle_timeout,
            self.shared.config.frame_timeout,
        );
        loop {
            let budget = &self.shared.budget;
            let read = tokio::select! {
                biased;
                () = ended.cancelled() => return Ok(()),
                read = next_frame(reader, frame, budget, &self.name, idle, frame_timeout) => read,
            };
            // Held until the frame's batch is queued for the store.
            let _reserved = match read {
                Ok(reserved) => reserved,
                Err(ReadError::Idle) => {
                    return Err(End::TimedOut(
                        Stage::Idle,
                        format!("nothing received for {idle:?}"),
                    ));
                }
                Err(ReadError::Slow) => {
                    return Err(End::TimedOut(
                        Stage::Frame,
                        format!("a frame not received whole within {frame_timeout:?}"),
                    ));
                }
                Err(ReadError::Frame(vigil_bus::FrameError::TooLarge(n))) => {
                    return Err(
                        Refusal(RejectReason::Malformed, format!("frame of {n} bytes")).into(),
                    );
                }
                Err(ReadError::Frame(e)) => {
                    debug!(sensor = %self.name, error = %e, "bus connection ended");
                    return Ok(());
                }
            };
            let message = decode::<EdgeMessage>(frame)
                .map_err(|e| Refusal(RejectReason::Malformed, e.to_string()))?;
            // Its bytes are in `message` now: freed before the body is decoded, so the frame is
            // held in at most three copies at once (what its reservation counts).
            *frame = Vec::new();
            match message {
                EdgeMessage::Hello(_) => {
                    return Err(Refusal(RejectReason::Protocol, "a second Hello".into()).into());
                }
                EdgeMessage::Batch(signed) => {
                    let (header, offset, events) = self.batch(&signed)?;
                    self.report_clock(offset).await;
                    self.report_spool_damage(&events).await;
                    let count = events.len() as u64;
                    self.shared.metrics.bus_received.increment(count);
                    self.shared.sensor_heard(&self.name, None, false).await;
                    // Nothing is stored for a certificate revoked since the last look.
                    self.shared.check_revocations(false).await;
                    let pushed = tokio::select! {
                        biased;
                        () = ended.cancelled() => return Ok(()),
                        pushed = self.shared.queue.push_acknowledged(events, ended.clone(), &self.name, self.epoch) => pushed,
                    };
                    let Ok(durable) = pushed else {
                        // The core is stopping: unacknowledged, the batch is sent again.
                        return Ok(());
                    };
                    let _ = out.send(Outgoing::Ack {
                        first: header.first_sequence,
                        count,
                        durable,
                    });
                }
                EdgeMessage::Heartbeat(signed) => {
                    self.verify(&signed, SignedKind::Heartbeat)?;
                    let beat: HeartbeatBody = decode(&signed.body)
                        .map_err(|e| Refusal(RejectReason::Malformed, e.to_string()))?;
                    self.check_origin(&beat.sensor, &beat.session)?;
                    self.shared
                        .check_epoch(&self.name, self.epoch)
                        .map_err(Refusal::from)?;
                    let offset = self.clock_offset(beat.sent_at_micros, self.shared.clock.now());
                    self.report_clock(offset).await;
                    self.shared
                        .sensor_heard(&self.name, Some(beat), false)
                        .await;
                }
                EdgeMessage::Goodbye(signed) => {
                    self.verify(&signed, SignedKind::Goodbye)?;
                    let bye: GoodbyeBody = decode(&signed.body)
                        .map_err(|e| Refusal(RejectReason::Malformed, e.to_string()))?;
                    self.check_origin(&bye.sensor, &bye.session)?;
                    self.shared.sensor_stopped(&self.name, self.peer).await;
                    return Ok(());
                }
                EdgeMessage::CommandResult(signed) => {
                    self.verify(&signed, SignedKind::CommandResult)?;
                    let result: CommandResultBody = decode(&signed.body)
                        .map_err(|e| Refusal(RejectReason::Malformed, e.to_string()))?;
                    if result.sensor != self.name {
                        return Err(Refusal(
                            RejectReason::IdentityMismatch,
                            format!("command result names {:?}", result.sensor),
                        )
                        .into());
                    }
                    self.shared.commands.complete(result);
                }
            }
        }
    }

    fn verify(&self, signed: &Signed, kind: SignedKind) -> Result<(), Refusal> {
        match vigil_ca::verify_signed_by(
            &self.cert,
            &signing_message(kind, &signed.body),
            &signed.signature,
        ) {
            true => Ok(()),
            false => Err(Refusal(
                RejectReason::BadSignature,
                "the signature does not verify with the sensor's certificate".into(),
            )),
        }
    }

    fn check_origin(&self, sensor: &str, session: &[u8; 16]) -> Result<(), Refusal> {
        if sensor != self.name {
            return Err(Refusal(
                RejectReason::IdentityMismatch,
                format!("body signed by {:?} names {sensor:?}", self.name),
            ));
        }
        if session != &self.id {
            return Err(Refusal(
                RejectReason::Replayed,
                "validly signed body of another session".into(),
            ));
        }
        Ok(())
    }

    /// Verifies and decodes a batch; returns its header, the edge's clock offset when past the
    /// limit, and its events, stamped with their provenance (and corrected by that offset).
    fn batch(
        &mut self,
        signed: &Signed,
    ) -> Result<(BatchHeader, Option<i64>, Vec<Event>), Refusal> {
        self.verify(signed, SignedKind::Batch)?;
        let body = BatchBody::decode(&signed.body)
            .map_err(|e| Refusal(RejectReason::Malformed, e.to_string()))?;
        let header = body.header;
        self.check_origin(&header.sensor, &header.session)?;
        self.shared
            .check_epoch(&self.name, self.epoch)
            .map_err(Refusal::from)?;
        let count = body.events.len() as u64;
        if count == 0 {
            return Err(Refusal(RejectReason::Malformed, "an empty batch".into()));
        }
        let window = self.shared.config.sequence_window;
        if !self
            .shared
            .in_window(&self.name, header.first_sequence, count, window)
        {
            return Err(Refusal(
                RejectReason::OutOfWindow,
                format!(
                    "sequence {}..{} is more than {window} past the highest stored",
                    header.first_sequence,
                    header.first_sequence.saturating_add(count - 1)
                ),
            ));
        }
        let now = self.shared.clock.now();
        let offset = self.clock_offset(header.sent_at_micros, now);
        let mut events = Vec::with_capacity(body.events.len());
        for (i, bytes) in body.events.iter().enumerate() {
            let mut event = vigil_event::codec::decode_event(bytes).map_err(|e| {
                Refusal(
                    RejectReason::Malformed,
                    format!("event {i} of the batch: {e}"),
                )
            })?;
            let expected = header.first_sequence + i as u64;
            if event.provenance.sequence != Some(expected) {
                return Err(Refusal(
                    RejectReason::OutOfWindow,
                    format!(
                        "event {i} of the batch is numbered {:?}, not {expected}",
                        event.provenance.sequence
                    ),
                ));
            }
            let p = &mut event.provenance;
            p.sensor.clone_from(&self.name);
            p.transport = Transport::Bus;
            p.authenticated = true;
            p.received_at = now;
            p.peer = Some(self.peer);
            if let Some(offset) = offset {
                event.time = Timestamp::from_micros(event.time.as_micros().saturating_add(offset));
                event
                    .extra
                    .insert("edge_clock_offset_us".into(), offset.to_string());
            }
            events.push(event);
        }
        Ok((header, offset, events))
    }

    /// Raises an alarm for a report of spool damage among an edge's events (each stored too, as
    /// evidence): one per sensor, the reports of a minute counted into it, so a sensor cannot
    /// flood alarms with them.
    async fn report_spool_damage(&self, events: &[vigil_event::Event]) {
        let reports = events.iter().filter(|e| {
            e.plugin_id == vigil_bus::REPORT_PLUGIN_ID
                && e.plugin_sid == vigil_bus::SPOOL_CORRUPTION_SID
        });
        for report in reports {
            let detail = report.log.clone().unwrap_or_default();
            self.shared
                .reporter
                .report(
                    BusIncident::SpoolCorruption,
                    &self.name,
                    Some(self.peer),
                    detail,
                    Some(self.name.clone()),
                )
                .await;
        }
    }

    /// The core's clock minus the edge's, when it is past `max_clock_skew` and the edge's
    /// clock is the wrong one: not when most edges disagree with the core (then the core's
    /// clock is wrong, [`crate::clock`] says so, and the edge's times are kept).
    fn clock_offset(&self, edge_micros: i64, now: Timestamp) -> Option<i64> {
        let offset = now.as_micros().saturating_sub(edge_micros);
        self.shared.clock.edge_offset(&self.name, offset);
        let limit = self.shared.config.max_clock_skew;
        let past = offset.unsigned_abs() > limit.as_micros() as u64;
        (past && self.shared.clock.edges_disagree(limit).is_none()).then_some(offset)
    }

    /// Raises a clock-skew alarm when the edge's clock is past the limit (once per skewed
    /// stretch of a session, and again once it was back in line).
    async fn report_clock(&mut self, offset: Option<i64>) {
        match offset {
            Some(offset) if !self.skew_reported => {
                self.skew_reported = true;
                self.shared
                    .reporter
                    .report(
                        BusIncident::ClockSkew,
                        &self.name,
                        Some(self.peer),
                        format!(
                            "edge clock is {:.3} s {} the core's; its event times are corrected by the offset",
                            offset.unsigned_abs() as f64 / 1e6,
                            if offset > 0 { "behind" } else { "ahead of" }
                        ),
                        None,
                    )
                    .await;
            }
            Some(_) => {}
            None => self.skew_reported = false,
        }
    }
}

/// Sends messages and, once each batch is durable, its `Ack`, in order; nothing more once
/// `ended` (the session's certificate was revoked).
async fn write_loop<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut outgoing: mpsc::UnboundedReceiver<Outgoing>,
    shared: Arc<BusShared>,
    ended: CancellationToken,
) {
    loop {
        let item = tokio::select! {
            biased;
            () = ended.cancelled() => break,
            item = outgoing.recv() => item,
        };
        let Some(item) = item else { break };
        let message = match item {
            Outgoing::Message(message) => message,
            Outgoing::Ack {
                first,
                count,
                durable,
            } => {
                let started = Instant::now();
                let durable = tokio::select! {
                    biased;
                    () = ended.cancelled() => break,
                    durable = durable => durable,
                };
                let Ok(durable) = durable else {
                    warn!(
                        first,
                        count,
                        "a bus batch could not be stored; not acknowledged (the edge sends it again)"
                    );
                    return;
                };
                debug!(first, count, waited = ?started.elapsed(), "batch durable");
                shared.metrics.bus_acked.increment(1);
                CoreMessage::Ack(Ack {
                    first_sequence: first,
                    count,
                    status: match durable.stored {
                        0 => AckStatus::Duplicate,
                        _ => AckStatus::Stored,
                    },
                })
            }
        };
        if write_frame(&mut writer, &encode(&message)).await.is_err() {
            return;
        }
    }
    use tokio::io::AsyncWriteExt;
    let _ = writer.shutdown().await;
}
