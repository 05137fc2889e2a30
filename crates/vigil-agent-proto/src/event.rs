//! `event` lines: every field of spec 2.5, validated at scan time, then defaulted (spec 2.6).

use std::net::IpAddr;

use uuid::Uuid;
use vigil_event::{
    Event, EventKind, Protocol, Provenance, TimeSource, Timestamp, Transport, canonical_ip,
    secret_fingerprint,
};

use crate::connect::{decode_base64_text, parse_uuid};
use crate::lexer::{Lexer, parse_number, text};
use crate::{RejectReason, Rejection};

/// A password read from the wire. Its `Debug` form never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// An `event` line whose fields are all valid; absent fields are `None`.
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)]
pub struct RawEvent {
    pub kind: EventKind,
    pub event_id: Option<Uuid>,
    pub plugin_id: u32,
    pub plugin_sid: u32,
    /// `date`: epoch seconds, possibly fractional.
    pub date: Option<Timestamp>,
    /// `fdate`: `YYYY-MM-DD HH:MM:SS`, read as UTC (OSSIM wrongly used server local time).
    pub fdate: Option<Timestamp>,
    pub tzone: Option<f32>,
    pub sensor: Option<IpAddr>,
    pub sensor_id: Option<Uuid>,
    pub device: Option<IpAddr>,
    pub interface: Option<String>,
    pub priority: Option<u8>,
    pub reliability: Option<u8>,
    pub protocol: Option<Protocol>,
    pub src_ip: Option<IpAddr>,
    pub dst_ip: Option<IpAddr>,
    pub src_port: Option<u16>,
    pub dst_port: Option<u16>,
    pub asset_src: Option<u8>,
    pub asset_dst: Option<u8>,
    pub occurrences: Option<u32>,
    pub ctx: Option<Uuid>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub filename: Option<String>,
    pub userdata: [Option<String>; 9],
    pub log: Option<String>,
    pub data: Option<String>,
    /// Other recognised fields, decoded, by protocol name.
    pub extra: Vec<(&'static str, String)>,
}

/// What intake knows about the session an event arrived on.
#[derive(Debug, Clone)]
pub struct EventContext<'a> {
    /// The sensor's identity (configured name, or its address).
    pub sensor: &'a str,
    /// The sensor's address (the session peer's, unless configured otherwise).
    pub sensor_ip: IpAddr,
    /// The sensor UUID from `connect`.
    pub sensor_id: Option<Uuid>,
    /// The peer that delivered the line.
    pub peer: Option<IpAddr>,
    /// When the line was read.
    pub received_at: Timestamp,
    /// Key for [`secret_fingerprint`]: passwords are stored only as keyed fingerprints.
    pub secret_key: &'a [u8; 32],
}

/// Fields kept verbatim in [`Event::extra`], by how they are encoded on the wire.
pub(crate) const EXTRA_PLAIN: &[&str] = &[
    "server",
    "servername",
    "src_hostname",
    "dst_hostname",
    "src_mac",
    "dst_mac",
    "condition",
    "value",
    "alarm",
];
pub(crate) const EXTRA_NUMERIC: &[&str] = &[
    "device_id",
    "snort_sid",
    "snort_cid",
    "interval",
    "rep_prio_src",
    "rep_prio_dst",
    "rep_rel_src",
    "rep_rel_dst",
    "belongs_to_alarm",
    "is_remote",
    "level",
    "backlog_id",
];
pub(crate) const EXTRA_FLOAT: &[&str] = &["risk_a", "risk_c"];
pub(crate) const EXTRA_UUID: &[&str] = &["src_net", "dst_net", "src_id", "dst_id"];
pub(crate) const EXTRA_BASE64: &[&str] =
    &["src_username", "dst_username", "rep_act_src", "rep_act_dst"];
const IGNORED: &[&str] = &["uuid", "uuid_backlog"];

/// Finds `key` in a static list, returning the static copy (no allocation per field).
fn known(list: &'static [&'static str], key: &str) -> Option<&'static str> {
    list.iter().copied().find(|k| *k == key)
}

fn parse_ip(key: &str, value: &[u8]) -> Result<IpAddr, Rejection> {
    let text = text(key, value)?;
    text.parse::<IpAddr>().map(canonical_ip).map_err(|_| {
        Rejection::skip(
            RejectReason::InvalidIp,
            format!("{key}={text:?} is not a canonical IP address"),
        )
    })
}

/// Epoch seconds, read exactly as a decimal (`1375799426`, `1375799426.25`); other number forms
/// (`1.3e9`) go through floating point.
fn parse_epoch(key: &str, value: &[u8]) -> Result<Timestamp, Rejection> {
    let out_of_range = |text: &str| {
        Rejection::skip(
            RejectReason::InvalidDate,
            format!("{key}={text:?} is out of range"),
        )
    };
    let text = text(key, value)?.trim();
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = int.strip_prefix('-').unwrap_or(int);
    if digits(unsigned) && (frac.is_empty() || digits(frac)) {
        let secs: i64 = int.parse().map_err(|_| out_of_range(text))?;
        let micros_text: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
        let micros: i64 = micros_text.parse().unwrap_or(0);
        let signed = if int.starts_with('-') {
            -micros
        } else {
            micros
        };
        let total = secs
            .checked_mul(1_000_000)
            .and_then(|s| s.checked_add(signed))
            .ok_or_else(|| out_of_range(text))?;
        let ts = Timestamp::from_micros(total);
        return if ts.as_micros() == total {
            Ok(ts)
        } else {
            Err(out_of_range(text))
        };
    }
    let secs: f64 = parse_number(key, value)?;
    Timestamp::from_secs_f64(secs).ok_or_else(|| out_of_range(text))
}

fn parse_clamped(key: &str, value: &[u8], max: i64) -> Result<u8, Rejection> {
    Ok(parse_number::<i64>(key, value)?.clamp(0, max) as u8)
}

pub(crate) fn parse(lexer: &mut Lexer<'_>) -> Result<RawEvent, Rejection> {
    let mut e = RawEvent::default();
    let mut kind: Option<&[u8]> = None;
    while let Some((key, value)) = lexer.next_pair()? {
        match key {
            "type" => kind = Some(value),
            "event_id" => e.event_id = Some(parse_uuid(key, value)?),
            "id" => {
                parse_number::<u64>(key, value)?;
            }
            "ctx" => e.ctx = Some(parse_uuid(key, value)?),
            "plugin_id" => e.plugin_id = parse_number(key, value)?,
            "plugin_sid" => e.plugin_sid = parse_number(key, value)?,
            "date" => e.date = Some(parse_epoch(key, value)?),
            "fdate" => {
                let text = text(key, value)?;
                e.fdate = Some(text.parse().map_err(|_| {
                    Rejection::skip(
                        RejectReason::InvalidDate,
                        format!("fdate={text:?} is not YYYY-MM-DD HH:MM:SS"),
                    )
                })?);
            }
            "tzone" => e.tzone = Some(parse_number(key, value)?),
            "sensor" => e.sensor = Some(parse_ip(key, value)?),
            "sensor_id" => e.sensor_id = Some(parse_uuid(key, value)?),
            "device" => e.device = Some(parse_ip(key, value)?),
            "interface" => e.interface = Some(text(key, value)?.to_string()),
            "priority" => e.priority = Some(parse_clamped(key, value, 5)?),
            "reliability" => e.reliability = Some(parse_clamped(key, value, 10)?),
            "protocol" => {
                // OSSIM takes an unknown protocol name as TCP.
                e.protocol =
                    Some(Protocol::from_name_or_number(text(key, value)?).unwrap_or(Protocol::TCP));
            }
            "src_ip" => e.src_ip = Some(parse_ip(key, value)?),
            "dst_ip" => e.dst_ip = Some(parse_ip(key, value)?),
            "src_port" => e.src_port = Some(parse_number(key, value)?),
            "dst_port" => e.dst_port = Some(parse_number(key, value)?),
            "asset_src" | "asset_dst" => {
                let asset = parse_number::<i64>(key, value)?;
                // -1 (VOID_ASSET) means "not given".
                let asset = (asset != -1).then(|| asset.clamp(0, 5) as u8);
                if key == "asset_src" {
                    e.asset_src = asset
                } else {
                    e.asset_dst = asset
                }
            }
            "occurrences" => e.occurrences = Some(parse_number::<u32>(key, value)?.max(1)),
            "username" => e.username = Some(decode_base64_text(key, value)?),
            "password" => e.password = Some(Secret(decode_base64_text(key, value)?)),
            "filename" => e.filename = Some(decode_base64_text(key, value)?),
            "log" => e.log = Some(decode_base64_text(key, value)?),
            "data" => e.data = Some(decode_base64_text(key, value)?),
            "binary_data" => {
                if value.is_empty() || !value.iter().all(u8::is_ascii_hexdigit) {
                    return Err(Rejection::close(
                        RejectReason::InvalidHex,
                        "binary_data is not hex",
                    ));
                }
                e.extra
                    .push(("binary_data", String::from_utf8_lossy(value).into_owned()));
            }
            _ => parse_other(&mut e, key, value)?,
        }
    }
    e.kind = match kind {
        None => {
            return Err(Rejection::skip(
                RejectReason::MissingType,
                "event has no type",
            ));
        }
        Some(b"detector") => EventKind::Detector,
        Some(b"monitor") => EventKind::Monitor,
        Some(other) => {
            return Err(Rejection::skip(
                RejectReason::InvalidType,
                format!(
                    "type={:?} is neither detector nor monitor",
                    String::from_utf8_lossy(other)
                ),
            ));
        }
    };
    if e.plugin_id == 0 {
        return Err(Rejection::skip(
            RejectReason::MissingPluginId,
            "event has no plugin_id",
        ));
    }
    Ok(e)
}

/// `userdata1`..`userdata9` and the fields kept in `extra`.
fn parse_other(e: &mut RawEvent, key: &str, value: &[u8]) -> Result<(), Rejection> {
    if let Some(n) = key
        .strip_prefix("userdata")
        .and_then(|n| n.parse::<usize>().ok())
        && let Some(slot) = e.userdata.get_mut(n.wrapping_sub(1))
    {
        *slot = Some(decode_base64_text(key, value)?);
        return Ok(());
    }
    let decoded = if let Some(k) = known(EXTRA_PLAIN, key) {
        Some((k, text(key, value)?.to_string()))
    } else if let Some(k) = known(EXTRA_NUMERIC, key) {
        Some((k, parse_number::<i64>(key, value)?.to_string()))
    } else if let Some(k) = known(EXTRA_FLOAT, key) {
        Some((k, parse_number::<f64>(key, value)?.to_string()))
    } else if let Some(k) = known(EXTRA_UUID, key) {
        Some((k, parse_uuid(key, value)?.to_string()))
    } else if let Some(k) = known(EXTRA_BASE64, key) {
        Some((k, decode_base64_text(key, value)?))
    } else if known(IGNORED, key).is_some() {
        None
    } else {
        return Err(Rejection::skip(
            RejectReason::UnknownKey,
            format!("unknown key {key:?} in event"),
        ));
    };
    // OSSIM ignores the literal NULL in host names, MACs and user names.
    if let Some((k, v)) = decoded.filter(|(_, v)| v != "NULL") {
        e.extra.push((k, v));
    }
    Ok(())
}

impl RawEvent {
    /// Builds the event, applying OSSIM's defaults (spec 2.6): time from `date`, else `fdate`,
    /// else the receive time; sensor from the session when absent or `0.0.0.0`; device = sensor;
    /// addresses `0.0.0.0`, protocol TCP and interface `none` when absent.
    pub fn into_event(self, ctx: &EventContext<'_>) -> Event {
        let device_time = self.date.or(self.fdate);
        let time = device_time.unwrap_or(ctx.received_at);
        let mut event = Event::new(
            self.event_id.unwrap_or_else(Uuid::now_v7),
            time,
            self.plugin_id,
            self.plugin_sid,
        );
        event.kind = self.kind;
        let sensor_ip = self
            .sensor
            .filter(|ip| !ip.is_unspecified())
            .unwrap_or(ctx.sensor_ip);
        event.sensor_ip = sensor_ip;
        event.device_ip = self.device.unwrap_or(sensor_ip);
        if let Some(interface) = self.interface {
            event.interface = interface;
        }
        event.protocol = self.protocol.unwrap_or(Protocol::TCP);
        if let Some(ip) = self.src_ip {
            event.src_ip = ip;
        }
        if let Some(ip) = self.dst_ip {
            event.dst_ip = ip;
        }
        event.src_port = self.src_port.unwrap_or(0);
        event.dst_port = self.dst_port.unwrap_or(0);
        event.priority = self.priority;
        event.reliability = self.reliability;
        event.asset_src = self.asset_src;
        event.asset_dst = self.asset_dst;
        event.tzone = self.tzone;
        event.occurrences = self.occurrences.unwrap_or(1);
        event.ctx = self.ctx;
        event.username = self.username;
        event.password = self
            .password
            .map(|Secret(p)| secret_fingerprint(ctx.secret_key, &p));
        event.filename = self.filename;
        for (slot, value) in event.userdata.slots_mut().into_iter().zip(self.userdata) {
            *slot = value;
        }
        event.log = self.log;
        event.data = self.data;
        event.extra = self
            .extra
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        event.provenance = Provenance {
            sensor: ctx.sensor.to_string(),
            sensor_id: self.sensor_id.or(ctx.sensor_id),
            sequence: None,
            device_time,
            edge_time: None,
            received_at: ctx.received_at,
            time_source: if device_time.is_some() {
                TimeSource::Device
            } else {
                TimeSource::Received
            },
            transport: Transport::OssimAgent,
            authenticated: false,
            peer: ctx.peer,
            time_out_of_bounds_secs: None,
        };
        event
    }
}
