//! `vigil user ...`: the console's accounts in the core's data directory
//! ([`vigil_accounts`]). Passwords are read without echo from the terminal (twice), or as one
//! line from standard input when it is not a terminal (scripts); never from an argument, where
//! every local user could read it in the process list.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use vigil_accounts::{Accounts, Change, Role};

/// `vigil user ...`
#[derive(clap::Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UserAction,
    /// The core's data directory (default: data_dir of --config, else ./vigil-data).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// The core's configuration file, for its data_dir.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
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
