//! A flipped bit early in the active segment of a real server's store costs one event: after a
//! restart every other acknowledged event is still found by `vigil search`, and the damage is
//! quarantined, counted and alarmed. A damaged index costs nothing: it is quarantined, counted,
//! alarmed and rebuilt, and searches by the fields it indexes stay exact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;
use vigil::loadgen::{event_id, event_line, open_session};

/// Byte offset of the `n`th record of a segment.
fn record_offset(bytes: &[u8], n: usize) -> usize {
    let mut pos = 16;
    for _ in 0..n {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    pos
}

fn searched_ids(dir: &Path) -> BTreeSet<String> {
    searched_ids_where(dir, &[])
}

/// The ids `vigil search` prints with these filters.
fn searched_ids_where(dir: &Path, filters: &[&str]) -> BTreeSet<String> {
    let (stdout, _) = run_ok(
        Command::new(exe())
            .arg("search")
            .arg("--data-dir")
            .arg(dir)
            .args(["--limit", "100000"])
            .args(filters),
    );
    stdout
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            event["id"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_flipped_bit_costs_one_event_and_raises_an_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "", "");
    let mut session = open_session(server.agent_addr().unwrap(), 0).unwrap();
    let lines: String = (0..300)
        .map(|seq| event_line(0, seq, 1_700_000_000))
        .collect();
    session.write_all(lines.as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 300.0, Duration::from_secs(30))
        .unwrap();
    server.terminate().unwrap();
    drop(session);
    let acknowledged: BTreeSet<String> = (0..300).map(|s| event_id(0, s).to_string()).collect();
    assert!(searched_ids(dir.path()).is_superset(&acknowledged));

    let events = dir.path().join("events");
    let mut segments: Vec<_> = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segments.sort();
    let active = segments.pop().unwrap();
    let mut bytes = std::fs::read(&active).unwrap();
    let at = record_offset(&bytes, 3) + 30;
    bytes[at] ^= 0x04;
    std::fs::write(&active, &bytes).unwrap();

    let found = searched_ids(dir.path());
    assert_eq!(
        found.intersection(&acknowledged).count(),
        299,
        "read-only search skips the damaged record only"
    );

    let server = start(dir.path(), "", "");
    server
        .wait_for_metric("vigil_store_corruption_total", 1.0, Duration::from_secs(30))
        .unwrap();
    server.terminate().unwrap();
    assert_eq!(
        searched_ids(dir.path()).intersection(&acknowledged).count(),
        299,
        "every other acknowledged event survives the restart"
    );
    let quarantined: Vec<_> = std::fs::read_dir(events.join("quarantine"))
        .unwrap()
        .collect();
    assert_eq!(quarantined.len(), 1);
    let alarms = stored_alarms(dir.path());
    let segment_name = active.display().to_string();
    assert!(
        alarms
            .iter()
            .any(|a| a.name.starts_with("Store: damaged records quarantined")
                && a.name.contains(&segment_name)),
        "{:?}",
        alarms.iter().map(|a| &a.name).collect::<Vec<_>>()
    );
}

#[test]
fn a_damaged_index_is_rebuilt_and_searches_by_its_fields_stay_exact() {
    let dir = tempfile::tempdir().unwrap();
    let tables = "[store]\nsegment_mib = 1\n";
    let server = start(dir.path(), "", tables);
    let mut session = open_session(server.agent_addr().unwrap(), 0).unwrap();
    const N: u64 = 6000;
    let lines: String = (0..N)
        .map(|seq| event_line(0, seq, 1_700_000_000))
        .collect();
    session.write_all(lines.as_bytes()).unwrap();
    server
        .wait_for_metric(
            "vigil_events_stored_total",
            N as f64,
            Duration::from_secs(60),
        )
        .unwrap();
    server.terminate().unwrap();
    drop(session);
    let all: BTreeSet<String> = (0..N).map(|s| event_id(0, s).to_string()).collect();
    // Sequence 4 is the only event from 203.0.0.5, in the first (sealed) segment.
    let one: BTreeSet<String> = [event_id(0, 4).to_string()].into();
    let by_source = ["--src-ip", "203.0.0.5"];
    assert_eq!(searched_ids_where(dir.path(), &by_source), one);

    let events = dir.path().join("events");
    let mut indexes: Vec<_> = std::fs::read_dir(&events)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    indexes.sort();
    let index = indexes.first().expect("a sealed segment");
    let mut bytes = std::fs::read(index).unwrap();
    let mid = bytes.len() / 2;
    for i in 0..8 {
        bytes[mid + 13 * i] ^= 0x5a;
    }
    std::fs::write(index, &bytes).unwrap();
    assert_eq!(
        searched_ids_where(dir.path(), &by_source),
        one,
        "read-only search"
    );

    let server = start(dir.path(), "", tables);
    server
        .wait_for_metric("vigil_store_corruption_total", 1.0, Duration::from_secs(30))
        .unwrap();
    server.terminate().unwrap();
    assert_eq!(searched_ids_where(dir.path(), &by_source), one);
    assert_eq!(
        searched_ids_where(dir.path(), &["--dst-ip", "10.0.0.10"])
            .intersection(&all)
            .count(),
        N as usize
    );
    let name = index.file_name().unwrap().to_str().unwrap();
    let kept = events
        .join("quarantine")
        .join(format!("{name}-0-{}.bin", bytes.len()));
    assert_eq!(std::fs::read(&kept).unwrap(), bytes);
    let alarms = stored_alarms(dir.path());
    let index_name = index.display().to_string();
    assert!(
        alarms
            .iter()
            .any(|a| a.name.starts_with("Store: damaged records quarantined")
                && a.name.contains(&index_name)),
        "{:?}",
        alarms.iter().map(|a| &a.name).collect::<Vec<_>>()
    );
}

#[test]
fn damaged_state_files_are_quarantined_alarmed_and_rebuilt_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "", "");
    let mut session = open_session(server.agent_addr().unwrap(), 0).unwrap();
    let lines: String = (0..50)
        .map(|seq| event_line(0, seq, 1_700_000_000))
        .collect();
    session.write_all(lines.as_bytes()).unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 50.0, Duration::from_secs(30))
        .unwrap();
    server.terminate().unwrap();
    drop(session);
    let files = [
        dir.path().join("correlation").join("state.json"),
        dir.path().join("bus").join("sequences.json"),
    ];
    let mut damaged = Vec::new();
    for file in &files {
        let mut bytes = std::fs::read(file).unwrap();
        // A digit of "events_next" changed: still valid JSON, only the checksum can tell.
        let at = bytes
            .windows(14)
            .position(|w| w == b"\"events_next\":")
            .unwrap()
            + 14;
        bytes[at] = if bytes[at] == b'1' { b'2' } else { b'1' };
        std::fs::write(file, &bytes).unwrap();
        damaged.push(bytes);
    }

    // The server starts (it used to refuse), rebuilds both from the store and says so.
    let config = vigil::process::loopback_config(dir.path(), "", "");
    let server =
        vigil::process::ServerProcess::start_logging(&exe(), dir.path(), &config, "info").unwrap();
    server
        .wait_for_metric("vigil_store_corruption_total", 2.0, Duration::from_secs(30))
        .unwrap();
    server.terminate().unwrap();
    let alarms = stored_alarms(dir.path());
    for (file, bytes) in files.iter().zip(&damaged) {
        let kept = file.parent().unwrap().join("quarantine").join(format!(
            "{}-0-{}.bin",
            file.file_name().unwrap().to_str().unwrap(),
            bytes.len()
        ));
        assert_eq!(&std::fs::read(&kept).unwrap(), bytes);
        let name = file.display().to_string();
        assert!(
            alarms
                .iter()
                .any(|a| a.name.starts_with("Store: damaged records quarantined")
                    && a.name.contains(&name)),
            "{name}: {:?}",
            alarms.iter().map(|a| &a.name).collect::<Vec<_>>()
        );
        // Written again whole, with its checksum.
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains("\ncrc32c "), "{text}");
    }
    // The log without its colours.
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    let mut plain = String::new();
    let mut in_escape = false;
    for c in log.chars() {
        match (in_escape, c) {
            (false, '\u{1b}') => in_escape = true,
            (false, c) => plain.push(c),
            (true, 'm') => in_escape = false,
            (true, _) => {}
        }
    }
    let ready: Vec<&str> = plain
        .lines()
        .filter(|l| l.contains("correlation ready"))
        .collect();
    assert!(
        ready.len() == 1 && ready[0].contains("replayed=50 "),
        "the whole store correlated again: {ready:?}"
    );
}
