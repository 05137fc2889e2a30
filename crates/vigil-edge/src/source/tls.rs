//! The TLS configuration of a `syslog_tls` listener (RFC 5425): a PEM certificate chain and
//! key (the key file must be readable by its owner only), TLS 1.2 and 1.3, and, with a client
//! CA, mutual authentication of the senders.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

fn certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read certificates from {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{} holds an unreadable certificate", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// Reads a PEM private key, refusing a key file others can read.
pub fn private_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    vigil_keys::refuse_shared(path, &metadata)?;
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("{} holds no usable PEM private key", path.display()))
}

/// The acceptor for a TLS listener.
pub fn acceptor(
    cert: &Path,
    key: &Path,
    client_ca: Option<&Path>,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certificates(ca)? {
                roots
                    .add(c)
                    .with_context(|| format!("{} holds an invalid CA certificate", ca.display()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .context("client certificate verifier")?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certificates(cert)?, private_key(key)?)
        .with_context(|| format!("{} does not match {}", key.display(), cert.display()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
