//! Thousands of concurrent agent sessions on one server, none lost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use common::*;
use vigil::loadgen::{event_id, event_line, open_session};

#[test]
fn two_thousand_concurrent_sessions() {
    const SESSIONS: u32 = 2_000;
    const EVENTS: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "", "");
    let addr = server.agent_addr().unwrap();
    // Every session is open at the same time before any of them sends an event.
    let mut sessions: Vec<_> = (0..SESSIONS)
        .map(|conn| (conn, open_session(addr, conn).unwrap()))
        .collect();
    assert_eq!(
        server.metric("vigil_agent_connections").unwrap(),
        f64::from(SESSIONS)
    );
    for (conn, stream) in &mut sessions {
        let lines: String = (0..EVENTS)
            .map(|seq| event_line(*conn, seq, 1_700_000_000))
            .collect();
        stream.write_all(lines.as_bytes()).unwrap();
    }
    drop(sessions);
    let total = f64::from(SESSIONS) * EVENTS as f64;
    server
        .wait_for_metric("vigil_events_stored_total", total, Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        server.metric("vigil_agent_connections_total").unwrap(),
        f64::from(SESSIONS)
    );
    assert_eq!(server.metric("vigil_events_rejected_total").unwrap(), 0.0);
    server.terminate().unwrap();

    let ids: HashSet<_> = stored(dir.path()).iter().map(|e| e.id).collect();
    let expected: HashSet<_> = (0..SESSIONS)
        .flat_map(|c| (0..EVENTS).map(move |s| event_id(c, s)))
        .collect();
    assert_eq!(ids, expected);
}
