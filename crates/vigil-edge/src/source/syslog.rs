//! Syslog listeners: UDP datagrams, and TCP or TLS streams cut into messages by
//! `vigil-syslog`'s framing decoder. Every message becomes an event (parsed by the source's
//! plugins, or unparsed with its raw text); every refused input is counted by reason.
//!
//! Streams push back: a connection reads no more while the queue has no room for what it
//! already read, so TCP flow control slows the sender down. UDP cannot push back: a datagram
//! that finds the queue full is dropped and counted (`queue_full`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};
use vigil_event::Timestamp;
use vigil_syslog::{Decoder, FramingMode};

use super::{Batch, Source};
use crate::intake::IntakeCounts;
use crate::metrics::Rejected;
use crate::queue::TrySendError;

/// Most datagrams read into one batch.
const UDP_BATCH: usize = 512;
/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection keeps reading, after shutdown began, what its peer already sent (in
/// all: a peer that keeps sending does not hold shutdown up).
const DRAIN_TIMEOUT: Duration = Duration::from_millis(200);
/// Frame errors of one connection logged one by one before only a summary is.
const LOGGED_ERRORS: u64 = 10;

/// Receives datagrams until `shutdown`.
pub async fn serve_udp(socket: UdpSocket, source: Arc<Source>, shutdown: CancellationToken) {
    let max = source.config.max_message_bytes;
    // One byte more than the maximum tells an oversized datagram from a full-sized one.
    let mut buf = vec![0u8; max + 1];
    loop {
        let first = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = socket.recv_from(&mut buf) => r,
        };
        let now = Timestamp::now();
        let mut counts = IntakeCounts::default();
        let mut events = Vec::new();
        let mut next = Some(first);
        let mut datagrams = 0;
        while let Some(received) = next.take() {
            datagrams += 1;
            match received {
                Ok((n, peer)) if n > max => {
                    source.metrics.reject(Rejected::Oversized, 1);
                    debug!(source = %source.parser.name, %peer, bytes = n, "datagram larger than max_message_bytes dropped");
                }
                Ok((n, peer)) => {
                    if let Some(frame) = buf.get(..n).and_then(vigil_syslog::datagram) {
                        events.push(source.parser.syslog(frame, peer.ip(), now, &mut counts));
                    }
                }
                Err(e) => {
                    source.metrics.reject(Rejected::ReadError, 1);
                    warn!(source = %source.parser.name, error = %e, "cannot receive a datagram");
                    break; // back to the awaited receive: an error never spins
                }
            }
            if datagrams < UDP_BATCH {
                next = match socket.try_recv_from(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
                    other => Some(other),
                };
            }
        }
        source.metrics.count(&counts);
        let n = events.len();
        if n == 0 {
            continue;
        }
        match source.queue.try_send(Batch::events(events), n) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                source.metrics.reject(Rejected::QueueFull, n as u64);
                debug!(source = %source.parser.name, datagrams = n, "queue full: datagrams dropped");
            }
            Err(TrySendError::Closed) => return,
        }
    }
}

/// What a stream listener's connections speak.
#[derive(Clone)]
pub enum StreamProtocol {
    /// Syslog messages, framed as `framing` says.
    Syslog,
    /// RELP, recognising resends of the lines these tails remember.
    Relp(Arc<super::relp::resend::Tails>),
}

impl StreamProtocol {
    /// Serves one connection to its end (or shutdown).
    async fn serve<S: AsyncRead + tokio::io::AsyncWrite + Unpin>(
        &self,
        stream: S,
        peer: SocketAddr,
        source: &Source,
        shutdown: &CancellationToken,
    ) {
        match self {
            StreamProtocol::Syslog => read_stream(stream, peer, source, shutdown).await,
            StreamProtocol::Relp(tails) => {
                super::relp::serve(stream, peer, source, tails, shutdown).await;
            }
        }
    }
}

/// Accepts TCP connections (TLS when `tls` is set) until `shutdown`; each connection is a task
/// on `connections`.
pub async fn serve_stream(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    protocol: StreamProtocol,
    source: Arc<Source>,
    shutdown: CancellationToken,
    connections: TaskTracker,
) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, peer) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(source = %source.parser.name, error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if open.load(Ordering::Relaxed) >= source.config.max_connections {
            source.metrics.reject(Rejected::TooManyConnections, 1);
            warn!(source = %source.parser.name, %peer, limit = source.config.max_connections, "connection refused: too many connections");
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        source.metrics.connections.increment(1.0);
        let (source, shutdown, tls, open, protocol) = (
            source.clone(),
            shutdown.clone(),
            tls.clone(),
            open.clone(),
            protocol.clone(),
        );
        connections.spawn(async move {
            match tls {
                None => protocol.serve(stream, peer, &source, &shutdown).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => protocol.serve(stream, peer, &source, &shutdown).await,
                        Ok(Err(e)) => {
                            source.metrics.reject(Rejected::TlsHandshake, 1);
                            warn!(source = %source.parser.name, %peer, error = %e, "TLS handshake refused");
                        }
                        Err(_) => {
                            source.metrics.reject(Rejected::TlsHandshake, 1);
                            warn!(source = %source.parser.name, %peer, "TLS handshake timed out");
                        }
                    }
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
            source.metrics.connections.decrement(1.0);
        });
    }
}

/// What one connection has refused so far, for its log lines.
#[derive(Default)]
struct ConnectionErrors {
    count: u64,
}

/// Reads one connection to its end (or shutdown), queueing its messages.
async fn read_stream<S: AsyncRead + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    source: &Source,
    shutdown: &CancellationToken,
) {
    let mode = match source.config.framing {
        crate::config::FramingConfig::Auto => FramingMode::Auto,
        crate::config::FramingConfig::OctetCounting => FramingMode::OctetCounting,
        crate::config::FramingConfig::Lf => FramingMode::NonTransparent,
    };
    let mut decoder = Decoder::new(mode, source.config.max_message_bytes);
    let mut errors = ConnectionErrors::default();
    let mut buf = vec![0u8; 64 * 1024];
    // Once shutdown begins: until when the peer's bytes already sent are still read.
    let mut draining: Option<tokio::time::Instant> = None;
    debug!(source = %source.parser.name, %peer, "connection open");
    loop {
        let read = match draining {
            Some(deadline) => {
                match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_) => break,
                }
            }
            None => tokio::select! {
                _ = shutdown.cancelled() => {
                    draining = Some(tokio::time::Instant::now() + DRAIN_TIMEOUT);
                    continue;
                }
                r = stream.read(&mut buf) => r,
            },
        };
        match read {
            Ok(0) => break,
            Ok(n) => {
                decoder.push(buf.get(..n).unwrap_or_default());
                if !decode(&mut decoder, peer, source, &mut errors).await {
                    return;
                }
            }
            Err(e) => {
                source.metrics.reject(Rejected::ReadError, 1);
                debug!(source = %source.parser.name, %peer, error = %e, "connection read failed");
                break;
            }
        }
    }
    decoder.finish();
    decode(&mut decoder, peer, source, &mut errors).await;
    if errors.count > LOGGED_ERRORS {
        warn!(source = %source.parser.name, %peer, refused = errors.count, "connection closed; {} more refused messages were not logged one by one", errors.count - LOGGED_ERRORS);
    }
    debug!(source = %source.parser.name, %peer, "connection closed");
}

/// Takes every complete frame out of `decoder` and queues them (waiting for room). Returns
/// false when the queue is closed.
async fn decode(
    decoder: &mut Decoder,
    peer: SocketAddr,
    source: &Source,
    errors: &mut ConnectionErrors,
) -> bool {
    let now = Timestamp::now();
    let mut counts = IntakeCounts::default();
    // About one message per 64 bytes buffered: few reallocations of a vector of large events.
    let mut events = Vec::with_capacity(decoder.buffered() / 64 + 1);
    while let Some(item) = decoder.next() {
        match item {
            Ok(frame) => events.push(source.parser.syslog(
                &frame.data,
                peer.ip(),
                now,
                &mut counts,
            )),
            Err(e) => {
                source.metrics.reject(Rejected::of_frame_error(&e), 1);
                errors.count += 1;
                if errors.count <= LOGGED_ERRORS {
                    warn!(source = %source.parser.name, %peer, error = %e, "syslog message refused");
                }
            }
        }
    }
    source.metrics.count(&counts);
    let n = events.len();
    n == 0 || source.queue.send(Batch::events(events), n).await.is_ok()
}

/// Binds a syslog listener's socket.
pub async fn bind_udp(addr: SocketAddr, name: &str) -> anyhow::Result<UdpSocket> {
    use anyhow::Context;
    let socket = UdpSocket::bind(addr)
        .await
        .with_context(|| format!("source {name:?}: cannot listen for syslog on udp {addr}"))?;
    info!(source = name, addr = %socket.local_addr()?, "syslog UDP listener ready");
    Ok(socket)
}
