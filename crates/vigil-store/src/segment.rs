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
    let mut header = [0u8; HEADER_LEN as usize];
    header[..8].copy_from_slice(MAGIC);
    header[8..].copy_from_slice(&base.to_le_bytes());
    file.write_all(&header)
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
    /// Length of the valid prefix (header plus whole, checksummed records).
    pub valid_len: u64,
    /// Length of the file.
    pub file_len: u64,
}

/// Reads every whole, checksummed record of a segment in order, calling `each(offset, payload)`,
/// and stops at the first torn or damaged frame. A file with a bad header has no valid prefix.
pub(crate) fn scan(path: &Path, mut each: impl FnMut(u64, &[u8])) -> Result<Scan, StoreError> {
    let bytes = std::fs::read(path).map_err(StoreError::io("read segment", path))?;
    let file_len = bytes.len() as u64;
    if bytes.get(..8) != Some(MAGIC.as_slice()) || bytes.len() < HEADER_LEN as usize {
        return Ok(Scan {
            valid_len: 0,
            file_len,
        });
    }
    let mut pos = HEADER_LEN as usize;
    while let Some(frame) = bytes.get(pos..pos + FRAME_LEN) {
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
        let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let start = pos + FRAME_LEN;
        let payload = match bytes.get(start..start + len) {
            Some(p) if len <= MAX_RECORD && crc32c::crc32c(p) == crc => p,
            _ => break,
        };
        each(pos as u64, payload);
        pos = start + len;
    }
    Ok(Scan {
        valid_len: pos as u64,
        file_len,
    })
}

/// Reads the payload of the record framed at `offset`, verifying its checksum.
pub(crate) fn read_record(file: &File, path: &Path, offset: u64) -> Result<Vec<u8>, StoreError> {
    let mut frame = [0u8; FRAME_LEN];
    file.read_exact_at(&mut frame, offset)
        .map_err(StoreError::io("read record", path))?;
    let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]) as usize;
    let crc = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let corrupt = |reason: &str| StoreError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.to_string(),
    };
    if len > MAX_RECORD {
        return Err(corrupt("length field out of range"));
    }
    let mut payload = vec![0u8; len];
    file.read_exact_at(&mut payload, offset + FRAME_LEN as u64)
        .map_err(StoreError::io("read record", path))?;
    if crc32c::crc32c(&payload) != crc {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(payload)
}
