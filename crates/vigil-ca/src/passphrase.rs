//! Where passphrases come from, decided here and nowhere else ([`passphrase`]).
//!
//! For each kind of key the first source that is set wins:
//!
//! | key | environment variable | file named by | systemd credential |
//! | --- | --- | --- | --- |
//! | a CA's | `VIGIL_CA_PASSPHRASE` | `VIGIL_CA_PASSPHRASE_FILE` | `vigil-ca-passphrase` |
//! | a certificate's | `VIGIL_KEY_PASSPHRASE` | `VIGIL_KEY_PASSPHRASE_FILE` | `vigil-key-passphrase` |
//!
//! The systemd credential is the file `$CREDENTIALS_DIRECTORY/<name>` that `LoadCredential=` or
//! `LoadCredentialEncrypted=` provides. A passphrase file must be readable by its owner only;
//! its content, without one final line break, is the passphrase. An empty passphrase is refused.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::CaError;

/// Whose passphrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A CA's key (`vigil ca`, and the core's automatic CA).
    Ca,
    /// A certificate's key: the core's and an edge's at start, and the one `vigil ca issue`
    /// protects a new key with.
    Certificate,
}

impl KeyKind {
    /// The environment variable holding the passphrase itself.
    pub fn env(self) -> &'static str {
        match self {
            KeyKind::Ca => "VIGIL_CA_PASSPHRASE",
            KeyKind::Certificate => "VIGIL_KEY_PASSPHRASE",
        }
    }

    /// The environment variable naming a file that holds the passphrase.
    pub fn file_env(self) -> &'static str {
        match self {
            KeyKind::Ca => "VIGIL_CA_PASSPHRASE_FILE",
            KeyKind::Certificate => "VIGIL_KEY_PASSPHRASE_FILE",
        }
    }

    /// The name of the systemd credential holding the passphrase.
    pub fn credential(self) -> &'static str {
        match self {
            KeyKind::Ca => "vigil-ca-passphrase",
            KeyKind::Certificate => "vigil-key-passphrase",
        }
    }

    /// Every source, for messages: "VIGIL_CA_PASSPHRASE, VIGIL_CA_PASSPHRASE_FILE or the
    /// systemd credential vigil-ca-passphrase".
    pub fn sources(self) -> String {
        format!(
            "{}, {} or the systemd credential {}",
            self.env(),
            self.file_env(),
            self.credential()
        )
    }
}

/// A passphrase and where it came from. Its `Debug` form never shows it.
#[derive(Clone)]
pub struct Passphrase {
    secret: Zeroizing<String>,
    origin: String,
}

impl Passphrase {
    /// The passphrase.
    pub fn as_str(&self) -> &str {
        &self.secret
    }

    /// Where it came from ("environment variable VIGIL_CA_PASSPHRASE", "file /x (VIGIL_CA_PASSPHRASE_FILE)", ...).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passphrase")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The configured passphrase for keys of `kind`, `None` when no source is set. Errors: a
/// source that is set but empty, unreadable, or a file others may read.
pub fn passphrase(kind: KeyKind) -> Result<Option<Passphrase>, CaError> {
    passphrase_in(kind, &|name| std::env::var_os(name))
}

/// The passphrase of a process's own secrets (the core's certificate key and its fingerprint
/// key): the key passphrase, else the CA passphrase (such a secret never leaves the host).
pub fn own_passphrase() -> Result<Option<Passphrase>, CaError> {
    Ok(match passphrase(KeyKind::Certificate)? {
        Some(pass) => Some(pass),
        None => passphrase(KeyKind::Ca)?,
    })
}

/// [`passphrase`] with the environment `env`.
pub fn passphrase_in(
    kind: KeyKind,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<Passphrase>, CaError> {
    if let Some(value) = env(kind.env()) {
        let origin = format!("environment variable {}", kind.env());
        let secret = value.into_string().map_err(|_| CaError::PassphraseSource {
            origin: origin.clone(),
            reason: "not UTF-8".to_string(),
        })?;
        return non_empty(Zeroizing::new(secret), origin).map(Some);
    }
    if let Some(path) = env(kind.file_env()) {
        let path = PathBuf::from(path);
        let origin = format!("file {} ({})", path.display(), kind.file_env());
        return read_file(&path, origin).map(Some);
    }
    if let Some(dir) = env("CREDENTIALS_DIRECTORY") {
        let path = Path::new(&dir).join(kind.credential());
        if path.exists() {
            let origin = format!("systemd credential {}", path.display());
            return read_file(&path, origin).map(Some);
        }
    }
    Ok(None)
}

fn non_empty(secret: Zeroizing<String>, origin: String) -> Result<Passphrase, CaError> {
    if secret.is_empty() {
        return Err(CaError::PassphraseSource {
            origin,
            reason: "the passphrase is empty".to_string(),
        });
    }
    Ok(Passphrase { secret, origin })
}

/// The passphrase in the file `path`: owner-only, UTF-8, one final line break dropped.
fn read_file(path: &Path, origin: String) -> Result<Passphrase, CaError> {
    let fail = |reason: String| CaError::PassphraseSource {
        origin: origin.clone(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(fail(format!(
            "mode {mode:04o} lets group or others read it; run `chmod 600 {}`",
            path.display()
        )));
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
    let text = std::str::from_utf8(&bytes).map_err(|_| fail("not UTF-8".to_string()))?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(text);
    non_empty(Zeroizing::new(text.to_string()), origin)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(kind: KeyKind, vars: &[(&str, &str)]) -> Result<Option<Passphrase>, CaError> {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        passphrase_in(kind, &|name| vars.get(name).cloned())
    }

    fn private_file(dir: &Path, name: &str, content: &str, mode: u32) -> String {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path.display().to_string()
    }

    #[test]
    fn the_variable_then_the_file_then_the_credential() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = private_file(dir.path(), "pw", "from file\n", 0o600);
        private_file(
            dir.path(),
            "vigil-ca-passphrase",
            "from credential\r\n",
            0o400,
        );
        let creds = dir.path().display().to_string();
        let got = |vars: &[(&str, &str)]| {
            resolve(KeyKind::Ca, vars)
                .expect("resolves")
                .map(|p| (p.as_str().to_string(), p.origin().to_string()))
        };
        assert_eq!(got(&[]), None);
        assert_eq!(
            got(&[("CREDENTIALS_DIRECTORY", &creds)]),
            Some((
                "from credential".to_string(),
                format!("systemd credential {creds}/vigil-ca-passphrase")
            ))
        );
        assert_eq!(
            got(&[
                ("CREDENTIALS_DIRECTORY", &creds),
                ("VIGIL_CA_PASSPHRASE_FILE", &file)
            ]),
            Some((
                "from file".to_string(),
                format!("file {file} (VIGIL_CA_PASSPHRASE_FILE)")
            ))
        );
        assert_eq!(
            got(&[
                ("VIGIL_CA_PASSPHRASE", "from env"),
                ("VIGIL_CA_PASSPHRASE_FILE", &file)
            ]),
            Some((
                "from env".to_string(),
                "environment variable VIGIL_CA_PASSPHRASE".to_string()
            ))
        );
        // The credential of the other kind is not this kind's.
        assert!(
            resolve(KeyKind::Certificate, &[("CREDENTIALS_DIRECTORY", &creds)])
                .expect("resolves")
                .is_none()
        );
    }

    #[test]
    fn an_open_an_empty_or_a_missing_file_is_refused_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = private_file(dir.path(), "open", "pw\n", 0o640);
        let empty = private_file(dir.path(), "empty", "\n", 0o600);
        let missing = dir.path().join("missing").display().to_string();
        for (file, needle) in [
            (&open, "mode 0640 lets group or others read it"),
            (&empty, "the passphrase is empty"),
            (&missing, "No such file"),
        ] {
            let err = resolve(KeyKind::Certificate, &[("VIGIL_KEY_PASSPHRASE_FILE", file)])
                .expect_err("refused")
                .to_string();
            assert!(
                err.contains(&format!("file {file} (VIGIL_KEY_PASSPHRASE_FILE)"))
                    && err.contains(needle),
                "{err}"
            );
        }
        let err = resolve(KeyKind::Ca, &[("VIGIL_CA_PASSPHRASE", "")]).expect_err("empty");
        assert_eq!(
            err.to_string(),
            "passphrase from environment variable VIGIL_CA_PASSPHRASE: the passphrase is empty"
        );
    }
}
