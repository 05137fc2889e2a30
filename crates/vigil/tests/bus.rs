//! The signed event bus end to end, with real `vigil server` and `vigil edge` processes, real
//! TLS with certificates from `vigil ca`, real files and `kill -9`.

#![allow(clippy::unwrap_used)]

mod common;
mod flood;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{
    edge_config, exe, issue_sensor, rules_tables, run_ok, stored, stored_alarms, wait_alarm_where,
};
use vigil::process::{EdgeProcess, ServerProcess, loopback_config_with_bus};
use vigil_event::{Alarm, Event, Transport};

const WAIT: Duration = Duration::from_secs(60);

/// Any free loopback port.
const ANY_PORT: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// A core whose bus listens on `listen`, with these `[bus]` keys.
fn start_core_on(dir: &Path, listen: &[SocketAddr], bus_keys: &str) -> ServerProcess {
    let config = loopback_config_with_bus(dir, listen, bus_keys, "", "");
    ServerProcess::start(&exe(), dir, &config).unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        panic!("{e:#}\n{log}")
    })
}

/// A core whose bus listens on a free loopback port, with these `[bus]` keys.
fn start_core(dir: &Path, bus_keys: &str) -> ServerProcess {
    start_core_on(dir, &[ANY_PORT], bus_keys)
}

fn bus_addr(core: &ServerProcess) -> SocketAddr {
    core.info.bus[0]
}

fn start_edge(dir: &Path, config: &str) -> EdgeProcess {
    EdgeProcess::start(&exe(), dir, config).unwrap()
}

fn line(n: usize) -> String {
    format!("<38>Dec  1 08:00:00 host1 app[1]: message number {n:07}")
}

fn send(edge: &EdgeProcess, range: std::ops::Range<usize>) {
    let mut tcp = TcpStream::connect(edge.source_addr("tcp").unwrap()).unwrap();
    let mut text = String::new();
    for n in range {
        text.push_str(&line(n));
        text.push('\n');
    }
    tcp.write_all(text.as_bytes()).unwrap();
}

/// The bus events of `sensor` in the core's store, by sequence number.
fn by_sequence(core_dir: &Path, sensor: &str) -> (BTreeMap<u64, Event>, usize) {
    let events: Vec<Event> = stored(core_dir)
        .into_iter()
        .filter(|e| e.provenance.transport == Transport::Bus && e.provenance.sensor == sensor)
        .collect();
    let total = events.len();
    let map = events
        .into_iter()
        .filter_map(|e| Some((e.provenance.sequence?, e)))
        .collect();
    (map, total)
}

/// Waits until the core stored `n` events of `sensor`.
fn wait_stored(core_dir: &Path, sensor: &str, n: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        if by_sequence(core_dir, sensor).1 >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} events of {sensor} stored",
            by_sequence(core_dir, sensor).1
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every number 1..=n once, every message 0..n once.
fn assert_exactly_once(core_dir: &Path, sensor: &str, n: usize) {
    let (map, total) = by_sequence(core_dir, sensor);
    assert_eq!(total, n, "events stored (a duplicate or a loss)");
    assert_eq!(
        map.keys().copied().collect::<Vec<_>>(),
        (1..=n as u64).collect::<Vec<_>>()
    );
    let mut messages: Vec<String> = map
        .values()
        .map(|e| e.log.clone().unwrap_or_default())
        .collect();
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), n, "distinct messages");
    assert!(map.values().all(|e| e.provenance.authenticated));
}

/// A sensor certificate `name` from the core's CA, issued into `certs`, as a TLS identity.
fn enrol(core_dir: &Path, certs: &Path, name: &str) -> vigil_ca::TlsIdentity {
    issue_sensor(core_dir, name, certs);
    raw::identity(certs, name)
}

fn wait_alarm(core_dir: &Path, needle: &str) -> Alarm {
    wait_alarm_where(core_dir, needle, |a| a.name.contains(needle))
}

#[test]
fn kill_9_of_the_core_under_load_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let edge = start_edge(&edge_dir, &edge_config(&edge_dir, "edge1", &[addr], ""));
    const N: usize = 60_000;
    let sending = std::thread::spawn({
        let addr = edge.source_addr("tcp").unwrap();
        move || {
            let mut tcp = TcpStream::connect(addr).unwrap();
            for chunk in (0..N).collect::<Vec<_>>().chunks(1000) {
                let text: String = chunk.iter().map(|&n| line(n) + "\n").collect();
                tcp.write_all(text.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    core.wait_for_metric("vigil_bus_batches_acknowledged_total", 20.0, WAIT)
        .unwrap();
    core.kill9().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let core = start_core_on(&core_dir, &[addr], "");
    sending.join().unwrap();
    wait_stored(&core_dir, "edge1", N);
    edge.terminate().unwrap();
    core.terminate().unwrap();
    assert_exactly_once(&core_dir, "edge1", N);
}

#[test]
fn core_down_30_s_the_edge_spools_then_drains_and_kill_9_of_the_edge_keeps_its_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "silence_timeout = \"600s\"");
    let addr = bus_addr(&core);
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let config = edge_config(&edge_dir, "edge1", &[addr], "");
    let edge = start_edge(&edge_dir, &config);
    send(&edge, 0..1000);
    wait_stored(&core_dir, "edge1", 1000);
    core.terminate().unwrap();

    // The core is down: the edge spools.
    send(&edge, 1000..3000);
    edge.wait_for_metric("vigil_edge_forwarded_total", 3000.0, WAIT)
        .unwrap();
    std::thread::sleep(Duration::from_secs(15));
    // Killed with everything since the core stopped unacknowledged in its spool.
    edge.kill9().unwrap();
    let edge = start_edge(&edge_dir, &config);
    send(&edge, 3000..4000);
    edge.wait_for_metric("vigil_edge_forwarded_total", 1000.0, WAIT)
        .unwrap();
    std::thread::sleep(Duration::from_secs(15));
    let core = start_core_on(&core_dir, &[addr], "");
    wait_stored(&core_dir, "edge1", 4000);
    send(&edge, 4000..4100);
    wait_stored(&core_dir, "edge1", 4100);
    edge.terminate().unwrap();
    core.terminate().unwrap();
    // Numbers 1..=4100 each once: the restarted edge went on from its spool's numbering.
    assert_exactly_once(&core_dir, "edge1", 4100);
    let (map, _) = by_sequence(&core_dir, "edge1");
    assert_eq!(map[&4001].log.as_deref(), Some(line(4000).as_str()));
}

/// A TCP relay standing for one network path; `cut` closes it and every connection on it.
struct Relay {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
}

fn relay(to: SocketAddr) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(AtomicBool::new(false));
    let flag = cut.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(to) else {
                continue;
            };
            for (mut from, mut into) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                let flag = flag.clone();
                std::thread::spawn(move || {
                    from.set_read_timeout(Some(Duration::from_millis(50)))
                        .unwrap();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        if flag.load(Ordering::SeqCst) {
                            let _ = from.shutdown(std::net::Shutdown::Both);
                            let _ = into.shutdown(std::net::Shutdown::Both);
                            return;
                        }
                        match std::io::Read::read(&mut from, &mut buf) {
                            Ok(0) => {
                                let _ = into.shutdown(std::net::Shutdown::Write);
                                return;
                            }
                            Ok(n) => {
                                if into.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                                ) => {}
                            Err(_) => return,
                        }
                    }
                });
            }
        }
    });
    Relay { addr, cut }
}

#[test]
fn two_paths_one_cut_under_load_nothing_lost_nothing_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core_on(&core_dir, &[ANY_PORT, ANY_PORT], "");
    assert_eq!(core.info.bus.len(), 2);
    let (a, b) = (relay(core.info.bus[0]), relay(core.info.bus[1]));
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge2", &edge_dir.join("bus"));
    let edge = start_edge(
        &edge_dir,
        &edge_config(&edge_dir, "edge2", &[a.addr, b.addr], ""),
    );
    const N: usize = 30_000;
    let sending = std::thread::spawn({
        let addr = edge.source_addr("tcp").unwrap();
        move || {
            let mut tcp = TcpStream::connect(addr).unwrap();
            for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
                let text: String = chunk.iter().map(|&n| line(n) + "\n").collect();
                tcp.write_all(text.as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    core.wait_for_metric("vigil_bus_batches_acknowledged_total", 20.0, WAIT)
        .unwrap();
    a.cut.store(true, Ordering::SeqCst);
    sending.join().unwrap();
    wait_stored(&core_dir, "edge2", N);
    // Both paths carried batches: the core saw (and skipped) copies.
    assert!(core.metric("vigil_bus_duplicates_total").unwrap() > 0.0);
    // The edge saw everything acknowledged, emptied its spool and timed the acknowledgements.
    edge.wait_for_metric("vigil_edge_bus_acked_total", N as f64, WAIT)
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while edge.metric("vigil_edge_bus_spooled_events").unwrap() != 0.0 {
        assert!(Instant::now() < deadline, "the spool never emptied");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        edge.metric("vigil_edge_bus_acked_total").unwrap(),
        N as f64,
        "each event acknowledged once"
    );
    let p99 = edge
        .metric_series("vigil_edge_bus_ack_seconds{quantile=\"0.99\"}")
        .unwrap();
    assert!(p99 > 0.0 && p99 < 30.0, "ack latency p99 {p99} s");
    edge.terminate().unwrap();
    core.terminate().unwrap();
    assert_exactly_once(&core_dir, "edge2", N);
    drop(b);
}

/// A hostile or broken sensor speaking the bus protocol directly.
mod raw {
    use super::*;
    use rustls::pki_types::ServerName;
    use tokio::io::{ReadHalf, WriteHalf};
    use vigil_bus::message::{BatchHeader, SignedKind, decode, encode, signing_message};
    use vigil_bus::{
        BatchBody, CoreMessage, EdgeMessage, Epoch, Hello, PROTOCOL_VERSION, Signed, Welcome,
        read_frame, write_frame,
    };

    pub type Tls = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

    pub struct Client {
        pub reader: ReadHalf<Tls>,
        pub writer: WriteHalf<Tls>,
        pub welcome: Welcome,
        pub signer: vigil_ca::Signer,
        pub name: String,
    }

    pub fn identity(dir: &Path, name: &str) -> vigil_ca::TlsIdentity {
        vigil_ca::TlsIdentity::load(
            &dir.join(format!("{name}.pem")),
            &dir.join(format!("{name}.key")),
            &dir.join("ca.pem"),
            None,
            None,
        )
        .unwrap()
    }

    pub async fn tls(addr: SocketAddr, id: &vigil_ca::TlsIdentity) -> std::io::Result<Tls> {
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let connector = tokio_rustls::TlsConnector::from(vigil_ca::client_config(id).unwrap());
        connector
            .connect(ServerName::try_from("vigil-core").unwrap(), tcp)
            .await
    }

    /// Whether the core refuses `id` at the TLS handshake (in TLS 1.3 the client may finish
    /// first and learn it at its first read).
    pub async fn handshake_refused(addr: SocketAddr, id: &vigil_ca::TlsIdentity) -> bool {
        match tls(addr, id).await {
            Err(_) => true,
            Ok(stream) => {
                let (mut r, _w) = tokio::io::split(stream);
                let mut frame = Vec::new();
                read_frame(&mut r, &mut frame).await.is_err()
            }
        }
    }

    /// The spool epoch [`connect`] announces.
    pub const EPOCH: Epoch = Epoch([1; 16]);

    pub async fn connect(addr: SocketAddr, id: &vigil_ca::TlsIdentity, hello_as: &str) -> Client {
        connect_in(addr, id, hello_as, EPOCH).await
    }

    /// Connects announcing the spool epoch `epoch`.
    pub async fn connect_in(
        addr: SocketAddr,
        id: &vigil_ca::TlsIdentity,
        hello_as: &str,
        epoch: Epoch,
    ) -> Client {
        let stream = tls(addr, id).await.unwrap();
        let (mut reader, mut writer) = tokio::io::split(stream);
        let hello = EdgeMessage::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            sensor: hello_as.into(),
            epoch,
        });
        write_frame(&mut writer, &encode(&hello)).await.unwrap();
        let mut frame = Vec::new();
        read_frame(&mut reader, &mut frame).await.unwrap();
        let welcome = match decode::<CoreMessage>(&frame).unwrap() {
            CoreMessage::Welcome(w) => w,
            other => Welcome {
                protocol: 0,
                session: [0; 16],
                core: format!("{other:?}"),
                core_time_micros: 0,
                stored_through: 0,
            },
        };
        Client {
            reader,
            writer,
            welcome,
            signer: id.signer().unwrap(),
            name: hello_as.into(),
        }
    }

    impl Client {
        /// A signed batch of `n` events numbered from `first`, sent at `sent_at_micros`.
        pub fn batch(&self, first: u64, n: u64, sent_at_micros: i64) -> Vec<u8> {
            let events = (first..first + n)
                .map(|seq| {
                    let mut e = Event::new(
                        uuid::Uuid::now_v7(),
                        vigil_event::Timestamp::from_micros(sent_at_micros),
                        1_000_000_000,
                        1,
                    );
                    e.log = Some(format!("raw event {seq}"));
                    e
                })
                .collect();
            self.batch_of(first, events, sent_at_micros)
        }

        /// A signed batch of `events`, numbered from `first`, sent at `sent_at_micros`.
        pub fn batch_of(&self, first: u64, events: Vec<Event>, sent_at_micros: i64) -> Vec<u8> {
            let events: Vec<Vec<u8>> = events
                .into_iter()
                .zip(first..)
                .map(|(mut e, seq)| {
                    e.provenance.sequence = Some(seq);
                    let mut bytes = Vec::new();
                    vigil_event::codec::encode_event(&e, &mut bytes);
                    bytes
                })
                .collect();
            let header = BatchHeader {
                sensor: self.name.clone(),
                session: self.welcome.session,
                first_sequence: first,
                sent_at_micros,
            };
            let body = BatchBody::encode(&header, &events);
            let signature = self
                .signer
                .sign(&signing_message(SignedKind::Batch, &body))
                .to_vec();
            encode(&EdgeMessage::Batch(Signed { body, signature }))
        }

        pub async fn send(&mut self, frame: &[u8]) {
            let _ = write_frame(&mut self.writer, frame).await;
        }

        /// The core's next message (None when it closed the connection).
        pub async fn next(&mut self) -> Option<CoreMessage> {
            let mut frame = Vec::new();
            tokio::time::timeout(
                Duration::from_secs(20),
                read_frame(&mut self.reader, &mut frame),
            )
            .await
            .ok()?
            .ok()?;
            decode::<CoreMessage>(&frame).ok()
        }
    }

    pub fn now() -> i64 {
        vigil_event::Timestamp::now().as_micros()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn reject_reason(message: Option<vigil_bus::CoreMessage>) -> Option<vigil_bus::RejectReason> {
    match message {
        Some(vigil_bus::CoreMessage::Reject(r)) => Some(r.reason),
        _ => None,
    }
}

#[test]
fn forged_replayed_tampered_impostor_and_out_of_window_input_is_refused_counted_and_alarmed() {
    use vigil_bus::{AckStatus, CoreMessage, RejectReason};
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "sequence_window = 1000");
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    issue_sensor(&core_dir, "alpha", &certs);
    issue_sensor(&core_dir, "bravo", &certs);
    let other_ca = dir.path().join("other-ca");
    run_ok(
        std::process::Command::new(exe())
            .args(["ca", "init", "--dir"])
            .arg(&other_ca),
    );
    run_ok(
        std::process::Command::new(exe())
            .args(["ca", "issue", "--dir"])
            .arg(&other_ca)
            .args(["--sensor", "alpha", "--out"])
            .arg(dir.path().join("impostor")),
    );
    let alpha = raw::identity(&certs, "alpha");
    let impostor = raw::identity(&dir.path().join("impostor"), "alpha");
    let rt = runtime();
    rt.block_on(async {
        // A valid batch is acknowledged once durable.
        let mut c = raw::connect(addr, &alpha, "alpha").await;
        let good = c.batch(1, 5, raw::now());
        c.send(&good).await;
        match c.next().await {
            Some(CoreMessage::Ack(ack)) => {
                assert_eq!(
                    (ack.first_sequence, ack.count, ack.status),
                    (1, 5, AckStatus::Stored)
                )
            }
            other => panic!("expected an ack, got {other:?}"),
        }
        // The same batch again on the same session: a duplicate, acknowledged, not stored.
        c.send(&good).await;
        assert!(
            matches!(c.next().await, Some(CoreMessage::Ack(a)) if a.status == AckStatus::Duplicate)
        );
        drop(c);

        // Replayed on another session.
        let mut c = raw::connect(addr, &alpha, "alpha").await;
        c.send(&good).await;
        assert_eq!(reject_reason(c.next().await), Some(RejectReason::Replayed));

        // A flipped byte.
        let mut c = raw::connect(addr, &alpha, "alpha").await;
        let mut tampered = c.batch(6, 5, raw::now());
        let at = tampered.len() - 3;
        tampered[at] ^= 0x01;
        c.send(&tampered).await;
        assert_eq!(
            reject_reason(c.next().await),
            Some(RejectReason::BadSignature)
        );

        // Outside the window.
        let mut c = raw::connect(addr, &alpha, "alpha").await;
        let far = c.batch(5000, 1, raw::now());
        c.send(&far).await;
        assert_eq!(
            reject_reason(c.next().await),
            Some(RejectReason::OutOfWindow)
        );

        // A valid sensor claiming another's name.
        let mut c = raw::connect(addr, &alpha, "bravo").await;
        assert!(
            c.welcome.core.contains("IdentityMismatch"),
            "{}",
            c.welcome.core
        );
        assert!(c.next().await.is_none());

        // No valid certificate: refused at the handshake.
        assert!(raw::handshake_refused(addr, &impostor).await);
    });
    for (reason, title) in [
        ("replayed", "replayed batch"),
        ("bad_signature", "forged or tampered"),
        ("out_of_window", "outside the window"),
        ("identity_mismatch", "claiming another identity"),
    ] {
        assert_eq!(
            core.metric_series(&format!("vigil_bus_rejected_total{{reason=\"{reason}\"}}"))
                .unwrap(),
            1.0,
            "{reason}"
        );
        let alarm = wait_alarm(&core_dir, title);
        assert_eq!((alarm.priority, alarm.risk), (5, 10), "{title}");
    }
    core.wait_for_metric("vigil_bus_handshakes_refused_total", 1.0, WAIT)
        .unwrap();
    wait_alarm(&core_dir, "without a valid certificate");
    core.terminate().unwrap();
    let (map, total) = by_sequence(&core_dir, "alpha");
    assert_eq!(
        (total, map.keys().copied().collect::<Vec<_>>()),
        (5, vec![1, 2, 3, 4, 5])
    );
    assert_eq!(by_sequence(&core_dir, "bravo").1, 0);
}

/// Sends a batch of 5 events from `first` on `client` and expects it acknowledged as stored.
async fn acknowledged(client: &mut raw::Client, first: u64) {
    let batch = client.batch(first, 5, raw::now());
    client.send(&batch).await;
    match client.next().await {
        Some(vigil_bus::CoreMessage::Ack(ack)) => assert_eq!(
            (ack.first_sequence, ack.count, ack.status),
            (first, 5, vigil_bus::AckStatus::Stored)
        ),
        other => panic!("expected an ack, got {other:?}"),
    }
}

fn revoke(core_dir: &Path, name: &str) {
    run_ok(
        std::process::Command::new(exe())
            .args(["ca", "revoke", "--dir"])
            .arg(core_dir.join("ca"))
            .arg(name),
    );
}

#[test]
fn revoking_a_certificate_ends_its_open_session_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    issue_sensor(&core_dir, "sierra", &certs);
    issue_sensor(&core_dir, "tango", &certs);
    let (sierra, tango) = (
        raw::identity(&certs, "sierra"),
        raw::identity(&certs, "tango"),
    );
    let rt = runtime();
    rt.block_on(async {
        // Two sessions of sierra (two paths), one of tango.
        let mut s = raw::connect(addr, &sierra, "sierra").await;
        let mut idle = raw::connect(addr, &sierra, "sierra").await;
        let mut t = raw::connect(addr, &tango, "tango").await;
        acknowledged(&mut s, 1).await;
        acknowledged(&mut t, 1).await;

        revoke(&core_dir, "sierra");
        let revoked = Instant::now();
        // A batch sent right after the revocation: never acknowledged, never stored.
        let late = s.batch(6, 5, raw::now());
        s.send(&late).await;
        for (what, session) in [("sending", &mut s), ("idle", &mut idle)] {
            let next = session.next().await;
            let ended_after = revoked.elapsed();
            eprintln!("revocation to the end of the {what} session: {ended_after:?}");
            assert!(
                next.is_none(),
                "expected the {what} session to end, got {next:?}"
            );
            assert!(
                ended_after < Duration::from_secs(5),
                "the {what} session ended {ended_after:?} after the revocation"
            );
        }
        // A reconnect is refused at the handshake.
        assert!(raw::handshake_refused(addr, &sierra).await);
        // The other sensor's session goes on.
        acknowledged(&mut t, 6).await;
    });
    core.wait_for_metric("vigil_bus_sessions_revoked_total", 2.0, WAIT)
        .unwrap();
    core.wait_for_metric("vigil_bus_handshakes_refused_total", 1.0, WAIT)
        .unwrap();
    wait_alarm(&core_dir, "Bus: certificate revoked, session ended: sierra");
    core.terminate().unwrap();
    assert_eq!(
        stored_alarms(&core_dir)
            .iter()
            .filter(|a| a.name.contains("session ended"))
            .count(),
        1,
        "one alarm for the revoked sensor, whatever its sessions"
    );
    let (map, total) = by_sequence(&core_dir, "sierra");
    assert_eq!(
        (total, map.keys().copied().collect::<Vec<_>>()),
        (5, vec![1, 2, 3, 4, 5]),
        "nothing sent after the revocation is stored"
    );
    assert_eq!(by_sequence(&core_dir, "tango").1, 10);
}

#[test]
fn the_crl_watch_ends_an_idle_session_and_an_unusable_crl_keeps_the_last_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    let sierra = enrol(&core_dir, &certs, "sierra");
    let rt = runtime();
    // Nothing reaches the core after the revocation: the watch alone notices it.
    rt.block_on(async {
        let mut idle = raw::connect(addr, &sierra, "sierra").await;
        acknowledged(&mut idle, 1).await;
        revoke(&core_dir, "sierra");
        let revoked = Instant::now();
        let next = idle.next().await;
        let ended_after = revoked.elapsed();
        eprintln!("revocation to the end of an idle session: {ended_after:?}");
        assert!(next.is_none(), "expected the session to end, got {next:?}");
        assert!(ended_after < Duration::from_secs(5), "{ended_after:?}");
    });
    assert_eq!(
        core.metric_series("vigil_bus_crl_reloads_total{outcome=\"applied\"}")
            .unwrap(),
        1.0
    );
    let crl = core_dir.join("ca").join("crl.pem");
    std::fs::write(
        &crl,
        "-----BEGIN X509 CRL-----\nbm90IGEgQ1JM\n-----END X509 CRL-----\n",
    )
    .unwrap();
    core.wait_for_metric("vigil_bus_crl_reloads_total{outcome=\"failed\"}", 1.0, WAIT)
        .unwrap();
    assert!(rt.block_on(raw::handshake_refused(addr, &sierra)));
    std::fs::remove_file(&crl).unwrap();
    core.wait_for_metric("vigil_bus_crl_reloads_total{outcome=\"failed\"}", 2.0, WAIT)
        .unwrap();
    assert!(rt.block_on(raw::handshake_refused(addr, &sierra)));
    // A valid CRL, but another CA's: it would revoke nothing.
    let other_ca = dir.path().join("other-ca");
    run_ok(
        std::process::Command::new(exe())
            .args(["ca", "init", "--dir"])
            .arg(&other_ca),
    );
    std::fs::copy(other_ca.join("crl.pem"), &crl).unwrap();
    core.wait_for_metric("vigil_bus_crl_reloads_total{outcome=\"failed\"}", 3.0, WAIT)
        .unwrap();
    assert!(rt.block_on(raw::handshake_refused(addr, &sierra)));
    core.terminate().unwrap();
    let log = std::fs::read_to_string(core_dir.join("server.log")).unwrap();
    assert!(log.contains("the last good CRL stays in force"), "{log}");
}

#[test]
fn gaps_silence_and_clock_skew_raise_alarms_and_skewed_times_are_corrected() {
    use vigil_bus::CoreMessage;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(
        &core_dir,
        "gap_timeout = \"1s\"\nsilence_timeout = \"2s\"\nmax_clock_skew = \"5s\"",
    );
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    let gamma = enrol(&core_dir, &certs, "gamma");
    let rt = runtime();
    let hour = 3_600_000_000i64;
    rt.block_on(async {
        let mut c = raw::connect(addr, &gamma, "gamma").await;
        c.send(&c.batch(1, 10, raw::now())).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
        // Numbers 11..=20 never come; the clock of this batch is an hour behind.
        c.send(&c.batch(21, 10, raw::now() - hour)).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
    });
    let loss = wait_alarm(&core_dir, "event loss");
    assert!(
        loss.name.contains("gamma") && loss.name.contains("11..=20 (10 events)"),
        "{}",
        loss.name
    );
    let skew = wait_alarm(&core_dir, "clock skew");
    assert!(skew.name.contains("behind"), "{}", skew.name);
    let silent = wait_alarm(&core_dir, "sensor silent");
    assert!(silent.name.contains("gamma"), "{}", silent.name);
    assert_eq!(
        core.metric_series("vigil_bus_alerts_total{kind=\"event_loss\"}")
            .unwrap(),
        1.0
    );
    core.terminate().unwrap();
    let (map, _) = by_sequence(&core_dir, "gamma");
    let corrected = &map[&21];
    let offset: i64 = corrected.extra["edge_clock_offset_us"].parse().unwrap();
    assert!((offset - hour).abs() < 60_000_000, "offset {offset}");
    assert!(
        (corrected.time.as_micros() - corrected.provenance.received_at.as_micros()).abs()
            < 60_000_000,
        "corrected time is near the core's clock"
    );
}

#[test]
fn a_burst_of_gaps_from_one_sensor_is_one_event_loss_alarm_revised_with_the_counts() {
    use vigil_bus::CoreMessage;
    const GAPS: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "gap_timeout = \"1s\"");
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    let burst = enrol(&core_dir, &certs, "burst");
    let started = Instant::now();
    runtime().block_on(async {
        let mut c = raw::connect(addr, &burst, "burst").await;
        // Every other number, 1, 3, ..., 2 * GAPS + 1: each even number is a gap of one event;
        // in five waves over about three seconds, so the alarm is revised as the gaps come.
        for (i, seq) in (1..=2 * GAPS + 1).step_by(2).enumerate() {
            c.send(&c.batch(seq, 1, raw::now())).await;
            assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
            if (i as u64 + 1).is_multiple_of(GAPS / 5) {
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
        }
    });
    let sent = started.elapsed();
    core.wait_for_metric(
        "vigil_bus_alerts_total{kind=\"event_loss\"}",
        GAPS as f64,
        WAIT,
    )
    .unwrap();
    let loss = |a: &Alarm| a.name.starts_with("Bus: event loss: burst:");
    let counted = wait_alarm_where(&core_dir, "the loss alarm counting every gap", |a| {
        loss(a) && a.event_count == GAPS
    });
    core.terminate().unwrap();
    let revisions: Vec<Alarm> = stored_alarms(&core_dir).into_iter().filter(loss).collect();
    let ids: std::collections::BTreeSet<_> = revisions.iter().map(|a| a.id).collect();
    eprintln!(
        "{GAPS} gaps sent in {sent:?}: {} event-loss alarm(s), {} revision(s) stored; {}",
        ids.len(),
        revisions.len(),
        counted.name
    );
    assert_eq!(ids.len(), 1, "one event-loss alarm for the burst");
    assert!(revisions.len() < 20, "{} revisions", revisions.len());
    let latest = revisions.iter().max_by_key(|a| a.revision).unwrap();
    assert_eq!(latest.event_count, GAPS);
    assert!(
        latest
            .name
            .contains(&format!("{GAPS} gaps, {GAPS} events missing"))
            && latest
                .name
                .contains("(2..=2, 4..=4, 6..=6, 8..=8, 10..=10, and 495 more)"),
        "{}",
        latest.name
    );
    // Each gap is its own evidence event, up to 100 per alarm.
    assert_evidence_is_the_reports(&core_dir, latest, 20, "burst");
}

#[test]
fn five_hundred_forged_batches_from_one_sensor_are_one_alarm_revised_with_the_count() {
    use vigil_bus::RejectReason;
    const FORGED: u64 = 500;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let mallory = enrol(&core_dir, &dir.path().join("certs"), "mallory");
    let started = Instant::now();
    runtime().block_on(async {
        // Each refusal ends its session: one forged batch per session; in five waves over
        // about three seconds, so the alarm is revised as they come.
        for seq in 1..=FORGED {
            if seq % (FORGED / 5) == 0 {
                tokio::time::sleep(Duration::from_millis(700)).await;
            }
            let mut c = raw::connect(addr, &mallory, "mallory").await;
            let mut forged = c.batch(seq, 1, raw::now());
            let at = forged.len() - 3;
            forged[at] ^= 0x01;
            c.send(&forged).await;
            assert_eq!(
                reject_reason(c.next().await),
                Some(RejectReason::BadSignature)
            );
        }
    });
    let sent = started.elapsed();
    core.wait_for_metric(
        "vigil_bus_rejected_total{reason=\"bad_signature\"}",
        FORGED as f64,
        WAIT,
    )
    .unwrap();
    let title = "Bus: forged or tampered batch: mallory: ";
    let forgery = |a: &Alarm| a.name.starts_with(title);
    wait_alarm_where(&core_dir, "the forgery alarm counting every batch", |a| {
        forgery(a) && a.event_count == FORGED
    });
    let elapsed = started.elapsed();
    assert_eq!(
        core.metric("vigil_bus_alarms_suppressed_total").unwrap(),
        (FORGED - 1) as f64
    );
    core.terminate().unwrap();
    let revisions: Vec<Alarm> = stored_alarms(&core_dir)
        .into_iter()
        .filter(forgery)
        .collect();
    let ids: std::collections::BTreeSet<_> = revisions.iter().map(|a| a.id).collect();
    let latest = revisions.iter().max_by_key(|a| a.revision).unwrap();
    eprintln!(
        "{FORGED} forged batches sent in {sent:?}: {} alarm(s), {} revision(s) stored in {elapsed:?}; {}",
        ids.len(),
        revisions.len(),
        latest.name
    );
    assert_eq!(ids.len(), 1, "one alarm for the forgeries");
    assert!(
        revisions.len() as f64 <= elapsed.as_secs_f64().ceil() + 1.0,
        "{} revisions in {elapsed:?}",
        revisions.len()
    );
    assert_eq!((latest.event_count, latest.priority), (FORGED, 5));
    let detail = "from 127.0.0.1: the signature does not verify with the sensor's certificate";
    assert!(
        latest
            .name
            .starts_with(&format!("{title}{FORGED} times in "))
            && latest.name.ends_with(&format!(
                " s from 127.0.0.1; distinct: {detail}; latest: {detail}"
            )),
        "{}",
        latest.name
    );
    // Each forgery is its own evidence event, up to 100 per alarm.
    assert_evidence_is_the_reports(&core_dir, latest, 2, "mallory");
}

#[test]
fn signed_commands_reach_the_edge_and_their_results_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "delta", &edge_dir.join("bus"));
    let responses =
        "[[response]]\nname = \"say\"\nprogram = \"/bin/echo\"\nfixed_args = [\"blocked\"]\n";
    // At info, so the verbose source's events show in its log.
    let edge = EdgeProcess::start_logging(
        &exe(),
        &edge_dir,
        &edge_config(&edge_dir, "delta", &[addr], responses),
        "info",
    )
    .unwrap();
    send(&edge, 0..10);
    wait_stored(&core_dir, "delta", 10);
    let ask = |action: serde_json::Value| {
        let body = serde_json::json!({ "sensor": "delta", "action": action }).to_string();
        let (status, text) = core.admin_post("/api/v1/commands", &body).unwrap();
        (
            status,
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
        )
    };
    let (status, answer) =
        ask(serde_json::json!({"RunResponse": {"name": "say", "args": ["203.0.113.9"]}}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("blocked 203.0.113.9"),
        "{answer}"
    );
    let (_, answer) =
        ask(serde_json::json!({"RunResponse": {"name": "say", "args": ["a; rm -rf /"]}}));
    assert_eq!(answer["ok"], false, "{answer}");
    let (_, answer) = ask(serde_json::json!({"SetVerbosity": {"source": "tcp", "verbose": true}}));
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        answer["detail"], "source \"tcp\" verbose = true",
        "{answer}"
    );
    let (_, answer) = ask(serde_json::json!({"SetVerbosity": {"source": "nope", "verbose": true}}));
    assert_eq!(answer["ok"], false, "{answer}");
    send(&edge, 10..11);
    wait_stored(&core_dir, "delta", 11);
    let (status, _) = {
        let body = serde_json::json!({ "sensor": "nobody", "action": {"SetVerbosity": {"source": "tcp", "verbose": true}} }).to_string();
        core.admin_post("/api/v1/commands", &body).unwrap()
    };
    assert_eq!(status, 504);
    edge.terminate().unwrap();
    core.terminate().unwrap();
    let log = std::fs::read_to_string(edge_dir.join("edge.log")).unwrap();
    let verbose: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event (verbose source)"))
        .collect();
    assert_eq!(
        verbose.len(),
        1,
        "only the message after SetVerbosity: {verbose:?}"
    );
    assert!(
        verbose[0].contains("message number 0000010"),
        "{}",
        verbose[0]
    );
    assert!(log.contains("command from the core") && log.contains("command done"));
}

#[test]
fn a_full_spool_dropping_its_oldest_counts_the_loss_and_the_core_alarms_the_exact_range() {
    let dir = tempfile::tempdir().unwrap();
    let (core_dir, edge_dir, port) = enrolled_before_the_core_runs(dir.path(), "epsilon");
    let edge = start_edge(
        &edge_dir,
        &edge_config(&edge_dir, "epsilon", &[port], "").replace(
            "[forward.bus]\n",
            "[forward.bus]\nspool_max_mib = 1\nspool_overflow = \"drop_oldest\"\n",
        ),
    );
    const N: usize = 20_000;
    send(&edge, 0..N);
    edge.wait_for_metric("vigil_edge_forwarded_total", N as f64, WAIT)
        .unwrap();
    let lost = edge.metric("vigil_edge_lost_total").unwrap() as usize;
    assert!(lost > 0 && lost < N, "lost {lost} of {N}");
    let core = start_core_on(&core_dir, &[port], "gap_timeout = \"1s\"");
    let alarm = wait_alarm(&core_dir, "event loss");
    edge.terminate().unwrap();
    core.terminate().unwrap();
    // The edge dropped its oldest records: the core stored everything after them, each once,
    // and its event-loss alarm names exactly the dropped range and the edge's own count.
    let (map, total) = by_sequence(&core_dir, "epsilon");
    assert_eq!(total, N - lost);
    assert_eq!(
        map.keys().copied().collect::<Vec<_>>(),
        (lost as u64 + 1..=N as u64).collect::<Vec<_>>()
    );
    assert!(
        alarm
            .name
            .contains(&format!("sequence 1..={lost} ({lost} events)"))
            && alarm.name.contains(&format!("dropped at the edge {lost}")),
        "{}",
        alarm.name
    );
}

#[test]
fn a_flipped_bit_early_in_the_spool_costs_one_event_and_the_core_alarms_its_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let (core_dir, edge_dir, port) = enrolled_before_the_core_runs(dir.path(), "zeta");
    // With no core to acknowledge them, N events stay in the edge's spool.
    let config = edge_config(&edge_dir, "zeta", &[port], "");
    let edge = start_edge(&edge_dir, &config);
    const N: usize = 500;
    send(&edge, 0..N);
    edge.wait_for_metric("vigil_edge_forwarded_total", N as f64, WAIT)
        .unwrap();
    edge.terminate().unwrap();

    // One bit flipped in the payload of sequence 3, early in the only (active) segment.
    let spool = edge_dir.join("spool");
    let segment = spool.join(format!("{:020}.spool", 1));
    let mut bytes = std::fs::read(&segment).unwrap();
    let mut from = 0;
    for _ in 0..2 {
        from += 16 + u32::from_le_bytes(bytes[from..from + 4].try_into().unwrap()) as usize;
    }
    let to = from + 16 + u32::from_le_bytes(bytes[from..from + 4].try_into().unwrap()) as usize;
    bytes[from + 30] ^= 0x04;
    std::fs::write(&segment, &bytes).unwrap();

    let edge = start_edge(&edge_dir, &config);
    let core = start_core_on(&core_dir, &[port], "gap_timeout = \"1s\"");
    // Every other event, and the edge's report of the damage (numbered after them).
    wait_stored(&core_dir, "zeta", N);
    let alarm = wait_alarm_where(&core_dir, "event loss naming the lost sequence", |a| {
        a.name.contains("event loss") && a.name.contains("sequence 3..=3 (1 events)")
    });
    assert!(
        alarm.name.contains("dropped at the edge 1"),
        "{}",
        alarm.name
    );
    assert_eq!(
        edge.metric("vigil_edge_spool_corruption_total").unwrap(),
        1.0
    );
    // The edge also told the core which bytes of which segment: an alarm naming them.
    let named = format!(
        "spool segment {} bytes {from}..{to} damaged",
        segment.display()
    );
    let told = wait_alarm_where(&core_dir, "spool damage reported by the edge", |a| {
        a.name
            .starts_with("Edge: damaged spool records quarantined")
            && a.name.contains(&named)
    });
    assert!(told.name.contains("sequences 3..=3 lost"), "{}", told.name);
    edge.terminate().unwrap();
    core.terminate().unwrap();
    // Every other event, each once: the ones after the damage were not cut off; then the report.
    let (map, total) = by_sequence(&core_dir, "zeta");
    assert_eq!(total, N);
    let want: Vec<u64> = (1..=N as u64 + 1).filter(|&s| s != 3).collect();
    assert_eq!(map.keys().copied().collect::<Vec<_>>(), want);
    let report = &map[&(N as u64 + 1)];
    assert_eq!(report.plugin_id, 1_000_000_001);
    assert!(
        report.log.as_deref().is_some_and(|l| l.starts_with(&named)),
        "{:?}",
        report.log
    );
    assert_eq!(map[&4].log.as_deref(), Some(line(3).as_str()));
    // The damaged bytes are kept beside the spool.
    let quarantine = spool
        .join("quarantine")
        .join(format!("{:020}.spool-{from}-{to}.bin", 1));
    assert_eq!(std::fs::read(&quarantine).unwrap(), bytes[from..to]);
    let log = std::fs::read_to_string(edge_dir.join("edge.log")).unwrap_or_default();
    assert!(log.contains("quarantine"), "{log}");
}

#[test]
fn a_damaged_spool_state_is_rebuilt_under_its_epoch_and_every_event_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let core = start_core_on(&core_dir, &[port], "");
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "theta", &edge_dir.join("bus"));
    let config = edge_config(&edge_dir, "theta", &[port], "");
    // 100 events stored and acknowledged: the core knows the spool's epoch.
    let edge = start_edge(&edge_dir, &config);
    send(&edge, 0..100);
    wait_stored(&core_dir, "theta", 100);
    edge.wait_for_metric("vigil_edge_bus_acked_total", 100.0, WAIT)
        .unwrap();
    core.terminate().unwrap();
    // 200 more with no core: spooled, not acknowledged.
    send(&edge, 100..300);
    edge.wait_for_metric("vigil_edge_forwarded_total", 300.0, WAIT)
        .unwrap();
    edge.terminate().unwrap();

    // One digit of state.json changed, still valid JSON: it would say 101..=190 were
    // acknowledged (never sent again).
    let state = edge_dir.join("spool").join("state.json");
    let text = std::fs::read_to_string(&state).unwrap();
    assert!(text.contains(r#""acked":[[1,100]]"#), "{text}");
    let damaged = text.replace(r#""acked":[[1,100]]"#, r#""acked":[[1,190]]"#);
    std::fs::write(&state, &damaged).unwrap();

    let edge = start_edge(&edge_dir, &config);
    let core = start_core_on(&core_dir, &[port], "gap_timeout = \"1s\"");
    // Every event once (the first 100 sent again and dropped by the core as duplicates), and
    // the edge's report of the damage, numbered after them: no number reused.
    wait_stored(&core_dir, "theta", 301);
    let told = wait_alarm_where(&core_dir, "spool state damage reported by the edge", |a| {
        a.name
            .starts_with("Edge: damaged spool records quarantined")
            && a.name
                .contains(&format!("spool state file {}", state.display()))
    });
    assert!(
        told.name.contains("epoch") && told.name.contains("kept"),
        "{}",
        told.name
    );
    assert_eq!(
        edge.metric("vigil_edge_spool_corruption_total").unwrap(),
        1.0
    );
    edge.terminate().unwrap();
    core.terminate().unwrap();
    let (map, total) = by_sequence(&core_dir, "theta");
    assert_eq!(total, 301);
    assert_eq!(
        map.keys().copied().collect::<Vec<_>>(),
        (1..=301).collect::<Vec<u64>>()
    );
    for (seq, event) in map.range(..=300) {
        assert_eq!(event.log.as_deref(), Some(line(*seq as usize - 1).as_str()));
    }
    assert_eq!(map[&301].plugin_id, 1_000_000_001);
    // The same epoch: no history restarted, no event loss.
    let alarms = stored_alarms(&core_dir);
    assert!(
        !alarms
            .iter()
            .any(|a| a.name.contains("history restarted") || a.name.contains("event loss")),
        "{:?}",
        alarms.iter().map(|a| &a.name).collect::<Vec<_>>()
    );
    let spool_alarms: std::collections::HashSet<_> = alarms
        .iter()
        .filter(|a| {
            a.name
                .starts_with("Edge: damaged spool records quarantined")
        })
        .map(|a| a.id)
        .collect();
    assert_eq!(spool_alarms.len(), 1);
    // The damaged file is kept beside the spool.
    let quarantine = edge_dir
        .join("spool")
        .join("quarantine")
        .join(format!("state.json-0-{}.bin", damaged.len()));
    assert_eq!(std::fs::read_to_string(&quarantine).unwrap(), damaged);
}

/// A failure (4004:2) from `src` to 10.0.0.5, stamped by the edge at `micros`.
fn failure(src: &str, micros: i64) -> Event {
    let mut e = Event::new(
        uuid::Uuid::now_v7(),
        vigil_event::Timestamp::from_micros(micros),
        4004,
        2,
    );
    e.src_ip = src.parse().unwrap();
    e.dst_ip = "10.0.0.5".parse().unwrap();
    e.priority = Some(1);
    e.reliability = Some(1);
    e.provenance.time_source = vigil_event::TimeSource::Edge;
    e
}

/// A failure, then three more from the same source within ten minutes.
const FOUR_FAILURES: &str = "<directive id=\"300\" name=\"four failures from SRC_IP\" priority=\"5\">\n\
     <rule type=\"detector\" name=\"first failure\" reliability=\"1\" plugin_id=\"4004\" plugin_sid=\"2\">\n\
     <rules><rule type=\"detector\" name=\"three more\" reliability=\"10\" occurrence=\"3\" time_out=\"600\" from=\"1:SRC_IP\" plugin_id=\"4004\" plugin_sid=\"2\"/></rules>\n\
     </rule></directive>\n";

#[test]
fn an_event_dated_years_ahead_moves_no_clock_and_is_stored_marked_counted_and_alarmed() {
    use vigil_bus::CoreMessage;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    std::fs::create_dir_all(&core_dir).unwrap();
    let rules = core_dir.join("rules.xml");
    std::fs::write(&rules, FOUR_FAILURES).unwrap();
    let config = loopback_config_with_bus(
        &core_dir,
        &[ANY_PORT],
        "",
        "",
        &rules_tables(&[], &rules, ""),
    );
    let core = ServerProcess::start(&exe(), &core_dir, &config).unwrap();
    let certs = dir.path().join("certs");
    let alpha = enrol(&core_dir, &certs, "alpha");
    let attacker = "203.0.113.66";
    let ten_years = 10 * 365 * 86_400 * 1_000_000i64;
    let rt = runtime();
    rt.block_on(async {
        let mut c = raw::connect(bus_addr(&core), &alpha, "alpha").await;
        let now = raw::now();
        // Two failures from the attacker; one event dated ten years ahead (a device clock, a
        // mis-parsed year, or a compromised edge); then three more failures.
        let mut events = vec![failure(attacker, now), failure(attacker, now + 1_000_000)];
        let mut ahead = failure("198.51.100.1", now + ten_years);
        ahead.plugin_sid = 1;
        events.push(ahead);
        events.extend((2..5).map(|n| failure(attacker, now + n * 1_000_000)));
        c.send(&c.batch_of(1, events, now)).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
    });
    let alarm = wait_alarm(&core_dir, "four failures");
    assert_eq!((alarm.directive_id, alarm.level), (300, 2));
    assert_eq!(alarm.src_ip.to_string(), attacker);
    assert_eq!(alarm.event_ids().count(), 4);
    let time = wait_alarm(&core_dir, "Event time out of bounds");
    assert_eq!(
        time.name,
        format!(
            "Event time out of bounds: sensor alpha, {} s ahead of the core's clock",
            ten_years / 1_000_000
        )
    );
    assert_eq!(time.sensors, vec!["alpha".to_string()]);
    assert_eq!(
        core.metric("vigil_events_time_out_of_bounds_total")
            .unwrap(),
        1.0
    );
    core.terminate().unwrap();
    let (stored, total) = by_sequence(&core_dir, "alpha");
    assert_eq!(
        (stored.len(), total),
        (6, 7),
        "six events and the directive event"
    );
    let marks: Vec<Option<i64>> = stored
        .values()
        .map(|e| e.provenance.time_out_of_bounds_secs)
        .collect();
    assert_eq!(
        marks,
        vec![None, None, Some(ten_years / 1_000_000), None, None, None]
    );
}

#[test]
fn an_edge_whose_clock_was_wrong_while_offline_is_caught_when_its_spool_arrives() {
    use vigil_bus::CoreMessage;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let certs = dir.path().join("certs");
    let bravo = enrol(&core_dir, &certs, "bravo");
    let three_days = 3 * 86_400 * 1_000_000i64;
    let rt = runtime();
    rt.block_on(async {
        let now = raw::now();
        let mut c = raw::connect(bus_addr(&core), &bravo, "bravo").await;
        c.send(&c.batch(1, 2, now)).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
        drop(c);
        // Offline, its clock fell three days back; it was right again by the time it
        // reconnected, so its batches carry a correct sending time and only the spooled stamps
        // are wrong.
        let mut c = raw::connect(bus_addr(&core), &bravo, "bravo").await;
        let spooled: Vec<Event> = (0..3)
            .map(|n| failure("192.0.2.9", now - three_days + n * 1_000_000))
            .collect();
        c.send(&c.batch_of(3, spooled, raw::now())).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
        // Its clock is right again: the incident completes.
        c.send(&c.batch(6, 1, raw::now())).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
    });
    core.wait_for_metric("vigil_events_time_out_of_bounds_total", 3.0, WAIT)
        .unwrap();
    let prefix = "Event time out of bounds: sensor bravo";
    wait_alarm_where(&core_dir, "the completed time incident", |a| {
        a.name.starts_with(prefix) && a.revision == 3
    });
    let revisions: Vec<Alarm> = stored_alarms(&core_dir)
        .into_iter()
        .filter(|a| a.name.starts_with(prefix))
        .collect();
    // Revised at the 1st and 2nd out-of-bounds event, completed by the in-bounds one.
    assert_eq!(
        revisions
            .iter()
            .map(|a| (a.revision, a.event_count, a.correlation))
            .collect::<Vec<_>>(),
        vec![
            (1, 1, vigil_event::CorrelationState::Active),
            (2, 2, vigil_event::CorrelationState::Active),
            (3, 3, vigil_event::CorrelationState::Completed),
        ]
    );
    assert!(
        revisions[0].name.ends_with("s behind its own clock"),
        "{}",
        revisions[0].name
    );
    let behind: i64 = revisions[0]
        .name
        .trim_start_matches("Event time out of bounds: sensor bravo, ")
        .trim_end_matches(" s behind its own clock")
        .parse()
        .unwrap();
    assert!(
        (behind - three_days / 1_000_000).abs() < 60,
        "{}",
        revisions[0].name
    );
    core.terminate().unwrap();
}

#[test]
fn a_bus_incident_is_one_alarm_also_after_kill_9_and_a_restart() {
    use vigil_bus::RejectReason;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    let alpha = enrol(&core_dir, &certs, "alpha");
    runtime().block_on(async {
        let mut c = raw::connect(addr, &alpha, "alpha").await;
        let mut tampered = c.batch(1, 5, raw::now());
        let at = tampered.len() - 3;
        tampered[at] ^= 0x01;
        c.send(&tampered).await;
        assert_eq!(
            reject_reason(c.next().await),
            Some(RejectReason::BadSignature)
        );
    });
    let alarm = wait_alarm(&core_dir, "forged or tampered");
    // Killed before its next snapshot: the restart correlates the stored tail again.
    core.kill9().unwrap();
    let core = start_core(&core_dir, "");
    core.terminate().unwrap();
    let stored: Vec<(vigil_event::Uuid, u32, String)> = stored_alarms(&core_dir)
        .into_iter()
        .map(|a| (a.id, a.revision, a.name))
        .collect();
    assert_eq!(stored, vec![(alarm.id, 1, alarm.name)]);
}

/// The revision `revision` of alarm `id`, once stored.
fn wait_revision(core_dir: &Path, id: vigil_event::Uuid, revision: u32) -> Alarm {
    wait_alarm_where(core_dir, &format!("revision {revision} of {id}"), |a| {
        a.id == id && a.revision == revision
    })
}

#[test]
fn a_silent_sensor_heard_again_completes_its_alarm() {
    use vigil_bus::CoreMessage;
    use vigil_event::CorrelationState;
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "silence_timeout = \"1s\"");
    let addr = bus_addr(&core);
    let certs = dir.path().join("certs");
    let delta = enrol(&core_dir, &certs, "delta");
    let rt = runtime();
    rt.block_on(async {
        let mut c = raw::connect(addr, &delta, "delta").await;
        c.send(&c.batch(1, 3, raw::now())).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
    });
    let silent = wait_alarm(&core_dir, "sensor silent: delta");
    assert_eq!(
        (silent.revision, silent.correlation, silent.ended_at),
        (1, CorrelationState::Active, None)
    );
    rt.block_on(async {
        let mut c = raw::connect(addr, &delta, "delta").await;
        c.send(&c.batch(4, 1, raw::now())).await;
        assert!(matches!(c.next().await, Some(CoreMessage::Ack(_))));
    });
    let ended = wait_revision(&core_dir, silent.id, 2);
    core.terminate().unwrap();
    assert_eq!(ended.correlation, CorrelationState::Completed);
    assert_eq!(ended.ended_at, Some(ended.last_seen));
    assert!(ended.last_seen > silent.last_seen);
    assert_eq!(
        (&ended.name, ended.first_seen, &ended.evidence),
        (&silent.name, silent.first_seen, &silent.evidence)
    );
    let revisions: Vec<u32> = stored_alarms(&core_dir)
        .into_iter()
        .filter(|a| a.id == silent.id)
        .map(|a| a.revision)
        .collect();
    assert_eq!(revisions, vec![1, 2]);
}

#[test]
fn an_edge_stopped_cleanly_says_goodbye_and_raises_no_silence_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "silence_timeout = \"1s\"");
    let addr = bus_addr(&core);
    let edges: Vec<EdgeProcess> = ["calm", "crash"]
        .iter()
        .map(|name| {
            let edge_dir = dir.path().join(name);
            issue_sensor(&core_dir, name, &edge_dir.join("bus"));
            start_edge(&edge_dir, &edge_config(&edge_dir, name, &[addr], ""))
        })
        .collect();
    core.wait_for_metric("vigil_bus_connections", 2.0, WAIT)
        .unwrap();
    let [calm, crash]: [EdgeProcess; 2] = edges.try_into().ok().unwrap();
    calm.terminate().unwrap();
    let stop_events = |sensor: &str| -> Vec<Event> {
        stored(&core_dir)
            .into_iter()
            .filter(|e| {
                e.plugin_id == 1_000_000_001
                    && e.plugin_sid == 23
                    && e.userdata.userdata1.as_deref() == Some(sensor)
            })
            .collect()
    };
    let deadline = Instant::now() + WAIT;
    while stop_events("calm").is_empty() {
        assert!(Instant::now() < deadline, "no sensor-stopped event");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The edge killed after the clean stop is alarmed; by then the stopped one would have been.
    crash.kill9().unwrap();
    wait_alarm(&core_dir, "sensor silent: crash");
    core.terminate().unwrap();
    let stopped = stop_events("calm");
    assert_eq!(stopped.len(), 1);
    assert_eq!(stopped[0].priority, Some(1));
    assert_eq!(stopped[0].provenance.transport, Transport::Core);
    assert!(stop_events("crash").is_empty());
    let calm_alarms: Vec<String> = stored_alarms(&core_dir)
        .into_iter()
        .map(|a| a.name)
        .filter(|n| n.contains("calm"))
        .collect();
    assert_eq!(calm_alarms, Vec::<String>::new());
}

/// A response script that hangs is killed after its timeout, and while it runs the edge keeps
/// forwarding and sending heartbeats: the core stores its events at once and raises no false
/// "sensor silent" alarm.
#[test]
fn a_slow_response_is_killed_after_its_timeout_and_never_holds_up_forwarding() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "silence_timeout = \"2s\"");
    let addr = bus_addr(&core);
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "echo", &edge_dir.join("bus"));
    let responses = "[[response]]\nname = \"hang\"\nprogram = \"/bin/sleep\"\nallowed_args = \"[0-9]{1,3}\"\ntimeout = \"4s\"\n";
    let edge = EdgeProcess::start(
        &exe(),
        &edge_dir,
        &edge_config(&edge_dir, "echo", &[addr], responses),
    )
    .unwrap();
    send(&edge, 0..5);
    wait_stored(&core_dir, "echo", 5);
    let admin = core.info.metrics.unwrap();
    let token = vigil::process::admin_token(&core_dir).unwrap();
    let began = Instant::now();
    let asking = std::thread::spawn(move || {
        let body = serde_json::json!({
            "sensor": "echo",
            "action": {"RunResponse": {"name": "hang", "args": ["600"]}}
        })
        .to_string();
        vigil::process::admin_post(admin, &token, "/api/v1/commands", &body).unwrap()
    });
    // While the script hangs, events still flow.
    send(&edge, 5..10);
    wait_stored(&core_dir, "echo", 10);
    let stored_after = began.elapsed();
    let (status, answer) = asking.join().unwrap();
    let answered_after = began.elapsed();
    assert!(
        stored_after < Duration::from_secs(3) && stored_after < answered_after,
        "stored after {stored_after:?}, answered after {answered_after:?}"
    );
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["detail"], "killed after 4s", "{answer}");
    assert!(
        !stored_alarms(&core_dir)
            .iter()
            .any(|a| a.name.contains("sensor silent")),
        "{:?}",
        stored_alarms(&core_dir)
            .iter()
            .map(|a| &a.name)
            .collect::<Vec<_>>()
    );
    edge.terminate().unwrap();
    core.terminate().unwrap();
}

/// The edge's spool state in `edge_dir` (`state.json`, without its checksum trailer).
fn spool_state(edge_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(edge_dir.join("spool").join("state.json")).unwrap();
    let (json, _trailer) = text.rsplit_once("\ncrc32c ").unwrap();
    serde_json::from_str(json).unwrap()
}

/// The epoch a spool state holds.
fn epoch_of(state: &serde_json::Value) -> String {
    state["epoch"].as_str().unwrap().to_string()
}

/// The stored alarms about a restarted sensor history (sid 24), by id.
fn history_restarts(core_dir: &Path) -> BTreeMap<vigil_event::Uuid, Alarm> {
    stored_alarms(core_dir)
        .into_iter()
        .filter(|a| a.name.starts_with("Bus: sensor history restarted"))
        .map(|a| (a.id, a))
        .collect()
}

/// The stored events of sid 24 (a sensor history restarted), as their `userdata1` (the sensor).
fn history_restart_events(core_dir: &Path) -> Vec<String> {
    stored(core_dir)
        .into_iter()
        .filter(|e| (e.plugin_id, e.plugin_sid) == (1_000_000_001, 24))
        .filter_map(|e| e.userdata.userdata1)
        .collect()
}

#[test]
fn a_reinstalled_edge_numbering_from_1_again_is_a_new_history_stored_and_alarmed_once() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "edge1", &edge_dir.join("bus"));
    let config = edge_config(&edge_dir, "edge1", &[addr], "");
    let edge = start_edge(&edge_dir, &config);
    send(&edge, 0..50);
    wait_stored(&core_dir, "edge1", 50);
    edge.terminate().unwrap();
    let old_state = spool_state(&edge_dir);

    // Reinstalled: the spool is gone, the certificate kept; numbering starts at 1 again.
    std::fs::remove_dir_all(edge_dir.join("spool")).unwrap();
    let edge = start_edge(&edge_dir, &config);
    send(&edge, 50..80);
    wait_stored(&core_dir, "edge1", 80);
    let (old_epoch, new_epoch) = (epoch_of(&old_state), epoch_of(&spool_state(&edge_dir)));
    assert_ne!(old_epoch, new_epoch);
    let alarm = wait_alarm(&core_dir, "history restarted");
    assert_eq!(
        alarm.name,
        format!(
            "Bus: sensor history restarted: edge1: spool epoch {old_epoch} (stored through sequence 50, highest 50) replaced by {new_epoch}: the edge's spool was lost or it was reinstalled; its events, numbered from 1 again, are stored as a new sequence"
        )
    );
    assert_eq!((alarm.priority, alarm.risk), (4, 8));
    assert_eq!(alarm.sensors, vec!["edge1".to_string()]);
    assert_eq!(
        core.metric_series("vigil_bus_alerts_total{kind=\"history_restarted\"}")
            .unwrap(),
        1.0
    );

    // The core killed and started again: the new history goes on where it was, no new alarm.
    core.kill9().unwrap();
    let core = start_core_on(&core_dir, &[addr], "");
    send(&edge, 80..90);
    wait_stored(&core_dir, "edge1", 90);
    edge.terminate().unwrap();
    core.terminate().unwrap();

    // Each message once: 0..50 numbered 1..=50 in the first history, 50..90 numbered 1..=40
    // in the second.
    let (_, total) = by_sequence(&core_dir, "edge1");
    assert_eq!(total, 90);
    let numbered: BTreeMap<usize, u64> = stored(&core_dir)
        .into_iter()
        .filter(|e| e.provenance.transport == Transport::Bus && e.provenance.sensor == "edge1")
        .map(|e| {
            let log = e.log.unwrap();
            let n = log.rsplit(' ').next().unwrap().parse().unwrap();
            (n, e.provenance.sequence.unwrap())
        })
        .collect();
    let expected: BTreeMap<usize, u64> = (0..50)
        .map(|n| (n, n as u64 + 1))
        .chain((50..90).map(|n| (n, n as u64 - 49)))
        .collect();
    assert_eq!(numbered, expected);
    assert_eq!(history_restarts(&core_dir).len(), 1);
    assert_eq!(history_restart_events(&core_dir), vec!["edge1".to_string()]);
}

#[test]
fn a_superseded_spool_epoch_is_refused_counted_and_alarmed_also_after_a_core_restart() {
    use vigil_bus::{Epoch, RejectReason};
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let core = start_core(&core_dir, "");
    let addr = bus_addr(&core);
    let alpha = enrol(&core_dir, &dir.path().join("certs"), "alpha");
    let (a, b) = (Epoch([0xaa; 16]), Epoch([0xbb; 16]));
    let rt = runtime();
    rt.block_on(async {
        // An edge of protocol 1 (no epoch in its Hello) is told why it is refused.
        #[derive(serde::Serialize)]
        enum Version1 {
            Hello { protocol: u16, sensor: String },
        }
        let (mut reader, mut writer) = tokio::io::split(raw::tls(addr, &alpha).await.unwrap());
        let hello = Version1::Hello {
            protocol: 1,
            sensor: "alpha".into(),
        };
        let encoded = vigil_bus::message::encode(&hello);
        vigil_bus::write_frame(&mut writer, &encoded).await.unwrap();
        let mut frame = Vec::new();
        vigil_bus::read_frame(&mut reader, &mut frame)
            .await
            .unwrap();
        match vigil_bus::message::decode::<vigil_bus::CoreMessage>(&frame).unwrap() {
            vigil_bus::CoreMessage::Reject(r) => assert_eq!(
                (r.reason, r.detail.as_str()),
                (RejectReason::Protocol, "protocol version 1 is not 2")
            ),
            other => panic!("expected a refusal, got {other:?}"),
        }

        let mut old = raw::connect_in(addr, &alpha, "alpha", a).await;
        acknowledged(&mut old, 1).await;
        acknowledged(&mut old, 6).await;
        let signed_in_old = old.batch(11, 5, raw::now());

        // A new spool epoch while the old session is still open: numbers from 1 are new.
        let mut new = raw::connect_in(addr, &alpha, "alpha", b).await;
        assert_eq!(new.welcome.stored_through, 0);
        acknowledged(&mut new, 1).await;

        // The earlier installation's epoch again: refused at its Hello.
        let mut again = raw::connect_in(addr, &alpha, "alpha", a).await;
        assert!(
            again.welcome.core.contains("Replayed") && again.welcome.core.contains("superseded"),
            "{}",
            again.welcome.core
        );
        assert!(again.next().await.is_none());
        // The old session's next batch: its epoch is superseded.
        old.send(&signed_in_old).await;
        assert_eq!(
            reject_reason(old.next().await),
            Some(RejectReason::Replayed)
        );
        // A batch signed in the old session is a replay in a session of the new epoch.
        let mut new = raw::connect_in(addr, &alpha, "alpha", b).await;
        assert_eq!(new.welcome.stored_through, 5);
        new.send(&signed_in_old).await;
        assert_eq!(
            reject_reason(new.next().await),
            Some(RejectReason::Replayed)
        );
    });
    assert_eq!(
        core.metric_series("vigil_bus_rejected_total{reason=\"replayed\"}")
            .unwrap(),
        3.0
    );
    let refused = wait_alarm(&core_dir, "replayed batch");
    assert_eq!(
        refused.name,
        format!(
            "Bus: replayed batch: alpha: from 127.0.0.1: spool epoch {a} of alpha was superseded by {b}: an earlier installation's spool (restored, replayed or rolled back); its events are not taken"
        )
    );
    assert_eq!((refused.priority, refused.risk), (5, 10));

    // Across a kill -9 of the core: the old epoch is still refused, the new one goes on.
    core.kill9().unwrap();
    let core = start_core_on(&core_dir, &[addr], "");
    rt.block_on(async {
        let again = raw::connect_in(addr, &alpha, "alpha", a).await;
        assert!(
            again.welcome.core.contains("Replayed"),
            "{}",
            again.welcome.core
        );
        let mut new = raw::connect_in(addr, &alpha, "alpha", b).await;
        assert_eq!(new.welcome.stored_through, 5);
        acknowledged(&mut new, 6).await;
    });
    core.terminate().unwrap();

    let restarts = history_restarts(&core_dir);
    assert_eq!(restarts.len(), 1);
    let restart = restarts.values().next().unwrap();
    assert!(
        restart.name.contains(&format!(
            "alpha: spool epoch {a} (stored through sequence 10, highest 10) replaced by {b}"
        )),
        "{}",
        restart.name
    );
    assert_eq!(history_restart_events(&core_dir), vec!["alpha".to_string()]);
    // Numbers 1..=10 of each history, each once.
    let mut sequences: Vec<u64> = stored(&core_dir)
        .into_iter()
        .filter(|e| e.provenance.transport == Transport::Bus && e.provenance.sensor == "alpha")
        .filter_map(|e| e.provenance.sequence)
        .collect();
    sequences.sort_unstable();
    let expected: Vec<u64> = (1..=10).flat_map(|n| [n, n]).collect();
    assert_eq!(sequences, expected);
}

/// The alarm `latest` names as evidence exactly the 100 stored reports of sid `sid` about
/// `sensor` (an aggregated incident keeps its first 100 as evidence).
fn assert_evidence_is_the_reports(core_dir: &Path, latest: &Alarm, sid: u32, sensor: &str) {
    let mut evidence: Vec<_> = stored(core_dir)
        .into_iter()
        .filter(|e| {
            (e.plugin_id, e.plugin_sid) == (1_000_000_001, sid)
                && e.userdata.userdata1.as_deref() == Some(sensor)
        })
        .map(|e| e.id)
        .collect();
    let mut named = latest.evidence[0].event_ids.clone();
    evidence.sort();
    named.sort();
    assert_eq!((evidence.len(), &evidence), (100, &named));
}

/// For an edge that spools while no core runs: the core's CA and the certificate of `sensor`
/// (from a core in `<dir>/core` started once and stopped), the edge's directory `<dir>/edge`,
/// and a free port the core will listen on later.
fn enrolled_before_the_core_runs(
    dir: &Path,
    sensor: &str,
) -> (std::path::PathBuf, std::path::PathBuf, SocketAddr) {
    let core_dir = dir.join("core");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let core = start_core(&core_dir, "");
    let edge_dir = dir.join("edge");
    issue_sensor(&core_dir, sensor, &edge_dir.join("bus"));
    core.terminate().unwrap();
    (core_dir, edge_dir, port)
}
