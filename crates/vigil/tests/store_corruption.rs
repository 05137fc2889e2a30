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
