//! Secrets kept in a data directory (the core's or an edge's), readable by their owner only:
//! keys, and the core's admin bearer token.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use vigil_ca::{KeyKind, Passphrase};
use zeroize::Zeroizing;

/// Creates `dir` (and parents) readable by the owner only, or tightens an existing one.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict permissions of {}", dir.display()))
}

/// Loads the 32-byte key at `path`, creating it (mode 0600, random) the first time, and its
/// directory (mode 0700) if that does not exist; an existing directory is left as it is (it may
/// be shared, such as `/etc/vigil`). Refuses a key file that others can read.
///
/// With `passphrase` the key is kept encrypted (PEM `VIGIL ENCRYPTED SECRET`, see
/// [`vigil_ca::keyfile`]): created so, and a key found in clear is encrypted in place. An
/// encrypted key without `passphrase` is refused, naming the sources of `kind`.
pub fn load_or_create_key(
    path: &Path,
    passphrase: Option<&Passphrase>,
    kind: KeyKind,
) -> anyhow::Result<[u8; 32]> {
    let pass = passphrase.map(Passphrase::as_str);
    if let Some(bytes) = read_private(path)? {
        let bytes = Zeroizing::new(bytes);
        let encrypted =
            vigil_ca::read_encrypted_secret(path, &bytes, pass).map_err(|e| e.for_key(kind))?;
        let key: &[u8] = encrypted.as_deref().map_or(&bytes, |d| d.as_slice());
        let key: [u8; 32] = key.try_into().map_err(|_| {
            anyhow::anyhow!(
                "{} holds {} bytes; a key is 32 bytes",
                path.display(),
                key.len()
            )
        })?;
        if let (None, Some(pass)) = (&encrypted, pass) {
            vigil_ca::write_encrypted_secret(path, &key, pass, &Default::default())?;
        }
        return Ok(key);
    }
    let key = random_32()?;
    match pass {
        Some(pass) => {
            create_parent(path)?;
            vigil_ca::write_encrypted_secret(path, &key, pass, &Default::default())?;
        }
        None => create_private(path, &key)?,
    }
    Ok(key)
}

/// Shortest token [`load_or_create_token`] accepts.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Loads the bearer token at `path` (text: printable ASCII without spaces, at least
/// [`MIN_TOKEN_CHARS`] characters, surrounding white space ignored), creating it the first time
/// as 32 random bytes in 64 hex digits and a newline, mode 0600, like [`load_or_create_key`].
/// Refuses a token file that others can read.
pub fn load_or_create_token(path: &Path) -> anyhow::Result<String> {
    if let Some(bytes) = read_private(path)? {
        let token = std::str::from_utf8(&bytes).map(str::trim).unwrap_or("");
        if token.len() < MIN_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
            bail!(
                "{} holds no valid token (at least {MIN_TOKEN_CHARS} printable ASCII characters without spaces); delete it to have a new one created",
                path.display()
            );
        }
        return Ok(token.to_owned());
    }
    let token: String = random_32()?.iter().map(|b| format!("{b:02x}")).collect();
    create_private(path, format!("{token}\n").as_bytes())?;
    Ok(token)
}

/// Reads the bearer token at `path` for a client (surrounding white space removed). The error
/// names the file; a permission error means the caller is not the user the server runs as.
pub fn read_token(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the token {} (run this as the user the server runs as)",
            path.display()
        )
    })?;
    let token = text.trim();
    if token.is_empty() {
        bail!("the token file {} is empty", path.display());
    }
    Ok(token.to_owned())
}

fn random_32() -> anyhow::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("no randomness for a new secret: {e}"))?;
    Ok(bytes)
}

/// Refuses the secret file `path` (its `metadata`) when group or others have any access to it.
pub fn refuse_shared(path: &Path, metadata: &std::fs::Metadata) -> anyhow::Result<()> {
    let mode = metadata.permissions().mode();
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by other users (mode {:o}); run chmod 600 on it",
            path.display(),
            mode & 0o777
        );
    }
    Ok(())
}

/// The contents of the secret file `path`, `None` if it does not exist; an error if group or
/// others may read it.
fn read_private(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let metadata = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    refuse_shared(path, &metadata)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Some(bytes))
}

/// Creates the directory of `path` (mode 0700) if it does not exist.
fn create_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        private_dir(parent)?;
    }
    Ok(())
}

/// Creates the secret file `path` (mode 0600, never replacing one) holding `contents`, and its
/// directory (mode 0700) if that does not exist.
fn create_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    create_parent(path)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reloads_and_refuses_loose_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/k.key");
        let key = load_or_create_key(&path, None, KeyKind::Certificate).unwrap();
        assert_eq!(
            load_or_create_key(&path, None, KeyKind::Certificate).unwrap(),
            key
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        // An existing directory keeps its mode: a shared key may live in /etc/vigil.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        load_or_create_key(&shared.join("k.key"), None, KeyKind::Certificate).unwrap();
        assert_eq!(
            std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777,
            0o755
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            load_or_create_key(&path, None, KeyKind::Certificate)
                .unwrap_err()
                .to_string()
                .contains("readable by other users")
        );
    }

    fn passphrase(value: &str) -> Passphrase {
        vigil_ca::passphrase::passphrase_in(KeyKind::Certificate, &|name| {
            (name == "VIGIL_KEY_PASSPHRASE").then(|| value.into())
        })
        .unwrap()
        .unwrap()
    }

    #[test]
    fn with_a_passphrase_a_key_is_created_encrypted_and_one_in_clear_is_encrypted_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let pass = passphrase("pw");
        let path = dir.path().join("keys/k.key");
        let key = load_or_create_key(&path, Some(&pass), KeyKind::Certificate).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("-----BEGIN VIGIL ENCRYPTED SECRET-----\n"),
            "{text}"
        );
        assert_eq!(
            load_or_create_key(&path, Some(&pass), KeyKind::Certificate).unwrap(),
            key
        );
        let err = load_or_create_key(&path, None, KeyKind::Certificate).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "private key file {} is passphrase-protected; give its passphrase with VIGIL_KEY_PASSPHRASE, VIGIL_KEY_PASSPHRASE_FILE or the systemd credential vigil-key-passphrase",
                path.display()
            )
        );
        let err = load_or_create_key(&path, Some(&passphrase("other")), KeyKind::Certificate)
            .unwrap_err();
        assert!(format!("{err:#}").contains("wrong passphrase"), "{err:#}");

        let clear = dir.path().join("keys/clear.key");
        let old = load_or_create_key(&clear, None, KeyKind::Certificate).unwrap();
        assert_eq!(std::fs::read(&clear).unwrap(), old);
        assert_eq!(
            load_or_create_key(&clear, Some(&pass), KeyKind::Certificate).unwrap(),
            old
        );
        assert!(
            std::fs::read_to_string(&clear)
                .unwrap()
                .starts_with("-----BEGIN VIGIL ENCRYPTED SECRET-----\n")
        );
        assert_eq!(
            std::fs::metadata(&clear).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_token_is_created_once_private_and_refused_when_others_can_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        let token = load_or_create_token(&path).unwrap();
        assert_eq!(token.len(), 64);
        assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(load_or_create_token(&path).unwrap(), token);
        assert_eq!(read_token(&path).unwrap(), token);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = load_or_create_token(&path).unwrap_err().to_string();
        assert!(err.contains("readable by other users"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "short\n").unwrap();
        let err = load_or_create_token(&path).unwrap_err().to_string();
        assert!(err.contains("no valid token"), "{err}");
        let err = read_token(&dir.path().join("none")).unwrap_err();
        assert!(
            format!("{err:#}").contains("run this as the user"),
            "{err:#}"
        );
    }
}
