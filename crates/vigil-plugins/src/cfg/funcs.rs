//! `ParserUtil` functions callable from value expressions, and `normalize_date`.

use std::sync::LazyLock;

use super::ParseContext;

/// Functions implemented by [`call`] (names as written in `.cfg` files).
pub const IMPLEMENTED: &[&str] = &[
    "normalize_date",
    "normalize_date_american",
    "upper",
    "lower",
    "hextoint",
    "resolv",
    "resolv_ip",
    "resolv_port",
    "resolv_iface",
    "normalize_protocol",
    "md5sum",
    "snort_id",
    "sanitize",
    "checkValue",
];

/// Functions of the OSSIM agent that are not implemented, with the reason. A
/// call to one of them (or to any unknown function) yields the raw value of its
/// first argument, as the agent does for unknown functions.
pub const UNSUPPORTED: &[(&str, &str)] = &[
    ("intrushield_sid", "depends on Python's string hash"),
    (
        "netscreen_idp_sid",
        "needs the NetScreen IDP sid table (not in the corpus)",
    ),
    (
        "iss_siteprotector_sid",
        "needs the ISS SiteProtector sid table (not in the corpus)",
    ),
    (
        "translate_wsaea_IDs",
        "needs the WSAEA id table (not in the corpus)",
    ),
    ("geoip_getCity", "needs a GeoIP database"),
    ("geoip_getCountryCode", "needs a GeoIP database"),
    ("geoip_getCountryName", "needs a GeoIP database"),
    ("geoip_getLatitude", "needs a GeoIP database"),
    ("geoip_getLongitude", "needs a GeoIP database"),
];

/// Calls function `name` with `args`; `None` when the function is unknown or
/// unsupported (the caller then uses the raw first argument).
pub fn call(name: &str, args: &[&str], cx: &ParseContext) -> Option<String> {
    let a0 = args.first().copied().unwrap_or("");
    Some(match name {
        "normalize_date" => normalize_date(a0, cx, false),
        "normalize_date_american" => normalize_date(a0, cx, true),
        "upper" => a0.to_uppercase(),
        // A Vigil extension (the agent has only `upper`).
        "lower" => a0.to_lowercase(),
        // Python returns None (printed "None") when the text is not hex.
        "hextoint" => u128::from_str_radix(a0.trim(), 16)
            .map_or_else(|_| "None".to_owned(), |v| v.to_string()),
        // No DNS: deterministic. An IP stays; a name stays (the agent's failure path).
        "resolv" | "resolv_ip" => a0.to_owned(),
        "resolv_port" => resolv_port(a0),
        "resolv_iface" => resolv_iface(a0),
        "normalize_protocol" => normalize_protocol(a0),
        "md5sum" => md5_hex(a0),
        "snort_id" => a0
            .trim()
            .parse::<i64>()
            .map_or_else(|_| a0.to_owned(), |v| (1000 + v).to_string()),
        "sanitize" => a0.replace('\n', "\r"),
        "checkValue" => if matches!(a0, "" | "0" | "1") {
            "0"
        } else {
            "1"
        }
        .to_owned(),
        _ => return None,
    })
}

fn md5_hex(s: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(s.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A small built-in services table (name → port), standing in for
/// `getservbyname`; unknown names are returned unchanged.
pub const SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("bootps", 67),
    ("bootpc", 68),
    ("tftp", 69),
    ("finger", 79),
    ("http", 80),
    ("www", 80),
    ("kerberos", 88),
    ("pop3", 110),
    ("sunrpc", 111),
    ("auth", 113),
    ("nntp", 119),
    ("ntp", 123),
    ("netbios-ns", 137),
    ("netbios-dgm", 138),
    ("netbios-ssn", 139),
    ("imap", 143),
    ("imap2", 143),
    ("snmp", 161),
    ("snmp-trap", 162),
    ("bgp", 179),
    ("irc", 194),
    ("ldap", 389),
    ("https", 443),
    ("microsoft-ds", 445),
    ("isakmp", 500),
    ("syslog", 514),
    ("submission", 587),
    ("ldaps", 636),
    ("rsync", 873),
    ("ftps", 990),
    ("imaps", 993),
    ("pop3s", 995),
    ("socks", 1080),
    ("openvpn", 1194),
    ("ms-sql-s", 1433),
    ("radius", 1812),
    ("nfs", 2049),
    ("mysql", 3306),
    ("ms-wbt-server", 3389),
    ("sip", 5060),
    ("postgresql", 5432),
    ("x11", 6000),
    ("http-alt", 8080),
];

fn resolv_port(name: &str) -> String {
    SERVICES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| name.to_owned(), |(_, p)| p.to_string())
}

fn resolv_iface(iface: &str) -> String {
    let starts = |p: &[&str]| p.iter().any(|x| iface.starts_with(x));
    if starts(&["ext", "wan1"]) {
        "ext".to_owned()
    } else if starts(&["int", "port", "dmz", "wan"]) {
        "int".to_owned()
    } else {
        iface.to_owned()
    }
}

fn normalize_protocol(p: &str) -> String {
    match p {
        "1" => "icmp".to_owned(),
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        _ => p.to_lowercase(),
    }
}

/// How a date regex's groups are read.
#[derive(Clone, Copy)]
enum Fmt {
    Fields,
    Timestamp,
}

static DATE_FORMATS: LazyLock<Vec<(regex::Regex, Fmt)>> = LazyLock::new(|| {
    let t = |p: &str, f: Fmt| regex::Regex::new(p).ok().map(|r| (r, f));
    use Fmt::{Fields as F, Timestamp as T};
    [
        // syslog: Oct 27 10:50:46
        t(r"^(?P<month>\w+)\s+(?P<day>\d+)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)", F),
        // apache error: Fri Aug 07 17:52:19 2009
        t(r"(\w+)\s+(?P<month>\w+)\s+(?P<day>\d+)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)\s+(?P<year>\d\d\d\d)", F),
        // syslog-ng: Oct 27 2007 10:50:46
        t(r"(?P<month>\w+)\s+(?P<day>\d+)\s+(?P<year>\d\d\d\d)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)", F),
        // bind9: 10-Aug-2009 07:53:44
        t(r"(?P<day>\d+)-(?P<month>\w+)-(?P<year>\d\d\d\d)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)", F),
        // snare: Sun Jan 28 15:15:32 2007
        t(r"\S+\s+(?P<month>\S+)\s+(?P<day>\d+)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)\s+(?P<year>\d+)", F),
        // snort: 11/08-19:19:06, 11/08/07-19:19:06
        t(r"^(?P<month>\d\d)/(?P<day>\d\d)(/?(?P<year>\d\d))?-(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)", F),
        // arpwatch: Monday, March 15, 2004 15:39:19
        t(r"(\w+), (?P<month>\w+) (?P<day>\d{1,2}), (?P<year>\d{4}) (?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // heartbeat 2006/10/19_11:40:05, raslog 2009/03/05-11:04:36
        t(r"(?P<year>\d+)/(?P<month>\d+)/(?P<day>\d+)[_-](?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // netgear: 11/03/2004 19:45:46 (day first)
        t(r"(?P<day>\d+)/(?P<month>\d+)/(?P<year>\d{4})\s(?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // 2007/10/18 14:38:03
        t(r"(?P<year>\d{4})/(?P<month>\d+)/(?P<day>\d+)\s(?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // ISO 2007-11-17 06:26:18 / 2007-11-17T06:26:18, OSSEC 2007 Nov 17 06:26:18
        t(r"(?P<year>\d+)[\s-](?P<month>\w+)[\s-](?P<day>\d+)[\sT]+(?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // apache 29/Jan/2007:17:02:20, 11/03/07 19:22:22
        t(r"(?P<day>\d+)/(?P<month>\w+)/(?P<year>\d+)[\s:](?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // hhmmss,timestamp
        t(r"^(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d),(?P<timestamp>\d+)$", T),
        t(r"^(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d)(?:\+|\-)$", F),
        t(r"^(?P<hour>\d\d)(?P<minute>\d\d)(?P<second>\d\d)$", F),
        // epoch: 1162540224
        t(r"^(?P<timestamp>\d+)$", T),
        // 11.03.2009 19:45:46
        t(r"(?P<day>\d+).(?P<month>\d+).(?P<year>\d{4})\s(?P<hour>\d+):(?P<minute>\d+):(?P<second>\d+)", F),
        // hp eva: 2 18 2009 14 9 52
        t(r"(?P<month>\d{1,2}) (?P<day>\d{1,2}) (?P<year>\d{4}) (?P<hour>\d{1,2}) (?P<minute>\d{1,2}) (?P<second>\d{1,2})", F),
        // websense: Wed 14 Apr 2010 12:35:10
        t(r"\S+\s+(?P<day>\d+)\s+(?P<month>\S+)\s+(?P<year>\d+)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)", F),
    ]
    .into_iter()
    .flatten()
    .collect()
});

/// All of [`DATE_FORMATS`] in one set: one pass tells which formats match, so
/// only those run their captures (same order, same result).
static DATE_SET: LazyLock<Option<regex::RegexSet>> =
    LazyLock::new(|| regex::RegexSet::new(DATE_FORMATS.iter().map(|(r, _)| r.as_str())).ok());

/// [`DATE_FORMATS`] with ASCII classes, for ASCII text (where they match exactly
/// as the Unicode ones, with far smaller automata).
static ASCII_DATE_FORMATS: LazyLock<Vec<(regex::bytes::Regex, Fmt)>> = LazyLock::new(|| {
    DATE_FORMATS
        .iter()
        .filter_map(|(re, fmt)| {
            regex::bytes::RegexBuilder::new(re.as_str())
                .unicode(false)
                .build()
                .ok()
                .map(|r| (r, *fmt))
        })
        .collect()
});

/// [`ASCII_DATE_FORMATS`] in one set.
static ASCII_DATE_SET: LazyLock<Option<regex::bytes::RegexSet>> = LazyLock::new(|| {
    (ASCII_DATE_FORMATS.len() == DATE_FORMATS.len())
        .then(|| {
            regex::bytes::RegexSetBuilder::new(ASCII_DATE_FORMATS.iter().map(|(r, _)| r.as_str()))
                .unicode(false)
                .build()
                .ok()
        })
        .flatten()
});

/// American formats tried first by `normalize_date_american` (`mm/dd/yyyy HH:MM:SS`, `mm/dd/yy`).
static AMERICAN: LazyLock<Option<regex::Regex>> = LazyLock::new(|| {
    regex::Regex::new(r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{2,4})[\s:-]+(?P<hour>\d{1,2}):(?P<minute>\d\d):(?P<second>\d\d)").ok()
});

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

fn month_number(name: &str) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    let lower = name.to_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower || (lower.len() == 3 && m.starts_with(&lower)))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn format(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<String> {
    if !(1..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || s > 59
    {
        return None;
    }
    // `YYYY-MM-DD HH:MM:SS` digit by digit: `format!` costs more than the parse.
    let mut out = String::with_capacity(19);
    let mut push = |value: u32, width: u32, sep: Option<char>| {
        for p in (0..width).rev() {
            out.push(char::from(b'0' + (value / 10u32.pow(p) % 10) as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    push(u32::try_from(y).ok()?, 4, Some('-'));
    push(mo, 2, Some('-'));
    push(d, 2, Some(' '));
    push(h, 2, Some(':'));
    push(mi, 2, Some(':'));
    push(s, 2, None);
    Some(out)
}

/// The parts of a date one format read (`None`: the format has no such group,
/// or it did not participate).
#[derive(Default)]
struct DateParts<'a> {
    month: Option<&'a str>,
    day: Option<&'a str>,
    year: Option<&'a str>,
    hour: Option<&'a str>,
    minute: Option<&'a str>,
    second: Option<&'a str>,
    timestamp: Option<&'a str>,
}

impl<'a> DateParts<'a> {
    fn of(caps: &regex::Captures<'a>) -> DateParts<'a> {
        DateParts::named(|n| caps.name(n).map(|m| m.as_str()))
    }

    /// From the byte captures of ASCII text `s`.
    fn of_ascii(s: &'a str, caps: &regex::bytes::Captures<'_>) -> DateParts<'a> {
        DateParts::named(|n| caps.name(n).and_then(|m| s.get(m.range())))
    }

    fn named(g: impl Fn(&str) -> Option<&'a str>) -> DateParts<'a> {
        DateParts {
            month: g("month"),
            day: g("day"),
            year: g("year"),
            hour: g("hour"),
            minute: g("minute"),
            second: g("second"),
            timestamp: g("timestamp"),
        }
    }
}

fn from_parts(parts: &DateParts<'_>, fmt: Fmt, cx: &ParseContext) -> Option<String> {
    let num = |v: Option<&str>| v.and_then(|v| v.parse::<u32>().ok());
    if let Fmt::Timestamp = fmt {
        // The agent uses local time; Vigil uses UTC so the result is deterministic.
        let ts: i64 = parts.timestamp?.parse().ok()?;
        let ts = if ts > 100_000_000_000 { ts / 1000 } else { ts };
        let (y, mo, d) = civil_from_days(ts.div_euclid(86_400));
        let secs = u32::try_from(ts.rem_euclid(86_400)).ok()?;
        return format(y, mo, d, secs / 3600, secs / 60 % 60, secs % 60);
    }
    let month = match parts.month {
        Some(m) if !m.is_empty() => month_number(m)?,
        _ => cx.month,
    };
    let day = match parts.day {
        Some(d) if !d.is_empty() => d.parse().ok()?,
        _ => cx.day,
    };
    let year: i64 = match parts.year {
        Some(y) if y.len() == 2 => 2000 + y.parse::<i64>().ok()?,
        Some(y) if !y.is_empty() => y.parse().ok()?,
        // Missing year, at a clock: the latest year not more than a day in its future.
        _ if cx.clock => clock_year(month, day, cx),
        // Missing year: the reference year; "31 Dec fix": December seen in January, and
        // the other way round, January seen in December (a log going into the new year).
        _ if month == 12 && cx.month == 1 => i64::from(cx.year) - 1,
        _ if month == 1 && cx.month == 12 => i64::from(cx.year) + 1,
        _ => i64::from(cx.year),
    };
    format(
        year,
        month,
        day,
        num(parts.hour)?,
        num(parts.minute)?,
        num(parts.second).unwrap_or(0),
    )
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian), the inverse of
/// [`civil_from_days`].
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of `month`/`day` read at the clock `cx`: of the year after the clock's, its year
/// and the year before, the latest where the date exists and is at most one day after the
/// clock's date (RFC 3164 year inference, `vigil-syslog`, at the resolution of days).
fn clock_year(month: u32, day: u32, cx: &ParseContext) -> i64 {
    let year = i64::from(cx.year);
    let limit = days_from_civil(year, cx.month, cx.day) + 1;
    [year + 1, year]
        .into_iter()
        .find(|&y| day <= days_in_month(y, month) && days_from_civil(y, month, day) <= limit)
        .unwrap_or(year - 1)
}

/// The first date format (`^(?P<month>\w+)\s+(?P<day>\d+)\s+(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d)`,
/// the syslog date) read by hand on ASCII text, where its classes are ASCII and every step
/// is forced (each run is followed by a disjoint class), so it matches exactly when the
/// regex does, with the same groups.
fn syslog_parts(s: &str) -> Option<DateParts<'_>> {
    if !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    let run = |from: usize, pred: fn(u8) -> bool| {
        from + b
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&c| pred(c))
            .count()
    };
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let space = |c: u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0B | 0x0C | b'\r');
    let digit = |c: u8| c.is_ascii_digit();
    let month_end = run(0, word);
    let day_start = run(month_end, space);
    let day_end = run(day_start, digit);
    let hour_start = run(day_end, space);
    if month_end == 0 || day_start == month_end || day_end == day_start || hour_start == day_end {
        return None;
    }
    let two = |at: usize| {
        b.get(at..at + 2)
            .filter(|d| d.iter().all(|&c| digit(c)))
            .and_then(|_| s.get(at..at + 2))
    };
    let colon = |at: usize| (b.get(at) == Some(&b':')).then_some(());
    let hour = two(hour_start)?;
    colon(hour_start + 2)?;
    let minute = two(hour_start + 3)?;
    colon(hour_start + 5)?;
    let second = two(hour_start + 6)?;
    Some(DateParts {
        month: s.get(..month_end),
        day: s.get(day_start..day_end),
        hour: Some(hour),
        minute: Some(minute),
        second: Some(second),
        ..DateParts::default()
    })
}

/// OSSIM `normalize_date`: the first of the agent's date formats that matches
/// (searched, not anchored, unless the format says so) and gives a valid date
/// yields `YYYY-MM-DD HH:MM:SS`; a missing year/month/day comes from `cx`
/// (December while `cx.month` is January → the previous year, January while it is
/// December → the next); two-digit years
/// are 20yy; epoch seconds (or milliseconds) are read as UTC. No match → `s`.
pub fn normalize_date(s: &str, cx: &ParseContext, american: bool) -> String {
    if american
        && let Some(re) = AMERICAN.as_ref()
        && let Some(caps) = re.captures(s)
        && let Some(out) = from_parts(&DateParts::of(&caps), Fmt::Fields, cx)
    {
        return out;
    }
    // The syslog date, by far the most common, without a regex.
    if let Some(out) = syslog_parts(s).and_then(|p| from_parts(&p, Fmt::Fields, cx)) {
        return out;
    }
    normalize_date_by_regex(s, cx)
}

/// The date formats in order by their regexes.
fn normalize_date_by_regex(s: &str, cx: &ParseContext) -> String {
    if s.is_ascii()
        && let Some(set) = ASCII_DATE_SET.as_ref()
    {
        let try_format = |i: usize| {
            let (re, fmt) = ASCII_DATE_FORMATS.get(i)?;
            from_parts(
                &DateParts::of_ascii(s, &re.captures(s.as_bytes())?),
                *fmt,
                cx,
            )
        };
        return set
            .matches(s.as_bytes())
            .iter()
            .find_map(try_format)
            .unwrap_or_else(|| s.to_owned());
    }
    let try_format = |i: usize| {
        let (re, fmt) = DATE_FORMATS.get(i)?;
        from_parts(&DateParts::of(&re.captures(s)?), *fmt, cx)
    };
    match DATE_SET.as_ref() {
        Some(set) => set.matches(s).iter().find_map(try_format),
        None => (0..DATE_FORMATS.len()).find_map(try_format),
    }
    .unwrap_or_else(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> ParseContext {
        ParseContext {
            year: 2011,
            month: 6,
            day: 15,
            clock: false,
        }
    }

    #[test]
    fn dates() {
        let c = cx();
        let n = |s: &str| normalize_date(s, &c, false);
        assert_eq!(n("Feb  8 10:09:06"), "2011-02-08 10:09:06");
        assert_eq!(n("Fri Aug 07 17:52:19 2009"), "2009-08-07 17:52:19");
        assert_eq!(n("Nov 23 2007 08:08:37"), "2007-11-23 08:08:37");
        assert_eq!(n("10-Aug-2009 07:53:44"), "2009-08-10 07:53:44");
        assert_eq!(n("11/08-19:19:06"), "2011-11-08 19:19:06");
        assert_eq!(n("2006/10/19_11:40:05"), "2006-10-19 11:40:05");
        assert_eq!(n("2011-01-03 16:04:57"), "2011-01-03 16:04:57");
        assert_eq!(n("2011-01-03T16:04:57Z"), "2011-01-03 16:04:57");
        assert_eq!(n("2007 Nov 17 06:26:18"), "2007-11-17 06:26:18");
        assert_eq!(n("29/Jan/2007:17:02:20 +0100"), "2007-01-29 17:02:20");
        assert_eq!(n("1162540224"), "2006-11-03 07:50:24");
        assert_eq!(n("1269453296056"), "2010-03-24 17:54:56");
        assert_eq!(n("Wed 14 Apr 2010 12:35:10"), "2010-04-14 12:35:10");
        assert_eq!(
            n("Feb 30 10:00:00"),
            "Feb 30 10:00:00",
            "invalid date, no other format"
        );
        assert_eq!(n("garbage"), "garbage");
        let jan = ParseContext {
            year: 2011,
            month: 1,
            day: 2,
            clock: false,
        };
        assert_eq!(
            normalize_date("Dec 31 23:59:59", &jan, false),
            "2010-12-31 23:59:59"
        );
        let dec = ParseContext {
            year: 2010,
            month: 12,
            day: 31,
            clock: false,
        };
        assert_eq!(
            normalize_date("Jan  1 00:00:01", &dec, false),
            "2011-01-01 00:00:01",
            "January read in December: the next year"
        );
        assert_eq!(
            normalize_date("Dec 31 23:59:59", &dec, false),
            "2010-12-31 23:59:59"
        );
        assert_eq!(
            normalize_date("2010-01-01 00:00:01", &dec, false),
            "2010-01-01 00:00:01",
            "a date with its year keeps it"
        );
        let clock = |year, month, day| ParseContext {
            year,
            month,
            day,
            clock: true,
        };
        let at = |s: &str, cx: ParseContext| normalize_date(s, &cx, false);
        assert_eq!(
            at("Dec 31 23:59:59", clock(2011, 1, 1)),
            "2010-12-31 23:59:59"
        );
        assert_eq!(
            at("Jan  1 00:00:01", clock(2010, 12, 31)),
            "2011-01-01 00:00:01"
        );
        assert_eq!(
            at("Jan 15 00:00:01", clock(2010, 12, 31)),
            "2010-01-15 00:00:01",
            "more than a day ahead of the clock: the past"
        );
        assert_eq!(
            at("Nov 20 10:00:00", clock(2011, 3, 5)),
            "2010-11-20 10:00:00",
            "a backlog read months later keeps its year"
        );
        assert_eq!(
            at("Mar  6 10:00:00", clock(2011, 3, 5)),
            "2011-03-06 10:00:00"
        );
        assert_eq!(
            at("Mar  7 10:00:00", clock(2011, 3, 5)),
            "2010-03-07 10:00:00"
        );
        assert_eq!(
            at("Apr  1 10:00:00", clock(2011, 3, 31)),
            "2011-04-01 10:00:00"
        );
        assert_eq!(
            at("Feb 29 10:00:00", clock(2013, 3, 1)),
            "2012-02-29 10:00:00",
            "the latest year where the date exists"
        );
        for z in [-800_000i64, -1, 0, 59, 60, 11_016, 20_819, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(
            normalize_date("03/24/10 18:54:56", &c, true),
            "2010-03-24 18:54:56"
        );
    }

    #[test]
    fn functions() {
        let c = cx();
        let f = |n: &str, a: &[&str]| call(n, a, &c);
        assert_eq!(f("upper", &["abc"]).as_deref(), Some("ABC"));
        assert_eq!(f("lower", &["DROP_Input"]).as_deref(), Some("drop_input"));
        assert_eq!(f("hextoint", &["ff"]).as_deref(), Some("255"));
        assert_eq!(f("hextoint", &["zz"]).as_deref(), Some("None"));
        assert_eq!(f("resolv_port", &["ssh"]).as_deref(), Some("22"));
        assert_eq!(f("resolv_port", &["nope"]).as_deref(), Some("nope"));
        assert_eq!(f("normalize_protocol", &["6"]).as_deref(), Some("tcp"));
        assert_eq!(f("normalize_protocol", &["TCP"]).as_deref(), Some("tcp"));
        assert_eq!(
            f("md5sum", &["abc"]).as_deref(),
            Some("900150983cd24fb0d6963f7d28e17f72")
        );
        assert_eq!(f("snort_id", &["1"]).as_deref(), Some("1001"));
        assert_eq!(f("sanitize", &["a\nb"]).as_deref(), Some("a\rb"));
        assert_eq!(f("checkValue", &["x"]).as_deref(), Some("1"));
        assert_eq!(f("checkValue", &["0"]).as_deref(), Some("0"));
        assert_eq!(f("resolv", &["10.0.0.1"]).as_deref(), Some("10.0.0.1"));
        assert_eq!(f("resolv_iface", &["wan1x"]).as_deref(), Some("ext"));
        assert_eq!(f("resolv_iface", &["dmz0"]).as_deref(), Some("int"));
        assert_eq!(
            f("normalize_date", &["Feb  8 10:09:06"]).as_deref(),
            Some("2011-02-08 10:09:06")
        );
        assert_eq!(f("geoip_getCity", &["x"]), None);
    }

    /// The Unicode formats, for the property below.
    fn by_unicode_regexes(s: &str, cx: &ParseContext) -> String {
        let try_format = |i: usize| {
            let (re, fmt) = DATE_FORMATS.get(i)?;
            from_parts(&DateParts::of(&re.captures(s)?), *fmt, cx)
        };
        (0..DATE_FORMATS.len())
            .find_map(try_format)
            .unwrap_or_else(|| s.to_owned())
    }

    proptest::proptest! {
        /// On ASCII text the ASCII formats read what the Unicode formats read.
        #[test]
        fn ascii_formats_equal_the_unicode_ones(
            s in "[A-Za-z0-9 /:.,_T+-]{0,30}",
        ) {
            let c = ParseContext { year: 2011, month: 6, day: 15 , clock: false};
            proptest::prop_assert_eq!(normalize_date_by_regex(&s, &c), by_unicode_regexes(&s, &c));
        }

        /// The hand-read syslog date gives what the regexes give.
        #[test]
        fn syslog_fast_path_equals_the_regexes(
            s in "[A-Za-z0-9_]{0,5}[ \t]{0,2}[0-9]{0,3}[ \x0b]{0,2}[0-9]{1,3}:?[0-9]{2}:[0-9]{1,2}[ -~]{0,6}",
            month in 1u32..=12,
        ) {
            let c = ParseContext { year: 2011, month, day: 15 , clock: false};
            proptest::prop_assert_eq!(normalize_date(&s, &c, false), normalize_date_by_regex(&s, &c));
        }
    }
}
