//! RELP from a real rsyslogd (`omrelp`) into `vigil edge`, through kill -9 cycles of the edge
//! while lines flow: every line reaches the edge's output exactly once (none lost, none
//! written twice). Needs rsyslogd with omrelp (`scripts/test-deps` installs them); without
//! them the test fails, it is never skipped.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{exe, jsonl_events};
use vigil::process::EdgeProcess;

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

/// Starts the edge: a RELP source on `port`, JSON lines to `out`; its RELP log lines kept.
fn relp_edge(dir: &Path, port: u16, out: &Path) -> EdgeProcess {
    let config = format!(
        "data_dir = {dir:?}\n[[source]]\nname = \"relp\"\nkind = \"relp\"\nlisten = \"127.0.0.1:{port}\"\n[forward]\nkind = \"file\"\npath = {out:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        dir = dir.display().to_string(),
        out = out.display().to_string(),
    );
    EdgeProcess::start_logging(&exe(), dir, &config, "warn,vigil_edge::source::relp=info").unwrap()
}

/// Lines in the output now (a cheap count while lines flow).
fn written(out: &Path) -> usize {
    std::fs::read(out)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

/// How many times each line number reached the output.
fn arrivals(out: &Path) -> BTreeMap<u64, u32> {
    let mut seen = BTreeMap::new();
    for event in jsonl_events(out) {
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
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rsyslog_over_relp_loses_and_repeats_no_line_through_kill_9_of_the_edge() {
    const LINES: u64 = 50_000;
    const KILLS: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let edge_dir = dir.path().join("edge");
    let out = dir.path().join("out.jsonl");
    let input = dir.path().join("input.log");
    // The whole input is written before rsyslogd reads it: imfile reading a file while it is
    // being appended to was seen to skip or repeat a line by itself, which is not RELP's doing.
    let text: String = (1..=LINES).map(|n| format!("line {n}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let port = free_port();
    let mut edge = relp_edge(&edge_dir, port, &out);
    let _rsyslogd = rsyslogd(dir.path(), &input, port);

    // Kill the edge each time another 2,000 to 4,000 lines were written (about 15,000 in
    // all): mid-stream, with lines read, lines written and not yet acknowledged, and lines in
    // flight.
    let mut killed_at = Vec::new();
    for kill in 0..KILLS {
        let target = written(&out) + 2_000 + kill * 500;
        wait_until(Duration::from_secs(60), "lines to flow", || {
            written(&out) >= target
        });
        edge.kill9().unwrap();
        killed_at.push(written(&out));
        edge = relp_edge(&edge_dir, port, &out);
    }
    let restarted = (Instant::now(), written(&out));
    let lines = LINES as usize;
    assert!(
        killed_at.iter().all(|&n| n < lines),
        "every kill must hit a flowing stream: killed at {killed_at:?} of {lines} lines"
    );
    wait_until(Duration::from_secs(120), "every line", || {
        written(&out) >= lines
    });
    let elapsed = restarted.0.elapsed().as_secs_f64();
    // Anything sent again late would show up now.
    std::thread::sleep(Duration::from_secs(2));
    let acknowledged = edge.source_metric("relp_acked_total", "relp").unwrap();
    edge.terminate().unwrap();

    let seen = arrivals(&out);
    let lost: Vec<u64> = (1..=LINES).filter(|n| !seen.contains_key(n)).collect();
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
        "RELP through {KILLS} kill -9 of the edge (at {killed_at:?} lines written): {} lines lost, {} written twice; {resends} resends recognised; after the last restart {} lines in {elapsed:.1} s ({:.0} lines/s); the last edge acknowledged {acknowledged}",
        lost.len(),
        repeated.len(),
        lines - restarted.1,
        (lines - restarted.1) as f64 / elapsed,
    );
    assert_eq!(lost, Vec::<u64>::new(), "lines lost");
    assert_eq!(
        repeated,
        Vec::<(u64, u32)>::new(),
        "lines written more than once"
    );
    assert_eq!(seen.len(), lines);
}
