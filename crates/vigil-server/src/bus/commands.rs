//! Downstream commands: the core signs a command with its certificate's key and sends it on a
//! live session of the sensor; the edge checks the signature against the core certificate it
//! connected to, carries the command out, and answers with a signed result. Both sides log
//! every command and result.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tracing::info;
use vigil_bus::message::{SignedKind, encode, signing_message};
use vigil_bus::{CommandAction, CommandBody, CommandId, CommandResultBody, CoreMessage, Signed};
use vigil_event::Timestamp;

use super::session::Outgoing;

/// How long an edge may take to carry a command out before the core stops waiting (the
/// command expires at the edge then too).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a command could not be sent or got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// No session of the sensor is open.
    #[error("sensor {0:?} is not connected")]
    NotConnected(String),
    /// No result within [`COMMAND_TIMEOUT`].
    #[error("sensor {0:?} did not answer within {COMMAND_TIMEOUT:?}")]
    NoAnswer(String),
}

/// The sessions of one sensor: route id and the session's outgoing queue.
type Routes = Vec<(u64, mpsc::UnboundedSender<Outgoing>)>;

/// Open sessions by sensor, and commands waiting for their result.
#[derive(Default)]
pub struct Commands {
    routes: Mutex<HashMap<String, Routes>>,
    waiting: Mutex<HashMap<CommandId, oneshot::Sender<CommandResultBody>>>,
    next_route: std::sync::atomic::AtomicU64,
}

impl Commands {
    /// Records a session of `sensor`; returns its route id for [`Commands::unregister`].
    pub fn register(&self, sensor: &str, out: mpsc::UnboundedSender<Outgoing>) -> u64 {
        let id = self
            .next_route
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        routes
            .entry(sensor.to_string())
            .or_default()
            .push((id, out));
        id
    }

    /// Forgets a session.
    pub fn unregister(&self, sensor: &str, route: u64) {
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(list) = routes.get_mut(sensor) {
            list.retain(|(id, _)| *id != route);
            if list.is_empty() {
                routes.remove(sensor);
            }
        }
    }

    /// Hands a result to whoever waits for it (results for unknown ids are logged only).
    pub fn complete(&self, result: CommandResultBody) {
        info!(sensor = %result.sensor, id = %result.id, ok = result.ok, detail = %result.detail, "command result");
        let waiting = self
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&result.id);
        if let Some(reply) = waiting {
            let _ = reply.send(result);
        }
    }

    /// Signs `action` for `sensor`, sends it on one of its sessions and waits for the result.
    pub async fn send(
        &self,
        signer: &vigil_ca::Signer,
        sensor: &str,
        action: CommandAction,
    ) -> Result<CommandResultBody, CommandError> {
        let now = Timestamp::now().as_micros();
        let body = CommandBody {
            id: CommandId(uuid::Uuid::now_v7().into_bytes()),
            sensor: sensor.to_string(),
            issued_at_micros: now,
            expires_at_micros: now + COMMAND_TIMEOUT.as_micros() as i64,
            action,
        };
        let bytes = encode(&body);
        let signature = signer
            .sign(&signing_message(SignedKind::Command, &bytes))
            .to_vec();
        let message = CoreMessage::Command(Signed {
            body: bytes,
            signature,
        });
        let (reply, answer) = oneshot::channel();
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(body.id, reply);
        let sent = {
            let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
            routes
                .get(sensor)
                .and_then(|list| list.last())
                .is_some_and(|(_, out)| out.send(Outgoing::Message(message)).is_ok())
        };
        if !sent {
            self.forget(&body.id);
            return Err(CommandError::NotConnected(sensor.to_string()));
        }
        info!(sensor, id = %body.id, action = ?body.action, "command sent");
        match tokio::time::timeout(COMMAND_TIMEOUT, answer).await {
            Ok(Ok(result)) => Ok(result),
            _ => {
                self.forget(&body.id);
                Err(CommandError::NoAnswer(sensor.to_string()))
            }
        }
    }

    fn forget(&self, id: &CommandId) {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}
