//! The time context of parsing: the receipt clock, the source's time zone, and year inference
//! for RFC 3164 timestamps (which carry neither a year nor a zone).

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use vigil_event::Timestamp;

/// How far into the future (relative to [`ParseContext::now`]) an inferred RFC 3164 timestamp
/// may lie: one day, which absorbs a sender clock that is ahead of ours or a zone set wrongly.
pub const MAX_FUTURE_MICROS: i64 = 86_400 * 1_000_000;

/// What a parse needs to know besides the bytes. Parsing is deterministic given this.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// The edge's clock when the message was received, supplied by the caller. It anchors the
    /// year of RFC 3164 timestamps.
    pub now: Timestamp,
    /// The time zone configured for the source, applied to timestamps without their own
    /// offset (RFC 3164, and ISO timestamps without offset in 3164-style lines). RFC 5424
    /// timestamps always carry their own offset and ignore it.
    pub zone: TimeZone,
}

impl ParseContext {
    /// A context for a message received at `now` from a source in `zone`.
    pub fn new(now: Timestamp, zone: TimeZone) -> Self {
        ParseContext { now, zone }
    }

    /// A context for a source whose clock runs on UTC.
    pub fn utc(now: Timestamp) -> Self {
        ParseContext::new(now, TimeZone::UTC)
    }
}

/// A configured source time zone that could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown time zone {name:?}: not a fixed UTC offset (like +02:00, -0530 or UTC) and not found in the system time zone database ({reason}); fixed offsets always work, IANA names (Europe/Paris) need tzdata installed"
)]
pub struct ZoneError {
    name: String,
    reason: String,
}

/// Resolves a per-source time zone from configuration: `UTC`/`Z`, a fixed offset
/// (`+02:00`, `-0530`, `+02`, also prefixed `UTC+02:00`), or an IANA name (`Europe/Paris`)
/// looked up in the system time zone database.
pub fn zone_from_config(name: &str) -> Result<TimeZone, ZoneError> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("utc")
        || trimmed.eq_ignore_ascii_case("z")
        || trimmed.eq_ignore_ascii_case("gmt")
    {
        return Ok(TimeZone::UTC);
    }
    let offset_text = trimmed
        .strip_prefix("UTC")
        .or_else(|| trimmed.strip_prefix("GMT"))
        .unwrap_or(trimmed);
    if let Some(secs) = parse_fixed_offset(offset_text)
        && let Ok(offset) = Offset::from_seconds(secs)
    {
        return Ok(TimeZone::fixed(offset));
    }
    TimeZone::get(trimmed).map_err(|err| ZoneError {
        name: name.to_string(),
        reason: err.to_string(),
    })
}

/// `+HH`, `+HHMM`, `+HH:MM` (or `-`) into seconds east of UTC.
pub(crate) fn parse_fixed_offset(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |s: &[u8]| -> Option<i32> {
        if s.len() == 2 && s.iter().all(u8::is_ascii_digit) {
            Some(i32::from(s[0] - b'0') * 10 + i32::from(s[1] - b'0'))
        } else {
            None
        }
    };
    let rest = &bytes[1..];
    let (h, m) = match rest.len() {
        2 => (digits(rest)?, 0),
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        _ => return None,
    };
    if h > 25 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Converts a civil date and time in `zone` to a timestamp (DST gaps and folds resolved the
/// "compatible" way: the later instant in a gap, the earlier in a fold).
pub(crate) fn civil_to_timestamp(dt: DateTime, zone: &TimeZone) -> Option<Timestamp> {
    let ts = zone.to_timestamp(dt).ok()?;
    Some(Timestamp::from_micros(ts.as_microsecond()))
}

/// The fields of a timestamp without a year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct YearlessTime {
    pub month: i8,
    pub day: i8,
    pub hour: i8,
    pub minute: i8,
    pub second: i8,
    pub nanos: i32,
}

/// Year inference for RFC 3164 timestamps.
///
/// **Rule:** the timestamp gets the latest year for which it is no more than one day
/// ([`MAX_FUTURE_MICROS`]) after `cx.now`. Equivalently: of all the years that make the date
/// valid, the one that puts it closest to `now` without being more than a day in the future.
/// Candidate years run from the year after `now`'s (in the source zone) back eight years, so
/// `Feb 29` finds the latest leap year. Consequences:
///
/// * `Dec 31 23:59:59` received at `Jan 1 00:00:05` is last year's;
/// * `Jan 1 00:00:10` received at `Dec 31 23:59:50` (the sender's clock is ahead of ours) is
///   next year's;
/// * a message from six months ago is this year's or last year's, whichever is in the past.
///
/// Returns `None` if no candidate year gives a valid date (`Feb 30`).
pub(crate) fn infer_year(t: YearlessTime, cx: &ParseContext) -> Option<Timestamp> {
    let now = jiff::Timestamp::from_microsecond(cx.now.as_micros()).ok()?;
    let year = now.to_zoned(cx.zone.clone()).year();
    let limit = cx.now.as_micros().saturating_add(MAX_FUTURE_MICROS);
    for candidate in (year.saturating_sub(8)..=year.saturating_add(1)).rev() {
        let Ok(dt) = DateTime::new(
            candidate, t.month, t.day, t.hour, t.minute, t.second, t.nanos,
        ) else {
            continue;
        };
        let Some(ts) = civil_to_timestamp(dt, &cx.zone) else {
            continue;
        };
        if ts.as_micros() <= limit {
            return Some(ts);
        }
    }
    None
}
