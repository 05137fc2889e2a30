//! Entries of the audit log: who did what to the console (logins, triage, administration).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Timestamp;

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// A console login.
    Login,
    /// A refused console login.
    LoginFailed,
    /// A console logout.
    Logout,
    /// An alarm's triage status set (`detail`: `status`, `comment`).
    AlarmTriage,
    /// An alarm assigned (`detail`: `user`, absent when unassigned).
    AlarmAssign,
    /// A user account added.
    UserAdd,
    /// A user account changed.
    UserChange,
    /// A user account removed.
    UserRemove,
    /// An API token created.
    TokenCreate,
    /// An API token revoked.
    TokenRevoke,
    /// A directive enabled.
    DirectiveEnable,
    /// A directive disabled.
    DirectiveDisable,
    /// The correlation rules reloaded.
    Reload,
    /// A command sent to sensors.
    Command,
}

impl AuditAction {
    /// Every action, in declaration order.
    pub const ALL: [AuditAction; 14] = [
        AuditAction::Login,
        AuditAction::LoginFailed,
        AuditAction::Logout,
        AuditAction::AlarmTriage,
        AuditAction::AlarmAssign,
        AuditAction::UserAdd,
        AuditAction::UserChange,
        AuditAction::UserRemove,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::DirectiveEnable,
        AuditAction::DirectiveDisable,
        AuditAction::Reload,
        AuditAction::Command,
    ];

    /// The action's name, as in JSON (`alarm_triage`).
    pub fn name(self) -> &'static str {
        match self {
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::AlarmTriage => "alarm_triage",
            AuditAction::AlarmAssign => "alarm_assign",
            AuditAction::UserAdd => "user_add",
            AuditAction::UserChange => "user_change",
            AuditAction::UserRemove => "user_remove",
            AuditAction::TokenCreate => "token_create",
            AuditAction::TokenRevoke => "token_revoke",
            AuditAction::DirectiveEnable => "directive_enable",
            AuditAction::DirectiveDisable => "directive_disable",
            AuditAction::Reload => "reload",
            AuditAction::Command => "command",
        }
    }

    /// The action named `name`, if any.
    pub fn from_name(name: &str) -> Option<AuditAction> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Whether the recorded action succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditOutcome {
    /// It was done.
    Success,
    /// It was refused or failed.
    Failure,
}

/// One record of the audit log. Never holds a password or a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Entry id (UUID v7: ordered by creation).
    pub id: Uuid,
    /// When it happened (the core's wall clock).
    pub time: Timestamp,
    /// Who did it: a user name, `token:<name>`, or for a failed login the name typed when it is
    /// an existing user's, else its keyed fingerprint (`fp:…`).
    pub actor: String,
    /// What was done.
    pub action: AuditAction,
    /// What it was done to (an alarm id, a user name, a directive id; empty if nothing).
    pub target: String,
    /// Whether it succeeded.
    pub outcome: AuditOutcome,
    /// Particulars of the action (e.g. `status` and `comment` of a triage).
    pub detail: BTreeMap<String, String>,
    /// The client's address, when it came over the network.
    pub peer: Option<String>,
}
