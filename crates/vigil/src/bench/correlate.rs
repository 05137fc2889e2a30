//! `vigil bench correlate`: the correlation engine alone, on one core, with a directive set
//! loaded: load time, memory per live backlog, events per second on two event mixes.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use vigil_event::{Event, Timestamp};

use super::Spread;

/// Parameters of the correlation benchmark.
#[derive(Debug, Clone)]
pub struct CorrelateOptions {
    /// Directive files or directories (the full OSSIM 5.4 set for the reported figures).
    pub directives: Vec<PathBuf>,
    /// Events per measured run.
    pub events: usize,
    /// Repetitions; the median is reported.
    pub runs: usize,
    /// Live backlogs created for the memory measurement.
    pub backlogs: usize,
}

/// A pam_unix authentication failure (directive 50004's plugin and sid) from `src`.
fn failure(n: usize, src: u32, time: i64) -> Event {
    let mut e = Event::new(
        vigil_event::Uuid::from_u128(n as u128 + 1),
        Timestamp::from_secs(time),
        4004,
        2,
    );
    e.src_ip = std::net::IpAddr::from(src.to_be_bytes());
    e.dst_ip = std::net::IpAddr::from([10, 0, 0, 5]);
    e.priority = Some(2);
    e.reliability = Some(2);
    e.provenance.transport = vigil_event::Transport::Replay;
    e
}

/// Events of which 1 in 20 matches a directive's root (brute-force failures from rotating
/// sources); the rest come from plugins no directive uses.
fn realistic_mix(count: usize) -> Vec<Event> {
    (0..count)
        .map(|n| {
            let time = 1_700_000_000 + (n / 1000) as i64;
            if n % 20 == 0 {
                failure(n, 0xCB00_7100 + (n as u32 / 20) % 5000, time)
            } else {
                let mut e = failure(n, 0xC633_6400 + (n as u32 % 250), time);
                e.plugin_id = 7000 + (n as u32 % 97);
                e.plugin_sid = 1 + (n as u32 % 13);
                e
            }
        })
        .collect()
}

/// Events that all land in live backlogs: each of `sources` sources sends failures in turn, so
/// after the first round every event is counted by (or fires) a level of its source's backlog.
fn all_advancing(count: usize, sources: u32) -> Vec<Event> {
    (0..count)
        .map(|n| {
            failure(
                n,
                0x0A40_0000 + (n as u32 % sources),
                1_700_000_000 + (n / 10_000) as i64,
            )
        })
        .collect()
}

fn current_rss_kib() -> u64 {
    crate::process::rss_kib_of("self").unwrap_or(0)
}

/// Runs the correlation benchmark and prints its figures.
pub fn correlate(options: &CorrelateOptions, out: &mut impl Write) -> anyhow::Result<()> {
    use vigil_correlate::{Assets, CompiledSet, Engine, EngineConfig, Rules};
    let mut load_times = Vec::new();
    let mut loaded = None;
    for _ in 0..options.runs.max(1) {
        let began = Instant::now();
        let directives = vigil_analysis::correlation::load_directives(&options.directives);
        if let Some(error) = directives.errors().next() {
            anyhow::bail!("{error}");
        }
        let compiled = CompiledSet::compile(&directives.set, &Assets::default());
        load_times.push(began.elapsed().as_secs_f64() * 1000.0);
        loaded = Some(compiled);
    }
    let compiled = std::sync::Arc::new(loaded.context("no run")?);
    let runs = load_times.len();
    let load = Spread::of(load_times);
    writeln!(
        out,
        "load: {} directives parsed and compiled in {:.1} ms (median of {})",
        compiled.directives.len(),
        load.median,
        runs
    )?;
    // Memory first, while the heap is fresh: RSS growth while `backlogs` backlogs are live (one
    // per source, waiting at level 1 of directive 50004), per backlog.
    let events: Vec<Event> = (0..options.backlogs)
        .map(|n| failure(n, 0x0B00_0000 + n as u32, 1_700_000_000))
        .collect();
    let config = EngineConfig {
        max_backlogs_per_directive: options.backlogs.max(1),
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(
        Rules::bare(compiled.clone(), std::sync::Arc::new(Assets::default())),
        config,
    );
    let before = current_rss_kib();
    for event in &events {
        engine.process(event);
    }
    let after = current_rss_kib();
    let live = engine.live_backlogs().max(1);
    let per_backlog = after.saturating_sub(before) as f64 * 1024.0 / live as f64;
    let cap = EngineConfig::default().max_backlogs_per_directive;
    writeln!(
        out,
        "memory: {} live backlogs, RSS +{} KiB = {:.0} bytes per backlog (index and heap overhead included); at the default cap ({cap} per directive) one directive holds at most {:.1} MiB, all {} directives at most {:.0} MiB",
        live,
        after.saturating_sub(before),
        per_backlog,
        per_backlog * cap as f64 / 1_048_576.0,
        compiled.directives.len(),
        per_backlog * cap as f64 * compiled.directives.len() as f64 / 1_048_576.0,
    )?;
    drop(engine);
    drop(events);

    let new_engine = || {
        Engine::new(
            Rules::bare(compiled.clone(), std::sync::Arc::new(Assets::default())),
            EngineConfig::default(),
        )
    };

    for (name, events) in [
        (
            "mix (1 in 20 events matches a root)",
            realistic_mix(options.events),
        ),
        (
            "every event lands in a backlog (1,000 sources)",
            all_advancing(options.events, 1_000),
        ),
    ] {
        let mut rates = Vec::new();
        let mut last = (0, 0, 0);
        for _ in 0..options.runs.max(1) {
            let mut engine = new_engine();
            let began = Instant::now();
            let mut alarms = 0usize;
            for event in &events {
                alarms += engine.process(event).alarms.len();
            }
            let seconds = began.elapsed().as_secs_f64();
            rates.push(events.len() as f64 / seconds);
            last = (
                engine.stats().directive_events,
                alarms,
                engine.live_backlogs(),
            );
        }
        let rates = Spread::of(rates);
        writeln!(
            out,
            "{name}: median {:.0} events/s (min {:.0}, max {:.0}) over {} events; {} directive events, {} alarm revisions, {} live backlogs at the end",
            rates.median,
            rates.min,
            rates.max,
            events.len(),
            last.0,
            last.1,
            last.2
        )?;
    }

    Ok(())
}
