//! The on-disk record framing and segment file naming.
//!
//! A record is `[u32 LE payload length][u32 LE crc32c(seq LE bytes ++ payload)][u64 LE seq]`
//! followed by the payload. A segment file is named after the first sequence it holds,
//! zero-padded to 20 digits, with the extension `.spool`.

/// Bytes of framing before each payload.
pub(crate) const HEADER_LEN: u64 = 16;

/// [`HEADER_LEN`] as a `usize`, for slicing.
pub(crate) const HEADER_USIZE: usize = 16;

/// Extension of segment files.
const SEGMENT_EXT: &str = ".spool";

/// The fixed-size header of a record, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Payload length in bytes.
    pub(crate) len: u32,
    /// The stored checksum.
    pub(crate) crc: u32,
    /// The record's sequence number.
    pub(crate) seq: u64,
}

impl Header {
    /// Decodes the 16 header bytes.
    pub(crate) fn decode(bytes: &[u8; HEADER_USIZE]) -> Self {
        let [l0, l1, l2, l3, c0, c1, c2, c3, s @ ..] = *bytes;
        Self {
            len: u32::from_le_bytes([l0, l1, l2, l3]),
            crc: u32::from_le_bytes([c0, c1, c2, c3]),
            seq: u64::from_le_bytes(s),
        }
    }

    /// Whether `payload` (of this header's record) matches the stored checksum.
    pub(crate) fn verifies(&self, payload: &[u8]) -> bool {
        checksum(self.seq, payload) == self.crc
    }
}

/// The checksum stored with a record: crc32c over the sequence's LE bytes then the payload.
pub(crate) fn checksum(seq: u64, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&seq.to_le_bytes()), payload)
}

/// Appends the framed record to `buf`. The caller has checked that the payload fits in `u32`.
pub(crate) fn encode_record(buf: &mut Vec<u8>, seq: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&checksum(seq, payload).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
}

/// Size on disk of a record with a payload of `len` bytes.
pub(crate) fn record_len(len: usize) -> u64 {
    HEADER_LEN + len as u64
}

/// The file name of the segment whose first record is `first_seq`.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}{SEGMENT_EXT}")
}

/// The first sequence named by a segment file name, or `None` if it is not one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut buf = Vec::new();
        encode_record(&mut buf, 42, b"hello");
        assert_eq!(buf.len() as u64, record_len(5));
        let mut head = [0u8; HEADER_USIZE];
        head.copy_from_slice(&buf[..HEADER_USIZE]);
        let h = Header::decode(&head);
        assert_eq!((h.len, h.seq), (5, 42));
        assert!(h.verifies(b"hello"));
        assert!(!h.verifies(b"hellp"));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(segment_name(7), "00000000000000000007.spool");
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("7.spool"), None);
        assert_eq!(parse_segment_name("0000000000000000000a.spool"), None);
        assert_eq!(parse_segment_name("00000000000000000007.tmp"), None);
    }
}
