//! Correlation scenarios with exact outputs: the spec's worked example (directive 50004),
//! windows on event time, implicit stickiness, absence (`not`), chained directives, risk that
//! never decreases, eviction, port ranges.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use vigil_correlate::{Assets, DIRECTIVE_PLUGIN_ID, EngineConfig, Host};
use vigil_directives::{Reliability, Var};
use vigil_event::{CorrelationState, Evidence, Uuid};

const A: &str = "203.0.113.1";
const B: &str = "10.0.0.5";
const C: &str = "203.0.113.9";

#[test]
fn directive_50004_worked_example() {
    let mut engine = new_engine(
        vec![bruteforce()],
        Assets::default(),
        EngineConfig::default(),
    );
    // #1 starts a backlog; 4 x 1 x 2 / 25 = 0.32: no directive event, no alarm.
    let out = engine.process(&event(1, 1000, 4004, 2, A, B));
    assert!(out.directive_events.is_empty() && out.alarms.is_empty());
    assert_eq!(engine.live_backlogs(), 1);
    // #2..#20 are absorbed by level 2.
    for n in 2..=20 {
        let out = engine.process(&event(n, 1000 + n as i64, 4004, 2, A, B));
        assert!(out.directive_events.is_empty(), "event {n}");
    }
    assert_eq!(
        engine.live_backlogs(),
        1,
        "absorbed events start no new backlog"
    );
    // #21 fires level 2: reliability 4, risk floor(1.28) = 1: an alarm.
    let out = engine.process(&event(21, 1021, 4004, 2, A, B));
    assert_eq!(out.directive_events.len(), 1);
    let de = &out.directive_events[0];
    assert_eq!((de.plugin_id, de.plugin_sid), (DIRECTIVE_PLUGIN_ID, 50004));
    assert_eq!((de.priority, de.reliability), (Some(4), Some(4)));
    assert_eq!(
        (
            de.src_ip.to_string().as_str(),
            de.dst_ip.to_string().as_str()
        ),
        (A, B)
    );
    assert_eq!(
        de.extra.get("directive_level").map(String::as_str),
        Some("2")
    );
    assert_eq!(out.alarms.len(), 1);
    let alarm = &out.alarms[0];
    assert_eq!(
        (
            alarm.directive_id,
            alarm.level,
            alarm.risk,
            alarm.revision,
            alarm.reliability
        ),
        (50004, 2, 1, 1, 4)
    );
    assert_eq!(alarm.correlation, CorrelationState::Active);
    assert_eq!(
        alarm.evidence,
        vec![
            Evidence {
                level: 1,
                event_ids: vec![Uuid::from_u128(1)]
            },
            Evidence {
                level: 2,
                event_ids: (2..=21).map(Uuid::from_u128).collect()
            },
        ]
    );
    assert_eq!(
        (alarm.first_seen.as_secs(), alarm.last_seen.as_secs()),
        (1000, 1021)
    );

    // A failure from another source starts a second, independent backlog.
    engine.process(&event(100, 1030, 4004, 2, C, B));
    assert_eq!(engine.live_backlogs(), 2);

    // 50 more from A within 1200 s of #21 (not of #1) fire level 3: same alarm. On the way the
    // alarm is revised as its backlog absorbs them, at 32 and 64 events counted, so it never
    // understates the attack by more than half.
    let mut revisions = Vec::new();
    for n in 0..50 {
        revisions.extend(
            engine
                .process(&event(200 + n, 1500 + n as i64, 4004, 2, A, B))
                .alarms,
        );
    }
    assert_eq!(
        revisions
            .iter()
            .map(|a| (a.id, a.revision, a.level, a.event_count, a.risk))
            .collect::<Vec<_>>(),
        vec![
            (alarm.id, 2, 2, 32, 1),
            (alarm.id, 3, 2, 64, 1),
            (alarm.id, 4, 3, 71, 1)
        ]
    );
    let absorbing = &revisions[0];
    assert_eq!(absorbing.last_seen.as_secs(), 1510);
    assert_eq!(
        absorbing.evidence[2],
        Evidence {
            level: 3,
            event_ids: (200..=210).map(Uuid::from_u128).collect()
        },
        "the events counted toward level 3 so far"
    );
    assert_eq!(
        (absorbing.evidence_omitted, absorbing.rule.as_str()),
        (0, "level 2")
    );

    // 100 more: level 4 (rel 6, risk 1); 200 more: level 5 (rel 10, risk 3), a leaf: closed.
    for n in 0..100 {
        engine.process(&event(400 + n, 1600 + n as i64, 4004, 2, A, B));
    }
    let mut last = None;
    for n in 0..200 {
        last = Some(engine.process(&event(600 + n, 1800 + n as i64, 4004, 2, A, B)));
    }
    let out = last.unwrap();
    let final_alarm = &out.alarms[0];
    assert_eq!(
        (
            final_alarm.revision,
            final_alarm.level,
            final_alarm.risk,
            final_alarm.reliability
        ),
        (8, 5, 3, 10)
    );
    assert_eq!(final_alarm.correlation, CorrelationState::Completed);
    assert_eq!(final_alarm.ended_at, Some(final_alarm.last_seen));
    assert_eq!(final_alarm.event_count, 371);
    assert_eq!(final_alarm.evidence.len(), 5);
    assert_eq!(final_alarm.evidence[4].event_ids.len(), 200);
    assert_eq!(engine.live_backlogs(), 0, "A's backlog ended at its leaf");
    assert_eq!(engine.stats().backlogs_completed, 1);
    assert_eq!(
        engine.stats().backlogs_expired,
        1,
        "C's (started at 1030, windows of 600 s) expired by event time"
    );
}

#[test]
fn level_windows_start_when_the_parent_fired_and_use_event_time() {
    let mut engine = new_engine(
        vec![bruteforce()],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 4004, 2, A, B));
    for n in 2..=20 {
        engine.process(&event(n, 1000 + n as i64, 4004, 2, A, B));
    }
    // The 21st event comes 601 s after the level-1 event: outside level 2's 600 s window. It
    // cannot count, and (the backlog having expired by event time) it starts a new backlog.
    let out = engine.process(&event(21, 1601, 4004, 2, A, B));
    assert!(out.directive_events.is_empty());
    assert_eq!(engine.stats().backlogs_expired, 1);
    assert_eq!(engine.live_backlogs(), 1);
}

#[test]
fn success_branch_ends_the_backlog() {
    let mut engine = new_engine(
        vec![bruteforce()],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 4004, 2, A, B));
    let out = engine.process(&event(2, 1005, 4004, 1, A, B));
    assert_eq!(out.directive_events.len(), 1);
    assert_eq!(out.directive_events[0].reliability, Some(0));
    assert!(out.alarms.is_empty(), "reliability 0: risk 0");
    assert_eq!(engine.live_backlogs(), 0);
    // After 10 s the success branch is closed; level 2 still waits (600 s).
    engine.process(&event(3, 2000, 4004, 2, C, B));
    let out = engine.process(&event(4, 2011, 4004, 1, C, B));
    assert!(out.directive_events.is_empty());
}

#[test]
fn not_rules_fire_on_absence_within_the_window() {
    // "A connection (plugin 10) NOT followed by a log-in (plugin 11) from the same source within
    // 60 s".
    let mut root = rule(1, 10, &[]);
    let mut absent = follow(rule(2, 11, &[]), 1, 60, 10);
    absent.not = true;
    absent.to = Vec::new();
    root.children = vec![absent];
    let mut engine = new_engine(
        vec![directive(7, 5, root)],
        Assets::default(),
        EngineConfig::default(),
    );

    engine.process(&event(1, 1000, 10, 1, A, B));
    // The log-in arrives in time: the absence level can no longer fire.
    engine.process(&event(2, 1030, 11, 1, A, B));
    let mut from_c = event(3, 2000, 10, 1, C, B);
    from_c.provenance.sensor = "edge-c".into();
    engine.process(&from_c);
    // Nothing from C; a later unrelated event moves event time past C's window.
    let out = engine.advance_time(vigil_event::Timestamp::from_secs(2061));
    assert_eq!(out.directive_events.len(), 1, "fired for C only");
    let de = &out.directive_events[0];
    assert_eq!(de.src_ip.to_string(), C);
    assert_eq!(de.time.as_secs(), 2060, "at the end of the window");
    assert_eq!(out.alarms.len(), 1, "5 x 10 x 2 / 25 = 4");
    assert_eq!(engine.live_backlogs(), 0, "A's backlog expired silently");
    assert_eq!(engine.stats().backlogs_expired, 1);
    // The core raised it (nothing arrived), on the sensor of the event before the silence; the
    // text says what was absent instead of repeating the previous event.
    assert_eq!(de.provenance.transport, vigil_event::Transport::Core);
    assert_eq!(de.provenance.sensor, "edge-c");
    assert!(
        de.data
            .as_deref()
            .unwrap()
            .contains("Rule 2 [absent for 60 s: level 2] [Rel: 10] 203.0.113.9:0 -> 10.0.0.5:0"),
        "{:?}",
        de.data
    );
}

#[test]
fn alarm_names_take_the_values_of_their_placeholders() {
    let mut root = rule(1, 4004, &[2]);
    root.children = vec![follow(rule(2, 4004, &[2]), 1, 60, 10)];
    let mut d = directive(40, 5, root);
    d.name = "Brute force by USERNAME from SRC_IP to DST_IP:DST_PORT via SENSOR (PLUGIN_ID:PLUGIN_SID, USERDATA2, SRC_IPX)".into();
    let mut engine = new_engine(vec![d], Assets::default(), EngineConfig::default());
    let mut first = event(1, 1000, 4004, 2, A, B);
    first.username = Some("root".into());
    first.provenance.sensor = "edge-a".into();
    engine.process(&first);
    let mut second = event(2, 1001, 4004, 2, A, B);
    second.dst_port = 22;
    second.username = Some("admin".into());
    second.userdata.userdata2 = Some("srv01".into());
    second.provenance.sensor = "edge-2".into();
    let out = engine.process(&second);
    let alarm = &out.alarms[0];
    assert_eq!(
        alarm.name,
        "Brute force by admin from 203.0.113.1 to 10.0.0.5:22 via edge-2 (4004:2, srv01, SRC_IPX)"
    );
    assert_eq!(alarm.usernames, vec!["root", "admin"]);
    assert_eq!(alarm.sensors, vec!["edge-a", "edge-2"]);
    assert_eq!((alarm.rule.as_str(), alarm.event_count), ("level 2", 2));
}

#[test]
fn values_from_logs_cannot_forge_lines_or_reorder_alarm_names() {
    let mut root = rule(1, 4004, &[2]);
    root.reliability = Reliability::Absolute(5);
    let mut d = directive(42, 5, root);
    d.name = "Failure by USERNAME".into();
    let mut engine = new_engine(vec![d], Assets::default(), EngineConfig::default());
    let mut e = event(1, 1000, 4004, 2, A, B);
    e.username = Some("x\n2026-12-07T18:00:00Z INFO forged\u{202E}gnp.exe".into());
    let out = engine.process(&e);
    assert_eq!(
        out.alarms[0].name,
        "Failure by x\u{FFFD}2026-12-07T18:00:00Z INFO forged\u{FFFD}gnp.exe"
    );
}

#[test]
fn a_level_reached_by_absence_keeps_the_alarm_name() {
    // A log-in (its user names the alarm), then no log-out within 60 s.
    let mut root = rule(1, 10, &[]);
    root.reliability = Reliability::Absolute(5);
    let mut absent = follow(rule(2, 11, &[]), 1, 60, 10);
    absent.not = true;
    root.children = vec![absent];
    let mut d = directive(43, 5, root);
    d.name = "Session of USERNAME left open".into();
    let mut engine = new_engine(vec![d], Assets::default(), EngineConfig::default());
    let mut login = event(1, 1000, 10, 1, A, B);
    login.username = Some("root".into());
    login.priority = Some(5);
    login.reliability = Some(5);
    let first = engine.process(&login).alarms;
    let later = engine
        .advance_time(vigil_event::Timestamp::from_secs(1061))
        .alarms;
    let names: Vec<&str> = first
        .iter()
        .chain(&later)
        .filter(|a| a.directive_id == 43)
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Session of root left open", "Session of root left open"]
    );
}

#[test]
fn settling_revises_what_moved_on_since_the_latest_revision() {
    let mut engine = new_engine(
        vec![directive(50004, 4, bruteforce().root)],
        Assets::default(),
        EngineConfig::default(),
    );
    let mut last = 0;
    for n in 1..=40u128 {
        last = engine
            .process(&event(n, 1000 + n as i64, 4004, 2, A, B))
            .alarms
            .len();
    }
    assert_eq!(last, 0, "40 is no power of two");
    let settled = engine.settle().alarms;
    assert_eq!(settled.len(), 1);
    assert_eq!((settled[0].event_count, settled[0].revision), (40, 3));
    assert!(engine.settle().alarms.is_empty(), "nothing moved on since");
}

#[test]
fn an_alarm_whose_backlog_expires_says_so_with_the_time() {
    // Level 2 fires (risk 2) and opens an alarm; level 3 never comes: the window closes.
    let mut root = rule(1, 4004, &[2]);
    let mut second = follow(rule(2, 4004, &[2]), 1, 60, 5);
    second.children = vec![follow(rule(3, 4004, &[2]), 5, 100, 10)];
    root.children = vec![second];
    let mut engine = new_engine(
        vec![directive(41, 5, root)],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 4004, 2, A, B));
    let raised = engine.process(&event(2, 1010, 4004, 2, A, B)).alarms;
    assert_eq!(
        raised
            .iter()
            .map(|a| (a.revision, a.correlation))
            .collect::<Vec<_>>(),
        vec![(1, CorrelationState::Active)]
    );
    let out = engine.advance_time(vigil_event::Timestamp::from_secs(1111));
    assert_eq!(out.alarms.len(), 1);
    let ended = &out.alarms[0];
    assert_eq!(
        (ended.id, ended.revision, ended.correlation, ended.ended_at),
        (
            raised[0].id,
            2,
            CorrelationState::Expired,
            Some(vigil_event::Timestamp::from_secs(1110))
        )
    );
    assert_eq!(
        ended.triage,
        vigil_event::Triage::default(),
        "triage is the analysts'"
    );
}

#[test]
fn single_event_alarms_are_named_by_their_sid() {
    let mut taxonomy = vigil_correlate::Taxonomy::default();
    taxonomy.set_name(4004, 2, "pam_unix: authentication failure");
    let mut engine = engine_with_taxonomy(Vec::new(), &std::sync::Arc::new(taxonomy));
    let mut named = event(1, 1000, 4004, 2, A, B);
    named.priority = Some(5);
    named.reliability = Some(5);
    let mut unnamed = named.clone();
    unnamed.id = Uuid::from_u128(2);
    unnamed.plugin_id = 4005;
    assert_eq!(
        engine.process(&named).alarms[0].name,
        "pam_unix: authentication failure"
    );
    assert_eq!(engine.process(&unnamed).alarms[0].name, "event 4005:2");
}

#[test]
fn chained_directives_with_a_loop_guard() {
    // Directive 1 fires on any plugin-20 event; directive 2 fires on directive 1's events; 3 and
    // 4 fire on each other's events (a loop) and on directive 2's.
    let d1 = directive(1, 1, rule(1, 20, &[]));
    let d2 = directive(2, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[1]));
    let d3 = directive(3, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[2, 4]));
    let d4 = directive(4, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[3]));
    let config = EngineConfig {
        max_depth: 4,
        ..EngineConfig::default()
    };
    let mut engine = new_engine(vec![d1, d2, d3, d4], Assets::default(), config);
    let out = engine.process(&event(1, 1000, 20, 1, A, B));
    let fired: Vec<u32> = out.directive_events.iter().map(|e| e.plugin_sid).collect();
    // depth 1: d1; 2: d2; 3: d3; 4: d4; 5: d3 again is past the limit.
    assert_eq!(fired, vec![1, 2, 3, 4, 3]);
    assert_eq!(engine.stats().depth_limited, 1);
}

#[test]
fn a_directive_never_consumes_its_own_events() {
    let d = directive(9, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[9]));
    let mut engine = new_engine(
        vec![d, directive(8, 1, rule(1, 30, &[]))],
        Assets::default(),
        EngineConfig::default(),
    );
    let out = engine.process(&event(1, 1000, 30, 1, A, B));
    assert_eq!(out.directive_events.len(), 1);
}

#[test]
fn alarm_risk_never_decreases_and_host_assets_count() {
    // Level 2 has reliability 10, level 3 only 2: the alarm keeps risk 4.
    let mut root = rule(1, 40, &[]);
    let mut l2 = follow(rule(2, 40, &[]), 1, 60, 10);
    l2.children = vec![follow(rule(3, 40, &[]), 1, 60, 2)];
    root.children = vec![l2];
    let mut engine = new_engine(
        vec![directive(11, 5, root)],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 40, 1, A, B));
    let second = engine.process(&event(2, 1001, 40, 1, A, B));
    assert_eq!(second.alarms[0].risk, 4);
    let third = engine.process(&event(3, 1002, 40, 1, A, B));
    assert_eq!(
        (
            third.alarms[0].risk,
            third.alarms[0].level,
            third.alarms[0].revision
        ),
        (4, 3, 2)
    );

    // A host-specific asset value (5) overrides the network default for the destination.
    let assets = Assets::new(
        vec![Host {
            name: "crown".into(),
            ip: B.parse().unwrap(),
            asset: 5,
        }],
        Vec::new(),
        Default::default(),
    );
    let mut second_engine = new_engine(
        vec![directive(12, 2, rule(1, 41, &[]))],
        assets,
        EngineConfig::default(),
    );
    let mut e = event(1, 1000, 41, 1, A, B);
    e.priority = Some(2);
    e.reliability = Some(3);
    let out = second_engine.process(&e);
    assert_eq!(out.risk.attack, 1, "2 x 3 x 5 / 25 = 1.2");
    assert_eq!(out.risk.compromise, 0, "2 x 3 x 2 / 25 = 0.48");
    assert_eq!(
        out.alarms.iter().filter(|a| a.directive_id == 0).count(),
        1,
        "the event is its own alarm"
    );
}

#[test]
fn relative_reliability_sums_the_levels() {
    let mut root = rule(1, 50, &[]);
    root.reliability = Reliability::Absolute(2);
    let mut l2 = follow(rule(2, 50, &[]), 1, 60, 0);
    l2.reliability = Reliability::Relative(3);
    let mut l3 = follow(rule(3, 50, &[]), 1, 60, 0);
    l3.reliability = Reliability::Relative(7);
    l2.children = vec![l3];
    root.children = vec![l2];
    let mut engine = new_engine(
        vec![directive(13, 1, root)],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 50, 1, A, B));
    assert_eq!(
        engine
            .process(&event(2, 1001, 50, 1, A, B))
            .directive_events[0]
            .reliability,
        Some(5)
    );
    assert_eq!(
        engine
            .process(&event(3, 1002, 50, 1, A, B))
            .directive_events[0]
            .reliability,
        Some(10),
        "2 + 3 + 7 clamped"
    );
}

#[test]
fn port_ranges_mean_in_range() {
    let mut r = rule(1, 60, &[]);
    r.port_to = vec![lit(ports(1000, 2000)), not(ports(1500, 1500))];
    let mut engine = new_engine(
        vec![directive(14, 1, r)],
        Assets::default(),
        EngineConfig::default(),
    );
    let fires = |engine: &mut vigil_correlate::Engine, n: u128, port: u16| {
        let mut e = event(n, 1000, 60, 1, A, B);
        e.dst_port = port;
        !engine.process(&e).directive_events.is_empty()
    };
    assert!(fires(&mut engine, 1, 1000));
    assert!(fires(&mut engine, 2, 2000));
    assert!(!fires(&mut engine, 3, 1500), "negated port");
    assert!(!fires(&mut engine, 4, 999));
    assert!(!fires(&mut engine, 5, 2001));
}

#[test]
fn sticky_different_counts_distinct_values_only() {
    // A scan: 3 different destination ports from the same source.
    let mut root = rule(1, 70, &[]);
    let mut l2 = follow(rule(2, 70, &[]), 3, 60, 5);
    l2.to = Vec::new();
    l2.sticky_different = Some(Var::DstPort);
    root.children = vec![l2];
    let mut engine = new_engine(
        vec![directive(15, 3, root)],
        Assets::default(),
        EngineConfig::default(),
    );
    let mut send = |n: u128, port: u16| {
        let mut e = event(n, 1000 + n as i64, 70, 1, A, B);
        e.dst_port = port;
        engine.process(&e).directive_events.len()
    };
    assert_eq!(send(1, 22), 0);
    assert_eq!(send(2, 22), 0);
    assert_eq!(send(3, 22), 0, "same port again: not counted");
    assert_eq!(send(4, 23), 0);
    assert_eq!(send(5, 24), 1, "22, 23, 24");
}

#[test]
fn the_backlog_cap_evicts_the_oldest_among_equally_advanced() {
    let mut root = rule(1, 80, &[]);
    root.children = vec![follow(rule(2, 80, &[]), 1, 600, 5)];
    let config = EngineConfig {
        max_backlogs_per_directive: 3,
        ..EngineConfig::default()
    };
    let mut engine = new_engine(vec![directive(16, 5, root)], Assets::default(), config);
    for n in 1..=5u8 {
        engine.process(&event(
            u128::from(n),
            1000,
            80,
            1,
            &format!("198.51.100.{n}"),
            B,
        ));
    }
    assert_eq!(engine.live_backlogs(), 3);
    assert_eq!(engine.stats().backlogs_evicted, 2);
    // The oldest (sources .1 and .2) are gone: their follow-up starts a new backlog instead.
    let out = engine.process(&event(10, 1001, 80, 1, "198.51.100.5", B));
    assert_eq!(out.directive_events.len(), 1);
    let out = engine.process(&event(11, 1001, 80, 1, "198.51.100.1", B));
    assert!(out.directive_events.is_empty());
}

/// A failure, then three more from the same source within ten minutes.
fn four_failures() -> vigil_directives::Directive {
    let mut root = rule(1, 4004, &[2]);
    root.children = vec![follow(rule(2, 4004, &[2]), 3, 600, 10)];
    directive(30, 5, root)
}

#[test]
fn a_flood_of_one_off_sources_never_evicts_an_attack_under_way() {
    let x = "203.0.113.66";
    let config = EngineConfig {
        max_backlogs_per_directive: 100,
        ..EngineConfig::default()
    };
    let mut engine = new_engine(vec![four_failures()], Assets::default(), config);
    let mut n = 0u128;
    let mut send = |engine: &mut vigil_correlate::Engine, src: &str, secs: i64| {
        n += 1;
        engine.process(&event(n, secs, 4004, 2, src, B))
    };
    send(&mut engine, x, 1000);
    send(&mut engine, x, 1001);
    // More one-off sources than the cap: under the old rule (evict the oldest) X's backlog went
    // first, and X could brute-force on unseen.
    let mut alarms = Vec::new();
    for k in 0..250u32 {
        let src = format!("198.51.{}.{}", k / 250, k % 250);
        alarms.extend(send(&mut engine, &src, 1002).alarms);
    }
    assert_eq!(engine.live_backlogs(), 100);
    assert_eq!(engine.stats().backlogs_evicted, 151);
    // One pressure alarm, revised at the 1st, 2nd, 4th... 128th eviction.
    assert!(alarms.iter().all(|a| {
        a.name
            .starts_with("Correlation state under pressure: directive 30 (directive 30)")
    }));
    assert_eq!(
        alarms
            .iter()
            .map(|a| (a.revision, a.event_count))
            .collect::<Vec<_>>(),
        (1..=8).map(|r| (r, 1u64 << (r - 1))).collect::<Vec<_>>()
    );
    assert!(
        alarms[0].name.ends_with("at the cap of 100 (99 live); top sources: 198.51.0.1 (1), 198.51.0.2 (1), 198.51.0.3 (1), 198.51.0.4 (1), 198.51.0.5 (1)"),
        "{}",
        alarms[0].name
    );
    assert!(alarms.iter().all(|a| a.id == alarms[0].id));
    // Three more failures from X: X still alarms, with all five events behind it.
    let after: Vec<vigil_event::Alarm> = (1003..1006)
        .flat_map(|secs| send(&mut engine, x, secs).alarms)
        .filter(|a| a.directive_id == 30)
        .collect();
    assert_eq!(after.len(), 1, "X still alarms");
    assert_eq!(
        (after[0].level, after[0].src_ip.to_string()),
        (2, x.to_string())
    );
    assert_eq!(after[0].event_ids().count(), 4, "the first and three more");
}

#[test]
fn a_cap_filled_with_two_event_backlogs_still_takes_a_new_brute_force() {
    let config = EngineConfig {
        max_backlogs_per_directive: 100,
        ..EngineConfig::default()
    };
    let mut engine = new_engine(vec![four_failures()], Assets::default(), config);
    let mut n = 0u128;
    for k in 0..100u32 {
        let src = format!("198.51.100.{k}");
        for _ in 0..2 {
            n += 1;
            engine.process(&event(n, 1000, 4004, 2, &src, B));
        }
    }
    let mut alarms = Vec::new();
    for secs in 1001..1005 {
        n += 1;
        alarms.extend(
            engine
                .process(&event(n, secs, 4004, 2, "203.0.113.99", B))
                .alarms,
        );
    }
    let attack: Vec<_> = alarms.iter().filter(|a| a.directive_id == 30).collect();
    assert_eq!(attack.len(), 1, "the newcomer got in and alarmed");
    assert_eq!(
        (attack[0].src_ip.to_string().as_str(), attack[0].level),
        ("203.0.113.99", 2)
    );
}

#[test]
fn one_source_holds_at_most_its_share_of_a_directive() {
    // A root whose follow-up is keyed by destination: one scanning source starts a backlog per
    // destination, and beyond its share evicts only its own.
    let mut root = rule(1, 4004, &[2]);
    let mut next = follow(rule(2, 4004, &[2]), 3, 600, 10);
    next.from = Vec::new();
    root.children = vec![next];
    let config = EngineConfig {
        max_backlogs_per_directive: 100,
        max_backlogs_per_source: 10,
        ..EngineConfig::default()
    };
    let mut engine = new_engine(vec![directive(31, 5, root)], Assets::default(), config);
    engine.process(&event(1, 1000, 4004, 2, "192.0.2.1", "10.0.0.1"));
    for k in 0..50u128 {
        engine.process(&event(
            100 + k,
            1001,
            4004,
            2,
            "203.0.113.9",
            &format!("10.1.0.{k}"),
        ));
    }
    assert_eq!(
        engine.live_backlogs(),
        11,
        "ten of the scanner's and the other one"
    );
    assert_eq!(engine.stats().backlogs_evicted, 40);
}

#[test]
fn addresses_most_specific_wins_and_home_net() {
    let assets = Assets::new(
        Vec::new(),
        vec![vigil_correlate::Network {
            name: "lan".into(),
            cidr: "10.0.0.0/8".parse().unwrap(),
            asset: 2,
            external: false,
        }],
        Default::default(),
    );
    let mut r = rule(1, 90, &[]);
    r.from = vec![
        net("192.0.2.0/24"),
        not(vigil_directives::Address::Net(
            "192.0.2.128/25".parse().unwrap(),
        )),
        net("192.0.2.200/32"),
    ];
    r.to = vec![lit(vigil_directives::Address::HomeNet)];
    let mut engine = new_engine(vec![directive(17, 1, r)], assets, EngineConfig::default());
    let mut fires = |n: u128, src: &str, dst: &str| {
        !engine
            .process(&event(n, 1000, 90, 1, src, dst))
            .directive_events
            .is_empty()
    };
    assert!(fires(1, "192.0.2.5", "10.1.1.1"));
    assert!(
        !fires(2, "192.0.2.129", "10.1.1.1"),
        "the /25 negation is more specific"
    );
    assert!(
        fires(3, "192.0.2.200", "10.1.1.1"),
        "the /32 is more specific than the negated /25"
    );
    assert!(
        !fires(4, "192.0.2.5", "172.16.0.1"),
        "destination outside HOME_NET"
    );
    assert!(!fires(5, "198.51.100.1", "10.1.1.1"));
}

#[test]
fn attack_level_crossing_raises_one_alarm() {
    let config = EngineConfig {
        levels: vigil_correlate::LevelsConfig {
            interval_secs: 15,
            recovery: 1,
            compromise_threshold: 0,
            attack_threshold: 10,
        },
        ..EngineConfig::default()
    };
    let mut engine = new_engine(Vec::new(), Assets::default(), config);
    // Risk 2 each (priority 5, reliability 5, asset 2): the attack level of B reaches 10 on the
    // fifth event within one recovery interval.
    let mut alarms = Vec::new();
    for n in 1..=7 {
        let mut e = event(n, 1000 + n as i64, 99, 1, A, B);
        e.priority = Some(5);
        e.reliability = Some(5);
        alarms.extend(
            engine
                .process(&e)
                .alarms
                .into_iter()
                .filter(|a| a.name.starts_with("Attack level")),
        );
    }
    assert_eq!(alarms.len(), 1);
    assert_eq!(
        alarms[0].name,
        format!("Attack level of {B} reached 10 (threshold 10)")
    );
    assert_eq!(alarms[0].dst_ip.to_string(), B);
    assert_eq!(alarms[0].evidence[0].event_ids, vec![Uuid::from_u128(5)]);
    assert_eq!(
        engine.level(B.parse().unwrap(), vigil_correlate::LevelKind::Attack),
        14
    );
    assert_eq!(
        engine.level(A.parse().unwrap(), vigil_correlate::LevelKind::Compromise),
        14,
        "tracked even without a threshold"
    );
}

/// A stand-in for a policy: directive events against B get priority 1 (a printer, say).
struct LowerB;

impl vigil_correlate::Qualifier for LowerB {
    fn qualify(&self, event: &mut vigil_event::Event) -> vigil_correlate::Steps {
        if event.dst_ip.to_string() == B {
            event.priority = Some(1);
        }
        vigil_correlate::Steps::default()
    }
}

#[test]
fn the_qualifier_reprioritises_directive_events_and_their_alarms() {
    let set = vigil_directives::DirectiveSet {
        directives: vec![directive(20, 5, rule(1, 30, &[]))],
        ..Default::default()
    };
    let assets = std::sync::Arc::new(Assets::default());
    let rules = vigil_correlate::Rules {
        qualifier: std::sync::Arc::new(LowerB),
        ..vigil_correlate::Rules::bare(
            std::sync::Arc::new(vigil_correlate::CompiledSet::compile(&set, &assets)),
            assets,
        )
    };
    let mut engine = vigil_correlate::Engine::new(rules, EngineConfig::default());
    let mut e = event(1, 1000, 30, 1, A, B);
    e.reliability = Some(0);
    let out = engine.process(&e);
    assert_eq!(out.directive_events[0].priority, Some(1));
    assert_eq!(
        out.directive_events[0].reliability,
        Some(1),
        "reliability stays the directive's"
    );
    assert!(
        out.alarms.is_empty(),
        "1 x 1 x 2 / 25 < 1: no alarm against the printer"
    );
    let out = engine.process(&event(2, 1001, 30, 1, A, C));
    assert_eq!(out.alarms.len(), 0, "5 x 1 x 2 / 25 = 0.4");
}

#[test]
fn roles_can_skip_correlation_or_qualification() {
    let mut engine = new_engine(
        vec![directive(21, 5, rule(1, 31, &[]))],
        Assets::default(),
        EngineConfig::default(),
    );
    let mut e = event(1, 1000, 31, 1, A, B);
    e.priority = Some(5);
    e.reliability = Some(10);
    let out = engine.process_with(
        &e,
        vigil_correlate::Steps {
            qualify: true,
            correlate: false,
        },
    );
    assert!(out.directive_events.is_empty());
    assert_eq!(out.risk.max(), 4);
    assert_eq!(out.alarms.len(), 1, "the event alone");
    let out = engine.process_with(
        &event(2, 1001, 31, 1, A, B),
        vigil_correlate::Steps {
            qualify: false,
            correlate: true,
        },
    );
    assert_eq!(out.directive_events.len(), 1);
    assert_eq!(out.risk.max(), 0);
}

#[test]
fn directives_match_the_sid_the_sensor_sent_when_no_table_knew_it() {
    let mut engine = new_engine(
        vec![directive(22, 3, rule(1, 4004, &[2]))],
        Assets::default(),
        EngineConfig::default(),
    );
    let mut e = event(1, 1000, 4004, vigil_event::GENERIC_PLUGIN_SID, A, B);
    e.unknown_sid = Some(2);
    assert_eq!(engine.process(&e).directive_events.len(), 1);
    let mut other = event(2, 1001, 4004, vigil_event::GENERIC_PLUGIN_SID, A, B);
    other.unknown_sid = Some(3);
    assert!(engine.process(&other).directive_events.is_empty());
}

#[test]
fn alarms_are_grouped_by_the_configured_fields_within_the_timeout() {
    // A single-rule directive with reliability 10: every event is an alarm (5 x 10 x 2 / 25 = 4).
    let mut d = directive(24, 5, {
        let mut r = rule(1, 33, &[]);
        r.reliability = vigil_directives::Reliability::Absolute(10);
        r
    });
    d.group_alarm_by = vec![vigil_directives::GroupField::DstIp];
    d.group_alarm_timeout = Some(60);
    let mut engine = new_engine(vec![d], Assets::default(), EngineConfig::default());
    let mut alarm = |n: u128, secs: i64, src: &str, dst: &str| {
        let out = engine.process(&event(n, secs, 33, 1, src, dst));
        out.alarms
            .into_iter()
            .find(|a| a.directive_id == 24)
            .unwrap()
            .group
            .unwrap()
    };
    let first = alarm(1, 1000, A, B);
    assert_eq!(
        alarm(2, 1030, C, B),
        first,
        "same destination within 60 s: same group"
    );
    assert_ne!(
        alarm(3, 1030, A, C),
        first,
        "another destination: another group"
    );
    assert_ne!(
        alarm(4, 1061, A, B),
        first,
        "after the timeout: a new group"
    );
}

// Regressions from the engine review.

#[test]
fn an_invalidated_absence_still_lets_the_backlog_expire() {
    let mut root = rule(1, 50, &[]);
    let mut absent = follow(rule(2, 51, &[]), 1, 30, 5);
    absent.not = true;
    root.children = vec![absent, follow(rule(2, 52, &[]), 1, 60, 5)];
    let mut engine = new_engine(
        vec![directive(30, 1, root)],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 50, 1, A, B));
    engine.process(&event(2, 1010, 51, 1, A, B)); // the absence can no longer fire
    engine.advance_time(vigil_event::Timestamp::from_secs(1000 + 86_400));
    assert_eq!(engine.live_backlogs(), 0, "expired at 1060");
    assert_eq!(engine.stats().backlogs_expired, 1);
}

#[test]
fn only_a_lone_port_zero_is_a_wildcard() {
    let mut r = rule(1, 61, &[]);
    r.port_to = vec![lit(ports(0, 1023))];
    let mut engine = new_engine(
        vec![directive(31, 1, r)],
        Assets::default(),
        EngineConfig::default(),
    );
    let mut fires = |n: u128, port: u16| {
        let mut e = event(n, 1000, 61, 1, A, B);
        e.dst_port = port;
        !engine.process(&e).directive_events.is_empty()
    };
    assert!(fires(1, 80));
    assert!(!fires(2, 8080), "0-1023 is a range, not a wildcard");
}

#[test]
fn a_backlogs_own_alarm_revisions_keep_chaining() {
    // Three levels, grouped by destination; directive 99 chains on every directive event of 32.
    let mut root = rule(1, 62, &[]);
    root.reliability = vigil_directives::Reliability::Absolute(10);
    let mut l2 = follow(rule(2, 62, &[]), 1, 60, 10);
    l2.children = vec![follow(rule(3, 62, &[]), 1, 60, 10)];
    root.children = vec![l2];
    let mut grouped = directive(32, 5, root);
    grouped.group_alarm_by = vec![vigil_directives::GroupField::DstIp];
    let chained = directive(99, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[32]));
    let mut engine = new_engine(
        vec![grouped, chained],
        Assets::default(),
        EngineConfig::default(),
    );
    let mut chained_events = 0;
    for n in 1..=3 {
        let out = engine.process(&event(n, 1000 + n as i64, 62, 1, A, B));
        chained_events += out
            .directive_events
            .iter()
            .filter(|e| e.plugin_sid == 99)
            .count();
    }
    assert_eq!(chained_events, 3, "levels 1, 2 and 3 all chain");
}

#[test]
fn not_home_net_next_to_a_back_reference_is_not_narrowed_by_the_index() {
    let assets = Assets::new(
        Vec::new(),
        vec![vigil_correlate::Network {
            name: "lan".into(),
            cidr: "10.0.0.0/8".parse().unwrap(),
            asset: 2,
            external: false,
        }],
        Default::default(),
    );
    let mut root = rule(1, 63, &[]);
    let mut l2 = rule(2, 63, &[2]);
    l2.from = vec![back(1, Var::SrcIp), lit(vigil_directives::Address::HomeNet)];
    l2.from[1].negated = true;
    l2.time_out = 60;
    root.plugin_sid = vec![lit(1)];
    root.children = vec![l2];
    let mut engine = new_engine(
        vec![directive(33, 1, root)],
        assets,
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 63, 1, A, B));
    let out = engine.process(&event(2, 1001, 63, 2, "8.8.8.8", B));
    assert_eq!(
        out.directive_events.len(),
        1,
        "another source outside HOME_NET matches"
    );
}

#[test]
fn the_depth_limit_holds_even_at_its_maximum() {
    let d1 = directive(1, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[2]));
    let d2 = directive(2, 1, rule(1, DIRECTIVE_PLUGIN_ID, &[1]));
    let config = EngineConfig {
        max_depth: u8::MAX,
        ..EngineConfig::default()
    };
    let mut engine = new_engine(vec![d1, d2], Assets::default(), config);
    let mut e = event(1, 1000, DIRECTIVE_PLUGIN_ID, 1, A, B);
    e.plugin_sid = 1;
    let out = engine.process(&e);
    assert_eq!(out.directive_events.len(), 255);
    assert_eq!(engine.stats().depth_limited, 1);
}

#[test]
fn an_event_delivered_twice_starts_two_distinct_backlogs() {
    let mut root = rule(1, 64, &[1]);
    root.children = vec![follow(rule(2, 64, &[2]), 1, 60, 5)];
    let mut engine = new_engine(
        vec![directive(34, 1, root)],
        Assets::default(),
        EngineConfig::default(),
    );
    let e = event(1, 1000, 64, 1, A, B);
    engine.process(&e);
    engine.process(&e);
    let ids: std::collections::HashSet<_> =
        engine.snapshot().backlogs.iter().map(|b| b.id).collect();
    assert_eq!(ids.len(), 2);
}

#[test]
fn an_aggregated_event_counts_for_its_occurrences() {
    let mut engine = new_engine(
        vec![bruteforce()],
        Assets::default(),
        EngineConfig::default(),
    );
    engine.process(&event(1, 1000, 4004, 2, A, B));
    // An edge collapsed 19 identical failures into one event, then one more arrives.
    let mut shower = event(2, 1010, 4004, 2, A, B);
    shower.occurrences = 19;
    assert!(engine.process(&shower).directive_events.is_empty());
    let out = engine.process(&event(3, 1011, 4004, 2, A, B));
    assert_eq!(
        out.directive_events.len(),
        1,
        "1 + 19 + 1 = 21: level 2 fires"
    );
}
