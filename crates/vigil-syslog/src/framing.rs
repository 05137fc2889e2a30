//! Splitting a syslog byte stream into messages (RFC 6587), without doing any I/O.
//!
//! A TCP (or TLS, RFC 5425) connection carries messages framed one of two ways:
//!
//! * **octet counting** (RFC 6587 3.4.1, the only framing RFC 5425 allows): `<len> <msg>`,
//!   where `<len>` is the decimal number of bytes of `<msg>`;
//! * **non-transparent framing** (RFC 6587 3.4.2): each message ends with LF. `CRLF` and a NUL
//!   byte are accepted as terminators too, as some senders use them.
//!
//! [`Decoder`] in [`FramingMode::Auto`] decides per message: a message that starts with a run
//! of ASCII digits followed by a space is octet-counted, anything else is LF-framed. (Syslog
//! messages begin with `<PRI>`, and a file-style line begins with a month name or an ISO date
//! such as `2026-…`, which is not "digits then space".)
//!
//! Feed bytes with [`Decoder::push`] as they arrive, take messages with [`Decoder::next`]
//! until it returns `None`, and at end of stream call [`Decoder::finish`] and drain
//! [`Decoder::next`] once more: a final message without terminator is still delivered, and an
//! octet-counted frame cut short is reported as [`FrameError::Truncated`]. The result never
//! depends on how the stream was split into chunks.
//!
//! Errors are values, never panics, and each one is also counted in [`FrameStats`]:
//!
//! | error | when | how the decoder resynchronises |
//! |---|---|---|
//! | [`FrameError::BadOctetCount`] `NotANumber` | strict [`FramingMode::OctetCounting`] and the frame does not start with `digits SP` | drops bytes through the next LF (or NUL) |
//! | [`FrameError::BadOctetCount`] `Zero` | the count is `0` | the frame (empty) is skipped; framing stays intact |
//! | [`FrameError::BadOctetCount`] `TooLarge` | the count exceeds the maximum message size | drops bytes through the next LF (or NUL) |
//! | [`FrameError::Oversized`] | an LF-framed message grows past the maximum size | drops bytes through the next LF (or NUL) |
//! | [`FrameError::Truncated`] | end of stream inside an octet-counted frame | — (end of stream) |
//!
//! Empty LF-framed messages (blank lines, `\r\n`, a NUL right after LF) are skipped silently;
//! so are LF, CR and NUL bytes between frames in strict octet-counting mode. In auto mode a
//! run of more than 24 digits is text, not a count (no real count is that long), and a bare
//! number at the end of the stream is a short LF-framed message.
//! Trailing `\n`, `\r` and NUL bytes are trimmed from every frame (also inside an
//! octet-counted frame, where some senders include the newline in the count).

use std::fmt;

use memchr::memchr2;

/// Default maximum message size in bytes: 64 KiB, enough for any UDP datagram.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// How a [`Decoder`] frames messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FramingMode {
    /// Per message: octet counting if the message starts with `digits SP`, otherwise LF.
    #[default]
    Auto,
    /// Octet counting only (RFC 5425 TLS, RFC 6587 3.4.1); anything else is an error.
    OctetCounting,
    /// LF (or CRLF, or NUL) terminated messages only (RFC 6587 3.4.2).
    NonTransparent,
}

/// How one frame was delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `<len> <msg>` (RFC 6587 3.4.1).
    OctetCounted,
    /// Terminated by LF, CRLF or NUL, or by the end of the stream (RFC 6587 3.4.2).
    NonTransparent,
}

/// One message cut from the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The message bytes, without the octet count and without trailing LF, CR and NUL bytes.
    pub data: Vec<u8>,
    /// How the message was delimited.
    pub framing: Framing,
}

/// What is wrong with an octet count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadCount {
    /// The frame did not start with decimal digits followed by a space.
    NotANumber,
    /// The count was zero.
    Zero,
    /// The count was larger than the maximum message size (or did not fit in 64 bits).
    TooLarge,
}

impl fmt::Display for BadCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BadCount::NotANumber => "not a number",
            BadCount::Zero => "zero",
            BadCount::TooLarge => "too large",
        })
    }
}

/// A framing error. The decoder has already resynchronised when it returns one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The octet count of a frame is not usable.
    #[error("bad octet count ({reason}): {header:?}")]
    BadOctetCount {
        /// What is wrong with it.
        reason: BadCount,
        /// The offending header text (lossy UTF-8, at most 24 bytes of it).
        header: String,
    },
    /// An LF-framed message exceeded the maximum size; the rest of it up to the next LF is
    /// dropped.
    #[error("message larger than the maximum of {max} bytes")]
    Oversized {
        /// The configured maximum message size.
        max: usize,
    },
    /// The stream ended inside an octet-counted frame (or inside its count).
    #[error("stream ended inside an octet-counted frame: {received} of {expected:?} bytes")]
    Truncated {
        /// The announced length, if the count itself was complete.
        expected: Option<usize>,
        /// How many bytes of the frame arrived.
        received: usize,
    },
}

impl FrameError {
    /// A short stable name for metrics labels: `bad_octet_count`, `oversized` or `truncated`.
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::BadOctetCount { .. } => "bad_octet_count",
            FrameError::Oversized { .. } => "oversized",
            FrameError::Truncated { .. } => "truncated",
        }
    }
}

/// Counters kept by a [`Decoder`] since it was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameStats {
    /// Frames delivered with octet counting.
    pub octet_counted: u64,
    /// Frames delivered with LF (CRLF, NUL, end-of-stream) framing.
    pub non_transparent: u64,
    /// [`FrameError::BadOctetCount`] errors.
    pub bad_octet_count: u64,
    /// [`FrameError::Oversized`] errors.
    pub oversized: u64,
    /// [`FrameError::Truncated`] errors.
    pub truncated: u64,
    /// Bytes dropped while resynchronising (not counting the frames reported as truncated).
    pub bytes_discarded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a message.
    Start,
    /// Octet count read; waiting for `len` bytes.
    Body { len: usize },
    /// LF framing; `scanned` bytes from the message start hold no terminator.
    Line { scanned: usize },
    /// Dropping bytes up to and including the next terminator.
    Discard,
}

/// The longest octet-count header looked at before giving up on it.
const MAX_HEADER: usize = 24;

/// A stateful, sans-I/O decoder of one syslog byte stream (one TCP or TLS connection).
///
/// ```
/// use vigil_syslog::framing::{Decoder, FramingMode};
///
/// let mut dec = Decoder::new(FramingMode::Auto, 1024);
/// dec.push(b"11 <13>hello a");
/// dec.push(b"\n<13>world\r\n<13>last");
/// let mut got = Vec::new();
/// while let Some(item) = dec.next() {
///     got.push(item.expect("valid frames").data);
/// }
/// dec.finish();
/// while let Some(item) = dec.next() {
///     got.push(item.expect("valid frames").data);
/// }
/// assert_eq!(got, [b"<13>hello a".to_vec(), b"<13>world".to_vec(), b"<13>last".to_vec()]);
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    mode: FramingMode,
    max: usize,
    buf: Vec<u8>,
    pos: usize,
    state: State,
    eof: bool,
    stats: FrameStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(FramingMode::Auto, DEFAULT_MAX_MESSAGE_SIZE)
    }
}

/// Trims trailing LF, CR and NUL bytes.
pub fn trim_trailer(mut data: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r' | 0] = data {
        data = rest;
    }
    data
}

/// The message in one UDP datagram (RFC 5426: one datagram is one message), with trailing
/// LF, CR and NUL bytes trimmed. Returns `None` for a datagram that is empty once trimmed.
pub fn datagram(bytes: &[u8]) -> Option<&[u8]> {
    let data = trim_trailer(bytes);
    (!data.is_empty()).then_some(data)
}

fn header_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_HEADER)]).into_owned()
}

impl Decoder {
    /// A decoder with the given framing mode and maximum message size in bytes (at least 1).
    pub fn new(mode: FramingMode, max_message_size: usize) -> Self {
        Decoder {
            mode,
            max: max_message_size.max(1),
            buf: Vec::new(),
            pos: 0,
            state: State::Start,
            eof: false,
            stats: FrameStats::default(),
        }
    }

    /// The maximum message size in bytes.
    pub fn max_message_size(&self) -> usize {
        self.max
    }

    /// The counters so far.
    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Appends bytes received from the stream. Call [`Decoder::next`] until it returns `None`
    /// after each push: that is what bounds the buffer to about the maximum message size.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && (self.pos == self.buf.len() || self.pos >= 4096) {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Marks the end of the stream. The following calls to [`Decoder::next`] deliver a final
    /// unterminated message or report a truncated octet-counted frame. Pushing more bytes
    /// after `finish` starts a new stream.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    /// Everything decoded from one complete stream, as a convenience for tests and files.
    pub fn decode_all(
        mode: FramingMode,
        max_message_size: usize,
        stream: &[u8],
    ) -> Vec<Result<Frame, FrameError>> {
        let mut dec = Decoder::new(mode, max_message_size);
        dec.push(stream);
        dec.finish();
        let mut out = Vec::new();
        while let Some(item) = dec.next() {
            out.push(item);
        }
        out
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn frame(&mut self, start: usize, end: usize, framing: Framing) -> Option<Frame> {
        let data = trim_trailer(&self.buf[start..end]);
        if data.is_empty() && framing == Framing::NonTransparent {
            return None;
        }
        match framing {
            Framing::OctetCounted => self.stats.octet_counted += 1,
            Framing::NonTransparent => self.stats.non_transparent += 1,
        }
        Some(Frame {
            data: data.to_vec(),
            framing,
        })
    }

    fn bad_count(&mut self, reason: BadCount, header: &[u8]) -> FrameError {
        self.stats.bad_octet_count += 1;
        FrameError::BadOctetCount {
            reason,
            header: header_text(header),
        }
    }

    /// Reads the octet count at the start of the pending bytes.
    /// `Ok(None)`: more bytes needed; `Ok(Some(..))`: decided.
    fn header(&mut self) -> Option<Result<(), FrameError>> {
        let pending = self.pending();
        let digits = pending.iter().take_while(|b| b.is_ascii_digit()).count();
        let strict = self.mode == FramingMode::OctetCounting;
        if digits > MAX_HEADER {
            // Far too long for a count: an error in strict mode, text otherwise.
            if strict {
                let header = pending[..MAX_HEADER].to_vec();
                let err = self.bad_count(BadCount::TooLarge, &header);
                self.state = State::Discard;
                return Some(Err(err));
            }
            self.state = State::Line { scanned: 0 };
            return Some(Ok(()));
        }
        if digits == pending.len() {
            // No delimiter yet.
            if !self.eof {
                return None;
            }
            if strict {
                let received = pending.len();
                self.pos = self.buf.len();
                self.stats.truncated += 1;
                return Some(Err(FrameError::Truncated {
                    expected: None,
                    received,
                }));
            }
            self.state = State::Line { scanned: 0 };
            return Some(Ok(()));
        }
        if digits == 0 || pending[digits] != b' ' {
            if strict {
                // Report the header up to its space (or LF), waiting a little for it.
                let window = &pending[..pending.len().min(MAX_HEADER)];
                let header = match window.iter().position(|&b| matches!(b, b' ' | b'\n' | 0)) {
                    Some(k) => window[..=k].to_vec(),
                    None if self.eof || window.len() == MAX_HEADER => window.to_vec(),
                    None => return None,
                };
                let err = self.bad_count(BadCount::NotANumber, &header);
                self.state = State::Discard;
                return Some(Err(err));
            }
            self.state = State::Line { scanned: 0 };
            return Some(Ok(()));
        }
        let header = pending[..=digits].to_vec();
        let count = pending[..digits].iter().try_fold(0u64, |acc, &b| {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        });
        self.pos += digits + 1;
        match count {
            Some(0) => {
                self.state = State::Start;
                Some(Err(self.bad_count(BadCount::Zero, &header)))
            }
            Some(n) if n <= self.max as u64 => {
                self.state = State::Body { len: n as usize };
                Some(Ok(()))
            }
            _ => {
                self.state = State::Discard;
                Some(Err(self.bad_count(BadCount::TooLarge, &header)))
            }
        }
    }

    /// The next frame or error, or `None` when more bytes are needed (or, after
    /// [`Decoder::finish`], when the stream is exhausted).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<Result<Frame, FrameError>> {
        loop {
            match self.state {
                State::Discard => {
                    let pending = self.pending();
                    match memchr2(b'\n', 0, pending) {
                        Some(i) => {
                            self.stats.bytes_discarded += i as u64 + 1;
                            self.pos += i + 1;
                            self.state = State::Start;
                        }
                        None => {
                            self.stats.bytes_discarded += pending.len() as u64;
                            self.pos = self.buf.len();
                            if self.eof {
                                self.state = State::Start;
                            }
                            return None;
                        }
                    }
                }
                State::Start => {
                    let &first = self.pending().first()?;
                    match self.mode {
                        FramingMode::OctetCounting if matches!(first, b'\n' | b'\r' | 0) => {
                            // Some senders end octet-counted frames with a newline as well.
                            self.pos += 1;
                        }
                        FramingMode::NonTransparent => self.state = State::Line { scanned: 0 },
                        FramingMode::Auto if !first.is_ascii_digit() => {
                            self.state = State::Line { scanned: 0 }
                        }
                        _ => match self.header()? {
                            Ok(()) => {}
                            Err(err) => return Some(Err(err)),
                        },
                    }
                }
                State::Body { len } => {
                    let available = self.buf.len() - self.pos;
                    if available >= len {
                        let start = self.pos;
                        self.pos += len;
                        self.state = State::Start;
                        if let Some(frame) = self.frame(start, start + len, Framing::OctetCounted) {
                            return Some(Ok(frame));
                        }
                    } else if self.eof {
                        self.pos = self.buf.len();
                        self.state = State::Start;
                        self.stats.truncated += 1;
                        return Some(Err(FrameError::Truncated {
                            expected: Some(len),
                            received: available,
                        }));
                    } else {
                        return None;
                    }
                }
                State::Line { scanned } => {
                    let pending = &self.buf[self.pos..];
                    match memchr2(b'\n', 0, &pending[scanned..]) {
                        Some(i) => {
                            let end = scanned + i;
                            let start = self.pos;
                            self.pos += end + 1;
                            self.state = State::Start;
                            let line = &self.buf[start..start + end];
                            let content = match line {
                                [rest @ .., b'\r'] => rest.len(),
                                _ => line.len(),
                            };
                            if content > self.max {
                                self.stats.oversized += 1;
                                self.stats.bytes_discarded += end as u64 + 1;
                                return Some(Err(FrameError::Oversized { max: self.max }));
                            }
                            if let Some(frame) =
                                self.frame(start, start + end, Framing::NonTransparent)
                            {
                                return Some(Ok(frame));
                            }
                        }
                        None => {
                            let len = pending.len();
                            // One byte of slack: the last one may be the CR of a CRLF.
                            if len > self.max + 1
                                || (len == self.max + 1 && pending[len - 1] != b'\r')
                            {
                                self.stats.oversized += 1;
                                self.state = State::Discard;
                                return Some(Err(FrameError::Oversized { max: self.max }));
                            }
                            if self.eof {
                                let start = self.pos;
                                self.pos = self.buf.len();
                                self.state = State::Start;
                                // (At most max bytes, or max + 1 ending in CR.)
                                return self
                                    .frame(start, start + len, Framing::NonTransparent)
                                    .map(Ok);
                            }
                            self.state = State::Line { scanned: len };
                            return None;
                        }
                    }
                }
            }
        }
    }
}

/// Decodes `data` as one stream, split into chunks whose sizes are taken from `data` itself,
/// and checks that the result equals decoding it in one piece. Panics only on a decoder bug;
/// this is the body of the `framing` fuzz target.
pub fn fuzz_framing(data: &[u8]) {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let mode = match selector % 3 {
        0 => FramingMode::Auto,
        1 => FramingMode::OctetCounting,
        _ => FramingMode::NonTransparent,
    };
    let max = 1 + usize::from(selector >> 2);
    let whole = Decoder::decode_all(mode, max, stream);
    let mut dec = Decoder::new(mode, max);
    let mut pieces = Vec::new();
    let mut rest = stream;
    let mut i = 0usize;
    while !rest.is_empty() {
        // Chunk sizes 1..=7 driven by the data, so every split point gets exercised.
        let size = (usize::from(rest[0]) + i) % 7 + 1;
        let (chunk, tail) = rest.split_at(size.min(rest.len()));
        dec.push(chunk);
        while let Some(item) = dec.next() {
            pieces.push(item);
        }
        assert!(
            dec.buffered() <= max + MAX_HEADER + 8,
            "decoder buffer grew past the maximum message size"
        );
        rest = tail;
        i += 1;
    }
    dec.finish();
    while let Some(item) = dec.next() {
        pieces.push(item);
    }
    assert_eq!(
        whole, pieces,
        "chunked decoding differs from whole decoding"
    );
    for frame in whole.iter().flatten() {
        assert!(frame.data.len() <= max, "frame larger than the maximum");
    }
}
