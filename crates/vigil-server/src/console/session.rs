//! Console sessions, in memory, checked against the accounts file at each request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use vigil_accounts::{Accounts, Role};

/// A logged-in user's session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user's name.
    pub user: String,
    /// The token state-changing requests must carry in `X-CSRF-Token`.
    pub csrf: String,
    /// The role an identity provider (LDAP, OpenID Connect) gave at login, for the whole
    /// session; none for a local account, whose role is read from the accounts at each request.
    pub role: Option<Role>,
    /// For a local account, when it was added and its password last set, as at login: a
    /// session ends once either differs (the password changed, or the name is another
    /// account's now).
    pub account: Option<AccountStamp>,
    created: Instant,
    last_seen: Instant,
}

/// When an account was added and its password last set.
pub type AccountStamp = (vigil_event::Timestamp, vigil_event::Timestamp);

/// The live sessions, by cookie value.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
    lifetime: Duration,
}

/// A random 256-bit token, base64url without padding.
pub fn random_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no system randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

impl Sessions {
    /// No sessions; each ends after `idle` without requests or `lifetime` after login.
    pub fn new(idle: Duration, lifetime: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
            lifetime,
        }
    }

    /// Starts a session for `user` (with the `role` a provider gave): its cookie value and
    /// CSRF token.
    pub fn start(
        &self,
        user: &str,
        role: Option<Role>,
        account: Option<AccountStamp>,
    ) -> anyhow::Result<(String, Session)> {
        let id = random_token()?;
        let now = Instant::now();
        let session = Session {
            user: user.to_string(),
            csrf: random_token()?,
            role,
            account,
            created: now,
            last_seen: now,
        };
        let mut map = self.lock();
        map.retain(|_, s| self.live(s, now));
        map.insert(id.clone(), session.clone());
        Ok((id, session))
    }

    /// The live session `id`, marked as used now.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut map = self.lock();
        let session = map.get_mut(id)?;
        if !self.live(session, now) {
            map.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends session `id`.
    pub fn end(&self, id: &str) -> Option<Session> {
        self.lock().remove(id)
    }

    /// Ends every session of `user`; how many there were.
    pub fn end_user(&self, user: &str) -> usize {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, s| s.user != user);
        before - map.len()
    }

    fn live(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) < self.idle && now.duration_since(s.created) < self.lifetime
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The accounts, read again when `users.json` changes (its modification time or length).
pub struct UserBook {
    data_dir: PathBuf,
    path: PathBuf,
    current: Mutex<(Stat, Arc<Accounts>)>,
    /// Changes found when the file was read again, for the audit log
    /// ([`UserBook::take_changes`]).
    changes: Mutex<Vec<super::audit::NewEntry>>,
}

/// A file's modification time and length, if it exists.
type Stat = Option<(SystemTime, u64)>;

fn stat(path: &Path) -> Stat {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl UserBook {
    /// Reads the accounts of `data_dir`.
    pub fn load(data_dir: &Path) -> anyhow::Result<UserBook> {
        let path = data_dir.join(vigil_accounts::USERS_FILE);
        let seen = stat(&path);
        let accounts = Accounts::load(data_dir)?;
        Ok(UserBook {
            data_dir: data_dir.to_path_buf(),
            path,
            current: Mutex::new((seen, Arc::new(accounts))),
            changes: Mutex::new(Vec::new()),
        })
    }

    /// The accounts as the file has them now; a file that cannot be read keeps the last ones.
    /// What changed since the last read is kept for [`UserBook::take_changes`].
    pub fn accounts(&self) -> Arc<Accounts> {
        self.read(true)
    }

    /// Reads the accounts again after a change the console made itself (and audited): what
    /// changed is not kept.
    pub fn adopt(&self) {
        self.read(false);
    }

    /// The changes found since the last call, made on the host (`vigil user`, `vigil token`).
    pub fn take_changes(&self) -> Vec<super::audit::NewEntry> {
        std::mem::take(&mut *self.changes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn read(&self, keep_changes: bool) -> Arc<Accounts> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let now = stat(&self.path);
        if now != current.0 {
            match Accounts::load(&self.data_dir) {
                Ok(accounts) => {
                    if keep_changes {
                        let found = super::account_audit::changes(&current.1, &accounts);
                        self.changes
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .extend(found);
                    }
                    *current = (now, Arc::new(accounts));
                }
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "cannot read the console accounts again; keeping the last ones")
                }
            }
        }
        current.1.clone()
    }

    /// The role of the session's user if its account exists, is enabled and is the one it
    /// logged in as (its [`AccountStamp`]); a provider's role for a provider's session.
    pub fn role(&self, session: &Session) -> Option<Role> {
        if let Some(role) = session.role {
            return Some(role);
        }
        let accounts = self.accounts();
        accounts
            .get(&session.user)
            .filter(|u| !u.disabled && session.account == Some(stamp(u)))
            .map(|u| u.role)
    }

    /// The stamp of `user`'s account now, if it exists.
    pub fn stamp(&self, user: &str) -> Option<AccountStamp> {
        self.accounts().get(user).map(stamp)
    }
}

fn stamp(user: &vigil_accounts::User) -> AccountStamp {
    (user.created_at, user.password_changed_at)
}
