//! Forwarding over the signed event bus: every event is numbered and written to the durable
//! spool (fsynced) before anything else; only then are the file positions of its lines saved.
//! One task per core endpoint sends what the spool holds, in signed batches over mutually
//! authenticated TLS, keeps several batches in flight, and deletes records from the spool only
//! once a core acknowledged them as durable. With several endpoints, each batch goes over the
//! first `copies` connected ones; the core stores each (sensor, sequence) once. A lost
//! connection is retried with exponential backoff and jitter, and everything unacknowledged is
//! sent again. Heartbeats carry the edge's counters; a clean stop says goodbye, so the core
//! takes the silence that follows for a stop, not an incident. Commands from the core are
//! carried out only when signed by the core certificate of the connection.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use tokio::sync::Notify;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};
use vigil_bus::message::{BatchHeader, SignedKind, decode, encode, signing_message};
use vigil_bus::{
    BatchBody, CommandBody, CommandId, CommandResultBody, CoreMessage, EdgeMessage, Epoch,
    GoodbyeBody, HeartbeatBody, Hello, PROTOCOL_VERSION, Signed, Welcome, read_frame, write_frame,
};
use vigil_event::{Event, Timestamp};
use vigil_spool::{Spool, SpoolError};

use super::OutputParts;
use crate::metrics::EdgeMetrics;
use crate::queue::Queued;
use crate::response::Responses;
use crate::verbosity::Verbosity;

/// How long the core has to answer `Hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a path may take to say goodbye when the edge stops.
const GOODBYE_GRACE: Duration = Duration::from_secs(2);
/// How often acknowledgements are written to the spool's state at most.
const ACK_FLUSH: Duration = Duration::from_secs(1);

/// Everything the bus output needs.
pub struct BusTarget {
    /// The edge's sensor name (its certificate's).
    pub sensor: String,
    /// Core endpoints, one path each.
    pub endpoints: Vec<SocketAddr>,
    /// The name the core's certificate must carry.
    pub server_name: String,
    /// How many connected paths send each batch.
    pub copies: usize,
    /// TLS client configuration (the edge's certificate and the CA).
    pub tls: Arc<rustls::ClientConfig>,
    /// Signs batches, heartbeats and results with the key of the edge's certificate.
    pub signer: Arc<vigil_ca::Signer>,
    /// Most events per batch.
    pub batch_events: usize,
    /// Most batches sent and not yet acknowledged, per path.
    pub in_flight: usize,
    /// Interval between heartbeats.
    pub heartbeat: Duration,
    /// First reconnection wait.
    pub reconnect_min: Duration,
    /// Longest reconnection wait.
    pub reconnect_max: Duration,
    /// Source verbosity switches, for commands.
    pub verbosity: Verbosity,
    /// Configured response scripts, for commands.
    pub responses: Arc<Responses>,
}

/// What the spool writer and the paths share.
struct Shared {
    target: BusTarget,
    spool: Mutex<Spool>,
    appended: Notify,
    connected: Vec<AtomicBool>,
    received: AtomicU64,
    metrics: EdgeMetrics,
    seen_commands: Mutex<VecDeque<CommandId>>,
    /// When each appended run of numbers (by its first) was handed to the spool, for
    /// `vigil_edge_bus_ack_seconds`.
    handed: Mutex<VecDeque<(u64, Instant)>>,
}

impl Shared {
    fn spool(&self) -> std::sync::MutexGuard<'_, Spool> {
        self.spool.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records how long ago the run holding `first` was handed to the spool, and forgets the
    /// runs wholly before `oldest_unacked` (none left unacknowledged: all but the last).
    fn record_ack_latency(&self, first: u64, oldest_unacked: Option<u64>) {
        let mut handed = self.handed.lock().unwrap_or_else(|p| p.into_inner());
        let at = handed.partition_point(|&(start, _)| start <= first);
        if let Some(&(_, when)) = at.checked_sub(1).and_then(|i| handed.get(i)) {
            self.metrics
                .bus_ack_seconds
                .record(when.elapsed().as_secs_f64());
        }
        let keep_from = oldest_unacked.unwrap_or(u64::MAX);
        while handed.len() > 1 && handed.get(1).is_some_and(|&(start, _)| start <= keep_from) {
            handed.pop_front();
        }
    }

    /// Marks path `i` up or down, and publishes how many are up.
    fn set_connected(&self, i: usize, up: bool) {
        self.connected[i].store(up, Ordering::Relaxed);
        let up = self
            .connected
            .iter()
            .filter(|c| c.load(Ordering::Relaxed))
            .count();
        self.metrics.connected.set(up as f64);
    }

    /// Whether path `i` is one of the first `copies` connected ones.
    fn active(&self, i: usize) -> bool {
        let before = self.connected[..i]
            .iter()
            .filter(|c| c.load(Ordering::Relaxed))
            .count();
        before < self.target.copies
    }
}

/// Spools every batch until the queue closes, while the paths send; returns once everything
/// queued is spooled (what is spooled and unacknowledged is sent at the next start).
pub fn run(target: BusTarget, spool: Spool, parts: OutputParts, runtime: tokio::runtime::Handle) {
    let OutputParts {
        mut input,
        control,
        mut checkpoints,
        metrics,
        give_up,
        mut receipts,
    } = parts;
    let paths = target.endpoints.len();
    let shared = Arc::new(Shared {
        connected: (0..paths).map(|_| AtomicBool::new(false)).collect(),
        target,
        spool: Mutex::new(spool),
        appended: Notify::new(),
        received: AtomicU64::new(0),
        metrics: metrics.clone(),
        seen_commands: Mutex::new(VecDeque::new()),
        handed: Mutex::new(VecDeque::new()),
    });
    let stop_paths = CancellationToken::new();
    let tasks: Vec<_> = (0..paths)
        .map(|i| runtime.spawn(path(shared.clone(), i, stop_paths.clone())))
        .collect();
    // Once the paths run: a full spool waits for their acknowledgements.
    report_spool_damage(&shared, &mut receipts, &give_up);
    let mut last_flush = std::time::Instant::now();
    loop {
        let next = runtime.block_on(async { tokio::time::timeout(ACK_FLUSH, input.recv()).await });
        if last_flush.elapsed() >= ACK_FLUSH {
            flush_acks(&shared);
            last_flush = std::time::Instant::now();
        }
        let queued = match next {
            Ok(Some(queued)) => queued,
            Ok(None) => break,
            Err(_) => continue,
        };
        let Queued { item, .. } = queued;
        let n = item.events.len() as u64;
        shared.received.fetch_add(n, Ordering::Relaxed);
        let Some(position) = spool_events(
            &shared,
            item.events,
            &item.receipts,
            &mut receipts,
            &give_up,
        ) else {
            metrics.lose(n);
            break;
        };
        metrics.forward_depth.set(control.depth() as f64);
        checkpoints.advance(item.marks);
        receipts.confirm(item.receipts, position);
        shared.appended.notify_waiters();
    }
    input.close();
    while let Ok(queued) = input.try_recv() {
        metrics.lose(queued.item.events.len() as u64);
    }
    checkpoints.save();
    stop_paths.cancel();
    for task in tasks {
        let _ = runtime.block_on(task);
    }
    flush_acks(&shared);
}

fn flush_acks(shared: &Shared) {
    if let Err(e) = shared.spool().flush_acks() {
        warn!(error = %e, "cannot save the spool's acknowledgements (they are sent again)");
    }
}

/// Counts each damaged range and each damaged state file the spool quarantined when it was
/// opened (it logged them), and a damaged range's sequences as lost (so the heartbeats'
/// `dropped` has them, and the core alarms on their gap), and spools a report of each for the
/// core to alarm on: plugin [`vigil_bus::REPORT_PLUGIN_ID`], sid
/// [`vigil_bus::SPOOL_CORRUPTION_SID`], naming the segment, the byte range, the sequences lost
/// and the quarantine file, or the state file, the quarantine file and how it was rebuilt.
fn report_spool_damage(
    shared: &Shared,
    receipts: &mut super::Receipts,
    give_up: &CancellationToken,
) {
    let report = shared.spool().open_report().clone();
    let ranges = report.damaged.iter().map(|d| {
        let lost = match d.lost {
            Some((first, last)) => {
                shared.metrics.lose(last - first + 1);
                format!("sequences {first}..={last} lost")
            }
            None => "no sequence lost".to_string(),
        };
        format!(
            "spool segment {} bytes {}..{} damaged ({}), {lost}, quarantined in {}; the records after them are kept",
            d.path.display(),
            d.from,
            d.to,
            d.reason,
            d.quarantine.display()
        )
    });
    let files = report.damaged_files.iter().map(|f| {
        format!(
            "spool state file {} ({} bytes) damaged, quarantined in {}; {}",
            f.path.display(),
            f.bytes,
            f.quarantine.display(),
            f.rebuilt
        )
    });
    let reports: Vec<Event> = ranges
        .chain(files)
        .map(|log| {
            shared.metrics.spool_corruption.increment(1);
            let mut event = Event::new(
                uuid::Uuid::now_v7(),
                Timestamp::now(),
                vigil_bus::REPORT_PLUGIN_ID,
                vigil_bus::SPOOL_CORRUPTION_SID,
            );
            event.log = Some(log);
            event
        })
        .collect();
    if !reports.is_empty() {
        spool_events(shared, reports, &[], receipts, give_up);
    }
}

/// Numbers, encodes and appends `events` to the spool, waiting while it is full (the queues
/// push back on the sources meanwhile); the lines of `batch_receipts` are recorded first.
/// Returns the spool's next sequence after them (the RELP receipts' position), or `None` if
/// it could not before `give_up`.
fn spool_events(
    shared: &Shared,
    mut events: Vec<Event>,
    batch_receipts: &[crate::source::Receipt],
    receipts: &mut super::Receipts,
    give_up: &CancellationToken,
) -> Option<u64> {
    let mut wait = Duration::from_millis(20);
    let handed = Instant::now();
    // This thread is the spool's only writer: the numbering cannot move while encoding, which
    // happens outside the lock the paths share.
    let first = shared.spool().next_sequence();
    let payloads = encode_numbered(&mut events, first, &shared.target.sensor);
    let position = first + payloads.len() as u64;
    if payloads.is_empty() {
        return Some(position);
    }
    loop {
        // RELP lines are recorded before they are spooled (see `source::relp::resend`).
        let result = receipts
            .record(batch_receipts, position)
            .map_err(|source| SpoolError::Io {
                op: "record RELP lines before spooling them",
                path: receipts.journal_path(),
                source,
            })
            .and_then(|()| shared.spool().append(&payloads));
        match result {
            Ok(appended) => {
                shared.metrics.forwarded.increment(appended.count);
                shared
                    .handed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_back((appended.first, handed));
                shared
                    .metrics
                    .bus_spooled
                    .set(shared.spool().stats().records_unacked as f64);
                if let Some((first, last)) = appended.dropped {
                    // Counted, logged, and in the heartbeats' `dropped`: the core's gap monitor
                    // raises the event-loss alarm for exactly this range.
                    warn!(
                        first,
                        last,
                        "spool full: the oldest unacknowledged events were dropped (spool_overflow = \"drop_oldest\")"
                    );
                    shared.metrics.lose(last - first + 1);
                }
                return Some(position);
            }
            Err(SpoolError::Full { .. }) => {}
            Err(e) => {
                shared.metrics.forward_errors.increment(1);
                error!(error = %e, "cannot write to the spool; retrying");
            }
        }
        if give_up.is_cancelled() {
            return None;
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}

fn encode_numbered(events: &mut [Event], first: u64, sensor: &str) -> Vec<Vec<u8>> {
    events
        .iter_mut()
        .zip(first..)
        .map(|(event, seq)| {
            event.provenance.sequence = Some(seq);
            event.provenance.sensor.clear();
            event.provenance.sensor.push_str(sensor);
            let mut bytes = Vec::with_capacity(512);
            vigil_event::codec::encode_event(event, &mut bytes);
            bytes
        })
        .collect()
}

/// One path: connect, send, reconnect, until `stop`.
async fn path(shared: Arc<Shared>, i: usize, stop: CancellationToken) {
    let endpoint = shared.target.endpoints[i];
    let mut wait = shared.target.reconnect_min;
    loop {
        let session = session(&shared, i, endpoint, &stop);
        tokio::pin!(session);
        let result = tokio::select! {
            result = &mut session => result,
            () = stop.cancelled() => {
                // A session that is up says goodbye to the core on stop (one still connecting
                // may get that far): a short grace, so a core that stopped reading cannot hold
                // the edge's shutdown up.
                let _ = tokio::time::timeout(GOODBYE_GRACE, session).await;
                return;
            }
        };
        shared.set_connected(i, false);
        match result {
            Ok(true) => wait = shared.target.reconnect_min,
            Ok(false) => {}
            Err(e) => {
                shared.metrics.forward_errors.increment(1);
                warn!(core = %endpoint, error = %format!("{e:#}"), retry_in = ?wait, "bus path down");
            }
        }
        shared.metrics.reconnects.increment(1);
        let jitter = rand_fraction() * wait.as_secs_f64() * 0.5;
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait.mul_f64(0.75) + Duration::from_secs_f64(jitter)) => {}
        }
        wait = (wait * 2).min(shared.target.reconnect_max);
    }
}

fn rand_fraction() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// One connection's life; Ok(true) if it got as far as a Welcome.
async fn session(
    shared: &Arc<Shared>,
    i: usize,
    endpoint: SocketAddr,
    stop: &CancellationToken,
) -> anyhow::Result<bool> {
    let target = &shared.target;
    let tcp = tokio::time::timeout(HELLO_TIMEOUT, tokio::net::TcpStream::connect(endpoint))
        .await
        .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(target.server_name.clone())
        .map_err(|e| anyhow::anyhow!("server_name {:?}: {e}", target.server_name))?;
    let connector = tokio_rustls::TlsConnector::from(target.tls.clone());
    let tls: Tls = tokio::time::timeout(HELLO_TIMEOUT, connector.connect(name, tcp))
        .await
        .map_err(|_| anyhow::anyhow!("TLS handshake timed out"))??;
    let core_cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| c.clone().into_owned())
        .ok_or_else(|| anyhow::anyhow!("the core sent no certificate"))?;
    let (mut reader, mut writer) = tokio::io::split(tls);
    let epoch = Epoch(shared.spool().epoch());
    let hello = EdgeMessage::Hello(Hello {
        protocol: PROTOCOL_VERSION,
        sensor: target.sensor.clone(),
        epoch,
    });
    write_frame(&mut writer, &encode(&hello)).await?;
    let mut frame = Vec::new();
    tokio::time::timeout(HELLO_TIMEOUT, read_frame(&mut reader, &mut frame))
        .await
        .map_err(|_| anyhow::anyhow!("no Welcome from the core"))??;
    let welcome: Welcome = match decode::<CoreMessage>(&frame)? {
        CoreMessage::Welcome(w) => w,
        CoreMessage::Reject(r) => anyhow::bail!("the core refused: {:?}: {}", r.reason, r.detail),
        other => anyhow::bail!("expected Welcome, got {other:?}"),
    };
    let next = shared.spool().next_sequence();
    if welcome.stored_through >= next {
        error!(
            stored_through = welcome.stored_through,
            next,
            %epoch,
            "the core has stored numbers of this spool epoch that the spool has not given yet; new events would be taken for duplicates"
        );
    }
    info!(core = %endpoint, name = %welcome.core, stored_through = welcome.stored_through, %epoch, "bus path up");
    shared.set_connected(i, true);

    // Read the core's messages on a task of its own.
    let (incoming_tx, mut incoming) = mpsc::unbounded_channel::<anyhow::Result<CoreMessage>>();
    let reading = tokio::spawn(async move {
        let mut frame = Vec::new();
        loop {
            let message = read_frame(&mut reader, &mut frame)
                .await
                .map_err(anyhow::Error::from)
                .and_then(|()| decode::<CoreMessage>(&frame).map_err(anyhow::Error::from));
            let failed = message.is_err();
            if incoming_tx.send(message).is_err() || failed {
                return;
            }
        }
    });
    let result = drive(
        shared,
        i,
        &welcome,
        &core_cert,
        &mut writer,
        &mut incoming,
        stop,
    )
    .await;
    reading.abort();
    result.map(|()| true)
}

/// Sends batches and heartbeats, handles acknowledgements and commands.
async fn drive(
    shared: &Arc<Shared>,
    i: usize,
    welcome: &Welcome,
    core_cert: &CertificateDer<'static>,
    writer: &mut tokio::io::WriteHalf<Tls>,
    incoming: &mut mpsc::UnboundedReceiver<anyhow::Result<CoreMessage>>,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let target = &shared.target;
    let mut in_flight: BTreeMap<u64, u64> = BTreeMap::new();
    let mut cursor = 0u64;
    let mut heartbeat = tokio::time::interval(target.heartbeat);
    let (done, mut results) = mpsc::unbounded_channel::<CommandResultBody>();
    loop {
        // Created before reading the spool, so an append after the read still wakes us.
        let appended = shared.appended.notified();
        tokio::pin!(appended);
        // Send while there is room and something to send.
        while in_flight.len() < target.in_flight && shared.active(i) {
            let records = shared
                .spool()
                .read_from(cursor, target.batch_events, 4 << 20)?;
            let Some(first) = records.first().map(|r| r.seq) else {
                break;
            };
            // The consecutive head: a hole (acknowledged over another path) ends a batch.
            let payloads: Vec<&[u8]> = records
                .iter()
                .zip(first..)
                .take_while(|(r, seq)| r.seq == *seq)
                .map(|(r, _)| r.payload.as_slice())
                .collect();
            let n = payloads.len() as u64;
            send_batch(shared, welcome, writer, first, &payloads).await?;
            in_flight.insert(first, n);
            cursor = first + n;
        }
        tokio::select! {
            () = &mut appended => {}
            message = incoming.recv() => {
                handle(shared, core_cert, &mut in_flight, &done, message).await?;
            }
            Some(result) = results.recv() => send_command_result(shared, writer, result).await?,
            _ = heartbeat.tick() => send_heartbeat(shared, welcome, writer).await?,
            () = stop.cancelled() => return send_goodbye(shared, welcome, writer).await,
            // A standby path becomes active when another one drops.
            () = tokio::time::sleep(Duration::from_millis(200)), if !shared.active(i) => {}
        }
    }
}

async fn send_batch(
    shared: &Shared,
    welcome: &Welcome,
    writer: &mut tokio::io::WriteHalf<Tls>,
    first: u64,
    payloads: &[&[u8]],
) -> anyhow::Result<()> {
    let header = BatchHeader {
        sensor: shared.target.sensor.clone(),
        session: welcome.session,
        first_sequence: first,
        sent_at_micros: Timestamp::now().as_micros(),
    };
    let body = BatchBody::encode(&header, payloads);
    let message = EdgeMessage::Batch(sign(shared, SignedKind::Batch, body));
    write_frame(writer, &encode(&message)).await?;
    Ok(())
}

fn sign(shared: &Shared, kind: SignedKind, body: Vec<u8>) -> Signed {
    let signature = shared
        .target
        .signer
        .sign(&signing_message(kind, &body))
        .to_vec();
    Signed { body, signature }
}

async fn send_heartbeat(
    shared: &Shared,
    welcome: &Welcome,
    writer: &mut tokio::io::WriteHalf<Tls>,
) -> anyhow::Result<()> {
    let stats = shared.spool().stats();
    let beat = HeartbeatBody {
        sensor: shared.target.sensor.clone(),
        session: welcome.session,
        sent_at_micros: Timestamp::now().as_micros(),
        next_sequence: stats.next_sequence,
        received: shared.received.load(Ordering::Relaxed),
        spooled: stats.records_unacked,
        dropped: shared.metrics.lost_so_far(),
    };
    let message = EdgeMessage::Heartbeat(sign(shared, SignedKind::Heartbeat, encode(&beat)));
    write_frame(writer, &encode(&message)).await?;
    Ok(())
}

/// Tells the core this edge is stopping cleanly, so its silence raises no alarm.
async fn send_goodbye(
    shared: &Shared,
    welcome: &Welcome,
    writer: &mut tokio::io::WriteHalf<Tls>,
) -> anyhow::Result<()> {
    let bye = GoodbyeBody {
        sensor: shared.target.sensor.clone(),
        session: welcome.session,
        sent_at_micros: Timestamp::now().as_micros(),
    };
    let message = EdgeMessage::Goodbye(sign(shared, SignedKind::Goodbye, encode(&bye)));
    write_frame(writer, &encode(&message)).await?;
    use tokio::io::AsyncWriteExt;
    writer.shutdown().await?;
    Ok(())
}

async fn handle(
    shared: &Arc<Shared>,
    core_cert: &CertificateDer<'static>,
    in_flight: &mut BTreeMap<u64, u64>,
    done: &mpsc::UnboundedSender<CommandResultBody>,
    message: Option<anyhow::Result<CoreMessage>>,
) -> anyhow::Result<()> {
    let message = match message {
        Some(Ok(m)) => m,
        Some(Err(e)) => return Err(e.context("reading from the core")),
        None => anyhow::bail!("the core closed the connection"),
    };
    match message {
        CoreMessage::Ack(ack) => {
            in_flight.remove(&ack.first_sequence);
            let last = ack.first_sequence + ack.count.saturating_sub(1);
            // Counted once, whichever path's acknowledgement (stored now, or a duplicate of what
            // another path or an earlier connection delivered) arrives first.
            let (newly, unacked, oldest) = {
                let mut spool = shared.spool();
                let before = spool.stats().records_unacked;
                spool.ack(ack.first_sequence, last)?;
                let stats = spool.stats();
                (
                    before.saturating_sub(stats.records_unacked),
                    stats.records_unacked,
                    stats.oldest_unacked,
                )
            };
            shared.metrics.bus_spooled.set(unacked as f64);
            if newly > 0 {
                shared.metrics.bus_acked.increment(newly);
                shared.record_ack_latency(ack.first_sequence, oldest);
            }
        }
        CoreMessage::Reject(r) => {
            shared.metrics.bus_refused.increment(1);
            anyhow::bail!(
                "the core refused input ({:?}): {}; reconnecting",
                r.reason,
                r.detail
            )
        }
        CoreMessage::Welcome(_) => anyhow::bail!("a second Welcome"),
        CoreMessage::Command(signed) => {
            // Carried out in a task of its own: a slow response script never holds up batches,
            // acknowledgements or heartbeats; its result is sent when it is done.
            let (shared, cert, done) = (shared.clone(), core_cert.clone(), done.clone());
            tokio::spawn(async move {
                let result = command(&shared, &cert, &signed).await;
                // The connection may have ended meanwhile: the core's request then times out.
                let _ = done.send(result);
            });
        }
    }
    Ok(())
}

/// Signs and sends the result of a command carried out.
async fn send_command_result(
    shared: &Shared,
    writer: &mut tokio::io::WriteHalf<Tls>,
    result: CommandResultBody,
) -> anyhow::Result<()> {
    info!(id = %result.id, ok = result.ok, detail = %result.detail, "command done");
    let message =
        EdgeMessage::CommandResult(sign(shared, SignedKind::CommandResult, encode(&result)));
    write_frame(writer, &encode(&message)).await?;
    Ok(())
}

/// Checks a command (signed by the core certificate of this connection, for this sensor, not
/// expired, never seen) and carries it out.
async fn command(
    shared: &Shared,
    core_cert: &CertificateDer<'static>,
    signed: &Signed,
) -> CommandResultBody {
    let refuse = |id: CommandId, detail: String| {
        warn!(%detail, "command refused");
        CommandResultBody {
            id,
            sensor: shared.target.sensor.clone(),
            ok: false,
            detail,
        }
    };
    if !vigil_ca::verify_signed_by(
        core_cert,
        &signing_message(SignedKind::Command, &signed.body),
        &signed.signature,
    ) {
        return refuse(
            CommandId([0; 16]),
            "refused: not signed by the core's key".into(),
        );
    }
    let body: CommandBody = match decode(&signed.body) {
        Ok(b) => b,
        Err(e) => return refuse(CommandId([0; 16]), format!("refused: {e}")),
    };
    if body.sensor != shared.target.sensor {
        return refuse(body.id, format!("refused: meant for {:?}", body.sensor));
    }
    if Timestamp::now().as_micros() > body.expires_at_micros {
        return refuse(body.id, "refused: expired".into());
    }
    {
        let mut seen = shared
            .seen_commands
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.contains(&body.id) {
            return refuse(body.id, "refused: already carried out (replayed)".into());
        }
        seen.push_back(body.id);
        if seen.len() > 4096 {
            seen.pop_front();
        }
    }
    info!(id = %body.id, action = ?body.action, "command from the core");
    let (ok, detail) = match &body.action {
        vigil_bus::CommandAction::SetVerbosity { source, verbose } => {
            match shared.target.verbosity.set(source, *verbose) {
                true => (true, format!("source {source:?} verbose = {verbose}")),
                false => (false, format!("no source named {source:?}")),
            }
        }
        vigil_bus::CommandAction::RunResponse { name, args } => {
            shared.target.responses.run(name, args).await
        }
    };
    CommandResultBody {
        id: body.id,
        sensor: shared.target.sensor.clone(),
        ok,
        detail,
    }
}
