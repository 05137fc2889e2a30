//! A throw-away certificate authority for TLS tests: a CA, a server certificate for
//! 127.0.0.1 and a client certificate, written as PEM files (keys mode 0600).

#![allow(dead_code, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

/// PEM files of one test PKI.
pub struct TestPki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A client certificate from another CA, which the server must refuse.
    pub stranger_cert: PathBuf,
    pub stranger_key: PathBuf,
}

fn write_key(path: &Path, key: &KeyPair) {
    std::fs::write(path, key.serialize_pem()).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    dir: &Path,
    name: &str,
    sans: &[&str],
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> (PathBuf, PathBuf) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let cert = params.signed_by(&key, issuer).unwrap();
    let (cert_path, key_path) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    write_key(&key_path, &key);
    (cert_path, key_path)
}

/// Creates the PKI's files in `dir`.
pub fn create(dir: &Path) -> TestPki {
    std::fs::create_dir_all(dir).unwrap();
    let authority = ca("vigil test CA");
    let ca_cert = dir.join("ca.crt");
    std::fs::write(&ca_cert, authority.pem()).unwrap();
    let (server_cert, server_key) = leaf(dir, "server", &["127.0.0.1", "localhost"], &authority);
    let (client_cert, client_key) = leaf(dir, "client", &["client.test"], &authority);
    let other = ca("some other CA");
    let (stranger_cert, stranger_key) = leaf(dir, "stranger", &["stranger.test"], &other);
    TestPki {
        ca_cert,
        server_cert,
        server_key,
        client_cert,
        client_key,
        stranger_cert,
        stranger_key,
    }
}

/// A TLS client configuration trusting `ca`, with a client certificate when given.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(cert)
                    .unwrap()
                    .map(Result::unwrap)
                    .collect(),
                PrivateKeyDer::from_pem_file(key).unwrap(),
            )
            .unwrap(),
    };
    std::sync::Arc::new(config)
}
