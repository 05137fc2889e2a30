//! Properties: decide never panics and agrees with simple oracles; parse never panics.

#![allow(clippy::unwrap_used)] // integration tests are not `#[cfg(test)]` for clippy

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use proptest::prelude::*;
use vigil_event::{Event, Protocol, Timestamp, Uuid};
use vigil_inventory::{Assets, Host, Network};
use vigil_policy::PolicySet;

fn assets() -> Assets {
    Assets::new(
        vec![Host {
            name: "db1".into(),
            ip: "10.0.0.5".parse().unwrap(),
            asset: 5,
        }],
        vec![
            Network {
                name: "lan".into(),
                cidr: "10.0.0.0/8".parse().unwrap(),
                asset: 3,
                external: false,
            },
            Network {
                name: "isp".into(),
                cidr: "198.51.100.0/24".parse().unwrap(),
                asset: 1,
                external: true,
            },
        ],
        HashMap::from([("crown".to_string(), vec!["db1".to_string()])]),
    )
}

const RICH: &str = r#"
[defaults]
store = false

[[policy]]
name = "a"
sources = ["!HOME_NET", "!198.51.100.0/24"]
destinations = ["crown", "2001:db8::/32", "::ffff:192.0.2.0/120"]
ports = ["tcp/22", "udp/1000-2000", "!1500"]
time = { days = ["fri-mon"], hours = ["22:00-06:00", "12:00"], months = ["nov-feb"], month_days = ["25-5"] }

[[policy]]
name = "b"
plugins = [{ plugin_id = 4003, sids = [1, 2] }, { plugin_id = 1505 }]
sensors = ["edge-1", "192.0.2.0/24", "!10.0.0.1"]
match_priority = ["2-5"]
match_reliability = [0, "5-10"]
priority = 0
reliability = 10

[[policy]]
name = "c"
source_ports = ["0-1023", "!0"]
roles = { correlate = false, forward_events = true }

[[policy]]
name = "d"
destinations = ["HOME_NET"]
priority = 5
"#;

fn any_ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<u32>().prop_map(|n| IpAddr::V4(Ipv4Addr::from(n))),
        any::<u128>().prop_map(|n| IpAddr::V6(Ipv6Addr::from(n))),
        any::<u32>().prop_map(|n| IpAddr::V6(Ipv4Addr::from(n).to_ipv6_mapped())),
        (0u32..256).prop_map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | n))),
    ]
}

prop_compose! {
    fn any_event()(
        micros in prop_oneof![any::<i64>(), -10_000_000_000_000_000i64..10_000_000_000_000_000],
        plugin_id in prop_oneof![any::<u32>(), Just(4003u32), Just(1505)],
        plugin_sid in prop_oneof![any::<u32>(), 0u32..4],
        protocol in any::<u8>(),
        src_ip in any_ip(),
        dst_ip in any_ip(),
        sensor_ip in any_ip(),
        src_port in any::<u16>(),
        dst_port in prop_oneof![any::<u16>(), Just(22u16), 1000u16..2001],
        priority in proptest::option::of(any::<u8>()),
        reliability in proptest::option::of(any::<u8>()),
        sensor in prop_oneof![Just(String::new()), Just("edge-1".to_string()), "\\PC{0,12}", any_ip().prop_map(|ip| ip.to_string())],
    ) -> Event {
        let mut e = Event::new(Uuid::nil(), Timestamp::from_micros(micros), plugin_id, plugin_sid);
        e.protocol = Protocol(protocol);
        e.src_ip = src_ip;
        e.dst_ip = dst_ip;
        e.sensor_ip = sensor_ip;
        e.src_port = src_port;
        e.dst_port = dst_port;
        e.priority = priority;
        e.reliability = reliability;
        e.provenance.sensor = sensor;
        e
    }
}

fn compile(text: &str) -> PolicySet {
    PolicySet::parse(Path::new("p.toml"), text, &assets()).expect("valid policies")
}

/// Tokens that make random text look like a policy file often enough to reach the semantic checks.
fn tomlish() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("[[policy]]\n".to_string()),
        Just("[defaults]\n".to_string()),
        Just("[policy.time]\n".to_string()),
        Just("name = ".to_string()),
        Just("sources = ".to_string()),
        Just("ports = ".to_string()),
        Just("plugins = ".to_string()),
        Just("time = ".to_string()),
        Just("hours = ".to_string()),
        Just("days = ".to_string()),
        Just("month_days = ".to_string()),
        Just("priority = ".to_string()),
        Just("match_priority = ".to_string()),
        Just("roles = ".to_string()),
        Just("store = ".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("{".to_string()),
        Just("}".to_string()),
        Just(", ".to_string()),
        Just("\n".to_string()),
        Just("plugin_id = ".to_string()),
        "-?[0-9]{1,12}",
        "\"[!a-zA-Z0-9_:./ -]{0,16}\"",
        Just("\"HOME_NET\"".to_string()),
        Just("\"22:00-06:00\"".to_string()),
        Just("\"fri-mon\"".to_string()),
        Just("\"tcp/1-65535\"".to_string()),
        Just("true".to_string()),
    ];
    proptest::collection::vec(token, 0..60).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decide_never_panics_and_is_deterministic(event in any_event()) {
        let set = compile(RICH);
        let first = set.decide(&event);
        prop_assert_eq!(&first, &set.decide(&event));
        let mut applied = event.clone();
        first.apply(&mut applied);
        if first.policy.is_none() {
            prop_assert_eq!(&applied, &event);
            prop_assert_eq!(first.roles, set.defaults());
        }
        prop_assert!(PolicySet::permissive().decide(&event).policy.is_none());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_text(text in "\\PC{0,400}") {
        let _ = PolicySet::parse(Path::new("p.toml"), &text, &assets());
    }

    #[test]
    fn parse_never_panics_on_policy_like_text(text in tomlish()) {
        let lines = u32::try_from(text.lines().count()).unwrap() + 1;
        if let Err(diags) = PolicySet::parse(Path::new("p.toml"), &text, &assets()) {
            prop_assert!(!diags.is_empty());
            for d in diags {
                prop_assert!(d.line >= 1 && d.line <= lines, "{}", d);
                prop_assert!(d.column >= 1, "{}", d);
            }
        }
    }

    #[test]
    fn hour_ranges_agree_with_the_oracle(
        first in 0u32..1440,
        last in 0u32..1440,
        secs in -5_000_000_000i64..5_000_000_000,
    ) {
        let text = format!(
            "[[policy]]\nname = \"h\"\ntime = {{ hours = [\"{:02}:{:02}-{:02}:{:02}\"] }}\n",
            first / 60, first % 60, last / 60, last % 60
        );
        let set = compile(&text);
        let event = Event::new(Uuid::nil(), Timestamp::from_secs(secs), 1, 1);
        let minute = u32::try_from(secs.rem_euclid(86_400) / 60).unwrap();
        let expected = if first <= last {
            first <= minute && minute <= last
        } else {
            minute >= first || minute <= last
        };
        prop_assert_eq!(set.decide(&event).policy.is_some(), expected);
    }

    #[test]
    fn day_ranges_agree_with_the_oracle(
        first in 0usize..7,
        last in 0usize..7,
        secs in -5_000_000_000i64..5_000_000_000,
    ) {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let text = format!(
            "[[policy]]\nname = \"d\"\ntime = {{ days = [\"{}-{}\"] }}\n",
            DAYS[first], DAYS[last]
        );
        let set = compile(&text);
        let event = Event::new(Uuid::nil(), Timestamp::from_secs(secs), 1, 1);
        // 1970-01-01 was a Thursday (Monday = 0 → 3).
        let day = usize::try_from((secs.div_euclid(86_400) + 3).rem_euclid(7)).unwrap();
        let expected = if first <= last {
            first <= day && day <= last
        } else {
            day >= first || day <= last
        };
        prop_assert_eq!(set.decide(&event).policy.is_some(), expected);
    }

    #[test]
    fn port_ranges_agree_with_the_oracle(
        low in any::<u16>(),
        len in 0u16..2000,
        udp in any::<bool>(),
        port in any::<u16>(),
        tcp_event in any::<bool>(),
    ) {
        let high = low.saturating_add(len);
        let proto = if udp { "udp" } else { "tcp" };
        let set = compile(&format!("[[policy]]\nname = \"p\"\nports = [\"{proto}/{low}-{high}\"]\n"));
        let mut event = Event::new(Uuid::nil(), Timestamp::from_secs(0), 1, 1);
        event.dst_port = port;
        event.protocol = if tcp_event { Protocol::TCP } else { Protocol::UDP };
        let expected = (low..=high).contains(&port) && tcp_event != udp;
        prop_assert_eq!(set.decide(&event).policy.is_some(), expected);
    }
}
