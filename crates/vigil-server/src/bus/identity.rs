//! The core's TLS identity on the bus: configured files, or a private CA of its own.
//!
//! With `bus.cert`, `bus.key` and `bus.ca` set, those are used. Otherwise the core uses the CA
//! in `bus.ca_dir` (default `<data_dir>/ca`), creating it at the first start, and issues its own
//! certificate from it into `<data_dir>/keys`; operators then issue sensor certificates with
//! `vigil ca issue --dir <data_dir>/ca --sensor NAME`. The CA's revocation list is read again
//! whenever the file changes (see [`super::revocation`]): a `vigil ca revoke` refuses the next
//! connection and ends the open sessions of the certificate within seconds.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::server::danger::ClientCertVerifier;
use tracing::{info, warn};
use vigil_ca::{Authority, KeyKind, Passphrase, Role, TlsIdentity};

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
    /// The passphrase of `key`, if one is configured.
    pub passphrase: Option<Passphrase>,
    /// The private key files of this identity stored in clear.
    pub clear_keys: Vec<PathBuf>,
}

/// The configured identity files, or those of the automatic CA (created when missing).
///
/// Keys at rest: the CA's key is encrypted under the CA passphrase and the core's own key under
/// [`vigil_ca::own_passphrase`] (the key passphrase, else the CA passphrase); see
/// [`vigil_ca::passphrase`] for their sources. A key of the automatic CA found in clear while
/// its passphrase is configured is encrypted in place. Keys left in clear are logged in one
/// warning and counted (`vigil_bus_keys_in_clear`).
pub fn identity_files(config: &BusConfig, data_dir: &Path) -> anyhow::Result<IdentityFiles> {
    let key_pass = vigil_ca::own_passphrase()?;
    if let (Some(cert), Some(key), Some(ca)) = (&config.cert, &config.key, &config.ca) {
        return with_clear_keys(
            IdentityFiles {
                cert: cert.clone(),
                key: key.clone(),
                ca: ca.clone(),
                crl: config.crl.clone(),
                passphrase: key_pass,
                clear_keys: Vec::new(),
            },
            std::slice::from_ref(key),
        );
    }
    let (mut authority, ca_pass) = authority(config, data_dir)?;
    let keys = data_dir.join("keys");
    let cert = keys.join(format!("{}.pem", config.name));
    let key = keys.join(format!("{}.key", config.name));
    if !cert.exists() || !key.exists() {
        vigil_keys::private_dir(&keys)?;
        info!(name = %config.name, "issuing the core's bus certificate");
        authority
            .issue(
                Role::Core,
                &config.name,
                &config.hosts,
                &keys,
                key_pass.as_ref().map(Passphrase::as_str),
                vigil_ca::DEFAULT_LEAF_VALIDITY_DAYS,
            )
            .context("cannot issue the core's bus certificate")?;
    }
    for (path, pass) in [(authority.key_path(), &ca_pass), (key.clone(), &key_pass)] {
        if let Some(pass) = pass
            && vigil_ca::encrypt_in_place(&path, pass.as_str(), &Default::default())?
        {
            info!(file = %path.display(), passphrase = pass.origin(), "encrypted a private key found in clear");
        }
    }
    let owned = [authority.key_path(), key.clone()];
    with_clear_keys(
        IdentityFiles {
            cert,
            key,
            ca: authority.ca_cert_path(),
            crl: config.crl.clone().or_else(|| Some(authority.crl_path())),
            passphrase: key_pass,
            clear_keys: Vec::new(),
        },
        &owned,
    )
}

/// The core's automatic CA (created when missing) and its passphrase.
pub fn authority(
    config: &BusConfig,
    data_dir: &Path,
) -> anyhow::Result<(Authority, Option<Passphrase>)> {
    let ca_dir = config.ca_dir.clone().unwrap_or_else(|| data_dir.join("ca"));
    let ca_pass = vigil_ca::passphrase(KeyKind::Ca)?;
    let ca_str = ca_pass.as_ref().map(Passphrase::as_str);
    let authority = if ca_dir.join("ca.pem").exists() {
        Authority::open(&ca_dir, ca_str)
            .with_context(|| format!("cannot open the bus CA in {}", ca_dir.display()))?
    } else {
        info!(dir = %ca_dir.display(), "creating the bus CA (first start)");
        Authority::init(&ca_dir, &config.name, ca_str)
            .with_context(|| format!("cannot create the bus CA in {}", ca_dir.display()))?
    };
    Ok((authority, ca_pass))
}

/// `files` with those of `keys` stored in clear, warning once when there are any.
fn with_clear_keys(mut files: IdentityFiles, keys: &[PathBuf]) -> anyhow::Result<IdentityFiles> {
    for key in keys {
        if !vigil_ca::is_encrypted(key)? {
            files.clear_keys.push(key.clone());
        }
    }
    if !files.clear_keys.is_empty() {
        let list: Vec<String> = files
            .clear_keys
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        warn!(
            files = %list.join(", "),
            "private keys are stored in clear: configure {} (the core then encrypts the keys of its automatic CA at start; `vigil ca encrypt-key FILE` encrypts others); see \"Production checklist\" in docs/operations.md",
            KeyKind::Ca.sources()
        );
    }
    Ok(files)
}

/// The TLS server configuration and the check of client certificates, both following the
/// revocation list: [`ServerTls::check_crl`] reloads it when the file changed. A file that
/// cannot be read or parsed keeps the last good list in force.
pub struct ServerTls {
    files: IdentityFiles,
    identity: TlsIdentity,
    current: Mutex<Current>,
}

/// The revocation list in force, and the CRL file as last seen.
struct Current {
    /// The file's modification time and length when last looked at.
    stat: Option<(SystemTime, u64)>,
    /// Its content when last read (`None`: it could not be read).
    content: Option<Vec<u8>>,
    config: Arc<rustls::ServerConfig>,
    verifier: Arc<dyn ClientCertVerifier>,
}

/// What [`ServerTls::check_crl`] found.
#[derive(Debug)]
pub enum CrlCheck {
    /// No CRL file, or the same as last time.
    Unchanged,
    /// It changed and is in force now.
    Reloaded,
    /// It changed but cannot be read or is not a valid CRL of the CA: the last good one stays.
    Failed(String),
}

fn stat(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

impl ServerTls {
    /// Loads the identity and builds the first configuration.
    pub fn load(mut files: IdentityFiles) -> anyhow::Result<ServerTls> {
        let identity = load_identity(&files)?;
        // Not needed any more: the passphrase is not kept in memory.
        files.passphrase = None;
        let verifier =
            vigil_ca::client_verifier(&identity).context("cannot check bus client certificates")?;
        let config = vigil_ca::server_config_with(&identity, verifier.clone())
            .context("cannot configure bus TLS")?;
        let crl = files.crl.as_deref();
        let current = Current {
            stat: crl.and_then(stat),
            content: crl.and_then(|p| std::fs::read(p).ok()),
            config,
            verifier,
        };
        Ok(ServerTls {
            current: Mutex::new(current),
            files,
            identity,
        })
    }

    /// The private key files of the identity stored in clear.
    pub fn clear_keys(&self) -> &[PathBuf] {
        &self.files.clear_keys
    }

    /// The core's identity (its certificate's key also signs commands).
    pub fn identity(&self) -> &TlsIdentity {
        &self.identity
    }

    /// The configuration for the next connection (with the revocation list in force).
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        self.lock().config.clone()
    }

    /// Whether the revocation list in force revokes the client certificate `chain`.
    pub fn revoked(&self, chain: &[CertificateDer<'_>]) -> bool {
        let verifier = self.lock().verifier.clone();
        vigil_ca::is_revoked(&*verifier, chain)
    }

    /// Reloads the revocation list if its file changed: its modification time or length, or
    /// with `thorough` also its content (read every time).
    pub fn check_crl(&self, thorough: bool) -> CrlCheck {
        let Some(path) = self.files.crl.as_deref() else {
            return CrlCheck::Unchanged;
        };
        let mut current = self.lock();
        let now = stat(path);
        if !thorough && now == current.stat {
            return CrlCheck::Unchanged;
        }
        current.stat = now;
        let read = std::fs::read(path);
        if read.as_ref().ok() == current.content.as_ref() {
            return CrlCheck::Unchanged;
        }
        current.content = read.as_ref().ok().cloned();
        let rebuilt = read
            .with_context(|| format!("cannot read {}", path.display()))
            .and_then(|bytes| self.with_crl(path, &bytes));
        match rebuilt {
            Ok((config, verifier)) => {
                current.config = config;
                current.verifier = verifier;
                CrlCheck::Reloaded
            }
            Err(e) => CrlCheck::Failed(format!("{e:#}")),
        }
    }

    /// The configuration and verifier of this identity with the CRLs of `bytes`, read from `path`.
    fn with_crl(
        &self,
        path: &Path,
        bytes: &[u8],
    ) -> anyhow::Result<(Arc<rustls::ServerConfig>, Arc<dyn ClientCertVerifier>)> {
        let id = TlsIdentity {
            certs: self.identity.certs.clone(),
            key: self.identity.key.clone_key(),
            ca: self.identity.ca.clone(),
            crls: vigil_ca::parse_crls(path, bytes)?,
        };
        let verifier = vigil_ca::client_verifier(&id)?;
        Ok((
            vigil_ca::server_config_with(&id, verifier.clone())?,
            verifier,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn load_identity(files: &IdentityFiles) -> anyhow::Result<TlsIdentity> {
    TlsIdentity::load(
        &files.cert,
        &files.key,
        &files.ca,
        files.crl.as_deref(),
        files.passphrase.as_ref().map(Passphrase::as_str),
    )
    .with_context(|| format!("cannot load the bus identity {}", files.cert.display()))
}
