//! From received bytes to normalised events: what every source does with a syslog message or
//! a file line, through the plugins bound to that source.
//!
//! OSSIM plugins were written for the lines rsyslog writes to files (`Mmm dd HH:MM:SS host
//! tag[pid]: msg`), so a syslog message is given to them in that form: an RFC 3164 message
//! without its `<PRI>`, an RFC 5424 message rendered in the source's time zone. The event keeps
//! the message as received (`log`), the device's own timestamp (`device_time`, the syslog
//! timestamp when there is one, else the plugin's `date`) and the edge's stamp on arrival as
//! its time.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use jiff::tz::TimeZone;
use vigil_event::{Event, Timestamp, Uuid};
use vigil_plugins::cfg::{ParseContext, PluginSet};
use vigil_syslog::{Format, Message};

use crate::normalize::{NormalizeContext, UNPARSED_PLUGIN_ID, normalize, unparsed};

/// What every source of one edge shares.
#[derive(Debug)]
pub struct EdgeIdentity {
    /// The sensor name in provenance.
    pub sensor: String,
    /// The edge's address.
    pub sensor_ip: IpAddr,
    /// Host names in logs and their addresses (lower-case names).
    pub hosts: HashMap<String, IpAddr>,
    /// Key of password fingerprints.
    pub secret_key: [u8; 32],
}

/// Counts of one batch of lines, added to the metrics by the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IntakeCounts {
    /// Lines a plugin turned into an event.
    pub parsed: u64,
    /// Lines no plugin matched (kept as unparsed events).
    pub unparsed: u64,
    /// Lines a rule matched whose values made no event (kept as unparsed events).
    pub bad_match: u64,
    /// Messages that were not valid UTF-8 (invalid bytes replaced).
    pub non_utf8: u64,
}

/// The parsing of one source: its plugins, its time zone.
pub struct SourceParser {
    /// The source's name.
    pub name: Arc<str>,
    plugins: PluginSet,
    zone: TimeZone,
    identity: Arc<EdgeIdentity>,
    verbose: Arc<std::sync::atomic::AtomicBool>,
}

impl SourceParser {
    /// A parser for source `name` trying `plugins` in order, reading device times in `zone`.
    pub fn new(
        name: &str,
        plugins: PluginSet,
        zone: TimeZone,
        identity: Arc<EdgeIdentity>,
        verbose: Arc<std::sync::atomic::AtomicBool>,
    ) -> SourceParser {
        SourceParser {
            name: Arc::from(name),
            plugins,
            zone,
            identity,
            verbose,
        }
    }

    /// The time zone of the source's devices.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// One syslog message from `peer`, received at `now`.
    pub fn syslog(
        &self,
        frame: &[u8],
        peer: IpAddr,
        now: Timestamp,
        counts: &mut IntakeCounts,
    ) -> Event {
        let cx = vigil_syslog::ParseContext::new(now, self.zone.clone());
        let message = vigil_syslog::parse(frame, &cx);
        counts.non_utf8 += u64::from(message.non_utf8);
        let received =
            String::from_utf8_lossy(vigil_syslog::framing::trim_trailer(&message.raw)).into_owned();
        let line = plugin_line(&message, &received, &self.zone);
        let mut event = self.event(&line, &received, peer, now, counts);
        if message.timestamp.is_some() {
            event.provenance.device_time = message.timestamp;
        }
        event.provenance.peer = Some(peer);
        event
    }

    /// One line of a file, read at `now`.
    pub fn line(&self, bytes: &[u8], now: Timestamp, counts: &mut IntakeCounts) -> Event {
        let text = String::from_utf8_lossy(bytes);
        counts.non_utf8 += u64::from(matches!(text, std::borrow::Cow::Owned(_)));
        self.event(&text, &text, self.identity.sensor_ip, now, counts)
    }

    /// The event of `line` (what plugins read), whose `log` is `raw` (the text it came from).
    fn event(
        &self,
        line: &str,
        raw: &str,
        device: IpAddr,
        now: Timestamp,
        counts: &mut IntakeCounts,
    ) -> Event {
        let event = self.parse_event(line, raw, device, now, counts);
        if self.verbose.load(std::sync::atomic::Ordering::Relaxed) {
            // The event's line, not `line`: its secrets are replaced.
            let line = event.log.as_deref().unwrap_or_default();
            tracing::info!(target: crate::verbosity::VERBOSE_TARGET, source = %self.name, plugin_id = event.plugin_id, plugin_sid = event.plugin_sid, %line, "event (verbose source)");
        }
        event
    }

    fn parse_event(
        &self,
        line: &str,
        raw: &str,
        device: IpAddr,
        now: Timestamp,
        counts: &mut IntakeCounts,
    ) -> Event {
        let cx = NormalizeContext {
            sensor: &self.identity.sensor,
            sensor_ip: self.identity.sensor_ip,
            device,
            received: now,
            zone: &self.zone,
            hosts: &self.identity.hosts,
            replay: false,
            secret_key: &self.identity.secret_key,
            id: Uuid::now_v7(),
        };
        match self
            .plugins
            .parse(line, &plugin_date_context(now, &self.zone))
        {
            Some(parsed) => match normalize(&parsed, raw, &cx) {
                Ok(event) => {
                    counts.parsed += 1;
                    event
                }
                Err(rejected) => {
                    counts.bad_match += 1;
                    rejected.unparsed
                }
            },
            None => {
                counts.unparsed += 1;
                unparsed(raw, &cx)
            }
        }
    }
}

/// Whether an event is the generic event of a line no plugin matched.
pub fn is_unparsed(event: &Event) -> bool {
    event.plugin_id == UNPARSED_PLUGIN_ID
}

/// The date plugins complete yearless dates with: `now` in the source's zone.
fn plugin_date_context(now: Timestamp, zone: &TimeZone) -> ParseContext {
    let civil = jiff::Timestamp::from_microsecond(now.as_micros())
        .map(|t| t.to_zoned(zone.clone()).datetime())
        .unwrap_or_default();
    ParseContext {
        year: i32::from(civil.year()),
        month: u32::try_from(civil.month()).unwrap_or(1),
        day: u32::try_from(civil.day()).unwrap_or(1),
        clock: true,
    }
}

/// The line OSSIM plugins expect for a syslog message: the file form rsyslog writes.
/// `received` is the message as text (lossy UTF-8, trailing line breaks trimmed).
pub fn plugin_line<'a>(message: &Message, received: &'a str, zone: &TimeZone) -> Cow<'a, str> {
    match message.format {
        Format::Rfc3164 => Cow::Borrowed(strip_pri(received)),
        Format::Rfc5424 => {
            let mut line = String::with_capacity(message.body.len() + 48);
            if let Some(t) = message
                .timestamp
                .and_then(|t| jiff::Timestamp::from_microsecond(t.as_micros()).ok())
            {
                line.push_str(
                    &t.to_zoned(zone.clone())
                        .strftime("%b %e %H:%M:%S")
                        .to_string(),
                );
                line.push(' ');
            }
            line.push_str(message.hostname.as_deref().unwrap_or("-"));
            line.push(' ');
            if let Some(app) = &message.app_name {
                line.push_str(app);
                if let Some(pid) = &message.proc_id {
                    line.push('[');
                    line.push_str(pid);
                    line.push(']');
                }
                line.push_str(": ");
            }
            line.push_str(&message.body);
            Cow::Owned(line)
        }
        Format::Unknown => Cow::Owned(message.body.clone()),
    }
}

/// `text` without a leading `<PRI>` (1 to 3 digits).
fn strip_pri(text: &str) -> &str {
    text.strip_prefix('<')
        .and_then(|rest| {
            let close = rest.bytes().take(4).position(|b| b == b'>')?;
            let digits = rest.get(..close)?;
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
                .then(|| rest.get(close + 1..))
                .flatten()
        })
        .unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, zone: &TimeZone) -> String {
        let message = vigil_syslog::parse(
            text.as_bytes(),
            &vigil_syslog::ParseContext::utc(Timestamp::from_secs(1_764_547_200)),
        );
        let received = text.trim_end_matches('\n');
        plugin_line(&message, received, zone).into_owned()
    }

    #[test]
    fn lines_as_rsyslog_writes_them() {
        let zone = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(
            line(
                "<34>Oct 11 22:14:15 mymachine su[9]: 'su root' failed\n",
                &zone
            ),
            "Oct 11 22:14:15 mymachine su[9]: 'su root' failed"
        );
        assert_eq!(
            line(
                "<165>1 2025-10-11T22:14:15.003Z host1 sshd 42 ID47 [x@1 a=\"b\"] Failed password",
                &zone
            ),
            "Oct 12 00:14:15 host1 sshd[42]: Failed password",
            "RFC 5424 rendered in the source's zone"
        );
        assert_eq!(line("<13>1 - - - - - just text", &zone), "- just text");
        assert_eq!(line("not syslog at all", &zone), "not syslog at all");
        assert_eq!(strip_pri("<1234>x"), "<1234>x", "PRI has at most 3 digits");
        assert_eq!(strip_pri("<>x"), "<>x");
    }

    /// A file line's date read at `now` (UTC) by the built-in plugins.
    fn device_time_at(line: &str, now: &str) -> Option<String> {
        let (plugins, _) =
            crate::plugins::load(&crate::config::PluginsConfig::default()).expect("loads");
        let identity = Arc::new(EdgeIdentity {
            sensor: "edge".into(),
            sensor_ip: IpAddr::from([192, 0, 2, 1]),
            hosts: HashMap::new(),
            secret_key: [0; 32],
        });
        let parser = SourceParser::new(
            "file",
            PluginSet::new(plugins),
            TimeZone::UTC,
            identity,
            Arc::default(),
        );
        let now = Timestamp::from_micros(
            now.parse::<jiff::Timestamp>()
                .expect("valid")
                .as_microsecond(),
        );
        let event = parser.line(line.as_bytes(), now, &mut IntakeCounts::default());
        assert_eq!(event.plugin_id, 4003, "{line}");
        event.provenance.device_time.map(|t| {
            jiff::Timestamp::from_microsecond(t.as_micros())
                .expect("valid")
                .to_string()
        })
    }

    #[test]
    fn yearless_dates_across_new_year_follow_the_edge_clock() {
        let line = |date: &str| {
            format!("{date} gw sshd[1]: Failed password for root from 203.0.113.7 port 2 ssh2")
        };
        assert_eq!(
            device_time_at(&line("Dec 31 23:59:58"), "2027-01-01T00:00:01Z").as_deref(),
            Some("2026-12-31T23:59:58Z"),
            "December read on 1 January: last year"
        );
        assert_eq!(
            device_time_at(&line("Jan  1 00:00:01"), "2026-12-31T23:59:59Z").as_deref(),
            Some("2027-01-01T00:00:01Z"),
            "January from a sender ahead of the edge on 31 December: next year"
        );
        assert_eq!(
            device_time_at(&line("Jun 10 12:00:00"), "2026-12-31T23:59:59Z").as_deref(),
            Some("2026-06-10T12:00:00Z")
        );
        assert_eq!(
            device_time_at(&line("Dec 20 12:00:00"), "2027-03-05T10:00:00Z").as_deref(),
            Some("2026-12-20T12:00:00Z"),
            "a backlog read months later: never in the future"
        );
    }

    #[test]
    fn plugin_dates_in_the_source_zone() {
        let zone = TimeZone::fixed(jiff::tz::offset(-5));
        // 2026-01-01T02:00:00Z is still 31 December 2025 at -05:00.
        let cx = plugin_date_context(Timestamp::from_secs(1_767_232_800), &zone);
        assert_eq!((cx.year, cx.month, cx.day), (2025, 12, 31));
    }
}
