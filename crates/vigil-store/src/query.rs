//! Search queries over a log.

use std::net::IpAddr;

use vigil_event::Timestamp;

/// Which records come first in a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Latest event time first (what an analyst usually wants).
    #[default]
    NewestFirst,
    /// Earliest event time first.
    OldestFirst,
}

/// A search: a closed event-time range, optional exact-match filters (all must hold), a limit.
#[derive(Debug, Clone)]
pub struct Query {
    /// Earliest event time, inclusive.
    pub from: Timestamp,
    /// Latest event time, inclusive.
    pub to: Timestamp,
    /// Source address.
    pub src_ip: Option<IpAddr>,
    /// Destination address.
    pub dst_ip: Option<IpAddr>,
    /// Plugin id (directive id for alarms).
    pub plugin_id: Option<u32>,
    /// Plugin sid. An event whose unknown sid was replaced by the generic sid is found under
    /// both.
    pub plugin_sid: Option<u32>,
    /// Sensor identity.
    pub sensor: Option<String>,
    /// Most records to return.
    pub limit: usize,
    /// Result order.
    pub order: Order,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            from: Timestamp::MIN,
            to: Timestamp::MAX,
            src_ip: None,
            dst_ip: None,
            plugin_id: None,
            plugin_sid: None,
            sensor: None,
            limit: 1000,
            order: Order::NewestFirst,
        }
    }
}

impl Query {
    /// Whether `time` lies in the query's range.
    pub fn covers(&self, time: Timestamp) -> bool {
        self.from <= time && time <= self.to
    }
}
