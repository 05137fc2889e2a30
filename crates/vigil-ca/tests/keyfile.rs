//! Passphrase-protected key files.

mod common;

use base64::Engine as _;
use common::{TestCa, mode};
use vigil_ca::{
    Authority, CaError, KdfParams, Role, TlsIdentity, load_private_key, write_private_key,
};

const HEADER: &str = "-----BEGIN VIGIL ENCRYPTED PRIVATE KEY-----";

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn encrypted_key_round_trip_wrong_and_missing_passphrase() {
    let mut t = TestCa::new("enc");
    let out = t.out("s1");
    let issued =
        t.ca.issue(Role::Sensor, "s1", &[], &out, Some("correct horse"), 30)
            .expect("issue with passphrase");
    assert_eq!(mode(&issued.key), 0o600);

    // The file is the Vigil format, with no PKCS#8 plaintext in it.
    let text = std::fs::read_to_string(&issued.key).expect("read key");
    assert!(text.starts_with(HEADER), "{text}");
    assert!(
        text.trim_end()
            .ends_with("-----END VIGIL ENCRYPTED PRIVATE KEY-----")
    );
    assert!(!text.contains("BEGIN PRIVATE KEY"));
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64 body");
    assert_eq!(body[0], 1, "format version");
    assert_eq!(
        &body[1..5],
        &19_456u32.to_be_bytes(),
        "OWASP m_cost by default"
    );
    assert_eq!(&body[5..9], &2u32.to_be_bytes(), "t_cost");
    assert_eq!(&body[9..13], &1u32.to_be_bytes(), "p");

    // Right passphrase: the key, and it matches the certificate.
    let key = load_private_key(&issued.key, Some("correct horse")).expect("decrypt");
    let der = key.secret_der().to_vec();
    assert!(!contains(&body, &der));
    // Not even the 32-byte seed (inside the PKCS#8 after its 16-byte prefix).
    assert!(!contains(&body, &der[16..48]));
    let id = TlsIdentity::load(
        &issued.cert,
        &issued.key,
        &issued.ca,
        None,
        Some("correct horse"),
    )
    .expect("identity from encrypted key");
    assert_eq!(id.key_pkcs8(), der.as_slice());

    // Wrong passphrase.
    let err = load_private_key(&issued.key, Some("wrong horse")).expect_err("wrong passphrase");
    assert!(matches!(err, CaError::WrongPassphrase { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "wrong passphrase or damaged key file {}",
            issued.key.display()
        )
    );
    // Missing passphrase.
    let err = load_private_key(&issued.key, None).expect_err("no passphrase");
    assert!(matches!(err, CaError::PassphraseRequired { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is passphrase-protected; give its passphrase")
    );
    assert!(err.to_string().contains(&issued.key.display().to_string()));

    // A damaged file is refused like a wrong passphrase.
    let mut damaged = body.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x01;
    let damaged_path = out.join("damaged.key");
    let pem = format!(
        "{HEADER}\n{}\n-----END VIGIL ENCRYPTED PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(&damaged)
    );
    write_private_key_text(&damaged_path, &pem);
    assert!(matches!(
        load_private_key(&damaged_path, Some("correct horse")),
        Err(CaError::WrongPassphrase { .. })
    ));
}

fn write_private_key_text(path: &std::path::Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn write_and_load_plain_and_encrypted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let der = b"\x30\x2e\x02\x01\x00 some PKCS#8 DER bytes for the test".to_vec();
    let plain = dir.path().join("plain.key");
    write_private_key(&plain, &der, None, &KdfParams::default()).expect("write plain");
    assert_eq!(mode(&plain), 0o600);
    assert!(
        std::fs::read_to_string(&plain)
            .expect("read")
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
    assert_eq!(
        load_private_key(&plain, None).expect("load").secret_der(),
        der.as_slice()
    );

    let enc = dir.path().join("enc.key");
    let cheap = KdfParams::insecure_for_tests();
    write_private_key(&enc, &der, Some("pw"), &cheap).expect("write enc");
    assert_eq!(mode(&enc), 0o600);
    assert_eq!(
        load_private_key(&enc, Some("pw"))
            .expect("load")
            .secret_der(),
        der.as_slice()
    );
    // Rewriting replaces the file atomically and keeps it 0600.
    write_private_key(&enc, &der, Some("pw2"), &cheap).expect("rewrite");
    assert_eq!(mode(&enc), 0o600);
    assert!(load_private_key(&enc, Some("pw")).is_err());
    assert!(load_private_key(&enc, Some("pw2")).is_ok());
    // No temporary file left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    // An empty passphrase is refused.
    assert!(write_private_key(&enc, &der, Some(""), &cheap).is_err());
}

#[test]
fn passphrase_protected_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("ca");
    let mut ca = Authority::init(&dir, "locked", Some("ca secret")).expect("init");
    let key_text = std::fs::read_to_string(dir.join("ca.key")).expect("read");
    assert!(key_text.starts_with(HEADER));
    ca.issue(Role::Core, "core", &[], &tmp.path().join("out"), None, 30)
        .expect("issue");

    let err = Authority::open(&dir, None).expect_err("no passphrase");
    assert!(matches!(err, CaError::PassphraseRequired { .. }), "{err}");
    let err = Authority::open(&dir, Some("nope")).expect_err("wrong passphrase");
    assert!(matches!(err, CaError::WrongPassphrase { .. }), "{err}");
    let opened = Authority::open(&dir, Some("ca secret")).expect("open");
    assert_eq!(opened.issued().len(), 1);
    assert_eq!(opened.name(), "locked");
}
