//! Segment files: a 16-byte header (`VIGILSG1` + base record number), then framed records
//! `[length u32 LE][crc32c u32 LE][payload]`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::StoreError;

const MAGIC: &[u8; 8] = b"VIGILSG1";
/// Bytes before the first record.
pub(crate) const HEADER_LEN: u64 = 16;
/// Bytes of framing before each payload.
pub(crate) const FRAME_LEN: usize = 8;
/// Largest payload accepted; anything larger in a length field is damage.
pub(crate) const MAX_RECORD: usize = 16 << 20;

/// `<dir>/<base>.seg`, zero-padded so names sort in record order.
pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.seg"))
}

/// `<dir>/<base>.idx`, the sealed segment's index.
pub(crate) fn sidecar_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.idx"))
}

/// The base record numbers of the segments in `dir`, ascending.
pub(crate) fn list(dir: &Path) -> Result<Vec<u64>, StoreError> {
    let mut bases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(StoreError::io("list", dir))? {
        let entry = entry.map_err(StoreError::io("list", dir))?;
        let name = entry.file_name();
        let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".seg")) else {
            continue;
        };
        if let Ok(base) = stem.parse::<u64>() {
            bases.push(base);
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Makes a directory entry durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("sync directory", dir))
}

/// The header of the segment whose first record is numbered `base`.
fn header(base: u64) -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..].copy_from_slice(&base.to_le_bytes());
    header
}

/// Writes a damaged segment header again, durably.
pub(crate) fn repair_header(dir: &Path, base: u64) -> Result<(), StoreError> {
    let path = segment_path(dir, base);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|file| {
            file.write_all_at(&header(base), 0)?;
            file.sync_all()
        })
        .map_err(StoreError::io("repair segment header", &path))
}

/// Creates a new empty segment and makes it durable, directory entry included. A file left at
/// that name by a crash (or a failed earlier attempt) without a valid header is reused; one with
/// a header is never overwritten.
pub(crate) fn create(dir: &Path, base: u64) -> Result<File, StoreError> {
    let path = segment_path(dir, base);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .append(true)
        .open(&path)
        .map_err(StoreError::io("create segment", &path))?;
    let len = file
        .metadata()
        .map_err(StoreError::io("stat segment", &path))?
        .len();
    if len >= HEADER_LEN {
        let mut head = [0u8; 8];
        file.read_exact_at(&mut head, 0)
            .map_err(StoreError::io("read segment header", &path))?;
        if &head == MAGIC {
            return Err(StoreError::Io {
                action: "create segment",
                path,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "a segment with this base already exists",
                ),
            });
        }
    }
    file.set_len(0)
        .map_err(StoreError::io("reset leftover segment", &path))?;
    file.write_all(&header(base))
        .and_then(|()| file.sync_all())
        .map_err(StoreError::io("write segment header", &path))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Appends one framed record to `buf`.
pub(crate) fn frame(payload: &[u8], buf: &mut Vec<u8>) {
    buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    buf.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    buf.extend_from_slice(payload);
}

/// What a scan of a segment found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// End of the last whole, checksummed record (the header's end if there is none); what
    /// follows is a torn tail.
    pub valid_len: u64,
    /// Length of the file.
    pub file_len: u64,
}

/// A damaged range in the middle of a segment: bytes `from..to` hold no readable record and a
/// well-formed record starts at `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Damage {
    pub from: u64,
    pub to: u64,
    /// Records lost, when known: one when the damaged frame's length field still leads exactly
    /// to the next record (a flipped bit in a checksum or payload).
    pub records: Option<u64>,
}

/// One step of a scan, in file order.
pub(crate) enum Item<'a> {
    /// A whole, checksummed record.
    Record { offset: u64, payload: &'a [u8] },
    /// A damaged range skipped to reach the next well-formed record.
    Damage(Damage),
}

/// The length and checksum fields of a frame header.
fn frame_fields(frame: [u8; FRAME_LEN]) -> (usize, u32) {
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    (len, crc)
}

/// The length and checksum fields of the frame at `pos` in `bytes`.
fn fields_at(bytes: &[u8], pos: usize) -> Option<(usize, u32)> {
    let frame = bytes.get(pos..pos.checked_add(FRAME_LEN)?)?;
    Some(frame_fields(frame.try_into().ok()?))
}

/// The payload of the record framed at `pos` in `bytes`, if its length is plausible and its
/// checksum matches.
pub(crate) fn frame_at(bytes: &[u8], pos: usize) -> Option<&[u8]> {
    let (len, crc) = fields_at(bytes, pos)?;
    if len > MAX_RECORD {
        return None;
    }
    let start = pos + FRAME_LEN;
    let payload = bytes.get(start..start + len)?;
    (crc32c::crc32c(payload) == crc).then_some(payload)
}

/// Reads a segment in order, calling `each` with every whole, checksummed record (which it
/// accepts by returning `true`, or refuses as damaged, say because it does not decode) and with
/// every damaged range. After a bad frame it resynchronises on the next offset where a frame
/// passes its checksum and `well_formed`; a bad frame with nothing valid after it is a torn
/// tail and ends the scan. A damaged header is a damaged range from byte 0; with nothing valid
/// after it, the file has no valid prefix (`valid_len` 0).
pub(crate) fn scan(
    path: &Path,
    well_formed: impl Fn(&[u8]) -> bool,
    mut each: impl FnMut(Item<'_>) -> bool,
) -> Result<Scan, StoreError> {
    let bytes = std::fs::read(path).map_err(StoreError::io("read segment", path))?;
    let header_ok = bytes.len() >= HEADER_LEN as usize && bytes.get(..8) == Some(MAGIC.as_slice());
    let mut pos = HEADER_LEN as usize;
    let mut valid_len = if header_ok { pos } else { 0 };
    // A damaged range being skipped: where it starts, where to look for the next record.
    let mut damaged = (!header_ok).then_some((0, pos));
    loop {
        if let Some((from, search)) = damaged.take() {
            let found =
                (search..bytes.len()).find(|&q| frame_at(&bytes, q).is_some_and(&well_formed));
            let Some(next) = found else { break };
            let records = if from == 0 {
                (next == HEADER_LEN as usize).then_some(0)
            } else {
                stated_end(&bytes, from)
                    .is_some_and(|end| end == next)
                    .then_some(1)
            };
            each(Item::Damage(Damage {
                from: from as u64,
                to: next as u64,
                records,
            }));
            pos = next;
        }
        if pos >= bytes.len() {
            break;
        }
        if let Some(payload) = frame_at(&bytes, pos) {
            let offset = pos as u64;
            if each(Item::Record { offset, payload }) {
                pos += FRAME_LEN + payload.len();
                valid_len = pos;
                continue;
            }
        }
        damaged = Some((pos, pos + 1));
    }
    Ok(Scan {
        valid_len: valid_len as u64,
        file_len: bytes.len() as u64,
    })
}

/// Where the frame at `pos` says it ends, whether or not its checksum matches.
fn stated_end(bytes: &[u8], pos: usize) -> Option<usize> {
    (pos + FRAME_LEN).checked_add(fields_at(bytes, pos)?.0)
}

/// Reads the payload of the record framed at `offset`, verifying its checksum; `None` if the
/// frame is damaged (a length out of range or past the end of the file, a checksum mismatch).
pub(crate) fn read_record(
    file: &File,
    path: &Path,
    offset: u64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let damaged = |e: &std::io::Error| e.kind() == std::io::ErrorKind::UnexpectedEof;
    let mut frame = [0u8; FRAME_LEN];
    match file.read_exact_at(&mut frame, offset) {
        Err(e) if damaged(&e) => return Ok(None),
        result => result.map_err(StoreError::io("read record", path))?,
    }
    let (len, crc) = frame_fields(frame);
    if len > MAX_RECORD {
        return Ok(None);
    }
    let mut payload = vec![0u8; len];
    match file.read_exact_at(&mut payload, offset + FRAME_LEN as u64) {
        Err(e) if damaged(&e) => return Ok(None),
        result => result.map_err(StoreError::io("read record", path))?,
    }
    Ok((crc32c::crc32c(&payload) == crc).then_some(payload))
}
