//! Aggregation and anonymisation with exact outputs.

#![allow(clippy::unwrap_used)]

use std::net::IpAddr;

use proptest::prelude::*;
use vigil_edge::aggregate::{AggregationConfig, AggregationStats, Aggregator, LAST_TIME_KEY};
use vigil_edge::anonymize::{Anonymizer, Participant, RawText};
use vigil_event::{Event, Timestamp, Uuid};

fn event(n: u128, secs: i64, plugin: u32, src: &str) -> Event {
    let mut e = Event::new(Uuid::from_u128(n), Timestamp::from_secs(secs), plugin, 1);
    e.src_ip = src.parse().unwrap();
    e.dst_ip = "10.1.0.5".parse().unwrap();
    e.dst_port = 22;
    e
}

fn aggregator() -> Aggregator {
    Aggregator::new(AggregationConfig {
        windows: [(4003, 10)].into_iter().collect(),
    })
}

#[test]
fn identical_events_within_the_window_collapse() {
    let mut agg = aggregator();
    let (mut stats, mut out) = (AggregationStats::default(), Vec::new());
    for n in 0..5 {
        agg.push(
            event(n, 1000 + n as i64, 4003, "203.0.113.7"),
            &mut stats,
            &mut out,
        );
    }
    agg.push(event(10, 1003, 4003, "203.0.113.8"), &mut stats, &mut out); // another source
    agg.push(event(11, 1004, 7000, "203.0.113.7"), &mut stats, &mut out); // not aggregated
    assert_eq!(
        out.iter().map(|e| e.id.as_u128()).collect::<Vec<_>>(),
        vec![11],
        "pass-through at once"
    );
    assert_eq!(stats.collapsed, 4);
    // An event after the first window closes emits the aggregates, oldest first.
    agg.push(event(20, 1011, 4003, "203.0.113.7"), &mut stats, &mut out);
    let emitted: Vec<(u128, u32)> = out[1..]
        .iter()
        .map(|e| (e.id.as_u128(), e.occurrences))
        .collect();
    assert_eq!(
        emitted,
        vec![(0, 5)],
        "the .8 aggregate (closes 1013) is still open"
    );
    assert_eq!(
        out[1].extra.get(LAST_TIME_KEY).map(String::as_str),
        Some("1970-01-01T00:16:44Z")
    );
    out.clear();
    agg.drain(&mut stats, &mut out);
    assert_eq!(
        out.iter()
            .map(|e| (e.id.as_u128(), e.occurrences))
            .collect::<Vec<_>>(),
        vec![(10, 1), (20, 1)]
    );
    assert!(
        !out[0].extra.contains_key(LAST_TIME_KEY),
        "a single event is not marked"
    );
    assert_eq!(stats.emitted, 3);
}

proptest! {
    #[test]
    fn aggregation_preserves_the_number_of_events(times in proptest::collection::vec((0i64..60, 0u8..3, any::<bool>()), 0..80)) {
        let mut agg = aggregator();
        let (mut stats, mut out) = (AggregationStats::default(), Vec::new());
        let mut sorted = times.clone();
        sorted.sort();
        for (n, (t, src, aggregated)) in sorted.iter().enumerate() {
            let plugin = if *aggregated { 4003 } else { 7000 };
            agg.push(event(n as u128, 1000 + t, plugin, &format!("203.0.113.{src}")), &mut stats, &mut out);
        }
        agg.drain(&mut stats, &mut out);
        let total: u64 = out.iter().map(|e| u64::from(e.occurrences)).sum();
        prop_assert_eq!(total, times.len() as u64);
        prop_assert_eq!(agg.open(), 0);
    }
}

fn anonymizer(raw: RawText) -> Anonymizer {
    Anonymizer::new(
        [9; 32],
        vec![
            Participant {
                site: "hospital-a".into(),
                label: "site-1".into(),
                networks: vec!["10.1.0.0/16".parse().unwrap()],
                domains: vec!["hospital-a.example".into()],
            },
            Participant {
                site: "city".into(),
                label: "site-2".into(),
                networks: vec![
                    "10.2.0.0/16".parse().unwrap(),
                    "10.1.9.0/24".parse().unwrap(),
                ],
                domains: vec![],
            },
        ],
        raw,
    )
}

#[test]
fn internal_addresses_users_and_hosts_become_stable_pseudonyms() {
    let a = anonymizer(RawText::Drop);
    let mut e = event(1, 1000, 4003, "203.0.113.7");
    e.username = Some("alice".into());
    e.extra
        .insert("dst_hostname".into(), "pacs01.hospital-a.example".into());
    e.extra
        .insert("src_hostname".into(), "scanner.evil.example".into());
    e.log = Some("Failed password for alice from 203.0.113.7 to 10.1.0.5".into());
    e.userdata.userdata3 = Some("/home/alice".into());
    e.filename = Some("/home/alice/.ssh/authorized_keys".into());
    a.anonymize(&mut e);
    assert_eq!(
        e.src_ip,
        "203.0.113.7".parse::<IpAddr>().unwrap(),
        "external addresses stay"
    );
    assert_ne!(e.dst_ip, "10.1.0.5".parse::<IpAddr>().unwrap());
    assert!(
        matches!(e.dst_ip, IpAddr::V6(v6) if v6.octets()[0] == 0xfd),
        "{}",
        e.dst_ip
    );
    assert_eq!(e.extra.get("dst_site").map(String::as_str), Some("site-1"));
    assert!(!e.extra.contains_key("src_site"));
    assert!(e.username.as_deref().unwrap().starts_with("user-"));
    assert!(
        e.extra["dst_hostname"].starts_with("host-")
            && e.extra["dst_hostname"].ends_with(".site-1")
    );
    assert_eq!(
        e.extra["src_hostname"], "scanner.evil.example",
        "outside every participant's domains"
    );
    assert_eq!(e.log, None, "raw text dropped by default");
    assert_eq!(
        (&e.userdata.userdata3, &e.filename),
        (&None, &None),
        "free-text fields too"
    );
    // Deterministic: the same values give the same pseudonyms; another key, others.
    let mut again = event(2, 2000, 4003, "198.51.100.1");
    again.username = Some("ALICE".into());
    a.anonymize(&mut again);
    assert_eq!(again.dst_ip, e.dst_ip);
    assert_eq!(
        again.username, e.username,
        "user names compare ignoring case"
    );
    let other = Anonymizer::new([1; 32], Vec::new(), RawText::Drop);
    assert_ne!(other.pseudonym_ip("10.1.0.5".parse().unwrap()), e.dst_ip);
}

#[test]
fn the_most_specific_participant_network_wins_and_redaction_keeps_text() {
    let a = anonymizer(RawText::Redact);
    assert_eq!(
        a.participant_of("10.1.9.9".parse().unwrap()).unwrap().label,
        "site-2"
    );
    assert_eq!(
        a.participant_of("10.1.8.9".parse().unwrap()).unwrap().label,
        "site-1"
    );
    let mut e = event(1, 1000, 4003, "10.1.9.9");
    e.username = Some("bob".into());
    e.log = Some("session opened for bob from 10.1.9.9 port 22".into());
    e.userdata.userdata1 = Some("server = 10.1.9.9 : user = bob".into());
    a.anonymize(&mut e);
    let userdata = e.userdata.userdata1.clone().unwrap();
    assert!(
        !userdata.contains("bob") && userdata.contains(e.username.as_deref().unwrap()),
        "{userdata}"
    );
    let log = e.log.unwrap();
    assert!(!log.contains("bob") && !log.contains("10.1.9.9"), "{log}");
    assert!(
        log.contains(&e.src_ip.to_string()) && log.contains(e.username.as_deref().unwrap()),
        "{log}"
    );
    assert_eq!(e.extra.get("src_site").map(String::as_str), Some("site-2"));
}

#[test]
fn held_events_are_tracked_by_push_order() {
    let mut agg = aggregator();
    let (mut stats, mut out) = (AggregationStats::default(), Vec::new());
    agg.push(event(1, 1000, 7000, "203.0.113.7"), &mut stats, &mut out); // passes through
    assert!(agg.emitted_before(agg.pushed()));
    agg.push(event(2, 1001, 4003, "203.0.113.7"), &mut stats, &mut out); // held (push 1)
    let after_held = agg.pushed();
    assert!(agg.emitted_before(1), "only push 0 came before");
    assert!(!agg.emitted_before(after_held), "push 1 is held");
    agg.push(event(3, 1020, 4003, "203.0.113.9"), &mut stats, &mut out); // closes the first
    assert!(agg.emitted_before(after_held));
    assert!(!agg.emitted_before(agg.pushed()));
    agg.drain(&mut stats, &mut out);
    assert!(agg.emitted_before(agg.pushed()));
}

#[test]
fn push_all_equals_one_push_at_a_time() {
    let events: Vec<Event> = (0..6)
        .map(|n| {
            event(
                n,
                1000 + n as i64,
                [4003, 7000][n as usize % 2],
                "203.0.113.7",
            )
        })
        .collect();
    for windows in [vec![], vec![(4003, 10)]] {
        let config = AggregationConfig {
            windows: windows.into_iter().collect(),
        };
        let (mut one, mut all) = (Aggregator::new(config.clone()), Aggregator::new(config));
        let (mut s1, mut s2) = (AggregationStats::default(), AggregationStats::default());
        let (mut o1, mut o2) = (Vec::new(), Vec::new());
        for e in events.clone() {
            one.push(e, &mut s1, &mut o1);
        }
        all.push_all(events.clone(), &mut s2, &mut o2);
        assert_eq!((o1, s1, one.pushed()), (o2, s2, all.pushed()));
    }
}
