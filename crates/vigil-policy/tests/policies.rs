//! Policy evaluation: first match, overrides, roles and every condition kind.

#![allow(clippy::unwrap_used)] // integration tests are not `#[cfg(test)]` for clippy

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use vigil_event::{Event, Protocol, Timestamp, Uuid};
use vigil_inventory::{Assets, Host, Network};
use vigil_policy::{Decision, PolicySet, Roles};

fn host(name: &str, ip: &str) -> Host {
    Host {
        name: name.into(),
        ip: ip.parse().unwrap(),
        asset: 2,
    }
}

fn net(name: &str, cidr: &str, external: bool) -> Network {
    Network {
        name: name.into(),
        cidr: cidr.parse().unwrap(),
        asset: 2,
        external,
    }
}

/// Internal: 10.0.0.0/8 and 192.168.50.0/24; external: 198.51.100.0/24 (the ISP's).
fn assets() -> Assets {
    Assets::new(
        vec![
            host("db1", "10.0.0.5"),
            host("printer1", "10.0.3.10"),
            host("printer2", "10.0.3.11"),
            host("nessus", "10.0.9.9"),
        ],
        vec![
            net("lan", "10.0.0.0/8", false),
            net("dmz", "192.168.50.0/24", false),
            net("isp", "198.51.100.0/24", true),
        ],
        HashMap::from([
            (
                "printers".to_string(),
                vec!["printer1".to_string(), "printer2".to_string()],
            ),
            ("scanners".to_string(), vec!["nessus".to_string()]),
        ]),
    )
}

fn set(text: &str) -> PolicySet {
    PolicySet::parse(Path::new("policies.toml"), text, &assets()).unwrap_or_else(|diags| {
        panic!(
            "{}",
            diags
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

/// 2024-01-03 (a Wednesday) 12:00:00 UTC.
const WEDNESDAY_NOON: &str = "2024-01-03T12:00:00Z";

fn event(plugin_id: u32, sid: u32) -> Event {
    Event::new(Uuid::nil(), at(WEDNESDAY_NOON), plugin_id, sid)
}

fn at(time: &str) -> Timestamp {
    time.parse().unwrap()
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn flow(src: &str, dst: &str) -> Event {
    let mut e = event(4003, 1);
    e.src_ip = ip(src);
    e.dst_ip = ip(dst);
    e
}

fn matched(set: &PolicySet, event: &Event) -> Option<String> {
    set.decide(event).policy.map(|name| name.to_string())
}

#[test]
fn first_matching_policy_wins() {
    let s = set(r#"
        [[policy]]
        name = "ssh"
        ports = ["tcp/22"]
        priority = 4

        [[policy]]
        name = "lan"
        destinations = ["10.0.0.0/8"]
        priority = 2

        [[policy]]
        name = "ssh-lan"
        ports = ["tcp/22"]
        destinations = ["10.0.0.0/8"]
    "#);
    assert_eq!(s.len(), 3);
    assert!(!s.is_empty());
    assert_eq!(s.names().collect::<Vec<_>>(), ["ssh", "lan", "ssh-lan"]);
    let mut e = flow("203.0.113.7", "10.0.0.5");
    e.dst_port = 22;
    assert_eq!(matched(&s, &e).as_deref(), Some("ssh"));
    assert_eq!(s.decide(&e).priority, Some(4));
    e.dst_port = 80;
    assert_eq!(matched(&s, &e).as_deref(), Some("lan"));
    assert_eq!(s.decide(&e).priority, Some(2));
    e.dst_ip = ip("192.0.2.1");
    let none = s.decide(&e);
    assert_eq!(
        none,
        Decision {
            policy: None,
            priority: None,
            reliability: None,
            roles: Roles::default()
        }
    );
}

#[test]
fn priority_and_reliability_overrides() {
    let s = set(r#"
        [[policy]]
        name = "keep"
        plugins = [{ plugin_id = 1 }]
        priority = -1

        [[policy]]
        name = "silence"
        plugins = [{ plugin_id = 2 }]
        priority = 0

        [[policy]]
        name = "trust"
        plugins = [{ plugin_id = 3 }]
        reliability = 10

        [[policy]]
        name = "both"
        plugins = [{ plugin_id = 4 }]
        priority = 5
        reliability = 0

        [[policy]]
        name = "keep-reliability"
        plugins = [{ plugin_id = 5 }]
        reliability = -1
    "#);
    let qualified = |plugin| {
        let mut e = event(plugin, 1);
        e.priority = Some(3);
        e.reliability = Some(6);
        e
    };
    let outcome = |plugin| {
        let mut e = qualified(plugin);
        let decision = s.decide(&e);
        decision.apply(&mut e);
        (
            decision.policy.as_deref().map(str::to_string),
            decision.priority,
            decision.reliability,
            e.priority,
            e.reliability,
        )
    };
    assert_eq!(
        outcome(1),
        (Some("keep".into()), None, None, Some(3), Some(6))
    );
    assert_eq!(
        outcome(2),
        (Some("silence".into()), Some(0), None, Some(0), Some(6))
    );
    assert_eq!(
        outcome(3),
        (Some("trust".into()), None, Some(10), Some(3), Some(10))
    );
    assert_eq!(
        outcome(4),
        (Some("both".into()), Some(5), Some(0), Some(5), Some(0))
    );
    assert_eq!(
        outcome(5),
        (
            Some("keep-reliability".into()),
            None,
            None,
            Some(3),
            Some(6)
        )
    );
    // An event without priority gets the override; without an override it stays unset.
    let mut bare = event(2, 1);
    s.decide(&bare).apply(&mut bare);
    assert_eq!(bare.priority, Some(0));
    assert_eq!(bare.reliability, None);
}

#[test]
fn roles_replace_the_defaults_and_omitted_roles_take_the_defaults() {
    let s = set(r#"
        [defaults]
        store = false
        forward_events = true

        [[policy]]
        name = "quiet"
        sources = ["scanners"]
        roles = { correlate = false, qualify = false }

        [[policy]]
        name = "keep-everything"
        sources = ["db1"]
        roles = { store = true, forward_alarms = true }

        [[policy]]
        name = "no-roles"
        sources = ["lan"]
    "#);
    let defaults = Roles {
        correlate: true,
        cross_correlate: true,
        store: false,
        qualify: true,
        forward_events: true,
        forward_alarms: false,
    };
    assert_eq!(s.defaults(), defaults);
    let roles = |src: &str| s.decide(&flow(src, "192.0.2.1")).roles;
    assert_eq!(
        roles("10.0.9.9"),
        Roles {
            correlate: false,
            qualify: false,
            ..defaults
        }
    );
    assert_eq!(
        roles("10.0.0.5"),
        Roles {
            store: true,
            forward_alarms: true,
            ..defaults
        }
    );
    assert_eq!(roles("10.1.1.1"), defaults);
    assert_eq!(roles("192.0.2.99"), defaults);
}

#[test]
fn directive_events_get_the_policy_priority() {
    // Alarm reprioritisation: directive events (plugin 1505) against printers are lowered.
    let s = set(r#"
        [[policy]]
        name = "printers"
        destinations = ["printers"]
        priority = 1
    "#);
    let mut alarm = flow("203.0.113.7", "10.0.3.11");
    alarm.plugin_id = 1505;
    alarm.plugin_sid = 500_001;
    alarm.priority = Some(5);
    let decision = s.decide(&alarm);
    assert_eq!(decision.policy.as_deref(), Some("printers"));
    decision.apply(&mut alarm);
    assert_eq!(alarm.priority, Some(1));
    let mut other = flow("203.0.113.7", "10.0.3.12");
    other.plugin_id = 1505;
    other.priority = Some(5);
    s.decide(&other).apply(&mut other);
    assert_eq!(other.priority, Some(5));
}

#[test]
fn addresses_literals_cidrs_names_and_negations() {
    let s = set(r#"
        [[policy]]
        name = "lan-but-not-db1-nor-10.9"
        sources = ["10.0.0.0/8", "!db1", "!10.9.0.0/16"]

        [[policy]]
        name = "v6"
        sources = ["2001:db8::/32", "192.0.2.77"]

        [[policy]]
        name = "not-dmz"
        destinations = ["!dmz"]
    "#);
    let src = |src: &str| matched(&s, &flow(src, "192.168.50.1"));
    assert_eq!(src("10.1.2.3").as_deref(), Some("lan-but-not-db1-nor-10.9"));
    assert_eq!(src("10.0.0.5"), None, "db1 is excluded");
    assert_eq!(src("10.9.200.1"), None);
    assert_eq!(src("2001:db8::1").as_deref(), Some("v6"));
    assert_eq!(src("192.0.2.77").as_deref(), Some("v6"));
    // IPv4-mapped IPv6 events are IPv4.
    assert_eq!(src("::ffff:192.0.2.77").as_deref(), Some("v6"));
    assert_eq!(
        src("::ffff:10.1.2.3").as_deref(),
        Some("lan-but-not-db1-nor-10.9")
    );
    assert_eq!(src("192.0.2.78"), None);
    assert_eq!(
        matched(&s, &flow("192.0.2.78", "192.168.51.1")).as_deref(),
        Some("not-dmz")
    );
}

#[test]
fn a_negation_excludes_whatever_its_position() {
    let s = set(r#"
        [[policy]]
        name = "n"
        sources = ["!10.0.0.0/8", "10.0.0.5", "ANY"]
    "#);
    assert_eq!(matched(&s, &flow("10.0.0.5", "1.1.1.1")), None);
    assert_eq!(
        matched(&s, &flow("11.0.0.5", "1.1.1.1")).as_deref(),
        Some("n")
    );
}

#[test]
fn home_net_excludes_external_networks() {
    let s = set(r#"
        [[policy]]
        name = "inbound"
        sources = ["!HOME_NET"]
        destinations = ["HOME_NET"]

        [[policy]]
        name = "internal"
        sources = ["home_net"]
        destinations = ["any"]
    "#);
    let name = |src: &str, dst: &str| matched(&s, &flow(src, dst));
    assert_eq!(name("203.0.113.7", "10.0.0.5").as_deref(), Some("inbound"));
    assert_eq!(
        name("198.51.100.7", "192.168.50.3").as_deref(),
        Some("inbound"),
        "an external network is not HOME_NET"
    );
    assert_eq!(name("203.0.113.7", "198.51.100.7"), None);
    assert_eq!(
        name("192.168.50.3", "203.0.113.7").as_deref(),
        Some("internal")
    );
    assert_eq!(name("10.0.0.5", "10.0.0.6").as_deref(), Some("internal"));
}

#[test]
fn ports_with_and_without_protocol_and_ranges() {
    let s = set(r#"
        [[policy]]
        name = "ssh"
        ports = ["tcp/22"]

        [[policy]]
        name = "dns-any-protocol"
        ports = ["53", 5353]

        [[policy]]
        name = "high-tcp-not-3000"
        ports = ["tcp/1000-2000", "TCP/4000-4001", "!1500"]

        [[policy]]
        name = "from-privileged-udp"
        source_ports = ["udp/0-1023"]
    "#);
    let name = |protocol: Protocol, src_port: u16, dst_port: u16| {
        let mut e = event(1, 1);
        e.protocol = protocol;
        e.src_port = src_port;
        e.dst_port = dst_port;
        matched(&s, &e)
    };
    assert_eq!(name(Protocol::TCP, 40000, 22).as_deref(), Some("ssh"));
    assert_eq!(name(Protocol::UDP, 40000, 22), None);
    assert_eq!(
        name(Protocol::UDP, 40000, 53).as_deref(),
        Some("dns-any-protocol")
    );
    assert_eq!(
        name(Protocol::TCP, 40000, 53).as_deref(),
        Some("dns-any-protocol")
    );
    assert_eq!(
        name(Protocol(132), 40000, 5353).as_deref(),
        Some("dns-any-protocol")
    );
    for port in [1000, 1499, 1501, 2000, 4000, 4001] {
        assert_eq!(
            name(Protocol::TCP, 40000, port).as_deref(),
            Some("high-tcp-not-3000"),
            "{port}"
        );
    }
    for port in [999, 1500, 2001, 3999, 4002] {
        assert_eq!(name(Protocol::TCP, 40000, port), None, "{port}");
    }
    assert_eq!(name(Protocol::UDP, 1500, 1500), None);
    assert_eq!(
        name(Protocol::UDP, 1023, 1500).as_deref(),
        Some("from-privileged-udp")
    );
    assert_eq!(
        name(Protocol::UDP, 0, 1500).as_deref(),
        Some("from-privileged-udp")
    );
    assert_eq!(name(Protocol::UDP, 1024, 1500), None);
    assert_eq!(name(Protocol::TCP, 53, 1500), None);
}

#[test]
fn plugins_and_sids() {
    let s = set(r#"
        [[policy]]
        name = "ssh-failures"
        plugins = [{ plugin_id = 4003, sids = [2, 1] }, { plugin_id = 1001, sids = [] }]

        [[policy]]
        name = "unknown-sids"
        plugins = [{ plugin_id = 4003, sids = [2000000000] }]

        [[policy]]
        name = "all-ossec"

        [[policy.plugins]]
        plugin_id = 7000
    "#);
    let name = |plugin, sid| matched(&s, &event(plugin, sid));
    assert_eq!(name(4003, 1).as_deref(), Some("ssh-failures"));
    assert_eq!(name(4003, 2).as_deref(), Some("ssh-failures"));
    assert_eq!(name(4003, 3), None);
    assert_eq!(name(1001, 123_456).as_deref(), Some("ssh-failures"));
    assert_eq!(
        name(4003, vigil_event::GENERIC_PLUGIN_SID).as_deref(),
        Some("unknown-sids")
    );
    assert_eq!(name(7000, 0).as_deref(), Some("all-ossec"));
    assert_eq!(name(7001, 0), None);
}

#[test]
fn sensors_by_name_and_address() {
    let s = set(r#"
        [[policy]]
        name = "dmz"
        sensors = ["DMZ-Sensor", "192.0.2.10", "2001:db8:5::/48"]

        [[policy]]
        name = "all-but-lab"
        sensors = ["!lab", "!192.0.2.128/25"]
    "#);
    let name = |sensor: &str, sensor_ip: &str| {
        let mut e = event(1, 1);
        e.provenance.sensor = sensor.into();
        e.sensor_ip = ip(sensor_ip);
        matched(&s, &e)
    };
    assert_eq!(name("dmz-sensor", "0.0.0.0").as_deref(), Some("dmz"));
    assert_eq!(name("edge-1", "192.0.2.10").as_deref(), Some("dmz"));
    assert_eq!(name("edge-1", "2001:db8:5::7").as_deref(), Some("dmz"));
    // An unnamed sensor is known by its address.
    assert_eq!(name("192.0.2.10", "0.0.0.0").as_deref(), Some("dmz"));
    assert_eq!(name("edge-1", "192.0.2.11").as_deref(), Some("all-but-lab"));
    assert_eq!(name("LAB", "192.0.2.11"), None);
    assert_eq!(name("edge-1", "192.0.2.200"), None);
    assert_eq!(name("192.0.2.200", "0.0.0.0"), None);
}

fn timed(text: &str) -> impl Fn(&str) -> bool {
    let s = set(&format!("[[policy]]\nname = \"t\"\ntime = {text}\n"));
    move |time: &str| {
        let mut e = event(1, 1);
        e.time = at(time);
        s.decide(&e).policy.is_some()
    }
}

#[test]
fn hours_are_inclusive_at_minute_precision() {
    let office = timed(r#"{ hours = ["08:00-18:00"] }"#);
    assert!(!office("2024-01-03T07:59:59.999999Z"));
    assert!(office("2024-01-03T08:00:00Z"));
    assert!(office("2024-01-03T12:00:00Z"));
    assert!(office("2024-01-03T18:00:00Z"));
    assert!(office("2024-01-03T18:00:59.999999Z"));
    assert!(!office("2024-01-03T18:01:00Z"));
    let single = timed(r#"{ hours = ["12:30", "00:00"] }"#);
    assert!(single("2024-01-03T12:30:59Z"));
    assert!(single("2024-01-03T00:00:00Z"));
    assert!(!single("2024-01-03T12:31:00Z"));
    assert!(!single("2024-01-03T23:59:59Z"));
}

#[test]
fn hours_wrap_around_midnight() {
    let night = timed(r#"{ hours = ["22:00-06:00"] }"#);
    assert!(!night("2024-01-03T21:59:59Z"));
    assert!(night("2024-01-03T22:00:00Z"));
    assert!(night("2024-01-03T23:59:59.999999Z"));
    assert!(night("2024-01-04T00:00:00Z"));
    assert!(night("2024-01-04T06:00:59Z"));
    assert!(!night("2024-01-04T06:01:00Z"));
    assert!(!night("2024-01-04T12:00:00Z"));
}

#[test]
fn days_wrap_around_the_weekend() {
    // 2024-01-01 is a Monday.
    let weekend = timed(r#"{ days = ["fri-mon"] }"#);
    assert!(!weekend("2024-01-04T23:59:59.999999Z"), "Thursday");
    assert!(weekend("2024-01-05T00:00:00Z"), "Friday");
    assert!(weekend("2024-01-06T12:00:00Z"), "Saturday");
    assert!(weekend("2024-01-07T23:59:59Z"), "Sunday");
    assert!(weekend("2024-01-08T23:59:59.999999Z"), "Monday");
    assert!(!weekend("2024-01-09T00:00:00Z"), "Tuesday");
    let listed = timed(r#"{ days = ["mon-wed", "Sunday"] }"#);
    assert!(listed("2024-01-03T12:00:00Z"));
    assert!(!listed("2024-01-04T12:00:00Z"));
    assert!(listed("2024-01-07T12:00:00Z"));
    // Days and hours are both checked on the event's own date.
    let weekend_nights = timed(r#"{ days = ["sat-sun"], hours = ["22:00-06:00"] }"#);
    assert!(weekend_nights("2024-01-06T23:00:00Z"));
    assert!(weekend_nights("2024-01-07T05:00:00Z"));
    assert!(!weekend_nights("2024-01-08T05:00:00Z"), "Monday morning");
    assert!(!weekend_nights("2024-01-06T12:00:00Z"));
}

#[test]
fn months_and_month_days() {
    let q1 = timed(r#"{ months = ["jan-mar"] }"#);
    assert!(q1("2024-01-01T00:00:00Z"));
    assert!(q1("2024-03-31T23:59:59Z"));
    assert!(!q1("2024-04-01T00:00:00Z"));
    assert!(!q1("2023-12-31T23:59:59Z"));
    let winter = timed(r#"{ months = ["nov-feb"] }"#);
    assert!(winter("2023-11-01T00:00:00Z"));
    assert!(winter("2024-02-29T12:00:00Z"));
    assert!(!winter("2024-03-01T00:00:00Z"));
    assert!(!winter("2023-10-31T23:59:59Z"));
    let first_half = timed(r#"{ month_days = ["1-15"] }"#);
    assert!(first_half("2024-02-01T00:00:00Z"));
    assert!(first_half("2024-02-15T23:59:59Z"));
    assert!(!first_half("2024-02-16T00:00:00Z"));
    let turn = timed(r#"{ month_days = ["25-5", 10] }"#);
    assert!(turn("2024-02-25T00:00:00Z"));
    assert!(turn("2024-02-29T00:00:00Z"));
    assert!(turn("2024-03-05T23:59:59Z"));
    assert!(turn("2024-03-10T12:00:00Z"));
    assert!(!turn("2024-03-06T00:00:00Z"));
    assert!(!turn("2024-03-24T23:59:59Z"));
    let everything = timed(
        r#"{ days = ["mon-sun"], months = ["jan-dec"], month_days = ["1-31"], hours = ["00:00-23:59"] }"#,
    );
    assert!(everything("1970-01-01T00:00:00Z"));
    assert!(everything("2099-12-31T23:59:59.999999Z"));
    assert!(everything("1901-06-15T07:00:00Z"));
}

#[test]
fn time_is_the_event_time_not_the_clock() {
    // An event replayed years later is judged by its own time.
    let past = timed(r#"{ months = ["aug"], month_days = [6], hours = ["14:30"] }"#);
    assert!(past("2013-08-06T14:30:26Z"));
    assert!(!past("2013-08-06T14:31:26Z"));
}

#[test]
fn priority_and_reliability_filters_see_the_qualified_values() {
    let s = set(r#"
        [[policy]]
        name = "high"
        match_priority = [4, 5]
        roles = { forward_alarms = true }

        [[policy]]
        name = "unreliable"
        match_reliability = ["0-3", 9]
    "#);
    let name = |priority: Option<u8>, reliability: Option<u8>| {
        let mut e = event(4003, 1);
        e.priority = priority;
        e.reliability = reliability;
        matched(&s, &e)
    };
    assert_eq!(name(Some(4), None).as_deref(), Some("high"));
    assert_eq!(name(Some(5), Some(1)).as_deref(), Some("high"));
    assert_eq!(name(Some(3), Some(3)).as_deref(), Some("unreliable"));
    assert_eq!(name(Some(3), Some(0)).as_deref(), Some("unreliable"));
    assert_eq!(name(Some(3), Some(9)).as_deref(), Some("unreliable"));
    assert_eq!(name(Some(3), Some(4)), None);
    assert_eq!(name(Some(3), Some(10)), None);
    // Unqualified (absent) values never satisfy a filter.
    assert_eq!(name(None, None), None);
    // Out-of-range values (not produced by intake) do not match either.
    assert_eq!(name(Some(200), Some(200)), None);
}

#[test]
fn all_conditions_must_hold() {
    let s = set(r#"
        [[policy]]
        name = "all"
        sources = ["!HOME_NET"]
        destinations = ["db1"]
        ports = ["tcp/5432"]
        source_ports = ["1024-65535"]
        plugins = [{ plugin_id = 4003 }]
        sensors = ["edge-1"]
        time = { days = ["wed"] }
        match_priority = [3]
        match_reliability = [5]
    "#);
    let base = || {
        let mut e = flow("203.0.113.7", "10.0.0.5");
        e.dst_port = 5432;
        e.src_port = 40000;
        e.provenance.sensor = "edge-1".into();
        e.priority = Some(3);
        e.reliability = Some(5);
        e
    };
    assert_eq!(matched(&s, &base()).as_deref(), Some("all"));
    let variants: Vec<fn(&mut Event)> = vec![
        |e| e.src_ip = ip("10.0.0.7"),
        |e| e.dst_ip = ip("10.0.0.6"),
        |e| e.dst_port = 5433,
        |e| e.protocol = Protocol::UDP,
        |e| e.src_port = 1023,
        |e| e.plugin_id = 4004,
        |e| e.provenance.sensor = "edge-2".into(),
        |e| e.time = at("2024-01-04T12:00:00Z"),
        |e| e.priority = Some(2),
        |e| e.reliability = None,
    ];
    for (i, change) in variants.iter().enumerate() {
        let mut e = base();
        change(&mut e);
        assert_eq!(matched(&s, &e), None, "variant {i}");
    }
}

#[test]
fn permissive_has_no_policy_and_the_default_roles() {
    let s = PolicySet::permissive();
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    assert_eq!(s.defaults(), Roles::default());
    let mut e = flow("203.0.113.7", "10.0.0.5");
    e.priority = Some(2);
    let decision = s.decide(&e);
    assert_eq!(
        decision,
        Decision {
            policy: None,
            priority: None,
            reliability: None,
            roles: Roles {
                correlate: true,
                cross_correlate: true,
                store: true,
                qualify: true,
                forward_events: false,
                forward_alarms: false,
            },
        }
    );
    decision.apply(&mut e);
    assert_eq!(e.priority, Some(2));
}

#[test]
fn an_empty_file_is_permissive_and_sets_are_cheap_to_share() {
    let s = set("# nothing yet\n");
    assert!(s.is_empty());
    assert_eq!(s.defaults(), Roles::default());
    let shared = set("[[policy]]\nname = \"a\"\nports = [\"22\"]\n");
    let clone = shared.clone();
    let mut e = event(1, 1);
    e.dst_port = 22;
    let (a, b) = (shared.decide(&e), clone.decide(&e));
    assert_eq!(a, b);
    // Both decisions share the policy's name.
    assert!(std::sync::Arc::ptr_eq(
        a.policy.as_ref().unwrap(),
        b.policy.as_ref().unwrap()
    ));
}

#[test]
fn roles_serialise_with_their_names() {
    let json = key_values(&Roles::default());
    assert_eq!(
        json,
        "correlate=true cross_correlate=true store=true qualify=true forward_events=false forward_alarms=false"
    );
}

/// Serialises through the TOML serializer into `key=value` pairs.
fn key_values(roles: &Roles) -> String {
    let text = toml::to_string(roles).unwrap();
    text.lines()
        .map(|l| l.replace(" = ", "="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_documented_example_compiles_and_behaves_as_described() {
    let docs = include_str!("../src/lib.rs");
    let example: String = docs
        .lines()
        .map(|l| l.trim_start())
        .skip_while(|l| *l != "//! ```toml")
        .skip(1)
        .take_while(|l| *l != "//! ```")
        .map(|l| {
            let l = l.strip_prefix("//!").unwrap_or(l);
            format!("{}\n", l.strip_prefix(' ').unwrap_or(l))
        })
        .collect();
    assert!(example.contains("[defaults]"), "{example}");
    let s = set(&example);
    assert_eq!(
        s.names().collect::<Vec<_>>(),
        [
            "printers",
            "ssh brute force from outside, office hours",
            "night and weekend DNS",
            "drop scanner noise"
        ]
    );
    let mut alarm = flow("203.0.113.7", "10.0.3.10");
    alarm.plugin_id = 1505;
    assert_eq!(s.decide(&alarm).priority, Some(1));

    let mut ssh = flow("203.0.113.7", "10.0.0.6");
    ssh.dst_port = 22;
    ssh.plugin_sid = 2;
    ssh.priority = Some(3);
    ssh.provenance.sensor = "dmz-sensor".into();
    ssh.time = at("2024-01-05T17:00:00Z");
    let decision = s.decide(&ssh);
    assert_eq!(
        decision.policy.as_deref(),
        Some("ssh brute force from outside, office hours")
    );
    assert_eq!(decision.reliability, Some(8));
    assert!(decision.roles.forward_alarms && decision.roles.store);
    ssh.dst_ip = ip("10.0.0.5");
    assert_eq!(s.decide(&ssh).policy, None, "db1 is excluded");

    let mut dns = event(1, 1);
    dns.protocol = Protocol::UDP;
    dns.dst_port = 53;
    dns.src_port = 40000;
    dns.time = at("2024-01-01T23:00:00Z");
    assert_eq!(matched(&s, &dns).as_deref(), Some("night and weekend DNS"));

    let mut scan = flow("10.0.9.9", "10.0.0.6");
    scan.reliability = Some(2);
    let decision = s.decide(&scan);
    assert_eq!(decision.policy.as_deref(), Some("drop scanner noise"));
    assert_eq!(decision.priority, Some(0));
    assert!(!decision.roles.store && !decision.roles.correlate);
}
