//! Small state files kept beside the store (the correlation snapshot, the bus sequence book):
//! replaced whole with a checksum trailer, read back verified. A damaged one is moved to a
//! quarantine directory beside it and described as a [`Corruption`], and its owner rebuilds
//! what it held from the store.

use std::path::Path;

use tracing::error;

use crate::Corruption;

/// `\ncrc32c ` + 8 hex digits + `\n`.
const TRAILER_LEN: usize = 17;
const TAG: &[u8] = b"\ncrc32c ";

/// What reading a state file found.
#[derive(Debug)]
pub enum StateFile<T> {
    /// There is none.
    Missing,
    /// It verified and parsed.
    Valid(T),
    /// It was damaged: moved to the quarantine, as described.
    Damaged(Corruption),
}

/// Replaces `path` with `payload` and its checksum trailer, durably ([`crate::replace_file`]).
pub fn write_state(path: &Path, payload: &[u8]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(payload.len() + TRAILER_LEN);
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(format!("\ncrc32c {:08x}\n", crc32c::crc32c(payload)).as_bytes());
    debug_assert_eq!(bytes.len(), payload.len() + TRAILER_LEN);
    crate::replace_file(path, &bytes)
}

/// Reads a state file written by [`write_state`] and parses its payload. One that fails its
/// checksum or does not parse is quarantined. A file without a trailer (written before state
/// files had one) is parsed whole.
pub fn read_state<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> std::io::Result<StateFile<T>> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StateFile::Missing),
        Err(e) => return Err(e),
    };
    let parsed = verified(&bytes).and_then(parse);
    match parsed {
        Ok(value) => Ok(StateFile::Valid(value)),
        Err(reason) => {
            let found = quarantine(path, bytes.len() as u64)?;
            error!(path = %path.display(), %reason, quarantine = ?found.quarantine, "state file damaged; quarantined (its owner rebuilds it)");
            Ok(StateFile::Damaged(found))
        }
    }
}

/// The payload of a state file if its trailer's checksum matches (the whole file if it has no
/// trailer).
fn verified(bytes: &[u8]) -> Result<&[u8], String> {
    let split = bytes.len().saturating_sub(TRAILER_LEN);
    let (payload, trailer) = bytes.split_at(split);
    let Some(hex) = trailer
        .strip_prefix(TAG)
        .and_then(|rest| rest.strip_suffix(b"\n"))
    else {
        return Ok(bytes);
    };
    // Lowercase only, as written: any changed byte is damage.
    let lowercase = hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let stored = std::str::from_utf8(hex)
        .ok()
        .filter(|_| lowercase)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .ok_or("unreadable checksum trailer")?;
    if stored != crc32c::crc32c(payload) {
        return Err("checksum mismatch".to_string());
    }
    Ok(payload)
}

/// Moves the damaged file at `path` (`len` bytes) to
/// `<its dir>/quarantine/<name>-0-<len>.bin`, durably.
fn quarantine(path: &Path, len: u64) -> std::io::Result<Corruption> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let qdir = dir.join("quarantine");
    std::fs::create_dir_all(&qdir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let kept = qdir.join(format!("{name}-0-{len}.bin"));
    std::fs::rename(path, &kept)?;
    for d in [&qdir, dir] {
        std::fs::File::open(d)?.sync_all()?;
    }
    Ok(Corruption {
        segment: path.to_path_buf(),
        from: 0,
        to: len,
        records_lost: Some(0),
        quarantine: Some(kept),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(bytes: &[u8]) -> Result<String, String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
    }

    #[test]
    fn round_trips_and_reads_files_written_before_the_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        assert!(matches!(
            read_state(&path, parse).unwrap(),
            StateFile::Missing
        ));
        write_state(&path, b"{\"a\":1}").unwrap();
        assert!(
            matches!(read_state(&path, parse).unwrap(), StateFile::Valid(s) if s == "{\"a\":1}")
        );
        std::fs::write(&path, b"{\"old\":true}").unwrap();
        assert!(
            matches!(read_state(&path, parse).unwrap(), StateFile::Valid(s) if s == "{\"old\":true}")
        );
    }

    #[test]
    fn any_flipped_bit_is_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_state(&path, b"{\"next\":123456}").unwrap();
        let good = std::fs::read(&path).unwrap();
        // A parser that accepts anything: only the checksum (or the trailer) can tell.
        let anything = |b: &[u8]| Ok::<_, String>(b.to_vec());
        for bit in 0..good.len() * 8 {
            let mut bytes = good.clone();
            bytes[bit / 8] ^= 1 << (bit % 8);
            std::fs::write(&path, &bytes).unwrap();
            let read = read_state(&path, anything).unwrap();
            // A flip that destroys the trailer's shape leaves a "file without trailer": it
            // then holds the trailer text, which a real (JSON) parser refuses.
            if let StateFile::Valid(payload) = &read {
                let at = bit / 8;
                let shape = at >= good.len() - TRAILER_LEN && at < good.len() - 9;
                assert!(shape || at == good.len() - 1, "bit {bit} passed");
                assert_eq!(payload, &bytes, "bit {bit}");
                continue;
            }
            let StateFile::Damaged(found) = read else {
                panic!("bit {bit}: {read:?}");
            };
            assert_eq!((found.from, found.to), (0, bytes.len() as u64));
            assert_eq!(std::fs::read(found.quarantine.unwrap()).unwrap(), bytes);
            assert!(!path.exists());
        }
    }
}
