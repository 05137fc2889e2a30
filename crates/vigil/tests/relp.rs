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
