//! Writing files atomically with their final mode from the first byte on.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::CaError;

/// Fills a buffer of `N` bytes from the operating system's random source.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], CaError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CaError::Crypto {
        what: "drawing random bytes",
        reason: e.to_string(),
    })?;
    Ok(buf)
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, created with `mode` (so it is never more open than that, even
/// for an instant), written, fsynced, then renamed over `path`. The directory
/// is fsynced afterwards (best effort).
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), CaError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let tmp = dir.join(format!(".{file_name}.tmp-{}", hex(&random_bytes::<8>()?)));

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| CaError::io("creating", &tmp, e))?;
        // The umask may have narrowed the mode; make it exactly `mode`.
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| CaError::io("setting the mode of", &tmp, e))?;
        file.write_all(contents)
            .map_err(|e| CaError::io("writing", &tmp, e))?;
        file.sync_all()
            .map_err(|e| CaError::io("syncing", &tmp, e))?;
        drop(file);
        fs::rename(&tmp, path).map_err(|e| CaError::io("renaming into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with mode 0700 for `dir` itself, or
/// sets an existing `dir` to 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), CaError> {
    if !dir.exists() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| CaError::io("creating", parent, e))?;
        }
        match DirBuilder::new().mode(0o700).create(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(CaError::io("creating", dir, e)),
        }
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| CaError::io("setting the mode of", dir, e))
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CaError> {
    fs::read(path).map_err(|e| CaError::io("reading", path, e))
}
