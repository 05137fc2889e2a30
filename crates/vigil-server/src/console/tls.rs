//! The console's TLS: its certificate (configured, or issued from the core's CA at the first
//! start), a TLS 1.3 server configuration without client certificates, and a listener that
//! hands axum connections whose handshake is done.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use vigil_ca::Passphrase;

use crate::config::{BusConfig, ConsoleConfig};

/// How long a client gets to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The protocol versions served by default.
const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
/// How long an issued console certificate is valid (what browsers accept of a certificate).
const CERTIFICATE_DAYS: u32 = 397;
/// Most TLS handshakes under way at once; a connection beyond is closed at once.
const MAX_HANDSHAKES: usize = 256;
/// Most console connections open at once (handshaking or not); one beyond is closed at once,
/// so that no client can take the process's file descriptors from the bus and the agents.
const MAX_CONNECTIONS: usize = 1024;
/// A connection that neither sends nor receives a byte this long is closed (a live stream
/// sends a ping every 15 s; an idle keep-alive connection or a request that stalls ends).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The console's certificate and key files: configured, or `<data_dir>/keys/console.crt|key`
/// issued at the first start (ECDSA P-256, which browsers take, from a single-use CA whose
/// certificate is `<data_dir>/keys/console-ca.pem`: [`vigil_ca::web`]) for the bus's `hosts`
/// and the console's own listen address. A certificate from before that CA is issued again.
pub fn files(
    console: &ConsoleConfig,
    bus: &BusConfig,
    data_dir: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    if let (Some(cert), Some(key)) = (&console.cert, &console.key) {
        return Ok((cert.clone(), key.clone()));
    }
    let keys = data_dir.join("keys");
    let (cert, key) = (keys.join("console.crt"), keys.join("console.key"));
    let key_pass = vigil_ca::own_passphrase()?;
    if !cert.exists() || !key.exists() || !keys.join("console-ca.pem").exists() {
        vigil_keys::private_dir(&keys)?;
        let mut hosts = bus.hosts.clone();
        let ip = console.listen.ip();
        if !ip.is_unspecified() && !hosts.contains(&ip.to_string()) {
            hosts.push(ip.to_string());
        }
        info!(?hosts, "issuing the console's certificate");
        vigil_ca::web::issue_web_certificate(
            &keys,
            "console",
            &hosts,
            key_pass.as_ref().map(Passphrase::as_str),
            CERTIFICATE_DAYS,
        )
        .context("cannot issue the console's certificate")?;
    }
    match &key_pass {
        Some(pass) => {
            if vigil_ca::encrypt_in_place(&key, pass.as_str(), &Default::default())? {
                info!(file = %key.display(), passphrase = pass.origin(), "encrypted a private key found in clear");
            }
        }
        None => warn!(
            file = %key.display(),
            "the console's private key is stored in clear: configure {}",
            vigil_ca::KeyKind::Ca.sources()
        ),
    }
    Ok((cert, key))
}

/// TLS 1.3 (and 1.2 with `allow_tls12`), no client certificates, ALPN `http/1.1`; logs the
/// certificate's fingerprint.
pub fn server_config(
    cert: &Path,
    key: &Path,
    allow_tls12: bool,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let certs = vigil_ca::load_certs(cert)?;
    let pass = vigil_ca::own_passphrase()?;
    let key = vigil_ca::load_private_key(key, pass.as_ref().map(Passphrase::as_str))?;
    let first = certs
        .first()
        .with_context(|| format!("{} holds no certificate", cert.display()))?;
    info!(
        cert = %cert.display(),
        sha256 = %fingerprint(first),
        "console certificate"
    );
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(match allow_tls12 {
        true => rustls::ALL_VERSIONS,
        false => TLS13_ONLY,
    })
    .context("cannot configure console TLS")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("cannot use the console certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if allow_tls12 {
        warn!("the console also serves TLS 1.2 clients (console.allow_tls12)");
    }
    Ok(Arc::new(config))
}

/// The SHA-256 fingerprint of the first certificate of the PEM file `cert`.
pub fn file_fingerprint(cert: &Path) -> anyhow::Result<String> {
    let certs = vigil_ca::load_certs(cert)?;
    let first = certs
        .first()
        .with_context(|| format!("{} holds no certificate", cert.display()))?;
    Ok(fingerprint(first))
}

/// SHA-256 of a DER certificate, as colon-separated hex.
fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Connections whose TLS handshake succeeded, for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(Conn, SocketAddr)>,
    addr: SocketAddr,
}

/// A console connection: its TLS stream, its place among [`MAX_CONNECTIONS`], and the
/// [`IDLE_TIMEOUT`] that any byte read or written pushes back.
pub struct Conn {
    tls: TlsStream<tokio::net::TcpStream>,
    _slot: tokio::sync::OwnedSemaphorePermit,
    idle: std::pin::Pin<Box<tokio::time::Sleep>>,
}

impl Conn {
    fn active(&mut self) {
        self.idle
            .as_mut()
            .reset(tokio::time::Instant::now() + IDLE_TIMEOUT);
    }
}

impl tokio::io::AsyncRead for Conn {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::future::Future;
        use std::task::Poll;
        let this = self.get_mut();
        let before = buf.filled().len();
        match std::pin::Pin::new(&mut this.tls).poll_read(cx, buf) {
            Poll::Ready(done) => {
                if buf.filled().len() > before {
                    this.active();
                }
                Poll::Ready(done)
            }
            Poll::Pending => match this.idle.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    super::refused("idle");
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "console connection idle",
                    )))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl tokio::io::AsyncWrite for Conn {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = std::pin::Pin::new(&mut this.tls).poll_write(cx, buf);
        if matches!(written, std::task::Poll::Ready(Ok(n)) if n > 0) {
            this.active();
        }
        written
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tls).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().tls).poll_shutdown(cx)
    }
}

impl TlsListener {
    /// Accepts on `listener` until `shutdown`, each handshake in its own task.
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        shutdown: CancellationToken,
    ) -> std::io::Result<TlsListener> {
        let addr = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            debug!(error = %e, "console accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let Ok(slot) = connections.clone().try_acquire_owned() else {
                    super::refused("connections");
                    debug!(%peer, "too many console connections; connection closed");
                    continue;
                };
                let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                    super::refused("handshakes");
                    debug!(%peer, "too many console TLS handshakes under way; connection closed");
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let handshake =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
                    drop(permit);
                    match handshake {
                        Ok(Ok(tls)) => {
                            let idle = Box::pin(tokio::time::sleep(IDLE_TIMEOUT));
                            let conn = Conn {
                                tls,
                                _slot: slot,
                                idle,
                            };
                            let _ = tx.send((conn, peer)).await;
                        }
                        Ok(Err(e)) => {
                            super::refused("tls");
                            debug!(%peer, error = %e, "console TLS handshake failed");
                        }
                        Err(_) => {
                            super::refused("handshake_timeout");
                            debug!(%peer, "console TLS handshake timed out");
                        }
                    }
                });
            }
        });
        Ok(TlsListener { ready, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.addr)
    }
}

/// The client's address, for `ConnectInfo`.
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}
