//! Copies of damaged segment bytes, kept in `<spool>/quarantine/` before the spool skips them.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::SpoolError;
use crate::state::sync_dir;

/// Name of the quarantine directory inside the spool directory.
const QUARANTINE_DIR: &str = "quarantine";

/// Copies `bytes`, found damaged at `from` in `segment`, to
/// `<spool>/quarantine/<segment name>-<from>-<to>.bin` durably (mode 0600) and returns that
/// path. The same range found again at a later open replaces its copy with the same bytes.
pub(crate) fn keep(segment: &Path, from: u64, bytes: &[u8]) -> Result<PathBuf, SpoolError> {
    let spool = segment.parent().unwrap_or(Path::new("."));
    let dir = spool.join(QUARANTINE_DIR);
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| SpoolError::io("create directory", &dir, e))?;
    let name = segment.file_name().unwrap_or_default().to_string_lossy();
    let to = from + bytes.len() as u64;
    let path = dir.join(format!("{name}-{from}-{to}.bin"));
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| SpoolError::io("create", &path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SpoolError::io("write", &path, e))?;
    sync_dir(&dir)?;
    sync_dir(spool)?;
    Ok(path)
}
