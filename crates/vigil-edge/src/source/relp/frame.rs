//! RELP frames (librelp's protocol, spoken by rsyslog's `omrelp`): `TXNR SP COMMAND SP
//! DATALEN [SP DATA] LF`. The decoder is pure and never panics: bytes go in, frames or errors
//! naming what is wrong and where come out. A frame whose data is longer than the limit is
//! refused on its own (its bytes skipped, the stream stays usable); a malformed header or
//! trailer ends the stream, since nothing after it can be trusted to start a frame.

/// Highest transaction number; the sender's next one after it is 1.
pub const MAX_TXNR: u32 = 999_999_999;
/// Longest header: 9-digit txnr, 32-letter command, 9-digit length and their separators.
const MAX_HEADER: usize = 9 + 1 + 32 + 1 + 9 + 1;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Transaction number (1 to [`MAX_TXNR`]; 0 only in server-initiated frames).
    pub txnr: u32,
    /// Command (`open`, `syslog`, `close`, ...), lower-case ASCII letters and `_`.
    pub command: String,
    /// The frame's data.
    pub data: Vec<u8>,
}

/// Why input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The header is not `TXNR SP COMMAND SP DATALEN`; the stream cannot be resynchronised.
    #[error("malformed RELP header at byte {offset} of the stream: {what}")]
    Malformed {
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The data does not end with LF; the stream cannot be resynchronised.
    #[error("RELP frame {txnr} at byte {offset} of the stream: no LF after its {len} data bytes")]
    NoTrailer {
        /// The frame's transaction number.
        txnr: u32,
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// Its data length.
        len: usize,
    },
    /// The data is longer than the limit: this frame is refused, its bytes skipped.
    #[error(
        "RELP frame {txnr} at byte {offset} of the stream: {len} data bytes, more than the {max} allowed"
    )]
    Oversized {
        /// The frame's transaction number (answered with a 500).
        txnr: u32,
        /// Stream offset of the frame's first byte.
        offset: u64,
        /// Its data length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl FrameError {
    /// Whether the stream must end after this error.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, FrameError::Oversized { .. })
    }
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    offset: u64,
    max_data: usize,
    /// Bytes of an oversized frame (data and trailer) still to drop.
    skip: usize,
    failed: bool,
}

impl Decoder {
    /// A decoder refusing frames with more than `max_data` data bytes.
    pub fn new(max_data: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            offset: 0,
            max_data,
            skip: 0,
            failed: false,
        }
    }

    /// Adds received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        let dropped = self.skip.min(bytes.len());
        self.skip -= dropped;
        self.offset += dropped as u64;
        if let Some(rest) = bytes.get(dropped..) {
            self.buf.extend_from_slice(rest);
        }
    }

    fn decode(&mut self) -> Option<Result<Frame, FrameError>> {
        let offset = self.offset;
        let malformed = |what| Some(Err(FrameError::Malformed { offset, what }));
        let head = match parse_header(&self.buf) {
            Header::Incomplete if self.buf.len() > MAX_HEADER => {
                return malformed("no complete header within its longest possible size");
            }
            Header::Incomplete => return None,
            Header::Bad(what) => return malformed(what),
            Header::Done(head) => head,
        };
        if head.len > self.max_data {
            // Drop the header and what is here of the data and its LF; skip the rest later.
            let whole = head.start.saturating_add(head.len).saturating_add(1);
            let here = whole.min(self.buf.len());
            self.buf.drain(..here);
            self.offset += here as u64;
            self.skip = whole - here;
            return Some(Err(FrameError::Oversized {
                txnr: head.txnr,
                offset,
                len: head.len,
                max: self.max_data,
            }));
        }
        let end = head.start + head.len;
        let trailer = self.buf.get(end)?;
        if *trailer != b'\n' {
            return Some(Err(FrameError::NoTrailer {
                txnr: head.txnr,
                offset,
                len: head.len,
            }));
        }
        let data = self.buf.get(head.start..end).unwrap_or_default().to_vec();
        self.buf.drain(..=end);
        self.offset += (end + 1) as u64;
        Some(Ok(Frame {
            txnr: head.txnr,
            command: head.command,
            data,
        }))
    }
}

impl Iterator for Decoder {
    type Item = Result<Frame, FrameError>;

    /// The next complete frame, an error, or `None` until more bytes come. After a fatal
    /// error, always `None`.
    fn next(&mut self) -> Option<Result<Frame, FrameError>> {
        if self.failed {
            return None;
        }
        let result = self.decode()?;
        if let Err(e) = &result
            && e.is_fatal()
        {
            self.failed = true;
            self.buf = Vec::new();
        }
        Some(result)
    }
}

/// A parsed header: where its data starts and how long it is.
struct Head {
    txnr: u32,
    command: String,
    len: usize,
    start: usize,
}

enum Header {
    Incomplete,
    Bad(&'static str),
    Done(Head),
}

/// Reads `digits SP`-style numbers of at most 9 digits.
fn number(bytes: &[u8], what: &'static str) -> Result<Option<(u32, usize)>, &'static str> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 9 {
        return Err(what);
    }
    if digits == bytes.len() {
        return Ok(None);
    }
    if digits == 0 {
        return Err(what);
    }
    let mut n = 0u32;
    for b in bytes.iter().take(digits) {
        n = n * 10 + u32::from(b - b'0');
    }
    Ok(Some((n, digits)))
}

fn parse_header(buf: &[u8]) -> Header {
    let txnr = match number(buf, "the transaction number is not 1 to 9 digits") {
        Err(what) => return Header::Bad(what),
        Ok(None) => return Header::Incomplete,
        Ok(Some(n)) => n,
    };
    let (txnr, mut at) = txnr;
    if buf.get(at) != Some(&b' ') {
        return Header::Bad("no space after the transaction number");
    }
    at += 1;
    let rest = buf.get(at..).unwrap_or_default();
    let letters = rest
        .iter()
        .take_while(|b| b.is_ascii_lowercase() || **b == b'_')
        .count();
    if letters == rest.len() {
        return match letters > 32 {
            true => Header::Bad("the command is longer than 32 letters"),
            false => Header::Incomplete,
        };
    }
    if letters == 0 || letters > 32 {
        return Header::Bad("the command is not 1 to 32 lower-case letters");
    }
    let command = String::from_utf8_lossy(rest.get(..letters).unwrap_or_default()).into_owned();
    at += letters;
    if buf.get(at) != Some(&b' ') {
        return Header::Bad("no space after the command");
    }
    at += 1;
    let (len, digits) = match number(
        buf.get(at..).unwrap_or_default(),
        "the data length is not 1 to 9 digits",
    ) {
        Err(what) => return Header::Bad(what),
        Ok(None) => return Header::Incomplete,
        Ok(Some(n)) => n,
    };
    at += digits;
    let len = len as usize;
    match buf.get(at) {
        Some(b' ') => {}
        // No data: the LF may follow the length directly.
        Some(b'\n') if len == 0 => {}
        _ => return Header::Bad("no space after the data length"),
    }
    let start = match buf.get(at) {
        Some(b' ') => at + 1,
        _ => at,
    };
    Header::Done(Head {
        txnr,
        command,
        len,
        start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(decoder: &mut Decoder) -> Vec<Result<Frame, FrameError>> {
        std::iter::from_fn(|| decoder.next()).collect()
    }

    fn frame(txnr: u32, command: &str, data: &[u8]) -> Frame {
        Frame {
            txnr,
            command: command.into(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn frames_as_rsyslog_sends_them() {
        let mut d = Decoder::new(1024);
        d.push(b"1 open 46 relp_version=0\nrelp_software=x\ncommands=syslog\n2 syslog 10 <13>hello\n\n3 close 0\n");
        assert_eq!(
            all(&mut d),
            vec![
                Ok(frame(
                    1,
                    "open",
                    b"relp_version=0\nrelp_software=x\ncommands=syslog"
                )),
                Ok(frame(2, "syslog", b"<13>hello\n")),
                Ok(frame(3, "close", b"")),
            ]
        );
        let mut d = Decoder::new(1024);
        d.push(b"4 close 0 \n");
        assert_eq!(
            all(&mut d),
            vec![Ok(frame(4, "close", b""))],
            "a space before the LF of empty data"
        );
    }

    #[test]
    fn a_frame_cut_anywhere_waits_for_the_rest() {
        let bytes = b"17 syslog 5 hello\n";
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(64);
            d.push(&bytes[..cut]);
            assert_eq!(d.next(), None, "cut at {cut}");
            d.push(&bytes[cut..]);
            assert_eq!(d.next(), Some(Ok(frame(17, "syslog", b"hello"))));
        }
    }

    #[test]
    fn an_oversized_frame_is_refused_alone() {
        let mut d = Decoder::new(4);
        d.push(b"5 syslog 10 0123");
        assert_eq!(
            d.next(),
            Some(Err(FrameError::Oversized {
                txnr: 5,
                offset: 0,
                len: 10,
                max: 4
            }))
        );
        d.push(b"456789\n6 syslog 2 ok\n");
        assert_eq!(
            all(&mut d),
            vec![Ok(frame(6, "syslog", b"ok"))],
            "the stream goes on"
        );
        let mut d = Decoder::new(4);
        d.push(b"7 syslog 999999999 ");
        assert!(matches!(
            d.next(),
            Some(Err(FrameError::Oversized {
                len: 999_999_999,
                ..
            }))
        ));
    }

    #[test]
    fn malformed_input_ends_the_stream_with_where_and_what() {
        let cases: [(&[u8], &str); 7] = [
            (b"x syslog 1 a\n", "transaction number"),
            (b"1234567890 syslog 1 a\n", "transaction number"),
            (b"1 SYSLOG 1 a\n", "command"),
            (b"1 syslog x\n", "data length"),
            (b"1 syslog 1x a\n", "no space after the data length"),
            (b"1 syslogsyslogsyslogsyslogsyslogsyslog 1 a\n", "1 to 32"),
            (b"1  syslog 1 a\n", "command"),
        ];
        for (bytes, what) in cases {
            let mut d = Decoder::new(64);
            d.push(bytes);
            let e = d.next().expect("an error").expect_err("malformed");
            assert!(e.is_fatal());
            assert!(e.to_string().contains(what), "{e} should say {what}");
            assert!(e.to_string().contains("byte 0"), "{e}");
            assert_eq!(d.next(), None, "nothing after a fatal error");
        }
        let mut d = Decoder::new(64);
        d.push(b"1 syslog 1 a\n2 syslog 1 bX");
        assert_eq!(d.next(), Some(Ok(frame(1, "syslog", b"a"))));
        assert_eq!(
            d.next(),
            Some(Err(FrameError::NoTrailer {
                txnr: 2,
                offset: 13,
                len: 1
            }))
        );
    }

    proptest! {
        #[test]
        fn hostile_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16)) {
            let mut d = Decoder::new(32);
            for chunk in &chunks {
                d.push(chunk);
                for f in d.by_ref().flatten() {
                    prop_assert!(f.data.len() <= 32);
                }
            }
        }

        #[test]
        fn frames_come_out_as_they_went_in_however_cut(
            frames in proptest::collection::vec((1u32..=MAX_TXNR, "[a-z]{1,32}", proptest::collection::vec(any::<u8>(), 0..40)), 1..8),
            cuts in proptest::collection::vec(0usize..400, 0..6),
        ) {
            let mut bytes = Vec::new();
            for (txnr, command, data) in &frames {
                bytes.extend_from_slice(format!("{txnr} {command} {} ", data.len()).as_bytes());
                bytes.extend_from_slice(data);
                bytes.push(b'\n');
            }
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut d = Decoder::new(64);
            let mut out = Vec::new();
            let mut at = 0;
            for cut in cuts.into_iter().chain([bytes.len()]) {
                d.push(&bytes[at..cut]);
                at = cut;
                out.extend(std::iter::from_fn(|| d.next()));
            }
            let expected: Vec<_> = frames.iter().map(|(t, c, data)| Ok(frame(*t, c, data))).collect();
            prop_assert_eq!(out, expected);
        }
    }
}
