//! A sensor's spool epochs on the core's side. The edge announces its spool's epoch in `Hello`:
//! its current one goes on where it was; the first one a sensor announces is adopted (with the
//! numbers it has); a new one means the edge's spool was lost or it was reinstalled, so its
//! history restarts, with the report `Bus: sensor history restarted`. A first or new epoch goes
//! to the store writer, which puts it in force in queue order and saves the book, and only then
//! is the session welcomed (with nothing stored under a new epoch). An epoch the sensor
//! superseded is an earlier installation's spool, restored, replayed or rolled back: refused
//! as `replayed`.

use std::net::IpAddr;

use vigil_bus::{Announced, Epoch, RejectReason};
use vigil_event::{Alarm, Event};

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
            let book = self.book.lock().unwrap_or_else(|p| p.into_inner());
            let numbers = book.sensor(sensor);
            (
                book.classify(sensor, epoch),
                numbers.map_or(0, |b| b.stored_through()),
                numbers.map_or(0, |b| b.highest()),
            )
        };
        match announced {
            Announced::Current => Ok(true),
            Announced::Superseded { current } => Err(superseded(sensor, epoch, current)),
            Announced::Adopted => self.enter(sensor, epoch, Vec::new(), Vec::new()).await,
            Announced::New { previous } => {
                let detail = format!(
                    "spool epoch {previous} (stored through sequence {through}, highest {highest}) replaced by {epoch}: the edge's spool was lost or it was reinstalled; its events, numbered from 1 again, are stored as a new sequence"
                );
                // Never rate limited: each restart is its own alarm.
                let (event, alarm) =
                    self.reporter
                        .raise(BusIncident::HistoryRestarted, sensor, Some(peer), detail);
                self.enter(sensor, epoch, vec![event], vec![alarm]).await
            }
        }
    }

    /// Has the store writer put `epoch` in force for `sensor` (storing the report with it), and
    /// checks it is still current once it has.
    async fn enter(
        &self,
        sensor: &str,
        epoch: Epoch,
        events: Vec<Event>,
        alarms: Vec<Alarm>,
    ) -> Result<bool, Superseded> {
        let Ok(durable) = self.queue.push_epoch(sensor, epoch, events, alarms).await else {
            return Ok(false);
        };
        if durable.await.is_err() {
            return Ok(false);
        }
        self.check_epoch(sensor, epoch)?;
        Ok(true)
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
