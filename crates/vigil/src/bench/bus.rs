//! `vigil bench bus`: edge to core over the signed event bus, real processes on loopback.
//!
//! Each run starts a core (its automatic CA, TLS 1.3 with client certificates) and an edge
//! with a sensor certificate issued from that CA. Syslog messages go to the edge over TCP; the
//! edge parses them, numbers and fsyncs them into its spool, and sends signed batches; the core
//! verifies each batch, stores it (fsync) and only then acknowledges it.
//!
//! * Throughput: every message as fast as the edge takes them; the clock runs from the first
//!   byte sent until the core counts the last event as stored. The run checks that the core
//!   stores exactly what was sent and refused nothing.
//! * Latency: a fresh pair receives messages at a steady `rate` for `latency_seconds`; the edge's
//!   `vigil_edge_bus_ack_seconds` summary gives the time from handing a batch to the spool to
//!   the core's acknowledgement that it is stored: the latency the bus adds.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use vigil_event::Event;
use vigil_store::Log;

use super::Spread;
use super::edge::{SyslogLoad, send_all, syslog_payloads};
use super::parse::read_lines;
use crate::process::{EdgeProcess, ServerProcess, loopback_config_with_bus};

/// The sensor name of the benchmark's edge.
const SENSOR: &str = "bench-edge";
/// How long a run may take to store everything.
const STORE_TIMEOUT: Duration = Duration::from_secs(600);
/// Pacing of the latency load: one write per tick.
const TICK: Duration = Duration::from_millis(10);

/// Parameters of the bus benchmark.
#[derive(Debug, Clone)]
pub struct BusBenchOptions {
    /// The `vigil` binary to start as core and edge.
    pub exe: PathBuf,
    /// What is sent, and how often each measurement runs.
    pub load: SyslogLoad,
    /// Messages per throughput run (rounded up to whole chunks per connection).
    pub events: u64,
    /// Messages per second of the latency runs.
    pub rate: u64,
    /// Length of each latency run.
    pub latency_seconds: u64,
}

/// A core and an edge connected over the bus, in one temporary directory.
struct Pair {
    core: ServerProcess,
    edge: EdgeProcess,
    _dir: tempfile::TempDir,
    core_dir: PathBuf,
}

impl Pair {
    fn start(options: &BusBenchOptions) -> anyhow::Result<Pair> {
        let dir = tempfile::tempdir()?;
        let core_dir = dir.path().join("core");
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let core = ServerProcess::start(
            &options.exe,
            &core_dir,
            &loopback_config_with_bus(&core_dir, &[any], "", "", ""),
        )?;
        let edge_dir = dir.path().join("edge");
        let certs = edge_dir.join("bus");
        vigil_ca::Authority::open(&core_dir.join("ca"), None)
            .context("cannot open the core's CA")?
            .issue(vigil_ca::Role::Sensor, SENSOR, &[], &certs, None, 2)
            .context("cannot issue the edge's certificate")?;
        let file = |name: &str| format!("{:?}", certs.join(name).display().to_string());
        let config = format!(
            "data_dir = {:?}\n[sensor]\nname = \"{SENSOR}\"\n{}[[source]]\nname = \"tcp\"\nkind = \"syslog_tcp\"\nlisten = \"127.0.0.1:0\"\n[forward]\nkind = \"bus\"\n[forward.bus]\nendpoints = [\"{}\"]\ncert = {}\nkey = {}\nca = {}\n[metrics]\nlisten = \"127.0.0.1:0\"\n",
            edge_dir.display().to_string(),
            options.load.plugins_toml(),
            core.info
                .bus
                .first()
                .context("the core has no bus listener")?,
            file(&format!("{SENSOR}.pem")),
            file(&format!("{SENSOR}.key")),
            file("ca.pem"),
        );
        let edge = EdgeProcess::start(&options.exe, &edge_dir, &config)?;
        Ok(Pair {
            core,
            edge,
            _dir: dir,
            core_dir,
        })
    }

    /// Waits until the core stored `total` events; checks nothing was refused or lost.
    fn wait_stored(&self, total: u64) -> anyhow::Result<()> {
        self.core
            .wait_for_metric("vigil_events_stored_total", total as f64, STORE_TIMEOUT)?;
        for metric in [
            "vigil_bus_rejected_total",
            "vigil_bus_handshakes_refused_total",
        ] {
            let n = self.core.metric(metric)?;
            if n != 0.0 {
                bail!("{metric} is {n} during the benchmark");
            }
        }
        for metric in ["vigil_edge_rejected_total", "vigil_edge_lost_total"] {
            let n = self.edge.metric(metric)?;
            if n != 0.0 {
                bail!("{metric} is {n} during the benchmark");
            }
        }
        Ok(())
    }

    /// Stops both and checks the store holds exactly `total` events.
    fn stop(self, total: u64) -> anyhow::Result<()> {
        self.edge.terminate()?;
        self.core.terminate()?;
        let stored = Log::<Event>::open_read_only(&self.core_dir.join("events"))
            .context("cannot open the core's store")?
            .stats()
            .records;
        if stored != total {
            bail!("the core stored {stored} events, {total} were sent");
        }
        Ok(())
    }
}

/// One throughput run.
struct ThroughputRun {
    events_per_second: f64,
    core_rss_mib: f64,
    edge_rss_mib: f64,
}

/// One latency run: quantiles of the added latency, in milliseconds.
struct LatencyRun {
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs both measurements `runs` times and prints each run and the medians.
pub fn bus(options: &BusBenchOptions, out: &mut impl Write) -> anyhow::Result<()> {
    let lines = read_lines(&options.load.files)?;
    let connections = options.load.connections.max(1);
    let payloads = syslog_payloads(&lines, connections);
    let per_chunk = super::edge::CHUNK_MESSAGES;
    let chunks = (options.events as usize)
        .div_ceil(connections * per_chunk)
        .max(1);
    let total = (connections * chunks * per_chunk) as u64;
    writeln!(
        out,
        "bus benchmark: {total} syslog messages over {connections} TCP connections into an edge, signed batches over mutual TLS to a core, acknowledged once fsynced; then {} events/s for {} s for latency; {} runs each",
        options.rate, options.latency_seconds, options.load.runs
    )?;
    let mut throughput = Vec::new();
    for run in 1..=options.load.runs.max(1) {
        let pair = Pair::start(options)?;
        let began = send_all(pair.edge.source_addr("tcp")?, &payloads, chunks)?;
        pair.wait_stored(total)?;
        let seconds = began.elapsed().as_secs_f64();
        let result = ThroughputRun {
            events_per_second: total as f64 / seconds,
            core_rss_mib: pair.core.peak_rss_kib()? as f64 / 1024.0,
            edge_rss_mib: pair.edge.peak_rss_kib()? as f64 / 1024.0,
        };
        pair.stop(total)?;
        writeln!(
            out,
            "throughput run {run}: {total} events stored in {seconds:.3} s = {:.0} events/s; peak RSS core {:.1} MiB, edge {:.1} MiB",
            result.events_per_second, result.core_rss_mib, result.edge_rss_mib
        )?;
        throughput.push(result);
    }
    let mut latency = Vec::new();
    for run in 1..=options.load.runs.max(1) {
        let pair = Pair::start(options)?;
        let sent = paced(
            pair.edge.source_addr("tcp")?,
            &lines,
            options.rate,
            Duration::from_secs(options.latency_seconds),
        )?;
        pair.wait_stored(sent)?;
        let quantile = |q: &str| -> anyhow::Result<f64> {
            Ok(1000.0
                * pair
                    .edge
                    .metric_series(&format!("vigil_edge_bus_ack_seconds{{quantile=\"{q}\"}}"))?)
        };
        let result = LatencyRun {
            p50_ms: quantile("0.5")?,
            p99_ms: quantile("0.99")?,
        };
        pair.stop(sent)?;
        writeln!(
            out,
            "latency run {run}: {sent} events at {} events/s: added latency p50 {:.2} ms, p99 {:.2} ms",
            options.rate, result.p50_ms, result.p99_ms
        )?;
        latency.push(result);
    }
    let rates = Spread::of(throughput.iter().map(|r| r.events_per_second).collect());
    let core_rss = Spread::of(throughput.iter().map(|r| r.core_rss_mib).collect());
    let edge_rss = Spread::of(throughput.iter().map(|r| r.edge_rss_mib).collect());
    let p99 = Spread::of(latency.iter().map(|r| r.p99_ms).collect());
    let p50 = Spread::of(latency.iter().map(|r| r.p50_ms).collect());
    writeln!(
        out,
        "throughput median: {:.0} events/s (min {:.0}, max {:.0}); peak RSS median core {:.1} MiB, edge {:.1} MiB",
        rates.median, rates.min, rates.max, core_rss.median, edge_rss.median
    )?;
    writeln!(
        out,
        "latency at {} events/s: p99 median {:.2} ms (min {:.2}, max {:.2}); p50 median {:.2} ms",
        options.rate, p99.median, p99.min, p99.max, p50.median
    )?;
    Ok(())
}

/// Sends `rate` messages a second (cycling `lines`) for `length` on one connection, a slice
/// every [`TICK`] on a fixed schedule; returns how many were sent.
fn paced(addr: SocketAddr, lines: &[String], rate: u64, length: Duration) -> anyhow::Result<u64> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    let ticks = (length.as_millis() / TICK.as_millis()).max(1) as u64;
    let per_tick = (rate * TICK.as_millis() as u64 / 1000).max(1);
    let start = Instant::now();
    let mut next = 0usize;
    let mut slice = Vec::new();
    for tick in 0..ticks {
        slice.clear();
        for _ in 0..per_tick {
            slice.extend_from_slice(b"<38>");
            slice.extend_from_slice(lines[next % lines.len()].as_bytes());
            slice.push(b'\n');
            next += 1;
        }
        stream.write_all(&slice)?;
        let due = start + TICK * (tick as u32 + 1);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    Ok(ticks * per_tick)
}
