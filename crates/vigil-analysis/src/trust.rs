//! Files whose content decides what Vigil alarms on or runs (directives, policies, assets, sid
//! tables, plugin files, response programs) must not be writable by every local user: one who
//! could edit them could blind correlation or run code as the service.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Refuses `path` (a file, or a directory and the files directly in it) when any of them is
/// writable by others; `what` names it in the error. A path that does not exist passes: its
/// loader reports that.
pub fn refuse_world_writable(path: &Path, what: &str) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    check(path, &meta, what)?;
    if meta.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", path.display()))?;
        for entry in entries.flatten() {
            if let Ok(meta) = entry.metadata() {
                check(&entry.path(), &meta, what)?;
            }
        }
    }
    Ok(())
}

fn check(path: &Path, meta: &std::fs::Metadata, what: &str) -> anyhow::Result<()> {
    let mode = meta.permissions().mode();
    if mode & 0o002 != 0 {
        anyhow::bail!(
            "{what} {} is writable by every user (mode {:o}): anyone could change what Vigil \
             alarms on or runs; remove that permission (chmod o-w)",
            path.display(),
            mode & 0o7777
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_writable_files_and_directory_entries_are_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("rules.xml");
        std::fs::write(&file, "x").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        assert!(refuse_world_writable(&file, "directive file").is_ok());
        assert!(refuse_world_writable(dir.path(), "directive file").is_ok());
        assert!(refuse_world_writable(&dir.path().join("missing"), "x").is_ok());
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        let err = refuse_world_writable(dir.path(), "directive file")
            .expect_err("refused")
            .to_string();
        assert!(
            err.starts_with(&format!(
                "directive file {} is writable by every user (mode 666)",
                file.display()
            )),
            "{err}"
        );
    }
}
