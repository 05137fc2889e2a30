//! Protocol conformance: every malformed-input case of OSSIM spec 2.7 (and the field rules of
//! 2.5/2.6) with its exact outcome.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use vigil_agent_proto::{
    Command, EventContext, Handshake, Outcome, RawEvent, RejectReason, classify_handshake,
    parse_line,
};
use vigil_event::{Event, EventKind, GENERIC_PLUGIN_SID, Protocol, TimeSource, Timestamp, Uuid};

const KEY: [u8; 32] = [7; 32];

fn ctx(received_at: Timestamp) -> EventContext<'static> {
    EventContext {
        sensor: "edge-1",
        sensor_ip: "192.0.2.10".parse().unwrap(),
        sensor_id: None,
        peer: Some("192.0.2.10".parse().unwrap()),
        received_at,
        secret_key: &KEY,
    }
}

fn raw(line: &str) -> RawEvent {
    match parse_line(line.as_bytes()) {
        Ok(Some(Command::Event(e))) => *e,
        other => panic!("{line}: expected an event, got {other:?}"),
    }
}

fn event(line: &str) -> Event {
    raw(line).into_event(&ctx(Timestamp::from_secs(2_000_000_000)))
}

fn rejected(line: &str) -> (RejectReason, Outcome) {
    match parse_line(line.as_bytes()) {
        Err(r) => (r.reason, r.outcome),
        Ok(other) => panic!("{line}: expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_full_5x_agent_event_line() {
    let e = event(concat!(
        "event type=\"detector\" date=\"1375799426\" device=\"192.168.1.10\" interface=\"eth0\" ",
        "plugin_id=\"4003\" plugin_sid=\"1\" src_ip=\"10.0.0.5\" src_port=\"51234\" dst_ip=\"192.168.1.10\" ",
        "dst_port=\"22\" protocol=\"tcp\" username=\"cm9vdA==\" password=\"aHVudGVyMg==\" userdata2=\"c3J2MDE=\" ",
        "log=\"RmFpbGVkIHBhc3N3b3JkIGZvciByb290\" fdate=\"2013-08-06 14:30:26\" tzone=\"2.0\" ",
        "sensor_id=\"564d1f6a-0000-4000-8000-000000000001\" event_id=\"11111111-2222-4333-8444-555555555555\""
    ));
    assert_eq!(
        e.id,
        Uuid::parse_str("11111111-2222-4333-8444-555555555555").unwrap()
    );
    assert_eq!(e.kind, EventKind::Detector);
    assert_eq!(e.time, Timestamp::from_secs(1_375_799_426));
    assert_eq!(e.provenance.time_source, TimeSource::Device);
    assert_eq!(
        e.provenance.received_at,
        Timestamp::from_secs(2_000_000_000)
    );
    assert_eq!((e.plugin_id, e.plugin_sid), (4003, 1));
    assert_eq!(e.src_ip, "10.0.0.5".parse::<IpAddr>().unwrap());
    assert_eq!((e.src_port, e.dst_port), (51234, 22));
    assert_eq!(e.device_ip, "192.168.1.10".parse::<IpAddr>().unwrap());
    assert_eq!(
        e.sensor_ip,
        "192.0.2.10".parse::<IpAddr>().unwrap(),
        "sensor comes from the session"
    );
    assert_eq!(e.interface, "eth0");
    assert_eq!(e.username.as_deref(), Some("root"));
    assert_eq!(e.userdata.userdata2.as_deref(), Some("srv01"));
    assert_eq!(e.log.as_deref(), Some("Failed password for root"));
    assert_eq!(e.tzone, Some(2.0));
    assert_eq!(e.provenance.sensor, "edge-1");
    assert_eq!(
        e.provenance.sensor_id,
        Uuid::parse_str("564d1f6a-0000-4000-8000-000000000001").ok()
    );
    let password = e.password.expect("password fingerprint");
    assert!(
        password.starts_with("fp:") && !password.contains("hunter2"),
        "{password}"
    );
}

#[test]
fn defaults_of_spec_2_6() {
    let e = event("event type=\"detector\" plugin_id=\"7\" plugin_sid=\"3\"");
    assert_eq!(e.src_ip, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(e.dst_ip, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(e.protocol, Protocol::TCP);
    assert_eq!(e.interface, "none");
    assert_eq!(e.device_ip, e.sensor_ip);
    assert_eq!(
        e.time,
        Timestamp::from_secs(2_000_000_000),
        "no date: the receive time"
    );
    assert_eq!(e.provenance.time_source, TimeSource::Received);
    assert_eq!(e.priority, None, "priority is unset, not 0");
    assert_eq!(e.occurrences, 1);
    assert!(
        e.userdata.slots().iter().all(|s| s.is_none()),
        "no warning text is injected into userdata"
    );
    assert_ne!(e.id, Uuid::nil());
}

#[test]
fn field_rules_of_spec_2_5() {
    let e = event(
        "event type=\"monitor\" plugin_id=\"7\" priority=\"9\" reliability=\"-3\" protocol=\"gopher\" sensor=\"0.0.0.0\" asset_src=\"-1\" asset_dst=\"8\"",
    );
    assert_eq!(e.kind, EventKind::Monitor);
    assert_eq!(e.priority, Some(5), "priority clamps to 0..5");
    assert_eq!(e.reliability, Some(0), "reliability clamps to 0..10");
    assert_eq!(e.protocol, Protocol::TCP, "unknown protocol name is TCP");
    assert_eq!(
        e.sensor_ip,
        "192.0.2.10".parse::<IpAddr>().unwrap(),
        "sensor 0.0.0.0 is the session's"
    );
    assert_eq!((e.asset_src, e.asset_dst), (None, Some(5)));

    let e = event(
        "event type=\"detector\" plugin_id=\"7\" date=\"1375799426.5\" fdate=\"2001-01-01 00:00:00\" protocol=\"17\" src_ip=\"::ffff:10.1.2.3\" dst_ip=\"2001:db8::1\"",
    );
    assert_eq!(
        e.time.as_micros(),
        1_375_799_426_500_000,
        "date wins over fdate"
    );
    assert_eq!(e.protocol, Protocol::UDP);
    assert_eq!(
        e.src_ip,
        "10.1.2.3".parse::<IpAddr>().unwrap(),
        "IPv4-mapped becomes IPv4"
    );
    assert_eq!(e.dst_ip, "2001:db8::1".parse::<IpAddr>().unwrap());

    let e = event("event type=\"detector\" plugin_id=\"7\" fdate=\"2013-08-06 14:30:26\"");
    assert_eq!(
        e.time,
        Timestamp::from_secs(1_375_799_426),
        "fdate is UTC, not server local time"
    );

    let e = event(
        "event type=\"detector\" plugin_id=\"7\" src_hostname=\"NULL\" dst_hostname=\"db1\" src_username=\"YWxpY2U=\" snort_sid=\"2\" occurrences=\"12\" uuid=\"whatever\"",
    );
    assert_eq!(
        e.extra.get("src_hostname"),
        None,
        "the literal NULL is ignored"
    );
    assert_eq!(e.extra.get("dst_hostname").map(String::as_str), Some("db1"));
    assert_eq!(
        e.extra.get("src_username").map(String::as_str),
        Some("alice")
    );
    assert_eq!(e.extra.get("snort_sid").map(String::as_str), Some("2"));
    assert_eq!(
        e.occurrences, 12,
        "the agent's own `occurrences` key is accepted (OSSIM dropped it)"
    );
}

#[test]
fn a_value_with_escaped_quote_is_data() {
    let e = event("event type=\"detector\" plugin_id=\"7\" interface=\"eth\\\"0\"");
    assert_eq!(e.interface, "eth\\\"0");
}

#[test]
fn the_first_four_bytes_decide_the_session() {
    assert_eq!(classify_handshake(*b"conn"), Handshake::Text);
    assert_eq!(classify_handshake(*b"even"), Handshake::Garbage);
    assert_eq!(classify_handshake(1000u32.to_le_bytes()), Handshake::Bson);
}

#[test]
fn unknown_first_word_skips_the_line() {
    assert_eq!(
        rejected("evnt type=\"detector\" plugin_id=\"1\""),
        (RejectReason::UnknownCommand, Outcome::SkipLine)
    );
}

#[test]
fn bad_fields_skip_the_line() {
    let skip = Outcome::SkipLine;
    let base = "event type=\"detector\" plugin_id=\"7\"";
    for (extra, reason) in [
        ("bogus=\"1\"", RejectReason::UnknownKey),
        ("pulses=\"1\"", RejectReason::UnknownKey),
        ("port_from=\"1\"", RejectReason::UnknownKey),
        ("plugin_sid=\"x1\"", RejectReason::InvalidNumber),
        ("src_port=\"70000\"", RejectReason::InvalidNumber),
        ("priority=\"high\"", RejectReason::InvalidNumber),
        ("src_ip=\"10.0.0\"", RejectReason::InvalidIp),
        ("dst_ip=\"host.example\"", RejectReason::InvalidIp),
        ("device=\"010.000.000.001\"", RejectReason::InvalidIp),
        ("ctx=\"not-a-uuid\"", RejectReason::InvalidUuid),
        ("sensor_id=\"1234\"", RejectReason::InvalidUuid),
        ("log=\"!!!notbase64!!!\"", RejectReason::InvalidBase64),
        ("fdate=\"yesterday\"", RejectReason::InvalidDate),
        ("date=\"1e300\"", RejectReason::InvalidDate),
    ] {
        assert_eq!(
            rejected(&format!("{base} {extra}")),
            (reason, skip),
            "{extra}"
        );
    }
    assert_eq!(
        rejected("event type=\"detector\" plugin_id=\"\u{e9}\""),
        (RejectReason::InvalidNumber, skip)
    );
}

#[test]
fn outcomes_of_malformed_lines() {
    use Outcome::{CloseSession as Close, SkipLine as Skip};
    for (line, reason, outcome) in [
        // A value that is not a quoted string, or no value: the session is closed.
        (
            "event type=\"detector\" plugin_id=1001",
            RejectReason::UnquotedValue,
            Close,
        ),
        (
            "event type=\"detector\" plugin_id",
            RejectReason::MissingValue,
            Close,
        ),
        (
            "event type=\"detector\" plugin_id=",
            RejectReason::MissingValue,
            Close,
        ),
        (
            "event type=\"detector\" plugin_id=\"1\" binary_data=\"zz\"",
            RejectReason::InvalidHex,
            Close,
        ),
        // The first error on a line decides.
        (
            "event bogus=\"1\" plugin_id=5",
            RejectReason::UnknownKey,
            Skip,
        ),
        (
            "event plugin_id=5 bogus=\"1\"",
            RejectReason::UnquotedValue,
            Close,
        ),
        // Events without type or plugin are dropped.
        ("event plugin_id=\"7\"", RejectReason::MissingType, Skip),
        (
            "event type=\"alert\" plugin_id=\"7\"",
            RejectReason::InvalidType,
            Skip,
        ),
        (
            "event type=\"detector\"",
            RejectReason::MissingPluginId,
            Skip,
        ),
        (
            "event type=\"detector\" plugin_id=\"0\"",
            RejectReason::MissingPluginId,
            Skip,
        ),
    ] {
        assert_eq!(rejected(line), (reason, outcome), "{line}");
    }
}

#[test]
fn unknown_sid_is_not_decided_by_the_protocol() {
    // Replacing unknown sids by the generic sid needs the sid tables: intake does it.
    let e = event("event type=\"detector\" plugin_id=\"4003\" plugin_sid=\"999999\"");
    assert_eq!(e.plugin_sid, 999_999);
    assert_ne!(e.plugin_sid, GENERIC_PLUGIN_SID);
}

mod never_panics {
    use proptest::prelude::*;
    use vigil_agent_proto::parse_line;

    proptest! {
        #[test]
        fn on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_line(&bytes);
        }

        #[test]
        fn on_mutated_event_lines(cut in 0usize..400, flip in any::<(usize, u8)>()) {
            let mut line = b"event type=\"detector\" plugin_id=\"4003\" plugin_sid=\"1\" src_ip=\"10.0.0.5\" log=\"RmFpbGVk\" userdata9=\"eA==\" binary_data=\"00ff\" date=\"1375799426\"".to_vec();
            let len = line.len();
            line[flip.0 % len] = flip.1;
            line.truncate(cut.min(len));
            let _ = parse_line(&line);
        }
    }
}
