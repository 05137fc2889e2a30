//! A sensor's spool epochs on the core's side. The edge announces its spool's epoch in `Hello`:
//! its current one goes on where it was; the first one a sensor announces is adopted; a new one
//! means the edge's spool was lost or it was reinstalled, so its history restarts: the report
//! (`Bus: sensor history restarted`) goes to the store writer, which starts the sensor's numbers
//! afresh under the new epoch when it reaches it, and only then is the session welcomed (with
//! nothing stored under the new epoch). An epoch the sensor superseded is an earlier
//! installation's spool, restored, replayed or rolled back: refused as `replayed`.

use std::net::IpAddr;

use tracing::info;
use vigil_bus::{Announced, Epoch, RejectReason};

use super::BusShared;
use super::report::BusIncident;

/// Why a session cannot go on under its epoch: the refusal's reason and detail.
pub type Superseded = (RejectReason, String);

impl BusShared {
    /// Opens the history of `sensor` from `peer` under the `epoch` its `Hello` announced.
    /// `Ok(false)` when the core is stopping (the session ends without an answer).
    pub async fn open_history(
        &self,
        sensor: &str,
        peer: IpAddr,
        epoch: Epoch,
    ) -> Result<bool, Superseded> {
        let (announced, through, highest) = {
            let mut book = self.book.lock().unwrap_or_else(|p| p.into_inner());
            let announced = book.announce(sensor, epoch);
            let numbers = book.sensor(sensor);
            let through = numbers.map_or(0, |b| b.stored_through());
            (announced, through, numbers.map_or(0, |b| b.highest()))
        };
        match announced {
            Announced::Current => Ok(true),
            Announced::Adopted => {
                info!(sensor, %epoch, stored_through = through, "spool epoch of the sensor recorded");
                Ok(true)
            }
            Announced::Superseded { current } => Err(superseded(sensor, epoch, current)),
            Announced::New { previous } => {
                let detail = format!(
                    "spool epoch {previous} (stored through sequence {through}, highest {highest}) replaced by {epoch}: the edge's spool was lost or it was reinstalled; its events, numbered from 1 again, are stored as a new sequence"
                );
                // Never rate limited: each restart is its own alarm.
                let report = self.reporter.raise(
                    BusIncident::HistoryRestarted,
                    sensor,
                    Some(peer),
                    detail,
                    None,
                );
                let (events, alarms) = report.into_iter().unzip();
                let Ok(durable) = self.queue.push_restart(sensor, epoch, events, alarms).await
                else {
                    return Ok(false);
                };
                Ok(durable.await.is_ok())
            }
        }
    }

    /// Refuses a session's batch or heartbeat once its `epoch` is no longer the sensor's
    /// current one (another installation's spool announced since).
    pub fn check_epoch(&self, sensor: &str, epoch: Epoch) -> Result<(), Superseded> {
        let book = self.book.lock().unwrap_or_else(|p| p.into_inner());
        match book.epoch(sensor) {
            Some(current) if current != epoch => Err(superseded(sensor, epoch, current)),
            _ => Ok(()),
        }
    }
}

fn superseded(sensor: &str, epoch: Epoch, current: Epoch) -> Superseded {
    (
        RejectReason::Replayed,
        format!(
            "spool epoch {epoch} of {sensor} was superseded by {current}: an earlier installation's spool (restored, replayed or rolled back); its events are not taken"
        ),
    )
}
