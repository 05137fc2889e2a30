//! Mutual-TLS configurations for the event bus, built from a Vigil identity.
//!
//! TLS 1.3 only, with the `ring` provider, both sides authenticated by
//! certificates of the Vigil CA and checked against its CRL. Revocation status
//! "unknown" is allowed: the CA's single CRL covers every certificate it
//! issues, so a certificate it does not list is not revoked.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::{CaError, Signer, load_certs, load_crls, load_private_key, verify_signed_by};

/// The ALPN protocol of the Vigil event bus.
pub const ALPN: &[u8] = b"vigil-bus/1";

/// What a process needs for the bus: its cert chain, key, the CA roots and CRLs.
pub struct TlsIdentity {
    /// The process's certificate first, then any intermediates.
    pub certs: Vec<CertificateDer<'static>>,
    /// The private key of `certs[0]`, PKCS#8.
    pub key: PrivateKeyDer<'static>,
    /// The trusted CA certificates.
    pub ca: Vec<CertificateDer<'static>>,
    /// The CRLs to check peers against.
    pub crls: Vec<CertificateRevocationListDer<'static>>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("name", &self.certs.first().and_then(|c| peer_name(c).ok()))
            .field("certs", &self.certs.len())
            .field("key", &"<redacted>")
            .field("ca", &self.ca.len())
            .field("crls", &self.crls.len())
            .finish()
    }
}

impl TlsIdentity {
    /// Loads an identity from PEM files: `cert` (its chain), `key`
    /// (decrypted with `passphrase` if encrypted; see
    /// [`load_private_key`]), `ca` (trusted roots) and optionally `crl`.
    /// Checks that the key belongs to the first certificate.
    pub fn load(
        cert: &Path,
        key: &Path,
        ca: &Path,
        crl: Option<&Path>,
        passphrase: Option<&str>,
    ) -> Result<Self, CaError> {
        let certs = load_certs(cert)?;
        let key_der = load_private_key(key, passphrase)
            .map_err(|e| e.for_key(crate::KeyKind::Certificate))?;
        let ca_certs = load_certs(ca)?;
        let crls = match crl {
            Some(path) => load_crls(path)?,
            None => Vec::new(),
        };
        let id = TlsIdentity {
            certs,
            key: key_der,
            ca: ca_certs,
            crls,
        };
        let probe = b"vigil-ca identity check";
        let matches = id
            .signer()
            .map(|s| verify_signed_by(&id.certs[0], probe, &s.sign(probe)))
            .unwrap_or(false);
        if !matches {
            return Err(CaError::KeyMismatch {
                cert: cert.to_path_buf(),
                key: key.to_path_buf(),
            });
        }
        Ok(id)
    }

    /// PKCS#8 DER of the key (the edge signs batches with the same Ed25519 key as its certificate).
    pub fn key_pkcs8(&self) -> &[u8] {
        self.key.secret_der()
    }

    /// A [`Signer`] from the identity's key.
    pub fn signer(&self) -> Result<Signer, CaError> {
        Signer::from_pkcs8(self.key_pkcs8())
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(id: &TlsIdentity) -> Result<Arc<RootCertStore>, CaError> {
    let mut roots = RootCertStore::empty();
    for ca in &id.ca {
        roots.add(ca.clone()).map_err(|source| CaError::Tls {
            what: "root certificate store",
            source,
        })?;
    }
    Ok(Arc::new(roots))
}

/// TLS 1.3 only, client certificate REQUIRED, verified against the CA with
/// the CRLs (unknown revocation status allowed since our CRL covers all our
/// certs), ALPN "vigil-bus/1".
pub fn server_config(id: &TlsIdentity) -> Result<Arc<ServerConfig>, CaError> {
    server_config_with(id, client_verifier(id)?)
}

/// The check of client certificates [`server_config`] makes: against the CA, with the CRLs
/// (unknown revocation status allowed). Fails on a CRL that does not parse or is not issued
/// by one of the CA certificates (it would revoke nothing).
pub fn client_verifier(id: &TlsIdentity) -> Result<Arc<dyn ClientCertVerifier>, CaError> {
    let subjects: Vec<Vec<u8>> = id
        .ca
        .iter()
        .filter_map(|ca| webpki::anchor_from_trusted_cert(ca).ok())
        .map(|anchor| anchor.subject.to_vec())
        .collect();
    for crl in &id.crls {
        // One that does not parse is refused by the verifier's builder below.
        let Ok(crl) = webpki::BorrowedCertRevocationList::from_der(crl) else {
            continue;
        };
        let issuer = webpki::CertRevocationList::from(crl).issuer().to_vec();
        if !subjects.contains(&issuer) {
            return Err(CaError::ForeignCrl {
                reason: "its issuer is none of the trusted CA certificates".into(),
            });
        }
    }
    WebPkiClientVerifier::builder_with_provider(roots(id)?, provider())
        .with_crls(id.crls.iter().cloned())
        .allow_unknown_revocation_status()
        .build()
        .map_err(|source| CaError::Verifier {
            what: "client certificate",
            source,
        })
}

/// Whether `verifier` (from [`client_verifier`]) finds the client certificate `chain` (its own
/// certificate first) revoked now. Other failures (expiry, another CA) are not revocation.
pub fn is_revoked(verifier: &dyn ClientCertVerifier, chain: &[CertificateDer<'_>]) -> bool {
    let Some((end_entity, intermediates)) = chain.split_first() else {
        return false;
    };
    matches!(
        verifier.verify_client_cert(end_entity, intermediates, UnixTime::now()),
        Err(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Revoked
        ))
    )
}

/// [`server_config`] with a client certificate verifier made by [`client_verifier`].
pub fn server_config_with(
    id: &TlsIdentity,
    verifier: Arc<dyn ClientCertVerifier>,
) -> Result<Arc<ServerConfig>, CaError> {
    let tls = |source| CaError::Tls {
        what: "server config",
        source,
    };
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(id.certs.clone(), id.key.clone_key())
        .map_err(tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// TLS 1.3 only, client auth with the identity, server verified against the
/// CA roots with the CRLs (the server's certificate must carry serverAuth),
/// ALPN "vigil-bus/1".
pub fn client_config(id: &TlsIdentity) -> Result<Arc<ClientConfig>, CaError> {
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(id)?, provider())
        .with_crls(id.crls.iter().cloned())
        .allow_unknown_revocation_status()
        .build()
        .map_err(|source| CaError::Verifier {
            what: "server certificate",
            source,
        })?;
    let tls = |source| CaError::Tls {
        what: "client config",
        source,
    };
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls)?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(id.certs.clone(), id.key.clone_key())
        .map_err(tls)?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The identity a verified peer certificate carries: its first DNS SAN.
/// Error if the certificate cannot be parsed or has no DNS SAN.
pub fn peer_name(cert: &CertificateDer<'_>) -> Result<String, CaError> {
    let ee = webpki::EndEntityCert::try_from(cert).map_err(|e| CaError::BadCertificate {
        reason: format!("cannot parse the peer certificate: {e}"),
    })?;
    ee.valid_dns_names()
        .next()
        .map(str::to_string)
        .ok_or_else(|| CaError::BadCertificate {
            reason: "the peer certificate has no DNS subject alternative name".to_string(),
        })
}
