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

    /// Bytes received and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, an error, or `None` until more bytes come. After a fatal
    /// error, always `None`.
    pub fn next(&mut self) -> Option<Result<Frame, FrameError>> {
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
