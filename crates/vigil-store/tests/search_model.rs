//! Model-based property test: for random logs and random queries, search returns exactly what a
//! naive filter over all appended events returns, across sealing and reopening.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use proptest::prelude::*;
use vigil_event::{Event, Timestamp, Uuid};
use vigil_store::{Log, LogOptions, Order, Query};

#[derive(Debug, Clone)]
struct Spec {
    time: i64,
    src: u8,
    dst: u8,
    plugin: u32,
    sid: u32,
    sensor: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (0i64..50, 0u8..3, 0u8..3, 1u32..4, 0u32..3, 0u8..2).prop_map(
        |(time, src, dst, plugin, sid, sensor)| Spec {
            time,
            src,
            dst,
            plugin,
            sid,
            sensor,
        },
    )
}

fn query() -> impl Strategy<Value = Query> {
    (
        0i64..50,
        0i64..30,
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..3),
        proptest::option::of(1u32..4),
        proptest::option::of(0u32..3),
        proptest::option::of(0u8..2),
        1usize..40,
        any::<bool>(),
    )
        .prop_map(
            |(from, span, src, dst, plugin, sid, sensor, limit, newest)| Query {
                from: Timestamp::from_secs(from),
                to: Timestamp::from_secs(from + span),
                src_ip: src.map(|s| IpAddr::from([10, 0, 0, s])),
                dst_ip: dst.map(|d| IpAddr::from([10, 1, 0, d])),
                plugin_id: plugin,
                plugin_sid: sid,
                sensor: sensor.map(|s| format!("s{s}")),
                limit,
                order: if newest {
                    Order::NewestFirst
                } else {
                    Order::OldestFirst
                },
            },
        )
}

fn build(n: usize, s: &Spec) -> Event {
    let mut e = Event::new(
        Uuid::from_u128(n as u128),
        Timestamp::from_secs(s.time),
        s.plugin,
        s.sid,
    );
    e.src_ip = IpAddr::from([10, 0, 0, s.src]);
    e.dst_ip = IpAddr::from([10, 1, 0, s.dst]);
    e.provenance.sensor = format!("s{}", s.sensor);
    e
}

fn naive(events: &[Event], q: &Query) -> Vec<Uuid> {
    let mut hits: Vec<&Event> = events
        .iter()
        .filter(|e| q.covers(e.time))
        .filter(|e| q.src_ip.is_none_or(|ip| e.src_ip == ip))
        .filter(|e| q.dst_ip.is_none_or(|ip| e.dst_ip == ip))
        .filter(|e| q.plugin_id.is_none_or(|p| e.plugin_id == p))
        .filter(|e| q.plugin_sid.is_none_or(|s| e.plugin_sid == s))
        .filter(|e| q.sensor.as_ref().is_none_or(|s| &e.provenance.sensor == s))
        .collect();
    // Ties in time are broken by append order (record number), like the store.
    hits.sort_by_key(|e| (e.time, e.id.as_u128()));
    if q.order == Order::NewestFirst {
        hits.reverse();
    }
    hits.into_iter().take(q.limit).map(|e| e.id).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn search_equals_naive_filter(specs in proptest::collection::vec(spec(), 0..120), batch in 1usize..9, queries in proptest::collection::vec(query(), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let events: Vec<Event> = specs.iter().enumerate().map(|(n, s)| build(n, s)).collect();
        let options = LogOptions { segment_bytes: 1_500, retention_max_age: None, ..LogOptions::default() };
        {
            let mut log = Log::<Event>::open(dir.path(), options.clone()).unwrap();
            for chunk in events.chunks(batch) {
                log.append(chunk).unwrap();
            }
            for q in &queries {
                let got: Vec<Uuid> = log.search(q).unwrap().iter().map(|e| e.id).collect();
                prop_assert_eq!(got, naive(&events, q));
            }
        }
        let reader = Log::<Event>::open_read_only(dir.path()).unwrap();
        for q in &queries {
            let got: Vec<Uuid> = reader.search(q).unwrap().iter().map(|e| e.id).collect();
            prop_assert_eq!(got, naive(&events, q));
        }
    }
}
