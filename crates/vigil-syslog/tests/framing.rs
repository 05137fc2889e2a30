//! Framing: RFC 6587 octet counting and LF framing, errors and resynchronisation.

use vigil_syslog::{BadCount, Decoder, Frame, FrameError, Framing, FramingMode, datagram};

type Item = Result<Frame, FrameError>;

fn whole(mode: FramingMode, max: usize, stream: &[u8]) -> Vec<Item> {
    Decoder::decode_all(mode, max, stream)
}

/// Feeds the stream one byte at a time and checks the result equals decoding it whole.
fn bytewise(mode: FramingMode, max: usize, stream: &[u8]) -> Vec<Item> {
    let mut dec = Decoder::new(mode, max);
    let mut out = Vec::new();
    for b in stream {
        dec.push(std::slice::from_ref(b));
        while let Some(item) = dec.next() {
            out.push(item);
        }
    }
    dec.finish();
    while let Some(item) = dec.next() {
        out.push(item);
    }
    assert_eq!(
        out,
        whole(mode, max, stream),
        "byte-by-byte differs from whole"
    );
    out
}

/// Every split of the stream into two pushes gives the same result.
fn every_split(mode: FramingMode, max: usize, stream: &[u8]) -> Vec<Item> {
    let expected = bytewise(mode, max, stream);
    for cut in 0..=stream.len() {
        let mut dec = Decoder::new(mode, max);
        let mut out = Vec::new();
        for part in [&stream[..cut], &stream[cut..]] {
            dec.push(part);
            while let Some(item) = dec.next() {
                out.push(item);
            }
        }
        dec.finish();
        while let Some(item) = dec.next() {
            out.push(item);
        }
        assert_eq!(out, expected, "split at {cut} differs");
    }
    expected
}

fn lf(data: &[u8]) -> Item {
    Ok(Frame {
        data: data.to_vec(),
        framing: Framing::NonTransparent,
    })
}

fn oc(data: &[u8]) -> Item {
    Ok(Frame {
        data: data.to_vec(),
        framing: Framing::OctetCounted,
    })
}

fn bad(reason: BadCount, header: &str) -> Item {
    Err(FrameError::BadOctetCount {
        reason,
        header: header.to_string(),
    })
}

#[test]
fn lf_crlf_and_nul_terminators() {
    let stream = b"<13>one\n<13>two\r\n<13>three\0<13>four\0\n\n\r\n<13>five\r\n";
    let got = every_split(FramingMode::Auto, 1024, stream);
    assert_eq!(
        got,
        [
            lf(b"<13>one"),
            lf(b"<13>two"),
            lf(b"<13>three"),
            lf(b"<13>four"),
            lf(b"<13>five")
        ]
    );
    assert_eq!(
        every_split(FramingMode::NonTransparent, 1024, stream),
        got,
        "same in LF-only mode"
    );
}

#[test]
fn mixed_octet_counted_and_lf_on_one_stream() {
    let stream = b"11 <13>hello a<13>lf one\n12 <13>two\nline9 <13>third\n<13>last";
    let got = every_split(FramingMode::Auto, 1024, stream);
    assert_eq!(
        got,
        [
            oc(b"<13>hello a"),
            lf(b"<13>lf one"),
            oc(b"<13>two\nline"),
            oc(b"<13>third"),
            lf(b"<13>last"),
        ]
    );
}

#[test]
fn a_line_starting_with_digits_but_no_space_is_lf_framed() {
    let stream = b"2026-11-22T10:00:00Z host app: x\n123\n";
    assert_eq!(
        every_split(FramingMode::Auto, 1024, stream),
        [lf(b"2026-11-22T10:00:00Z host app: x"), lf(b"123")]
    );
}

#[test]
fn final_unterminated_message_is_delivered_at_eof() {
    let mut dec = Decoder::new(FramingMode::Auto, 100);
    dec.push(b"<13>a\n<13>b");
    assert_eq!(dec.next(), Some(lf(b"<13>a")));
    assert_eq!(dec.next(), None, "b is not terminated yet");
    dec.finish();
    assert_eq!(dec.next(), Some(lf(b"<13>b")));
    assert_eq!(dec.next(), None);
    assert_eq!(dec.stats().non_transparent, 2);
}

#[test]
fn bad_octet_counts_are_reported_and_skipped() {
    // Strict octet counting (TLS, RFC 5425): not a number.
    let got = every_split(FramingMode::OctetCounting, 1024, b"abc hello\n5 hello");
    assert_eq!(got, [bad(BadCount::NotANumber, "abc "), oc(b"hello")]);

    // Zero: the (empty) frame is skipped, the framing stays intact.
    let got = every_split(FramingMode::OctetCounting, 1024, b"0 5 hello");
    assert_eq!(got, [bad(BadCount::Zero, "0 "), oc(b"hello")]);
    let got = every_split(FramingMode::Auto, 1024, b"0 \n5 hello");
    assert_eq!(got, [bad(BadCount::Zero, "0 "), oc(b"hello")]);

    // Too large: beyond the maximum, and beyond u64; resynchronised at the next LF.
    let got = every_split(FramingMode::Auto, 1024, b"99999999999 xxx\n5 hello");
    assert_eq!(got, [bad(BadCount::TooLarge, "99999999999 "), oc(b"hello")]);
    let got = every_split(
        FramingMode::OctetCounting,
        1024,
        b"123456789012345678901 x\n5 hello",
    );
    assert_eq!(
        got,
        [
            bad(BadCount::TooLarge, "123456789012345678901 "),
            oc(b"hello")
        ]
    );

    let mut dec = Decoder::new(FramingMode::OctetCounting, 1024);
    dec.push(b"abc hello\n0 99999999999 x\n5 hello");
    while dec.next().is_some() {}
    let stats = dec.stats();
    assert_eq!(stats.bad_octet_count, 3);
    assert_eq!(stats.octet_counted, 1);
    assert_eq!(stats.bytes_discarded, 10 + 2, "abc hello\\n and x\\n");
}

#[test]
fn a_digit_run_too_long_for_a_count_is_text_in_auto_mode() {
    let line = b"1234567890123456789012345 not a count";
    let mut stream = line.to_vec();
    stream.push(b'\n');
    assert_eq!(every_split(FramingMode::Auto, 1024, &stream), [lf(line)]);
}

#[test]
fn oversized_lf_message_resynchronises_at_next_lf() {
    let stream = b"<13>123456789\n<13>ok\n<13>waytoolongmessage\r\n<13>ok2";
    let got = every_split(FramingMode::Auto, 8, stream);
    assert_eq!(
        got,
        [
            Err(FrameError::Oversized { max: 8 }),
            lf(b"<13>ok"),
            Err(FrameError::Oversized { max: 8 }),
            lf(b"<13>ok2"),
        ]
    );
    let mut dec = Decoder::new(FramingMode::Auto, 8);
    dec.push(stream);
    dec.finish();
    while dec.next().is_some() {}
    assert_eq!(dec.stats().oversized, 2);
    assert_eq!(dec.stats().non_transparent, 2);
}

#[test]
fn oversized_stream_without_lf_keeps_the_buffer_bounded() {
    let mut dec = Decoder::new(FramingMode::Auto, 16);
    let mut errors = 0;
    for _ in 0..1000 {
        dec.push(b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        while let Some(item) = dec.next() {
            assert_eq!(item, Err(FrameError::Oversized { max: 16 }));
            errors += 1;
        }
        assert!(dec.buffered() <= 17);
    }
    assert_eq!(errors, 1, "one error per oversized message");
    dec.push(b"end\nfine\n");
    assert_eq!(dec.next(), Some(lf(b"fine")));
}

#[test]
fn truncated_at_eof() {
    let got = every_split(FramingMode::Auto, 1024, b"5 hello20 <13>short");
    assert_eq!(
        got,
        [
            oc(b"hello"),
            Err(FrameError::Truncated {
                expected: Some(20),
                received: 9
            })
        ]
    );
    let got = every_split(FramingMode::OctetCounting, 1024, b"5 hello12");
    assert_eq!(
        got,
        [
            oc(b"hello"),
            Err(FrameError::Truncated {
                expected: None,
                received: 2
            })
        ]
    );
    // In auto mode a bare number at EOF is just a short line.
    assert_eq!(every_split(FramingMode::Auto, 1024, b"12"), [lf(b"12")]);
}

#[test]
fn max_size_boundary_is_exact() {
    let max = 8;
    assert_eq!(
        every_split(FramingMode::Auto, max, b"12345678\n"),
        [lf(b"12345678")]
    );
    assert_eq!(
        every_split(FramingMode::Auto, max, b"abcdefgh\r\n"),
        [lf(b"abcdefgh")],
        "the CR of CRLF does not count"
    );
    assert_eq!(
        every_split(FramingMode::Auto, max, b"abcdefgh"),
        [lf(b"abcdefgh")]
    );
    assert_eq!(
        every_split(FramingMode::Auto, max, b"abcdefghi\nok\n"),
        [Err(FrameError::Oversized { max }), lf(b"ok")]
    );
    assert_eq!(
        every_split(FramingMode::Auto, max, b"abcdefghi"),
        [Err(FrameError::Oversized { max })]
    );
    assert_eq!(
        every_split(FramingMode::Auto, max, b"abcdefgh\r"),
        [lf(b"abcdefgh")]
    );
    assert_eq!(
        every_split(FramingMode::OctetCounting, max, b"8 abcdefgh"),
        [oc(b"abcdefgh")]
    );
    assert_eq!(
        every_split(FramingMode::OctetCounting, max, b"9 abcdefghi\n8 abcdefgh"),
        [bad(BadCount::TooLarge, "9 "), oc(b"abcdefgh")]
    );
}

#[test]
fn octet_counted_frames_may_carry_trailing_newlines() {
    let got = every_split(FramingMode::OctetCounting, 100, b"6 hello\n\n6 world\n");
    assert_eq!(got, [oc(b"hello"), oc(b"world")]);
}

#[test]
fn non_utf8_bytes_pass_through_framing() {
    let got = every_split(FramingMode::Auto, 100, b"<13>caf\xe9\n4 \xff\xfe\x00\x01");
    assert_eq!(got, [lf(b"<13>caf\xe9"), oc(b"\xff\xfe\x00\x01")]);
}

#[test]
fn udp_datagram_is_one_message() {
    assert_eq!(datagram(b"<13>hi there\n"), Some(&b"<13>hi there"[..]));
    assert_eq!(datagram(b"<13>a\nb\r\n\0"), Some(&b"<13>a\nb"[..]));
    assert_eq!(datagram(b"\r\n\0"), None);
    assert_eq!(datagram(b""), None);
}

#[test]
fn error_kinds_for_metrics() {
    assert_eq!(FrameError::Oversized { max: 1 }.kind(), "oversized");
    assert_eq!(
        FrameError::Truncated {
            expected: None,
            received: 0
        }
        .kind(),
        "truncated"
    );
    let err = FrameError::BadOctetCount {
        reason: BadCount::Zero,
        header: "0 ".into(),
    };
    assert_eq!(err.kind(), "bad_octet_count");
    assert_eq!(err.to_string(), "bad octet count (zero): \"0 \"");
}
