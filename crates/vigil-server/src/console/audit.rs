//! The audit log: who did what through the console, stored durably in `<data>/audit/`.
//!
//! The console owns the audit log (its own file lock, apart from the store writer's event and
//! alarm logs): [`record`] appends one entry and syncs it before returning, so an action is on
//! disk before its answer goes out. Triage and assignments recorded here are also applied to
//! the [`AlarmBook`](super::alarm_book::AlarmBook).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::error;
use vigil_event::{AuditAction, AuditEntry, AuditOutcome, Timestamp, Uuid};
use vigil_store::Log;

use super::{Console, problem};

/// The audit log, shared by the console's handlers.
pub struct AuditLog {
    log: Mutex<Log<AuditEntry>>,
    /// Keys the fingerprint of a failed login's unknown user name.
    key: [u8; 32],
}

/// An audit write failed: the action's answer is a 500.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the audit log: {0}")]
pub struct AuditFailed(String);

impl IntoResponse for AuditFailed {
    fn into_response(self) -> Response {
        problem(StatusCode::INTERNAL_SERVER_ERROR, &self.to_string())
    }
}

/// What to record: [`record`] adds the id and the time.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// Who did it (a user name or `token:<name>`).
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to (empty if nothing).
    pub target: String,
    /// Whether it succeeded.
    pub outcome: AuditOutcome,
    /// Particulars (never a password or a token).
    pub detail: BTreeMap<String, String>,
    /// The client's address.
    pub peer: Option<SocketAddr>,
}

impl NewEntry {
    /// A successful `action` by `actor` on `target` from `peer`, without detail.
    pub fn new(
        actor: &str,
        action: AuditAction,
        target: &str,
        peer: Option<SocketAddr>,
    ) -> NewEntry {
        NewEntry {
            actor: actor.to_string(),
            action,
            target: target.to_string(),
            outcome: AuditOutcome::Success,
            detail: BTreeMap::new(),
            peer,
        }
    }

    /// The same with `name: value` added to its detail.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> NewEntry {
        self.detail.insert(name.to_string(), value.into());
        self
    }

    /// The same, recorded as a failure.
    pub fn failed(mut self) -> NewEntry {
        self.outcome = AuditOutcome::Failure;
        self
    }
}

/// Which audit entries a listing holds.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Earliest time, inclusive.
    pub from: Option<Timestamp>,
    /// Latest time, inclusive.
    pub to: Option<Timestamp>,
    /// Exact actor.
    pub actor: Option<String>,
    /// Exact action.
    pub action: Option<AuditAction>,
    /// Exact target.
    pub target: Option<String>,
}

impl AuditFilter {
    fn matches(&self, e: &AuditEntry) -> bool {
        self.from.is_none_or(|t| e.time >= t)
            && self.to.is_none_or(|t| e.time <= t)
            && self.actor.as_ref().is_none_or(|a| &e.actor == a)
            && self.action.is_none_or(|a| e.action == a)
            && self.target.as_ref().is_none_or(|t| &e.target == t)
    }
}

impl AuditLog {
    /// The audit log `log`; `key` keys fingerprints of unknown user names.
    pub fn new(log: Log<AuditEntry>, key: [u8; 32]) -> AuditLog {
        AuditLog {
            log: Mutex::new(log),
            key,
        }
    }

    /// What a failed login's actor is stored as: `typed` if it names an existing user (per
    /// `known`), else its keyed fingerprint (it could be a password typed in the wrong field).
    pub fn login_actor(&self, typed: &str, known: bool) -> String {
        match known {
            true => typed.to_string(),
            false => vigil_event::secret_fingerprint(&self.key, typed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log<AuditEntry>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `entries` durably, in one write and one sync, before returning.
    pub async fn append(
        self: &Arc<Self>,
        entries: Vec<AuditEntry>,
    ) -> Result<Vec<AuditEntry>, AuditFailed> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            this.lock()
                .append(&entries)
                .map(|()| entries)
                .map_err(|e| AuditFailed(e.to_string()))
        })
        .await
        .map_err(|e| AuditFailed(e.to_string()))?
    }

    /// Entries matching `filter`, newest first, at most `limit` of those numbered below
    /// `before`, with the number to continue from when more remain.
    pub async fn list(
        self: &Arc<Self>,
        filter: AuditFilter,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<AuditEntry>, Option<u64>), AuditFailed> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut found: Vec<(u64, AuditEntry)> = Vec::new();
            this.lock()
                .scan_from(0, |n, entry| {
                    if before.is_none_or(|b| n < b) && filter.matches(&entry) {
                        found.push((n, entry));
                    }
                })
                .map_err(|e| AuditFailed(e.to_string()))?;
            let more = found.len() > limit;
            let page: Vec<(u64, AuditEntry)> = found.into_iter().rev().take(limit).collect();
            let next = page.last().map(|(n, _)| *n).filter(|_| more);
            Ok((page.into_iter().map(|(_, e)| e).collect(), next))
        })
        .await
        .map_err(|e| AuditFailed(e.to_string()))?
    }
}

/// Records `entry` in the audit log, durably, and applies a triage or assignment to the alarm
/// book. The stored entry, or why it could not be stored (answer it as a 500).
pub async fn record(console: &Console, entry: NewEntry) -> Result<AuditEntry, AuditFailed> {
    let mut stored = record_all(console, vec![entry]).await?;
    stored
        .pop()
        .ok_or_else(|| AuditFailed("nothing was stored".into()))
}

/// [`record`] for several entries, written with one sync.
pub async fn record_all(
    console: &Console,
    entries: Vec<NewEntry>,
) -> Result<Vec<AuditEntry>, AuditFailed> {
    let time = Timestamp::now();
    let entries = entries
        .into_iter()
        .map(|entry| AuditEntry {
            id: Uuid::now_v7(),
            time,
            actor: entry.actor,
            action: entry.action,
            target: entry.target,
            outcome: entry.outcome,
            detail: entry.detail,
            peer: entry.peer.map(|p| p.to_string()),
        })
        .collect();
    let stored = console.core.audit.append(entries).await.inspect_err(|e| {
        error!(error = %e, "audit entries not stored");
    })?;
    for entry in &stored {
        if matches!(
            entry.action,
            AuditAction::AlarmTriage | AuditAction::AlarmAssign
        ) {
            console.core.alarms.record(entry);
        }
    }
    Ok(stored)
}
