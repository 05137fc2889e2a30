//! The console's accounts: users, their role and their Argon2id password hash, kept in
//! `<data_dir>/users.json` (mode 0600, written atomically with a checksum trailer, changed under
//! an exclusive lock on `users.lock` so that two `vigil user` commands never lose each other's
//! change). A damaged file is quarantined and reported, never taken for "no users".

pub mod password;
pub mod token;

use std::fmt;
use std::fs::File;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use vigil_event::Timestamp;
use vigil_store::StateFile;

/// File of the accounts in the core's data directory.
pub const USERS_FILE: &str = "users.json";
/// Lock file held while the accounts change.
const LOCK_FILE: &str = "users.lock";
/// Longest user name.
pub const MAX_NAME_CHARS: usize = 64;

/// What a user may do; each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads alarms, events, sensors and rules.
    Viewer,
    /// A viewer who also triages alarms (acknowledge, close, assign, comment).
    Analyst,
    /// An analyst who also manages users, tokens, rules, reloads and edge commands.
    Admin,
}

impl Role {
    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Viewer => "viewer",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        })
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "analyst" => Ok(Role::Analyst),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: expected admin, analyst or viewer"
            )),
        }
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Unique; checked by [`check_name`].
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// Argon2id PHC string of the password.
    pub password_hash: String,
    /// A disabled user cannot log in; the account and its history stay.
    pub disabled: bool,
    /// When the account was added.
    pub created_at: Timestamp,
    /// When its password was last set.
    pub password_changed_at: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    users: Vec<User>,
    #[serde(default)]
    tokens: Vec<token::Token>,
}

/// Checks a new user name: 1 to [`MAX_NAME_CHARS`] characters, letters, digits and `._@-`,
/// starting with a letter or digit (so it is never an option, a path or markup).
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = !name.is_empty()
        && name.chars().count() <= MAX_NAME_CHARS
        && name.chars().next().is_some_and(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if !valid {
        bail!(
            "invalid user name {name:?}: 1 to {MAX_NAME_CHARS} letters, digits, '.', '_', '@' or '-', starting with a letter or digit"
        );
    }
    Ok(())
}

/// The accounts of one data directory.
pub struct Accounts {
    path: PathBuf,
    users: Vec<User>,
    tokens: Vec<token::Token>,
}

impl Accounts {
    /// Reads the accounts of `data_dir` (none yet if it has no users file). A damaged file is an
    /// error naming where it was quarantined.
    pub fn load(data_dir: &Path) -> anyhow::Result<Accounts> {
        let path = data_dir.join(USERS_FILE);
        let parse =
            |bytes: &[u8]| serde_json::from_slice::<Saved>(bytes).map_err(|e| e.to_string());
        let saved = match vigil_store::read_state(&path, parse)
            .with_context(|| format!("cannot read {}", path.display()))?
        {
            StateFile::Valid(saved) => saved,
            StateFile::Missing => Saved::default(),
            StateFile::Damaged(found) => bail!(
                "{} is damaged; it was moved to {}: restore it from a backup, or add the users again",
                path.display(),
                found
                    .quarantine
                    .as_deref()
                    .map_or_else(|| "the quarantine".into(), |q| q.display().to_string())
            ),
        };
        Ok(Accounts {
            path,
            users: saved.users,
            tokens: saved.tokens,
        })
    }

    /// Every user, in the order they were added.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The user called `name`.
    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The enabled user `name` if `password` is theirs. An unknown name costs the same hashing
    /// as a known one, so timing does not tell which names exist.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<&User> {
        match self.get(name) {
            Some(user) => {
                let matches = password::verify(password, &user.password_hash);
                (matches && !user.disabled).then_some(user)
            }
            None => {
                let _ = password::verify(password, dummy_hash());
                None
            }
        }
    }
}

/// A hash of no one's password with the same parameters, verified for unknown names.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| password::hash("no one's password").unwrap_or_default())
}

/// A change of the accounts, made under the lock by [`change`].
pub enum Change<'a> {
    /// A new user (name, role, password).
    Add(&'a str, Role, &'a str),
    /// A new password (name, password).
    Password(&'a str, &'a str),
    /// Disables (true) or enables (false) the user.
    Disable(&'a str, bool),
    /// Removes the user.
    Remove(&'a str),
    /// Gives the user another role (name, role).
    Role(&'a str, Role),
}

/// Applies `change` to the accounts of `data_dir` under the lock and saves them; returns the
/// user as it is afterwards (as it was, for a removal). Refusals name what was wrong.
pub fn change(data_dir: &Path, change: Change<'_>) -> anyhow::Result<User> {
    modify(data_dir, |accounts| apply(accounts, change))
}

/// Loads the accounts of `data_dir` under the lock, lets `f` change them, and saves them if it
/// succeeds.
fn modify<T>(
    data_dir: &Path,
    f: impl FnOnce(&mut Accounts) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    vigil_keys::private_dir(data_dir)?;
    let _lock = lock(data_dir)?;
    let mut accounts = Accounts::load(data_dir)?;
    let result = f(&mut accounts)?;
    save(&accounts)?;
    Ok(result)
}

fn apply(accounts: &mut Accounts, change: Change<'_>) -> anyhow::Result<User> {
    let now = Timestamp::now();
    let index = |accounts: &Accounts, name: &str| {
        accounts
            .users
            .iter()
            .position(|u| u.name == name)
            .with_context(|| format!("no user {name:?}"))
    };
    Ok(match change {
        Change::Add(name, role, password) => {
            check_name(name)?;
            if accounts.get(name).is_some() {
                bail!("user {name:?} exists already");
            }
            refuse_weak(password, name)?;
            let user = User {
                name: name.to_string(),
                role,
                password_hash: password::hash(password)?,
                disabled: false,
                created_at: now,
                password_changed_at: now,
            };
            accounts.users.push(user.clone());
            user
        }
        Change::Password(name, password) => {
            let i = index(accounts, name)?;
            refuse_weak(password, name)?;
            let user = &mut accounts.users[i];
            user.password_hash = password::hash(password)?;
            user.password_changed_at = now;
            user.clone()
        }
        Change::Disable(name, disabled) => {
            let i = index(accounts, name)?;
            if disabled {
                refuse_last_admin(accounts, i)?;
            }
            accounts.users[i].disabled = disabled;
            accounts.users[i].clone()
        }
        Change::Remove(name) => {
            let i = index(accounts, name)?;
            refuse_last_admin(accounts, i)?;
            accounts.users.remove(i)
        }
        Change::Role(name, role) => {
            let i = index(accounts, name)?;
            if role != Role::Admin {
                refuse_last_admin(accounts, i)?;
            }
            accounts.users[i].role = role;
            accounts.users[i].clone()
        }
    })
}

/// Refuses to disable, remove or demote user `i` when it is the last enabled admin: no one could
/// manage the accounts from the console any more.
fn refuse_last_admin(accounts: &Accounts, i: usize) -> anyhow::Result<()> {
    let user = &accounts.users[i];
    let enabled_admin = |u: &User| u.role == Role::Admin && !u.disabled;
    let others = accounts
        .users
        .iter()
        .filter(|u| enabled_admin(u) && u.name != user.name)
        .count();
    if enabled_admin(user) && others == 0 {
        bail!(
            "{:?} is the last enabled admin: add or enable another admin first",
            user.name
        );
    }
    Ok(())
}

fn refuse_weak(password: &str, name: &str) -> anyhow::Result<()> {
    match password::weakness(password, name) {
        Some(why) => bail!("password refused: {why}"),
        None => Ok(()),
    }
}

fn save(accounts: &Accounts) -> anyhow::Result<()> {
    let saved = Saved {
        users: accounts.users.clone(),
        tokens: accounts.tokens.clone(),
    };
    vigil_store::write_state(&accounts.path, &serde_json::to_vec_pretty(&saved)?)
        .with_context(|| format!("cannot write {}", accounts.path.display()))?;
    std::fs::set_permissions(&accounts.path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", accounts.path.display()))
}

/// Holds the exclusive lock of the accounts until dropped.
fn lock(data_dir: &Path) -> anyhow::Result<File> {
    let path = data_dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.lock()
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASS: &str = "Correct-Horse-7";

    #[test]
    fn users_are_added_authenticated_disabled_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        change(d, Change::Add("alice", Role::Admin, PASS)).unwrap();
        change(d, Change::Add("bob", Role::Viewer, "Battery-Staple-9")).unwrap();
        let err = change(d, Change::Add("bob", Role::Analyst, PASS)).unwrap_err();
        assert_eq!(err.to_string(), "user \"bob\" exists already");
        let err = change(d, Change::Add("carol", Role::Analyst, "short")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("password refused: a password needs at least 12")
        );
        let err = change(d, Change::Add("-rf", Role::Analyst, PASS)).unwrap_err();
        assert!(err.to_string().starts_with("invalid user name \"-rf\""));

        let accounts = Accounts::load(d).unwrap();
        let names: Vec<_> = accounts
            .users()
            .iter()
            .map(|u| (u.name.as_str(), u.role))
            .collect();
        assert_eq!(names, [("alice", Role::Admin), ("bob", Role::Viewer)]);
        assert_eq!(
            accounts.authenticate("alice", PASS).map(|u| u.role),
            Some(Role::Admin)
        );
        assert!(accounts.authenticate("alice", "Correct-Horse-8").is_none());
        assert!(accounts.authenticate("mallory", PASS).is_none());

        change(d, Change::Disable("bob", true)).unwrap();
        assert!(
            Accounts::load(d)
                .unwrap()
                .authenticate("bob", "Battery-Staple-9")
                .is_none()
        );
        change(d, Change::Password("bob", "Another-Secret-5")).unwrap();
        change(d, Change::Disable("bob", false)).unwrap();
        let accounts = Accounts::load(d).unwrap();
        assert!(accounts.authenticate("bob", "Battery-Staple-9").is_none());
        assert!(accounts.authenticate("bob", "Another-Secret-5").is_some());

        let err = change(d, Change::Remove("alice")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"alice\" is the last enabled admin: add or enable another admin first"
        );
        assert!(change(d, Change::Disable("alice", true)).is_err());
        change(d, Change::Remove("bob")).unwrap();
        assert_eq!(Accounts::load(d).unwrap().users().len(), 1);
        assert_eq!(
            change(d, Change::Remove("bob")).unwrap_err().to_string(),
            "no user \"bob\""
        );

        let mode = std::fs::metadata(d.join(USERS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(d.join(USERS_FILE)).unwrap();
        assert!(!text.contains(PASS) && text.contains("$argon2id$"));
    }

    #[test]
    fn a_role_changes_unless_it_demotes_the_last_admin() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        change(d, Change::Add("alice", Role::Admin, PASS)).unwrap();
        change(d, Change::Add("bob", Role::Viewer, "Battery-Staple-9")).unwrap();
        let err = change(d, Change::Role("alice", Role::Analyst)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"alice\" is the last enabled admin: add or enable another admin first"
        );
        assert_eq!(
            change(d, Change::Role("bob", Role::Admin)).unwrap().role,
            Role::Admin
        );
        assert_eq!(
            change(d, Change::Role("alice", Role::Viewer)).unwrap().role,
            Role::Viewer
        );
        assert_eq!(
            change(d, Change::Role("carol", Role::Viewer))
                .unwrap_err()
                .to_string(),
            "no user \"carol\""
        );
    }

    #[test]
    fn a_damaged_users_file_is_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        change(dir.path(), Change::Add("alice", Role::Admin, PASS)).unwrap();
        let path = dir.path().join(USERS_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("\"admin\"", "\"viewe\"")).unwrap();
        let err = Accounts::load(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains("users.json is damaged; it was moved to"),
            "{err}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn roles_order_what_they_allow() {
        assert!(Role::Admin.allows(Role::Analyst) && Role::Analyst.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Analyst) && !Role::Analyst.allows(Role::Admin));
        assert_eq!("analyst".parse::<Role>(), Ok(Role::Analyst));
        assert!(
            "root"
                .parse::<Role>()
                .unwrap_err()
                .contains("expected admin, analyst or viewer")
        );
    }
}
