//! `vigil replay`: recorded input through the same analysis as production
//! ([`vigil_analysis::analysis::Analyzer`]: sid tables, policies, risk, directives), printing
//! alarms (and with `--events`, the events) as JSON lines.
//!
//! Input, per file: a file whose first non-blank line is an OSSIM agent line (`event ...`,
//! `connect ...`) is read as agent lines; any other file is a raw log, normalised exactly as
//! the edge does it (`vigil_edge::plugins`, `vigil_edge::normalize`): by the plugin files of
//! `--plugins`, or without them by Vigil's built-in plugins, as an edge on its defaults.
//! Lines no plugin matches become unparsed events. With `--plugins` every file is a raw log.
//!
//! Replay is deterministic: an event without `event_id` gets an id derived from its file name,
//! line number and text; correlation runs on each event's own time (`date`/`fdate`, the log's
//! date). Each file is a stream of its own: dates without a year start in `--year` and roll
//! into the next year when the log goes from December to January
//! ([`vigil_plugins::cfg::ParseContext::follow`]); a line without a time takes the time of the
//! line before it, and lines before the first dated line of a file take that first date (a
//! file without any date takes the last time of the file before it, or for the first file,
//! 1 January of `--year`).
//!
//! Input from a store ([`Source::Store`]): the event log of a `vigil server` data directory,
//! read read-only in record order (the order the server analysed the events), each event fed as
//! stored, provenance included, so it is correlated on the same time as in production (the
//! receive time of a legacy agent's event, the edge's stamp of a bus event). Only what
//! production fed the engine is fed
//! ([`vigil_analysis::analysis::is_correlation_input`]): not the directive events the
//! engine produced, nor the core's own reports. Over the whole store the alarms are production's.
//!
//! With `until`, the engine's clock is advanced to that time at the end of the input
//! ([`vigil_correlate::Engine::advance_time`]), so absence levels still waiting fire and
//! backlogs expire as they would have once event time passed it.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use vigil_agent_proto::{Command, EventContext, parse_line};
use vigil_analysis::analysis::Analyzer;
use vigil_analysis::correlation::Setup;
use vigil_correlate::derived_id;
use vigil_edge::normalize::{NormalizeContext, normalize, unparsed};
use vigil_event::{Alarm, Event, Timestamp, Transport};
use vigil_plugins::cfg::{ParseContext, PluginSet};
use vigil_store::Log;

/// What to replay and through what.
#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// A `vigil server` configuration file whose rules (correlation and plugin sections) replay
    /// uses; the options below replace what they name.
    pub server_config: Option<PathBuf>,
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
    /// Raw logs: OSSIM agent plugin `.cfg` files or directories of them, used for every file;
    /// without, agent files are detected and raw logs parsed by the built-in plugins.
    pub plugins: Vec<PathBuf>,
    /// A TOML file with a `[hosts]` table (an edge configuration, or just that table): host
    /// names in logs and their addresses, resolved as the edge resolves them.
    pub hosts: Option<PathBuf>,
    /// Directory with the agent's `aliases.cfg` and `config.cfg` (regexp aliases, `\_CFG`).
    pub agent_config: Option<PathBuf>,
    /// Year of log dates that carry none.
    pub year: i32,
    /// Advance the engine's clock to this time at the end of the input.
    pub until: Option<Timestamp>,
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Log files, in order: OSSIM agent lines or raw logs.
    Files(Vec<PathBuf>),
    /// The events stored in a `vigil server` data directory whose time lies in `from..=to`,
    /// in store order.
    Store {
        /// The data directory (its `events` log is read).
        dir: PathBuf,
        /// Earliest event time, inclusive.
        from: Timestamp,
        /// Latest event time, inclusive.
        to: Timestamp,
    },
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

/// Builds the analyzer replay uses: the server configuration's rules if one is given, with
/// what the options name instead.
pub fn analyzer(options: &ReplayOptions) -> anyhow::Result<Analyzer> {
    let (mut config, mut plugins) = match &options.server_config {
        Some(path) => {
            let server = vigil_server::config::Config::load(path)?;
            (server.correlation, server.plugins)
        }
        None => Default::default(),
    };
    let replace = |given: &[PathBuf], configured: &mut Vec<PathBuf>| {
        if !given.is_empty() {
            *configured = given.to_vec();
        }
    };
    replace(&options.directives, &mut config.directives);
    replace(&options.references, &mut config.references);
    replace(&options.sid_tables, &mut plugins.sid_tables);
    for (given, configured) in [
        (&options.assets, &mut config.assets),
        (&options.policy, &mut config.policies),
        (&options.inventory, &mut config.inventory),
    ] {
        if given.is_some() {
            configured.clone_from(given);
        }
    }
    let sids = Arc::new(vigil_analysis::load_sid_tables(&plugins.sid_tables)?);
    let taxonomy = Arc::new(vigil_analysis::correlation::taxonomy(
        &sids,
        &plugins.products,
    ));
    let setup = Setup::load(&config, taxonomy)?;
    Ok(setup.analyzer(sids, &config))
}

/// Replays `source`, writing JSON lines to `out` and rejected lines to `errors`; then, with
/// `options.until`, advances the engine's clock to it; then, for files, revises every open
/// alarm whose story moved on since its latest revision ([`vigil_correlate::Engine::settle`]).
pub fn run(
    options: &ReplayOptions,
    source: &Source,
    out: &mut impl Write,
    errors: &mut impl Write,
) -> anyhow::Result<ReplaySummary> {
    let mut sink = Sink {
        analyzer: analyzer(options)?,
        output: Output {
            print_events: options.events,
            summary: ReplaySummary::default(),
            out,
        },
    };
    match source {
        Source::Files(files) => replay_files(options, files, &mut sink, errors)?,
        Source::Store { dir, from, to } => replay_store(dir, *from, *to, &mut sink)?,
    }
    if let Some(until) = options.until {
        let outputs = sink.analyzer.engine_mut().advance_time(until);
        sink.write(&outputs.directive_events, &outputs.alarms)?;
    }
    // At the end of files every alarm still open says exactly how far it got; a store replay
    // shows exactly what the server stored, and the server revises only as events come.
    if let Source::Files(_) = source {
        let outputs = sink.analyzer.engine_mut().settle();
        sink.write(&outputs.directive_events, &outputs.alarms)?;
    }
    Ok(sink.output.summary)
}

/// Replays `files` in order into `sink`.
fn replay_files<W: Write>(
    options: &ReplayOptions,
    files: &[PathBuf],
    sink: &mut Sink<W>,
    errors: &mut impl Write,
) -> anyhow::Result<()> {
    let plugin_config = vigil_edge::config::PluginsConfig {
        cfg: options.plugins.clone(),
        builtin: options.plugins.is_empty(),
        agent_config: options.agent_config.clone(),
        ..vigil_edge::config::PluginsConfig::default()
    };
    let (plugins, warnings) = vigil_edge::plugins::load(&plugin_config)?;
    for w in warnings {
        writeln!(errors, "warning: {w}")?;
    }
    let hosts = match &options.hosts {
        Some(path) => vigil_edge::Config::load(path)?.host_map(),
        None => HashMap::new(),
    };
    let mut replay = Replayer {
        plugins: PluginSet::new(plugins),
        hosts,
        key: [0u8; 32],
        clock: year_start(options.year)?,
        sink,
        errors,
    };
    for file in files {
        let name = file.display().to_string();
        let input = match options.plugins.is_empty() {
            true => detect(file)?,
            false => Input::Raw,
        };
        let start = ParseContext::for_year(options.year);
        if let Some(first) = replay.first_time(file, input, start)? {
            replay.clock = first;
        }
        let mut parse_cx = start;
        for (index, line) in lines(file)?.enumerate() {
            let line = line.with_context(|| format!("cannot read {name}"))?;
            replay.line(input, &mut parse_cx, (name.as_str(), index + 1), &line)?;
        }
    }
    Ok(())
}

/// Feeds `sink` the events of `dir`'s event log whose time lies in `from..=to` and that were
/// inputs of correlation, as stored, in record order.
fn replay_store<W: Write>(
    dir: &Path,
    from: Timestamp,
    to: Timestamp,
    sink: &mut Sink<W>,
) -> anyhow::Result<()> {
    let log_dir = dir.join("events");
    if !log_dir.is_dir() {
        anyhow::bail!(
            "no event log at {} (is --store a `vigil server` data directory?)",
            log_dir.display()
        );
    }
    let log = Log::<Event>::open_read_only(&log_dir)
        .with_context(|| format!("cannot open the event log {}", log_dir.display()))?;
    let mut failure = None;
    let Sink { analyzer, output } = sink;
    let fed =
        vigil_analysis::analysis::replay_stored(&log, from, to, analyzer, |analysis| match output
            .write(&analysis.events, &analysis.alarms)
        {
            Ok(()) => std::ops::ControlFlow::Continue(()),
            Err(e) => {
                failure = Some(e);
                std::ops::ControlFlow::Break(())
            }
        })
        .with_context(|| format!("cannot read the event log {}", log_dir.display()))?;
    output.summary.events += fed;
    failure.map_or(Ok(()), Err)
}

/// 1 January of `year`, 00:00 UTC: the time of lines before any date.
fn year_start(year: i32) -> anyhow::Result<Timestamp> {
    let year = i16::try_from(year).context("--year out of range")?;
    let start = jiff::civil::date(year, 1, 1)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .context("--year out of range")?;
    Ok(Timestamp::from_micros(start.timestamp().as_microsecond()))
}

/// The lines of `file`.
fn lines(file: &Path) -> anyhow::Result<std::io::Split<std::io::BufReader<std::fs::File>>> {
    let opened =
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    Ok(std::io::BufReader::new(opened).split(b'\n'))
}

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Input {
    /// OSSIM agent lines (`event ...`).
    Agent,
    /// Raw log lines, for the plugins.
    Raw,
}

/// Agent lines when the first non-blank line of `file` is an agent `event` or `connect`
/// line, else a raw log.
fn detect(file: &Path) -> anyhow::Result<Input> {
    for line in lines(file)? {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_start();
        if text.is_empty() {
            continue;
        }
        let agent = ["event ", "connect "].iter().any(|p| text.starts_with(p));
        return Ok(if agent { Input::Agent } else { Input::Raw });
    }
    Ok(Input::Raw)
}

/// One line read: the event it is, and what happened on the way.
struct LineEvent {
    event: Event,
    /// The line carried its own time (else it took the clock's).
    dated: bool,
    /// No plugin matched the line.
    unparsed: bool,
    /// A rule matched but its values made no event (the line is kept as unparsed).
    problem: Option<String>,
}

/// The analysis and where its output goes, whatever the input.
struct Sink<W: Write> {
    analyzer: Analyzer,
    output: Output<W>,
}

/// Where replay writes, and what it counted.
struct Output<W: Write> {
    print_events: bool,
    summary: ReplaySummary,
    out: W,
}

impl<W: Write> Sink<W> {
    /// Analyses one event and writes what it led to.
    fn analyze(&mut self, event: Event) -> anyhow::Result<()> {
        self.output.summary.events += 1;
        let analysis = self.analyzer.analyze(event);
        self.output.write(&analysis.events, &analysis.alarms)
    }

    /// Writes `events` when asked, then `alarms`.
    fn write(&mut self, events: &[Event], alarms: &[Alarm]) -> anyhow::Result<()> {
        self.output.write(events, alarms)
    }
}

impl<W: Write> Output<W> {
    /// Writes `events` when asked, then `alarms`, one JSON document a line.
    fn write(&mut self, events: &[Event], alarms: &[Alarm]) -> anyhow::Result<()> {
        if self.print_events {
            for e in events {
                serde_json::to_writer(&mut self.out, e)?;
                self.out.write_all(b"\n")?;
            }
        }
        for alarm in alarms {
            serde_json::to_writer(&mut self.out, alarm)?;
            self.out.write_all(b"\n")?;
            self.summary.alarms += 1;
        }
        Ok(())
    }
}

/// What a replay of files carries from line to line.
struct Replayer<'a, W: Write, E: Write> {
    plugins: PluginSet,
    /// Host names in logs and their addresses (lower-case names), as at the edge.
    hosts: HashMap<String, std::net::IpAddr>,
    /// Password fingerprint key (fixed: replay output must not depend on a secret).
    key: [u8; 32],
    /// The latest event time, for lines without one.
    clock: Timestamp,
    sink: &'a mut Sink<W>,
    errors: &'a mut E,
}

impl<W: Write, E: Write> Replayer<'_, W, E> {
    /// The time of the first line of `file` that has one.
    fn first_time(
        &self,
        file: &Path,
        input: Input,
        mut parse_cx: ParseContext,
    ) -> anyhow::Result<Option<Timestamp>> {
        let name = file.display().to_string();
        for (index, line) in lines(file)?.enumerate() {
            let line = line.with_context(|| format!("cannot read {name}"))?;
            if let Ok(Some(read)) = self.read(input, &mut parse_cx, (&name, index + 1), &line)
                && read.dated
            {
                return Ok(Some(read.event.time));
            }
        }
        Ok(None)
    }

    /// One line at `(file, line number)`: analysed, or counted as rejected.
    fn line(
        &mut self,
        input: Input,
        parse_cx: &mut ParseContext,
        (name, line_no): (&str, usize),
        line: &[u8],
    ) -> anyhow::Result<()> {
        match self.read(input, parse_cx, (name, line_no), line) {
            Ok(None) => Ok(()),
            Err(rejection) => {
                self.sink.output.summary.rejected += 1;
                writeln!(self.errors, "{name}:{line_no}: {rejection}")?;
                Ok(())
            }
            Ok(Some(read)) => {
                if let Some(problem) = read.problem {
                    self.sink.output.summary.rejected += 1;
                    writeln!(self.errors, "{name}:{line_no}: {problem}")?;
                }
                self.sink.output.summary.unparsed += u64::from(read.unparsed);
                if read.dated {
                    self.clock = read.event.time;
                }
                self.sink.analyze(read.event)
            }
        }
    }

    /// The event of one line (`None`: nothing to analyse; an error: a rejected agent line).
    fn read(
        &self,
        input: Input,
        parse_cx: &mut ParseContext,
        at: (&str, usize),
        line: &[u8],
    ) -> Result<Option<LineEvent>, String> {
        match input {
            Input::Agent => self.agent_line(at, line),
            Input::Raw => Ok(self.raw_line(parse_cx, at, line)),
        }
    }

    /// One OSSIM agent line; lines other than `event` are skipped.
    fn agent_line(
        &self,
        (name, line_no): (&str, usize),
        line: &[u8],
    ) -> Result<Option<LineEvent>, String> {
        let mut raw = match parse_line(line) {
            Ok(Some(Command::Event(raw))) => raw,
            Ok(_) => return Ok(None), // connect, comments, blank lines, other commands
            Err(rejection) => return Err(rejection.to_string()),
        };
        if raw.event_id.is_none() {
            raw.event_id = Some(line_id(name, line_no, line));
        }
        let own = raw.date.or(raw.fdate);
        let time = own.unwrap_or(self.clock);
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
        Ok(Some(LineEvent {
            event,
            dated: own.is_some(),
            unparsed: false,
            problem: None,
        }))
    }

    /// One raw log line through the plugins; blank lines are skipped. The reference date
    /// follows the line's date.
    fn raw_line(
        &self,
        parse_cx: &mut ParseContext,
        (name, line_no): (&str, usize),
        bytes: &[u8],
    ) -> Option<LineEvent> {
        let line = String::from_utf8_lossy(bytes);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            return None;
        }
        let cx = NormalizeContext {
            sensor: "replay",
            sensor_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            device: std::net::IpAddr::from([0, 0, 0, 0]),
            received: self.clock,
            zone: &jiff::tz::TimeZone::UTC,
            hosts: &self.hosts,
            replay: true,
            secret_key: &self.key,
            id: line_id(name, line_no, bytes),
        };
        let (event, unparsed_line, problem) = match self.plugins.parse(line, parse_cx) {
            Some(parsed) => {
                parse_cx.follow(&parsed);
                match normalize(&parsed, line, &cx) {
                    Ok(event) => (event, false, None),
                    Err(rejected) => (rejected.unparsed, false, Some(rejected.error.to_string())),
                }
            }
            None => (unparsed(line, &cx), true, None),
        };
        Some(LineEvent {
            dated: event.provenance.device_time.is_some(),
            event,
            unparsed: unparsed_line,
            problem,
        })
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
