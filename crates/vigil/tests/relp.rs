//! RELP from a real rsyslogd (`omrelp`) into `vigil edge`, through kill -9 cycles of the edge
//! while lines flow: every line reaches the edge's output exactly once (none lost, none
//! written twice), with the file output and with the bus output to a real core. Needs rsyslogd with omrelp (`scripts/test-deps` installs them); without
//! them the test fails, it is never skipped.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{edge_config, exe, issue_sensor, jsonl_events, stored};
use vigil::process::{EdgeProcess, ServerProcess, loopback_config_with_bus};
use vigil_event::Event;

/// Where Debian puts rsyslog's modules.
const MODULES: &str = "/usr/lib/x86_64-linux-gnu/rsyslog";

/// A real rsyslogd in the foreground, killed with the test.
struct Rsyslogd(Child);

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts rsyslogd reading `input` from its start (imfile) and sending every line with
/// omrelp to 127.0.0.1:`port`, retrying forever; its state lives in `dir`. rsyslogd is not
/// the process killed here, so its action queue stays in memory and holds the whole input:
/// a disk-assisted queue (`queue.filename`) was seen to keep the lines it spilled to disk
/// while the edge was down for minutes after it came back.
fn rsyslogd(dir: &Path, input: &Path, port: u16) -> Rsyslogd {
    let binary = ["/usr/sbin/rsyslogd", "/sbin/rsyslogd"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let omrelp = Path::new(MODULES).join("omrelp.so");
    let (Some(binary), true) = (binary, omrelp.exists()) else {
        panic!(
            "rsyslogd with omrelp ({}) is missing: run scripts/test-deps (Debian packages rsyslog and rsyslog-relp)",
            omrelp.display()
        );
    };
    let work = dir.join("rsyslog");
    std::fs::create_dir_all(&work).unwrap();
    let conf = dir.join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{work}")
module(load="imfile")
module(load="omrelp")
input(type="imfile" file="{input}" tag="relptest:" ruleset="relp")
ruleset(name="relp") {{
  action(type="omrelp" target="127.0.0.1" port="{port}"
         queue.type="LinkedList" queue.size="100000"
         action.resumeRetryCount="-1" action.resumeInterval="1")
}}
"#,
            work = work.display(),
            input = input.display(),
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("rsyslogd.log")).unwrap();
    let child = Command::new(binary)
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    Rsyslogd(child)
}

/// A loopback port free now (the edge binds it at every restart).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts an edge in `dir` from `config` (a RELP source named `relp`), its RELP log kept.
fn start_edge(dir: &Path, config: &str) -> EdgeProcess {
    EdgeProcess::start_logging(&exe(), dir, config, "warn,vigil_edge::source::relp=info").unwrap()
}

/// The `[[source]]` of the RELP listener on `port`.
fn relp_source(port: u16) -> String {
    format!("[[source]]\nname = \"relp\"\nkind = \"relp\"\nlisten = \"127.0.0.1:{port}\"\n")
}

/// Lines in a JSON lines file now (a cheap count while lines flow).
fn written(out: &Path) -> usize {
    std::fs::read(out)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// How many times each line number arrived.
fn arrivals(events: Vec<Event>) -> BTreeMap<u64, u32> {
    let mut seen = BTreeMap::new();
    for event in events {
        let log = event.log.unwrap_or_default();
        let number = log
            .split_once("relptest: line ")
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or_else(|| panic!("a line the test did not send: {log:?}"));
        *seen.entry(number).or_insert(0) += 1;
    }
    seen
}

/// Waits until `done` holds, at most `limit`.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where the edge's lines end up.
struct Output<'a> {
    /// How many events arrived so far.
    count: &'a dyn Fn() -> usize,
    /// The events that arrived.
    events: &'a dyn Fn() -> Vec<Event>,
}

/// rsyslogd sends `lines` numbered lines to an edge started by `start` (RELP on `port`, data in
/// `edge_dir`), killed with SIGKILL `kills` times, each after it acknowledged another
/// `every` to `every + 500 × kills` lines; then every line must arrive at `output` once.
fn kill_cycles(
    dir: &Path,
    edge_dir: &Path,
    port: u16,
    start: &dyn Fn() -> EdgeProcess,
    output: &Output<'_>,
    (lines, kills, every): (usize, usize, usize),
) {
    let input = dir.join("input.log");
    // The whole input is written before rsyslogd reads it: imfile reading a file while it is
    // being appended to was seen to skip or repeat a line by itself, which is not RELP's doing.
    let text: String = (1..=lines).map(|n| format!("line {n}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let mut edge = start();
    let _rsyslogd = rsyslogd(dir, &input, port);

    // Killed mid-stream: with lines read, lines written and not yet acknowledged, and lines
    // in flight.
    let mut killed_at = Vec::new();
    for kill in 0..kills {
        let target = (every + kill * 500) as f64;
        wait_until(Duration::from_secs(60), "lines to flow", || {
            edge.source_metric("relp_acked_total", "relp")
                .unwrap_or(0.0)
                >= target
        });
        edge.kill9().unwrap();
        killed_at.push((output.count)());
        edge = start();
    }
    let restarted = (Instant::now(), (output.count)());
    assert!(
        killed_at.iter().all(|&n| n < lines),
        "every kill must hit a flowing stream: killed at {killed_at:?} of {lines} lines"
    );
    wait_until(Duration::from_secs(180), "every line", || {
        (output.count)() >= lines
    });
    let elapsed = restarted.0.elapsed().as_secs_f64();
    // Anything sent again late would show up now.
    std::thread::sleep(Duration::from_secs(2));
    edge.terminate().unwrap();

    let seen = arrivals((output.events)());
    let lost: Vec<usize> = (1..=lines)
        .filter(|n| !seen.contains_key(&(*n as u64)))
        .collect();
    let repeated: Vec<(u64, u32)> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(n, c)| (*n, *c))
        .collect();
    let log = std::fs::read_to_string(edge_dir.join("edge.log")).unwrap();
    let resends = log
        .matches("already written: acknowledged, not written twice")
        .count();
    eprintln!(
        "RELP through {kills} kill -9 of the edge (at {killed_at:?} lines arrived): {} lines lost, {} arrived twice; {resends} resends recognised; after the last restart {} lines in {elapsed:.1} s ({:.0} lines/s)",
        lost.len(),
        repeated.len(),
        lines - restarted.1,
        (lines - restarted.1) as f64 / elapsed,
    );
    assert_eq!(lost, Vec::<usize>::new(), "lines lost");
    assert_eq!(
        repeated,
        Vec::<(u64, u32)>::new(),
        "lines that arrived more than once"
    );
    assert_eq!(seen.len(), lines);
}

#[test]
fn rsyslog_over_relp_loses_and_repeats_no_line_through_kill_9_of_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let edge_dir = dir.path().join("edge");
    let out = dir.path().join("out.jsonl");
    let port = free_port();
    let config = format!(
        "data_dir = {:?}\n{}[forward]\nkind = \"file\"\npath = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        edge_dir.display().to_string(),
        relp_source(port),
        out.display().to_string(),
    );
    let output = Output {
        count: &|| written(&out),
        events: &|| jsonl_events(&out),
    };
    kill_cycles(
        dir.path(),
        &edge_dir,
        port,
        &|| start_edge(&edge_dir, &config),
        &output,
        (50_000, 5, 2_000),
    );
}

#[test]
fn rsyslog_over_relp_to_a_core_loses_and_repeats_no_line_through_kill_9_of_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let core_dir = dir.path().join("core");
    let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let core = ServerProcess::start(
        &exe(),
        &core_dir,
        &loopback_config_with_bus(&core_dir, &[any], "silence_timeout = \"600s\"", "", ""),
    )
    .unwrap();
    let edge_dir = dir.path().join("edge");
    issue_sensor(&core_dir, "relp-edge", &edge_dir.join("bus"));
    let port = free_port();
    let config = edge_config(
        &edge_dir,
        "relp-edge",
        &[core.info.bus[0]],
        &relp_source(port),
    );
    let mine = |events: Vec<Event>| -> Vec<Event> {
        events
            .into_iter()
            .filter(|e| e.provenance.sensor == "relp-edge")
            .collect()
    };
    let output = Output {
        count: &|| mine(stored(&core_dir)).len(),
        events: &|| mine(stored(&core_dir)),
    };
    kill_cycles(
        dir.path(),
        &edge_dir,
        port,
        &|| start_edge(&edge_dir, &config),
        &output,
        (20_000, 5, 1_500),
    );
    core.terminate().unwrap();
}

/// A RELP client speaking by hand: frames out, `rsp` frames in.
struct Client(std::net::TcpStream);

impl Client {
    fn connect(port: u16) -> Client {
        let tcp = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut client = Client(tcp);
        client.send(
            1,
            "open",
            "relp_version=0\nrelp_software=test\ncommands=syslog",
        );
        let (txnr, answer) = client.answer().unwrap();
        assert_eq!(txnr, 1);
        assert!(answer.starts_with("200 OK\nrelp_version=0\n"), "{answer}");
        client
    }

    fn send(&mut self, txnr: u32, command: &str, data: &str) {
        use std::io::Write;
        let frame = format!("{txnr} {command} {} {data}\n", data.len());
        self.0.write_all(frame.as_bytes()).unwrap();
    }

    /// The next `rsp`: its transaction number and data; `None` once the edge closed.
    fn answer(&mut self) -> Option<(u32, String)> {
        use std::io::Read;
        let mut header = Vec::new();
        let mut byte = [0u8; 1];
        while header.iter().filter(|&&b| b == b' ').count() < 3 {
            if self.0.read(&mut byte).ok()? == 0 {
                return None;
            }
            header.push(byte[0]);
        }
        let header = String::from_utf8(header).unwrap();
        let mut parts = header.split(' ');
        let txnr = parts.next()?.parse().unwrap();
        assert_eq!(parts.next(), Some("rsp"));
        let len: usize = parts.next()?.parse().unwrap();
        let mut data = vec![0u8; len + 1];
        self.0.read_exact(&mut data).unwrap();
        assert_eq!(data.pop(), Some(b'\n'));
        Some((txnr, String::from_utf8(data).unwrap()))
    }
}

fn line(n: u32) -> String {
    format!("<13>Dec  1 08:00:00 host relptest: line {n}")
}

#[test]
fn a_resent_run_is_acknowledged_once_written_not_twice_across_kill_9_and_bad_frames_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let edge_dir = dir.path().join("edge");
    let out = dir.path().join("out.jsonl");
    let port = free_port();
    let config = format!(
        "data_dir = {:?}\n{}max_message_bytes = 64\n[forward]\nkind = \"file\"\npath = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        edge_dir.display().to_string(),
        relp_source(port),
        out.display().to_string(),
    );
    let edge = start_edge(&edge_dir, &config);
    let mut client = Client::connect(port);
    for n in 1..=10 {
        client.send(n + 1, "syslog", &line(n));
    }
    for n in 1..=10 {
        assert_eq!(client.answer(), Some((n + 1, "200 OK".into())));
    }
    assert_eq!(written(&out), 10, "answered only once written");
    // The edge dies; the sender never read the answers to lines 8 to 10, and sends them again.
    edge.kill9().unwrap();
    let edge = start_edge(&edge_dir, &config);
    let mut client = Client::connect(port);
    for (txnr, n) in (2..).zip([8, 9, 10, 11, 12, 8]) {
        client.send(txnr, "syslog", &line(n));
    }
    for txnr in 2..8 {
        assert_eq!(client.answer(), Some((txnr, "200 OK".into())));
    }
    client.send(8, "syslog", &"x".repeat(65));
    assert_eq!(
        client.answer(),
        Some((8, "500 frame larger than max_message_bytes (64)".into()))
    );
    client.send(10, "syslog", &line(13));
    assert_eq!(
        client.answer(),
        Some((
            10,
            "500 transaction number 10 out of order: 9 expected".into()
        ))
    );
    assert_eq!(client.answer(), None, "the session ends");
    assert_eq!(
        edge.source_metric("relp_resent_total", "relp").unwrap(),
        3.0
    );
    assert_eq!(edge.source_metric("relp_acked_total", "relp").unwrap(), 7.0);
    assert_eq!(
        edge.source_metric("relp_frames_total", "relp").unwrap(),
        9.0
    );
    assert_eq!(edge.rejections("relp", "oversized").unwrap(), 1.0);
    assert_eq!(edge.rejections("relp", "relp_protocol").unwrap(), 1.0);
    edge.terminate().unwrap();
    let seen = arrivals(jsonl_events(&out));
    let expected: BTreeMap<u64, u32> = (1..=12).map(|n| (n, if n == 8 { 2 } else { 1 })).collect();
    assert_eq!(
        seen, expected,
        "8, 9, 10 sent again after the restart are written once; 8 sent anew after 12 is a new line"
    );
}
