//! An event written by `event_line` parses back to the same fields.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use proptest::prelude::*;
use vigil_agent_proto::{Command, EventContext, event_line, parse_line};
use vigil_event::{Event, EventKind, Protocol, Timestamp, Uuid};

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(|b| IpAddr::from(b).to_canonical()),
    ]
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(any::<String>())
}

prop_compose! {
    fn event()(
        id in any::<u128>(), monitor in any::<bool>(), micros in -(1i64 << 52)..(1i64 << 52),
        plugin in (1u32.., any::<u32>()), protocol in prop_oneof![Just(6u8), Just(17), Just(1), any::<u8>()],
        addrs in (ip(), any::<u16>(), ip(), any::<u16>(), ip(), ip()),
        interface in "[a-z0-9 ._-]{0,12}",
        scores in (proptest::option::of(0u8..=5), proptest::option::of(0u8..=10), proptest::option::of(0u8..=5), proptest::option::of(0u8..=5)),
        tzone in proptest::option::of(-12.0f32..14.0), occurrences in 1u32..1000, ctx in proptest::option::of(any::<u128>()),
        texts in (text(), text(), text(), text()), userdata in proptest::collection::vec(text(), 9),
        hostname in proptest::option::of("[a-z0-9.-]{1,20}"), snort_sid in proptest::option::of(any::<i32>()),
        src_user in text(), sensor_id in proptest::option::of(any::<u128>()),
    ) -> Event {
        let mut e = Event::new(Uuid::from_u128(id), Timestamp::from_micros(micros), plugin.0, plugin.1);
        e.kind = if monitor { EventKind::Monitor } else { EventKind::Detector };
        e.protocol = Protocol(protocol);
        (e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.sensor_ip, e.device_ip) = addrs;
        if e.sensor_ip.is_unspecified() {
            e.sensor_ip = IpAddr::from([192, 0, 2, 1]);
        }
        e.interface = interface;
        (e.priority, e.reliability, e.asset_src, e.asset_dst) = scores;
        e.tzone = tzone;
        e.occurrences = occurrences;
        e.ctx = ctx.map(Uuid::from_u128);
        (e.username, e.filename, e.log, e.data) = texts;
        for (slot, value) in e.userdata.slots_mut().into_iter().zip(userdata) {
            *slot = value;
        }
        if let Some(h) = hostname { e.extra.insert("dst_hostname".into(), h); }
        if let Some(s) = snort_sid { e.extra.insert("snort_sid".into(), s.to_string()); }
        if let Some(u) = src_user.filter(|u| u != "NULL") { e.extra.insert("src_username".into(), u); }
        e.provenance.sensor_id = sensor_id.map(Uuid::from_u128);
        e
    }
}

proptest! {
    #[test]
    fn written_lines_parse_back(event in event()) {
        let line = event_line(&event);
        prop_assert!(line.ends_with('\n'));
        let raw = match parse_line(line.trim_end().as_bytes()) {
            Ok(Some(Command::Event(raw))) => *raw,
            other => panic!("{line}: {other:?}"),
        };
        let key = [0u8; 32];
        let cx = EventContext { sensor: "s", sensor_ip: IpAddr::from([203, 0, 113, 1]), sensor_id: None, peer: None, received_at: Timestamp::from_secs(0), secret_key: &key };
        let back = raw.into_event(&cx);
        prop_assert_eq!(back.id, event.id);
        prop_assert_eq!(back.kind, event.kind);
        prop_assert_eq!(back.time, event.time);
        prop_assert_eq!((back.plugin_id, back.plugin_sid), (event.plugin_id, event.plugin_sid));
        prop_assert_eq!(back.protocol, event.protocol);
        prop_assert_eq!((back.src_ip, back.src_port, back.dst_ip, back.dst_port), (event.src_ip, event.src_port, event.dst_ip, event.dst_port));
        prop_assert_eq!((back.sensor_ip, back.device_ip), (event.sensor_ip, event.device_ip));
        prop_assert_eq!(&back.interface, &event.interface);
        prop_assert_eq!((back.priority, back.reliability, back.asset_src, back.asset_dst), (event.priority, event.reliability, event.asset_src, event.asset_dst));
        prop_assert_eq!(back.tzone, event.tzone);
        prop_assert_eq!(back.occurrences, event.occurrences);
        prop_assert_eq!(back.ctx, event.ctx);
        prop_assert_eq!((&back.username, &back.filename, &back.log, &back.data), (&event.username, &event.filename, &event.log, &event.data));
        prop_assert_eq!(&back.userdata, &event.userdata);
        prop_assert_eq!(&back.extra, &event.extra);
        prop_assert_eq!(back.provenance.sensor_id, event.provenance.sensor_id);
    }
}

#[test]
fn the_sensors_sid_and_only_protocol_fields_are_written() {
    let mut e = Event::new(
        Uuid::nil(),
        Timestamp::from_secs(1_700_000_000),
        4003,
        vigil_event::GENERIC_PLUGIN_SID,
    );
    e.unknown_sid = Some(7);
    e.extra.insert("backlog_id".into(), Uuid::nil().to_string()); // not a number: left out
    e.extra.insert("src_site".into(), "site-1".into()); // unknown to the protocol: left out
    e.extra.insert("src_hostname".into(), "bad\"name".into()); // cannot be quoted: left out
    let line = event_line(&e);
    assert!(line.contains(" plugin_sid=\"7\" "), "{line}");
    assert!(line.contains(" date=\"1700000000.000000\" "), "{line}");
    assert!(
        !line.contains("backlog_id")
            && !line.contains("src_site")
            && !line.contains("src_hostname"),
        "{line}"
    );
    assert!(matches!(
        parse_line(line.trim_end().as_bytes()),
        Ok(Some(Command::Event(_)))
    ));
}
