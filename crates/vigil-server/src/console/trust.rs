//! The TLS client configuration for talking to identity providers (LDAP, OpenID Connect):
//! the CA certificates of a configured PEM file, or the system's when none is given.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A TLS 1.2/1.3 client configuration trusting the certificates of `ca` (PEM), or the
/// system's trusted roots without it.
pub fn client_config(ca: Option<&Path>) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read the CA certificates {}", path.display()))?;
            for cert in certs {
                let cert = cert.with_context(|| format!("bad PEM in {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("bad CA certificate in {}", path.display()))?;
            }
            anyhow::ensure!(!roots.is_empty(), "{} holds no certificate", path.display());
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            anyhow::ensure!(
                !roots.is_empty(),
                "no trusted CA certificates found on this system: set `ca`"
            );
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The secret in the first line of `path` (a password or client secret file), which must not
/// be empty.
pub fn read_secret(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the secret file {}", path.display()))?;
    let secret = text.lines().next().unwrap_or_default().to_string();
    anyhow::ensure!(
        !secret.is_empty(),
        "the secret file {} is empty",
        path.display()
    );
    Ok(secret)
}
