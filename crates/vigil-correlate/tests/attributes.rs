//! One test per rule attribute (spec 3.3, 3.4, 4): each builds a one- or two-level directive
//! and checks exactly which events fire it.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;
use vigil_correlate::{Assets, Engine, EngineConfig, Rules};
use vigil_directives::{
    Address, Condition, Monitor, TextConstraint, TextField, TextValue, TimeRule, Timetable, Var,
};
use vigil_event::{Event, EventKind, Protocol};

const A: &str = "203.0.113.1";
const B: &str = "10.0.0.5";

/// Which of `events` fire a single-rule directive built from `root` (each in a fresh engine).
fn firing(root: vigil_directives::Rule, events: Vec<Event>) -> Vec<bool> {
    events
        .into_iter()
        .map(|e| {
            let mut engine = new_engine(
                vec![directive(1, 1, root.clone())],
                Assets::default(),
                EngineConfig::default(),
            );
            !engine.process(&e).directive_events.is_empty()
        })
        .collect()
}

fn with(mut e: Event, f: impl FnOnce(&mut Event)) -> Event {
    f(&mut e);
    e
}

#[test]
fn plugin_sid_lists_and_negation() {
    let mut r = rule(1, 10, &[1, 2]);
    r.plugin_sid.push(not(2));
    let e = |sid| event(1, 1000, 10, sid, A, B);
    assert_eq!(
        firing(r, vec![e(1), e(2), e(3)]),
        vec![true, false, false],
        "1 listed; 2 negated; 3 unlisted"
    );
}

#[test]
fn a_root_with_plugin_any_fires_for_every_plugin() {
    let mut r = rule(1, 0, &[]);
    r.plugin_id.clear();
    r.plugin_sid = vec![lit(5)];
    assert_eq!(
        firing(
            r,
            vec![
                event(1, 1000, 11, 5, A, B),
                event(2, 1000, 999, 5, A, B),
                event(3, 1000, 11, 6, A, B)
            ]
        ),
        vec![true, true, false]
    );
}

#[test]
fn protocol_lists_and_negation() {
    let mut r = rule(1, 12, &[]);
    r.protocol = vec![lit(Protocol::TCP), lit(Protocol::UDP), not(Protocol::UDP)];
    let e = |p: Protocol| with(event(1, 1000, 12, 1, A, B), |e| e.protocol = p);
    assert_eq!(
        firing(
            r,
            vec![e(Protocol::TCP), e(Protocol::UDP), e(Protocol::ICMP)]
        ),
        vec![true, false, false]
    );
}

#[test]
fn sensors_by_address_or_name() {
    let mut r = rule(1, 13, &[]);
    r.sensor = vec![lit("192.0.2.10".to_string()), lit("DMZ-Edge".to_string())];
    let e = |ip: &str, name: &str| {
        with(event(1, 1000, 13, 1, A, B), |e| {
            e.sensor_ip = ip.parse().unwrap();
            e.provenance.sensor = name.into();
        })
    };
    assert_eq!(
        firing(
            r.clone(),
            vec![
                e("192.0.2.10", "x"),
                e("192.0.2.11", "dmz-edge"),
                e("192.0.2.11", "other")
            ]
        ),
        vec![true, true, false],
        "address, name (case-insensitive), neither"
    );
    r.sensor = vec![not("192.0.2.10".to_string())];
    assert_eq!(
        firing(r, vec![e("192.0.2.10", "x"), e("192.0.2.11", "x")]),
        vec![false, true]
    );
}

#[test]
fn text_fields_any_empty_literal_and_negation() {
    let mut r = rule(1, 14, &[]);
    r.text = vec![
        TextConstraint {
            field: TextField::Username,
            terms: vec![
                lit(TextValue::Literal("Root".into())),
                lit(TextValue::Literal("admin".into())),
            ],
        },
        TextConstraint {
            field: TextField::Userdata(3),
            terms: vec![lit(TextValue::Any)],
        },
        TextConstraint {
            field: TextField::Filename,
            terms: vec![lit(TextValue::Empty)],
        },
        TextConstraint {
            field: TextField::Userdata(9),
            terms: vec![not(TextValue::Literal("ignore".into()))],
        },
    ];
    let e = |user: &str, ud3: Option<&str>, file: Option<&str>, ud9: Option<&str>| {
        with(event(1, 1000, 14, 1, A, B), |e| {
            e.username = Some(user.into());
            e.userdata.userdata3 = ud3.map(Into::into);
            e.filename = file.map(Into::into);
            e.userdata.userdata9 = ud9.map(Into::into);
        })
    };
    assert_eq!(
        firing(
            r,
            vec![
                e("ROOT", Some("x"), None, None),
                e("guest", Some("x"), None, None),
                e("admin", None, None, None),
                e("admin", Some(""), None, None),
                e("admin", Some("x"), Some("/etc/passwd"), None),
                e("admin", Some("x"), None, Some("IGNORE")),
                e("admin", Some("x"), None, Some("keep")),
            ]
        ),
        vec![true, false, false, false, false, false, true],
        "case-insensitive literal; unlisted; ANY needs a value; empty is absent; EMPTY; negated literal"
    );
}

/// A two-level directive: `second` refines the root (plugin 20 then plugin 21 within 60 s).
fn chain(second: vigil_directives::Rule) -> Engine {
    let mut root = rule(1, 20, &[]);
    let mut second = second;
    second.level = 2;
    second.time_out = 60;
    root.children = vec![second];
    new_engine(
        vec![directive(1, 1, root)],
        Assets::default(),
        EngineConfig::default(),
    )
}

#[test]
fn back_references_across_fields_ports_and_text() {
    // Level 2's source must be level 1's destination, its source port level 1's source port,
    // and its userdata3 level 1's.
    let mut second = rule(2, 21, &[]);
    second.from = vec![back(1, Var::DstIp)];
    second.port_from = vec![back(1, Var::SrcPort)];
    second.text = vec![TextConstraint {
        field: TextField::Userdata(3),
        terms: vec![back(1, Var::Userdata(3))],
    }];
    let first = with(event(1, 1000, 20, 1, A, B), |e| {
        e.src_port = 4444;
        e.userdata.userdata3 = Some("Session-7".into());
    });
    let reply = |n, src: &str, port, ud3: &str| {
        with(event(n, 1001, 21, 1, src, A), |e| {
            e.src_port = port;
            e.userdata.userdata3 = Some(ud3.into());
        })
    };
    for (candidate, expected) in [
        (reply(2, A, 4444, "session-7"), false), // wrong source (must be B)
        (reply(3, B, 4445, "session-7"), false), // wrong port
        (reply(4, B, 4444, "session-8"), false), // wrong userdata3
        (reply(5, B, 4444, "SESSION-7"), true),  // all three, text case-insensitive
    ] {
        let mut engine = chain(second.clone());
        engine.process(&first);
        assert_eq!(
            !engine.process(&candidate).directive_events.is_empty(),
            expected,
            "{candidate:?}"
        );
    }
}

#[test]
fn a_back_reference_to_an_absent_text_means_empty() {
    let mut second = rule(2, 21, &[]);
    second.text = vec![TextConstraint {
        field: TextField::Username,
        terms: vec![back(1, Var::Username)],
    }];
    let first = event(1, 1000, 20, 1, A, B); // no username
    for (username, expected) in [(None, true), (Some("bob"), false)] {
        let mut engine = chain(second.clone());
        engine.process(&first);
        let e = with(event(2, 1001, 21, 1, A, B), |e| {
            e.username = username.map(Into::into)
        });
        assert_eq!(!engine.process(&e).directive_events.is_empty(), expected);
    }
}

#[test]
fn suppress_excludes_pairs() {
    let mut r = rule(1, 15, &[]);
    r.suppress = vec![(15, vec![3, 4])];
    let e = |sid| event(1, 1000, 15, sid, A, B);
    assert_eq!(firing(r, vec![e(2), e(3), e(4)]), vec![true, false, false]);
}

#[test]
fn event_type_must_match() {
    let r = rule(1, 16, &[]);
    let monitor = with(event(1, 1000, 16, 1, A, B), |e| e.kind = EventKind::Monitor);
    assert_eq!(
        firing(r, vec![event(1, 1000, 16, 1, A, B), monitor]),
        vec![true, false]
    );
}

#[test]
fn monitor_rules_compare_condition_and_value() {
    let mut r = rule(1, 17, &[]);
    r.kind = EventKind::Monitor;
    r.monitor = Some(Monitor {
        condition: Condition::Ge,
        value: "10".into(),
        interval: 15,
        absolute: true,
    });
    let e = |condition: Option<&str>, value: Option<&str>| {
        with(event(1, 1000, 17, 1, A, B), |e| {
            e.kind = EventKind::Monitor;
            if let Some(c) = condition {
                e.extra.insert("condition".into(), c.into());
            }
            if let Some(v) = value {
                e.extra.insert("value".into(), v.into());
            }
        })
    };
    assert_eq!(
        firing(
            r,
            vec![
                e(Some("GE"), Some("10")),
                e(Some("le"), Some("10")),
                e(Some("ge"), Some("11")),
                e(None, None)
            ]
        ),
        vec![true, false, false, true]
    );
}

#[test]
fn timetables_restrict_new_backlogs_to_their_windows() {
    // Weekdays 08:00-18:00 UTC. 2023-11-14 (a Tuesday) 22:13:20 is outside; 10:00 inside;
    // Sunday 2023-11-12 10:00 outside.
    let mut d = directive(1, 1, rule(1, 18, &[]));
    d.timetable = Some("office".into());
    let set = vigil_directives::DirectiveSet {
        directives: vec![d],
        timetables: vec![Timetable {
            name: "office".into(),
            rules: vec![TimeRule {
                days: vec![1, 2, 3, 4, 5],
                minutes: vec![(480, 1080)],
            }],
        }],
        ..Default::default()
    };
    let fires = |secs: i64| {
        let compiled = std::sync::Arc::new(vigil_correlate::CompiledSet::compile(
            &set,
            &Assets::default(),
        ));
        let mut engine = Engine::new(
            Rules::bare(compiled, std::sync::Arc::new(Assets::default())),
            EngineConfig::default(),
        );
        !engine
            .process(&event(1, secs, 18, 1, A, B))
            .directive_events
            .is_empty()
    };
    assert!(!fires(1_700_000_000));
    assert!(fires(1_699_956_000));
    assert!(!fires(1_699_783_200));
}

#[test]
fn an_asset_name_expands_and_an_unknown_name_matches_nothing() {
    let assets = Assets::new(
        vec![vigil_correlate::Host {
            name: "db1".into(),
            ip: B.parse().unwrap(),
            asset: 3,
        }],
        Vec::new(),
        Default::default(),
    );
    let mut r = rule(1, 19, &[]);
    r.to = vec![lit(Address::Asset("db1".into()))];
    let mut engine = new_engine(
        vec![directive(1, 1, r.clone())],
        assets.clone(),
        EngineConfig::default(),
    );
    assert_eq!(
        engine
            .process(&event(1, 1000, 19, 1, A, B))
            .directive_events
            .len(),
        1
    );
    assert!(
        engine
            .process(&event(2, 1000, 19, 1, A, "10.0.0.6"))
            .directive_events
            .is_empty()
    );
    r.to = vec![lit(Address::Asset("nowhere".into()))];
    let mut engine = new_engine(vec![directive(1, 1, r)], assets, EngineConfig::default());
    assert!(
        engine
            .process(&event(3, 1000, 19, 1, A, B))
            .directive_events
            .is_empty(),
        "not widened to ANY"
    );
}

#[test]
fn taxonomy_products_categories_and_references() {
    let mut taxonomy = vigil_correlate::Taxonomy::default();
    taxonomy.set_product(30, 5); // plugin 30 is a "firewall"
    taxonomy.set_product(31, 7);
    taxonomy.set_category(30, 1, Some(3), Some(30));
    taxonomy.set_category(30, 2, Some(3), Some(31));
    let taxonomy = std::sync::Arc::new(taxonomy);
    // A root on product 5 or 10 (no plugin_id: OSSIM indexes such roots by product), category 3,
    // subcategory 30.
    let mut root = rule(1, 0, &[]);
    root.plugin_id.clear();
    root.product = vec![lit(5), lit(10)];
    root.category = vec![lit(3)];
    root.subcategory = vec![lit(30)];
    let fires = |e: Event| {
        let mut engine = engine_with_taxonomy(vec![directive(1, 1, root.clone())], &taxonomy);
        !engine.process(&e).directive_events.is_empty()
    };
    assert!(fires(event(1, 1000, 30, 1, A, B)));
    assert!(!fires(event(2, 1000, 30, 2, A, B)), "subcategory 31");
    assert!(!fires(event(3, 1000, 31, 1, A, B)), "product 7");
    assert!(!fires(event(4, 1000, 99, 1, A, B)), "no taxonomy at all");

    // Level 2 must come from a plugin of the same product as level 1 (N:PRODUCT).
    let mut first = rule(1, 30, &[1]);
    let mut second = rule(2, 0, &[]);
    second.plugin_id.clear();
    second.product = vec![back(1, Var::Product)];
    second.time_out = 60;
    first.children = vec![second];
    let run = |second_plugin: u32| {
        let mut engine = engine_with_taxonomy(vec![directive(2, 1, first.clone())], &taxonomy);
        engine.process(&event(1, 1000, 30, 1, A, B));
        !engine
            .process(&event(2, 1001, second_plugin, 9, A, B))
            .directive_events
            .is_empty()
    };
    assert!(!run(31), "product 7, not 5");
    let mut with_sibling = (*taxonomy).clone();
    with_sibling.set_product(32, 5);
    let taxonomy = std::sync::Arc::new(with_sibling);
    let mut engine = engine_with_taxonomy(vec![directive(2, 1, first.clone())], &taxonomy);
    engine.process(&event(1, 1000, 30, 1, A, B));
    assert_eq!(
        engine
            .process(&event(2, 1001, 32, 9, A, B))
            .directive_events
            .len(),
        1,
        "another plugin of product 5"
    );
}

#[test]
fn reputation_requirements() {
    let mut r = rule(1, 40, &[]);
    r.reputation = vigil_directives::Reputation {
        from_rep: true,
        from_min_priority: Some(3),
        ..Default::default()
    };
    let e = |prio: Option<&str>| {
        with(event(1, 1000, 40, 1, A, B), |e| {
            if let Some(p) = prio {
                e.extra.insert("rep_prio_src".into(), p.into());
            }
        })
    };
    assert_eq!(
        firing(r, vec![e(Some("5")), e(Some("2")), e(None)]),
        vec![true, false, false]
    );
}
