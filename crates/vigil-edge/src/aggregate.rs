//! Aggregation: identical events within a window collapse into one event that says how many
//! it stands for (`occurrences`) and when the last one happened, so a shower of identical
//! events does not flood the core.
//!
//! Events are identical when they share plugin, sid, addresses, ports, protocol, sensor and
//! user name. The first of a kind opens an aggregate; identical events within `window` of
//! event time (from the first) are counted into it; the aggregate is emitted when an event of
//! the same plugin arrives after its window or when [`Aggregator::flush`] is called with a time
//! past it. Aggregation is configured per plugin and is off by default: IDS alerts, for
//! instance, need every event. Correlation counts `occurrences`, so directives still see the
//! true number of events.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use vigil_event::{Event, Timestamp};

/// `extra` key holding the time of the last event an aggregate stands for.
pub const LAST_TIME_KEY: &str = "aggregated_until";

/// Per-plugin aggregation windows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregationConfig {
    /// Window in seconds for each plugin that aggregates; plugins not listed pass through.
    pub windows: BTreeMap<u32, u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    plugin_id: u32,
    plugin_sid: u32,
    src_ip: IpAddr,
    dst_ip: IpAddr,
    src_port: u16,
    dst_port: u16,
    protocol: u8,
    sensor: String,
    username: Option<String>,
}

impl Key {
    fn of(e: &Event) -> Key {
        Key {
            plugin_id: e.plugin_id,
            plugin_sid: e.unknown_sid.unwrap_or(e.plugin_sid),
            src_ip: e.src_ip,
            dst_ip: e.dst_ip,
            src_port: e.src_port,
            dst_port: e.dst_port,
            protocol: e.protocol.0,
            sensor: e.provenance.sensor.clone(),
            username: e.username.clone(),
        }
    }
}

struct Open {
    event: Event,
    closes: Timestamp,
    last: Timestamp,
    /// How many events had been pushed before this aggregate's first one.
    first_push: u64,
}

/// Collapses identical events; see the module documentation.
#[derive(Default)]
pub struct Aggregator {
    config: AggregationConfig,
    open: HashMap<Key, Open>,
    /// Order in which aggregates were opened, so output order is deterministic.
    order: BTreeMap<(Timestamp, u64), Key>,
    next: u64,
    /// Events pushed so far.
    pushed: u64,
}

/// Counters of an aggregator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregationStats {
    /// Events that were counted into an open aggregate instead of being sent.
    pub collapsed: u64,
    /// Aggregates emitted.
    pub emitted: u64,
}

impl Aggregator {
    /// An aggregator with these windows.
    pub fn new(config: AggregationConfig) -> Aggregator {
        Aggregator {
            config,
            ..Aggregator::default()
        }
    }

    /// Takes one event; returns the events to send now (the event itself when its plugin does
    /// not aggregate, aggregates whose window this event's time has passed).
    pub fn push(&mut self, event: Event, stats: &mut AggregationStats, out: &mut Vec<Event>) {
        let push = self.pushed;
        self.pushed += 1;
        self.flush(event.time, stats, out);
        let Some(&window) = self.config.windows.get(&event.plugin_id) else {
            out.push(event);
            return;
        };
        let key = Key::of(&event);
        if let Some(open) = self.open.get_mut(&key)
            && event.time <= open.closes
        {
            open.event.occurrences = open
                .event
                .occurrences
                .saturating_add(event.occurrences.max(1));
            open.last = open.last.max(event.time);
            stats.collapsed += 1;
            return;
        }
        let closes = Timestamp::from_micros(
            event
                .time
                .as_micros()
                .saturating_add(i64::from(window) * 1_000_000),
        );
        self.order.insert((closes, self.next), key.clone());
        self.next += 1;
        let time = event.time;
        self.open.insert(
            key,
            Open {
                event,
                closes,
                last: time,
                first_push: push,
            },
        );
    }

    /// [`Aggregator::push`] of every event of `events`, in order; without any aggregating
    /// plugin the events pass through as they are, without a move each.
    pub fn push_all(
        &mut self,
        mut events: Vec<Event>,
        stats: &mut AggregationStats,
        out: &mut Vec<Event>,
    ) {
        if self.config.windows.is_empty() {
            self.pushed += events.len() as u64;
            match out.is_empty() {
                true => std::mem::swap(out, &mut events),
                false => out.append(&mut events),
            }
            return;
        }
        for event in events {
            self.push(event, stats, out);
        }
    }

    /// Emits every aggregate whose window ended before `now` (event time), oldest first.
    pub fn flush(&mut self, now: Timestamp, stats: &mut AggregationStats, out: &mut Vec<Event>) {
        while let Some(entry) = self.order.first_entry() {
            if entry.key().0 >= now {
                break;
            }
            let key = entry.remove();
            if let Some(open) = self.open.remove(&key) {
                out.push(finish(open));
                stats.emitted += 1;
            }
        }
    }

    /// Emits every open aggregate (at shutdown), oldest first.
    pub fn drain(&mut self, stats: &mut AggregationStats, out: &mut Vec<Event>) {
        self.flush(Timestamp::MAX, stats, out);
    }

    /// Open aggregates.
    pub fn open(&self) -> usize {
        self.open.len()
    }

    /// Events pushed so far.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Whether every event pushed before the `n`-th push has been emitted (is not held in
    /// an open aggregate): what lets a file position taken after them be saved.
    pub fn emitted_before(&self, n: u64) -> bool {
        self.open.values().all(|open| open.first_push >= n)
    }
}

fn finish(open: Open) -> Event {
    let mut event = open.event;
    if event.occurrences > 1 {
        event
            .extra
            .insert(LAST_TIME_KEY.to_string(), open.last.to_string());
    }
    event
}
