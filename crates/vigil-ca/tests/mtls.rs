//! Real mutual-TLS handshakes over 127.0.0.1 with configurations from the CA.

mod common;

use std::sync::Arc;

use common::{TestCa, exchange};
use rustls::client::WebPkiServerVerifier;
use vigil_ca::{Role, TlsIdentity, client_config, client_verifier, is_revoked, server_config};

#[tokio::test]
async fn core_and_sensor_complete_mutual_tls() {
    let mut t = TestCa::new("bus");
    let core = t.issue(Role::Core, "core-1", &["127.0.0.1"]);
    let sensor = t.issue(Role::Sensor, "sensor-7", &[]);
    let server = server_config(&t.identity(&core)).expect("server config");
    let client = client_config(&t.identity(&sensor)).expect("client config");

    let ex = exchange(server.clone(), client.clone(), "core-1").await;
    assert_eq!(ex.server, Ok("sensor-7".to_string()));
    assert_eq!(ex.client, Ok("hello sensor-7, you said ping\n".to_string()));

    // The core's IP SAN works as a server name too.
    let ex = exchange(server, client, "127.0.0.1").await;
    assert_eq!(ex.server, Ok("sensor-7".to_string()));

    // A core can forward upward: core certificates are accepted as clients.
    let upper = t.issue(Role::Core, "core-up", &[]);
    let ex = exchange(
        server_config(&t.identity(&upper)).expect("server"),
        client_config(&t.identity(&core)).expect("client"),
        "core-up",
    )
    .await;
    assert_eq!(ex.server, Ok("core-1".to_string()));
    assert!(ex.client.is_ok(), "{:?}", ex.client);
}

#[tokio::test]
async fn client_from_another_ca_is_refused() {
    let mut t = TestCa::new("bus");
    let core = t.issue(Role::Core, "core-1", &[]);
    let server = server_config(&t.identity(&core)).expect("server config");

    let mut other = TestCa::new("rogue");
    let intruder = other.issue(Role::Sensor, "sensor-7", &[]);
    // It trusts our CA for the server, but its own certificate is the other CA's.
    let id = TlsIdentity::load(&intruder.cert, &intruder.key, &core.ca, None, None)
        .expect("intruder identity");
    let ex = exchange(server, client_config(&id).expect("client"), "core-1").await;
    let err = ex.server.expect_err("server must refuse a foreign client");
    assert!(err.contains("UnknownIssuer"), "{err}");
    assert!(ex.client.is_err(), "{:?}", ex.client);
}

#[tokio::test]
async fn client_without_certificate_is_refused() {
    let mut t = TestCa::new("bus");
    let core = t.issue(Role::Core, "core-1", &[]);
    let id = t.identity(&core);
    let server = server_config(&id).expect("server config");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(id.ca[0].clone()).expect("root");
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("verifier");
    let mut anonymous = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("versions")
        .with_webpki_verifier(verifier)
        .with_no_client_auth();
    anonymous.alpn_protocols = vec![vigil_ca::ALPN.to_vec()];

    let ex = exchange(server, Arc::new(anonymous), "core-1").await;
    let err = ex
        .server
        .expect_err("server must require a client certificate");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert!(ex.client.is_err(), "{:?}", ex.client);
}

#[tokio::test]
async fn revoked_sensor_is_refused_after_crl_reload() {
    let mut t = TestCa::new("bus");
    let core = t.issue(Role::Core, "core-1", &[]);
    let sensor = t.issue(Role::Sensor, "sensor-7", &[]);
    let client = client_config(&t.identity(&sensor)).expect("client config");

    let before = server_config(&t.identity(&core)).expect("server config");
    assert!(
        exchange(before.clone(), client.clone(), "core-1")
            .await
            .server
            .is_ok()
    );

    let sensor_chain = t.identity(&sensor).certs;
    let verifier = |t: &TestCa| client_verifier(&t.identity(&core)).expect("verifier");
    assert!(!is_revoked(&*verifier(&t), &sensor_chain));
    t.ca.revoke("sensor-7").expect("revoke");
    // The verifier of the new CRL finds an open session's certificate revoked.
    assert!(is_revoked(&*verifier(&t), &sensor_chain));
    // A server still holding the old CRL does not know yet...
    assert!(
        exchange(before, client.clone(), "core-1")
            .await
            .server
            .is_ok()
    );
    // ...one built from the rewritten crl.pem refuses the sensor.
    let after = server_config(&t.identity(&core)).expect("server config");
    let ex = exchange(after.clone(), client, "core-1").await;
    let err = ex.server.expect_err("revoked sensor must be refused");
    assert!(err.contains("Revoked"), "{err}");
    assert!(ex.client.is_err(), "{:?}", ex.client);

    // Its reissued successor gets in.
    let renewed = t.issue(Role::Sensor, "sensor-7", &[]);
    let ex = exchange(
        server_config(&t.identity(&core)).expect("server"),
        client_config(&t.identity(&renewed)).expect("client"),
        "core-1",
    )
    .await;
    assert_eq!(ex.server, Ok("sensor-7".to_string()));
    // A server built before the reissue but after the revocation admits it too:
    // the new serial is not on the CRL.
    let ex = exchange(
        after,
        client_config(&t.identity(&renewed)).expect("client"),
        "core-1",
    )
    .await;
    assert_eq!(ex.server, Ok("sensor-7".to_string()));
}

#[tokio::test]
async fn sensor_certificate_cannot_act_as_server() {
    let mut t = TestCa::new("bus");
    let sensor = t.issue(Role::Sensor, "sensor-7", &[]);
    let core = t.issue(Role::Core, "core-1", &[]);
    let rogue_server = server_config(&t.identity(&sensor)).expect("server config");
    let client = client_config(&t.identity(&core)).expect("client config");

    let ex = exchange(rogue_server, client, "sensor-7").await;
    let err = ex
        .client
        .expect_err("client must refuse a server without serverAuth");
    assert!(err.starts_with("handshake"), "{err}");
    assert!(
        err.contains("Eku") || err.contains("usage") || err.contains("Purpose"),
        "{err}"
    );
    assert!(ex.server.is_err(), "{:?}", ex.server);
}
