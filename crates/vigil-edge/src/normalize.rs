//! From a plugin match (or no match) to a normalised event, applying the OSSIM agent's defaults
//! (spec 10.6): the date is read in the plugin's time zone (`tzone`, else the source's) and
//! converted to UTC; a missing source address is the sensor; a missing device is the syslog
//! sender (the edge for file lines); loopback addresses and `localhost` are the device; host names resolve through a static map (no DNS); anything else that is not
//! an address becomes `0.0.0.0`. The raw line is always kept as `log`.
//!
//! Time: on a live edge the event time is the edge's own stamp on arrival (trusted) and the
//! device's date is kept as `device_time`; in replay the event time is the device's date.
//! A line no plugin matches becomes a generic event of [`UNPARSED_PLUGIN_ID`], never dropped.
//!
//! Secrets: every occurrence of a value a plugin marks secret is replaced by its marker
//! ([`crate::redact`]) in the raw line and in every text field, also when the match is
//! rejected; `password` keeps its own stored form, the fingerprint alone.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use vigil_event::{
    Event, Protocol, TimeSource, Timestamp, Transport, Uuid, canonical_ip, secret_fingerprint,
};
use vigil_plugins::cfg::Parsed;

use crate::redact::Secrets;

/// Plugin id of lines no plugin matched (sid 1); the raw line is the event's `log`.
pub const UNPARSED_PLUGIN_ID: u32 = 1_000_000_000;

/// What normalisation needs besides the match.
pub struct NormalizeContext<'a> {
    /// The edge's sensor name.
    pub sensor: &'a str,
    /// The edge's address (the default source).
    pub sensor_ip: IpAddr,
    /// The device when the plugin names none (or one that does not resolve): the syslog
    /// sender's address, the edge itself for file lines.
    pub device: IpAddr,
    /// When the edge received the line.
    pub received: Timestamp,
    /// Time zone of the source when the plugin gives none.
    pub zone: &'a jiff::tz::TimeZone,
    /// Host names the logs use, and their addresses.
    pub hosts: &'a HashMap<String, IpAddr>,
    /// Replaying recorded logs: the event time is the device's date.
    pub replay: bool,
    /// Key for password fingerprints.
    pub secret_key: &'a [u8; 32],
    /// The event id (derived by the caller, so replay is deterministic).
    pub id: Uuid,
}

/// A match that could not become an event: why, and the unparsed event that stands for the
/// line instead (its secrets replaced).
#[derive(Debug)]
pub struct Rejected {
    /// Why.
    pub error: NormalizeError,
    /// The generic event of the line.
    pub unparsed: Event,
}

/// Why a match could not become an event (it becomes an unparsed event instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormalizeError {
    /// `plugin_sid` is missing, not a number or 0.
    #[error("rule {rule}: plugin_sid {value:?} is not a positive number")]
    BadSid {
        /// The rule.
        rule: String,
        /// What it produced.
        value: String,
    },
}

fn address(value: &str, cx: &NormalizeContext<'_>, device: IpAddr) -> IpAddr {
    let value = value.trim();
    if value.eq_ignore_ascii_case("localhost") {
        return device;
    }
    match value.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => device,
        Ok(ip) => canonical_ip(ip),
        Err(_) => cx
            .hosts
            .get(&value.to_ascii_lowercase())
            .copied()
            .unwrap_or(IpAddr::from([0, 0, 0, 0])),
    }
}

/// Reads `YYYY-MM-DD HH:MM:SS` (what normalize_date returns) in `zone`, or epoch seconds.
fn device_time(fields: &Parsed, zone: &jiff::tz::TimeZone) -> Option<Timestamp> {
    let date = fields.get("date").or_else(|| fields.get("fdate"))?.trim();
    if let Ok(secs) = date.parse::<f64>() {
        return Timestamp::from_secs_f64(secs);
    }
    let civil: jiff::civil::DateTime = date.parse().ok()?;
    let zone = match fields
        .get("tzone")
        .and_then(|t| t.trim().parse::<f64>().ok())
    {
        Some(hours) => {
            jiff::tz::TimeZone::fixed(jiff::tz::Offset::from_seconds((hours * 3600.0) as i32).ok()?)
        }
        None => zone.clone(),
    };
    Some(Timestamp::from_micros(
        civil.to_zoned(zone).ok()?.timestamp().as_microsecond(),
    ))
}

fn base(
    cx: &NormalizeContext<'_>,
    line: &str,
    plugin_id: u32,
    sid: u32,
    device_time: Option<Timestamp>,
) -> Event {
    let time = match (cx.replay, device_time) {
        (true, Some(t)) => t,
        _ => cx.received,
    };
    let mut event = Event::new(cx.id, time, plugin_id, sid);
    event.sensor_ip = cx.sensor_ip;
    event.device_ip = cx.device;
    event.src_ip = cx.sensor_ip;
    event.log = Some(line.to_string());
    event.provenance.sensor = cx.sensor.to_string();
    event.provenance.device_time = device_time;
    event.provenance.edge_time = (!cx.replay).then_some(cx.received);
    event.provenance.received_at = cx.received;
    event.provenance.time_source = if cx.replay {
        TimeSource::Device
    } else {
        TimeSource::Edge
    };
    event.provenance.transport = if cx.replay {
        Transport::Replay
    } else {
        Transport::Bus
    };
    event
}

/// The generic event for a line no plugin matched.
pub fn unparsed(line: &str, cx: &NormalizeContext<'_>) -> Event {
    base(cx, line, UNPARSED_PLUGIN_ID, 1, None)
}

/// The event a plugin match of `line` describes; its `log` is `raw`, the text the line came
/// from (the line itself, or the syslog message it was read from).
pub fn normalize(
    parsed: &Parsed,
    raw: &str,
    cx: &NormalizeContext<'_>,
) -> Result<Event, Box<Rejected>> {
    let secrets = Secrets::of(parsed, cx.secret_key);
    let line = secrets.scrub(raw);
    let sid_text = parsed.get("plugin_sid").unwrap_or_default();
    let Some(sid) = sid_text.trim().parse::<u32>().ok().filter(|&s| s > 0) else {
        return Err(Box::new(Rejected {
            error: NormalizeError::BadSid {
                rule: parsed.rule.to_string(),
                value: sid_text.to_string(),
            },
            unparsed: unparsed(&line, cx),
        }));
    };
    let mut event = base(
        cx,
        &line,
        parsed.plugin_id,
        sid,
        device_time(parsed, cx.zone),
    );
    let device = parsed
        .get("device")
        .map_or(cx.device, |d| match address(d, cx, cx.device) {
            ip if ip.is_unspecified() => cx.device,
            ip => ip,
        });
    event.device_ip = device;
    event.occurrences = parsed.occurrences.max(1);
    for (key, value) in &parsed.fields {
        let value = match *key {
            "password" => Cow::Borrowed(value.as_str()),
            _ => secrets.scrub(value),
        };
        let value = value.as_ref();
        match *key {
            "src_ip" if !value.is_empty() => event.src_ip = address(value, cx, device),
            "dst_ip" => event.dst_ip = address(value, cx, device),
            "src_port" => event.src_port = value.trim().parse().unwrap_or(0),
            "dst_port" => event.dst_port = value.trim().parse().unwrap_or(0),
            "protocol" => {
                event.protocol =
                    Protocol::from_name_or_number(value.trim()).unwrap_or(Protocol::TCP)
            }
            "interface" if !value.is_empty() => event.interface = value.to_string(),
            "priority" => {
                event.priority = value
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .map(|p| p.clamp(0, 5) as u8)
            }
            "username" if !value.is_empty() => event.username = Some(value.to_string()),
            "password" if !value.is_empty() => {
                event.password = Some(secret_fingerprint(cx.secret_key, value))
            }
            "filename" if !value.is_empty() => event.filename = Some(value.to_string()),
            "log" if !value.is_empty() => event.log = Some(value.to_string()),
            "tzone" => event.tzone = value.trim().parse().ok(),
            k if k.starts_with("userdata") && !value.is_empty() => {
                if let Some(slot) = k
                    .strip_prefix("userdata")
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| event.userdata.get_mut(n))
                {
                    *slot = Some(value.to_string());
                }
            }
            "snort_sid" | "snort_cid" | "src_username" | "dst_username" | "action" | "outcome"
                if !value.trim().is_empty() =>
            {
                event
                    .extra
                    .insert((*key).to_owned(), value.trim().to_string());
            }
            // A host name that is an address says nothing the address fields do not.
            "src_hostname" | "dst_hostname"
                if !value.trim().is_empty() && value.trim().parse::<IpAddr>().is_err() =>
            {
                event
                    .extra
                    .insert((*key).to_owned(), value.trim().to_string());
            }
            "src_mac" | "dst_mac" if !value.trim().is_empty() => {
                event
                    .extra
                    .insert((*key).to_owned(), value.trim().to_ascii_lowercase());
            }
            _ => {}
        }
    }
    Ok(event)
}
