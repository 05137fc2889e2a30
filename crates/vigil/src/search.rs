//! `vigil search`: query the store of a data directory and print JSON lines.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use anyhow::Context;
use vigil_event::{Alarm, Event};
use vigil_store::{Log, Order, Query};

/// Which log to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Events.
    Events,
    /// Alarms.
    Alarms,
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

/// Runs `query` against `<data_dir>/events` (or `alarms`) read-only and writes one JSON document
/// per line to `out`. Returns how many were written.
pub fn run(
    data_dir: &Path,
    target: Target,
    query: &Query,
    out: &mut impl Write,
) -> anyhow::Result<usize> {
    let dir = data_dir.join(match target {
        Target::Events => "events",
        Target::Alarms => "alarms",
    });
    if !dir.is_dir() {
        anyhow::bail!("no store at {} (is --data-dir right?)", dir.display());
    }
    match target {
        Target::Events => print(&Log::<Event>::open_read_only(&dir)?.search(query)?, out),
        Target::Alarms => print(&Log::<Alarm>::open_read_only(&dir)?.search(query)?, out),
    }
}

fn print<T: serde::Serialize>(records: &[T], out: &mut impl Write) -> anyhow::Result<usize> {
    for record in records {
        serde_json::to_writer(&mut *out, record)?;
        out.write_all(b"\n").context("cannot write results")?;
    }
    Ok(records.len())
}
