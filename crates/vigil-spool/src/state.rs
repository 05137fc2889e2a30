//! `state.json`: the next sequence number and the acknowledged ranges, written atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SpoolError;

/// Name of the state file inside the spool directory.
const STATE_FILE: &str = "state.json";
/// Name of the temporary file a new state is written to before the rename.
const STATE_TMP: &str = "state.json.tmp";
/// The format version this crate writes and reads.
const VERSION: u32 = 1;

/// The persisted spool state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct State {
    /// Format version, always 1.
    pub(crate) version: u32,
    /// No sequence below this will ever be assigned again.
    pub(crate) next_sequence: u64,
    /// Acknowledged inclusive ranges, ascending.
    pub(crate) acked: Vec<(u64, u64)>,
}

impl State {
    /// A state in the current version.
    pub(crate) fn new(next_sequence: u64, acked: Vec<(u64, u64)>) -> Self {
        Self {
            version: VERSION,
            next_sequence,
            acked,
        }
    }
}

/// Path of the state file in `dir`.
pub(crate) fn state_path(dir: &Path) -> PathBuf {
    dir.join(STATE_FILE)
}

/// Reads `dir/state.json`; `None` if there is none. A leftover temporary file is removed.
pub(crate) fn load(dir: &Path) -> Result<Option<State>, SpoolError> {
    let tmp = dir.join(STATE_TMP);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            return Err(SpoolError::io("remove", tmp, e));
        }
        _ => {}
    }
    let path = state_path(dir);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SpoolError::io("read", path, e)),
    };
    let bad = |reason: String| SpoolError::BadState {
        path: path.clone(),
        reason,
    };
    let state: State = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    if state.version != VERSION {
        return Err(bad(format!("unsupported version {}", state.version)));
    }
    if let Some((a, b)) = state.acked.iter().find(|(a, b)| a > b) {
        return Err(bad(format!("acked range [{a}, {b}] is reversed")));
    }
    Ok(Some(state))
}

/// Writes `state` to `dir/state.json` atomically and durably: temporary file, fsync, rename,
/// fsync of the directory.
pub(crate) fn store(dir: &Path, state: &State) -> Result<(), SpoolError> {
    let tmp = dir.join(STATE_TMP);
    let json = serde_json::to_vec(state).map_err(|e| SpoolError::BadState {
        path: tmp.clone(),
        reason: e.to_string(),
    })?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| SpoolError::io("create", &tmp, e))?;
    file.write_all(&json)
        .map_err(|e| SpoolError::io("write", &tmp, e))?;
    file.sync_all()
        .map_err(|e| SpoolError::io("fsync", &tmp, e))?;
    drop(file);
    let path = state_path(dir);
    fs::rename(&tmp, &path).map_err(|e| SpoolError::io("rename", &path, e))?;
    sync_dir(dir)
}

/// Fsyncs a directory so that entries created, renamed or removed in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SpoolError::io("fsync", dir, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_in_the_documented_shape() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let state = State::new(9, vec![(1, 3), (5, 5)]);
        store(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(state));
        let text = fs::read_to_string(state_path(dir.path())).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"next_sequence":9,"acked":[[1,3],[5,5]]}"#
        );
    }

    #[test]
    fn rejects_other_versions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            state_path(dir.path()),
            r#"{"version":2,"next_sequence":1,"acked":[]}"#,
        )
        .unwrap();
        assert!(matches!(load(dir.path()), Err(SpoolError::BadState { .. })));
        fs::write(state_path(dir.path()), "{").unwrap();
        assert!(matches!(load(dir.path()), Err(SpoolError::BadState { .. })));
    }
}
