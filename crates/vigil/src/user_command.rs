//! `vigil user ...` and `vigil token ...`: the console's accounts and API tokens in the core's
//! data directory ([`vigil_accounts`]). Passwords are read without echo from the terminal (twice), or as one
//! line from standard input when it is not a terminal (scripts); never from an argument, where
//! every local user could read it in the process list.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use vigil_accounts::{Accounts, Change, Role, token};

/// Where the accounts are: the core's data directory.
#[derive(clap::Args)]
pub struct AccountsDir {
    /// The core's data directory (default: data_dir of --config, else ./vigil-data).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The core's configuration file, for its data_dir.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
}

/// `vigil user ...`
#[derive(clap::Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UserAction,
    /// Where the accounts are.
    #[command(flatten)]
    pub dir: AccountsDir,
}

/// `vigil token ...`
#[derive(clap::Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
    /// Where the accounts are.
    #[command(flatten)]
    pub dir: AccountsDir,
}

/// The API token operations.
#[derive(Subcommand)]
pub enum TokenAction {
    /// Create a token for scripts (`Authorization: Bearer ...`); it is printed once, only its
    /// hash is kept.
    Create {
        /// What it is for: letters, digits, '.', '_', '@' or '-'.
        name: String,
        /// What requests with it may do: admin, analyst or viewer.
        #[arg(long)]
        role: Role,
        /// Refused after this long (`90d`, `12h`); without it, valid until revoked.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires: Option<std::time::Duration>,
    },
    /// List the tokens: id, name, role, status, created, expiry.
    List,
    /// Revoke a token by its id (from `list`).
    Revoke {
        /// The token's id.
        id: String,
    },
}

/// Runs a token `action` on the accounts of `data_dir`.
pub fn run_token(action: TokenAction, data_dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    match action {
        TokenAction::Create {
            name,
            role,
            expires,
        } => {
            let now = vigil_event::Timestamp::now();
            let expires_at = expires.map(|d| {
                let micros = i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
                vigil_event::Timestamp::from_micros(now.as_micros().saturating_add(micros))
            });
            let (token, whole) = token::create(data_dir, &name, role, expires_at)?;
            writeln!(out, "{whole}")?;
            eprintln!(
                "created token {} ({}, {}); it is shown only now: keep it in your script's secret store",
                token.id, token.name, token.role
            );
        }
        TokenAction::Revoke { id } => {
            let token = token::revoke(data_dir, &id)?;
            writeln!(
                out,
                "revoked token {} ({}, {})",
                token.id, token.name, token.role
            )?;
        }
        TokenAction::List => {
            let accounts = Accounts::load(data_dir)?;
            let now = vigil_event::Timestamp::now();
            writeln!(
                out,
                "{:16}  {:24}  {:7}  {:7}  {:27}  EXPIRES",
                "ID", "NAME", "ROLE", "STATUS", "CREATED"
            )?;
            for t in accounts.tokens() {
                let status = match (t.revoked_at, t.live(now)) {
                    (Some(_), _) => "revoked",
                    (None, false) => "expired",
                    (None, true) => "live",
                };
                let expires = t
                    .expires_at
                    .map_or_else(|| "never".to_string(), |at| at.to_string());
                writeln!(
                    out,
                    "{:16}  {:24}  {:7}  {:7}  {:27}  {expires}",
                    t.id,
                    t.name,
                    t.role.to_string(),
                    status,
                    t.created_at.to_string()
                )?;
            }
        }
    }
    Ok(())
}

/// The account operations.
#[derive(Subcommand)]
pub enum UserAction {
    /// Add a user; the password is asked for (or read as one line from standard input).
    Add {
        /// The user name: letters, digits, '.', '_', '@' or '-'.
        name: String,
        /// admin (everything), analyst (triage) or viewer (read only).
        #[arg(long)]
        role: Role,
    },
    /// List the users: name, role, status, when added and when their password was set.
    List,
    /// Set a user's password (asked for, or one line from standard input).
    Passwd {
        /// The user name.
        name: String,
    },
    /// Disable a user: they can no longer log in; the account and its history stay.
    Disable {
        /// The user name.
        name: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// The user name.
        name: String,
    },
    /// Remove a user.
    Remove {
        /// The user name.
        name: String,
    },
}

/// Runs `action` on the accounts of `data_dir`; passwords come from `input` (standard input).
pub fn run(
    action: UserAction,
    data_dir: &Path,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (user, what) = match action {
        UserAction::List => return list(&Accounts::load(data_dir)?, out),
        UserAction::Add { name, role } => {
            let password = read_password(input, &format!("password for {name}: "))?;
            let added = vigil_accounts::change(data_dir, Change::Add(&name, role, &password))?;
            (added, "added")
        }
        UserAction::Passwd { name } => {
            let password = read_password(input, &format!("new password for {name}: "))?;
            let changed = vigil_accounts::change(data_dir, Change::Password(&name, &password))?;
            (changed, "changed the password of")
        }
        UserAction::Disable { name } => (
            vigil_accounts::change(data_dir, Change::Disable(&name, true))?,
            "disabled",
        ),
        UserAction::Enable { name } => (
            vigil_accounts::change(data_dir, Change::Disable(&name, false))?,
            "enabled",
        ),
        UserAction::Remove { name } => (
            vigil_accounts::change(data_dir, Change::Remove(&name))?,
            "removed",
        ),
    };
    writeln!(out, "{what} user {} ({})", user.name, user.role)?;
    Ok(())
}

fn list(accounts: &Accounts, out: &mut dyn Write) -> anyhow::Result<()> {
    let width = accounts
        .users()
        .iter()
        .map(|u| u.name.chars().count())
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    writeln!(
        out,
        "{:width$}  {:7}  {:8}  {:27}  PASSWORD SET",
        "NAME", "ROLE", "STATUS", "ADDED"
    )?;
    for user in accounts.users() {
        let status = if user.disabled { "disabled" } else { "enabled" };
        writeln!(
            out,
            "{:width$}  {:7}  {:8}  {:27}  {}",
            user.name,
            user.role.to_string(),
            status,
            user.created_at.to_string(),
            user.password_changed_at
        )?;
    }
    Ok(())
}

/// A password from the terminal (asked twice, without echo) or one line of `input`.
fn read_password(input: &mut dyn BufRead, prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt).context("cannot read the password")?;
        let again = rpassword::prompt_password("again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!("no password on standard input (give it as one line)");
    }
    Ok(password.to_string())
}
