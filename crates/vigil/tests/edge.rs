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
    // Every refusal is counted by source and reason.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while edge.rejections("tls", "tls_handshake").unwrap() < 2.0
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
