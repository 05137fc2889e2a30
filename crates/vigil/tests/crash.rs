//! kill -9 under sustained load, restart, reopen, three times over: every event the server
//! reported stored is there, none twice, no record is corrupt, and each session's events are an
//! unbroken prefix of what it sent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use vigil::loadgen::{event_id, event_line, open_session};

const SESSIONS: u32 = 4;
const CYCLES: u32 = 3;

#[test]
fn kill_minus_nine_under_load_loses_nothing_reported_stored() {
    let dir = tempfile::tempdir().unwrap();
    // Small segments, so crashes also land around sealing.
    let tables = "[store]\nsegment_mib = 1\n";
    let mut reported_stored = 0.0;
    for cycle in 0..CYCLES {
        let server = start(dir.path(), "", tables);
        let addr = server.agent_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..SESSIONS)
            .map(|i| {
                let conn = cycle * 100 + i;
                let mut stream = open_session(addr, conn).unwrap();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut seq = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let chunk: String = (seq..seq + 200)
                            .map(|s| event_line(conn, s, 1_700_000_000))
                            .collect();
                        if stream.write_all(chunk.as_bytes()).is_err() {
                            break;
                        }
                        seq += 200;
                    }
                })
            })
            .collect();
        // Well into sustained load (several segments sealed), read what the server says it has
        // stored, then kill it at once.
        server
            .wait_for_metric(
                "vigil_events_stored_total",
                30_000.0,
                Duration::from_secs(60),
            )
            .unwrap();
        let stored_now = server.metric("vigil_events_stored_total").unwrap();
        server.kill9().unwrap();
        stop.store(true, Ordering::Relaxed);
        for sender in senders {
            sender.join().unwrap();
        }
        reported_stored += stored_now;

        // Reopen: stored() decodes every record, so a corrupt one fails the test.
        let events = stored(dir.path());
        let ids: HashSet<_> = events.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), events.len(), "cycle {cycle}: duplicate events");
        assert!(
            events.len() as f64 >= reported_stored,
            "cycle {cycle}: {} events in the store, {reported_stored} were reported stored",
            events.len()
        );
        let mut per_session: BTreeMap<u32, u64> = BTreeMap::new();
        for event in &events {
            let conn = (event.id.as_u128() >> 64) as u32;
            *per_session.entry(conn).or_default() += 1;
        }
        for (&conn, &count) in &per_session {
            for seq in 0..count {
                assert!(
                    ids.contains(&event_id(conn, seq)),
                    "cycle {cycle}: session {conn} has a gap at {seq} of {count}"
                );
            }
        }
        assert_eq!(
            per_session.len() as u32,
            (cycle + 1) * SESSIONS,
            "every session stored something"
        );
    }

    // A last restart recovers and keeps working.
    let before = stored(dir.path()).len();
    let server = start(dir.path(), "", tables);
    assert_eq!(server.metric("vigil_store_records").unwrap(), before as f64);
    let mut s = open_session(server.agent_addr().unwrap(), 999).unwrap();
    s.write_all(event_line(999, 0, 1_700_000_000).as_bytes())
        .unwrap();
    server
        .wait_for_metric("vigil_events_stored_total", 1.0, Duration::from_secs(10))
        .unwrap();
    server.terminate().unwrap();
    assert_eq!(stored(dir.path()).len(), before + 1);
}
