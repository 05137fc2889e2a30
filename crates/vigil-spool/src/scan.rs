//! Indexing a segment's bytes when the spool is opened: every record that verifies, in order,
//! resynchronising past damaged ranges in the middle; a bad frame with nothing valid after it
//! in the last segment is a torn tail.

use crate::format::{HEADER_USIZE, Header};

/// A damaged range in the middle of a segment: bytes `from..to` hold no record that verifies,
/// and the next record starts at `to` (or the segment ends there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Damage {
    /// First damaged byte.
    pub(crate) from: u64,
    /// End of the damaged bytes.
    pub(crate) to: u64,
    /// The sequences that were in it, inclusive (`None` if none were: bytes inserted between
    /// records). At the end of a segment that is not the last, an upper bound.
    pub(crate) lost: Option<(u64, u64)>,
    /// Why the frame at `from` did not verify.
    pub(crate) reason: String,
}

/// What scanning a segment found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// For each sequence from the segment's first: its record's offset or, for a sequence lost
    /// to damage, the offset where the damaged range starts.
    pub(crate) offsets: Vec<u64>,
    /// Damaged ranges skipped, in file order.
    pub(crate) damage: Vec<Damage>,
    /// End of the last record (a torn tail follows, if `torn`).
    pub(crate) end: u64,
    /// Why the frame at `end` did not verify, if it starts a torn tail.
    pub(crate) torn: Option<String>,
}

/// A record that verifies but does not have the sequence expected where it stands: never a torn
/// write nor a flipped bit, so the spool refuses to guess.
#[derive(Debug)]
pub(crate) struct Misnumbered {
    /// Its offset.
    pub(crate) offset: u64,
    /// Its sequence and the one expected.
    pub(crate) reason: String,
}

/// Verifies the frame at `pos`: a whole header, the payload it claims within `bytes`, the
/// checksum. Returns its header and length on disk, or why not.
fn frame_at(bytes: &[u8], pos: usize) -> Result<(Header, usize), String> {
    let rest = bytes.get(pos..).unwrap_or_default();
    let Some(head) = rest.first_chunk::<HEADER_USIZE>() else {
        return Err(format!("incomplete header ({} bytes)", rest.len()));
    };
    let h = Header::decode(head);
    let Some(payload) = rest[HEADER_USIZE..].get(..h.len as usize) else {
        return Err(format!(
            "incomplete record: {} payload bytes claimed, {} present",
            h.len,
            rest.len() - HEADER_USIZE
        ));
    };
    if !h.verifies(payload) {
        return Err("checksum mismatch".to_owned());
    }
    Ok((h, HEADER_USIZE + payload.len()))
}

/// Scans the bytes of the segment whose first sequence is `first`. `next_first` is the first
/// sequence of the next segment, `None` for the last one, whose bad frame with nothing valid
/// after it is a torn tail; elsewhere it is damage reaching the end of the segment.
pub(crate) fn scan(bytes: &[u8], first: u64, next_first: Option<u64>) -> Result<Scan, Misnumbered> {
    let mut offsets = Vec::new();
    let mut damage = Vec::new();
    let mut pos = 0usize;
    let mut end = 0usize;
    while pos < bytes.len() {
        let expected = first + offsets.len() as u64;
        let reason = match frame_at(bytes, pos) {
            Ok((h, len)) if h.seq == expected => {
                offsets.push(pos as u64);
                pos += len;
                end = pos;
                continue;
            }
            Ok((h, _)) => {
                return Err(Misnumbered {
                    offset: pos as u64,
                    reason: format!("sequence {} where {expected} was expected", h.seq),
                });
            }
            Err(reason) => reason,
        };
        match (resync(bytes, pos, expected, next_first), next_first) {
            (Some((to, seq)), _) => {
                debug_assert!(seq >= expected && to > pos);
                offsets.extend(std::iter::repeat_n(pos as u64, (seq - expected) as usize));
                damage.push(Damage {
                    from: pos as u64,
                    to: to as u64,
                    lost: (seq > expected).then(|| (expected, seq - 1)),
                    reason,
                });
                pos = to;
            }
            (None, Some(next)) => {
                // Up to the end: the sequences up to the next segment are a gap (some may
                // have been cut off with the bytes, so no count of them holds).
                damage.push(Damage {
                    from: pos as u64,
                    to: bytes.len() as u64,
                    lost: (next > expected).then(|| (expected, next - 1)),
                    reason,
                });
                break;
            }
            (None, None) => {
                return Ok(Scan {
                    offsets,
                    damage,
                    end: end as u64,
                    torn: Some(reason),
                });
            }
        }
    }
    Ok(Scan {
        offsets,
        damage,
        end: end as u64,
        torn: None,
    })
}

/// The first offset after the bad frame at `bad` where a record verifies that can follow it:
/// numbered at least `expected`, below `next_first`, and no further past `expected` than
/// records fit in the bytes skipped. Returns that offset and the record's sequence.
fn resync(
    bytes: &[u8],
    bad: usize,
    expected: u64,
    next_first: Option<u64>,
) -> Option<(usize, u64)> {
    (bad + 1..bytes.len()).find_map(|at| {
        let (h, _) = frame_at(bytes, at).ok()?;
        let room = ((at - bad) / HEADER_USIZE) as u64;
        let follows =
            h.seq >= expected && h.seq - expected <= room && next_first.is_none_or(|n| h.seq < n);
        follows.then_some((at, h.seq))
    })
}
