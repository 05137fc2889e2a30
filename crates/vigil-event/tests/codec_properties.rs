//! Property tests: every event and alarm survives both encodings, and decoding arbitrary bytes
//! never panics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use proptest::prelude::*;
use vigil_event::codec::{decode_alarm, decode_event, encode_alarm, encode_event};
use vigil_event::event::Userdata;
use vigil_event::{
    Alarm, CorrelationState, Event, EventKind, Evidence, Protocol, TimeSource, Timestamp,
    Transport, Triage, TriageStatus, Uuid,
};

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u8; 16]>().prop_map(IpAddr::from),
    ]
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(any::<String>())
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (Timestamp::MIN.as_micros()..=Timestamp::MAX.as_micros()).prop_map(Timestamp::from_micros)
}

prop_compose! {
    fn event()(
        id in any::<u128>(), monitor in any::<bool>(), time in timestamp(),
        plugin in any::<(u32, u32, Option<u32>, u8)>(),
        addrs in (ip(), any::<u16>(), ip(), any::<u16>(), ip(), ip()),
        interface in any::<String>(),
        smalls in any::<(Option<u8>, Option<u8>, Option<u8>, Option<u8>, Option<u8>, Option<u8>)>(),
        tzone in proptest::option::of(-14.0f32..14.0),
        occurrences in any::<u32>(), ctx in proptest::option::of(any::<u128>()),
        texts in (text(), text(), text(), text(), text()),
        userdata in proptest::collection::vec(text(), 9),
        extra in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..4),
        prov in (any::<String>(), proptest::option::of(any::<u128>()), any::<Option<u64>>(),
                 proptest::option::of(timestamp()), proptest::option::of(timestamp()), timestamp(),
                 0u8..3, 0u8..3, any::<bool>(), proptest::option::of(ip())),
        out_of_bounds in any::<Option<i64>>(),
    ) -> Event {
        let mut e = Event::new(Uuid::from_u128(id), time, plugin.0, plugin.1);
        e.kind = if monitor { EventKind::Monitor } else { EventKind::Detector };
        e.unknown_sid = plugin.2;
        e.protocol = Protocol(plugin.3);
        (e.src_ip, e.src_port, e.dst_ip, e.dst_port, e.sensor_ip, e.device_ip) = addrs;
        e.interface = interface;
        (e.priority, e.reliability, e.asset_src, e.asset_dst, e.risk_c, e.risk_a) = smalls;
        e.tzone = tzone;
        e.occurrences = occurrences;
        e.ctx = ctx.map(Uuid::from_u128);
        (e.username, e.password, e.filename, e.log, e.data) = texts;
        let mut slots = Userdata::default();
        for (slot, value) in slots.slots_mut().into_iter().zip(userdata) {
            *slot = value;
        }
        e.userdata = slots;
        e.extra = extra;
        let p = &mut e.provenance;
        p.sensor = prov.0;
        p.sensor_id = prov.1.map(Uuid::from_u128);
        p.sequence = prov.2;
        p.device_time = prov.3;
        p.edge_time = prov.4;
        p.received_at = prov.5;
        p.time_source = [TimeSource::Edge, TimeSource::Device, TimeSource::Received][prov.6 as usize];
        p.transport = [Transport::OssimAgent, Transport::Bus, Transport::Replay][prov.7 as usize];
        p.authenticated = prov.8;
        p.peer = prov.9;
        p.time_out_of_bounds_secs = out_of_bounds;
        e
    }
}

prop_compose! {
    fn alarm()(
        id in any::<u128>(), revision in any::<u32>(), directive_id in any::<u32>(),
        name in any::<String>(), addrs in (ip(), any::<u16>(), ip(), any::<u16>()),
        numbers in any::<(u8, u8, u8, u8, u8)>(), seen in (timestamp(), timestamp()),
        state in 0usize..3, ended_at in proptest::option::of(timestamp()),
        triage in (0usize..3, text(), proptest::option::of(timestamp()), text()),
        group in proptest::option::of(any::<u128>()),
        evidence in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u128>(), 0..5)), 0..4),
        story in (any::<String>(), any::<u64>(), any::<u64>(),
                  proptest::collection::vec(any::<String>(), 0..3),
                  proptest::collection::vec(any::<String>(), 0..3)),
    ) -> Alarm {
        Alarm {
            v: vigil_event::JSON_SCHEMA_VERSION, id: Uuid::from_u128(id), revision, directive_id, name,
            src_ip: addrs.0, src_port: addrs.1, dst_ip: addrs.2, dst_port: addrs.3,
            protocol: Protocol(numbers.0), priority: numbers.1, reliability: numbers.2,
            risk: numbers.3, level: numbers.4, first_seen: seen.0, last_seen: seen.1,
            correlation: [CorrelationState::Active, CorrelationState::Completed, CorrelationState::Expired][state],
            ended_at,
            triage: Triage {
                status: [TriageStatus::Open, TriageStatus::Acknowledged, TriageStatus::Closed][triage.0],
                by: triage.1, at: triage.2, comment: triage.3,
            },
            rule: story.0, event_count: story.1, evidence_omitted: story.2,
            usernames: story.3, sensors: story.4,
            evidence: evidence.into_iter().map(|(level, ids)| Evidence {
                level, event_ids: ids.into_iter().map(Uuid::from_u128).collect(),
            }).collect(),
            group: group.map(Uuid::from_u128),
        }
    }
}

proptest! {
    #[test]
    fn event_binary_round_trip(event in event()) {
        let mut bytes = Vec::new();
        encode_event(&event, &mut bytes);
        prop_assert_eq!(decode_event(&bytes).unwrap(), event);
    }

    #[test]
    fn event_json_round_trip(event in event()) {
        let json = serde_json::to_string(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        // JSON carries f32 time zones exactly; everything else is lossless.
        prop_assert_eq!(back, event);
    }

    #[test]
    fn alarm_round_trips(alarm in alarm()) {
        let mut bytes = Vec::new();
        encode_alarm(&alarm, &mut bytes);
        prop_assert_eq!(decode_alarm(&bytes).unwrap(), alarm.clone());
        let json = serde_json::to_string(&alarm).unwrap();
        prop_assert_eq!(serde_json::from_str::<Alarm>(&json).unwrap(), alarm);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode_event(&bytes);
        let _ = decode_alarm(&bytes);
    }

    #[test]
    fn decoding_a_corrupted_record_never_panics(event in event(), flips in proptest::collection::vec(any::<(usize, u8)>(), 1..4)) {
        let mut bytes = Vec::new();
        encode_event(&event, &mut bytes);
        for (at, value) in flips {
            let len = bytes.len();
            bytes[at % len] ^= value | 1;
        }
        let _ = decode_event(&bytes);
    }
}
