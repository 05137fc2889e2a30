//! The spool's two small state files, each replaced whole with a checksum trailer
//! ([`vigil_store::write_state`]) and read back verified: `state.json` (the next sequence, the
//! acknowledged ranges and the epoch), rewritten as acknowledgements come, and `epoch.json` (the
//! epoch and a floor under the numbering), written when the spool gets its epoch and before
//! its newest segment is deleted. A damaged one is moved to `quarantine/<name>-0-<len>.bin`
//! and rebuilt from the other and the segments. Files written before the trailer are read
//! as before.

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use vigil_store::StateFile;

use crate::error::SpoolError;
use crate::types::DamagedFile;

/// Name of the state file inside the spool directory.
const STATE_FILE: &str = "state.json";
/// Name of the file keeping the epoch and the numbering's floor.
const EPOCH_FILE: &str = "epoch.json";
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

/// `epoch.json`: the epoch, kept apart from `state.json` so that losing that file does not
/// lose it, and a floor: no sequence below it is ever assigned again under this epoch (it
/// holds the numbering when every segment has been deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Numbering {
    /// The spool's epoch, 32 hex digits.
    #[serde(with = "hex_epoch")]
    pub(crate) epoch: Option<[u8; 16]>,
    /// No sequence below this will ever be assigned again.
    pub(crate) floor: u64,
}

/// What reading one of the state files found.
#[derive(Debug)]
pub(crate) enum Read<T> {
    /// There is none.
    Missing,
    /// It verified and parsed.
    Valid(T),
    /// It was damaged and moved to the quarantine.
    Damaged(DamagedFile),
}

impl<T> Read<T> {
    /// The value, if the file verified.
    pub(crate) fn valid(&self) -> Option<&T> {
        match self {
            Read::Valid(value) => Some(value),
            _ => None,
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

/// An `epoch` field: 32 lower-case hex digits.
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

/// Path of the epoch file in `dir`.
pub(crate) fn epoch_path(dir: &Path) -> PathBuf {
    dir.join(EPOCH_FILE)
}

/// Reads `dir/state.json`. One that fails its checksum, does not parse or holds a reversed
/// range is quarantined; one of another version is refused ([`SpoolError::BadState`]).
pub(crate) fn load(dir: &Path) -> Result<Read<State>, SpoolError> {
    let path = state_path(dir);
    let read = read(&path, |bytes| {
        let state: State = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        match state.acked.iter().find(|(a, b)| a > b) {
            Some((a, b)) => Err(format!("acked range [{a}, {b}] is reversed")),
            None => Ok(state),
        }
    })?;
    if let Read::Valid(state) = &read
        && state.version != VERSION
    {
        return Err(SpoolError::BadState {
            path,
            reason: format!("unsupported version {}", state.version),
        });
    }
    Ok(read)
}

/// Reads `dir/epoch.json`; one that fails its checksum, does not parse or has no epoch is
/// quarantined.
pub(crate) fn load_numbering(dir: &Path) -> Result<Read<Numbering>, SpoolError> {
    read(&epoch_path(dir), |bytes| {
        let numbering: Numbering = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        match numbering.epoch {
            Some(_) => Ok(numbering),
            None => Err("no epoch".to_owned()),
        }
    })
}

/// Writes `state` to `dir/state.json` atomically and durably.
pub(crate) fn store(dir: &Path, state: &State) -> Result<(), SpoolError> {
    write(dir, &state_path(dir), state)
}

/// Writes `numbering` to `dir/epoch.json` atomically and durably.
pub(crate) fn store_numbering(dir: &Path, numbering: &Numbering) -> Result<(), SpoolError> {
    debug_assert!(
        numbering.epoch.is_some(),
        "epoch.json always holds the epoch"
    );
    write(dir, &epoch_path(dir), numbering)
}

/// Reads the state file at `path` through [`vigil_store::read_state`].
fn read<T>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<Read<T>, SpoolError> {
    // `vigil_store::replace_file`'s temporary file, left by a crash: never the state.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(SpoolError::io("remove", tmp, e));
        }
        _ => {}
    }
    match vigil_store::read_state(path, parse).map_err(|e| SpoolError::io("read", path, e))? {
        StateFile::Missing => Ok(Read::Missing),
        StateFile::Valid(value) => Ok(Read::Valid(value)),
        StateFile::Damaged(found) => Ok(Read::Damaged(DamagedFile {
            path: found.segment,
            bytes: found.to,
            quarantine: found.quarantine.unwrap_or_default(),
            rebuilt: String::new(),
        })),
    }
}

/// Replaces `path` in `dir` with `value` as JSON and its checksum, durably: temporary file,
/// fsync, rename, fsync of the directory.
fn write(dir: &Path, path: &Path, value: &impl Serialize) -> Result<(), SpoolError> {
    let json = serde_json::to_vec(value).map_err(|e| SpoolError::BadState {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    vigil_store::write_state(path, &json).map_err(|e| SpoolError::io("write", path, e))?;
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
    use std::fs;

    use super::*;

    /// The JSON payload of a state file, without its trailer.
    fn payload(path: &Path) -> String {
        let text = fs::read_to_string(path).unwrap();
        let (json, trailer) = text.rsplit_once("\ncrc32c ").unwrap();
        assert_eq!(trailer.len(), 9, "{trailer:?}");
        json.to_owned()
    }

    #[test]
    fn round_trips_in_the_documented_shape() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load(dir.path()).unwrap(), Read::Missing));
        let mut epoch = [0u8; 16];
        epoch[0] = 0xab;
        epoch[15] = 0x01;
        let state = State::new(9, vec![(1, 3), (5, 5)], epoch);
        store(dir.path(), &state).unwrap();
        assert_eq!(load(dir.path()).unwrap().valid(), Some(&state));
        assert_eq!(
            payload(&state_path(dir.path())),
            r#"{"version":1,"next_sequence":9,"acked":[[1,3],[5,5]],"epoch":"ab000000000000000000000000000001"}"#
        );
        let numbering = Numbering {
            epoch: Some(epoch),
            floor: 9,
        };
        store_numbering(dir.path(), &numbering).unwrap();
        assert_eq!(
            load_numbering(dir.path()).unwrap().valid(),
            Some(&numbering)
        );
        assert_eq!(
            payload(&epoch_path(dir.path())),
            r#"{"epoch":"ab000000000000000000000000000001","floor":9}"#
        );
    }

    #[test]
    fn a_state_from_before_epochs_and_the_trailer_loads_and_a_bad_epoch_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            state_path(dir.path()),
            r#"{"version":1,"next_sequence":4,"acked":[[1,2]]}"#,
        )
        .unwrap();
        let read = load(dir.path()).unwrap();
        let state = read.valid().unwrap();
        assert_eq!((state.next_sequence, state.epoch), (4, None));
        for bad in [
            "ab",
            "zz000000000000000000000000000001",
            "+b000000000000000000000000000001",
        ] {
            let text = format!(r#"{{"version":1,"next_sequence":4,"acked":[],"epoch":"{bad}"}}"#);
            fs::write(state_path(dir.path()), &text).unwrap();
            let Read::Damaged(found) = load(dir.path()).unwrap() else {
                panic!("{bad}: not damage");
            };
            assert_eq!(fs::read_to_string(found.quarantine).unwrap(), text);
        }
    }

    #[test]
    fn other_versions_are_refused_and_garbage_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            state_path(dir.path()),
            r#"{"version":2,"next_sequence":1,"acked":[]}"#,
        )
        .unwrap();
        assert!(matches!(load(dir.path()), Err(SpoolError::BadState { .. })));
        for garbage in ["{", r#"{"version":1,"next_sequence":1,"acked":[[3,2]]}"#] {
            fs::write(state_path(dir.path()), garbage).unwrap();
            assert!(matches!(load(dir.path()).unwrap(), Read::Damaged(_)));
        }
        fs::write(epoch_path(dir.path()), r#"{"epoch":null,"floor":1}"#).unwrap();
        assert!(matches!(
            load_numbering(dir.path()).unwrap(),
            Read::Damaged(_)
        ));
    }
}
