//! Replacing a small file whole, durably: write a temporary file beside it, fsync it, rename it
//! over the old one. A crash leaves either the old contents or the new, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Replaces `path` with `bytes` (through `<path>.tmp`). Errors name the file that failed.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let named = |e: std::io::Error, p: &Path| {
        std::io::Error::new(e.kind(), format!("cannot write {}: {e}", p.display()))
    };
    let mut file = std::fs::File::create(&tmp).map_err(|e| named(e, &tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| named(e, &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| named(e, path))
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        super::replace_file(&path, b"first").unwrap();
        super::replace_file(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = super::replace_file(&dir.path().join("missing/x"), b"").unwrap_err();
        assert!(err.to_string().contains("missing/x.tmp"), "{err}");
    }
}
