//! Floods cost the attacker, not the core: a holder of a valid sensor certificate sending
//! large partial frames on many sessions is held to the intake memory budget while other
//! sensors are stored; connections too slow at any stage are closed, counted and alarmed; a
//! sensor's sessions are capped; connections over the total cap are counted into one alarm; a
//! flood of refused input logs a bounded number of lines.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::common::{self, edge_config, issue_sensor, stored, stored_alarms, wait_alarm_where};
use super::{WAIT, bus_addr, enrol, raw, runtime, send, start_core, start_edge, wait_stored};

/// Resident memory of `pid` now, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    vigil::process::rss_kib_of(&pid.to_string()).unwrap()
}

/// Waits until the resident memory of `pid` stops moving (within 1 MiB over a second), and
/// returns it.
fn settled_rss_kib(pid: u32) -> u64 {
    let deadline = Instant::now() + WAIT;
    let mut last = rss_kib(pid);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let now = rss_kib(pid);
        if now.abs_diff(last) < 1024 || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

/// The bus reports of plugin sid `sid` stored by the core.
fn reports(core_dir: &std::path::Path, sid: u32) -> usize {
    stored(core_dir)
        .iter()
        .filter(|e| (e.plugin_id, e.plugin_sid) == (1_000_000_001, sid))
        .count()
}

const MIB: usize = 1 << 20;

/// Waits until `counter` stops moving for two seconds, and returns it.
fn stalled(counter: &AtomicUsize) -> usize {
    let deadline = Instant::now() + WAIT;
    let mut last = counter.load(Ordering::Relaxed);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let now = counter.load(Ordering::Relaxed);
        if now == last || Instant::now() > deadline {
            return now;
        }
        last = now;
    }
}

#[test]
fn large_partial_frames_on_many_sessions_are_held_to_the_intake_budget_while_an_edge_is_stored() {
    const SESSIONS: usize = 50;
    const FRAME: usize = 8 * MIB;
    const DRIBBLERS: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(
        &core_dir,
        "intake_memory_mib = 192\nmax_sessions_per_sensor = 100",
    );
    let addr = bus_addr(&core);
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let edge = start_edge(&edge_dir, &edge_config(&edge_dir, "edge1", &[addr], ""));
    send(&edge, 0..100);
    wait_stored(&core_dir, "edge1", 100);
    let mallory = Arc::new(enrol(&core_dir, &dir.path().join("certs"), "mallory"));
    let before = rss_kib(core.pid());

    // Each session announces an 8 MiB frame and sends all of it but its last byte; then 20
    // more announce 32 MiB and send 5 bytes. Writes the core does not read just wait.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let attack = |announced: usize, sent: usize| {
        let (mallory, written) = (Arc::clone(&mallory), Arc::clone(&written));
        rt.spawn(async move {
            let mut c = raw::connect(addr, &mallory, "mallory").await;
            let mut bytes = (announced as u32).to_be_bytes().to_vec();
            bytes.resize(4 + sent, 0x5a);
            for chunk in bytes.chunks(64 << 10) {
                if c.writer.write_all(chunk).await.is_err() || c.writer.flush().await.is_err() {
                    break;
                }
                written.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
        })
    };
    let mut sessions: Vec<_> = (0..SESSIONS).map(|_| attack(FRAME, FRAME - 1)).collect();
    core.wait_for_metric("vigil_bus_connections", (1 + SESSIONS) as f64, WAIT)
        .unwrap();
    // Once the core reads no more of them, the dribblers.
    stalled(&written);
    sessions.extend((0..DRIBBLERS).map(|_| attack(32 * MIB, 5)));
    core.wait_for_metric(
        "vigil_bus_connections",
        (1 + SESSIONS + DRIBBLERS) as f64,
        WAIT,
    )
    .unwrap();

    // Meanwhile another sensor is stored as usual.
    send(&edge, 100..200);
    wait_stored(&core_dir, "edge1", 200);
    let pushed = stalled(&written);
    let after = settled_rss_kib(core.pid());
    let peak = core.peak_rss_kib().unwrap();
    eprintln!(
        "{SESSIONS} sessions × {} MiB partial frames + {DRIBBLERS} × 5 bytes of 32 MiB ({} MiB written before the core stopped reading): core RSS {} MiB before, {} MiB after, peak {} MiB",
        FRAME / MIB,
        pushed / MIB,
        before / 1024,
        after / 1024,
        peak / 1024
    );
    assert!(
        peak.saturating_sub(before) < 64 * 1024,
        "the core grew from {before} KiB to a peak of {peak} KiB"
    );
    // Mallory holds its share, half the budget: four 8 MiB frames at 3 × 8 MiB each; its
    // other sessions wait unread.
    assert_eq!(
        core.metric("vigil_bus_intake_memory_bytes").unwrap(),
        (192 * MIB / 2) as f64
    );
    // Every attacking session is still open (none was refused or failed).
    for session in sessions {
        assert!(!session.is_finished());
        session.abort();
    }
    rt.shutdown_background();
    edge.terminate().unwrap();
    core.terminate().unwrap();
}

#[test]
fn connections_too_slow_at_each_stage_are_closed_counted_and_alarmed_and_a_heartbeating_edge_is_not()
 {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(
        &core_dir,
        "handshake_timeout = \"1s\"\nframe_timeout = \"1s\"\nidle_timeout = \"3s\"",
    );
    let addr = bus_addr(&core);
    // A real edge sends a heartbeat every 500 ms: never idle.
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let edge = start_edge(&edge_dir, &edge_config(&edge_dir, "edge1", &[addr], ""));
    send(&edge, 0..10);
    wait_stored(&core_dir, "edge1", 10);
    let mallory = enrol(&core_dir, &dir.path().join("certs"), "mallory");
    let within = |started: Instant, what: &str| {
        let took = started.elapsed();
        assert!(
            took < Duration::from_secs(5),
            "{what} closed after {took:?}"
        );
        eprintln!("{what}: closed after {took:?}");
    };

    // TCP that never starts the TLS handshake.
    let started = Instant::now();
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    assert!(common::closed_by_server(&mut tcp));
    within(started, "no TLS handshake");
    runtime().block_on(async {
        // TLS, then no Hello.
        let started = Instant::now();
        let tls = raw::tls(addr, &mallory).await.unwrap();
        let (mut reader, _writer) = tokio::io::split(tls);
        let mut frame = Vec::new();
        assert!(
            vigil_bus::read_frame(&mut reader, &mut frame)
                .await
                .is_err()
        );
        within(started, "no Hello");

        // Half a frame, then nothing.
        let mut c = raw::connect(addr, &mallory, "mallory").await;
        let started = Instant::now();
        let mut half = 100u32.to_be_bytes().to_vec();
        half.extend_from_slice(&[0u8; 50]);
        c.writer.write_all(&half).await.unwrap();
        assert!(c.next().await.is_none());
        within(started, "half a frame");

        // A session that sends nothing after its Hello is closed as idle.
        let mut c = raw::connect(addr, &mallory, "mallory").await;
        assert_eq!(c.welcome.protocol, vigil_bus::PROTOCOL_VERSION);
        let started = Instant::now();
        assert!(c.next().await.is_none());
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(2) && took < Duration::from_secs(8),
            "{took:?}"
        );
    });
    for (stage, count) in [
        ("handshake", 1.0),
        ("hello", 1.0),
        ("frame", 1.0),
        ("idle", 1.0),
    ] {
        assert_eq!(
            core.metric_series(&format!(
                "vigil_bus_sessions_timed_out_total{{stage=\"{stage}\"}}"
            ))
            .unwrap(),
            count,
            "{stage}"
        );
    }
    // One alarm for each stage but idle, each with its evidence event of sid 12.
    let title = "Bus: connection too slow, closed";
    wait_alarm_where(&core_dir, "three slowloris alarms", |_| {
        stored_alarms(&core_dir)
            .iter()
            .filter(|a| a.name.starts_with(title))
            .count()
            == 3
    });
    for detail in [
        "no TLS handshake within 1s",
        "no Hello within 1s",
        "a frame not received whole within 1s",
    ] {
        let alarm = wait_alarm_where(&core_dir, detail, |a| a.name.contains(detail));
        assert_eq!((alarm.priority, alarm.risk), (5, 10), "{detail}");
    }
    assert_eq!(reports(&core_dir, 12), 3);

    // The edge, heartbeating, outlived the idle timeout and still forwards.
    assert_eq!(core.metric("vigil_bus_connections").unwrap(), 1.0);
    send(&edge, 10..20);
    wait_stored(&core_dir, "edge1", 20);
    assert_eq!(
        core.metric_series("vigil_bus_sessions_timed_out_total{stage=\"idle\"}")
            .unwrap(),
        1.0
    );
    edge.terminate().unwrap();
    core.terminate().unwrap();
}

#[test]
fn a_sensor_opening_more_sessions_than_its_limit_is_refused_counted_and_alarmed() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "max_sessions_per_sensor = 2");
    let addr = bus_addr(&core);
    let mallory = enrol(&core_dir, &dir.path().join("certs"), "mallory");
    runtime().block_on(async {
        let first = raw::connect(addr, &mallory, "mallory").await;
        let _second = raw::connect(addr, &mallory, "mallory").await;
        assert_eq!(first.welcome.protocol, vigil_bus::PROTOCOL_VERSION);
        assert_eq!(_second.welcome.protocol, vigil_bus::PROTOCOL_VERSION);
        let third = raw::connect(addr, &mallory, "mallory").await;
        assert!(
            third.welcome.core.contains("Protocol")
                && third
                    .welcome
                    .core
                    .contains("2 sessions of this sensor are open already"),
            "{}",
            third.welcome.core
        );
        // A session that ends gives its place back.
        drop(first);
        let deadline = Instant::now() + WAIT;
        loop {
            let again = raw::connect(addr, &mallory, "mallory").await;
            if again.welcome.protocol == vigil_bus::PROTOCOL_VERSION {
                break;
            }
            assert!(Instant::now() < deadline, "no place given back");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    assert!(
        core.metric_series("vigil_bus_rejected_total{reason=\"protocol\"}")
            .unwrap()
            >= 1.0
    );
    let alarm = wait_alarm_where(&core_dir, "the session limit", |a| {
        a.name.contains("Bus: protocol violation: mallory")
            && a.name.contains("bus.max_sessions_per_sensor")
    });
    assert_eq!(alarm.priority, 5);
    core.terminate().unwrap();
}

#[test]
fn a_flood_of_refused_input_logs_ten_lines_and_one_summary_while_the_metric_counts_all() {
    const FLOOD: usize = 2000;
    let dir = tempfile::tempdir().unwrap();
    let core = common::start(
        dir.path(),
        "",
        "[log]\nrepeat_limit = 10\nrepeat_interval = \"10s\"\n",
    );
    let agent = core.agent_addr().unwrap();
    let started = Instant::now();
    for _ in 0..FLOOD {
        let mut tcp = TcpStream::connect(agent).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest);
    }
    let took = started.elapsed();
    core.wait_for_metric("vigil_events_rejected_total", FLOOD as f64, WAIT)
        .unwrap();
    assert_eq!(core.rejections("bad_handshake").unwrap(), FLOOD as f64);
    let log = dir.path().join("server.log");
    let summary = format!("suppressed {} similar messages in the last 10s", FLOOD - 10);
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains(&summary) {
            break text;
        }
        assert!(Instant::now() < deadline, "no summary line in:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let summaries = text
        .lines()
        .filter(|l| l.contains("similar messages"))
        .count();
    let rejected = text
        .lines()
        .filter(|l| l.contains("agent input rejected") && !l.contains("similar messages"))
        .count();
    eprintln!(
        "{FLOOD} refused sessions in {took:?}: {rejected} rejection lines, {summaries} summary, {} lines in all",
        text.lines().count()
    );
    assert!(
        took < Duration::from_secs(10),
        "the flood took {took:?}, past one interval"
    );
    assert_eq!((rejected, summaries), (10, 1), "{text}");
    core.terminate().unwrap();
}

#[test]
fn connections_over_bus_max_connections_are_counted_into_one_alarm() {
    const OVER: u64 = 50;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(
        &core_dir,
        "max_connections = 2\nhandshake_timeout = \"60s\"",
    );
    let addr = bus_addr(&core);
    // Two connections that never start TLS hold the limit.
    let _held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let started = Instant::now();
    for _ in 0..OVER {
        let mut tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        assert!(common::closed_by_server(&mut tcp));
    }
    let sent = started.elapsed();
    core.wait_for_metric("vigil_bus_connections_refused_total", OVER as f64, WAIT)
        .unwrap();
    let title = "Bus: connection limit reached: ";
    let limit = |a: &vigil_event::Alarm| a.name.starts_with(title);
    wait_alarm_where(
        &core_dir,
        "the connection-limit alarm counting every refusal",
        |a| limit(a) && a.event_count == OVER,
    );
    core.terminate().unwrap();
    let revisions: Vec<_> = stored_alarms(&core_dir).into_iter().filter(limit).collect();
    let ids: std::collections::BTreeSet<_> = revisions.iter().map(|a| a.id).collect();
    let latest = revisions.iter().max_by_key(|a| a.revision).unwrap();
    eprintln!(
        "{OVER} connections over the limit in {sent:?}: {} alarm(s), {} revision(s); {}",
        ids.len(),
        revisions.len(),
        latest.name
    );
    assert_eq!(ids.len(), 1);
    assert_eq!((latest.event_count, latest.priority), (OVER, 5));
    let detail = "from 127.0.0.1: 2 connections open (bus.max_connections)";
    assert!(
        latest.name.contains(&format!(": {OVER} times in "))
            && latest.name.ends_with(&format!(
                " s from 127.0.0.1; distinct: {detail}; latest: {detail}"
            )),
        "{}",
        latest.name
    );
    assert_eq!(reports(&core_dir, 13), OVER as usize);
}
