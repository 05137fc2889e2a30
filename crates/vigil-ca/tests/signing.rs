//! Ed25519 signatures by the key of a certificate, outside TLS.

mod common;

use common::TestCa;
use rustls::pki_types::CertificateDer;
use vigil_ca::{Role, Signer, peer_name, verify_signed_by};

#[test]
fn signatures_verify_only_for_the_certificates_key() {
    let mut t = TestCa::new("sig");
    let issued_a = t.issue(Role::Sensor, "sensor-a", &[]);
    let issued_b = t.issue(Role::Sensor, "sensor-b", &[]);
    let a = t.identity(&issued_a);
    let b = t.identity(&issued_b);
    let signer_a = Signer::from_pkcs8(a.key_pkcs8()).expect("signer a");
    let signer_b = b.signer().expect("signer b");
    let cert_a = &a.certs[0];

    let message = b"batch 42: 1000 events, blake3 0123abcd";
    let sig = signer_a.sign(message);
    assert_eq!(sig.len(), 64);
    assert!(verify_signed_by(cert_a, message, &sig));

    // A flipped byte in the message or in the signature.
    for i in [0, message.len() / 2, message.len() - 1] {
        let mut m = message.to_vec();
        m[i] ^= 0x01;
        assert!(!verify_signed_by(cert_a, &m, &sig), "message byte {i}");
    }
    for i in [0, 31, 32, 63] {
        let mut s = sig;
        s[i] ^= 0x80;
        assert!(!verify_signed_by(cert_a, message, &s), "signature byte {i}");
    }
    // Another sensor's key, and wrong lengths.
    assert!(!verify_signed_by(cert_a, message, &signer_b.sign(message)));
    assert!(verify_signed_by(
        &b.certs[0],
        message,
        &signer_b.sign(message)
    ));
    assert!(!verify_signed_by(cert_a, message, &sig[..63]));
    assert!(!verify_signed_by(cert_a, message, &[]));
    // Not a certificate at all.
    let junk = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    assert!(!verify_signed_by(&junk, message, &sig));
    assert!(peer_name(&junk).is_err());
    assert_eq!(peer_name(cert_a).expect("name"), "sensor-a");
}

#[test]
fn identity_refuses_a_key_of_another_certificate() {
    let mut t = TestCa::new("sig");
    let a = t.issue(Role::Sensor, "sensor-a", &[]);
    let b = t.issue(Role::Sensor, "sensor-b", &[]);
    let err = vigil_ca::TlsIdentity::load(&a.cert, &b.key, &a.ca, None, None)
        .expect_err("mismatched key");
    assert!(
        matches!(err, vigil_ca::CaError::KeyMismatch { .. }),
        "{err}"
    );
}
