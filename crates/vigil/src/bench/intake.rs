//! `vigil bench intake`: a real server process fed over loopback by concurrent agent sessions,
//! measuring events per second from the first byte sent to the last event fsynced, and the
//! server's peak resident memory.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use vigil_event::{Event, Timestamp};
use vigil_store::Log;

use super::Spread;
use crate::loadgen::{event_line, open_session};
use crate::process::{ServerProcess, loopback_config};

/// Lines generated per connection and sent repeatedly (ids repeat between repetitions).
const CHUNK_LINES: u64 = 1_000;

/// Parameters of the intake benchmark.
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// The `vigil` binary to start as the server.
    pub exe: PathBuf,
    /// Concurrent agent sessions.
    pub connections: u32,
    /// Events each session sends (rounded up to a multiple of 1,000).
    pub events_per_connection: u64,
    /// Repetitions; the median is reported.
    pub runs: usize,
    /// Directive files or directories the server loads (none: intake and qualification only).
    pub directives: Vec<PathBuf>,
    /// Plugin SQL sid tables the server loads.
    pub sid_tables: Vec<PathBuf>,
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub struct IntakeRun {
    /// Events sent and stored.
    pub events: u64,
    /// Seconds from the start signal to the last event stored.
    pub seconds: f64,
    /// Peak resident memory of the server, MiB.
    pub peak_rss_mib: f64,
}

impl IntakeRun {
    /// Throughput.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.seconds
    }
}

/// Runs the benchmark `runs` times, printing each run, and returns them.
pub fn intake(options: &IntakeOptions, out: &mut impl Write) -> anyhow::Result<Vec<IntakeRun>> {
    let chunks = options.events_per_connection.div_ceil(CHUNK_LINES).max(1);
    let payloads: Vec<Arc<Vec<u8>>> = (0..options.connections)
        .map(|conn| {
            let now = Timestamp::now().as_secs();
            let chunk: String = (0..CHUNK_LINES)
                .map(|seq| event_line(conn, seq, now))
                .collect();
            Arc::new(chunk.into_bytes())
        })
        .collect();
    let line_bytes = payloads.first().map_or(0, |p| p.len() as u64 / CHUNK_LINES);
    writeln!(
        out,
        "intake benchmark: {} connections x {} events ({} bytes/line) per run, {} runs",
        options.connections,
        chunks * CHUNK_LINES,
        line_bytes,
        options.runs
    )?;
    let mut runs = Vec::new();
    for run in 1..=options.runs {
        let result = intake_once(options, &payloads, chunks)?;
        writeln!(
            out,
            "run {run}: {} events in {:.3} s = {:.0} events/s, server peak RSS {:.1} MiB",
            result.events,
            result.seconds,
            result.events_per_second(),
            result.peak_rss_mib
        )?;
        runs.push(result);
    }
    let rates = Spread::of(runs.iter().map(IntakeRun::events_per_second).collect());
    let rss = Spread::of(runs.iter().map(|r| r.peak_rss_mib).collect());
    writeln!(
        out,
        "median: {:.0} events/s (min {:.0}, max {:.0}); peak RSS median {:.1} MiB (max {:.1})",
        rates.median, rates.min, rates.max, rss.median, rss.max
    )?;
    Ok(runs)
}

fn intake_once(
    options: &IntakeOptions,
    payloads: &[Arc<Vec<u8>>],
    chunks: u64,
) -> anyhow::Result<IntakeRun> {
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start(
        &options.exe,
        dir.path(),
        &loopback_config(dir.path(), "", ""),
    )?;
    let addr = server.agent_addr()?;
    let total = u64::from(options.connections) * chunks * CHUNK_LINES;
    let streams = (0..options.connections)
        .map(|conn| open_session(addr, conn))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let began = super::send_together(streams, payloads, chunks as usize)?;
    server.wait_for_metric(
        "vigil_events_stored_total",
        total as f64,
        Duration::from_secs(600),
    )?;
    let seconds = began.elapsed().as_secs_f64();
    let peak_rss_mib = server.peak_rss_kib()? as f64 / 1024.0;
    let rejected = server.metric("vigil_events_rejected_total")?;
    server.terminate()?;
    if rejected != 0.0 {
        bail!("{rejected} events were rejected during the benchmark");
    }
    let stored = Log::<Event>::open_read_only(&dir.path().join("events"))
        .context("cannot open the store")?
        .stats()
        .records;
    if stored != total {
        bail!("the store holds {stored} events, {total} were sent");
    }
    Ok(IntakeRun {
        events: total,
        seconds,
        peak_rss_mib,
    })
}
