//! The real core started, or running, under a shifted clock (libfaketime, the monotonic clock
//! left true) on a store filled by a normal run: retention deletes nothing, the core's clock
//! alarm (plugin 1000000001 sid 31) says what is wrong, and nothing the core creates is dated by
//! the wrong clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use vigil::loadgen::{event_id, event_line, open_session};
use vigil::process::{EdgeProcess, ServerProcess, loopback_config};
use vigil_event::{Alarm, Event, Timestamp, Transport};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
const WAIT: Duration = Duration::from_secs(60);
/// Events of the normal run.
const FILLED: u64 = 300;
/// Events sent under the shifted clock.
const LATER: u64 = 20;
const CLOCK_ALARM: &str = "Store: core clock disagrees with stored history";

/// `[store]` with retention every second and these keys.
fn store_table(keys: &str) -> String {
    format!("[store]\nretention_interval = \"1s\"\n{keys}\n")
}

/// Fills the store with [`FILLED`] agent events in a normal run; returns the newest receive
/// time stored.
fn fill(dir: &Path, tables: &str) -> Timestamp {
    let server = start(dir, "", tables);
    send_events(&server, 0, 0..FILLED);
    wait_count(dir, FILLED as usize);
    server.terminate().unwrap();
    agent_events(dir)
        .iter()
        .map(|e| e.provenance.received_at)
        .max()
        .unwrap()
}

/// Starts the server with libfaketime preloaded and `faketime` (its variables) set.
fn start_faked(dir: &Path, tables: &str, faketime: &[(&str, &str)]) -> ServerProcess {
    assert!(
        Path::new(LIBFAKETIME).exists(),
        "libfaketime missing (scripts/test-deps installs it)"
    );
    let mut env = vec![
        ("LD_PRELOAD", LIBFAKETIME),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    env.extend_from_slice(faketime);
    ServerProcess::start_env(&exe(), dir, &loopback_config(dir, "", tables), &env).unwrap()
}

fn send_events(server: &ServerProcess, conn: u32, seqs: std::ops::Range<u64>) {
    let mut session = open_session(server.agent_addr().unwrap(), conn).unwrap();
    let lines: String = seqs
        .map(|seq| event_line(conn, seq, 1_700_000_000))
        .collect();
    session.write_all(lines.as_bytes()).unwrap();
}

/// The events received from agents.
fn agent_events(dir: &Path) -> Vec<Event> {
    stored(dir)
        .into_iter()
        .filter(|e| e.provenance.transport != Transport::Core)
        .collect()
}

fn wait_count(dir: &Path, n: usize) {
    let deadline = Instant::now() + WAIT;
    while agent_events(dir).len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events stored",
            agent_events(dir).len()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for `passes` more retention passes.
fn wait_retention_passes(server: &ServerProcess, passes: f64) {
    let now = server.metric("vigil_store_retention_passes_total").unwrap();
    server
        .wait_for_metric("vigil_store_retention_passes_total", now + passes, WAIT)
        .unwrap();
}

fn clock_alarm(dir: &Path, what: &str) -> Alarm {
    let alarm = wait_alarm_where(dir, what, |a| {
        a.name.starts_with(CLOCK_ALARM) && a.name.contains(what)
    });
    eprintln!("alarm at {}: {}", alarm.first_seen, alarm.name);
    alarm
}

/// The ids of the normal run's events still stored.
fn filled_kept(dir: &Path) -> BTreeSet<uuid::Uuid> {
    let filled: BTreeSet<_> = (0..FILLED).map(|s| event_id(0, s)).collect();
    agent_events(dir)
        .iter()
        .map(|e| e.id)
        .filter(|id| filled.contains(id))
        .collect()
}

/// The plugin sid of the event an alarm of the core's reports holds as evidence.
fn evidence_sid(dir: &Path, alarm: &Alarm) -> u32 {
    let id = alarm.evidence[0].event_ids[0];
    let event = stored(dir).into_iter().find(|e| e.id == id).unwrap();
    assert_eq!(event.plugin_id, 1_000_000_001);
    event.plugin_sid
}

/// Sends the later events to the shifted `server`, waits until they are stored and three
/// retention passes have run, and checks that retention deleted nothing.
fn send_later_events_and_check_nothing_deleted(server: &ServerProcess, dir: &Path) {
    send_events(server, 1, 0..LATER);
    wait_count(dir, (FILLED + LATER) as usize);
    wait_retention_passes(server, 3.0);
    assert_eq!(
        server
            .metric("vigil_store_retention_deleted_total")
            .unwrap(),
        0.0
    );
}

fn micros_between(a: Timestamp, b: Timestamp) -> i64 {
    (a.as_micros() - b.as_micros()).abs()
}

const FIVE_MIN_US: i64 = 300_000_000;

#[test]
fn started_100_days_ahead_the_core_deletes_nothing_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let tables = store_table("");
    fill(dir.path(), &tables);
    assert_eq!(filled_kept(dir.path()).len(), FILLED as usize);

    let server = start_faked(dir.path(), &tables, &[("FAKETIME", "+100d")]);
    let alarm = clock_alarm(dir.path(), "ahead");
    // Sensors go on sending: their events are dated by the faked clock.
    send_later_events_and_check_nothing_deleted(&server, dir.path());
    server.terminate().unwrap();

    assert!(
        alarm
            .name
            .contains("the clock is 100d ahead of the newest stored event"),
        "{}",
        alarm.name
    );
    assert_eq!(evidence_sid(dir.path(), &alarm), 31);
    assert_eq!(
        filled_kept(dir.path()).len(),
        FILLED as usize,
        "every event of the normal run is still stored"
    );
    assert_eq!(agent_events(dir.path()).len(), (FILLED + LATER) as usize);
}

#[test]
fn started_30_days_behind_the_core_deletes_nothing_and_dates_nothing_in_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let tables = store_table("");
    let newest = fill(dir.path(), &tables);

    let server = start_faked(dir.path(), &tables, &[("FAKETIME", "-30d")]);
    let alarm = clock_alarm(dir.path(), "behind");
    send_later_events_and_check_nothing_deleted(&server, dir.path());
    server.terminate().unwrap();
    let real_now = Timestamp::now();

    assert!(
        alarm
            .name
            .contains("the clock is 30d behind the newest stored event"),
        "{}",
        alarm.name
    );
    assert!(
        alarm
            .name
            .contains("this run dates what the core creates from the stored history"),
        "{}",
        alarm.name
    );
    // Dated from the history plus the time since start: after the newest stored event, never
    // 30 days before it.
    assert!(
        alarm.first_seen >= newest && alarm.first_seen <= real_now,
        "{} not in {newest}..{real_now}",
        alarm.first_seen
    );
    let later: Vec<Event> = agent_events(dir.path())
        .into_iter()
        .filter(|e| e.provenance.received_at > newest)
        .collect();
    assert_eq!(
        later.len(),
        LATER as usize,
        "the events received under the faked clock are dated after the history, none 30 days back"
    );
    assert!(later.iter().all(|e| e.provenance.received_at <= real_now));
    assert_eq!(filled_kept(dir.path()).len(), FILLED as usize);
}

#[test]
fn a_clock_jumping_2_days_ahead_while_running_raises_the_alarm_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Retention by age one day, no share limit, segments sealed after a second: once the
    // normal run's segment is sealed, trusting the jumped clock would delete all of it.
    let tables = store_table(
        "retention_max_age = \"1d\"\nretention_max_share = 100\nsegment_max_age = \"1s\"",
    );
    fill(dir.path(), &tables);

    let offset = dir.path().join("faketime");
    std::fs::write(&offset, "+0\n").unwrap();
    let server = start_faked(
        dir.path(),
        &tables,
        &[
            ("FAKETIME_TIMESTAMP_FILE", offset.to_str().unwrap()),
            ("FAKETIME_CACHE_DURATION", "1"),
        ],
    );
    let sealed = dir.path().join("events").join("00000000000000000000.idx");
    let deadline = Instant::now() + WAIT;
    while !sealed.exists() {
        assert!(
            Instant::now() < deadline,
            "the normal run's segment was not sealed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        stored_alarms(dir.path()).is_empty(),
        "the clock agrees at start"
    );
    std::fs::write(&offset, "+2d\n").unwrap();
    let alarm = clock_alarm(dir.path(), "jumped");
    send_later_events_and_check_nothing_deleted(&server, dir.path());
    server.terminate().unwrap();
    let real_now = Timestamp::now();

    assert!(
        alarm
            .name
            .contains("the wall clock jumped 2d ahead while running"),
        "{}",
        alarm.name
    );
    assert!(
        micros_between(alarm.first_seen, real_now) < FIVE_MIN_US,
        "{}",
        alarm.first_seen
    );
    let later: Vec<Event> = agent_events(dir.path())
        .into_iter()
        .filter(|e| (0..LATER).any(|s| event_id(1, s) == e.id))
        .collect();
    assert_eq!(later.len(), LATER as usize);
    assert!(
        later
            .iter()
            .all(|e| micros_between(e.provenance.received_at, real_now) < FIVE_MIN_US),
        "received after the jump, dated by the proven time"
    );
    assert_eq!(filled_kept(dir.path()).len(), FILLED as usize);
}

/// A line for an edge's syslog TCP source.
fn syslog_line(n: usize) -> String {
    format!("<38>Dec  1 08:00:00 host1 app[1]: message number {n:07}\n")
}

/// The bus events stored from `sensor`.
fn bus_events(dir: &Path, sensor: &str) -> Vec<Event> {
    stored(dir)
        .into_iter()
        .filter(|e| e.provenance.transport == Transport::Bus && e.provenance.sensor == sensor)
        .collect()
}

fn start_bus_edge(core_dir: &Path, dir: &Path, name: &str, core: &ServerProcess) -> EdgeProcess {
    issue_sensor(core_dir, name, &dir.join("bus"));
    EdgeProcess::start(&exe(), dir, &edge_config(dir, name, &core.info.bus, "")).unwrap()
}

fn skew_alarms(dir: &Path) -> Vec<String> {
    stored_alarms(dir)
        .into_iter()
        .map(|a| a.name)
        .filter(|name| name.starts_with("Bus: sensor clock skew"))
        .collect()
}

#[test]
fn most_edges_disagreeing_with_the_core_blame_the_core_clock_and_keep_their_times() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    // A normal first run creates the core's CA and TLS identity (valid from now: a core whose
    // clock runs ahead would date its certificate where the edges do not trust it yet).
    start(&core_dir, "", "").terminate().unwrap();
    let core = start_faked(&core_dir, "", &[("FAKETIME", "+1h")]);

    // A lone edge has no majority to compare with: its skew is its own, as before.
    let edge1 = start_bus_edge(&core_dir, &dir.path().join("edge1"), "edge1", &core);
    wait_alarm_where(&core_dir, "edge1's clock skew", |a| {
        a.name.starts_with("Bus: sensor clock skew: edge1")
    });
    let edge2 = start_bus_edge(&core_dir, &dir.path().join("edge2"), "edge2", &core);
    let alarm = wait_alarm_where(&core_dir, "the core clock alarm", |a| {
        a.name.starts_with("Core: clock disagrees with most edges")
    });
    for (n, edge) in [&edge1, &edge2].into_iter().enumerate() {
        let mut tcp = std::net::TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
        tcp.write_all(syslog_line(n).as_bytes()).unwrap();
    }
    let deadline = Instant::now() + WAIT;
    while bus_events(&core_dir, "edge1").is_empty() || bus_events(&core_dir, "edge2").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the edges' events were not stored"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(core.metric("vigil_core_clock_alarms_total").unwrap(), 1.0);
    drop((edge1, edge2));
    core.terminate().unwrap();

    assert!(
        alarm.name.contains(
            "2 of the 2 edges heard from (edge1, edge2) say the core's clock is 1h ahead of theirs"
        ),
        "{}",
        alarm.name
    );
    assert_eq!(evidence_sid(&core_dir, &alarm), 33);
    assert_eq!(
        skew_alarms(&core_dir).len(),
        1,
        "only the lone first edge's: {:?}",
        skew_alarms(&core_dir)
    );
    for sensor in ["edge1", "edge2"] {
        for event in bus_events(&core_dir, sensor) {
            assert!(
                !event.extra.contains_key("edge_clock_offset_us"),
                "{sensor}'s event times are kept: {:?}",
                event.extra
            );
        }
    }
}
