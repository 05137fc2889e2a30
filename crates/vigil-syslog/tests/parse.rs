//! Parsing: RFC 5424 examples, RFC 3164 variants, structured data, time and zones.

use jiff::tz::{TimeZone, offset};
use vigil_event::Timestamp;
use vigil_syslog::{Element, Format, Message, ParseContext, parse, zone_from_config};

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test timestamp")
}

fn utc_at(now: &str) -> ParseContext {
    ParseContext::utc(ts(now))
}

fn p(line: &[u8]) -> Message {
    parse(line, &utc_at("2026-11-22T12:00:00Z"))
}

fn when(msg: &Message) -> Option<String> {
    msg.timestamp.map(|t| t.to_string())
}

fn s(v: &Option<String>) -> Option<&str> {
    v.as_deref()
}

// ---------------------------------------------------------------- RFC 5424 (section 6.5)

#[test]
fn rfc5424_example_1_bom_and_no_structured_data() {
    let line = b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8";
    let msg = p(line);
    assert_eq!(msg.format, Format::Rfc5424);
    assert_eq!((msg.facility, msg.severity), (Some(4), Some(2)));
    assert_eq!(when(&msg).as_deref(), Some("2003-10-11T22:14:15.003Z"));
    assert_eq!(s(&msg.hostname), Some("mymachine.example.com"));
    assert_eq!(s(&msg.app_name), Some("su"));
    assert_eq!(msg.proc_id, None);
    assert_eq!(s(&msg.msg_id), Some("ID47"));
    assert!(msg.structured_data.is_empty());
    assert_eq!(msg.body, "'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(msg.raw, line);
    assert!(!msg.non_utf8);
}

#[test]
fn rfc5424_example_2_offset_and_microseconds() {
    let msg = p(b"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.");
    assert_eq!(msg.format, Format::Rfc5424);
    assert_eq!((msg.facility, msg.severity), (Some(20), Some(5)));
    assert_eq!(when(&msg).as_deref(), Some("2003-08-24T12:14:15.000003Z"));
    assert_eq!(s(&msg.hostname), Some("192.0.2.1"));
    assert_eq!(s(&msg.app_name), Some("myproc"));
    assert_eq!(s(&msg.proc_id), Some("8710"));
    assert_eq!(msg.msg_id, None);
    assert_eq!(msg.body, "%% It's time to make the do-nuts.");
}

fn example_sd() -> Element {
    Element {
        id: "exampleSDID@32473".into(),
        params: vec![
            ("iut".into(), "3".into()),
            ("eventSource".into(), "Application".into()),
            ("eventID".into(), "1011".into()),
        ],
    }
}

#[test]
fn rfc5424_example_3_structured_data_and_message() {
    let msg = p(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] \xEF\xBB\xBFAn application event log entry...");
    assert_eq!(msg.format, Format::Rfc5424);
    assert_eq!(s(&msg.app_name), Some("evntslog"));
    assert_eq!(s(&msg.msg_id), Some("ID47"));
    assert_eq!(msg.structured_data, [example_sd()]);
    assert_eq!(msg.body, "An application event log entry...");
}

#[test]
fn rfc5424_example_4_two_elements_no_message() {
    let msg = p(b"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high\"]");
    assert_eq!(
        msg.structured_data,
        [
            example_sd(),
            Element {
                id: "examplePriority@32473".into(),
                params: vec![("class".into(), "high".into())],
            }
        ]
    );
    assert_eq!(msg.body, "");
}

#[test]
fn rfc5424_structured_data_escapes() {
    let msg = p(br#"<13>1 2026-11-22T10:00:00Z h a p m [x@1 a="q\"uote" b="back\\slash" c="br\]acket" d="other\n" e="" f="un]escaped"][y] body"#);
    assert_eq!(
        msg.structured_data,
        [
            Element {
                id: "x@1".into(),
                params: vec![
                    ("a".into(), "q\"uote".into()),
                    ("b".into(), "back\\slash".into()),
                    ("c".into(), "br]acket".into()),
                    ("d".into(), "other\\n".into()),
                    ("e".into(), "".into()),
                    ("f".into(), "un]escaped".into()),
                ],
            },
            Element {
                id: "y".into(),
                params: vec![],
            }
        ]
    );
    assert_eq!(msg.body, "body");
}

#[test]
fn rfc5424_malformed_structured_data_becomes_body() {
    let msg = p(br#"<13>1 2026-11-22T10:00:00Z h a p m [x@1 a="unterminated] rest"#);
    assert_eq!(msg.format, Format::Rfc5424);
    assert!(msg.structured_data.is_empty());
    assert_eq!(msg.body, r#"[x@1 a="unterminated] rest"#);
}

#[test]
fn rfc5424_nil_values_and_short_headers() {
    let msg = p(b"<13>1 - - - - - -");
    assert_eq!(msg.format, Format::Rfc5424);
    assert_eq!(
        (
            msg.timestamp,
            &msg.hostname,
            &msg.app_name,
            &msg.proc_id,
            &msg.msg_id
        ),
        (None, &None, &None, &None, &None)
    );
    assert_eq!(msg.body, "");

    let msg = p(b"<13>1 2026-11-22T10:00:00Z host");
    assert_eq!(msg.format, Format::Rfc5424);
    assert_eq!(s(&msg.hostname), Some("host"));
    assert_eq!(msg.app_name, None);

    let msg = p(b"<13>1 2026-13-45T99:00:00Z host app - - - hi");
    assert_eq!(msg.timestamp, None, "an invalid timestamp is absent");
    assert_eq!(msg.body, "hi");
}

#[test]
fn rfc5424_uses_its_own_offset_not_the_source_zone() {
    let cx = ParseContext::new(ts("2026-11-22T12:00:00Z"), TimeZone::fixed(offset(2)));
    let msg = parse(b"<13>1 2026-11-22T10:00:00Z h a - - - x", &cx);
    assert_eq!(when(&msg).as_deref(), Some("2026-11-22T10:00:00Z"));
    let msg = parse(b"<13>1 2026-11-22T10:00:00+05:30 h a - - - x", &cx);
    assert_eq!(when(&msg).as_deref(), Some("2026-11-22T04:30:00Z"));
}

// ---------------------------------------------------------------- RFC 3164

#[test]
fn rfc3164_with_pri_host_and_tag() {
    let msg = p(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8");
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!((msg.facility, msg.severity), (Some(4), Some(2)));
    assert_eq!(when(&msg).as_deref(), Some("2026-10-11T22:14:15Z"));
    assert_eq!(s(&msg.hostname), Some("mymachine"));
    assert_eq!(s(&msg.app_name), Some("su"));
    assert_eq!(msg.proc_id, None);
    assert_eq!(msg.msg_id, None);
    assert_eq!(msg.body, "'su root' failed for lonvick on /dev/pts/8");
}

#[test]
fn rfc3164_with_pid_and_without_pri() {
    let msg =
        p(b"Jun  2 19:08:43 host.name sudo[654321]: pam_unix(sudo:auth): authentication failure");
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!((msg.facility, msg.severity), (None, None));
    assert_eq!(when(&msg).as_deref(), Some("2026-06-02T19:08:43Z"));
    assert_eq!(s(&msg.hostname), Some("host.name"));
    assert_eq!(s(&msg.app_name), Some("sudo"));
    assert_eq!(s(&msg.proc_id), Some("654321"));
    assert_eq!(msg.body, "pam_unix(sudo:auth): authentication failure");
}

#[test]
fn rfc3164_without_hostname_as_written_to_dev_log() {
    let msg = p(b"<13>Nov 22 11:00:00 su[12]: hello");
    assert_eq!(msg.hostname, None);
    assert_eq!(s(&msg.app_name), Some("su"));
    assert_eq!(s(&msg.proc_id), Some("12"));
    assert_eq!(msg.body, "hello");
    let msg = p(b"<13>Nov 22 11:00:00 cron: job done");
    assert_eq!(msg.hostname, None);
    assert_eq!(s(&msg.app_name), Some("cron"));
}

#[test]
fn rfc3164_words_that_are_not_a_tag_stay_in_the_body() {
    let msg = p(b"Jun 19 04:09:11 combo syslogd 1.4.1: restart.");
    assert_eq!(s(&msg.hostname), Some("combo"));
    assert_eq!(msg.app_name, None);
    assert_eq!(msg.body, "syslogd 1.4.1: restart.");
    let msg = p(b"Jul  7 08:06:15 combo  -- root[2421]: ROOT LOGIN ON tty2\r");
    assert_eq!(s(&msg.hostname), Some("combo"));
    assert_eq!(msg.app_name, None);
    assert_eq!(msg.body, "-- root[2421]: ROOT LOGIN ON tty2");
}

#[test]
fn rfc3164_with_year_iso_and_cisco_timestamps() {
    let msg = p(b"<13>Nov 22 2025 11:00:00 host app: x");
    assert_eq!(when(&msg).as_deref(), Some("2025-11-22T11:00:00Z"));
    assert_eq!(s(&msg.hostname), Some("host"));

    let msg = p(b"<13>2026-11-22T10:00:00.5+01:00 host app[1]: x");
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!(when(&msg).as_deref(), Some("2026-11-22T09:00:00.5Z"));
    assert_eq!(
        (s(&msg.hostname), s(&msg.app_name)),
        (Some("host"), Some("app"))
    );

    let cx = ParseContext::new(ts("2026-11-22T12:00:00Z"), TimeZone::fixed(offset(2)));
    let msg = parse(b"2026-11-22T10:00:00 host app: x", &cx);
    assert_eq!(
        when(&msg).as_deref(),
        Some("2026-11-22T08:00:00Z"),
        "source zone"
    );

    let cx = ParseContext::new(ts("2026-11-22T12:00:00Z"), TimeZone::fixed(offset(5)));
    let msg = parse(
        b"<189>123: *Nov 22 11:00:00.123 UTC: %SYS-5-CONFIG_I: Configured from console by vty0",
        &cx,
    );
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!((msg.facility, msg.severity), (Some(23), Some(5)));
    assert_eq!(
        when(&msg).as_deref(),
        Some("2026-11-22T11:00:00.123Z"),
        "UTC wins"
    );
    assert_eq!(msg.hostname, None);
    assert_eq!(s(&msg.app_name), Some("%SYS-5-CONFIG_I"));
    assert_eq!(msg.body, "Configured from console by vty0");

    let msg = parse(
        b"<189>45: .Nov 22 11:00:00.250 CET: %LINK-3-UPDOWN: up",
        &cx,
    );
    assert_eq!(
        when(&msg).as_deref(),
        Some("2026-11-22T06:00:00.25Z"),
        "other abbreviations: source zone"
    );
}

#[test]
fn pri_without_timestamp_and_not_syslog_at_all() {
    let msg = p(b"<13>sshd[5]: hi");
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!(msg.timestamp, None);
    assert_eq!(
        (s(&msg.app_name), s(&msg.proc_id)),
        (Some("sshd"), Some("5"))
    );
    assert_eq!(msg.body, "hi");

    let msg = p(b"<13>just some text");
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!(msg.app_name, None);
    assert_eq!(msg.body, "just some text");

    for line in [
        &b"hello world"[..],
        b"<192>Oct 11 22:14:15 h a: x",
        b"",
        b"<13",
        b"Oct 32 10:00:00 h a: x",
    ] {
        let msg = p(line);
        assert_eq!(msg.format, Format::Unknown, "{line:?}");
        assert_eq!(msg.facility, None);
        assert_eq!(msg.timestamp, None);
        assert_eq!(msg.body.as_bytes(), line);
        assert_eq!(msg.raw, line);
    }
}

#[test]
fn non_utf8_bytes_are_replaced_and_flagged() {
    let line = b"<13>Nov 22 11:00:00 host app: caf\xe9 \xff";
    let msg = p(line);
    assert!(msg.non_utf8);
    assert_eq!(msg.format, Format::Rfc3164);
    assert_eq!(msg.body, "caf\u{FFFD} \u{FFFD}");
    assert_eq!(msg.raw, line, "raw keeps the original bytes");
    assert!(!p(b"<13>Nov 22 11:00:00 host app: caf\xc3\xa9").non_utf8);

    let msg = p(b"\xff\xfe<13>garbage");
    assert!(msg.non_utf8);
    assert_eq!(msg.format, Format::Unknown);
    assert_eq!(msg.body, "\u{FFFD}\u{FFFD}<13>garbage");
}

// ---------------------------------------------------------------- time

fn at(now: &str, line: &str) -> Option<String> {
    when(&parse(line.as_bytes(), &utc_at(now)))
}

#[test]
fn year_boundary_both_ways() {
    // Last year's message received just after New Year.
    assert_eq!(
        at("2027-01-01T00:00:05Z", "Dec 31 23:59:59 h a: x").as_deref(),
        Some("2026-12-31T23:59:59Z")
    );
    // Next year's message received just before New Year (sender clock ahead).
    assert_eq!(
        at("2026-12-31T23:59:50Z", "Jan  1 00:00:10 h a: x").as_deref(),
        Some("2027-01-01T00:00:10Z")
    );
    // Up to one day ahead is this year; more is last year.
    assert_eq!(
        at("2026-06-15T12:00:00Z", "Jun 16 11:59:59 h a: x").as_deref(),
        Some("2026-06-16T11:59:59Z")
    );
    assert_eq!(
        at("2026-06-15T12:00:00Z", "Jun 16 12:00:01 h a: x").as_deref(),
        Some("2025-06-16T12:00:01Z")
    );
    // Old messages land in the past, never the future.
    assert_eq!(
        at("2026-03-01T00:00:00Z", "Nov 30 10:00:00 h a: x").as_deref(),
        Some("2025-11-30T10:00:00Z")
    );
}

#[test]
fn february_29_finds_the_latest_leap_year() {
    assert_eq!(
        at("2029-03-01T00:00:00Z", "Feb 29 12:00:00 h a: x").as_deref(),
        Some("2028-02-29T12:00:00Z")
    );
    assert_eq!(
        at("2027-01-10T00:00:00Z", "Feb 29 12:00:00 h a: x").as_deref(),
        Some("2024-02-29T12:00:00Z")
    );
    assert_eq!(
        at("2028-02-28T12:00:00Z", "Feb 29 06:00:00 h a: x").as_deref(),
        Some("2028-02-29T06:00:00Z"),
        "18 hours ahead is still this year"
    );
    assert_eq!(at("2027-01-10T00:00:00Z", "Feb 30 12:00:00 h a: x"), None);
}

#[test]
fn per_source_zone_applies_to_rfc3164() {
    let cx = ParseContext::new(ts("2026-11-22T12:00:00Z"), TimeZone::fixed(offset(2)));
    let msg = parse(b"<13>Nov 22 13:00:00 h a: x", &cx);
    assert_eq!(when(&msg).as_deref(), Some("2026-11-22T11:00:00Z"));

    // The year is inferred in the source's zone: Dec 31 21:59 at UTC-5 is already Jan 1 UTC.
    let minus5 = zone_from_config("-05:00").expect("fixed offset");
    let cx = ParseContext::new(ts("2027-01-01T03:00:00Z"), minus5);
    let msg = parse(b"Dec 31 21:59:00 h a: x", &cx);
    assert_eq!(when(&msg).as_deref(), Some("2027-01-01T02:59:00Z"));
}

#[test]
fn named_zones_from_the_system_database() {
    let paris = zone_from_config("Europe/Paris").expect("tzdata is installed on this machine");
    let cx = ParseContext::new(ts("2026-07-02T00:00:00Z"), paris.clone());
    let msg = parse(b"Jul  1 12:00:00 h a: x", &cx);
    assert_eq!(when(&msg).as_deref(), Some("2026-07-01T10:00:00Z"), "CEST");
    let cx = ParseContext::new(ts("2026-02-02T00:00:00Z"), paris);
    let msg = parse(b"Jan 15 12:00:00 h a: x", &cx);
    assert_eq!(when(&msg).as_deref(), Some("2026-01-15T11:00:00Z"), "CET");
}

#[test]
fn zone_configuration_forms_and_errors() {
    let check = |text: &str, secs: i32| {
        let zone = zone_from_config(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let at = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(zone.to_offset(at).seconds(), secs, "{text}");
    };
    check("UTC", 0);
    check("Z", 0);
    check("+02:00", 7200);
    check("-0530", -19800);
    check("+09", 32400);
    check("UTC+01:00", 3600);
    check(" +02:00 ", 7200);
    for bad in ["Mars/Olympus", "+2:00", "+99:00", "", "local"] {
        let err = zone_from_config(bad).expect_err(bad);
        assert!(err.to_string().contains("unknown time zone"), "{err}");
        assert!(err.to_string().contains("+02:00"), "{err}");
    }
}
