//! `vigil bench parse`: OSSIM agent plugin parsing on one core, every given plugin loaded, over
//! the lines of the given log files (blank lines skipped), as `vigil edge` and `vigil replay`
//! parse them. Each run parses every line once after a warm-up pass; the median is reported.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use vigil_plugins::cfg::{ParseContext, PluginSet};

use super::Spread;

/// Parameters of the parse benchmark.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Plugin `.cfg` files or directories.
    pub plugins: Vec<PathBuf>,
    /// The agent's configuration directory (`aliases.cfg`, `config.cfg`).
    pub agent_config: Option<PathBuf>,
    /// Log files whose lines are parsed.
    pub files: Vec<PathBuf>,
    /// Measured runs over all lines; the median is reported.
    pub runs: usize,
    /// Year of dates without one.
    pub year: i32,
}

/// What a parse benchmark measured.
#[derive(Debug, Clone)]
pub struct ParseReport {
    /// Lines per run.
    pub lines: usize,
    /// Lines a plugin turned into an event.
    pub matched: usize,
    /// Lines per second of each run.
    pub rates: Vec<f64>,
}

/// Reads the non-blank lines of `files` (lossy UTF-8, as the edge reads them).
pub fn read_lines(files: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        lines.extend(
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned),
        );
    }
    if lines.is_empty() {
        anyhow::bail!("the log files hold no line");
    }
    Ok(lines)
}

/// Runs the benchmark and prints its figures.
pub fn parse(options: &ParseOptions, out: &mut impl Write) -> anyhow::Result<ParseReport> {
    let began = Instant::now();
    let (plugins, warnings) =
        vigil_plugins::cfg::load_plugins(&options.plugins, options.agent_config.as_deref())?;
    let rules: usize = plugins.iter().map(|p| p.rules().len()).sum();
    let set = PluginSet::new(plugins);
    writeln!(
        out,
        "loaded {} plugins ({rules} rules, {} warnings) in {:.0} ms",
        set.plugins().len(),
        warnings.len(),
        began.elapsed().as_secs_f64() * 1000.0
    )?;
    let lines = read_lines(&options.files)?;
    let cx = ParseContext::for_year(options.year);
    let matched = lines.iter().filter(|l| set.parse(l, &cx).is_some()).count();
    writeln!(
        out,
        "{} lines from {} files, {matched} become plugin events; {} runs on one core",
        lines.len(),
        options.files.len(),
        options.runs
    )?;
    let mut rates = Vec::new();
    for run in 1..=options.runs.max(1) {
        let began = Instant::now();
        for line in &lines {
            std::hint::black_box(set.parse(std::hint::black_box(line), &cx));
        }
        let rate = lines.len() as f64 / began.elapsed().as_secs_f64();
        writeln!(out, "run {run}: {rate:.0} lines/s")?;
        rates.push(rate);
    }
    let spread = Spread::of(rates.clone());
    writeln!(
        out,
        "median: {:.0} lines/s (min {:.0}, max {:.0})",
        spread.median, spread.min, spread.max
    )?;
    Ok(ParseReport {
        lines: lines.len(),
        matched,
        rates,
    })
}
