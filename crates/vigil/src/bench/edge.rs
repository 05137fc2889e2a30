//! `vigil bench edge`: syslog over TCP into a real `vigil edge` process, to normalised events.
//!
//! Concurrent loopback connections send RFC 3164 messages (`<38>` and each line of the given
//! log files, cycled) as fast as the edge takes them; the clock runs from the first byte sent
//! until the edge has written the last event to its output file (JSON lines), and the run
//! checks that every event is there and nothing was refused. With `--peer rsyslog`, rsyslogd
//! (which must be installed; `scripts/bench-edge` installs it) receives the same load on the
//! same machine and writes it to a file, for a side-by-side figure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Spread;
use super::parse::read_lines;
use crate::process::EdgeProcess;

/// Messages per connection built once and sent repeatedly.
pub(super) const CHUNK_MESSAGES: usize = 10_000;

/// Who receives the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receiver {
    /// `vigil edge`, parsing every message with the plugins.
    Edge,
    /// rsyslogd, writing every message to a file (no parsing).
    Rsyslog,
}

/// The syslog load the edge and bus benchmarks send, and the plugins the edge parses it with.
#[derive(Debug, Clone, clap::Args)]
pub struct SyslogLoad {
    /// Plugin .cfg files or directories the edge loads (repeatable).
    #[arg(long, value_name = "PATH")]
    pub plugins: Vec<PathBuf>,
    /// Directory with the agent's aliases.cfg and config.cfg.
    #[arg(long, value_name = "DIR")]
    pub agent_config: Option<PathBuf>,
    /// Concurrent TCP connections into the edge.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Runs of each measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Log files whose lines are sent (as RFC 3164 messages).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl SyslogLoad {
    /// The `[plugins]` table of an edge loading these plugins (and the agent configuration).
    pub(super) fn plugins_toml(&self) -> String {
        let cfg = self
            .plugins
            .iter()
            .map(|p| format!("{:?}", p.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ");
        let agent = self
            .agent_config
            .as_ref()
            .map(|d| format!("agent_config = {:?}\n", d.display().to_string()))
            .unwrap_or_default();
        format!("[plugins]\ncfg = [{cfg}]\n{agent}")
    }
}

/// Parameters of the edge benchmark.
#[derive(Debug, Clone)]
pub struct EdgeBenchOptions {
    /// The `vigil` binary to start as the edge.
    pub exe: PathBuf,
    /// What is sent, and how often it is measured.
    pub load: SyslogLoad,
    /// Messages per run (rounded up to a multiple of the chunk per connection).
    pub events: u64,
    /// Also measure rsyslogd with the same load.
    pub peer: bool,
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct EdgeRun {
    /// Messages sent and written.
    pub events: u64,
    /// Seconds from the start to the last event written.
    pub seconds: f64,
    /// Peak resident memory of the receiver, MiB.
    pub peak_rss_mib: f64,
}

impl EdgeRun {
    /// Throughput.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

/// Runs the benchmark (and the peer's, when asked) and prints each run and the medians.
pub fn edge(options: &EdgeBenchOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let lines = read_lines(&options.load.files)?;
    let connections = options.load.connections.max(1);
    let chunks = (options.events as usize)
        .div_ceil(connections * CHUNK_MESSAGES)
        .max(1);
    let payloads = syslog_payloads(&lines, connections);
    let total = (connections * chunks * CHUNK_MESSAGES) as u64;
    let bytes: usize = payloads.iter().map(|p| p.len()).sum::<usize>() * chunks;
    writeln!(
        out,
        "edge benchmark: {total} syslog messages ({:.0} bytes each on average, from {} distinct lines) over {connections} TCP connections per run, {} runs",
        bytes as f64 / total as f64,
        lines.len(),
        options.load.runs
    )?;
    let mut receivers = vec![Receiver::Edge];
    if options.peer {
        receivers.push(Receiver::Rsyslog);
    }
    let mut summary = Vec::new();
    for receiver in receivers {
        let mut runs = Vec::new();
        for run in 1..=options.load.runs.max(1) {
            let result = match receiver {
                Receiver::Edge => edge_once(options, &payloads, chunks, total)?,
                Receiver::Rsyslog => rsyslog_once(&payloads, chunks, total)?,
            };
            writeln!(
                out,
                "{receiver:?} run {run}: {} events in {:.3} s = {:.0} events/s, peak RSS {:.1} MiB",
                result.events,
                result.seconds,
                result.events_per_second(),
                result.peak_rss_mib
            )?;
            runs.push(result);
        }
        let rates = Spread::of(runs.iter().map(EdgeRun::events_per_second).collect());
        let rss = Spread::of(runs.iter().map(|r| r.peak_rss_mib).collect());
        summary.push((receiver, rates, rss));
    }
    for (receiver, rates, rss) in summary {
        writeln!(
            out,
            "{receiver:?} median: {:.0} events/s (min {:.0}, max {:.0}); peak RSS median {:.1} MiB",
            rates.median, rates.min, rates.max, rss.median
        )?;
    }
    Ok(())
}

/// One chunk of [`CHUNK_MESSAGES`] RFC 3164 messages per connection, from `lines` cycled
/// (each connection starting elsewhere in them).
pub(super) fn syslog_payloads(lines: &[String], connections: usize) -> Vec<Arc<Vec<u8>>> {
    (0..connections)
        .map(|conn| {
            let mut chunk = Vec::new();
            for i in 0..CHUNK_MESSAGES {
                let line = &lines[(conn * 7919 + i) % lines.len()];
                chunk.extend_from_slice(b"<38>");
                chunk.extend_from_slice(line.as_bytes());
                chunk.push(b'\n');
            }
            Arc::new(chunk)
        })
        .collect()
}

/// Connects once per payload to `addr`, then sends every payload `chunks` times together.
pub(super) fn send_all(
    addr: SocketAddr,
    payloads: &[Arc<Vec<u8>>],
    chunks: usize,
) -> anyhow::Result<Instant> {
    let streams = payloads
        .iter()
        .map(|_| {
            let stream = TcpStream::connect(addr)?;
            stream.set_nodelay(true)?;
            Ok(stream)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    super::send_together(streams, payloads, chunks)
}

fn edge_once(
    options: &EdgeBenchOptions,
    payloads: &[Arc<Vec<u8>>],
    chunks: usize,
    total: u64,
) -> anyhow::Result<EdgeRun> {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("events.jsonl");
    let config = format!(
        "data_dir = {:?}\n{}[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"file\"\npath = {:?}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
        dir.path().display().to_string(),
        options.load.plugins_toml(),
        output.display().to_string()
    );
    let edge = EdgeProcess::start(&options.exe, dir.path(), &config)?;
    let began = send_all(edge.source_addr("tcp")?, payloads, chunks)?;
    edge.wait_for_metric(
        "vigil_edge_forwarded_total",
        total as f64,
        Duration::from_secs(600),
    )?;
    let seconds = began.elapsed().as_secs_f64();
    let peak_rss_mib = edge.peak_rss_kib()? as f64 / 1024.0;
    let rejected = edge.metric("vigil_edge_rejected_total")?;
    edge.terminate()?;
    if rejected != 0.0 {
        bail!("the edge refused {rejected} messages during the benchmark");
    }
    let written = LineCounter::default().count(&output)?;
    if written != total {
        bail!("the edge wrote {written} events, {total} were sent");
    }
    Ok(EdgeRun {
        events: total,
        seconds,
        peak_rss_mib,
    })
}

/// Counts the lines of a growing file, reading only what was appended since the last call.
#[derive(Default)]
struct LineCounter {
    file: Option<std::fs::File>,
    lines: u64,
}

impl LineCounter {
    fn count(&mut self, path: &Path) -> anyhow::Result<u64> {
        if self.file.is_none() {
            match std::fs::File::open(path) {
                Ok(f) => self.file = Some(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
            }
        }
        let mut buf = vec![0u8; 1 << 20];
        if let Some(file) = self.file.as_mut() {
            loop {
                let read = file.read(&mut buf)?;
                if read == 0 {
                    break;
                }
                self.lines += buf.iter().take(read).filter(|&&b| b == b'\n').count() as u64;
            }
        }
        Ok(self.lines)
    }
}

/// A running rsyslogd.
struct Rsyslog {
    child: Child,
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn rsyslog_once(payloads: &[Arc<Vec<u8>>], chunks: usize, total: u64) -> anyhow::Result<EdgeRun> {
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("messages.log");
    let port = free_port()?;
    let config = dir.path().join("rsyslog.conf");
    std::fs::write(
        &config,
        format!(
            "global(workDirectory={dir:?})\nmodule(load=\"imtcp\" MaxSessions=\"1000\")\ninput(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\")\naction(type=\"omfile\" file={out:?} template=\"RSYSLOG_TraditionalFileFormat\")\n",
            dir = dir.path().display().to_string(),
            out = output.display().to_string()
        ),
    )?;
    let child = Command::new("rsyslogd")
        .arg("-n")
        .arg("-f")
        .arg(&config)
        .arg("-i")
        .arg(dir.path().join("rsyslogd.pid"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context(
            "cannot start rsyslogd: install it (apt-get install rsyslog) or run scripts/bench-edge",
        )?;
    let rsyslog = Rsyslog { child };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            bail!("rsyslogd did not listen on {addr}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let began = send_all(addr, payloads, chunks)?;
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut written = LineCounter::default();
    while written.count(&output)? < total {
        if Instant::now() > deadline {
            bail!("rsyslogd wrote {} of {total} messages", written.lines);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = began.elapsed().as_secs_f64();
    let peak_kib = crate::process::peak_rss_kib_of(rsyslog.child.id())?;
    Ok(EdgeRun {
        events: total,
        seconds,
        peak_rss_mib: peak_kib as f64 / 1024.0,
    })
}
