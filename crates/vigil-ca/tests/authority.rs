//! The CA directory: layout, modes, certificate contents, one live identity per name.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{TestCa, mode};
use vigil_ca::{Authority, CaError, Role, load_private_key};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::*;

fn parse_pem_cert(path: &std::path::Path) -> Vec<u8> {
    let certs = vigil_ca::load_certs(path).expect("load certs");
    assert_eq!(certs.len(), 1, "{}", path.display());
    certs[0].to_vec()
}

fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let ext = cert
        .subject_alternative_name()
        .expect("SAN parse")
        .expect("SAN present");
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => format!("dns:{d}"),
            GeneralName::IPAddress(ip) => format!("ip:{ip:?}"),
            other => format!("other:{other:?}"),
        })
        .collect()
}

fn cn(cert: &X509Certificate<'_>) -> String {
    cert.subject()
        .iter_common_name()
        .next()
        .expect("CN")
        .as_str()
        .expect("CN string")
        .to_string()
}

#[test]
fn init_issue_sensor_and_core_with_exact_modes_and_contents() {
    let mut t = TestCa::new("test");
    let dir = t.ca_dir();
    assert_eq!(mode(&dir), 0o700, "CA directory");
    assert_eq!(mode(&dir.join("ca.key")), 0o600, "CA key");
    assert_eq!(mode(&dir.join("ca.pem")), 0o644);
    assert_eq!(mode(&dir.join("crl.pem")), 0o644);
    assert!(dir.join("index.json").exists());
    assert_eq!(
        vigil_ca::load_crls(&dir.join("crl.pem"))
            .expect("crl")
            .len(),
        1
    );

    // The CA certificate.
    let ca_der = parse_pem_cert(&dir.join("ca.pem"));
    let (_, ca) = X509Certificate::from_der(&ca_der).expect("parse CA");
    assert_eq!(cn(&ca), "Vigil CA test");
    let bc = ca
        .basic_constraints()
        .expect("bc")
        .expect("bc present")
        .value;
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(0));
    let ku = ca.key_usage().expect("ku").expect("ku present").value;
    assert!(ku.key_cert_sign() && ku.crl_sign());
    let years =
        (ca.validity().not_after.timestamp() - ca.validity().not_before.timestamp()) / 86_400;
    assert_eq!(years, 3650);

    // A sensor: CN = name, one DNS SAN = name, clientAuth only.
    let sensor = t.issue(Role::Sensor, "sensor-1", &[]);
    assert_eq!(sensor.cert, t.out("sensor-1").join("sensor-1.pem"));
    assert_eq!(sensor.key, t.out("sensor-1").join("sensor-1.key"));
    assert_eq!(mode(&sensor.key), 0o600, "issued key");
    assert_eq!(
        std::fs::read(&sensor.ca).expect("ca copy"),
        std::fs::read(dir.join("ca.pem")).expect("ca")
    );
    let der = parse_pem_cert(&sensor.cert);
    let (_, cert) = X509Certificate::from_der(&der).expect("parse sensor");
    assert_eq!(cn(&cert), "sensor-1");
    assert_eq!(sans(&cert), vec!["dns:sensor-1".to_string()]);
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth && !eku.server_auth);
    assert!(!cert.is_ca());
    assert_eq!(
        (cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp()) / 86_400,
        825
    );
    // Serial: 16 bytes, positive, as recorded.
    let serial = cert.raw_serial();
    assert_eq!(serial.len(), 16);
    assert!(serial[0] & 0x80 == 0);
    let hex: String = serial.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, sensor.serial);
    assert!(cert.verify_signature(Some(ca.public_key())).is_ok());

    // A core: CN = name, SANs = name + hosts (IPs as IP SANs), server+client.
    let core = t.issue(Role::Core, "core-1", &["core.example", "10.1.2.3", "::1"]);
    assert_eq!(mode(&core.key), 0o600);
    let der = parse_pem_cert(&core.cert);
    let (_, cert) = X509Certificate::from_der(&der).expect("parse core");
    assert_eq!(cn(&cert), "core-1");
    let names = sans(&cert);
    assert_eq!(names[0], "dns:core-1");
    assert!(names.contains(&"dns:core.example".to_string()), "{names:?}");
    assert!(
        names.contains(&format!("ip:{:?}", &[10u8, 1, 2, 3][..])),
        "{names:?}"
    );
    assert_eq!(names.len(), 4, "{names:?}");
    let eku = cert
        .extended_key_usage()
        .expect("eku")
        .expect("eku present")
        .value;
    assert!(eku.client_auth && eku.server_auth);

    // The index, also after reopening.
    let reopened = Authority::open(&dir, None).expect("open");
    assert_eq!(reopened.issued(), t.ca.issued());
    let issued = reopened.issued();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        (issued[0].name.as_str(), issued[0].role),
        ("sensor-1", Role::Sensor)
    );
    assert_eq!(
        (issued[1].name.as_str(), issued[1].role),
        ("core-1", Role::Core)
    );
    assert!(issued.iter().all(|c| c.revoked_at.is_none()));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).expect("index"))
            .expect("json");
    assert_eq!(json["version"], 1);
    assert_eq!(json["certs"][1]["role"], "core");

    // A key readable by others is refused, naming path and mode.
    std::fs::set_permissions(&sensor.key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = load_private_key(&sensor.key, None).expect_err("0644 key must be refused");
    let msg = err.to_string();
    assert!(
        matches!(err, CaError::InsecureKeyFile { mode: 0o644, .. }),
        "{msg}"
    );
    assert!(msg.contains("0644") && msg.contains("chmod 600"), "{msg}");
    assert!(msg.contains(&sensor.key.display().to_string()), "{msg}");
    // ... and so is the CA's own key.
    std::fs::set_permissions(dir.join("ca.key"), std::fs::Permissions::from_mode(0o640))
        .expect("chmod");
    let err = Authority::open(&dir, None).expect_err("0640 CA key must be refused");
    assert!(err.to_string().contains("0640"), "{err}");
}

#[test]
fn one_live_identity_per_name_and_bad_names() {
    let mut t = TestCa::new("names");
    let first = t.issue(Role::Sensor, "s1", &[]);

    let err =
        t.ca.issue(Role::Sensor, "s1", &[], &t.out("again"), None, 30)
            .expect_err("second live s1");
    assert!(matches!(err, CaError::NameInUse { .. }), "{err}");
    assert!(err.to_string().contains("revoke"), "{err}");
    // The role does not matter: one name, one identity.
    assert!(
        t.ca.issue(Role::Core, "s1", &[], &t.out("again"), None, 30)
            .is_err()
    );

    let revoked = t.ca.revoke("s1").expect("revoke");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].serial, first.serial);
    assert!(revoked[0].revoked_at.is_some());
    let second = t.issue(Role::Sensor, "s1", &[]);
    assert_ne!(second.serial, first.serial);

    // The CRL lists the revoked serial and not the new one; the index persists.
    let crl_der = vigil_ca::load_crls(&t.ca_dir().join("crl.pem")).expect("crl");
    let (_, crl) = CertificateRevocationList::from_der(&crl_der[0]).expect("parse crl");
    let listed: Vec<String> = crl
        .iter_revoked_certificates()
        .map(|r| r.raw_serial().iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    assert_eq!(listed, vec![first.serial.clone()]);
    assert_eq!(
        crl.crl_number().map(|n| n.to_string()),
        Some("2".to_string())
    );
    let next = crl.next_update().expect("next update").timestamp();
    assert_eq!((next - crl.last_update().timestamp()) / 86_400, 30);
    let reopened = Authority::open(&t.ca_dir(), None).expect("open");
    let s1: Vec<_> = reopened
        .issued()
        .iter()
        .filter(|c| c.name == "s1")
        .collect();
    assert_eq!(s1.len(), 2);
    assert!(s1[0].revoked_at.is_some() && s1[1].revoked_at.is_none());

    // Revoking a name without a live certificate.
    let err = t.ca.revoke("nobody").expect_err("nothing to revoke");
    assert!(matches!(err, CaError::NotIssued { .. }), "{err}");

    // Bad names are refused, naming the name.
    for bad in ["Sensor1", "-s", "s-", "s_1", "", "a..b", "s 1", "ünï"] {
        let err =
            t.ca.issue(Role::Sensor, bad, &[], &t.out("bad"), None, 30)
                .expect_err(bad);
        assert!(matches!(err, CaError::InvalidName { .. }), "{bad}: {err}");
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
    let err =
        t.ca.issue(
            Role::Core,
            "core-x",
            &["bad_host".to_string()],
            &t.out("bad"),
            None,
            30,
        )
        .expect_err("bad host");
    assert!(err.to_string().contains("bad_host"), "{err}");
    let err =
        t.ca.issue(
            Role::Sensor,
            "s2",
            &["extra".to_string()],
            &t.out("bad"),
            None,
            30,
        )
        .expect_err("sensor with hosts");
    assert!(matches!(err, CaError::InvalidHost { .. }), "{err}");
    assert!(matches!(
        t.ca.issue(Role::Sensor, "ca", &[], &t.out("bad"), None, 30),
        Err(CaError::ReservedName { .. })
    ));
    assert!(matches!(
        t.ca.issue(Role::Sensor, "s3", &[], &t.ca_dir(), None, 30),
        Err(CaError::OutputIsCaDir { .. })
    ));
    assert!(matches!(
        t.ca.issue(Role::Sensor, "s4", &[], &t.out("s4"), None, 0),
        Err(CaError::InvalidValidity { .. })
    ));
    // Nothing refused was recorded.
    assert_eq!(t.ca.issued().len(), 2);

    // A second init in the same directory, and a bad CA name.
    let err = Authority::init(&t.ca_dir(), "again", None).expect_err("re-init");
    assert!(matches!(err, CaError::AlreadyInitialized { .. }), "{err}");
    let other = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Authority::init(&other.path().join("ca"), "Bad CA", None),
        Err(CaError::InvalidName { .. })
    ));
    assert!(matches!(
        Authority::open(other.path(), None),
        Err(CaError::NotInitialized { .. })
    ));
}
