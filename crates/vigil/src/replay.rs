//! `vigil replay`: OSSIM agent `event` lines from files, through the same analysis as
//! production ([`vigil_server::analysis::Analyzer`]: sid tables, policies, risk, directives),
//! printing alarms (and with `--events`, the events) as JSON lines.
//!
//! Replay is deterministic: an event without `event_id` gets an id derived from its file name,
//! line number and text; correlation runs on each event's own time (`date`/`fdate`), and a line
//! without one takes the previous line's time.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use vigil_agent_proto::{Command, EventContext, parse_line};
use vigil_correlate::derived_id;
use vigil_event::{Timestamp, Transport};
use vigil_server::analysis::Analyzer;
use vigil_server::config::CorrelationConfig;
use vigil_server::correlation::Setup;

/// What to replay and through what.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Directive files or directories.
    pub directives: Vec<PathBuf>,
    /// Policy file.
    pub policy: Option<PathBuf>,
    /// Asset inventory file.
    pub assets: Option<PathBuf>,
    /// Plugin SQL sid tables (files or directories).
    pub sid_tables: Vec<PathBuf>,
    /// Host inventory for cross-correlation.
    pub inventory: Option<PathBuf>,
    /// `plugin_reference` SQL files or directories.
    pub references: Vec<PathBuf>,
    /// Print every event (qualified, and every directive event) too, before alarms.
    pub events: bool,
}

/// Counts of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Event lines analysed.
    pub events: u64,
    /// Lines that were not valid event lines (reported on standard error).
    pub rejected: u64,
    /// Alarm revisions printed.
    pub alarms: u64,
}

/// Builds the analyzer replay uses.
pub fn analyzer(options: &ReplayOptions) -> anyhow::Result<Analyzer> {
    let config = CorrelationConfig {
        directives: options.directives.clone(),
        assets: options.assets.clone(),
        policies: options.policy.clone(),
        inventory: options.inventory.clone(),
        references: options.references.clone(),
        ..CorrelationConfig::default()
    };
    let sids = Arc::new(vigil_server::load_sid_tables(&options.sid_tables)?);
    let taxonomy = Arc::new(vigil_server::correlation::taxonomy(&sids, &[]));
    let setup = Setup::load(&config, taxonomy)?;
    Ok(setup.analyzer(sids, &config))
}

/// Replays `files` in order, writing JSON lines to `out` and rejected lines to `errors`.
pub fn run(
    options: &ReplayOptions,
    files: &[PathBuf],
    out: &mut impl Write,
    errors: &mut impl Write,
) -> anyhow::Result<ReplaySummary> {
    let mut analyzer = analyzer(options)?;
    let mut summary = ReplaySummary::default();
    let mut clock = Timestamp::from_secs(0);
    let key = [0u8; 32];
    for file in files {
        replay_file(
            &mut analyzer,
            file,
            &key,
            &mut clock,
            options.events,
            &mut summary,
            out,
            errors,
        )?;
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn replay_file(
    analyzer: &mut Analyzer,
    file: &Path,
    key: &[u8; 32],
    clock: &mut Timestamp,
    print_events: bool,
    summary: &mut ReplaySummary,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> anyhow::Result<()> {
    let reader = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let name = file.display().to_string();
    for (index, line) in reader.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("cannot read {name}"))?;
        let line_no = index + 1;
        let mut raw = match parse_line(&line) {
            Ok(Some(Command::Event(raw))) => raw,
            Ok(_) => continue, // connect, comments, blank lines, other commands
            Err(rejection) => {
                summary.rejected += 1;
                writeln!(errors, "{name}:{line_no}: {rejection}")?;
                continue;
            }
        };
        if raw.event_id.is_none() {
            raw.event_id = Some(derived_id(
                b"replay",
                &[name.as_bytes(), &(line_no as u64).to_le_bytes(), &line],
            ));
        }
        let time = raw.date.or(raw.fdate).unwrap_or(*clock);
        *clock = time;
        let context = EventContext {
            sensor: "replay",
            sensor_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            sensor_id: None,
            peer: None,
            received_at: time,
            secret_key: key,
        };
        let mut event = raw.into_event(&context);
        event.provenance.transport = Transport::Replay;
        summary.events += 1;
        let analysis = analyzer.analyze(event);
        if print_events {
            for e in &analysis.events {
                serde_json::to_writer(&mut *out, e)?;
                out.write_all(b"\n")?;
            }
        }
        for alarm in &analysis.alarms {
            serde_json::to_writer(&mut *out, alarm)?;
            out.write_all(b"\n")?;
            summary.alarms += 1;
        }
    }
    Ok(())
}
