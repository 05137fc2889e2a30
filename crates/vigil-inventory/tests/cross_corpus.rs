//! Cross-correlation end to end: OSSIM's `cross-free.sql` references and an
//! inventory file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use vigil_event::{Event, Protocol, Timestamp, Uuid};
use vigil_inventory::{Adjustment, Inventory, Osvdb, Reason, cross_correlate};
use vigil_plugins::{PluginSid, References};

fn references() -> &'static References {
    static REFS: OnceLock<References> = OnceLock::new();
    REFS.get_or_init(|| {
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/corpus/ossim/crosscorrelation/cross-free.sql"
        ));
        let mut refs = References::new();
        refs.load_path(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(refs.len(), 7236);
        refs
    })
}

const INVENTORY: &str = r#"
[[host]]                       # scanned: nessus found 10007
ip = "10.0.0.5"
os = "Windows"
[[host.service]]
port = 139
protocol = "tcp"
banner = "Samba 3.0.20"
[[host.vulnerability]]
plugin_id = 3001
sid = 10007

[[host]]                       # DNS over UDP only
ip = "10.0.0.53"
[[host.service]]
port = 53
protocol = "udp"
"#;

fn inventory() -> Inventory {
    Inventory::from_toml("inventory.toml", INVENTORY).unwrap_or_else(|e| panic!("{e}"))
}

fn attack(sid: u32, dst: &str, port: u16, protocol: Protocol) -> Event {
    let mut event = Event::new(Uuid::nil(), Timestamp::from_secs(1_700_000_000), 1001, sid);
    event.dst_ip = dst.parse::<IpAddr>().unwrap();
    event.dst_port = port;
    event.protocol = protocol;
    event.reliability = Some(1);
    event
}

#[test]
fn snort_1005_against_a_host_with_nessus_10007_is_confirmed() {
    // cross-free.sql: (1001, 1005) → (3001, 10007) and (5003, 7).
    let result = cross_correlate(
        &attack(1005, "10.0.0.5", 139, Protocol::TCP),
        &inventory(),
        references(),
        None,
    );
    assert_eq!(result.reliability, Some(10));
    assert_eq!(
        result.reason,
        Reason::ConfirmedVulnerability {
            vulnerability: PluginSid::new(3001, 10007)
        }
    );
}

#[test]
fn osvdb_only_attacks_need_osvdb_data() {
    // (1001, 1004) → (5003, 3114) and (5003, 1072262): nothing without OSVDB.
    let event = attack(1004, "10.0.0.5", 139, Protocol::TCP);
    let result = cross_correlate(&event, &inventory(), references(), None);
    assert_eq!((result.reliability, result.reason), (None, Reason::NoMatch));
    // With (made-up) product names for OSVDB 3114, the Samba banner matches.
    let mut osvdb = Osvdb::new();
    osvdb.add_base_name(3114, "samba");
    osvdb.add_version_name(3114, "3.0.20");
    let result = cross_correlate(&event, &inventory(), references(), Some(&osvdb));
    assert_eq!(result.reliability, Some(9));
    assert_eq!(
        result.reason,
        Reason::Adjusted(vec![
            Adjustment::ProductMatch { osvdb_id: 3114 },
            Adjustment::VersionMatch { osvdb_id: 3114 }
        ])
    );
}

#[test]
fn tcp_attack_on_a_udp_only_port_is_impossible() {
    let result = cross_correlate(
        &attack(1004, "10.0.0.53", 53, Protocol::TCP),
        &inventory(),
        references(),
        None,
    );
    assert_eq!(result.reliability, Some(0));
    // The same attack over UDP is not judged.
    let result = cross_correlate(
        &attack(1004, "10.0.0.53", 53, Protocol::UDP),
        &inventory(),
        references(),
        None,
    );
    assert_eq!((result.reliability, result.reason), (None, Reason::NoMatch));
}

#[test]
fn unreferenced_attacks_and_unknown_hosts_are_left_alone() {
    // Sid 1 has no references.
    let result = cross_correlate(
        &attack(1, "10.0.0.53", 53, Protocol::TCP),
        &inventory(),
        references(),
        None,
    );
    assert_eq!(
        (result.reliability, result.reason),
        (None, Reason::NoReferences)
    );
    let result = cross_correlate(
        &attack(1005, "10.0.0.6", 139, Protocol::TCP),
        &inventory(),
        references(),
        None,
    );
    assert_eq!(
        (result.reliability, result.reason),
        (None, Reason::NoInventory)
    );
}

#[test]
fn a_scanner_finding_added_at_runtime_takes_effect() {
    let mut inventory = inventory();
    let event = attack(1007, "10.0.0.53", 53, Protocol::UDP);
    // (1001, 1007) → (3001, 101000), (5003, 9199), (5003, 9200).
    let before = cross_correlate(&event, &inventory, references(), None);
    assert_eq!(before.reliability, None);
    inventory
        .add_vulnerability(
            event.dst_ip,
            vigil_inventory::Vulnerability {
                plugin_id: 3001,
                sid: 101_000,
                reliability: None,
            },
        )
        .unwrap();
    let after = cross_correlate(&event, &inventory, references(), None);
    assert_eq!(after.reliability, Some(10));
    assert!(inventory.remove_vulnerability(event.dst_ip, PluginSid::new(3001, 101_000)));
    assert_eq!(
        cross_correlate(&event, &inventory, references(), None).reliability,
        None
    );
}
