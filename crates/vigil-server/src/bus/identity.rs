//! The core's TLS identity on the bus: configured files, or a private CA of its own.
//!
//! With `bus.cert`, `bus.key` and `bus.ca` set, those are used. Otherwise the core uses the CA
//! in `bus.ca_dir` (default `<data_dir>/ca`), creating it at the first start, and issues its own
//! certificate from it into `<data_dir>/keys`; operators then issue sensor certificates with
//! `vigil ca issue --dir <data_dir>/ca --sensor NAME`. The CA's revocation list is read again
//! whenever the file changes, so a `vigil ca revoke` takes effect at the next connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use tracing::{info, warn};
use vigil_ca::{Authority, Role, TlsIdentity};

use crate::config::BusConfig;

/// Where the core's identity comes from.
#[derive(Debug, Clone)]
pub struct IdentityFiles {
    /// The core's certificate.
    pub cert: PathBuf,
    /// Its key.
    pub key: PathBuf,
    /// The CA certificate.
    pub ca: PathBuf,
    /// The CA's revocation list, if any.
    pub crl: Option<PathBuf>,
}

/// The configured identity files, or those of the automatic CA (created when missing).
pub fn identity_files(config: &BusConfig, data_dir: &Path) -> anyhow::Result<IdentityFiles> {
    if let (Some(cert), Some(key), Some(ca)) = (&config.cert, &config.key, &config.ca) {
        return Ok(IdentityFiles {
            cert: cert.clone(),
            key: key.clone(),
            ca: ca.clone(),
            crl: config.crl.clone(),
        });
    }
    let ca_dir = config.ca_dir.clone().unwrap_or_else(|| data_dir.join("ca"));
    let ca_pass = vigil_ca::passphrase_from_env(vigil_ca::CA_PASSPHRASE_ENV);
    let ca_pass = ca_pass.as_deref().map(String::as_str);
    let mut authority = if ca_dir.join("ca.pem").exists() {
        Authority::open(&ca_dir, ca_pass)
            .with_context(|| format!("cannot open the bus CA in {}", ca_dir.display()))?
    } else {
        info!(dir = %ca_dir.display(), "creating the bus CA (first start)");
        Authority::init(&ca_dir, &config.name, ca_pass)
            .with_context(|| format!("cannot create the bus CA in {}", ca_dir.display()))?
    };
    let keys = data_dir.join("keys");
    let cert = keys.join(format!("{}.pem", config.name));
    let key = keys.join(format!("{}.key", config.name));
    if !cert.exists() || !key.exists() {
        let key_pass = vigil_ca::passphrase_from_env(vigil_ca::KEY_PASSPHRASE_ENV);
        vigil_keys::private_dir(&keys)?;
        info!(name = %config.name, "issuing the core's bus certificate");
        authority
            .issue(
                Role::Core,
                &config.name,
                &config.hosts,
                &keys,
                key_pass.as_deref().map(String::as_str),
                vigil_ca::DEFAULT_LEAF_VALIDITY_DAYS,
            )
            .context("cannot issue the core's bus certificate")?;
    }
    Ok(IdentityFiles {
        cert,
        key,
        ca: authority.ca_cert_path(),
        crl: config.crl.clone().or_else(|| Some(authority.crl_path())),
    })
}

/// The TLS server configuration, rebuilt when the revocation list changes.
pub struct ServerTls {
    files: IdentityFiles,
    current: Mutex<(Option<SystemTime>, Arc<rustls::ServerConfig>)>,
    identity: TlsIdentity,
}

fn modified(path: &Option<PathBuf>) -> Option<SystemTime> {
    path.as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
}

impl ServerTls {
    /// Loads the identity and builds the first configuration.
    pub fn load(files: IdentityFiles) -> anyhow::Result<ServerTls> {
        let identity = load_identity(&files)?;
        let config = vigil_ca::server_config(&identity).context("cannot configure bus TLS")?;
        Ok(ServerTls {
            current: Mutex::new((modified(&files.crl), config)),
            files,
            identity,
        })
    }

    /// The core's identity (its certificate's key also signs commands).
    pub fn identity(&self) -> &TlsIdentity {
        &self.identity
    }

    /// The configuration for the next connection (with the latest revocation list).
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let now = modified(&self.files.crl);
        if now != current.0 {
            match load_identity(&self.files)
                .and_then(|id| vigil_ca::server_config(&id).map_err(anyhow::Error::from))
            {
                Ok(config) => {
                    info!("bus certificate revocation list changed; reloaded");
                    *current = (now, config);
                }
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "cannot reload the bus revocation list; keeping the previous one");
                    current.0 = now;
                }
            }
        }
        current.1.clone()
    }
}

fn load_identity(files: &IdentityFiles) -> anyhow::Result<TlsIdentity> {
    let pass = vigil_ca::passphrase_from_env(vigil_ca::KEY_PASSPHRASE_ENV);
    TlsIdentity::load(
        &files.cert,
        &files.key,
        &files.ca,
        files.crl.as_deref(),
        pass.as_deref().map(String::as_str),
    )
    .with_context(|| format!("cannot load the bus identity {}", files.cert.display()))
}
