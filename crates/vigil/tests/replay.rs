//! `vigil replay --store`: the events a server stored, replayed through the real binary, give
//! exactly the alarms the server raised over them; `vigil replay --until`: windows still open at
//! the end of the input fire (absence levels) deterministically.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use vigil::loadgen::open_session;
use vigil_event::{Alarm, Event, TimeSource, Transport};
use vigil_store::Log;

/// `count` pam_unix authentication failures (plugin 4004 sid 2) from `src` to 10.0.0.5, one a
/// second of device time from 1_700_000_000 + `first`.
fn failures(src: &str, first: u32, count: u32) -> String {
    (first..first + count)
        .map(|n| format!("event type=\"detector\" date=\"{}\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"{src}\" dst_ip=\"10.0.0.5\" dst_port=\"22\"\n", 1_700_000_000 + n))
        .collect()
}

/// Every record of the log `dir/name`, in record order (the order the server wrote them).
fn records<R: vigil_store::Record>(dir: &Path, name: &str) -> Vec<R> {
    let mut all = Vec::new();
    Log::<R>::open_read_only(&dir.join(name))
        .unwrap()
        .scan_from(0, |_, r| all.push(r))
        .unwrap();
    all
}

/// Alarms of a replay's standard output, as JSON values (every field compared).
fn printed_alarms(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v.get("evidence").is_some())
        .collect()
}

fn replay_store(dir: &Path, range: &[&str]) -> (String, String) {
    run_ok(
        Command::new(exe())
            .args(["replay", "--store"])
            .arg(dir)
            .args(range)
            .arg("--directives")
            .arg(corpus("ossim/directives"))
            .arg("--sid-tables")
            .arg(corpus("ossim/plugins-sql")),
    )
}

/// `count` sshd password failures from `src` as a device logs them (built-in plugin 4003 sid 1).
fn sshd_failures(src: &str, count: u16) -> String {
    (0..count)
        .map(|n| format!("<38>Dec  1 08:00:{n:02} host1 sshd[42]: Failed password for root from {src} port {} ssh2\n", 5000 + n))
        .collect()
}

#[test]
fn replay_of_the_store_gives_exactly_the_alarms_the_server_gave() {
    let root = tempfile::tempdir().unwrap();
    let (core_dir, edge_dir) = (root.path().join("core"), root.path().join("edge"));
    let tables = corpus_rules("");
    let server = start(&core_dir, "", &tables);
    // Two legacy agents: a brute force from each, interleaved; correlated on receive time.
    let mut a = open_session(server.agent_addr().unwrap(), 1).unwrap();
    let mut b = open_session(server.agent_addr().unwrap(), 2).unwrap();
    a.write_all(failures("203.0.113.7", 0, 40).as_bytes())
        .unwrap();
    b.write_all(failures("198.51.100.9", 0, 30).as_bytes())
        .unwrap();
    a.write_all(failures("203.0.113.7", 40, 31).as_bytes())
        .unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 101.0, Duration::from_secs(30))
        .unwrap();
    // An edge over the signed bus: an SSH brute force, correlated on the edge's stamps.
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let edge = vigil::process::EdgeProcess::start(
        &exe(),
        &edge_dir,
        &edge_config(&edge_dir, "edge1", &[server.info.bus[0]], ""),
    )
    .unwrap();
    TcpStream::connect(edge.source_addr("tcp").unwrap())
        .unwrap()
        .write_all(sshd_failures("192.0.2.44", 16).as_bytes())
        .unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 117.0, Duration::from_secs(30))
        .unwrap();
    edge.terminate().unwrap();
    drop((a, b));
    server.terminate().unwrap();
    let dir = core_dir.as_path();

    let events: Vec<Event> = records(dir, "events");
    let core_events: HashSet<_> = events
        .iter()
        .filter(|e| e.provenance.transport == Transport::Core)
        .map(|e| e.id)
        .collect();
    let stored: Vec<serde_json::Value> = records::<Alarm>(dir, "alarms")
        .iter()
        .filter(|a| {
            !a.evidence
                .iter()
                .flat_map(|e| &e.event_ids)
                .any(|id| core_events.contains(id))
        })
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    let from_the_edge = |e: &&Event| {
        e.provenance.transport == Transport::Bus && e.provenance.time_source == TimeSource::Edge
    };
    assert_eq!(
        events
            .iter()
            .filter(from_the_edge)
            .filter(|e| e.plugin_id == 4003)
            .count(),
        16
    );
    // The sessions' events interleave as they arrived: the alarms' order may differ from run
    // to run (the replay's must not differ from the store's).
    let mut levels: Vec<(u64, u64, u64)> = stored
        .iter()
        .map(|a| {
            (
                a["directive_id"].as_u64().unwrap(),
                a["revision"].as_u64().unwrap(),
                a["level"].as_u64().unwrap(),
            )
        })
        .collect();
    levels.sort();
    assert_eq!(
        levels,
        vec![
            (50004, 1, 2),
            (50004, 1, 2),
            (50004, 2, 2),
            (50004, 3, 2),
            (50004, 4, 3),
            (50113, 1, 3)
        ],
        "the agents: level 2 for both sources, the first revised at 32 and 64 events counted, \
         then level 3; the edge: SSH level 3"
    );

    let (stdout, stderr) = replay_store(dir, &[]);
    assert_eq!(printed_alarms(&stdout), stored);
    let directive_events = events.iter().filter(|e| e.plugin_id == 1505).count();
    assert_eq!(directive_events, 5);
    assert!(
        stderr.contains("replayed 117 events (0 lines rejected, 0 unparsed): 6 alarm revisions"),
        "the 5 directive events the server stored are not fed again: {stderr}"
    );

    // A range starts with empty correlation state: the last 20 failures of the first source
    // alone are below level 2.
    let (stdout, stderr) = replay_store(
        dir,
        &["--from", "1700000051", "--to", "2023-11-14 22:15:00"],
    );
    assert!(printed_alarms(&stdout).is_empty(), "{stdout}");
    assert!(
        stderr.contains("replayed 20 events (0 lines rejected, 0 unparsed): 0 alarm revisions"),
        "{stderr}"
    );
    // A directory that is no store is named; store and files do not mix; a range needs a store.
    let nowhere = root.path().join("nowhere").display().to_string();
    let agent_log = root.path().join("agent.log").display().to_string();
    for (args, expected) in [
        (
            vec!["--store", nowhere.as_str()],
            format!(
                "vigil: error: no event log at {nowhere}/events (is --store a `vigil server` data directory?)"
            ),
        ),
        (
            vec!["--store", nowhere.as_str(), agent_log.as_str()],
            "error: the argument '--store <DIR>' cannot be used with '[FILE]...'".to_string(),
        ),
        (
            vec!["--from", "7d", agent_log.as_str()],
            "vigil: error: --from and --to select stored events: they need --store DIR".to_string(),
        ),
    ] {
        let output = Command::new(exe())
            .arg("replay")
            .args(&args)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().next(), Some(expected.as_str()), "{args:?}");
    }
}

/// Directive 900: a failure (level 1, risk 0) NOT followed by a success (plugin 4004 sid 1)
/// from the same source within 60 s fires level 2 (5 x 10 x 2 / 25 = 4).
const ABSENCE: &str = "<directive id=\"900\" name=\"failure without success\" priority=\"5\">\n\
  <rule type=\"detector\" name=\"failure\" reliability=\"0\" occurrence=\"1\" from=\"ANY\" to=\"ANY\" plugin_id=\"4004\" plugin_sid=\"2\">\n\
    <rules>\n\
      <rule type=\"detector\" name=\"no success\" not=\"true\" reliability=\"10\" occurrence=\"1\" time_out=\"60\" from=\"1:SRC_IP\" to=\"ANY\" plugin_id=\"4004\" plugin_sid=\"1\"/>\n\
    </rules>\n\
  </rule>\n\
</directive>\n";

#[test]
fn until_fires_the_absence_levels_still_open_at_the_end_of_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("absence.xml");
    std::fs::write(&rules, ABSENCE).unwrap();
    let file = dir.path().join("agent.log");
    // A fails then succeeds within the window; C fails last, and nothing follows.
    std::fs::write(
        &file,
        "event type=\"detector\" date=\"1700000000\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.5\" event_id=\"00000000-0000-0000-0000-00000000000a\"\n\
         event type=\"detector\" date=\"1700000010\" plugin_id=\"4004\" plugin_sid=\"1\" src_ip=\"203.0.113.7\" dst_ip=\"10.0.0.5\" event_id=\"00000000-0000-0000-0000-00000000000b\"\n\
         event type=\"detector\" date=\"1700000020\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"198.51.100.9\" dst_ip=\"10.0.0.5\" event_id=\"00000000-0000-0000-0000-00000000000c\"\n",
    )
    .unwrap();
    let replay = |extra: &[&str]| {
        run_ok(
            Command::new(exe())
                .arg("replay")
                .args(extra)
                .arg("--directives")
                .arg(&rules)
                .arg("--sid-tables")
                .arg(corpus("ossim/plugins-sql/pam_unix.sql"))
                .arg(&file),
        )
    };
    let (stdout, stderr) = replay(&[]);
    assert_eq!(
        stdout, "",
        "C's window is still open at the end of the input"
    );
    assert!(
        stderr.contains("replayed 3 events (0 lines rejected, 0 unparsed): 0 alarm revisions"),
        "{stderr}"
    );
    // The window closes at 1700000080: a clock short of it fires nothing.
    let (stdout, _) = replay(&["--until", "1700000079"]);
    assert_eq!(stdout, "");

    let (stdout, stderr) = replay(&["--until", "2023-11-14T22:15:00Z"]);
    assert!(
        stderr.contains("replayed 3 events (0 lines rejected, 0 unparsed): 1 alarm revisions"),
        "{stderr}"
    );
    let alarms: Vec<Alarm> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alarms.len(), 1, "{stdout}");
    let alarm = &alarms[0];
    assert_eq!(
        (
            alarm.directive_id,
            alarm.revision,
            alarm.level,
            alarm.risk,
            alarm.src_ip.to_string(),
            alarm.first_seen.as_secs(),
            alarm.last_seen.as_secs()
        ),
        (
            900,
            1,
            2,
            4,
            "198.51.100.9".to_string(),
            1_700_000_020,
            1_700_000_080
        )
    );
    let evidence: Vec<(u8, Vec<String>)> = alarm
        .evidence
        .iter()
        .map(|e| {
            (
                e.level,
                e.event_ids.iter().map(|id| id.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        evidence,
        vec![(1, vec!["00000000-0000-0000-0000-00000000000c".to_string()])],
        "the failure is the evidence; the absence has no event"
    );

    // With --events the directive event the absence produced is printed before its alarm.
    let (stdout, _) = replay(&["--events", "--until", "2023-11-14T22:15:00Z"]);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let [.., directive_event, alarm] = lines.as_slice() else {
        panic!("{stdout}");
    };
    assert_eq!(
        (
            &directive_event["plugin_id"],
            &directive_event["plugin_sid"],
            &directive_event["src_ip"]
        ),
        (
            &serde_json::json!(1505),
            &serde_json::json!(900),
            &serde_json::json!("198.51.100.9")
        ),
        "{stdout}"
    );
    assert_eq!(alarm["directive_id"], 900, "{stdout}");
    assert_eq!(printed_alarms(&stdout).len(), 1);
}

/// A server whose correlation is not on its defaults (a cap of 3 backlogs per directive):
/// `vigil replay --store --config` with the server's own configuration file gives exactly its
/// alarms, the pressure alarms of the cap included; without it, the default cap gives others.
#[test]
fn replay_of_the_store_with_the_servers_configuration_gives_its_alarms() {
    let dir = tempfile::tempdir().unwrap();
    let tables = corpus_rules("max_backlogs_per_directive = 3\n");
    let server = start(dir.path(), "", &tables);
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    let sources: String = (1..=8)
        .map(|k| failures(&format!("198.51.100.{k}"), k, 1))
        .collect();
    s.write_all(sources.as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 8.0, Duration::from_secs(20))
        .unwrap();
    drop(s);
    server.terminate().unwrap();
    let stored: Vec<serde_json::Value> = records::<Alarm>(dir.path(), "alarms")
        .iter()
        .map(|a| serde_json::to_value(a).unwrap())
        .collect();
    assert!(
        stored.iter().any(|a| a["name"]
            .as_str()
            .unwrap()
            .starts_with("Correlation state under pressure")),
        "{stored:?}"
    );
    let (stdout, _) = run_ok(
        Command::new(exe())
            .args(["replay", "--store"])
            .arg(dir.path())
            .arg("--config")
            .arg(dir.path().join("vigil.toml")),
    );
    assert_eq!(printed_alarms(&stdout), stored);
    let (stdout, _) = replay_store(dir.path(), &[]);
    assert_ne!(
        printed_alarms(&stdout),
        stored,
        "the default cap evicts nothing here"
    );
}
