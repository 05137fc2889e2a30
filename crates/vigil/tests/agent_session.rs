//! Agent protocol conformance over real sockets against a real server process: replies, which
//! malformed inputs skip a line and which close the session (OSSIM spec 2.7), sensor admission,
//! sid-table enrichment, and the exact rejection counts in /metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use vigil_event::{GENERIC_PLUGIN_SID, Protocol, TimeSource, Timestamp, Uuid};

const SENSOR: &str = "6a1b8c2e-1d2f-4e3a-9b4c-5d6e7f809102";

fn connect_line() -> String {
    format!("connect id=\"7\" type=\"sensor\" version=\"5.8.0\" sensor_id=\"{SENSOR}\"\n")
}

fn event(n: u32) -> String {
    format!(
        "event type=\"detector\" date=\"{}\" plugin_id=\"4003\" plugin_sid=\"{}\" src_ip=\"203.0.113.{n}\" dst_ip=\"10.0.0.5\" dst_port=\"22\" userdata1=\"{}\"\n",
        1_700_000_000 + n,
        if n == 99 { 777_777 } else { 1 },
        b64(&format!("event-{n}"))
    )
}

fn tags(dir: &std::path::Path) -> Vec<String> {
    stored(dir)
        .into_iter()
        .map(|e| e.userdata.userdata1.unwrap_or_default())
        .collect()
}

#[test]
fn skipped_lines_and_closed_sessions_follow_spec_2_7() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "",
        &format!(
            "[plugins]\nsid_tables = [{:?}]\n",
            corpus("ossim/plugins-sql").display().to_string()
        ),
    );

    // A session that survives every skip-line case and stores the valid events around them.
    let mut s = connect(&server);
    send(&mut s, &connect_line());
    assert_eq!(read_line(&s), "ok id=\"7\"\n");
    send(&mut s, &event(1));
    send(&mut s, "evnt type=\"detector\" plugin_id=\"4003\"\n"); // unknown command
    send(
        &mut s,
        "event type=\"detector\" plugin_id=\"4003\" colour=\"red\"\n",
    ); // unknown key
    send(
        &mut s,
        "event type=\"detector\" plugin_id=\"4003\" src_port=\"http\"\n",
    ); // non-numeric
    send(
        &mut s,
        "event type=\"detector\" plugin_id=\"4003\" src_ip=\"10.0.0.256\"\n",
    ); // bad IP
    send(
        &mut s,
        "event type=\"detector\" plugin_id=\"4003\" ctx=\"xyz\"\n",
    ); // bad UUID
    send(&mut s, "event plugin_id=\"4003\"\n"); // no type
    send(&mut s, "event type=\"detector\" plugin_id=\"0\"\n"); // plugin 0
    send(&mut s, "reload-directives id=\"9\"\n"); // unsupported: answered error
    send(&mut s, "ok\n"); // <= 2 bytes + newline: ignored
    send(&mut s, &event(99)); // unknown sid: kept as generic
    send(
        &mut s,
        "session-append-plugin id=\"10\" plugin_id=\"4003\"\n",
    );
    assert_eq!(read_line(&s), "error id=\"9\"\n");
    assert_eq!(read_line(&s), "ok id=\"10\"\n");
    // An unquoted value closes the session; what follows it is never read.
    send(
        &mut s,
        &format!("event type=\"detector\" plugin_id=4003\n{}", event(2)),
    );
    assert!(closed_by_server(&mut s));

    server
        .wait_for_metric("vigil_events_stored_total", 2.0, Duration::from_secs(10))
        .unwrap();
    let series = |reason: &str| server.rejections(reason).unwrap();
    for (reason, count) in [
        ("unknown_command", 1.0),
        ("unknown_key", 1.0),
        ("invalid_number", 1.0),
        ("invalid_ip", 1.0),
        ("invalid_uuid", 1.0),
        ("missing_type", 1.0),
        ("missing_plugin_id", 1.0),
        ("unsupported_command", 1.0),
        ("unquoted_value", 1.0),
    ] {
        assert_eq!(series(reason), count, "{reason}");
    }
    assert_eq!(server.metric("vigil_events_rejected_total").unwrap(), 9.0);
    assert_eq!(
        server.metric("vigil_events_unknown_sid_total").unwrap(),
        1.0
    );
    server.terminate().unwrap();

    let events = stored(dir.path());
    assert_eq!(tags(dir.path()), vec!["event-1", "event-99"]);
    let first = &events[0];
    assert_eq!(
        (first.plugin_id, first.plugin_sid, first.unknown_sid),
        (4003, 1, None)
    );
    assert_eq!(
        (first.priority, first.reliability),
        (Some(3), Some(2)),
        "from the sshd sid table"
    );
    assert_eq!(first.time, Timestamp::from_secs(1_700_000_001));
    assert_eq!(first.provenance.time_source, TimeSource::Device);
    assert_eq!(first.src_ip, "203.0.113.1".parse::<IpAddr>().unwrap());
    assert_eq!(first.dst_port, 22);
    assert_eq!(first.protocol, Protocol::TCP);
    assert_eq!(first.provenance.sensor, SENSOR);
    assert_eq!(first.provenance.sensor_id, Uuid::parse_str(SENSOR).ok());
    assert_eq!(first.sensor_ip, "127.0.0.1".parse::<IpAddr>().unwrap());
    assert!(!first.provenance.authenticated);
    let generic = &events[1];
    assert_eq!(
        (generic.plugin_sid, generic.unknown_sid),
        (GENERIC_PLUGIN_SID, Some(777_777))
    );
    assert_eq!((generic.priority, generic.reliability), (Some(2), Some(2)));
}

#[test]
fn handshakes_that_close_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "max_line_bytes = 512\n",
        "[[agent.sensors]]\nname = \"dmz-fw\"\nip = \"127.0.0.1\"\nid = \"00000000-0000-4000-8000-0000000000aa\"\n",
    );

    // BSON length prefix instead of `conn`.
    let mut s = connect(&server);
    s.set_nodelay(true).unwrap();
    std::io::Write::write_all(&mut s, &200u32.to_le_bytes()).unwrap();
    assert!(closed_by_server(&mut s));
    // Garbage.
    let mut s = connect(&server);
    send(&mut s, "GET / HTTP/1.0\r\n\r\n");
    assert!(closed_by_server(&mut s));
    // Refused handshakes: each is answered, then the session is closed.
    for (line, reply) in [
        // A control session type.
        (
            "connect id=\"3\" type=\"web\" sensor_id=\"00000000-0000-4000-8000-0000000000aa\"\n",
            "error id=\"3\"\n",
        ),
        // A v4+ sensor without sensor_id.
        (
            "connect id=\"4\" type=\"sensor\" version=\"4.15.0\"\n",
            "error id=\"4\"\n",
        ),
        // 127.0.0.1 is configured as sensor ...aa: another id is told to adopt that one.
        (
            "connect id=\"5\" type=\"sensor\" version=\"5.8.0\" sensor_id=\"00000000-0000-4000-8000-0000000000bb\"\n",
            "noack id=\"5\" your_sensor_id=\"00000000-0000-4000-8000-0000000000aa\"\n",
        ),
    ] {
        let mut s = connect(&server);
        send(&mut s, line);
        assert_eq!(read_line(&s), reply);
        assert!(closed_by_server(&mut s), "{line}");
    }
    // The configured sensor is admitted under its name; an overlong line is skipped, the
    // session goes on.
    let mut s = connect(&server);
    send(
        &mut s,
        "connect id=\"6\" type=\"sensor\" version=\"5.8.0\" sensor_id=\"00000000-0000-4000-8000-0000000000aa\"\n",
    );
    assert_eq!(read_line(&s), "ok id=\"6\"\n");
    send(
        &mut s,
        &format!(
            "event type=\"detector\" plugin_id=\"7\" log=\"{}\"\n",
            b64(&"x".repeat(600))
        ),
    );
    send(
        &mut s,
        "event type=\"detector\" plugin_id=\"7\" plugin_sid=\"2\"\n",
    );
    drop(s);

    server
        .wait_for_metric("vigil_events_stored_total", 1.0, Duration::from_secs(10))
        .unwrap();
    let series = |reason: &str| server.rejections(reason).unwrap();
    assert_eq!(series("bson_refused"), 1.0);
    assert_eq!(series("bad_handshake"), 1.0);
    assert_eq!(series("session_type_refused"), 1.0);
    assert_eq!(series("sensor_id_required"), 1.0);
    assert_eq!(series("sensor_id_mismatch"), 1.0);
    assert_eq!(series("line_too_long"), 1.0);
    assert_eq!(server.metric("vigil_events_rejected_total").unwrap(), 6.0);
    server.terminate().unwrap();
    let events = stored(dir.path());
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].provenance.sensor, "dmz-fw");
    assert_eq!(events[0].plugin_id, 7);
}

#[test]
fn unknown_sensors_are_refused_when_configured_so() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "unknown_sensors = \"reject\"\n", "");
    let mut s = connect(&server);
    send(&mut s, &connect_line());
    assert_eq!(read_line(&s), "error id=\"7\"\n");
    assert!(closed_by_server(&mut s));
    assert_eq!(server.rejections("unknown_sensor").unwrap(), 1.0);
    assert_eq!(
        server.metric("vigil_sensors_first_seen_total").unwrap(),
        0.0
    );
    server.terminate().unwrap();
    assert!(stored(dir.path()).is_empty());
}

/// A session that sends `connect` and half a line, then stops, is closed within
/// `agent.line_timeout`; one silent after its `connect` within `agent.idle_timeout`; each
/// counted by stage. A session sending whole lines more slowly than the line timeout is not
/// closed for it.
#[test]
fn a_half_line_or_a_silent_session_is_closed_within_its_timeout_and_counted() {
    use std::time::Instant;
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "line_timeout = \"1s\"\nidle_timeout = \"3s\"",
        "",
    );
    let closed_after = |s: &mut std::net::TcpStream, started: Instant| {
        assert!(closed_by_server(s));
        started.elapsed()
    };
    let series = |stage: &str| {
        server
            .metric_series(&format!(
                "vigil_agent_sessions_timed_out_total{{stage=\"{stage}\"}}"
            ))
            .unwrap()
    };

    // Whole lines 600 ms apart: each within the line timeout, none idle for long.
    let mut slow = connect(&server);
    send(&mut slow, &connect_line());
    assert_eq!(read_line(&slow), "ok id=\"7\"\n");
    for n in 1..=4 {
        std::thread::sleep(Duration::from_millis(600));
        send(&mut slow, &event(n));
    }

    // `connect`, then half an event line, then nothing.
    let mut half = connect(&server);
    send(&mut half, &connect_line());
    assert_eq!(read_line(&half), "ok id=\"7\"\n");
    let started = Instant::now();
    send(&mut half, "event type=\"detector\" plugin_id=\"4003\" plug");
    let took = closed_after(&mut half, started);
    eprintln!("half a line: closed after {took:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert_eq!(series("line"), 1.0);

    // `connect`, then nothing at all.
    let mut silent = connect(&server);
    send(&mut silent, &connect_line());
    assert_eq!(read_line(&silent), "ok id=\"7\"\n");
    let started = Instant::now();
    let took = closed_after(&mut silent, started);
    eprintln!("silent session: closed after {took:?}");
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(6),
        "{took:?}"
    );

    // The slow session's events were all stored; it timed out only once idle (before or
    // after the silent one).
    assert!(closed_by_server(&mut slow));
    assert_eq!(series("line"), 1.0);
    assert_eq!(series("idle"), 2.0);
    server.terminate().unwrap();
    assert_eq!(
        tags(dir.path()),
        vec!["event-1", "event-2", "event-3", "event-4"]
    );
}
