//! `vigil edge` as a real process: syslog over UDP, TCP and TLS, bad input refused and
//! counted, normalisation through corpus plugins, the host map, unparsed lines kept,
//! aggregation, anonymisation, edge correlation, and forwarding to a real core.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::net::{IpAddr, TcpStream, UdpSocket};
use std::time::Duration;

use common::{corpus, jsonl_events, start_edge};
use vigil_event::Event;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn ssh_plugins() -> String {
    format!(
        "[plugins]\ncfg = [{:?}]\nagent_config = {:?}\n[hosts]\nhost1 = \"10.0.0.5\"\n",
        corpus("ossim/plugins/ssh.cfg").display().to_string(),
        corpus("ossim/agent").display().to_string()
    )
}

fn octet(message: &str) -> String {
    format!("{} {message}", message.len())
}

/// What a test compares of an event.
fn summary(e: &Event) -> (u32, u32, IpAddr, IpAddr, Option<String>, String) {
    (
        e.plugin_id,
        e.plugin_sid,
        e.src_ip,
        e.dst_ip,
        e.username.clone(),
        e.log.clone().unwrap_or_default(),
    )
}

#[test]
fn syslog_over_udp_tcp_and_tls_becomes_exact_events_and_bad_input_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::pki::create(&dir.path().join("pki"));
    let out = dir.path().join("out.jsonl");
    let edge = start_edge(
        dir.path(),
        &format!(
            r#"{plugins}
[[source]]
name = "udp"
kind = "syslog_udp"
listen = "127.0.0.1:0"
[[source]]
name = "tcp"
kind = "syslog_tcp"
listen = "127.0.0.1:0"
max_message_bytes = 512
[[source]]
name = "tls"
kind = "syslog_tls"
listen = "127.0.0.1:0"
framing = "octet_counting"
tls_cert = {cert:?}
tls_key = {key:?}
tls_client_ca = {ca:?}
[forward]
kind = "file"
path = {out:?}
"#,
            plugins = ssh_plugins(),
            cert = pki.server_cert.display().to_string(),
            key = pki.server_key.display().to_string(),
            ca = pki.ca_cert.display().to_string(),
            out = out.display().to_string(),
        ),
    );

    // UDP: RFC 3164, and RFC 5424 with an offset.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = edge.source_addr("udp").unwrap();
    let m1 = "<38>Dec  1 08:00:01 host1 sshd[42]: Failed password for root from 203.0.113.7 port 51234 ssh2";
    let m2 = "<38>1 2026-12-01T08:00:02.5+01:00 host1 sshd 43 - - Accepted password for alice from 203.0.113.8 port 2222 ssh2";
    udp.send_to(m1.as_bytes(), to).unwrap();
    udp.send_to(m2.as_bytes(), to).unwrap();
    edge.wait_for_metric("vigil_edge_forwarded_total", 2.0, Duration::from_secs(20))
        .unwrap();

    // TCP: octet counting and LF framing mixed, then refused input on the same connection.
    let m3 = "<38>Dec  1 08:00:03 host1 sshd[44]: Failed password for invalid user bob from 203.0.113.9 port 1 ssh2";
    let m4 = "<38>Dec  1 08:00:04 host1 kernel: not an ssh line";
    let m5 = b"<38>Dec  1 08:00:05 host1 sshd[45]: Failed password for \xff\xfe from 203.0.113.10 port 2 ssh2\n";
    let mut tcp = TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
    tcp.write_all(octet(m3).as_bytes()).unwrap();
    tcp.write_all(format!("{m4}\n").as_bytes()).unwrap();
    tcp.write_all(b"99999 too large to be a real count\n")
        .unwrap();
    tcp.write_all(format!("{}\n", "x".repeat(600)).as_bytes())
        .unwrap();
    tcp.write_all(m5).unwrap();
    drop(tcp);
    // A stream that ends inside an octet-counted frame.
    let mut cut = TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
    cut.write_all(b"50 <38>Dec  1 08:00:06 host1 cut short")
        .unwrap();
    drop(cut);

    // TLS: a sender with a certificate of the CA, then one without and one from another CA.
    let m6 = "<38>Dec  1 08:00:07 host1 sshd[46]: Failed password for carol from 203.0.113.11 port 3 ssh2";
    let m7 = "<38>Dec  1 08:00:08 host1 sshd[47]: Failed password for dave from 203.0.113.12 port 4 ssh2";
    let tls_addr = edge.source_addr("tls").unwrap();
    let send_tls = |identity: Option<(&std::path::Path, &std::path::Path)>, text: &str| {
        let config = common::pki::client_config(&pki.ca_cert, identity);
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let conn = rustls::ClientConnection::new(config, name).unwrap();
        let sock = TcpStream::connect(tls_addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut tls = rustls::StreamOwned::new(conn, sock);
        let sent = tls.write_all(text.as_bytes()).and_then(|()| tls.flush());
        tls.conn.send_close_notify();
        let _ = tls.flush();
        sent
    };
    send_tls(
        Some((&pki.client_cert, &pki.client_key)),
        &format!("{}{}", octet(m6), octet(m7)),
    )
    .unwrap();
    let _ = send_tls(None, &octet(m6));
    let _ = send_tls(Some((&pki.stranger_cert, &pki.stranger_key)), &octet(m6));

    edge.wait_for_metric("vigil_edge_forwarded_total", 7.0, Duration::from_secs(20))
        .unwrap();
    // Every refusal is counted by source and reason (the cut stream's once the edge has seen
    // it end, which may be after the events of the other connections are forwarded).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while (edge.rejections("tls", "tls_handshake").unwrap() < 2.0
        || edge.rejections("tcp", "truncated").unwrap() < 1.0)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    for (source, reason, n) in [
        ("tcp", "bad_octet_count", 1.0),
        ("tcp", "oversized", 1.0),
        ("tcp", "truncated", 1.0),
        ("tls", "tls_handshake", 2.0),
        ("udp", "queue_full", 0.0),
    ] {
        assert_eq!(
            edge.rejections(source, reason).unwrap(),
            n,
            "{source} {reason}"
        );
    }
    assert_eq!(edge.source_metric("non_utf8_total", "tcp").unwrap(), 1.0);
    assert_eq!(edge.source_metric("parsed_total", "tcp").unwrap(), 2.0);
    assert_eq!(edge.source_metric("unparsed_total", "tcp").unwrap(), 1.0);
    assert_eq!(edge.source_metric("parsed_total", "udp").unwrap(), 2.0);
    assert_eq!(edge.source_metric("parsed_total", "tls").unwrap(), 2.0);
    edge.terminate().unwrap();

    let mut events = jsonl_events(&out);
    events.sort_by_key(|e| e.log.clone()); // "<38>1 ..." (RFC 5424) sorts first
    let got: Vec<_> = events.iter().map(summary).collect();
    let dst = ip("10.0.0.5"); // host1, from the host map
    let s = |t: &str| t.to_string();
    let u = |t: &str| Some(t.to_string());
    assert_eq!(
        got,
        vec![
            (4003, 7, ip("203.0.113.8"), dst, u("alice"), s(m2)),
            (4003, 1, ip("203.0.113.7"), dst, u("root"), s(m1)),
            (4003, 1, ip("203.0.113.9"), dst, u("bob"), s(m3)),
            (
                1_000_000_000,
                1,
                ip("127.0.0.1"),
                ip("0.0.0.0"),
                None,
                s(m4)
            ),
            (
                4003,
                1,
                ip("203.0.113.10"),
                dst,
                u("\u{fffd}\u{fffd}"),
                String::from_utf8_lossy(m5.strip_suffix(b"\n").unwrap()).into_owned()
            ),
            (4003, 1, ip("203.0.113.11"), dst, u("carol"), s(m6)),
            (4003, 1, ip("203.0.113.12"), dst, u("dave"), s(m7)),
        ]
    );
    // Provenance: the edge's stamp is the event time, the device's own time is kept.
    let accepted = events.iter().find(|e| e.plugin_sid == 7).unwrap();
    assert_eq!(
        accepted.provenance.device_time.unwrap().to_string(),
        "2026-12-01T07:00:02.5Z"
    );
    assert_eq!(accepted.provenance.edge_time, Some(accepted.time));
    assert_eq!(accepted.provenance.peer, Some(ip("127.0.0.1")));
    assert_eq!(accepted.device_ip, dst, "the plugin's device wins");
    let unparsed = events
        .iter()
        .find(|e| e.plugin_id == 1_000_000_000)
        .unwrap();
    assert_eq!(
        unparsed.device_ip,
        ip("127.0.0.1"),
        "no device named: the sender"
    );
}

fn file_edge(
    dir: &std::path::Path,
    log: &std::path::Path,
    out: &std::path::Path,
) -> vigil::process::EdgeProcess {
    start_edge(
        dir,
        &format!(
            "[[source]]\nname = \"auth\"\nkind = \"file\"\npath = {:?}\nstart_at = \"beginning\"\npoll_interval = \"20ms\"\n[forward]\nkind = \"file\"\npath = {:?}\n",
            log.display().to_string(),
            out.display().to_string()
        ),
    )
}

fn append(path: &std::path::Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for n in from..to {
        writeln!(f, "line {n}").unwrap();
    }
}

fn logged_lines(out: &std::path::Path) -> Vec<String> {
    jsonl_events(out)
        .into_iter()
        .map(|e| e.log.unwrap_or_default())
        .collect()
}

fn expected_lines(to: usize) -> Vec<String> {
    (0..to).map(|n| format!("line {n}")).collect()
}

#[test]
fn a_file_source_reads_every_line_once_across_rotation_truncation_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let out = dir.path().join("out.jsonl");
    append(&log, 0, 10);
    let edge = file_edge(&dir.path().join("edge"), &log, &out);
    edge.wait_for_metric("vigil_edge_forwarded_total", 10.0, Duration::from_secs(20))
        .unwrap();
    // Rotation: lines still written to the old file are read before the new file.
    std::fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
    append(&dir.path().join("auth.log.1"), 10, 15);
    append(&log, 15, 20);
    edge.wait_for_metric("vigil_edge_forwarded_total", 20.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        edge.source_metric("file_rotations_total", "auth").unwrap(),
        1.0
    );
    edge.terminate().unwrap();
    // While the edge is down: more lines, then another rotation.
    append(&log, 20, 25);
    std::fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
    append(&log, 25, 30);
    let edge = file_edge(&dir.path().join("edge"), &log, &out);
    edge.wait_for_metric("vigil_edge_forwarded_total", 10.0, Duration::from_secs(20))
        .unwrap();
    // Truncation in place (copytruncate): reading starts again at the beginning.
    std::fs::write(&log, "").unwrap();
    append(&log, 30, 33);
    edge.wait_for_metric("vigil_edge_forwarded_total", 13.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        edge.source_metric("file_truncations_total", "auth")
            .unwrap(),
        1.0
    );
    edge.terminate().unwrap();
    assert_eq!(
        logged_lines(&out),
        expected_lines(33),
        "every line once, in order"
    );
}

#[test]
fn a_killed_edge_loses_no_line_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let out = dir.path().join("out.jsonl");
    append(&log, 0, 2_000);
    let edge = file_edge(&dir.path().join("edge"), &log, &out);
    edge.wait_for_metric(
        "vigil_edge_forwarded_total",
        2_000.0,
        Duration::from_secs(30),
    )
    .unwrap();
    // Positions are saved at most every second, and when the output is idle for one.
    std::thread::sleep(Duration::from_millis(1_500));
    // Lines forwarded after the last save may come again after a crash, none may be missing.
    append(&log, 2_000, 3_000);
    edge.wait_for_metric(
        "vigil_edge_forwarded_total",
        3_000.0,
        Duration::from_secs(30),
    )
    .unwrap();
    edge.kill9().unwrap();
    append(&log, 3_000, 3_500);
    let edge = file_edge(&dir.path().join("edge"), &log, &out);
    edge.wait_for_metric("vigil_edge_forwarded_total", 500.0, Duration::from_secs(30))
        .unwrap();
    edge.terminate().unwrap();
    let lines = logged_lines(&out);
    // Nothing is missing; what comes twice is one run of lines read again after the crash.
    let first_repeat = lines
        .iter()
        .enumerate()
        .position(|(i, l)| lines[..i].contains(l))
        .unwrap_or(lines.len());
    assert_eq!(lines[..first_repeat], expected_lines(first_repeat)[..]);
    let resumed_at: usize = lines
        .get(first_repeat)
        .map_or(first_repeat, |l| l["line ".len()..].parse().unwrap());
    assert_eq!(
        lines[first_repeat..],
        expected_lines(3_500)[resumed_at..],
        "after the restart: from the last saved position to the end"
    );
    assert!(
        (2_000..=3_000).contains(&resumed_at),
        "the position saved before the kill was used: {resumed_at}"
    );
}

#[test]
fn damaged_file_positions_are_quarantined_and_every_file_is_read_again_from_its_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let out = dir.path().join("out.jsonl");
    let edge_dir = dir.path().join("edge");
    // `start_at = "end"`: without positions the file would be read only from its end.
    let config = format!(
        "[[source]]\nname = \"app\"\nkind = \"file\"\npath = {:?}\nstart_at = \"end\"\npoll_interval = \"20ms\"\n[forward]\nkind = \"file\"\npath = {:?}\n",
        log.display().to_string(),
        out.display().to_string()
    );
    append(&log, 0, 0);
    let edge = start_edge(&edge_dir, &config);
    append(&log, 0, 10);
    edge.wait_for_metric("vigil_edge_forwarded_total", 10.0, Duration::from_secs(20))
        .unwrap();
    edge.terminate().unwrap();
    append(&log, 10, 20);

    // One digit of the saved offset changed, still valid JSON: it would skip lines 10 and 11.
    let positions = edge_dir.join("file-checkpoints.json");
    let text = std::fs::read_to_string(&positions).unwrap();
    assert!(text.contains("\"offset\": 70,"), "{text}");
    let damaged = text.replace("\"offset\": 70,", "\"offset\": 86,");
    std::fs::write(&positions, &damaged).unwrap();

    let edge = start_edge(&edge_dir, &config);
    edge.wait_for_metric("vigil_edge_forwarded_total", 20.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        edge.metric_series("vigil_edge_state_corruption_total{file=\"file-checkpoints.json\"}")
            .unwrap(),
        1.0
    );
    edge.terminate().unwrap();
    // Nothing lost: the first ten lines twice (read again from the beginning), then the rest.
    let mut want = expected_lines(10);
    want.extend(expected_lines(20));
    assert_eq!(logged_lines(&out), want);
    let quarantine = edge_dir
        .join("quarantine")
        .join(format!("file-checkpoints.json-0-{}.bin", damaged.len()));
    assert_eq!(std::fs::read_to_string(&quarantine).unwrap(), damaged);
    let log = edge_log(&edge_dir);
    assert!(
        log.contains("file positions damaged") && log.contains("from its beginning"),
        "{log}"
    );
}

fn tcp_edge_body(extra: &str, out: &std::path::Path) -> String {
    format!(
        "{plugins}\n[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n{extra}\n[forward]\nkind = \"file\"\npath = {out:?}\n",
        plugins = ssh_plugins(),
        out = out.display().to_string()
    )
}

fn send_lines(edge: &vigil::process::EdgeProcess, lines: &[String]) {
    let mut tcp = TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
    for l in lines {
        tcp.write_all(format!("{l}\n").as_bytes()).unwrap();
    }
}

fn failed(n: usize, user: &str, src: &str, port: u16) -> String {
    format!(
        "<38>Dec  1 08:00:{:02} host1 sshd[42]: Failed password for {user} from {src} port {port} ssh2",
        n % 60
    )
}

#[test]
fn showers_collapse_and_what_leaves_the_trust_group_is_pseudonymised() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let edge = start_edge(
        dir.path(),
        &tcp_edge_body(
            r#"[[aggregate]]
plugin_id = 4003
window = "1h"
[anonymize]
enabled = true
raw_text = "redact"
[[anonymize.participant]]
site = "hq"
label = "site-7"
networks = ["10.0.0.0/8"]
"#,
            &out,
        ),
    );
    let mut lines: Vec<String> = (0..5)
        .map(|_| failed(1, "root", "203.0.113.7", 4000))
        .collect();
    lines.push(failed(2, "root", "203.0.113.8", 4001));
    send_lines(&edge, &lines);
    edge.wait_for_metric("vigil_edge_aggregated_total", 4.0, Duration::from_secs(20))
        .unwrap();
    assert_eq!(
        edge.metric("vigil_edge_forwarded_total").unwrap(),
        0.0,
        "held in their window"
    );
    edge.terminate().unwrap(); // shutdown emits what is still aggregating
    let events = jsonl_events(&out);
    let got: Vec<(IpAddr, u32)> = events.iter().map(|e| (e.src_ip, e.occurrences)).collect();
    assert_eq!(got, vec![(ip("203.0.113.7"), 5), (ip("203.0.113.8"), 1)]);
    let first = &events[0];
    assert!(first.extra.contains_key("aggregated_until"));
    // 10.0.0.5 (host1) belongs to the participant: a pseudonym in fd00::/8 and its label.
    let IpAddr::V6(dst) = first.dst_ip else {
        panic!("{}", first.dst_ip)
    };
    assert_eq!(dst.octets()[0], 0xfd);
    assert_eq!(events[1].dst_ip, first.dst_ip, "deterministic pseudonyms");
    assert_eq!(
        first.extra.get("dst_site").map(String::as_str),
        Some("site-7")
    );
    let user = first.username.clone().unwrap();
    assert!(user.starts_with("user-") && user.len() == 21, "{user}");
    let log = first.log.clone().unwrap();
    assert!(!log.contains("root") && log.contains(&user), "{log}");
    assert_eq!(
        first.extra.get("anonymized").map(String::as_str),
        Some("true")
    );
}

#[test]
fn edge_correlation_raises_and_keeps_site_local_alarms() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let edge_dir = dir.path().join("edge");
    let config = format!(
        "{}\n[correlation]\ndirectives = [{:?}]\n",
        tcp_edge_body("", &out).replace(
            "[plugins]\n",
            &format!(
                "[plugins]\nsid_tables = [{:?}]\n",
                corpus("ossim/plugins-sql").display().to_string()
            )
        ),
        corpus("ossim/directives").display().to_string()
    );
    let edge = start_edge(&edge_dir, &config);
    let lines: Vec<String> = (0..16)
        .map(|n| failed(n, "root", "203.0.113.7", 4000 + n as u16))
        .collect();
    send_lines(&edge, &lines);
    edge.wait_for_metric("vigil_edge_alarms_total", 1.0, Duration::from_secs(30))
        .unwrap();
    edge.terminate().unwrap();
    let (alarms, _) = common::run_ok(
        std::process::Command::new(common::exe())
            .args(["search", "--alarms", "--data-dir"])
            .arg(&edge_dir),
    );
    let alarms: Vec<vigil_event::Alarm> = alarms
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(u32, u8, IpAddr, IpAddr)> = alarms
        .iter()
        .map(|a| (a.directive_id, a.risk, a.src_ip, a.dst_ip))
        .collect();
    assert_eq!(got, vec![(50113, 1, ip("203.0.113.7"), ip("10.0.0.5"))]);
    let events = jsonl_events(&out);
    let directive_events = events.iter().filter(|e| e.plugin_id == 1505).count();
    // One directive event per level reached after the root (levels 2 and 3).
    assert_eq!((events.len() - directive_events, directive_events), (16, 2));

    // A damaged correlation state is quarantined, counted and rebuilt from the edge's store:
    // the alarm is not raised again.
    let state = edge_dir.join("correlation").join("state.json");
    let mut bytes = std::fs::read(&state).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(&state, &bytes).unwrap();
    let edge = start_edge(&edge_dir, &config);
    assert_eq!(
        edge.metric_series("vigil_edge_state_corruption_total{file=\"correlation/state.json\"}")
            .unwrap(),
        1.0
    );
    edge.terminate().unwrap();
    let quarantine = edge_dir
        .join("correlation")
        .join("quarantine")
        .join(format!("state.json-0-{}.bin", bytes.len()));
    assert_eq!(std::fs::read(&quarantine).unwrap(), bytes);
    assert_eq!(jsonl_events(&out).len(), events.len());
}

#[test]
fn the_edge_forwards_to_a_core_and_delivers_what_waited_while_it_was_down() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core_config = |port: u16| {
        format!(
            "data_dir = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n[console]\nlisten = \"127.0.0.1:0\"\n[bus]\nlisten = [\"127.0.0.1:0\"]\n[agent]\nenabled = true\nlisten = \"127.0.0.1:{port}\"\n",
            core_dir.display().to_string()
        )
    };
    let core =
        vigil::process::ServerProcess::start(&common::exe(), &core_dir, &core_config(0)).unwrap();
    let port = core.agent_addr().unwrap().port();
    let edge = start_edge(
        &dir.path().join("edge"),
        &format!(
            "{}\n[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"agent\"\naddress = \"127.0.0.1:{port}\"\nreconnect_min = \"50ms\"\nreconnect_max = \"200ms\"\n",
            ssh_plugins()
        ),
    );
    let first: Vec<String> = (0..3)
        .map(|n| failed(n, "root", "203.0.113.7", 5000 + n as u16))
        .collect();
    send_lines(&edge, &first);
    core.wait_for_metric("vigil_events_stored_total", 3.0, Duration::from_secs(20))
        .unwrap();
    core.terminate().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while edge.metric("vigil_edge_forward_connected").unwrap() != 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the edge did not notice"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The core is down: these wait at the edge.
    let second: Vec<String> = (3..6)
        .map(|n| failed(n, "admin", "203.0.113.8", 5000 + n as u16))
        .collect();
    send_lines(&edge, &second);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(edge.metric("vigil_edge_forwarded_total").unwrap(), 3.0);
    let core = vigil::process::ServerProcess::start(&common::exe(), &core_dir, &core_config(port))
        .unwrap();
    core.wait_for_metric("vigil_events_stored_total", 3.0, Duration::from_secs(30))
        .unwrap();
    assert!(edge.metric("vigil_edge_forward_reconnects_total").unwrap() >= 1.0);
    edge.terminate().unwrap();
    core.terminate().unwrap();
    let stored = common::stored(&core_dir);
    let got: Vec<(IpAddr, Option<String>, u16, IpAddr)> = stored
        .iter()
        .map(|e| (e.src_ip, e.username.clone(), e.src_port, e.dst_ip))
        .collect();
    let want: Vec<(IpAddr, Option<String>, u16, IpAddr)> = (0..6u16)
        .map(|n| {
            let (src, user) = if n < 3 {
                ("203.0.113.7", "root")
            } else {
                ("203.0.113.8", "admin")
            };
            (ip(src), Some(user.to_string()), 5000 + n, ip("10.0.0.5"))
        })
        .collect();
    assert_eq!(got, want, "every event once, in order, with its fields");
    assert!(stored.iter().all(|e| {
        e.plugin_id == 4003
            && e.log
                .as_deref()
                .is_some_and(|l| l.contains("Failed password"))
    }));
}

/// Waits for a SIGTERM'd edge to exit; returns how long it took.
fn stop_within(edge: vigil::process::EdgeProcess, limit: Duration) -> Duration {
    let began = std::time::Instant::now();
    edge.terminate().unwrap();
    let took = began.elapsed();
    assert!(took < limit, "the edge took {took:?} to stop");
    took
}

fn edge_log(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("edge.log")).unwrap_or_default()
}

#[test]
fn shutdown_is_bounded_when_the_core_is_unreachable_and_what_is_lost_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // nothing listens there once the listener is dropped
    let edge = start_edge(
        dir.path(),
        &format!(
            "queue_events = 8\n[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"agent\"\naddress = \"127.0.0.1:{closed_port}\"\nqueue_events = 8\nreconnect_min = \"50ms\"\nreconnect_max = \"100ms\"\n"
        ),
    );
    let tcp = edge.source_addr("tcp").unwrap();
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(tcp).unwrap();
        for n in 0..2_000 {
            if s.write_all(format!("line {n}\n").as_bytes()).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    // Sources wait for room and the output for the core: the grace period ends it all.
    stop_within(edge, Duration::from_secs(25));
    sender.join().unwrap();
    let log = edge_log(dir.path());
    assert!(
        log.contains("events could not be forwarded before the edge stopped"),
        "{log}"
    );
}

#[test]
fn a_core_that_stops_reading_does_not_hold_shutdown_up() {
    let dir = tempfile::tempdir().unwrap();
    // A "core" that answers connect and then reads nothing more.
    let core = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = core.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in core.incoming().flatten() {
            let mut s = stream;
            let _ = std::io::Read::read(&mut s, &mut [0u8; 512]);
            let _ = s.write_all(b"ok id=\"1\"\n");
            held.push(s);
        }
    });
    let edge = start_edge(
        dir.path(),
        &format!(
            "[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"agent\"\naddress = \"127.0.0.1:{port}\"\n"
        ),
    );
    let tcp = edge.source_addr("tcp").unwrap();
    let line = format!("{}\n", "x".repeat(1_000));
    let sender = std::thread::spawn(move || {
        let mut s = TcpStream::connect(tcp).unwrap();
        for _ in 0..100_000 {
            if s.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
    });
    edge.wait_for_metric(
        "vigil_edge_forwarded_total",
        1_000.0,
        Duration::from_secs(30),
    )
    .unwrap();
    stop_within(edge, Duration::from_secs(25));
    sender.join().unwrap();
}

#[test]
fn a_sender_that_keeps_sending_does_not_hold_shutdown_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let edge = start_edge(
        dir.path(),
        &format!(
            "[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"file\"\npath = {:?}\n",
            out.display().to_string()
        ),
    );
    let tcp = edge.source_addr("tcp").unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut s = TcpStream::connect(tcp).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                if s.write_all(b"tick\n").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    edge.wait_for_metric("vigil_edge_forwarded_total", 3.0, Duration::from_secs(20))
        .unwrap();
    // The connection reads what was already sent for 200 ms in all, not 200 ms per read.
    stop_within(edge, Duration::from_secs(5));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sender.join().unwrap();
    assert!(
        jsonl_events(&out)
            .iter()
            .all(|e| e.log.as_deref() == Some("tick"))
    );
}

#[test]
fn the_file_output_writes_through_and_retries_a_failing_disk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let edge = start_edge(
        &dir.path().join("edge"),
        &format!(
            "[[source]]\nname = \"udp\"\nkind = \"syslog_udp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"file\"\npath = {:?}\n",
            out.display().to_string()
        ),
    );
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    for n in 0..20 {
        udp.send_to(
            format!("<13>message {n}").as_bytes(),
            edge.source_addr("udp").unwrap(),
        )
        .unwrap();
    }
    // Written through without waiting for a shutdown or a full buffer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while jsonl_events(&out).len() < 20 {
        assert!(std::time::Instant::now() < deadline, "not written through");
        std::thread::sleep(Duration::from_millis(20));
    }
    edge.terminate().unwrap();

    // /dev/full fails every write: the edge retries (counted), keeps receiving, stays up.
    let full_dir = dir.path().join("full");
    let edge = start_edge(
        &full_dir,
        "[[source]]\nname = \"udp\"\nkind = \"syslog_udp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"file\"\npath = \"/dev/full\"\n",
    );
    for n in 0..5 {
        udp.send_to(
            format!("<13>message {n}").as_bytes(),
            edge.source_addr("udp").unwrap(),
        )
        .unwrap();
    }
    edge.wait_for_metric(
        "vigil_edge_forward_errors_total",
        2.0,
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(edge.metric("vigil_edge_forwarded_total").unwrap(), 0.0);
    assert_eq!(edge.source_metric("received_total", "udp").unwrap(), 5.0);
    assert!(edge.metrics_text().is_ok(), "still up and serving metrics");
    stop_within(edge, Duration::from_secs(25));
    let log = edge_log(&full_dir);
    assert!(log.contains("cannot write to /dev/full"), "{log}");
    assert!(
        log.contains("events could not be forwarded before the edge stopped"),
        "{log}"
    );
}
