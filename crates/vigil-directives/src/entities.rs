//! Where an external entity's file is, safely: OSSIM writes absolute paths
//! (`/etc/ossim/server/x.xml`); only the FILE NAME is used, looked up in the directory of the
//! including file, and the result must stay inside that directory (no `..`, no symlink out).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Where an entity's file is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// An existing regular file: the path to read and show, and its canonical form (identity).
    File {
        /// `dir/name`.
        path: PathBuf,
        /// The canonical path, inside the canonical directory.
        canonical: PathBuf,
    },
    /// No file of that name in the directory.
    Missing(PathBuf),
}

/// Resolve the system literal `system` of an entity inside `dir`.
pub(crate) fn resolve(dir: &Path, system: &str) -> Result<Resolved, String> {
    let literal = system.strip_prefix("file://").unwrap_or(system);
    let name = literal.rsplit('/').next().unwrap_or_default();
    if name.is_empty() || name == "." || name == ".." || name.contains(['\\', '\0']) {
        return Err(format!("{system:?} does not end in a plain file name"));
    }
    let path = dir.join(name);
    match fs::symlink_metadata(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Resolved::Missing(path)),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        Ok(_) => {}
    }
    let canonical_dir =
        fs::canonicalize(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let canonical = match fs::canonicalize(&path) {
        Ok(c) => c,
        // A dangling symlink points somewhere we will not follow.
        Err(_) => return Err(format!("{} is a symbolic link to nowhere", path.display())),
    };
    if canonical.parent() != Some(canonical_dir.as_path()) {
        return Err(format!(
            "{} resolves to {}, outside the directives directory",
            path.display(),
            canonical.display()
        ));
    }
    if !canonical.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    Ok(Resolved::File { path, canonical })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_only() {
        let dir =
            std::env::temp_dir().join(format!("vigil-directives-entities-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).expect("mkdir");
        fs::write(dir.join("a.xml"), "").expect("write");
        let file = |n: &str| Resolved::File {
            path: dir.join(n),
            canonical: fs::canonicalize(dir.join(n)).expect("canonical"),
        };
        assert_eq!(resolve(&dir, "/etc/ossim/server/a.xml"), Ok(file("a.xml")));
        assert_eq!(resolve(&dir, "a.xml"), Ok(file("a.xml")));
        assert_eq!(resolve(&dir, "../../a.xml"), Ok(file("a.xml")));
        assert_eq!(resolve(&dir, "file:///x/a.xml"), Ok(file("a.xml")));
        assert_eq!(
            resolve(&dir, "/x/user.xml"),
            Ok(Resolved::Missing(dir.join("user.xml")))
        );
        for bad in ["/etc/ossim/..", "", "/etc/", "x\\..\\a.xml", "sub/."] {
            assert!(resolve(&dir, bad).is_err(), "{bad}");
        }
        assert!(resolve(&dir, "sub").is_err(), "a directory");
        #[cfg(unix)]
        {
            let outside = dir.join("sub").join("o.xml");
            fs::write(&outside, "").expect("write");
            let _ = fs::remove_file(dir.join("link.xml"));
            std::os::unix::fs::symlink(&outside, dir.join("link.xml")).expect("symlink");
            assert!(
                resolve(&dir, "link.xml").is_err(),
                "symlink out of the directory"
            );
            let _ = fs::remove_file(dir.join("dangling.xml"));
            std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling.xml"))
                .expect("symlink");
            assert!(resolve(&dir, "dangling.xml").is_err());
            let _ = fs::remove_file(dir.join("inside.xml"));
            std::os::unix::fs::symlink(dir.join("a.xml"), dir.join("inside.xml")).expect("symlink");
            assert_eq!(
                resolve(&dir, "inside.xml"),
                Ok(Resolved::File {
                    path: dir.join("inside.xml"),
                    canonical: fs::canonicalize(dir.join("a.xml")).expect("c")
                })
            );
        }
        let _ = fs::remove_dir_all(&dir);
    }
}
