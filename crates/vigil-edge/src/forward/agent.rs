//! Forwarding to a core (or an OSSIM server) in the OSSIM agent protocol: `connect` with the
//! edge's `sensor_id`, then one `event` line per event. Reconnects with exponential backoff
//! and jitter; a batch whose write failed is written again whole on the next connection.
//!
//! The protocol has no acknowledgements: events written to a connection the core drops
//! before reading them are lost, and a batch written again after a failed write may arrive
//! twice. The signed event bus replaces it.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use super::OutputParts;
use crate::metrics::EdgeMetrics;
use crate::queue::Queued;

/// How long a core has to answer `connect`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to forward.
pub struct AgentTarget {
    /// The core's agent port.
    pub address: SocketAddr,
    /// The edge's OSSIM sensor id.
    pub sensor_id: Uuid,
    /// First reconnection wait.
    pub reconnect_min: Duration,
    /// Longest reconnection wait.
    pub reconnect_max: Duration,
}

/// An open session: the write half, and a watch on the read half (closed when the core
/// closes the connection).
struct Session {
    writer: OwnedWriteHalf,
    closed: tokio::sync::oneshot::Receiver<()>,
}

/// Connects and performs the `connect` exchange.
async fn open(target: &AgentTarget) -> anyhow::Result<Session> {
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target.address))
        .await
        .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
    stream.set_nodelay(true)?;
    let (read, mut writer) = stream.into_split();
    let hello = format!(
        "connect id=\"1\" type=\"sensor\" version=\"vigil-edge {}\" sensor_id=\"{}\"\n",
        env!("CARGO_PKG_VERSION"),
        target.sensor_id
    );
    writer.write_all(hello.as_bytes()).await?;
    let mut reader = BufReader::new(read);
    let mut reply = String::new();
    tokio::time::timeout(CONNECT_TIMEOUT, reader.read_line(&mut reply))
        .await
        .map_err(|_| anyhow::anyhow!("no answer to connect"))??;
    let reply = reply.trim();
    if !reply.starts_with("ok") {
        anyhow::bail!("the core refused the session: {reply:?}");
    }
    let (tx, closed) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        // The core sends nothing we act on; reading tells when it closes the connection.
        let mut sink = [0u8; 4096];
        while matches!(reader.read(&mut sink).await, Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    Ok(Session { writer, closed })
}

/// Backoff with jitter: `min * 2^attempt`, capped at `max`, minus up to a quarter at random.
fn backoff(target: &AgentTarget, attempt: u32) -> Duration {
    let base = target
        .reconnect_min
        .saturating_mul(1u32 << attempt.min(20))
        .min(target.reconnect_max);
    let jitter = base.mul_f64(rand_fraction() * 0.25);
    base.saturating_sub(jitter)
}

/// A random number in [0, 1).
fn rand_fraction() -> f64 {
    getrandom::u32().map_or(0.5, |v| f64::from(v) / (f64::from(u32::MAX) + 1.0))
}

/// Resolves when the open session's connection is closed by the core (never without one).
async fn wait_closed(session: &mut Option<Session>) {
    match session {
        Some(s) => {
            let _ = (&mut s.closed).await;
        }
        None => std::future::pending().await,
    }
}

/// Connects (retrying with backoff until `give_up` is cancelled).
async fn connect(
    target: &AgentTarget,
    metrics: &EdgeMetrics,
    give_up: &CancellationToken,
    attempts: &mut u32,
) -> Option<Session> {
    loop {
        if *attempts > 0 {
            metrics.reconnects.increment(1);
        }
        let opened = tokio::select! {
            r = open(target) => r,
            _ = give_up.cancelled() => return None,
        };
        match opened {
            Ok(session) => {
                info!(core = %target.address, "connected to the core");
                metrics.connected.set(1.0);
                *attempts = 0;
                return Some(session);
            }
            Err(e) => {
                metrics.forward_errors.increment(1);
                let wait = backoff(target, *attempts);
                *attempts = attempts.saturating_add(1);
                warn!(core = %target.address, error = %e, retry_in = ?wait, "cannot reach the core");
                tokio::select! {
                    _ = give_up.cancelled() => return None,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Forwards every batch until the queue closes; `give_up` (cancelled some time after shutdown
/// began) stops retrying an unreachable core, counting what is left as lost.
pub async fn run(target: AgentTarget, parts: OutputParts) {
    let OutputParts {
        mut input,
        control,
        mut checkpoints,
        metrics,
        give_up,
        receipts,
    } = parts;
    let mut session: Option<Session> = None;
    let mut attempts = 0u32;
    let mut lines = Vec::with_capacity(1 << 20);
    'batches: loop {
        let next = tokio::select! {
            r = tokio::time::timeout(super::SAVE_EVERY, input.recv()) => Some(r),
            () = wait_closed(&mut session) => None,
        };
        let queued = match next {
            None => {
                session = None;
                metrics.connected.set(0.0);
                warn!(core = %target.address, "the core closed the connection");
                continue;
            }
            Some(Ok(Some(queued))) => queued,
            Some(Ok(None)) => break,
            Some(Err(_)) => {
                // Idle: what was sent is saved now (a small fsync, off the async workers).
                tokio::task::block_in_place(|| checkpoints.save());
                continue;
            }
        };
        let batch = &queued.item;
        lines.clear();
        for event in &batch.events {
            lines.extend_from_slice(vigil_agent_proto::event_line(event).as_bytes());
        }
        loop {
            if session.is_none() {
                session = connect(&target, &metrics, &give_up, &mut attempts).await;
            }
            let Some(s) = session.as_mut() else {
                metrics.lose(batch.events.len() as u64);
                break 'batches;
            };
            let written = tokio::select! {
                r = s.writer.write_all(&lines) => r,
                // A core that stopped reading must not hold shutdown up.
                _ = give_up.cancelled() => {
                    metrics.lose(batch.events.len() as u64);
                    break 'batches;
                }
            };
            match written {
                Ok(()) => break,
                Err(e) => {
                    metrics.forward_errors.increment(1);
                    metrics.connected.set(0.0);
                    warn!(core = %target.address, error = %e, "write to the core failed; reconnecting");
                    session = None;
                }
            }
        }
        metrics.forwarded.increment(batch.events.len() as u64);
        metrics.forward_depth.set(control.depth() as f64);
        let Queued { item, .. } = queued;
        tokio::task::block_in_place(|| checkpoints.advance(item.marks));
        // Sent, not durable: the agent protocol has no acknowledgement.
        receipts.confirm(item.receipts, 0);
    }
    // Whatever is still queued could not be sent; nothing can be queued any more.
    input.close();
    while let Some(queued) = input.recv().await {
        metrics.lose(queued.item.events.len() as u64);
    }
    if let Some(mut s) = session
        && !give_up.is_cancelled()
    {
        let _ = s.writer.shutdown().await;
    }
    tokio::task::block_in_place(|| checkpoints.save());
    metrics.connected.set(0.0);
}
