//! Parsing one syslog message (RFC 5424, RFC 3164 and the usual deviations) into fields.
//!
//! [`parse`] never fails: a line that is not syslog at all yields a [`Message`] of format
//! [`Format::Unknown`] whose body is the whole text. Parsing is deterministic: the clock and
//! the source's zone come from the [`ParseContext`].

use std::borrow::Cow;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use vigil_event::Timestamp;

use crate::time::{ParseContext, YearlessTime, civil_to_timestamp, infer_year};

/// Which syslog dialect a message was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 5424: `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`.
    Rfc5424,
    /// RFC 3164 / BSD syslog: `<PRI>Mmm dd HH:MM:SS host tag[pid]: msg`, with or without
    /// the PRI (as in files), and the common timestamp variants.
    Rfc3164,
    /// Not syslog: no PRI and no recognisable timestamp. The body is the whole text.
    Unknown,
}

/// One RFC 5424 structured-data element: `[id name="value" ...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The SD-ID, such as `exampleSDID@32473` or `timeQuality`.
    pub id: String,
    /// The parameters in order, values unescaped (`\"`, `\\` and `\]`).
    pub params: Vec<(String, String)>,
}

/// A parsed syslog message. Absent fields (not sent, or NILVALUE `-`) are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The dialect recognised.
    pub format: Format,
    /// Facility code 0..=23 from the PRI; `None` without a PRI.
    pub facility: Option<u8>,
    /// Severity 0 (emergency) ..= 7 (debug) from the PRI; `None` without a PRI.
    pub severity: Option<u8>,
    /// The message's time, UTC. RFC 3164 times get the source zone and an inferred year
    /// (see [`crate::time`]); `None` if absent or invalid.
    pub timestamp: Option<Timestamp>,
    /// HOSTNAME.
    pub hostname: Option<String>,
    /// APP-NAME (RFC 5424) or the TAG (RFC 3164), such as `sshd`.
    pub app_name: Option<String>,
    /// PROCID (RFC 5424) or the `[pid]` after the tag (RFC 3164).
    pub proc_id: Option<String>,
    /// MSGID (RFC 5424 only).
    pub msg_id: Option<String>,
    /// Structured data (RFC 5424 only), in order.
    pub structured_data: Vec<Element>,
    /// The free-form message, decoded as lossy UTF-8, a leading BOM removed (RFC 5424),
    /// leading spaces and trailing CR, LF and NUL trimmed.
    pub body: String,
    /// The original bytes, unchanged, for the event's log field.
    pub raw: Vec<u8>,
    /// True if the bytes were not valid UTF-8 (invalid sequences became U+FFFD in the text
    /// fields).
    pub non_utf8: bool,
}

/// The name of a facility code (`auth`, `local0`, ...), or `unknown`.
pub fn facility_name(code: u8) -> &'static str {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}

/// The name of a severity (`emerg` ..= `debug`), or `unknown`.
pub fn severity_name(code: u8) -> &'static str {
    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    NAMES.get(usize::from(code)).copied().unwrap_or("unknown")
}

/// Parses one message (one frame, without framing). Never fails; see [`Format::Unknown`].
///
/// ```
/// use vigil_event::Timestamp;
/// use vigil_syslog::{Format, ParseContext, parse};
///
/// let cx = ParseContext::utc("2026-11-22T12:00:00Z".parse::<Timestamp>().expect("valid"));
/// let msg = parse(b"<38>Nov 22 11:59:58 web1 sshd[42]: Accepted publickey", &cx);
/// assert_eq!(msg.format, Format::Rfc3164);
/// assert_eq!(msg.facility, Some(4));
/// assert_eq!(msg.hostname.as_deref(), Some("web1"));
/// assert_eq!(msg.app_name.as_deref(), Some("sshd"));
/// assert_eq!(msg.proc_id.as_deref(), Some("42"));
/// assert_eq!(msg.body, "Accepted publickey");
/// assert_eq!(msg.timestamp.map(|t| t.to_string()).as_deref(), Some("2026-11-22T11:59:58Z"));
/// ```
pub fn parse(frame: &[u8], cx: &ParseContext) -> Message {
    let lossy = String::from_utf8_lossy(frame);
    let non_utf8 = matches!(lossy, Cow::Owned(_));
    let text = lossy.trim_end_matches(['\n', '\r', '\0']);
    let mut msg = Message {
        format: Format::Unknown,
        facility: None,
        severity: None,
        timestamp: None,
        hostname: None,
        app_name: None,
        proc_id: None,
        msg_id: None,
        structured_data: Vec::new(),
        body: String::new(),
        raw: frame.to_vec(),
        non_utf8,
    };
    let rest = match parse_pri(text) {
        Some((pri, rest)) => {
            msg.facility = Some(pri >> 3);
            msg.severity = Some(pri & 7);
            rest
        }
        None => text,
    };
    if msg.facility.is_some()
        && let Some(after) = rest.strip_prefix("1 ")
        && after.starts_with(|c: char| c == '-' || c.is_ascii_digit())
    {
        msg.format = Format::Rfc5424;
        parse_5424(after, &mut msg);
        return msg;
    }
    parse_3164(rest, cx, &mut msg);
    msg
}

/// `<PRI>` with 1 to 3 digits and a value up to 191.
fn parse_pri(text: &str) -> Option<(u8, &str)> {
    let rest = text.strip_prefix('<')?;
    let close = rest.as_bytes().iter().take(4).position(|&b| b == b'>')?;
    let digits = &rest[..close];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u16 = digits.parse().ok()?;
    let pri = u8::try_from(value).ok().filter(|&v| v <= 191)?;
    Some((pri, &rest[close + 1..]))
}

/// Splits at the first space: (token, rest after that space). An empty token or `-` is nil.
fn field(text: &str) -> (Option<String>, &str) {
    let (token, rest) = text.split_once(' ').unwrap_or((text, ""));
    let value = (!token.is_empty() && token != "-").then(|| token.to_string());
    (value, rest)
}

fn parse_5424(text: &str, msg: &mut Message) {
    let (ts, rest) = text.split_once(' ').unwrap_or((text, ""));
    msg.timestamp = ts
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| Timestamp::from_micros(t.as_microsecond()));
    let (hostname, rest) = field(rest);
    let (app_name, rest) = field(rest);
    let (proc_id, rest) = field(rest);
    let (msg_id, rest) = field(rest);
    msg.hostname = hostname;
    msg.app_name = app_name;
    msg.proc_id = proc_id;
    msg.msg_id = msg_id;
    let after_sd = if let Some(after) = rest.strip_prefix('-') {
        after
    } else if rest.starts_with('[') {
        match parse_sd(rest) {
            Some((elements, after)) => {
                msg.structured_data = elements;
                after
            }
            // Malformed structured data: keep everything from it on as the body.
            None => rest,
        }
    } else {
        rest
    };
    let body = after_sd.strip_prefix(' ').unwrap_or(after_sd);
    let body = body.strip_prefix('\u{feff}').unwrap_or(body);
    msg.body = body.trim_start_matches(' ').to_string();
}

/// One or more `[id name="value" ...]` elements; `None` if malformed.
fn parse_sd(mut text: &str) -> Option<(Vec<Element>, &str)> {
    let mut elements = Vec::new();
    while let Some(rest) = text.strip_prefix('[') {
        let end = rest.find([' ', ']', '=', '"'])?;
        if end == 0 {
            return None;
        }
        let mut element = Element {
            id: rest[..end].to_string(),
            params: Vec::new(),
        };
        let mut rest = &rest[end..];
        loop {
            if let Some(after) = rest.strip_prefix(']') {
                rest = after;
                break;
            }
            rest = rest.strip_prefix(' ')?.trim_start_matches(' ');
            if let Some(after) = rest.strip_prefix(']') {
                // Lenient: a space before the closing bracket.
                rest = after;
                break;
            }
            let eq = rest.find(['=', ' ', ']', '"'])?;
            if eq == 0 || !rest[eq..].starts_with("=\"") {
                return None;
            }
            let name = rest[..eq].to_string();
            rest = &rest[eq + 2..];
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let close = loop {
                let (i, c) = chars.next()?;
                match c {
                    '"' => break i,
                    '\\' => match rest[i + 1..].chars().next() {
                        Some(e @ ('"' | '\\' | ']')) => {
                            value.push(e);
                            chars.next();
                        }
                        // RFC 5424 6.3.3: any other backslash is kept as it is.
                        _ => value.push('\\'),
                    },
                    c => value.push(c),
                }
            };
            rest = &rest[close + 1..];
            element.params.push((name, value));
        }
        elements.push(element);
        text = rest;
    }
    Some((elements, text))
}

/// A timestamp as written in a BSD-style header.
enum BsdTime {
    /// `Mmm dd HH:MM:SS[.frac]`: year inferred, source zone.
    Yearless(YearlessTime),
    /// `Mmm dd yyyy HH:MM:SS` or ISO without offset: source zone.
    Civil(DateTime),
    /// ISO with its own offset.
    Instant(Timestamp),
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// `n` ASCII digits at the start of `s` as a number.
fn digits(s: &str, n: usize) -> Option<i32> {
    let bytes = s.as_bytes().get(..n)?;
    bytes.iter().try_fold(0i32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
    })
}

/// `HH:MM:SS[.frac]` at the start of `s`: (h, m, s, nanos, rest).
fn clock(s: &str) -> Option<(i8, i8, i8, i32, &str)> {
    let b = s.as_bytes();
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return None;
    }
    let (h, m, sec) = (digits(s, 2)?, digits(&s[3..], 2)?, digits(&s[6..], 2)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[8..];
    let mut nanos = 0i32;
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        for (i, b) in frac.bytes().take(9).take(n).enumerate() {
            nanos += i32::from(b - b'0') * 10i32.pow(8 - i as u32);
        }
        rest = &frac[n..];
    }
    // A leap second is clamped to :59.
    Some((h as i8, m as i8, sec.min(59) as i8, nanos, rest))
}

/// `Mmm dd [yyyy ]HH:MM:SS[.frac]` at the start of `s`.
fn bsd_timestamp(s: &str) -> Option<(BsdTime, &str)> {
    let mon = s.get(..3)?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == mon)? as i8 + 1;
    let rest = s[3..].strip_prefix(' ')?.trim_start_matches(' ');
    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&n) {
        return None;
    }
    let day = digits(rest, n)? as i8;
    let rest = rest[n..].strip_prefix(' ')?;
    let (year, rest) = match digits(rest, 4) {
        Some(y) if rest.as_bytes().get(4) == Some(&b' ') => (Some(y), &rest[5..]),
        _ => (None, rest),
    };
    let (hour, minute, second, nanos, rest) = clock(rest)?;
    let time = match year {
        Some(y) => {
            BsdTime::Civil(DateTime::new(y as i16, month, day, hour, minute, second, nanos).ok()?)
        }
        None => {
            if !(1..=31).contains(&day) {
                return None;
            }
            BsdTime::Yearless(YearlessTime {
                month,
                day,
                hour,
                minute,
                second,
                nanos,
            })
        }
    };
    Some((time, rest))
}

/// `yyyy-mm-ddTHH:MM:SS[.frac][Z|±hh:mm]` at the start of `s`.
fn iso_timestamp(s: &str) -> Option<(BsdTime, &str)> {
    let b = s.as_bytes();
    if digits(s, 4).is_none() || b.get(4) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't'))
    {
        return None;
    }
    let end = s.find(' ').unwrap_or(s.len());
    let token = &s[..end];
    let rest = &s[end..];
    if let Ok(ts) = token.parse::<jiff::Timestamp>() {
        return Some((
            BsdTime::Instant(Timestamp::from_micros(ts.as_microsecond())),
            rest,
        ));
    }
    let dt = token.parse::<DateTime>().ok()?;
    Some((BsdTime::Civil(dt), rest))
}

/// Time zone abbreviations taken as UTC in Cisco-style headers.
fn is_utc_abbreviation(abbr: &str) -> bool {
    matches!(abbr, "UTC" | "GMT" | "Z")
}

fn parse_3164(text: &str, cx: &ParseContext, msg: &mut Message) {
    let has_pri = msg.facility.is_some();
    // Cisco IOS: an optional sequence number `123: ` and a `*` (clock not synchronised) or
    // `.` (clock was synchronised once) before the timestamp.
    let mut s = text;
    let mut cisco = false;
    let seq = s.bytes().take_while(u8::is_ascii_digit).count();
    if seq > 0 && s[seq..].starts_with(": ") {
        s = &s[seq + 2..];
        cisco = true;
    }
    if let Some(after) = s.strip_prefix(['*', '.']) {
        s = after;
        cisco = true;
    }
    let parsed = bsd_timestamp(s).or_else(|| iso_timestamp(s));
    let Some((time, mut rest)) = parsed else {
        if has_pri {
            // RFC 3164 4.3.3: no valid timestamp, so the rest is all content; still pick up
            // a `tag[pid]:` if it starts with one.
            msg.format = Format::Rfc3164;
            tag_and_body(text, msg);
        } else {
            msg.body = text.to_string();
        }
        return;
    };
    msg.format = Format::Rfc3164;
    // An optional zone abbreviation (`UTC`) and a colon ending the timestamp (Cisco).
    let mut utc = false;
    let mut header_ended = false;
    if let Some(after) = rest.strip_prefix(' ') {
        let n = after.bytes().take_while(u8::is_ascii_uppercase).count();
        let abbr = &after[..n];
        if (2..=5).contains(&n)
            && after[n..].starts_with(':')
            && (cisco || is_utc_abbreviation(abbr))
        {
            utc = is_utc_abbreviation(abbr);
            rest = &after[n + 1..];
            header_ended = true;
        }
    }
    if !header_ended && let Some(after) = rest.strip_prefix(':') {
        rest = after;
        header_ended = true;
    }
    msg.timestamp = match time {
        BsdTime::Yearless(t) if utc => infer_year(t, &ParseContext::utc(cx.now)),
        BsdTime::Yearless(t) => infer_year(t, cx),
        BsdTime::Civil(dt) if utc => civil_to_timestamp(dt, &TimeZone::UTC),
        BsdTime::Civil(dt) => civil_to_timestamp(dt, &cx.zone),
        BsdTime::Instant(ts) => Some(ts),
    };
    let rest = rest.trim_start_matches(' ');
    // HOSTNAME, unless the first word is already the tag (`su[12]:` / `su:`), as in messages
    // a local process wrote to /dev/log.
    let rest = if header_ended {
        rest
    } else {
        let end = rest.find(' ').unwrap_or(rest.len());
        let word = &rest[..end];
        if word.is_empty() || word.ends_with(':') || word.contains('[') {
            rest
        } else {
            msg.hostname = Some(word.to_string());
            rest[end..].trim_start_matches(' ')
        }
    };
    tag_and_body(rest, msg);
}

/// `tag[pid]: body`, `tag: body`, `tag[pid] body`; anything else is all body.
fn tag_and_body(text: &str, msg: &mut Message) {
    let body = match text.find([' ', '[', ':']) {
        Some(i) if i > 0 && text.as_bytes()[i] == b':' => {
            msg.app_name = Some(text[..i].to_string());
            &text[i + 1..]
        }
        Some(i) if i > 0 && text.as_bytes()[i] == b'[' => {
            let after = &text[i + 1..];
            match after.find([']', ' ']) {
                Some(j) if j > 0 && after.as_bytes()[j] == b']' => {
                    msg.app_name = Some(text[..i].to_string());
                    msg.proc_id = Some(after[..j].to_string());
                    let rest = &after[j + 1..];
                    rest.strip_prefix(':').unwrap_or(rest)
                }
                _ => text,
            }
        }
        _ => text,
    };
    msg.body = body.trim_start_matches(' ').to_string();
}

/// Parses `data` under two contexts and checks invariants that hold for any input. Panics
/// only on a parser bug; this is the body of the `parse` fuzz target.
pub fn fuzz_parse(data: &[u8]) {
    let now = Timestamp::from_secs(1_795_000_000);
    let contexts = [
        ParseContext::utc(now),
        ParseContext::new(
            Timestamp::from_secs(951_782_400), // 2000-02-29
            TimeZone::fixed(jiff::tz::offset(-11)),
        ),
    ];
    for cx in &contexts {
        let msg = parse(data, cx);
        assert_eq!(msg.raw, data, "raw must be the input");
        assert_eq!(msg.non_utf8, std::str::from_utf8(data).is_err());
        assert_eq!(msg.facility.is_some(), msg.severity.is_some());
        if msg.format == Format::Unknown {
            assert!(msg.facility.is_none());
        }
    }
}
