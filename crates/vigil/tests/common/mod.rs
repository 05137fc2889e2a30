//! Helpers shared by the end-to-end tests: a server process in a temporary directory.

#![allow(dead_code, clippy::unwrap_used)]

pub mod console;
pub mod pki;
pub mod slapd;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil::process::{EdgeProcess, ServerProcess, loopback_config};
use vigil_event::{Alarm, Event};
use vigil_store::{Log, Order, Query};

pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vigil"))
}

/// Runs a `vigil` command that must succeed (its stderr is shown if not); returns its
/// stdout and stderr.
pub fn run_ok(command: &mut std::process::Command) -> (String, String) {
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

pub fn corpus(rel: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(rel);
    assert!(path.exists(), "test corpus missing: {}", path.display());
    path
}

/// Starts a server; `agent_keys` go into `[agent]`, `tables` are other TOML tables.
pub fn start(dir: &Path, agent_keys: &str, tables: &str) -> ServerProcess {
    ServerProcess::start(&exe(), dir, &loopback_config(dir, agent_keys, tables)).unwrap()
}

/// Every stored event, oldest first (store order for equal times).
pub fn stored(dir: &Path) -> Vec<Event> {
    let log = Log::<Event>::open_read_only(&dir.join("events")).unwrap();
    log.search(&Query {
        limit: usize::MAX,
        order: Order::OldestFirst,
        ..Query::default()
    })
    .unwrap()
}

pub fn connect(server: &ServerProcess) -> TcpStream {
    let stream = TcpStream::connect(server.agent_addr().unwrap()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads one reply line, byte by byte so nothing after it is consumed.
pub fn read_line(mut stream: &TcpStream) -> String {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte).unwrap() == 1 {
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    String::from_utf8(line).unwrap()
}

/// True once the server has closed the connection (reads EOF or a reset).
pub fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => matches!(e.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

pub fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).unwrap();
}

pub fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// Starts an edge in `dir` with `body` (TOML tables) and metrics on a free loopback port.
pub fn start_edge(dir: &Path, body: &str) -> EdgeProcess {
    let config = format!(
        "data_dir = {:?}\n{body}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        dir.display().to_string()
    );
    EdgeProcess::start(&exe(), dir, &config).unwrap()
}

/// The events of a JSON lines file (the edge's file output), in order; a last line without its
/// newline is one the edge is still writing, and is left for the next read.
pub fn jsonl_events(path: &Path) -> Vec<Event> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

/// Issues a sensor certificate from the core's automatic CA into `out`.
pub fn issue_sensor(core_dir: &Path, name: &str, out: &Path) {
    run_ok(
        std::process::Command::new(exe())
            .args(["ca", "issue", "--dir"])
            .arg(core_dir.join("ca"))
            .args(["--sensor", name, "--out"])
            .arg(out),
    );
}

/// An edge named `name` in `dir` with a syslog TCP source `tcp` (plus `extra` TOML), forwarding
/// over the bus to `endpoints` with the certificate [`issue_sensor`] wrote to `dir/bus`.
pub fn edge_config(dir: &Path, name: &str, endpoints: &[SocketAddr], extra: &str) -> String {
    let bus = dir.join("bus");
    let endpoints: Vec<String> = endpoints.iter().map(|e| format!("\"{e}\"")).collect();
    format!(
        "data_dir = {:?}\n[sensor]\nname = \"{name}\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n{extra}\n[forward]\nkind = \"bus\"\nreconnect_min = \"50ms\"\nreconnect_max = \"500ms\"\n[forward.bus]\nendpoints = [{}]\ncert = {:?}\nkey = {:?}\nca = {:?}\nbatch_events = 200\nheartbeat = \"500ms\"\n",
        dir.display().to_string(),
        endpoints.join(", "),
        bus.join(format!("{name}.pem")).display().to_string(),
        bus.join(format!("{name}.key")).display().to_string(),
        bus.join("ca.pem").display().to_string(),
    )
}

/// Every stored alarm revision, oldest first (none while the alarm log does not exist yet).
pub fn stored_alarms(dir: &Path) -> Vec<Alarm> {
    let Ok(log) = Log::<Alarm>::open_read_only(&dir.join("alarms")) else {
        return Vec::new();
    };
    log.search(&Query {
        limit: usize::MAX,
        order: Order::OldestFirst,
        ..Query::default()
    })
    .unwrap()
}

/// The first stored alarm `pick` accepts, waiting for it up to a minute; `what` describes it
/// on failure.
pub fn wait_alarm_where(dir: &Path, what: &str, pick: impl Fn(&Alarm) -> bool) -> Alarm {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(a) = stored_alarms(dir).into_iter().find(|a| pick(a)) {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no alarm: {what}; alarms: {:?}",
            stored_alarms(dir)
                .iter()
                .map(|a| &a.name)
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Server configuration tables: `[correlation]` with these directives (and the `extra` keys
/// after them), and `[plugins]` with these sid tables when there are any.
pub fn rules_tables(sid_tables: &[&Path], directives: &Path, extra: &str) -> String {
    let quoted = |p: &Path| format!("{:?}", p.display().to_string());
    let plugins = match sid_tables {
        [] => String::new(),
        tables => format!(
            "[plugins]\nsid_tables = [{}]\n",
            tables
                .iter()
                .map(|t| quoted(t))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    format!(
        "{plugins}[correlation]\ndirectives = [{}]\n{extra}",
        quoted(directives)
    )
}

/// [`rules_tables`] with the corpus's OSSIM directives and plugin sid tables.
pub fn corpus_rules(extra: &str) -> String {
    rules_tables(
        &[&corpus("ossim/plugins-sql")],
        &corpus("ossim/directives"),
        extra,
    )
}

/// Runs `vigil SUBCOMMAND ARGS --data-dir DIR` (an accounts command: `user`, `token`) with
/// `stdin` as its standard input (where `user` reads passwords).
pub fn accounts_command(
    subcommand: &str,
    dir: &Path,
    args: &[&str],
    stdin: &str,
) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(exe())
        .arg(subcommand)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The standard output of a command that must have succeeded (its stderr is shown if not).
pub fn succeeded(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Waits (up to 20 s) until `probe` gives something, and returns it.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
