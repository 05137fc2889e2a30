//! SIGTERM stores everything received before exiting, and `vigil search` (the real binary)
//! answers time ranges and every filter exactly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Command;

use common::*;
use vigil::loadgen::{event_id, event_line, open_session};

#[test]
fn sigterm_stores_everything_received_then_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "", "");
    let addr = server.agent_addr().unwrap();
    let mut sessions: Vec<_> = (0..3)
        .map(|conn| open_session(addr, conn).unwrap())
        .collect();
    for (conn, stream) in sessions.iter_mut().enumerate() {
        let lines: String = (0..150)
            .map(|seq| event_line(conn as u32, seq, 1_700_000_000))
            .collect();
        stream.write_all(lines.as_bytes()).unwrap();
    }
    // Sessions stay open: the server must not wait for agents to hang up.
    server.terminate().unwrap();
    assert!(
        !dir.path().join("server.json").exists(),
        "runtime file removed on clean exit"
    );
    let ids: BTreeSet<_> = stored(dir.path()).iter().map(|e| e.id).collect();
    let expected: BTreeSet<_> = (0..3)
        .flat_map(|c| (0..150).map(move |s| event_id(c, s)))
        .collect();
    assert_eq!(ids.len(), 450);
    assert_eq!(ids, expected);
    drop(sessions);
}

/// Sends events with chosen fields, then checks each `vigil search` filter against the set it
/// must return.
#[test]
fn search_cli_filters_and_time_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "", "");
    let addr = server.agent_addr().unwrap();
    // Two sensors; event n: time 1_700_000_000 + 60n, src 198.51.100.(n%3), dst 10.9.0.(n%2),
    // plugin 1000 + n%4, sid n%5.
    for sensor in 0..2u32 {
        let mut s = open_session(addr, 100 + sensor).unwrap();
        for n in (0..40u32).filter(|n| n % 2 == sensor) {
            let line = format!(
                "event type=\"detector\" date=\"{}\" plugin_id=\"{}\" plugin_sid=\"{}\" src_ip=\"198.51.100.{}\" dst_ip=\"10.9.0.{}\" userdata1=\"{}\"\n",
                1_700_000_000 + 60 * n,
                1000 + n % 4,
                n % 5,
                n % 3,
                n % 2,
                b64(&n.to_string())
            );
            s.write_all(line.as_bytes()).unwrap();
        }
    }
    server.terminate().unwrap();

    let search = |args: &[&str]| -> Vec<u32> {
        let (stdout, _) = run_ok(
            Command::new(exe())
                .arg("search")
                .arg("--data-dir")
                .arg(dir.path())
                .args(args),
        );
        stdout
            .lines()
            .map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                event["userdata1"].as_str().unwrap().parse().unwrap()
            })
            .collect()
    };
    let all: Vec<u32> = (0..40).collect();
    let newest_first = |pred: &dyn Fn(u32) -> bool| {
        all.iter()
            .rev()
            .copied()
            .filter(|n| pred(*n))
            .collect::<Vec<_>>()
    };

    assert_eq!(search(&["--limit", "1000"]), newest_first(&|_| true));
    assert_eq!(search(&["--limit", "3", "--oldest-first"]), vec![0, 1, 2]);
    assert_eq!(
        search(&[
            "--from",
            "2023-11-14T22:23:20Z",
            "--to",
            "2023-11-14 22:33:20"
        ]),
        newest_first(&|n| (10..=20).contains(&n)),
        "inclusive range, RFC 3339 and 'YYYY-MM-DD HH:MM:SS' forms"
    );
    assert_eq!(
        search(&["--from", "1700000600", "--to", "1700000660"]),
        vec![11, 10],
        "epoch seconds"
    );
    assert_eq!(
        search(&["--src-ip", "198.51.100.2"]),
        newest_first(&|n| n % 3 == 2)
    );
    assert_eq!(
        search(&["--dst-ip", "::ffff:10.9.0.1"]),
        newest_first(&|n| n % 2 == 1),
        "mapped IPv6 is IPv4"
    );
    assert_eq!(
        search(&["--plugin-id", "1003"]),
        newest_first(&|n| n % 4 == 3)
    );
    assert_eq!(
        search(&["--plugin-sid", "4"]),
        newest_first(&|n| n % 5 == 4)
    );
    assert_eq!(
        search(&["--sensor", "00000000-0000-0000-0000-0000a9e70065"]),
        newest_first(&|n| n % 2 == 1)
    );
    assert_eq!(
        search(&[
            "--plugin-id",
            "1001",
            "--src-ip",
            "198.51.100.1",
            "--from",
            "1700000000",
            "--to",
            "1700001800"
        ]),
        newest_first(&|n| n % 4 == 1 && n % 3 == 1 && n <= 30)
    );
    assert_eq!(search(&["--src-ip", "192.0.2.99"]), Vec::<u32>::new());
    assert_eq!(
        search(&["--from", "1h"]),
        Vec::<u32>::new(),
        "all events are from 2023"
    );

    let bad = Command::new(exe())
        .args(["search", "--from", "someday", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
    let missing = Command::new(exe())
        .args(["search", "--data-dir", "/nonexistent/vigil"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no store at /nonexistent/vigil/events")
    );
}

/// An agent that never reads its replies leaves its session stuck writing them; SIGTERM must
/// still end the server (after the session drain timeout) with everything else stored.
#[test]
fn sigterm_does_not_wait_for_an_agent_that_never_reads() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "", "");
    let addr = server.agent_addr().unwrap();
    let mut good = open_session(addr, 1).unwrap();
    let lines: String = (0..100)
        .map(|seq| event_line(1, seq, 1_700_000_000))
        .collect();
    good.write_all(lines.as_bytes()).unwrap();
    let mut stuck = open_session(addr, 2).unwrap();
    let writer = std::thread::spawn(move || {
        // Every line is answered `ok`; the replies pile up unread until the server blocks.
        let chunk = "session-append-plugin id=\"1\" plugin_id=\"4003\"\n".repeat(10_000);
        for _ in 0..200 {
            if stuck.write_all(chunk.as_bytes()).is_err() {
                break;
            }
        }
    });
    server
        .wait_for_metric(
            "vigil_events_stored_total",
            100.0,
            std::time::Duration::from_secs(20),
        )
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let began = std::time::Instant::now();
    server.terminate().unwrap();
    assert!(
        began.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        began.elapsed()
    );
    assert_eq!(stored(dir.path()).len(), 100);
    drop(good);
    let _ = writer.join();
}

/// `vigil search --alarms` prints each alarm once (its latest revision), `--revisions` all of
/// them, `--id` finds an alarm or an event, and filters alarms do not carry are refused.
#[test]
fn search_finds_alarms_by_latest_revision_and_anything_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.xml");
    let step = |name: &str, inner: &str| {
        format!(
            "<rules><rule type=\"detector\" name=\"{name}\" reliability=\"10\" occurrence=\"1\" time_out=\"600\" from=\"1:SRC_IP\" plugin_id=\"4004\" plugin_sid=\"2\">{inner}</rule></rules>"
        )
    };
    std::fs::write(
        &rules,
        format!(
            "<directive id=\"500\" name=\"three steps\" priority=\"5\">\n<rule type=\"detector\" name=\"first\" reliability=\"10\" plugin_id=\"4004\" plugin_sid=\"2\">{}</rule></directive>\n",
            step("second", &step("third", ""))
        ),
    )
    .unwrap();
    let server = start(dir.path(), "", &rules_tables(&[], &rules, ""));
    let mut s = open_session(server.agent_addr().unwrap(), 1).unwrap();
    // Three steps from .7 (one alarm, revisions 1-3), then one from .8 (a second alarm).
    for (n, src) in [(0, 7), (1, 7), (2, 7), (3, 8)] {
        let line = format!(
            "event type=\"detector\" date=\"{}\" plugin_id=\"4004\" plugin_sid=\"2\" src_ip=\"203.0.113.{src}\" dst_ip=\"10.0.0.5\" priority=\"1\" reliability=\"1\"\n",
            1_700_000_000 + n
        );
        s.write_all(line.as_bytes()).unwrap();
    }
    server
        .wait_for_metric(
            "vigil_alarms_total",
            4.0,
            std::time::Duration::from_secs(20),
        )
        .unwrap();
    drop(s);
    server.terminate().unwrap();

    let search = |args: &[&str]| {
        Command::new(exe())
            .arg("search")
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .output()
            .unwrap()
    };
    let lines = |args: &[&str]| -> Vec<serde_json::Value> {
        let output = search(args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let alarms = |args: &[&str]| -> Vec<(String, u64)> {
        lines(args)
            .iter()
            .map(|a| {
                (
                    a["src_ip"].as_str().unwrap().to_string(),
                    a["revision"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let seven = || "203.0.113.7".to_string();
    let eight = || "203.0.113.8".to_string();
    assert_eq!(alarms(&["--alarms"]), vec![(eight(), 1), (seven(), 3)]);
    assert_eq!(
        alarms(&["--alarms", "--revisions"]),
        vec![(eight(), 1), (seven(), 3), (seven(), 2), (seven(), 1)]
    );
    assert_eq!(
        alarms(&["--alarms", "--oldest-first", "--limit", "1"]),
        vec![(seven(), 3)]
    );
    assert_eq!(
        alarms(&["--alarms", "--src-ip", "203.0.113.8"]),
        vec![(eight(), 1)]
    );
    assert_eq!(
        alarms(&["--alarms", "--plugin-id", "500"]),
        vec![(eight(), 1), (seven(), 3)],
        "--plugin-id is the directive id"
    );
    assert_eq!(alarms(&["--alarms", "--plugin-id", "501"]), vec![]);

    let id = lines(&["--alarms", "--src-ip", "203.0.113.7"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(alarms(&["--id", &id]), vec![(seven(), 3)]);
    assert_eq!(
        alarms(&["--id", &id, "--revisions"]),
        vec![(seven(), 1), (seven(), 2), (seven(), 3)]
    );
    let event = stored(dir.path())
        .into_iter()
        .find(|e| e.plugin_id == 4004)
        .unwrap();
    let found = lines(&["--id", &event.id.to_string()]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], event.id.to_string());
    assert_eq!(found[0]["plugin_id"], 4004);

    let refused = |args: &[&str], needle: &str| {
        let output = search(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} succeeded");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    };
    refused(
        &["--id", "00000000-0000-0000-0000-000000000001"],
        "no event or alarm has id 00000000-0000-0000-0000-000000000001",
    );
    refused(
        &["--alarms", "--sensor", "dmz"],
        "--sensor does not apply to alarms",
    );
    refused(
        &["--alarms", "--plugin-sid", "2"],
        "--plugin-sid does not apply to alarms",
    );
    refused(&["--id", &id, "--src-ip", "203.0.113.7"], "--src-ip");
    refused(&["--revisions"], "--revisions needs --alarms or --id");
}
