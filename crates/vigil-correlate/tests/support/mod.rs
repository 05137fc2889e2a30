//! Builders for directives and events in tests.

#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;

use vigil_correlate::{Assets, CompiledSet, Engine, EngineConfig, Rules, Taxonomy};
use vigil_directives::{
    Address, Directive, DirectiveSet, Location, PortRange, Reliability, Rule, Term, TermValue, Var,
};
use vigil_event::{Event, EventKind, TimeSource, Timestamp, Transport, Uuid};

pub fn rule(level: u8, plugin_id: u32, sids: &[u32]) -> Rule {
    let mut r = Rule::new(
        level,
        EventKind::Detector,
        format!("level {level}"),
        Location::default(),
    );
    r.plugin_id = vec![lit(plugin_id)];
    r.plugin_sid = sids.iter().map(|s| lit(*s)).collect();
    r
}

pub fn lit<T>(v: T) -> Term<T> {
    Term {
        negated: false,
        value: TermValue::Value(v),
    }
}

pub fn not<T>(v: T) -> Term<T> {
    Term {
        negated: true,
        value: TermValue::Value(v),
    }
}

pub fn back<T>(level: u8, var: Var) -> Term<T> {
    Term {
        negated: false,
        value: TermValue::BackRef { level, var },
    }
}

pub fn net(text: &str) -> Term<Address> {
    lit(Address::Net(text.parse().unwrap()))
}

pub fn ports(start: u16, end: u16) -> PortRange {
    PortRange { start, end }
}

/// `from="1:SRC_IP" to="1:DST_IP"` with occurrence, window and reliability.
pub fn follow(mut r: Rule, occurrence: u32, time_out: u32, reliability: u8) -> Rule {
    r.from = vec![back(1, Var::SrcIp)];
    r.to = vec![back(1, Var::DstIp)];
    r.occurrence = occurrence;
    r.time_out = time_out;
    r.reliability = Reliability::Absolute(reliability);
    r
}

pub fn directive(id: u32, priority: u8, root: Rule) -> Directive {
    Directive {
        id,
        name: format!("directive {id}"),
        priority,
        timetable: None,
        group_alarm_by: Vec::new(),
        group_alarm_timeout: None,
        root,
        location: Location::default(),
    }
}

/// The shape of OSSIM directive 50004 (spec 5.12): a failure, then 20, 50, 100, 200 more from
/// the same source to the same destination, with a "success" alternative at level 2.
pub fn bruteforce() -> Directive {
    let mut root = rule(1, 4004, &[2]);
    let mut l5 = follow(rule(5, 4004, &[2]), 200, 7200, 10);
    l5.name = "level 5".into();
    let mut l4 = follow(rule(4, 4004, &[2]), 100, 1200, 6);
    l4.children = vec![l5];
    let mut l3 = follow(rule(3, 4004, &[2]), 50, 1200, 4);
    l3.children = vec![l4];
    let mut l2 = follow(rule(2, 4004, &[2]), 20, 600, 4);
    l2.children = vec![l3];
    let mut success = follow(rule(2, 4004, &[1]), 1, 10, 0);
    success.name = "success".into();
    root.children = vec![l2, success];
    directive(50004, 4, root)
}

pub fn new_engine(directives: Vec<Directive>, assets: Assets, config: EngineConfig) -> Engine {
    let set = DirectiveSet {
        directives,
        ..DirectiveSet::default()
    };
    Engine::new(
        Rules::bare(
            Arc::new(CompiledSet::compile(&set, &assets)),
            Arc::new(assets),
        ),
        config,
    )
}

/// An engine over `directives` whose rules carry `taxonomy` from the start.
pub fn engine_with_taxonomy(directives: Vec<Directive>, taxonomy: &Arc<Taxonomy>) -> Engine {
    let set = DirectiveSet {
        directives,
        ..DirectiveSet::default()
    };
    let assets = Assets::default();
    let rules = Rules {
        taxonomy: taxonomy.clone(),
        ..Rules::bare(
            Arc::new(CompiledSet::compile(&set, &assets)),
            Arc::new(assets),
        )
    };
    Engine::new(rules, EngineConfig::default())
}

/// An edge-stamped (trusted time) event with priority and reliability set, as intake leaves it.
pub fn event(n: u128, secs: i64, plugin_id: u32, sid: u32, src: &str, dst: &str) -> Event {
    let mut e = Event::new(
        Uuid::from_u128(n),
        Timestamp::from_secs(secs),
        plugin_id,
        sid,
    );
    e.src_ip = src.parse::<IpAddr>().unwrap();
    e.dst_ip = dst.parse::<IpAddr>().unwrap();
    e.priority = Some(1);
    e.reliability = Some(1);
    e.provenance.time_source = TimeSource::Edge;
    e.provenance.transport = Transport::Bus;
    e.provenance.received_at = Timestamp::from_secs(secs);
    e
}
