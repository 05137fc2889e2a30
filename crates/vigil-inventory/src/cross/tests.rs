use std::net::IpAddr;

use vigil_event::{Timestamp, Uuid};

use super::*;
use crate::hosts::Vulnerability;

const ATTACK: PluginSid = PluginSid::new(1001, 1005);
const HOST: &str = "10.0.0.5";

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// An attack event (1001, 1005) to `dst`:`port`/`protocol`.
fn event(dst: &str, port: u16, protocol: Protocol, reliability: Option<u8>) -> Event {
    let mut event = Event::new(
        Uuid::nil(),
        Timestamp::from_secs(0),
        ATTACK.plugin_id,
        ATTACK.sid,
    );
    event.dst_ip = ip(dst);
    event.dst_port = port;
    event.protocol = protocol;
    event.reliability = reliability;
    event
}

fn refs(list: &[(u32, u32)]) -> References {
    let mut references = References::new();
    for &(plugin_id, sid) in list {
        references.insert(ATTACK, PluginSid::new(plugin_id, sid));
    }
    references
}

fn vuln(plugin_id: u32, sid: u32, reliability: Option<u8>) -> Vulnerability {
    Vulnerability {
        plugin_id,
        sid,
        reliability,
    }
}

fn service(port: u16, protocol: Protocol, banner: Option<&str>) -> Service {
    Service {
        port,
        protocol,
        name: None,
        banner: banner.map(str::to_owned),
    }
}

/// A host with these facts.
fn host(os: Option<u32>, services: Vec<Service>, vulns: &[Vulnerability]) -> Inventory {
    let mut inventory = Inventory::new();
    inventory.set_os(ip(HOST), os);
    if let Err(e) = inventory.set_services(ip(HOST), services) {
        panic!("{e}");
    }
    for v in vulns {
        if let Err(e) = inventory.add_vulnerability(ip(HOST), *v) {
            panic!("{e}");
        }
    }
    inventory
}

fn run(event: &Event, inventory: &Inventory, references: &References) -> (Option<u8>, Reason) {
    let result = cross_correlate(event, inventory, references, None);
    (result.reliability, result.reason)
}

#[test]
fn confirmed_vulnerability_sets_10() {
    let inventory = host(None, vec![], &[vuln(3001, 10007, Some(2))]);
    let references = refs(&[(3001, 10007), (5003, 7)]);
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (
            Some(10),
            Reason::ConfirmedVulnerability {
                vulnerability: PluginSid::new(3001, 10007)
            }
        )
    );
    // Also from "no reliability".
    assert_eq!(
        run(
            &event(HOST, 0, Protocol::TCP, None),
            &inventory,
            &references
        )
        .0,
        Some(10)
    );
}

#[test]
fn unreferenced_vulnerability_changes_nothing() {
    let inventory = host(
        None,
        vec![],
        &[vuln(3001, 99, None), vuln(7001, 1, Some(5))],
    );
    let references = refs(&[(3001, 10007)]);
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (None, Reason::NoMatch)
    );
}

#[test]
fn os_mismatch_sets_0() {
    let inventory = host(Some(2), vec![], &[]);
    let references = refs(&[(5001, 1), (5001, 9)]);
    assert_eq!(
        run(
            &event(HOST, 445, Protocol::TCP, Some(3)),
            &inventory,
            &references
        ),
        (
            Some(0),
            Reason::OsMismatch {
                host_os: 2,
                attack_os: vec![1, 9]
            }
        )
    );
}

#[test]
fn os_match_adds_1() {
    let inventory = host(Some(1), vec![], &[]);
    let references = refs(&[(5001, 1), (5001, 9)]);
    assert_eq!(
        run(
            &event(HOST, 445, Protocol::TCP, Some(3)),
            &inventory,
            &references
        ),
        (
            Some(4),
            Reason::Adjusted(vec![Adjustment::OsMatch { os: 1 }])
        )
    );
    assert_eq!(
        run(
            &event(HOST, 445, Protocol::TCP, None),
            &inventory,
            &references
        )
        .0,
        Some(1),
        "no reliability counts as 0"
    );
}

#[test]
fn os_rule_needs_both_sides() {
    // The attack has OS references but the host's OS is unknown.
    let inventory = host(None, vec![service(445, Protocol::TCP, None)], &[]);
    assert_eq!(
        run(
            &event(HOST, 445, Protocol::TCP, Some(3)),
            &inventory,
            &refs(&[(5001, 1)])
        ),
        (None, Reason::NoMatch)
    );
    // The host's OS is known but the attack has no OS references.
    let inventory = host(Some(2), vec![], &[]);
    assert_eq!(
        run(
            &event(HOST, 445, Protocol::TCP, Some(3)),
            &inventory,
            &refs(&[(5003, 7)])
        ),
        (None, Reason::NoMatch)
    );
}

#[test]
fn service_port_with_other_protocol_sets_0() {
    let inventory = host(None, vec![service(53, Protocol::UDP, None)], &[]);
    assert_eq!(
        run(
            &event(HOST, 53, Protocol::TCP, Some(5)),
            &inventory,
            &refs(&[(5003, 7)])
        ),
        (
            Some(0),
            Reason::ServiceProtocolMismatch {
                port: 53,
                protocol: Protocol::TCP,
                open: vec![Protocol::UDP]
            }
        )
    );
}

#[test]
fn service_port_and_protocol_match_without_osvdb_changes_nothing() {
    let inventory = host(
        None,
        vec![
            service(53, Protocol::TCP, Some("BIND 9.11")),
            service(53, Protocol::UDP, None),
        ],
        &[],
    );
    let references = refs(&[(5003, 7)]);
    for protocol in [Protocol::TCP, Protocol::UDP] {
        assert_eq!(
            run(&event(HOST, 53, protocol, Some(5)), &inventory, &references),
            (None, Reason::NoMatch)
        );
    }
    // A port the host does not list, and "no port", are not judged.
    assert_eq!(
        run(
            &event(HOST, 54, Protocol::ICMP, Some(5)),
            &inventory,
            &references
        ),
        (None, Reason::NoMatch)
    );
    assert_eq!(
        run(
            &event(HOST, 0, Protocol::ICMP, Some(5)),
            &inventory,
            &references
        ),
        (None, Reason::NoMatch)
    );
}

#[test]
fn generic_reference_adds_the_host_reliability() {
    let references = refs(&[(7001, 5), (7001, 6), (5003, 7)]);
    let inventory = host(None, vec![], &[vuln(7001, 5, Some(4))]);
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (
            Some(6),
            Reason::Adjusted(vec![Adjustment::Generic {
                vulnerability: PluginSid::new(7001, 5),
                reliability: 4
            }])
        )
    );
    // Without a reliability the vulnerability adds 1; several matches add
    // the best one, once.
    let inventory = host(None, vec![], &[vuln(7001, 5, None)]);
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        )
        .0,
        Some(3)
    );
    let inventory = host(
        None,
        vec![],
        &[vuln(7001, 5, Some(2)), vuln(7001, 6, Some(3))],
    );
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (
            Some(5),
            Reason::Adjusted(vec![Adjustment::Generic {
                vulnerability: PluginSid::new(7001, 6),
                reliability: 3
            }])
        )
    );
}

#[test]
fn unchanged_without_destination_inventory_or_references() {
    let inventory = host(Some(2), vec![], &[vuln(3001, 10007, None)]);
    let references = refs(&[(3001, 10007)]);
    assert_eq!(
        run(
            &event("10.0.0.6", 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (None, Reason::NoInventory)
    );
    assert_eq!(
        run(
            &event("0.0.0.0", 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (None, Reason::NoDestination)
    );
    assert_eq!(
        run(
            &event("::", 80, Protocol::TCP, Some(2)),
            &inventory,
            &references
        ),
        (None, Reason::NoDestination)
    );
    let mut other = event(HOST, 80, Protocol::TCP, Some(2));
    other.plugin_sid = 1004;
    assert_eq!(
        run(&other, &inventory, &references),
        (None, Reason::NoReferences)
    );
    // An entry with nothing in it is no inventory.
    let mut empty = Inventory::new();
    empty.add_host(ip(HOST));
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(2)),
            &empty,
            &references
        ),
        (None, Reason::NoInventory)
    );
}

#[test]
fn clamps_at_10() {
    let references = refs(&[(5001, 2), (7001, 5)]);
    let inventory = host(Some(2), vec![], &[vuln(7001, 5, Some(4))]);
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(9)),
            &inventory,
            &references
        ),
        (
            Some(10),
            Reason::Adjusted(vec![
                Adjustment::OsMatch { os: 2 },
                Adjustment::Generic {
                    vulnerability: PluginSid::new(7001, 5),
                    reliability: 4
                }
            ])
        )
    );
    // An out-of-range input reliability is clamped too.
    assert_eq!(
        run(
            &event(HOST, 80, Protocol::TCP, Some(200)),
            &inventory,
            &references
        )
        .0,
        Some(10)
    );
}

#[test]
fn precedence_when_several_apply() {
    let udp_only = vec![service(53, Protocol::UDP, None)];
    let everything = refs(&[(3001, 10007), (5001, 1), (7001, 5)]);
    let vulns = [vuln(3001, 10007, None), vuln(7001, 5, Some(4))];
    let at_53 = event(HOST, 53, Protocol::TCP, Some(3));

    // Nessus beats an OS mismatch and a protocol mismatch.
    let inventory = host(Some(2), udp_only.clone(), &vulns);
    assert_eq!(run(&at_53, &inventory, &everything).0, Some(10));

    // Without the nessus finding, the OS mismatch decides before the
    // protocol mismatch and the generic match.
    let inventory = host(Some(2), udp_only.clone(), &vulns[1..]);
    assert!(matches!(
        run(&at_53, &inventory, &everything),
        (Some(0), Reason::OsMismatch { host_os: 2, .. })
    ));

    // With a matching OS (+1 noted), the protocol mismatch still zeroes it.
    let inventory = host(Some(1), udp_only, &vulns[1..]);
    assert!(matches!(
        run(&at_53, &inventory, &everything),
        (Some(0), Reason::ServiceProtocolMismatch { port: 53, .. })
    ));

    // With a matching OS and protocol, OS and generic add up: 3 + 1 + 4.
    let inventory = host(Some(1), vec![service(53, Protocol::TCP, None)], &vulns[1..]);
    assert_eq!(
        run(&at_53, &inventory, &everything),
        (
            Some(8),
            Reason::Adjusted(vec![
                Adjustment::OsMatch { os: 1 },
                Adjustment::Generic {
                    vulnerability: PluginSid::new(7001, 5),
                    reliability: 4
                }
            ])
        )
    );
}

fn osvdb() -> Osvdb {
    let mut osvdb = Osvdb::new();
    osvdb.add_base_name(7, "OpenSSH");
    osvdb.add_version_name(7, "7.4");
    osvdb.add_base_name(8, "openssh");
    osvdb.add_version_name(8, "9.9");
    osvdb.add_base_name(9, "");
    osvdb.add_version_name(9, "");
    osvdb
}

#[test]
fn osvdb_product_and_version_against_the_banner() {
    let ssh = |banner: &str| host(None, vec![service(22, Protocol::TCP, Some(banner))], &[]);
    let at_22 = event(HOST, 22, Protocol::TCP, Some(2));
    let osvdb = osvdb();
    let correlate = |inventory: &Inventory, references: &References| {
        let r = cross_correlate(&at_22, inventory, references, Some(&osvdb));
        (r.reliability, r.reason)
    };

    // Base name only (case-insensitive): +2, once even if two ids match.
    assert_eq!(
        correlate(&ssh("SSH-2.0-openssh_8.0"), &refs(&[(5003, 7), (5003, 8)])),
        (
            Some(4),
            Reason::Adjusted(vec![Adjustment::ProductMatch { osvdb_id: 7 }])
        )
    );
    // Base name and version: at least 9.
    assert_eq!(
        correlate(&ssh("OpenSSH 7.4p1"), &refs(&[(5003, 7)])),
        (
            Some(9),
            Reason::Adjusted(vec![
                Adjustment::ProductMatch { osvdb_id: 7 },
                Adjustment::VersionMatch { osvdb_id: 7 }
            ])
        )
    );
    // The version of the second id matches after the first id's base name.
    assert_eq!(
        correlate(&ssh("OpenSSH 9.9"), &refs(&[(5003, 7), (5003, 8)])).0,
        Some(9)
    );
    // A version without its base name, empty names, an id without data: nothing.
    assert_eq!(
        correlate(
            &ssh("Dropbear 7.4"),
            &refs(&[(5003, 7), (5003, 9), (5003, 10)])
        ),
        (None, Reason::NoMatch)
    );
    // Without OSVDB data only the port/protocol part applies.
    assert_eq!(
        run(&at_22, &ssh("OpenSSH 7.4p1"), &refs(&[(5003, 7)])),
        (None, Reason::NoMatch)
    );
    // A version match never lowers the reliability; generic adds after it.
    let mut high = at_22.clone();
    high.reliability = Some(10);
    let r = cross_correlate(
        &high,
        &ssh("OpenSSH 7.4"),
        &refs(&[(5003, 7)]),
        Some(&osvdb),
    );
    assert_eq!(r.reliability, Some(10));
    let inventory = host(
        Some(2),
        vec![service(22, Protocol::TCP, Some("OpenSSH 7.4"))],
        &[vuln(7001, 5, Some(1))],
    );
    let mut low = at_22.clone();
    low.reliability = Some(0);
    let r = cross_correlate(
        &low,
        &inventory,
        &refs(&[(5001, 2), (5003, 7), (7001, 5)]),
        Some(&osvdb),
    );
    // 0 +1 (OS) +2 (product) → 9 (version) +1 (generic) = 10.
    assert_eq!(r.reliability, Some(10));
    assert_eq!(
        r.reason,
        Reason::Adjusted(vec![
            Adjustment::OsMatch { os: 2 },
            Adjustment::ProductMatch { osvdb_id: 7 },
            Adjustment::VersionMatch { osvdb_id: 7 },
            Adjustment::Generic {
                vulnerability: PluginSid::new(7001, 5),
                reliability: 1
            }
        ])
    );
}

#[test]
fn apply_stores_only_a_new_value() {
    let inventory = host(None, vec![], &[vuln(3001, 10007, None)]);
    let mut e = event(HOST, 80, Protocol::TCP, Some(2));
    cross_correlate(&e, &inventory, &refs(&[(3001, 10007)]), None).apply(&mut e);
    assert_eq!(e.reliability, Some(10));
    let mut e = event(HOST, 80, Protocol::TCP, Some(2));
    cross_correlate(&e, &inventory, &refs(&[(3001, 1)]), None).apply(&mut e);
    assert_eq!(e.reliability, Some(2));
}
