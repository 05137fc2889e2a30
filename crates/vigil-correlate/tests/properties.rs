//! Determinism properties over random event streams: replay gives identical outputs, a
//! snapshot/restore in the middle of a stream changes nothing, and moving the server's clock
//! (receive time) changes nothing for events stamped by an edge.

#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use support::*;
use vigil_correlate::engine::Snapshot;
use vigil_correlate::{Assets, CompiledSet, Engine, EngineConfig, Outputs, Rules};
use vigil_directives::{DirectiveSet, Var};
use vigil_event::{Event, Timestamp};

fn directives() -> Vec<vigil_directives::Directive> {
    // The brute-force shape with small occurrences so streams reach deep levels, a scan with
    // sticky_different, an absence rule and a chained directive.
    let mut bf = bruteforce();
    fn shrink(rule: &mut vigil_directives::Rule) {
        rule.occurrence = rule.occurrence.min(3);
        rule.children.iter_mut().for_each(shrink);
    }
    shrink(&mut bf.root);
    bf.group_alarm_by = vec![vigil_directives::GroupField::DstIp];
    bf.group_alarm_timeout = Some(100);
    let mut scan_root = rule(1, 4004, &[1, 2]);
    let mut scan = follow(rule(2, 4004, &[1, 2]), 3, 120, 6);
    scan.to = Vec::new();
    scan.sticky_different = Some(Var::DstIp);
    scan_root.children = vec![scan];
    let mut absent_root = rule(1, 4004, &[1]);
    let mut absent = follow(rule(2, 4004, &[2]), 1, 30, 8);
    absent.not = true;
    // A sibling keeps the backlog alive after an invalidating event (its deadline moves later).
    absent_root.children = vec![absent, follow(rule(2, 4004, &[1]), 2, 60, 3)];
    let chained = rule(1, vigil_correlate::DIRECTIVE_PLUGIN_ID, &[50004]);
    vec![
        bf,
        directive(2, 3, scan_root),
        directive(3, 5, absent_root),
        directive(4, 2, chained),
    ]
}

fn fresh(config: &EngineConfig) -> Engine {
    let set = DirectiveSet {
        directives: directives(),
        ..DirectiveSet::default()
    };
    let assets = Assets::default();
    Engine::new(
        Rules::bare(
            Arc::new(CompiledSet::compile(&set, &assets)),
            Arc::new(assets),
        ),
        config.clone(),
    )
}

prop_compose! {
    fn stream()(steps in proptest::collection::vec((0i64..40, 1u32..3, 0u8..3, 0u8..3), 1..250)) -> Vec<Event> {
        let mut time = 1_000_000i64;
        steps.into_iter().enumerate().map(|(n, (gap, sid, src, dst))| {
            time += gap;
            event(n as u128 + 1, time, 4004, sid, &format!("203.0.113.{src}"), &format!("10.0.0.{dst}"))
        }).collect()
    }
}

/// What must be identical between runs: every directive event and alarm, in order.
fn fingerprint(outputs: &[Outputs]) -> Vec<String> {
    outputs
        .iter()
        .flat_map(|o| {
            let events = o.directive_events.iter().map(|e| {
                format!(
                    "E {} {}:{} {} {}->{} rel {:?} {:?}",
                    e.id,
                    e.plugin_id,
                    e.plugin_sid,
                    e.time,
                    e.src_ip,
                    e.dst_ip,
                    e.reliability,
                    e.extra
                )
            });
            let alarms = o.alarms.iter().map(|a| serde_json::to_string(a).unwrap());
            events.chain(alarms).collect::<Vec<_>>()
        })
        .collect()
}

fn run(engine: &mut Engine, events: &[Event]) -> Vec<Outputs> {
    events.iter().map(|e| engine.process(e)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn the_same_events_give_the_same_outputs(events in stream()) {
        let config = EngineConfig { max_backlogs_per_directive: 4, ..EngineConfig::default() };
        let first = fingerprint(&run(&mut fresh(&config), &events));
        let second = fingerprint(&run(&mut fresh(&config), &events));
        prop_assert_eq!(first, second);
    }

    #[test]
    fn snapshot_and_restore_mid_stream_change_nothing(events in stream(), cut in any::<prop::sample::Index>()) {
        let config = EngineConfig { max_backlogs_per_directive: 4, ..EngineConfig::default() };
        let cut = cut.index(events.len() + 1);
        let whole = fingerprint(&run(&mut fresh(&config), &events));

        let mut engine = fresh(&config);
        let mut outputs = run(&mut engine, &events[..cut]);
        let json = serde_json::to_string(&engine.snapshot()).unwrap();
        let snapshot: Snapshot = serde_json::from_str(&json).unwrap();
        let set = DirectiveSet { directives: directives(), ..DirectiveSet::default() };
        let (mut restored, carry) = Engine::restore(Rules::bare(Arc::new(CompiledSet::compile(&set, &Assets::default())), Arc::new(Assets::default())), config, snapshot);
        prop_assert_eq!(carry.dropped, 0);
        outputs.extend(run(&mut restored, &events[cut..]));
        prop_assert_eq!(fingerprint(&outputs), whole);
        prop_assert_eq!(restored.stats(), { let mut e = fresh(&EngineConfig { max_backlogs_per_directive: 4, ..EngineConfig::default() }); run(&mut e, &events); e.stats() });
    }

    #[test]
    fn the_server_clock_does_not_matter_for_edge_stamped_events(events in stream(), shift in -1_000_000_000i64..1_000_000_000) {
        let config = EngineConfig::default();
        let shifted: Vec<Event> = events.iter().cloned().map(|mut e| {
            e.provenance.received_at = Timestamp::from_secs(e.provenance.received_at.as_secs() + shift);
            e
        }).collect();
        prop_assert_eq!(fingerprint(&run(&mut fresh(&config), &events)), fingerprint(&run(&mut fresh(&config), &shifted)));
    }
}

#[test]
fn reload_keeps_backlogs_of_unchanged_directives_only() {
    let config = EngineConfig::default();
    let mut engine = fresh(&config);
    engine.process(&event(1, 1000, 4004, 2, "203.0.113.1", "10.0.0.1"));
    engine.process(&event(2, 1001, 4004, 1, "203.0.113.2", "10.0.0.1"));
    let live = engine.live_backlogs();
    assert!(live >= 3, "{live}");
    // Change the scan directive (id 2) only.
    let mut changed = directives();
    changed[1].priority = 1;
    let set = DirectiveSet {
        directives: changed,
        ..DirectiveSet::default()
    };
    let carry = engine.reload(Rules::bare(
        Arc::new(CompiledSet::compile(&set, &Assets::default())),
        Arc::new(Assets::default()),
    ));
    assert_eq!(carry.dropped, 2, "the scan directive's two backlogs");
    assert_eq!(carry.kept, live - 2);
    assert_eq!(engine.live_backlogs(), live - 2);
    // The surviving brute-force backlog still advances.
    let mut fired = 0;
    for n in 0..3 {
        fired += engine
            .process(&event(10 + n, 1010, 4004, 2, "203.0.113.1", "10.0.0.1"))
            .directive_events
            .len();
    }
    assert!(fired >= 1);
}
