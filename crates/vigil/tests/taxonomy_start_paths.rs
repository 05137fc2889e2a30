//! A directive that matches on the sid tables' taxonomy (`category`, `subcategory`) fires on
//! every path an engine is built on: `vigil replay`, a server's first start, its restart from
//! saved state, and a reload. (It once fired only after a restart: the engine was built empty
//! and the taxonomy set later, on one path only.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::*;
use vigil::loadgen::open_session;
use vigil_event::Alarm;

/// Palo Alto "TRAFFIC start" (1615:1) is category 15, subcategory 171 in the corpus sid table;
/// the directive names only the taxonomy besides the plugin, so it fires only when the engine
/// knows that taxonomy.
const DIRECTIVE: &str = "<directive id=\"900001\" name=\"Traffic start by taxonomy\" priority=\"5\">\n\
     <rule type=\"detector\" name=\"traffic start\" reliability=\"5\" plugin_id=\"1615\" category=\"15\" subcategory=\"171\"/>\n\
     </directive>\n";

const OTHER: &str = "<directive id=\"900002\" name=\"unrelated\" priority=\"1\">\n\
     <rule type=\"detector\" name=\"x\" plugin_id=\"77\"/>\n\
     </directive>\n";

fn traffic(src: &str, secs: u32) -> String {
    format!(
        "event type=\"detector\" date=\"{}\" plugin_id=\"1615\" plugin_sid=\"1\" src_ip=\"{src}\" dst_ip=\"10.0.0.5\" dst_port=\"443\"\n",
        1_700_000_000 + secs
    )
}

fn sid_table() -> std::path::PathBuf {
    corpus("ossim/plugins-sql/paloalto.sql")
}

#[test]
fn replay_fires_a_taxonomy_directive() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, DIRECTIVE).unwrap();
    let input = dir.path().join("agent.log");
    std::fs::write(&input, traffic("203.0.113.7", 0)).unwrap();
    let (stdout, _) = run_ok(
        Command::new(exe())
            .arg("replay")
            .arg("--directives")
            .arg(&rules)
            .arg("--sid-tables")
            .arg(sid_table())
            .arg(&input),
    );
    let alarms: Vec<Alarm> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|a: &Alarm| a.directive_id == 900001)
        .collect();
    assert_eq!(alarms.len(), 1, "{stdout}");
    assert_eq!(alarms[0].src_ip.to_string(), "203.0.113.7");
}

#[test]
fn the_server_fires_a_taxonomy_directive_on_first_start_restart_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    std::fs::write(&rules, DIRECTIVE).unwrap();
    let tables = rules_tables(&[&sid_table()], &rules, "");
    // First start: no saved state.
    let server = start(dir.path(), "", &tables);
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(traffic("203.0.113.7", 0).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_directive_events_total", 1.0, Duration::from_secs(20))
        .unwrap();
    drop(s);
    server.terminate().unwrap();

    // Restart from the saved state.
    let server = start(dir.path(), "", &tables);
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(traffic("203.0.113.8", 1).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_directive_events_total", 1.0, Duration::from_secs(20))
        .unwrap();
    drop(s);

    // Reload: the directive is swapped out, then back in.
    std::fs::write(&rules, OTHER).unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    std::fs::write(&rules, DIRECTIVE).unwrap();
    let (status, body) = server.admin_post("/api/v1/reload", "").unwrap();
    assert_eq!(status, 200, "{body}");
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    s.write_all(traffic("203.0.113.9", 2).as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_directive_events_total", 2.0, Duration::from_secs(20))
        .unwrap();
    drop(s);
    server.terminate().unwrap();

    let sources: Vec<String> = common::stored(dir.path())
        .iter()
        .filter(|e| e.plugin_id == 1505 && e.plugin_sid == 900001)
        .map(|e| e.src_ip.to_string())
        .collect();
    assert_eq!(sources, ["203.0.113.7", "203.0.113.8", "203.0.113.9"]);
}
