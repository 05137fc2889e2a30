//! `vigil ca` (the bus's private CA), and the clients of the core's local admin endpoint:
//! `vigil command` (a signed command to an edge) and `vigil reload` (the correlation rules).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use vigil_ca::{Authority, KeyKind, Passphrase, Role, passphrase};

/// `vigil ca ...`
#[derive(Subcommand)]
pub enum CaCommand {
    /// Create a CA in DIR (the CA key is encrypted under the CA passphrase when one is
    /// configured: VIGIL_CA_PASSPHRASE, VIGIL_CA_PASSPHRASE_FILE or the systemd credential
    /// vigil-ca-passphrase).
    Init {
        /// The CA directory (the core's automatic CA is <data_dir>/ca).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The CA's name.
        #[arg(long, default_value = "vigil")]
        name: String,
    },
    /// Issue a sensor (edge) or core certificate into OUT (the key is encrypted under the key
    /// passphrase when one is configured: VIGIL_KEY_PASSPHRASE, VIGIL_KEY_PASSPHRASE_FILE or
    /// the systemd credential vigil-key-passphrase).
    Issue {
        /// The CA directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Issue a sensor certificate with this name.
        #[arg(long, value_name = "NAME", conflicts_with = "core")]
        sensor: Option<String>,
        /// Issue a core certificate with this name.
        #[arg(long, value_name = "NAME")]
        core: Option<String>,
        /// Extra host names or addresses of a core certificate.
        #[arg(long = "host", value_name = "HOST")]
        hosts: Vec<String>,
        /// Where to write NAME.pem, NAME.key and ca.pem.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Validity in days.
        #[arg(long, default_value_t = vigil_ca::DEFAULT_LEAF_VALIDITY_DAYS)]
        days: u32,
    },
    /// Revoke every live certificate of NAME and rewrite the CA's revocation list (a running
    /// core reads it within a second, ends NAME's open sessions and refuses its reconnects).
    Revoke {
        /// The CA directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The certificate name.
        name: String,
    },
    /// List the certificates issued, as JSON lines.
    List {
        /// The CA directory.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// Encrypt a key file written in clear, in place, under the key passphrase (with --ca: the
    /// CA passphrase); a key already encrypted is left as it is.
    EncryptKey {
        /// The key file (a CA's ca.key, or a certificate's NAME.key).
        file: PathBuf,
        /// The file is a CA's key: use the CA passphrase.
        #[arg(long)]
        ca: bool,
    },
}

/// The configured passphrase for keys of `kind` (see [`vigil_ca::passphrase`]).
fn configured(kind: KeyKind) -> anyhow::Result<Option<Passphrase>> {
    passphrase(kind).context("cannot read the passphrase")
}

/// Runs a `vigil ca` subcommand, reporting on `out`.
pub fn run(command: CaCommand, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    let ca_pass = match &command {
        CaCommand::EncryptKey { .. } => None,
        _ => configured(KeyKind::Ca)?,
    };
    let ca_pass = ca_pass.as_ref().map(Passphrase::as_str);
    match command {
        CaCommand::Init { dir, name } => {
            let ca = Authority::init(&dir, &name, ca_pass)?;
            writeln!(
                out,
                "CA {name:?} created in {} (certificate {})",
                dir.display(),
                ca.ca_cert_path().display()
            )?;
        }
        CaCommand::Issue {
            dir,
            sensor,
            core,
            hosts,
            out: out_dir,
            days,
        } => {
            let (role, name) = match (sensor, core) {
                (Some(n), None) => (Role::Sensor, n),
                (None, Some(n)) => (Role::Core, n),
                _ => anyhow::bail!("give --sensor NAME or --core NAME"),
            };
            let mut ca = Authority::open(&dir, ca_pass)?;
            let key_pass = configured(KeyKind::Certificate)?;
            let issued = ca.issue(
                role,
                &name,
                &hosts,
                &out_dir,
                key_pass.as_ref().map(Passphrase::as_str),
                days,
            )?;
            if key_pass.is_none() {
                eprintln!(
                    "warning: {} is stored in clear; configure {} to have keys encrypted",
                    issued.key.display(),
                    KeyKind::Certificate.sources()
                );
            }
            writeln!(
                out,
                "{role} certificate {name:?} (serial {}): {} {} {}",
                issued.serial,
                issued.cert.display(),
                issued.key.display(),
                issued.ca.display()
            )?;
        }
        CaCommand::Revoke { dir, name } => {
            let mut ca = Authority::open(&dir, ca_pass)?;
            let revoked = ca.revoke(&name)?;
            for cert in revoked {
                writeln!(out, "revoked {:?} (serial {})", cert.name, cert.serial)?;
            }
        }
        CaCommand::List { dir } => {
            let ca = Authority::open(&dir, ca_pass)?;
            for cert in ca.issued() {
                writeln!(out, "{}", serde_json::to_string(cert)?)?;
            }
        }
        CaCommand::EncryptKey { file, ca } => {
            let kind = if ca {
                KeyKind::Ca
            } else {
                KeyKind::Certificate
            };
            let Some(pass) = configured(kind)? else {
                anyhow::bail!(
                    "no passphrase to encrypt {} with: configure {}",
                    file.display(),
                    kind.sources()
                );
            };
            let done = vigil_ca::encrypt_in_place(&file, pass.as_str(), &Default::default())?;
            let what = if done {
                "encrypted"
            } else {
                "already encrypted"
            };
            writeln!(out, "{} {what} ({})", file.display(), pass.origin())?;
        }
    }
    Ok(())
}

/// What `vigil command` asks an edge.
#[derive(Subcommand)]
pub enum EdgeAction {
    /// Log every message of a source (`on`) or stop (`off`).
    Verbosity {
        /// The source's name in the edge's configuration.
        source: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Run a response script configured on the edge.
    Run {
        /// The response's name.
        name: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

/// Sends a command to `sensor` through the core's admin endpoint (with the bearer `token`) and
/// prints the edge's answer.
pub fn command(
    admin: SocketAddr,
    token: &str,
    sensor: &str,
    action: EdgeAction,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let action = match action {
        EdgeAction::Verbosity { source, state } => vigil_bus::CommandAction::SetVerbosity {
            source,
            verbose: state == "on",
        },
        EdgeAction::Run { name, args } => vigil_bus::CommandAction::RunResponse { name, args },
    };
    let body = serde_json::json!({ "sensor": sensor, "action": action });
    let answer = admin_call(admin, token, "/api/v1/commands", &body.to_string(), out)?;
    let ok = answer
        .get("ok")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    if !ok {
        anyhow::bail!("the command was not carried out");
    }
    Ok(())
}

/// Reloads the correlation rules through the core's admin endpoint and prints its report.
pub fn reload(admin: SocketAddr, token: &str, out: &mut impl std::io::Write) -> anyhow::Result<()> {
    admin_call(admin, token, "/api/v1/reload", "", out).map(drop)
}

/// POSTs `body` to `path`, prints the answer, and returns it when the status is 200.
fn admin_call(
    admin: SocketAddr,
    token: &str,
    path: &str,
    body: &str,
    out: &mut impl std::io::Write,
) -> anyhow::Result<serde_json::Value> {
    let (status, answer) = crate::process::admin_post(admin, token, path, body)
        .with_context(|| format!("cannot reach the core's admin endpoint {admin}"))?;
    writeln!(out, "{answer}")?;
    let answer = serde_json::from_str::<serde_json::Value>(&answer).unwrap_or_default();
    if status != 200 {
        let why = answer
            .get("detail")
            .or_else(|| answer.get("error"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no detail");
        anyhow::bail!("the core answered {path} with status {status}: {why}");
    }
    Ok(answer)
}
