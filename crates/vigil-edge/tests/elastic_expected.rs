//! Normalisation against independent expected outputs: the Elastic integrations' test logs
//! (`shared/corpus/logs/elastic-integrations`) run through plugins for each device, and every
//! line's addresses, ports, protocol, action, outcome and user compared with the
//! `*-expected-fields.tsv` table. An empty expected cell is not compared (Elastic sets no
//! value there). Each test lists every mismatch exactly, so any change shows up.
//!
//! Two sets of plugins are compared: Vigil's own (`plugins/` of this repository), which must
//! match every cell, and OSSIM's stock plugins from the corpus, whose differences are pinned
//! (they document what the stock plugins get wrong). These tests fail when the corpus is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use vigil_edge::normalize::{NormalizeContext, UNPARSED_PLUGIN_ID, normalize, unparsed};
use vigil_event::{Event, Timestamp, Uuid};
use vigil_plugins::cfg::{AgentSettings, ParseContext, Plugin, PluginSet};

/// The edge's address, which normalisation uses as the default source.
const SENSOR_IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

fn corpus() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    assert!(
        root.join("ossim/plugins").is_dir(),
        "corpus missing at {}",
        root.display()
    );
    root
}

/// Where plugins named in a comparison come from.
#[derive(Clone, Copy)]
enum Library {
    /// OSSIM's stock plugins in the corpus.
    Ossim,
    /// Vigil's own plugins (`plugins/` at the root of this repository).
    Vigil,
}

fn plugin_set(library: Library, names: &[&str]) -> PluginSet {
    let root = corpus();
    let settings = AgentSettings::load(&root.join("ossim/agent")).expect("agent settings load");
    let dir = match library {
        Library::Ossim => root.join("ossim/plugins"),
        Library::Vigil => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins"),
    };
    PluginSet::new(
        names
            .iter()
            .map(|n| {
                let (plugin, warnings) =
                    Plugin::load(&dir.join(n), &settings).expect("plugin loads");
                if matches!(library, Library::Vigil) {
                    assert_eq!(
                        warnings,
                        vec![],
                        "Vigil's own plugins load without a warning"
                    );
                }
                plugin
            })
            .collect(),
    )
}

/// Every line of `log` through `plugins`, as the edge normalises it.
fn events(plugins: &PluginSet, log: &str, year: i32) -> Vec<Event> {
    let hosts = HashMap::new();
    let zone = jiff::tz::TimeZone::UTC;
    let key = [7u8; 32];
    let parse_cx = ParseContext::for_year(year);
    log.lines()
        .enumerate()
        .map(|(i, line)| {
            let cx = NormalizeContext {
                sensor: "edge",
                sensor_ip: SENSOR_IP,
                device: SENSOR_IP,
                received: Timestamp::from_secs(1_700_000_000),
                zone: &zone,
                hosts: &hosts,
                replay: true,
                secret_key: &key,
                id: Uuid::from_u128(i as u128),
            };
            plugins
                .parse(line, &parse_cx)
                .and_then(|p| normalize(&p, line, &cx).ok())
                .unwrap_or_else(|| unparsed(line, &cx))
        })
        .collect()
}

/// What Vigil produced for an Elastic column, as Elastic writes it.
fn actual(e: &Event, column: &str) -> String {
    match column {
        "source.ip" | "source.address" => e.src_ip.to_string(),
        "destination.ip" => e.dst_ip.to_string(),
        // ECS addresses may be names: Vigil keeps a name that is not an address as dst_hostname.
        "destination.address" => match e.extra.get("dst_hostname") {
            Some(name) if e.dst_ip.is_unspecified() => name.clone(),
            _ => e.dst_ip.to_string(),
        },
        "source.port" => e.src_port.to_string(),
        "destination.port" => e.dst_port.to_string(),
        "network.transport" => match e.protocol.0 {
            58 => "ipv6-icmp".to_string(), // the IANA keyword ECS uses
            _ => e.protocol.to_string().to_ascii_lowercase(),
        },
        "user.name" => e.username.clone().unwrap_or_default(),
        "event.action" => e.extra.get("action").cloned().unwrap_or_default(),
        "event.outcome" => e.extra.get("outcome").cloned().unwrap_or_default(),
        other => panic!("no mapping for {other}"),
    }
}

/// The result of comparing one dataset.
#[derive(Debug, PartialEq, Eq)]
struct Comparison {
    /// Expected cells compared (lines Vigil parsed, non-empty cells).
    compared: usize,
    /// Of those, the cells that matched.
    matched: usize,
    /// Every difference: `N: unparsed`, `N: source and destination swapped` (every address
    /// and port cell matches the other side), or `N column: expected X, got Y`.
    mismatches: Vec<String>,
}

/// Compares `columns` of the table beside `log` with the events.
fn compare(
    library: Library,
    dataset: &str,
    log: &str,
    plugins: &[&str],
    year: i32,
    columns: &[&str],
) -> Comparison {
    let dir = corpus().join("logs/elastic-integrations").join(dataset);
    let text = std::fs::read_to_string(dir.join(log)).expect("log");
    let table =
        std::fs::read_to_string(dir.join(format!("{log}-expected-fields.tsv"))).expect("tsv");
    let mut rows = table.lines();
    let header: Vec<&str> = rows.next().expect("header").split('\t').collect();
    let column_index = |c: &str| header.iter().position(|h| *h == c).expect("column");
    let events = events(&plugin_set(library, plugins), &text, year);
    let mut result = Comparison {
        compared: 0,
        matched: 0,
        mismatches: Vec::new(),
    };
    for row in rows {
        let cells: Vec<&str> = row.split('\t').collect();
        let cell = |c: &str| cells.get(column_index(c)).copied().unwrap_or_default();
        let line: usize = cells[0].parse().expect("line number");
        let event = &events[line - 1];
        if event.plugin_id == UNPARSED_PLUGIN_ID {
            result.mismatches.push(format!("{line}: unparsed"));
            continue;
        }
        let mut differ = Vec::new();
        let mut swapped = true;
        for column in columns {
            let expected = cell(column);
            if expected.is_empty() {
                continue;
            }
            result.compared += 1;
            let got = actual(event, column);
            if same(&got, expected) {
                result.matched += 1;
                continue;
            }
            if let Some(other) = opposite(column) {
                swapped &= same(&actual(event, other), expected);
            }
            differ.push((*column, expected, got));
        }
        let addresses = differ
            .iter()
            .filter(|(c, ..)| opposite(c).is_some())
            .count();
        let explained = if addresses == 0 {
            None
        } else if swapped {
            Some("source and destination swapped")
        } else if no_addresses(event) {
            Some("the plugin rule gives no addresses")
        } else {
            None
        };
        if let Some(why) = explained {
            result.mismatches.push(format!("{line}: {why}"));
            differ.retain(|(c, ..)| opposite(c).is_none());
        }
        for (column, expected, got) in differ {
            result
                .mismatches
                .push(format!("{line} {column}: expected {expected}, got {got}"));
        }
    }
    assert!(result.compared > 0, "nothing compared in {dataset}");
    result
}

/// Whether a produced value is the expected one: addresses compare as addresses
/// (`fe80:0000::0084` and `fe80::84` are one address), anything else as text.
fn same(got: &str, expected: &str) -> bool {
    match (got.parse::<IpAddr>(), expected.parse::<IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => got == expected,
    }
}

/// Whether the event carries only the defaults: the device as source, nothing else.
fn no_addresses(e: &Event) -> bool {
    (e.src_ip == SENSOR_IP || e.src_ip.is_unspecified())
        && e.dst_ip.is_unspecified()
        && e.src_port == 0
        && e.dst_port == 0
}

/// The column of the other end of a connection.
fn opposite(column: &str) -> Option<&'static str> {
    Some(match column {
        "source.ip" => "destination.ip",
        "destination.ip" => "source.ip",
        "source.address" => "destination.address",
        "destination.address" => "source.address",
        "source.port" => "destination.port",
        "destination.port" => "source.port",
        _ => return None,
    })
}

const ADDRESSES: [&str; 5] = [
    "source.ip",
    "source.port",
    "destination.ip",
    "destination.port",
    "network.transport",
];

#[test]
fn ossim_system_auth() {
    let got = compare(
        Library::Ossim,
        "system_auth",
        "test-auth.log",
        &["ssh.cfg", "sudo.cfg", "pam_unix.cfg"],
        2022,
        &["source.ip", "source.port", "user.name"],
    );
    assert_eq!(
        got,
        Comparison {
            compared: 16,
            matched: 16,
            mismatches: vec![]
        },
        "{got:#?}"
    );
}

#[test]
fn ossim_snort() {
    let got = compare(
        Library::Ossim,
        "snort",
        "test-log-fast.log",
        &["snort_syslog.cfg"],
        2021,
        &ADDRESSES,
    );
    // snort_syslog.cfg's fast-alert rule needs ports and a classification; ICMP alerts have
    // neither (and its multi-line rule is skipped), so they stay unparsed events.
    let unparsed = ["3: unparsed", "6: unparsed", "9: unparsed", "10: unparsed"];
    assert_eq!(
        got,
        Comparison {
            compared: 30,
            matched: 30,
            mismatches: unparsed.map(String::from).to_vec()
        },
        "{got:#?}"
    );
}

#[test]
fn ossim_iptables() {
    let got = compare(
        Library::Ossim,
        "iptables",
        "test-iptables-raw.log",
        &["iptables.cfg"],
        2023,
        &ADDRESSES,
    );
    // iptables.cfg needs a BSD syslog date before the host, a `prefix:` whose word is in its
    // translation table (ACCEPT, DROP, ...; `DROP_INPUT:` or `[wan-lan-default-D]` is not,
    // so plugin_sid is not a number) and SPT/DPT (ICMP and ESP have none). Those lines
    // stay unparsed events, as OSSIM would drop them.
    let unparsed = [
        2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 22, 23, 24,
    ];
    assert_eq!(
        got,
        Comparison {
            compared: 30,
            matched: 30,
            mismatches: unparsed.iter().map(|n| format!("{n}: unparsed")).collect()
        },
        "{got:#?}"
    );
}

#[test]
fn ossim_cisco_asa() {
    let got = compare(
        Library::Ossim,
        "cisco_asa",
        "test-sample.log",
        &["cisco-asa.cfg"],
        2013,
        &[
            "source.address",
            "source.port",
            "destination.address",
            "destination.port",
            "network.transport",
        ],
    );
    // Every difference comes from cisco-asa.cfg itself: its "Built outbound" rule puts the
    // `for` side in dst (Elastic: source); its Teardown, `est-allowed` access-list and
    // ICMP rules keep the addresses in userdata; rules without a protocol leave OSSIM's
    // default, TCP; `OCSP_Server` is a name the (empty) host map cannot resolve.
    let expected = [
        "7: source and destination swapped",
        "9: source and destination swapped",
        "11: source and destination swapped",
        "12: the plugin rule gives no addresses",
        "13: the plugin rule gives no addresses",
        "16: source and destination swapped",
        "28 network.transport: expected udp, got tcp",
        "37: the plugin rule gives no addresses",
        "38: the plugin rule gives no addresses",
        "40: source and destination swapped",
        "43 source.address: expected 192.168.2.222, got 0.0.0.0",
        "43 source.port: expected 1234, got 5678",
        "43 destination.address: expected OCSP_Server, got 192.168.2.222",
        "43 destination.port: expected 5678, got 1234",
        "44 source.address: expected 192.168.2.222, got 0.0.0.0",
        "44 source.port: expected 1234, got 5678",
        "44 destination.address: expected OCSP_Server, got 192.168.2.222",
        "44 destination.port: expected 5678, got 1234",
        "45: the plugin rule gives no addresses",
        "46: the plugin rule gives no addresses",
        "47: the plugin rule gives no addresses",
        "51: source and destination swapped",
        "52: source and destination swapped",
        "53: the plugin rule gives no addresses",
        "54: the plugin rule gives no addresses",
        "54 network.transport: expected udp, got tcp",
        "64 network.transport: expected icmp, got tcp",
        "65: the plugin rule gives no addresses",
    ];
    assert_eq!(
        got,
        Comparison {
            compared: 320,
            matched: 243,
            mismatches: expected.map(String::from).to_vec()
        },
        "{got:#?}"
    );
}

/// Every compared cell, with Vigil's own plugin for each device: nothing may differ.
fn vigil(dataset: &str, log: &str, plugin: &str, year: i32, columns: &[&str], cells: usize) {
    let got = compare(Library::Vigil, dataset, log, &[plugin], year, columns);
    assert_eq!(
        got,
        Comparison {
            compared: cells,
            matched: cells,
            mismatches: vec![]
        },
        "{got:#?}"
    );
}

#[test]
fn vigil_system_auth() {
    vigil(
        "system_auth",
        "test-auth.log",
        "vigil-linux-auth.cfg",
        2022,
        &[
            "source.ip",
            "source.port",
            "user.name",
            "event.action",
            "event.outcome",
        ],
        26,
    );
}

#[test]
fn vigil_snort() {
    vigil(
        "snort",
        "test-log-fast.log",
        "vigil-snort-fast.cfg",
        2021,
        &ADDRESSES,
        42,
    );
}

#[test]
fn vigil_iptables() {
    let mut columns = ADDRESSES.to_vec();
    columns.push("event.action");
    vigil(
        "iptables",
        "test-iptables-raw.log",
        "vigil-iptables.cfg",
        2023,
        &columns,
        129,
    );
}

#[test]
fn vigil_cisco_asa() {
    vigil(
        "cisco_asa",
        "test-sample.log",
        "vigil-cisco-asa.cfg",
        2013,
        &[
            "source.address",
            "source.port",
            "destination.address",
            "destination.port",
            "network.transport",
            "event.action",
            "event.outcome",
        ],
        442,
    );
}
