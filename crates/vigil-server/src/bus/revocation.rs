//! Revocation ends sessions. The core looks at its CRL file every second (its content), and
//! at its modification time and length before each handshake and each batch; a changed CRL is
//! put in force and every open session whose certificate it revokes is ended: the session's
//! token is cancelled, so it reads nothing more, sends no more acknowledgements, and the store
//! writer drops its batches not yet being written. Each ended session is logged and counted
//! (`vigil_bus_sessions_revoked_total`); each revoked certificate raises one alarm. A CRL file
//! that cannot be read or parsed keeps the last good CRL in force, is logged as an error and
//! counted (`vigil_bus_crl_reloads_total{outcome="failed"}`).

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::BusShared;
use super::identity::CrlCheck;
use super::report::BusIncident;

/// How often the CRL file is read to look for a change.
const TICK: Duration = Duration::from_secs(1);

/// One open session, as revocation sees it.
struct Open {
    sensor: String,
    peer: IpAddr,
    /// The client certificate chain of its connection, its own certificate first.
    chain: Vec<CertificateDer<'static>>,
    ended: CancellationToken,
}

/// A session ended by a revocation.
pub struct Ended {
    /// Its sensor.
    pub sensor: String,
    /// Its peer address.
    pub peer: IpAddr,
    /// The first session of its certificate ended: raise the alarm.
    pub first: bool,
}

/// The open bus sessions and their certificates.
#[derive(Default)]
pub struct OpenSessions {
    open: Mutex<HashMap<u64, Open>>,
    next: AtomicU64,
    /// Revoked certificates (their DER) whose alarm was raised.
    alarmed: Mutex<HashSet<Vec<u8>>>,
}

impl OpenSessions {
    /// Records an open session of `sensor` from `peer` with the certificate `chain`, to be
    /// ended by cancelling `ended`; returns its id (for [`OpenSessions::close`]).
    pub fn open(
        &self,
        sensor: &str,
        peer: IpAddr,
        chain: Vec<CertificateDer<'static>>,
        ended: CancellationToken,
    ) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let session = Open {
            sensor: sensor.to_string(),
            peer,
            chain,
            ended,
        };
        self.lock().insert(id, session);
        id
    }

    /// Forgets a session that ended.
    pub fn close(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Ends the open sessions (all, or only `only`) whose certificate `revoked` says is revoked.
    fn end_revoked(
        &self,
        only: Option<u64>,
        revoked: impl Fn(&[CertificateDer<'_>]) -> bool,
    ) -> Vec<Ended> {
        let ended: Vec<Open> = {
            let mut open = self.lock();
            let ids: Vec<u64> = open
                .iter()
                .filter(|(id, s)| only.is_none_or(|o| o == **id) && revoked(&s.chain))
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| open.remove(id)).collect()
        };
        let mut alarmed = self.alarmed.lock().unwrap_or_else(|p| p.into_inner());
        ended
            .into_iter()
            .map(|session| {
                session.ended.cancel();
                let first = session
                    .chain
                    .first()
                    .is_some_and(|cert| alarmed.insert(cert.to_vec()));
                Ended {
                    sensor: session.sensor,
                    peer: session.peer,
                    first,
                }
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl BusShared {
    /// Puts a changed CRL in force (`thorough`: compare the file's content, not only its
    /// modification time and length) and ends the open sessions it revokes.
    pub async fn check_revocations(&self, thorough: bool) {
        match self.tls.check_crl(thorough) {
            CrlCheck::Unchanged => {}
            CrlCheck::Failed(e) => {
                self.metrics.bus_crl_failed.increment(1);
                error!(error = %e, "the bus CRL changed but cannot be used; the last good CRL stays in force");
            }
            CrlCheck::Reloaded => {
                self.metrics.bus_crl_applied.increment(1);
                info!("bus CRL changed; reloaded");
                let ended = self
                    .sessions
                    .end_revoked(None, |chain| self.tls.revoked(chain));
                self.report_revoked(ended).await;
            }
        }
    }

    /// Ends the open session `id` if the CRL in force revokes its certificate (for a session
    /// that opened while the CRL was being reloaded).
    pub async fn end_if_revoked(&self, id: u64) {
        let ended = self
            .sessions
            .end_revoked(Some(id), |chain| self.tls.revoked(chain));
        self.report_revoked(ended).await;
    }

    async fn report_revoked(&self, ended: Vec<Ended>) {
        for session in ended {
            self.metrics.bus_sessions_revoked.increment(1);
            self.sensor_revoked(&session.sensor);
            warn!(sensor = %session.sensor, peer = %session.peer, "bus session ended: its certificate is revoked");
            if session.first {
                self.reporter
                    .report(
                        BusIncident::SessionRevoked,
                        &session.sensor,
                        Some(session.peer),
                        format!(
                            "the CRL now revokes its certificate; the session from {} was ended and its batches not yet stored were dropped",
                            session.peer
                        ),
                        None,
                    )
                    .await;
            }
        }
    }
}

/// Looks at the CRL every [`TICK`] until `shutdown`.
pub async fn watch(shared: std::sync::Arc<BusShared>, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(TICK) => {}
        }
        shared.check_revocations(true).await;
    }
}
