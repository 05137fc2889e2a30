//! The cargo-fuzz entry points, run without cargo-fuzz: over every seed in `fuzz/seeds/` and
//! over proptest inputs, so CI exercises them on stable.

use proptest::prelude::*;
use vigil_event::Timestamp;
use vigil_syslog::{Decoder, FramingMode, ParseContext, fuzz_framing, fuzz_parse, parse};

#[test]
fn every_seed_passes_both_targets() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
        let path = entry.expect("dir entry").path();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        fuzz_parse(&data);
        fuzz_framing(&data);
        count += 1;
    }
    assert!(count >= 10, "expected the seed corpus, found {count} files");
}

/// Bytes that look like syslog often enough to get deep into the parsers.
fn syslogish() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop::collection::vec(
        prop_oneof![
            Just(b"<13>".to_vec()),
            Just(b"<165>1 ".to_vec()),
            Just(b"2003-10-11T22:14:15.003Z ".to_vec()),
            Just(b"Feb 29 23:59:60.5 ".to_vec()),
            Just(b"Dec 31 2026 ".to_vec()),
            Just(b"host ".to_vec()),
            Just(b"app[12]: ".to_vec()),
            Just(b"- ".to_vec()),
            Just(b"[id@1 a=\"x\\]\\\"\" b=\"".to_vec()),
            Just(b"] ".to_vec()),
            Just(b"12 ".to_vec()),
            Just(b"0 ".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\0".to_vec()),
            Just(b"*".to_vec()),
            Just(b" UTC: ".to_vec()),
            Just("\u{feff}é".as_bytes().to_vec()),
            prop::collection::vec(any::<u8>(), 0..8),
        ],
        0..12,
    );
    pieces.prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzz_parse(&data);
    }

    #[test]
    fn parse_never_panics_on_syslogish_bytes(data in syslogish(), now in any::<i64>(), off in -25i32..=25) {
        fuzz_parse(&data);
        let zone = jiff::tz::TimeZone::fixed(
            jiff::tz::Offset::from_seconds(off * 3600).unwrap_or(jiff::tz::Offset::UTC),
        );
        let msg = parse(&data, &ParseContext::new(Timestamp::from_micros(now), zone));
        prop_assert_eq!(msg.raw, data);
    }

    #[test]
    fn framing_never_panics_and_ignores_chunking(data in prop::collection::vec(any::<u8>(), 0..400)) {
        fuzz_framing(&data);
    }

    #[test]
    fn framing_of_syslogish_streams(selector in any::<u8>(), data in syslogish()) {
        let mut input = vec![selector];
        input.extend_from_slice(&data);
        fuzz_framing(&input);
    }

    #[test]
    fn octet_counted_messages_round_trip(msgs in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..50), 0..20)) {
        let mut stream = Vec::new();
        for m in &msgs {
            stream.extend_from_slice(format!("{} ", m.len()).as_bytes());
            stream.extend_from_slice(m);
        }
        let frames = Decoder::decode_all(FramingMode::OctetCounting, 64, &stream);
        prop_assert_eq!(frames.len(), msgs.len());
        for (frame, m) in frames.iter().zip(&msgs) {
            let frame = frame.as_ref().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&frame.data[..], vigil_syslog::framing::trim_trailer(m));
        }
    }
}
