//! The accept loop every TCP listener of the core shares: accept until shutdown, hold one
//! permit of the session limit per connection (refusing the rest), run each session on the
//! tracker so shutdown can wait for them.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::warn;

/// Accepts connections on `listener` until `shutdown`. Each runs `session` on `tracker` while
/// holding a permit of `limit`; when none is left the connection is closed and `refused` is
/// called with the peer. `what` names the listener in logs.
pub async fn accept_sessions<S, F>(
    listener: TcpListener,
    what: &'static str,
    limit: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    refused: impl Fn(SocketAddr),
    session: S,
) where
    S: Fn(TcpStream, SocketAddr) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Typically out of file descriptors: back off briefly instead of spinning.
                warn!(error = %e, "accepting a {what} connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            refused(peer);
            warn!(%peer, "{what} session limit reached; connection closed");
            continue;
        };
        let running = session(stream, peer);
        tracker.spawn(async move {
            running.await;
            drop(permit);
        });
    }
}
