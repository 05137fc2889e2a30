//! `state.json`: the next sequence number, the acknowledged ranges and the spool's epoch,
//! written atomically.

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
    /// The spool's epoch, 32 hex digits; absent in spools from before epochs (given one at open).
    #[serde(default, with = "hex_epoch")]
    pub(crate) epoch: Option<[u8; 16]>,
}

impl State {
    /// A state in the current version.
    pub(crate) fn new(next_sequence: u64, acked: Vec<(u64, u64)>, epoch: [u8; 16]) -> Self {
        Self {
            version: VERSION,
            next_sequence,
            acked,
            epoch: Some(epoch),
        }
    }
}

/// A new random epoch, from the operating system's generator.
pub(crate) fn new_epoch() -> Result<[u8; 16], SpoolError> {
    let mut epoch = [0u8; 16];
    getrandom::fill(&mut epoch).map_err(|e| SpoolError::NoRandomness(e.to_string()))?;
    Ok(epoch)
}

/// An epoch as 32 lower-case hex digits.
pub(crate) fn hex(epoch: &[u8; 16]) -> String {
    epoch.iter().map(|b| format!("{b:02x}")).collect()
}

/// `state.json`'s `epoch`: 32 lower-case hex digits.
mod hex_epoch {
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        epoch: &Option<[u8; 16]>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match epoch {
            Some(epoch) => serializer.serialize_str(&super::hex(epoch)),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<[u8; 16]>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        parse(&text)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("epoch {text:?} is not 32 hex digits")))
    }

    fn parse(text: &str) -> Option<[u8; 16]> {
        if text.len() != 32 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut epoch = [0u8; 16];
        for (i, byte) in epoch.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(epoch)
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
        let mut epoch = [0u8; 16];
        epoch[0] = 0xab;
        epoch[15] = 0x01;
        let state = State::new(9, vec![(1, 3), (5, 5)], epoch);
        store(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(state));
        let text = fs::read_to_string(state_path(dir.path())).unwrap();
        assert_eq!(
            text,
            r#"{"version":1,"next_sequence":9,"acked":[[1,3],[5,5]],"epoch":"ab000000000000000000000000000001"}"#
        );
    }

    #[test]
    fn a_state_from_before_epochs_loads_without_one_and_a_bad_epoch_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            state_path(dir.path()),
            r#"{"version":1,"next_sequence":4,"acked":[[1,2]]}"#,
        )
        .unwrap();
        let state = load(dir.path()).unwrap().unwrap();
        assert_eq!((state.next_sequence, state.epoch), (4, None));
        for bad in [
            "ab",
            "zz000000000000000000000000000001",
            "+b000000000000000000000000000001",
        ] {
            let text = format!(r#"{{"version":1,"next_sequence":4,"acked":[],"epoch":"{bad}"}}"#);
            fs::write(state_path(dir.path()), text).unwrap();
            match load(dir.path()) {
                Err(SpoolError::BadState { reason, .. }) => {
                    assert!(reason.contains("not 32 hex digits"), "{reason}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
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
