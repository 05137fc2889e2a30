//! The compiled form of a policy and how an event is matched against it.
//!
//! Everything here is precomputed at compile time (networks, port ranges, bit masks for days,
//! months, month days and minutes of the day) so that matching allocates nothing.

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use vigil_event::Event;
use vigil_inventory::Assets;

use crate::Roles;

/// One compiled `[[policy]]`.
#[derive(Debug)]
pub(crate) struct Policy {
    pub(crate) name: Arc<str>,
    pub(crate) conditions: Conditions,
    /// `None` = keep the event's priority.
    pub(crate) priority: Option<u8>,
    /// `None` = keep the event's reliability.
    pub(crate) reliability: Option<u8>,
    pub(crate) roles: Roles,
}

/// The match conditions of a policy; `None` = the condition was omitted (ANY).
#[derive(Debug, Default)]
pub(crate) struct Conditions {
    pub(crate) plugins: Option<Vec<PluginMatch>>,
    pub(crate) match_priority: Option<u16>,
    pub(crate) match_reliability: Option<u16>,
    pub(crate) ports: Option<Set<PortRange>>,
    pub(crate) source_ports: Option<Set<PortRange>>,
    pub(crate) sources: Option<Set<AddrEntry>>,
    pub(crate) destinations: Option<Set<AddrEntry>>,
    pub(crate) sensors: Option<Set<SensorEntry>>,
    pub(crate) time: Option<TimeWindow>,
}

impl Conditions {
    /// Whether the policy has no condition at all (it matches every event).
    pub(crate) fn is_catch_all(&self) -> bool {
        let Conditions {
            plugins,
            match_priority,
            match_reliability,
            ports,
            source_ports,
            sources,
            destinations,
            sensors,
            time,
        } = self;
        plugins.is_none()
            && match_priority.is_none()
            && match_reliability.is_none()
            && ports.is_none()
            && source_ports.is_none()
            && sources.is_none()
            && destinations.is_none()
            && sensors.is_none()
            && time.is_none()
    }

    /// Whether every given condition holds for `event`. Cheap checks come first; the event's
    /// civil time is computed at most once per decision (`civil` caches it across policies).
    pub(crate) fn matches(
        &self,
        event: &Event,
        assets: &Assets,
        civil: &mut Option<Civil>,
    ) -> bool {
        if let Some(plugins) = &self.plugins
            && !plugins
                .iter()
                .any(|p| p.matches(event.plugin_id, event.plugin_sid))
        {
            return false;
        }
        if let Some(mask) = self.match_priority
            && !in_mask(mask, event.priority)
        {
            return false;
        }
        if let Some(mask) = self.match_reliability
            && !in_mask(mask, event.reliability)
        {
            return false;
        }
        let protocol = event.protocol.0;
        if let Some(ports) = &self.ports
            && !ports.matches(|r| r.contains(protocol, event.dst_port))
        {
            return false;
        }
        if let Some(ports) = &self.source_ports
            && !ports.matches(|r| r.contains(protocol, event.src_port))
        {
            return false;
        }
        if let Some(sources) = &self.sources
            && !addr_matches(sources, event.src_ip, assets)
        {
            return false;
        }
        if let Some(destinations) = &self.destinations
            && !addr_matches(destinations, event.dst_ip, assets)
        {
            return false;
        }
        if let Some(sensors) = &self.sensors
            && !sensors.matches(|s| s.matches(event))
        {
            return false;
        }
        if let Some(window) = &self.time {
            let civil = *civil.get_or_insert_with(|| Civil::of(event));
            if !window.contains(civil) {
                return false;
            }
        }
        true
    }
}

/// Whether `value` (priority or reliability) is one of the bits of `mask`; an absent value never is.
fn in_mask(mask: u16, value: Option<u8>) -> bool {
    value
        .and_then(|v| 1u16.checked_shl(u32::from(v)))
        .is_some_and(|bit| mask & bit != 0)
}

/// A list condition with `ANY` and `!x` negations: it holds when (it has `ANY`, or no positive
/// element, or a positive element matches) and no negated element matches.
#[derive(Debug)]
pub(crate) struct Set<T> {
    pub(crate) any: bool,
    pub(crate) include: Vec<T>,
    pub(crate) exclude: Vec<T>,
}

impl<T> Default for Set<T> {
    fn default() -> Self {
        Set {
            any: false,
            include: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

impl<T> Set<T> {
    pub(crate) fn matches(&self, hit: impl Fn(&T) -> bool) -> bool {
        let included = self.any || self.include.is_empty() || self.include.iter().any(&hit);
        included && !self.exclude.iter().any(hit)
    }
}

/// An element of `sources`/`destinations`: networks (hosts are /32 or /128) or HOME_NET.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddrEntry {
    /// Any of these networks (one literal, or everything an asset name resolved to).
    Nets(Vec<IpNet>),
    /// Inside HOME_NET (any non-external network of the inventory).
    HomeNet,
}

fn addr_matches(set: &Set<AddrEntry>, ip: IpAddr, assets: &Assets) -> bool {
    let ip = ip.to_canonical();
    set.matches(|entry| match entry {
        AddrEntry::Nets(nets) => nets.iter().any(|n| n.contains(&ip)),
        AddrEntry::HomeNet => assets.in_home_net(ip),
    })
}

/// A port range, optionally for one IP protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortRange {
    /// `None` = any protocol.
    pub(crate) protocol: Option<u8>,
    pub(crate) low: u16,
    pub(crate) high: u16,
}

impl PortRange {
    fn contains(&self, protocol: u8, port: u16) -> bool {
        self.protocol.is_none_or(|p| p == protocol) && (self.low..=self.high).contains(&port)
    }
}

/// One `{ plugin_id, sids }` entry; `sids` sorted, empty = any sid.
#[derive(Debug)]
pub(crate) struct PluginMatch {
    pub(crate) plugin_id: u32,
    pub(crate) sids: Box<[u32]>,
}

impl PluginMatch {
    fn matches(&self, plugin_id: u32, sid: u32) -> bool {
        self.plugin_id == plugin_id
            && (self.sids.is_empty() || self.sids.binary_search(&sid).is_ok())
    }
}

/// An element of `sensors`.
#[derive(Debug)]
pub(crate) enum SensorEntry {
    /// A sensor name, compared with `provenance.sensor` ignoring ASCII case.
    Name(Box<str>),
    /// An address or network, compared with `sensor_ip` and with `provenance.sensor` when that
    /// is an address (an unnamed sensor is known by its address).
    Net(IpNet),
}

impl SensorEntry {
    fn matches(&self, event: &Event) -> bool {
        match self {
            SensorEntry::Name(name) => event.provenance.sensor.eq_ignore_ascii_case(name),
            SensorEntry::Net(net) => {
                net.contains(&event.sensor_ip.to_canonical())
                    || event
                        .provenance
                        .sensor
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| net.contains(&ip.to_canonical()))
            }
        }
    }
}

/// Minutes in a day.
pub(crate) const MINUTES_PER_DAY: usize = 1440;
const MINUTE_WORDS: usize = MINUTES_PER_DAY.div_ceil(64);

/// A time window in UTC: bit masks of allowed week days (bit 0 = Monday), months (bit 0 =
/// January), month days (bit d = day d) and minutes of the day. An omitted part has all bits set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    pub(crate) days: u8,
    pub(crate) months: u16,
    pub(crate) month_days: u32,
    pub(crate) minutes: [u64; MINUTE_WORDS],
}

impl Default for TimeWindow {
    fn default() -> Self {
        TimeWindow {
            days: 0x7f,
            months: 0x0fff,
            month_days: !1,
            minutes: [u64::MAX; MINUTE_WORDS],
        }
    }
}

impl TimeWindow {
    /// Allow the minutes `first..=last` of the day (wrapping past midnight when `first > last`).
    pub(crate) fn minutes_from(first: usize, last: usize) -> [u64; MINUTE_WORDS] {
        let mut words = [0u64; MINUTE_WORDS];
        let mut set = |m: usize| {
            if let Some(word) = words.get_mut(m / 64) {
                *word |= 1 << (m % 64);
            }
        };
        if first <= last {
            (first..=last).for_each(&mut set);
        } else {
            (first..MINUTES_PER_DAY).for_each(&mut set);
            (0..=last).for_each(&mut set);
        }
        words
    }

    fn contains(&self, civil: Civil) -> bool {
        let minute = usize::from(civil.minute_of_day);
        self.days & (1 << civil.weekday) != 0
            && self.months & (1 << civil.month) != 0
            && self.month_days & (1 << civil.day) != 0
            && self
                .minutes
                .get(minute / 64)
                .is_some_and(|w| w & (1 << (minute % 64)) != 0)
    }
}

/// The parts of an event's time (UTC) that time windows look at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Civil {
    /// 0 = Monday .. 6 = Sunday.
    weekday: u8,
    /// 0 = January .. 11 = December.
    month: u8,
    /// 1..=31.
    day: u8,
    /// 0..1440.
    minute_of_day: u16,
}

impl Civil {
    fn of(event: &Event) -> Civil {
        let ts = jiff::Timestamp::from_microsecond(event.time.as_micros())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let dt = jiff::tz::Offset::UTC.to_datetime(ts);
        let minute_of_day =
            u16::try_from(dt.hour()).unwrap_or(0) * 60 + u16::try_from(dt.minute()).unwrap_or(0);
        Civil {
            weekday: u8::try_from(dt.weekday().to_monday_zero_offset()).unwrap_or(0),
            month: u8::try_from(dt.month() - 1).unwrap_or(0),
            day: u8::try_from(dt.day()).unwrap_or(1),
            minute_of_day,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert!(in_mask(0b110000, Some(4)));
        assert!(!in_mask(0b110000, Some(3)));
        assert!(!in_mask(u16::MAX, None));
        assert!(!in_mask(u16::MAX, Some(200)));
    }

    #[test]
    fn wrapping_minutes() {
        let w = TimeWindow::minutes_from(1320, 360);
        let has = |m: usize| w[m / 64] & (1 << (m % 64)) != 0;
        assert!(has(1320) && has(1439) && has(0) && has(360));
        assert!(!has(361) && !has(1319) && !has(720));
        let all = TimeWindow::minutes_from(0, 1439);
        assert_eq!(all.iter().map(|w| w.count_ones()).sum::<u32>(), 1440);
    }
}
