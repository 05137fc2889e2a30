//! `vigil search`: query the store of a data directory and print JSON lines.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use vigil_event::{Alarm, Event, Uuid};
use vigil_store::{Log, Order, Query};

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Events.
    Events,
    /// Alarms: the latest revision of each, or every revision.
    Alarms {
        /// Every revision instead of the latest.
        revisions: bool,
    },
    /// The event or the alarm with this id (an alarm's latest revision, or every revision).
    Id {
        /// The id.
        id: Uuid,
        /// Every revision of an alarm instead of the latest.
        revisions: bool,
    },
}

/// Builds a query from the command's filters.
#[allow(clippy::too_many_arguments)]
pub fn query(
    from: vigil_event::Timestamp,
    to: vigil_event::Timestamp,
    src_ip: Option<IpAddr>,
    dst_ip: Option<IpAddr>,
    plugin_id: Option<u32>,
    plugin_sid: Option<u32>,
    sensor: Option<String>,
    limit: usize,
    oldest_first: bool,
) -> Query {
    Query {
        from,
        to,
        src_ip: src_ip.map(vigil_event::canonical_ip),
        dst_ip: dst_ip.map(vigil_event::canonical_ip),
        plugin_id,
        plugin_sid,
        sensor,
        limit,
        order: if oldest_first {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        },
    }
}

/// Runs `query` against the logs of `data_dir` read-only and writes one JSON document per line
/// to `out`. Returns how many were written. A filter alarms do not carry, with alarms, and an
/// id that nothing holds, are errors rather than empty answers.
pub fn run(
    data_dir: &Path,
    target: Target,
    query: &Query,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    match target {
        Target::Events => print(&open::<Event>(data_dir, "events")?.search(query)?, out),
        Target::Alarms { revisions } => {
            // The alarm log indexes no plugin sid (an alarm has none) and no sensor.
            for (filter, given, why) in [
                (
                    "--plugin-sid",
                    query.plugin_sid.is_some(),
                    "an alarm has no plugin sid (--plugin-id is its directive)",
                ),
                (
                    "--sensor",
                    query.sensor.is_some(),
                    "the alarm log is not indexed by sensor (search the events by --sensor)",
                ),
            ] {
                if given {
                    anyhow::bail!("{filter} does not apply to alarms: {why}");
                }
            }
            let log = open::<Alarm>(data_dir, "alarms")?;
            let alarms = match revisions {
                true => log.search(query)?,
                false => latest_revisions(&log, query)?,
            };
            print(&with_triage(data_dir, alarms)?, out)
        }
        Target::Id { id, revisions } => {
            let mut found: Vec<Alarm> = Vec::new();
            open::<Alarm>(data_dir, "alarms")?.scan_time_range(query, |alarm| {
                if alarm.id == id {
                    found.push(alarm);
                }
            })?;
            found.sort_by_key(|a| a.revision);
            if !found.is_empty() {
                let shown = match revisions {
                    true => found.len(),
                    false => 1,
                };
                let shown = found.split_off(found.len() - shown);
                return print(&with_triage(data_dir, shown)?, out);
            }
            let mut events: Vec<Event> = Vec::new();
            open::<Event>(data_dir, "events")?.scan_time_range(query, |event| {
                if event.id == id {
                    events.push(event);
                }
            })?;
            if events.is_empty() {
                anyhow::bail!("no event or alarm has id {id}");
            }
            print(&events, out)
        }
    }
}

/// `alarms` with the analysts' triage of the console's audit log (`<data>/audit`, if any)
/// in place of correlation's (always `open`).
fn with_triage(data_dir: &Path, mut alarms: Vec<Alarm>) -> anyhow::Result<Vec<Alarm>> {
    let dir = data_dir.join("audit");
    if !dir.is_dir() {
        return Ok(alarms);
    }
    let triage = vigil_server::console::alarm_book::triage_from_audit(&Log::open_read_only(&dir)?)?;
    for alarm in &mut alarms {
        if let Some(t) = triage.get(&alarm.id) {
            alarm.triage = t.clone();
        }
    }
    Ok(alarms)
}

fn open<R: vigil_store::Record>(data_dir: &Path, name: &str) -> anyhow::Result<Log<R>> {
    let dir = data_dir.join(name);
    if !dir.is_dir() {
        anyhow::bail!("no store at {} (is --data-dir right?)", dir.display());
    }
    Ok(Log::open_read_only(&dir)?)
}

/// The alarms any of whose revisions match `query`, each as its latest revision, in the
/// query's order of their latest times, at most `query.limit`.
fn latest_revisions(log: &Log<Alarm>, query: &Query) -> anyhow::Result<Vec<Alarm>> {
    let every = Query {
        limit: usize::MAX,
        ..query.clone()
    };
    let matching: HashSet<Uuid> = log.search(&every)?.into_iter().map(|a| a.id).collect();
    // Each alarm's latest revision and its record number, which orders equal times as search does.
    let mut latest: HashMap<Uuid, (u64, Alarm)> = HashMap::new();
    log.scan_from(0, |n, alarm| {
        if matching.contains(&alarm.id)
            && latest
                .get(&alarm.id)
                .is_none_or(|(_, kept)| kept.revision < alarm.revision)
        {
            latest.insert(alarm.id, (n, alarm));
        }
    })?;
    let mut latest: Vec<(u64, Alarm)> = latest.into_values().collect();
    latest.sort_by_key(|(n, a)| (a.last_seen, *n));
    if query.order == Order::NewestFirst {
        latest.reverse();
    }
    let mut alarms: Vec<Alarm> = latest.into_iter().map(|(_, a)| a).collect();
    alarms.truncate(query.limit);
    Ok(alarms)
}

fn print<T: serde::Serialize>(records: &[T], out: &mut impl Write) -> anyhow::Result<usize> {
    for record in records {
        serde_json::to_writer(&mut *out, record)?;
        out.write_all(b"\n").context("cannot write results")?;
    }
    Ok(records.len())
}
