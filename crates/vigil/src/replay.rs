//! `vigil replay`: recorded input through the same analysis as production
//! ([`vigil_analysis::analysis::Analyzer`]: sid tables, policies, risk, directives), printing
//! alarms (and with `--events`, the events) as JSON lines. The input is OSSIM agent `event`
//! lines, or with `--plugins`, raw logs normalised by OSSIM agent plugin files exactly as the
//! edge does (unmatched lines become unparsed events).
//!
//! Replay is deterministic: an event without `event_id` gets an id derived from its file name,
//! line number and text; correlation runs on each event's own time (`date`/`fdate`), and a line
//! without one takes the previous line's time.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use vigil_agent_proto::{Command, EventContext, parse_line};
use vigil_analysis::analysis::Analyzer;
use vigil_analysis::config::CorrelationConfig;
use vigil_analysis::correlation::Setup;
use vigil_correlate::derived_id;
use vigil_event::{Timestamp, Transport};

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
    /// Raw logs: OSSIM agent plugin `.cfg` files or directories of them; without, the input is
    /// OSSIM agent `event` lines.
    pub plugins: Vec<PathBuf>,
    /// Directory with the agent's `aliases.cfg` and `config.cfg` (regexp aliases, `\_CFG`).
    pub agent_config: Option<PathBuf>,
    /// Year of log dates that carry none.
    pub year: i32,
}

/// Loads plugin files (a directory: every `*.cfg` in name order), in the order given; warnings
/// about unsupported constructs go to `errors`.
pub fn load_plugins(
    paths: &[PathBuf],
    agent_config: Option<&Path>,
    errors: &mut impl Write,
) -> anyhow::Result<vigil_plugins::cfg::PluginSet> {
    let (plugins, warnings) = vigil_plugins::cfg::load_plugins(paths, agent_config)?;
    for w in warnings {
        writeln!(errors, "warning: {w}")?;
    }
    Ok(vigil_plugins::cfg::PluginSet::new(plugins))
}

/// Counts of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Event lines analysed.
    pub events: u64,
    /// Lines that were not valid event lines, or matches that could not become events
    /// (reported on standard error).
    pub rejected: u64,
    /// Raw lines no plugin matched (kept as unparsed events).
    pub unparsed: u64,
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
    let sids = Arc::new(vigil_analysis::load_sid_tables(&options.sid_tables)?);
    let taxonomy = Arc::new(vigil_analysis::correlation::taxonomy(&sids, &[]));
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
    let plugins = match options.plugins.is_empty() {
        true => None,
        false => Some(load_plugins(
            &options.plugins,
            options.agent_config.as_deref(),
            errors,
        )?),
    };
    let parse_cx = vigil_plugins::cfg::ParseContext::for_year(options.year);
    let mut replay = Replayer {
        analyzer: analyzer(options)?,
        key: [0u8; 32],
        clock: Timestamp::from_secs(0),
        print_events: options.events,
        summary: ReplaySummary::default(),
        out,
        errors,
    };
    for file in files {
        let reader = std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
        );
        let name = file.display().to_string();
        for (index, line) in reader.split(b'\n').enumerate() {
            let line = line.with_context(|| format!("cannot read {name}"))?;
            let at = (name.as_str(), index + 1);
            match &plugins {
                None => replay.agent_line(at, &line)?,
                Some(set) => replay.raw_line(set, &parse_cx, at, &line)?,
            }
        }
    }
    Ok(replay.summary)
}

/// What a replay carries from line to line.
struct Replayer<'a, O: Write, E: Write> {
    analyzer: Analyzer,
    /// Password fingerprint key (fixed: replay output must not depend on a secret).
    key: [u8; 32],
    /// The latest event time, for lines without one.
    clock: Timestamp,
    print_events: bool,
    summary: ReplaySummary,
    out: &'a mut O,
    errors: &'a mut E,
}

impl<O: Write, E: Write> Replayer<'_, O, E> {
    /// One OSSIM agent line at `(file, line number)`; lines other than `event` are skipped.
    fn agent_line(&mut self, (name, line_no): (&str, usize), line: &[u8]) -> anyhow::Result<()> {
        let mut raw = match parse_line(line) {
            Ok(Some(Command::Event(raw))) => raw,
            Ok(_) => return Ok(()), // connect, comments, blank lines, other commands
            Err(rejection) => {
                self.summary.rejected += 1;
                writeln!(self.errors, "{name}:{line_no}: {rejection}")?;
                return Ok(());
            }
        };
        if raw.event_id.is_none() {
            raw.event_id = Some(line_id(name, line_no, line));
        }
        let time = raw.date.or(raw.fdate).unwrap_or(self.clock);
        self.clock = time;
        let context = EventContext {
            sensor: "replay",
            sensor_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            sensor_id: None,
            peer: None,
            received_at: time,
            secret_key: &self.key,
        };
        let mut event = raw.into_event(&context);
        event.provenance.transport = Transport::Replay;
        self.analyze(event)
    }

    /// One raw log line at `(file, line number)` through the plugins; blank lines are skipped.
    fn raw_line(
        &mut self,
        plugins: &vigil_plugins::cfg::PluginSet,
        parse_cx: &vigil_plugins::cfg::ParseContext,
        (name, line_no): (&str, usize),
        bytes: &[u8],
    ) -> anyhow::Result<()> {
        use vigil_edge::normalize::{NormalizeContext, normalize, unparsed};
        let line = String::from_utf8_lossy(bytes);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            return Ok(());
        }
        let hosts = std::collections::HashMap::new();
        let cx = NormalizeContext {
            sensor: "replay",
            sensor_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            device: std::net::IpAddr::from([0, 0, 0, 0]),
            received: self.clock,
            zone: &jiff::tz::TimeZone::UTC,
            hosts: &hosts,
            replay: true,
            secret_key: &self.key,
            id: line_id(name, line_no, bytes),
        };
        let event = match plugins.parse(line, parse_cx) {
            Some(parsed) => match normalize(&parsed, line, &cx) {
                Ok(event) => event,
                Err(e) => {
                    self.summary.rejected += 1;
                    writeln!(self.errors, "{name}:{line_no}: {e}")?;
                    unparsed(line, &cx)
                }
            },
            None => {
                self.summary.unparsed += 1;
                unparsed(line, &cx)
            }
        };
        self.clock = event.time;
        self.analyze(event)
    }

    /// Analyses one event and writes its events when asked, then its alarms.
    fn analyze(&mut self, event: vigil_event::Event) -> anyhow::Result<()> {
        self.summary.events += 1;
        let analysis = self.analyzer.analyze(event);
        if self.print_events {
            for e in &analysis.events {
                serde_json::to_writer(&mut *self.out, e)?;
                self.out.write_all(b"\n")?;
            }
        }
        for alarm in &analysis.alarms {
            serde_json::to_writer(&mut *self.out, alarm)?;
            self.out.write_all(b"\n")?;
            self.summary.alarms += 1;
        }
        Ok(())
    }
}

/// The id of the event read from a line without one: derived from where it was read and
/// what it said, so replays are repeatable.
fn line_id(name: &str, line_no: usize, line: &[u8]) -> vigil_event::Uuid {
    derived_id(
        b"replay",
        &[name.as_bytes(), &(line_no as u64).to_le_bytes(), line],
    )
}
