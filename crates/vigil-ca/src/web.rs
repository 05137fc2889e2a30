//! A certificate browsers accept for the web console.
//!
//! Browsers do not take Ed25519 certificates (the bus CA's algorithm) for TLS, so the console's
//! certificate is ECDSA P-256, issued by a CA of its own made for this one certificate: the CA's
//! key signs the console's certificate and is then dropped, never written, so the CA a browser
//! is told to trust (`console-ca.pem`) can vouch for nothing else.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SanType, SerialNumber,
};
use time::Duration;
use zeroize::Zeroizing;

use crate::CaError;
use crate::authority::{BACKDATE, dn_with_cn, dns_san, generate_err, new_serial, now};
use crate::fsutil::write_atomic;
use crate::keyfile::{KdfParams, write_private_key};
use crate::names::{Host, parse_host};

/// The files of a console certificate.
#[derive(Debug, Clone)]
pub struct WebIssued {
    /// The console's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PKCS#8, encrypted under the passphrase when one was given).
    pub key: PathBuf,
    /// The certificate of the single-use CA that issued it: what a browser is told to trust.
    pub ca: PathBuf,
}

/// Issues a certificate named `name` for `hosts` (DNS names or addresses), valid
/// `validity_days`, into `out_dir` as `<name>.crt`, `<name>.key` and `<name>-ca.pem`.
pub fn issue_web_certificate(
    out_dir: &Path,
    name: &str,
    hosts: &[String],
    key_passphrase: Option<&str>,
    validity_days: u32,
) -> Result<WebIssued, CaError> {
    let mut sans: Vec<SanType> = Vec::new();
    for host in hosts {
        let san = match parse_host(host)? {
            Host::Ip(ip) => SanType::IpAddress(ip),
            Host::Dns(dns) => dns_san(&dns)?,
        };
        if !sans.contains(&san) {
            sans.push(san);
        }
    }
    let not_before = now() - BACKDATE;
    let not_after = not_before + Duration::days(i64::from(validity_days.max(1)));

    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(generate_err("the console CA key"))?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name = dn_with_cn(&format!("Vigil {name} CA"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.serial_number = Some(SerialNumber::from_slice(&new_serial()?));
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca
        .self_signed(&ca_key)
        .map_err(generate_err("the console CA certificate"))?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
        .map_err(generate_err(format!("the key of {name}")))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn_with_cn(name);
    params.subject_alt_names = sans;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.serial_number = Some(SerialNumber::from_slice(&new_serial()?));
    params.not_before = not_before;
    params.not_after = not_after;
    params.use_authority_key_identifier_extension = true;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(generate_err(format!("the certificate of {name}")))?;
    // The CA's key goes out of scope here, unwritten.
    drop(issuer);

    let issued = WebIssued {
        cert: out_dir.join(format!("{name}.crt")),
        key: out_dir.join(format!("{name}.key")),
        ca: out_dir.join(format!("{name}-ca.pem")),
    };
    let pkcs8 = Zeroizing::new(key.serialize_der());
    write_private_key(&issued.key, &pkcs8, key_passphrase, &KdfParams::default())?;
    write_atomic(&issued.cert, cert.pem().as_bytes(), 0o644)?;
    write_atomic(&issued.ca, ca_cert.pem().as_bytes(), 0o644)?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;

    #[test]
    fn a_p256_certificate_for_the_hosts_from_a_ca_whose_key_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = ["localhost".to_string(), "127.0.0.1".to_string()];
        let issued = issue_web_certificate(dir.path(), "console", &hosts, None, 397).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["console-ca.pem", "console.crt", "console.key"]);
        let ca = crate::load_certs(&issued.ca).unwrap();
        let leaf = crate::load_certs(&issued.cert).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca[0].clone()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        for host in ["localhost", "127.0.0.1"] {
            let name = rustls::pki_types::ServerName::try_from(host).unwrap();
            verifier
                .verify_server_cert(
                    &leaf[0],
                    &[],
                    &name,
                    &[],
                    rustls::pki_types::UnixTime::now(),
                )
                .unwrap_or_else(|e| panic!("{host}: {e}"));
        }
        let other = rustls::pki_types::ServerName::try_from("example.org").unwrap();
        assert!(
            verifier
                .verify_server_cert(
                    &leaf[0],
                    &[],
                    &other,
                    &[],
                    rustls::pki_types::UnixTime::now()
                )
                .is_err()
        );
        // ECDSA P-256 public key (id-ecPublicKey with prime256v1) in the certificate.
        let cert = x509_parser::parse_x509_certificate(&leaf[0]).unwrap().1;
        assert_eq!(
            cert.public_key().algorithm.algorithm.to_id_string(),
            "1.2.840.10045.2.1"
        );
    }
}
