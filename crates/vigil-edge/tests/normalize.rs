//! From plugin matches to events: addresses, host map, time zones, defaults, unparsed lines.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::net::IpAddr;

use vigil_edge::normalize::{
    NormalizeContext, NormalizeError, UNPARSED_PLUGIN_ID, normalize, unparsed,
};
use vigil_event::{Protocol, TimeSource, Timestamp, Transport, Uuid};
use vigil_plugins::cfg::Parsed;

fn parsed(fields: &[(&'static str, &str)]) -> Parsed {
    Parsed {
        plugin_id: 4003,
        rule: "0001 - fail".into(),
        fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        occurrences: 1,
        secrets: Vec::new(),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn fields_addresses_and_defaults() {
    let zone = jiff::tz::TimeZone::UTC;
    let hosts = HashMap::from([("db1".to_string(), ip("10.0.0.5"))]);
    let key = [1u8; 32];
    let cx = NormalizeContext {
        sensor: "edge-1",
        sensor_ip: ip("192.0.2.10"),
        device: ip("192.0.2.10"),
        received: Timestamp::from_secs(2_000_000_000),
        zone: &zone,
        hosts: &hosts,
        replay: false,
        secret_key: &key,
        id: Uuid::from_u128(7),
    };
    let line = "Feb  8 10:09:06 golgotha sshd[24472]: Failed password for root from 203.0.113.9 port 33992 ssh2";
    let e = normalize(
        &parsed(&[
            ("plugin_sid", "1"),
            ("date", "2015-02-08 10:09:06"),
            ("tzone", "+2"),
            ("src_ip", "203.0.113.9"),
            ("src_port", "33992"),
            ("dst_ip", "DB1"),
            ("dst_port", "22"),
            ("protocol", "udp"),
            ("username", "root"),
            ("password", "hunter2"),
            ("userdata3", "x"),
        ]),
        line,
        &cx,
    )
    .unwrap();
    assert_eq!(
        (e.id, e.plugin_id, e.plugin_sid),
        (Uuid::from_u128(7), 4003, 1)
    );
    assert_eq!(e.src_ip, ip("203.0.113.9"));
    assert_eq!(
        e.dst_ip,
        ip("10.0.0.5"),
        "host names resolve through the static map, ignoring case"
    );
    assert_eq!(
        (e.src_port, e.dst_port, e.protocol),
        (33992, 22, Protocol::UDP)
    );
    assert_eq!(e.username.as_deref(), Some("root"));
    assert!(e.password.as_deref().unwrap().starts_with("fp:"));
    assert_eq!(e.userdata.userdata3.as_deref(), Some("x"));
    assert_eq!(e.log.as_deref(), Some(line), "the raw line is kept");
    assert_eq!(
        e.time,
        Timestamp::from_secs(2_000_000_000),
        "live: the edge's stamp"
    );
    assert_eq!(
        e.provenance.device_time,
        Some("2015-02-08T08:09:06Z".parse().unwrap()),
        "tzone +2 converted to UTC"
    );
    assert_eq!(
        (e.provenance.time_source, e.provenance.transport),
        (TimeSource::Edge, Transport::Bus)
    );
    assert_eq!(
        (e.sensor_ip, e.device_ip),
        (ip("192.0.2.10"), ip("192.0.2.10"))
    );

    let e = normalize(
        &parsed(&[
            ("plugin_sid", "2"),
            ("src_ip", "localhost"),
            ("dst_ip", "::1"),
            ("device", "198.51.100.4"),
        ]),
        line,
        &cx,
    )
    .unwrap();
    assert_eq!(
        (e.src_ip, e.dst_ip, e.device_ip),
        (ip("198.51.100.4"), ip("198.51.100.4"), ip("198.51.100.4")),
        "loopback is the device"
    );
    let e = normalize(
        &parsed(&[("plugin_sid", "2"), ("dst_ip", "not-a-host")]),
        line,
        &cx,
    )
    .unwrap();
    assert_eq!(
        (e.src_ip, e.dst_ip),
        (ip("192.0.2.10"), ip("0.0.0.0")),
        "missing source: the sensor; unknown name: 0.0.0.0"
    );

    assert!(matches!(
        normalize(&parsed(&[("plugin_sid", "x")]), line, &cx).map_err(|r| r.error),
        Err(NormalizeError::BadSid { .. })
    ));
    assert!(matches!(
        normalize(&parsed(&[("plugin_sid", "0")]), line, &cx).map_err(|r| r.error),
        Err(NormalizeError::BadSid { .. })
    ));

    let replay = NormalizeContext { replay: true, ..cx };
    let e = normalize(
        &parsed(&[("plugin_sid", "1"), ("date", "2015-02-08 10:09:06")]),
        line,
        &replay,
    )
    .unwrap();
    assert_eq!(
        e.time,
        "2015-02-08T10:09:06Z".parse().unwrap(),
        "replay: the device's date"
    );
    let u = unparsed("garbage", &replay);
    assert_eq!(
        (u.plugin_id, u.plugin_sid, u.log.as_deref()),
        (UNPARSED_PLUGIN_ID, 1, Some("garbage"))
    );
}

#[test]
fn the_device_defaults_to_the_sender() {
    let zone = jiff::tz::TimeZone::UTC;
    let hosts = HashMap::new();
    let key = [1u8; 32];
    let cx = NormalizeContext {
        sensor: "edge-1",
        sensor_ip: ip("192.0.2.10"),
        device: ip("198.51.100.20"),
        received: Timestamp::from_secs(2_000_000_000),
        zone: &zone,
        hosts: &hosts,
        replay: false,
        secret_key: &key,
        id: Uuid::from_u128(8),
    };
    let e = normalize(&parsed(&[("plugin_sid", "1")]), "x", &cx).unwrap();
    assert_eq!(
        (e.sensor_ip, e.device_ip, e.src_ip),
        (ip("192.0.2.10"), ip("198.51.100.20"), ip("192.0.2.10"))
    );
    let e = normalize(
        &parsed(&[("plugin_sid", "1"), ("device", "unresolved-name")]),
        "x",
        &cx,
    )
    .unwrap();
    assert_eq!(
        e.device_ip,
        ip("198.51.100.20"),
        "a name the host map lacks falls back to the sender"
    );
    assert_eq!(unparsed("x", &cx).device_ip, ip("198.51.100.20"));
}

#[test]
fn secrets_are_markers_in_their_fields_and_the_line_also_when_the_match_is_rejected() {
    let zone = jiff::tz::TimeZone::UTC;
    let hosts = HashMap::new();
    let key = [3u8; 32];
    let cx = NormalizeContext {
        sensor: "edge-1",
        sensor_ip: ip("192.0.2.10"),
        device: ip("192.0.2.10"),
        received: Timestamp::from_secs(2_000_000_000),
        zone: &zone,
        hosts: &hosts,
        replay: false,
        secret_key: &key,
        id: Uuid::from_u128(9),
    };
    let line =
        "sshd[1]: Failed password for invalid user Pa55w0rd! from 203.0.113.9 port 1 ssh2 pw=xyzzy";
    let marker = vigil_event::secret_marker(&key, "Pa55w0rd!");
    let with = |sid: &str| Parsed {
        secrets: vec!["username", "password"],
        ..parsed(&[
            ("plugin_sid", sid),
            ("username", "Pa55w0rd!"),
            ("password", "xyzzy"),
            ("userdata1", "Pa55w0rd!"),
        ])
    };
    let scrubbed = format!(
        "sshd[1]: Failed password for invalid user {marker} from 203.0.113.9 port 1 ssh2 pw={}",
        vigil_event::secret_marker(&key, "xyzzy")
    );
    let e = normalize(&with("1"), line, &cx).unwrap();
    assert_eq!(e.username.as_deref(), Some(marker.as_str()));
    assert_eq!(
        e.password,
        Some(vigil_event::secret_fingerprint(&key, "xyzzy")),
        "a password keeps its stored form"
    );
    assert_eq!(
        e.userdata.userdata1.as_deref(),
        Some(marker.as_str()),
        "an unmarked field repeating a secret is scrubbed like the line"
    );
    assert_eq!(e.log.as_deref(), Some(scrubbed.as_str()));
    let rejected = normalize(&with("x"), line, &cx).unwrap_err();
    assert_eq!(rejected.unparsed.plugin_id, UNPARSED_PLUGIN_ID);
    assert_eq!(rejected.unparsed.log.as_deref(), Some(scrubbed.as_str()));
}
