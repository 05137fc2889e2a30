//! `cross_correlate` and the inventory loader never panic; the rule's
//! output is always in range and consistent with its reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use proptest::prelude::*;
use vigil_event::{Event, Protocol, Timestamp, Uuid};
use vigil_inventory::{Inventory, Osvdb, Reason, Service, Vulnerability, cross_correlate};
use vigil_plugins::{PluginSid, References};

const IPS: [&str; 4] = ["10.0.0.1", "10.0.0.2", "::1", "0.0.0.0"];
const PLUGINS: [u32; 6] = [1001, 3001, 5001, 5002, 5003, 7001];

fn ip() -> impl Strategy<Value = IpAddr> {
    prop::sample::select(IPS.to_vec()).prop_map(|s| s.parse::<IpAddr>().unwrap())
}

fn plugin_sid() -> impl Strategy<Value = PluginSid> {
    (prop::sample::select(PLUGINS.to_vec()), 0u32..4).prop_map(|(p, s)| PluginSid::new(p, s))
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop::sample::select(vec![
        Protocol::TCP,
        Protocol::UDP,
        Protocol::ICMP,
        Protocol(0),
    ])
}

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec![
        "",
        "OpenSSH 7.4",
        "openssh",
        "7.4",
        "ÅPACHE 2",
    ]))
    .prop_map(|t| t.map(str::to_owned))
}

#[derive(Debug, Clone)]
enum Op {
    Os(IpAddr, Option<u32>),
    Service(IpAddr, u16, Protocol, Option<String>),
    Vulnerability(IpAddr, PluginSid, Option<u8>),
    RemoveVulnerability(IpAddr, PluginSid),
    AddHost(IpAddr),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (ip(), prop::option::of(0u32..4)).prop_map(|(i, o)| Op::Os(i, o)),
        (ip(), 0u16..4, protocol(), text()).prop_map(|(i, p, pr, b)| Op::Service(i, p, pr, b)),
        (ip(), plugin_sid(), any::<Option<u8>>()).prop_map(|(i, k, r)| Op::Vulnerability(i, k, r)),
        (ip(), plugin_sid()).prop_map(|(i, k)| Op::RemoveVulnerability(i, k)),
        ip().prop_map(Op::AddHost),
    ]
}

fn build(ops: &[Op]) -> Inventory {
    let mut inventory = Inventory::new();
    for op in ops.iter().cloned() {
        match op {
            Op::Os(ip, os) => {
                inventory.set_os(ip, os);
            }
            Op::Service(ip, port, protocol, banner) => {
                let _ = inventory.add_service(
                    ip,
                    Service {
                        port,
                        protocol,
                        name: None,
                        banner,
                    },
                );
            }
            Op::Vulnerability(ip, key, reliability) => {
                let _ = inventory.add_vulnerability(
                    ip,
                    Vulnerability {
                        plugin_id: key.plugin_id,
                        sid: key.sid,
                        reliability,
                    },
                );
            }
            Op::RemoveVulnerability(ip, key) => {
                inventory.remove_vulnerability(ip, key);
            }
            Op::AddHost(ip) => {
                inventory.add_host(ip);
            }
        }
    }
    inventory
}

proptest! {
    #[test]
    fn cross_correlate_never_panics(
        ops in prop::collection::vec(op(), 0..24),
        links in prop::collection::vec((plugin_sid(), plugin_sid()), 0..24),
        names in prop::collection::vec((0u32..4, text(), text()), 0..6),
        with_osvdb in any::<bool>(),
        attack in plugin_sid(),
        dst in ip(),
        port in 0u16..4,
        proto in protocol(),
        reliability in any::<Option<u8>>(),
    ) {
        let inventory = build(&ops);
        let mut references = References::new();
        for (a, r) in links {
            references.insert(a, r);
        }
        let mut osvdb = Osvdb::new();
        for (id, base, version) in names {
            if let Some(base) = base {
                osvdb.add_base_name(id, base);
            }
            if let Some(version) = version {
                osvdb.add_version_name(id, version);
            }
        }
        let mut event = Event::new(Uuid::nil(), Timestamp::from_secs(0), attack.plugin_id, attack.sid);
        event.dst_ip = dst;
        event.dst_port = port;
        event.protocol = proto;
        event.reliability = reliability;
        let result = cross_correlate(&event, &inventory, &references, with_osvdb.then_some(&osvdb));
        match (&result.reason, result.reliability) {
            (Reason::NoDestination | Reason::NoInventory | Reason::NoReferences | Reason::NoMatch, r) => {
                prop_assert_eq!(r, None);
            }
            (Reason::ConfirmedVulnerability { .. }, r) => prop_assert_eq!(r, Some(10)),
            (Reason::OsMismatch { .. } | Reason::ServiceProtocolMismatch { .. }, r) => {
                prop_assert_eq!(r, Some(0));
            }
            (Reason::Adjusted(steps), r) => {
                prop_assert!(!steps.is_empty());
                prop_assert!(r.is_some_and(|r| r <= 10));
            }
        }
        // The TOML form of any reachable inventory reads back equal.
        let written = inventory.to_toml();
        prop_assert_eq!(Inventory::from_toml("w.toml", &written), Ok(inventory));
    }

    #[test]
    fn inventory_loader_never_panics(text in any::<String>()) {
        let _ = Inventory::from_toml("fuzz.toml", &text);
    }

    #[test]
    fn inventory_loader_never_panics_on_toml_like_text(
        text in r#"(\[\[host\]\]|\[\[host\.service\]\]|\[\[host\.vulnerability\]\]|ip|os|port|protocol|plugin_id|sid|reliability|banner|name|"10\.0\.0\.1"|"tcp"|"Linux"|[ \n=\[\]{}"',.#0-9a-z\-])*"#
    ) {
        let _ = Inventory::from_toml("fuzz.toml", &text);
    }
}
