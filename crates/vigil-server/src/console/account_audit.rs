//! Changes of the accounts made outside the console API (`vigil user` and `vigil token` on the
//! host) for the audit log: the console compares the accounts file each time it reads it again
//! ([`super::session::UserBook`]), and records what changed as done by `local`.

use vigil_accounts::Accounts;
use vigil_event::AuditAction;

use super::audit::NewEntry;

/// Who the audit log names for a change made on the host.
pub const LOCAL: &str = "local";

/// What changed from `before` to `after`: users added, changed (role, disabled, password) or
/// removed, tokens created or revoked.
pub fn changes(before: &Accounts, after: &Accounts) -> Vec<NewEntry> {
    let mut entries = Vec::new();
    for user in after.users() {
        match before.get(&user.name) {
            None => entries.push(
                NewEntry::new(LOCAL, AuditAction::UserAdd, &user.name, None)
                    .with("role", user.role.to_string()),
            ),
            Some(was) => {
                let mut entry = NewEntry::new(LOCAL, AuditAction::UserChange, &user.name, None);
                let mut changed = false;
                if was.role != user.role {
                    entry = entry.with("role", user.role.to_string());
                    changed = true;
                }
                if was.disabled != user.disabled {
                    entry = entry.with("disabled", user.disabled.to_string());
                    changed = true;
                }
                if was.password_changed_at != user.password_changed_at
                    || was.created_at != user.created_at
                {
                    entry = entry.with("password", "changed");
                    changed = true;
                }
                if changed {
                    entries.push(entry);
                }
            }
        }
    }
    for user in before.users() {
        if after.get(&user.name).is_none() {
            entries.push(NewEntry::new(
                LOCAL,
                AuditAction::UserRemove,
                &user.name,
                None,
            ));
        }
    }
    for token in after.tokens() {
        match before.tokens().iter().find(|t| t.id == token.id) {
            None => entries.push(
                NewEntry::new(LOCAL, AuditAction::TokenCreate, &token.id, None)
                    .with("name", token.name.clone())
                    .with("role", token.role.to_string()),
            ),
            Some(was) if was.revoked_at.is_none() && token.revoked_at.is_some() => entries.push(
                NewEntry::new(LOCAL, AuditAction::TokenRevoke, &token.id, None)
                    .with("name", token.name.clone()),
            ),
            Some(_) => {}
        }
    }
    entries
}
