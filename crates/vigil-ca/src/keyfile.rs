//! Private key files: plain PKCS#8 PEM, or Vigil's passphrase-encrypted format.
//!
//! # Plain keys
//!
//! `-----BEGIN PRIVATE KEY-----`: standard PKCS#8 DER in PEM, as written by
//! `openssl genpkey`.
//!
//! # Encrypted keys
//!
//! `-----BEGIN VIGIL ENCRYPTED PRIVATE KEY-----`, whose base64 body is, in order
//! (integers big-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | format version, `0x01` |
//! | 4 | Argon2id memory cost `m_cost`, KiB |
//! | 4 | Argon2id iterations `t_cost` |
//! | 4 | Argon2id parallelism `p` |
//! | 16 | salt |
//! | 12 | ChaCha20-Poly1305 nonce |
//! | rest | ChaCha20-Poly1305 ciphertext of the PKCS#8 DER, then its 16-byte tag |
//!
//! The 32-byte key is Argon2id (version 0x13) of the passphrase's UTF-8 bytes
//! with the salt and parameters above. The 41 header bytes before the
//! ciphertext are the AEAD's associated data, so altering the parameters, salt
//! or nonce is detected like a wrong passphrase. Salt and nonce are fresh
//! random bytes for each file.
//!
//! Every key file is created with mode 0600 (a temporary file opened with that
//! mode, then renamed into place), and [`load_private_key`] refuses a key file
//! that group or others can access.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use crate::CaError;
use crate::fsutil::{random_bytes, write_atomic};

const ENCRYPTED_LABEL: &str = "VIGIL ENCRYPTED PRIVATE KEY";
const SECRET_LABEL: &str = "VIGIL ENCRYPTED SECRET";
const PLAIN_LABEL: &str = "PRIVATE KEY";
const FORMAT_VERSION: u8 = 1;
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = 1 + 4 + 4 + 4 + SALT_LEN + NONCE_LEN;
const TAG_LEN: usize = 16;

/// Largest parameters accepted when reading a file, so that a damaged file
/// cannot make the loader allocate or spin without bound.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P: u32 = 64;

/// Argon2id cost parameters for encrypting a key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of iterations.
    pub t_cost: u32,
    /// Degree of parallelism.
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// OWASP's recommendation for Argon2id: m = 19456 KiB (19 MiB), t = 2, p = 1.
    fn default() -> Self {
        KdfParams {
            m_cost_kib: 19_456,
            t_cost: 2,
            parallelism: 1,
        }
    }
}

impl KdfParams {
    /// Cheap parameters for tests only; never for real key files.
    #[doc(hidden)]
    pub fn insecure_for_tests() -> Self {
        KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            parallelism: 1,
        }
    }
}

/// Derives the 32-byte file key from the passphrase.
fn derive_key(
    passphrase: &str,
    salt: &[u8],
    kdf: &KdfParams,
) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = argon2::Params::new(kdf.m_cost_kib, kdf.t_cost, kdf.parallelism, Some(32))
        .map_err(|e| format!("bad Argon2id parameters: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, key.as_mut())
        .map_err(|e| format!("Argon2id failed: {e}"))?;
    Ok(key)
}

fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, String> {
    UnboundKey::new(&CHACHA20_POLY1305, key)
        .map(LessSafeKey::new)
        .map_err(|_| "cannot build a ChaCha20-Poly1305 key".to_string())
}

/// Encrypts PKCS#8 DER into the body of a Vigil encrypted key file.
fn encrypt(pkcs8_der: &[u8], passphrase: &str, kdf: &KdfParams) -> Result<Vec<u8>, CaError> {
    let fail = |reason: String| CaError::Crypto {
        what: "encrypting a private key",
        reason,
    };
    if passphrase.is_empty() {
        return Err(fail("the passphrase is empty".to_string()));
    }
    let salt = random_bytes::<SALT_LEN>()?;
    let nonce = random_bytes::<NONCE_LEN>()?;
    let key = derive_key(passphrase, &salt, kdf).map_err(fail)?;

    let mut out = Vec::with_capacity(HEADER_LEN + pkcs8_der.len() + TAG_LEN);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&kdf.m_cost_kib.to_be_bytes());
    out.extend_from_slice(&kdf.t_cost.to_be_bytes());
    out.extend_from_slice(&kdf.parallelism.to_be_bytes());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let mut in_out = pkcs8_der.to_vec();
    aead_key(&key)
        .map_err(fail)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&out[..HEADER_LEN]),
            &mut in_out,
        )
        .map_err(|_| fail("ChaCha20-Poly1305 sealing failed".to_string()))?;
    out.extend_from_slice(&in_out);
    Ok(out)
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(b)
}

/// Decrypts the body of a Vigil encrypted key file into PKCS#8 DER.
fn decrypt(path: &Path, body: &[u8], passphrase: &str) -> Result<Zeroizing<Vec<u8>>, CaError> {
    let malformed = |reason: String| CaError::MalformedKey {
        path: path.to_path_buf(),
        reason,
    };
    if body.len() < HEADER_LEN + TAG_LEN {
        return Err(malformed(format!(
            "encrypted body is {} bytes, shorter than header and tag",
            body.len()
        )));
    }
    if body[0] != FORMAT_VERSION {
        return Err(malformed(format!(
            "unknown encrypted key format version {}",
            body[0]
        )));
    }
    let kdf = KdfParams {
        m_cost_kib: be_u32(body, 1),
        t_cost: be_u32(body, 5),
        parallelism: be_u32(body, 9),
    };
    if kdf.m_cost_kib > MAX_M_COST_KIB || kdf.t_cost > MAX_T_COST || kdf.parallelism > MAX_P {
        return Err(malformed(format!(
            "Argon2id parameters out of range (m={} KiB, t={}, p={})",
            kdf.m_cost_kib, kdf.t_cost, kdf.parallelism
        )));
    }
    let salt = &body[13..13 + SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&body[13 + SALT_LEN..HEADER_LEN]);
    let key = derive_key(passphrase, salt, &kdf).map_err(malformed)?;
    let mut in_out = Zeroizing::new(body[HEADER_LEN..].to_vec());
    let plain_len = aead_key(&key)
        .map_err(malformed)?
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&body[..HEADER_LEN]),
            &mut in_out,
        )
        .map_err(|_| CaError::WrongPassphrase {
            path: path.to_path_buf(),
        })?
        .len();
    in_out.truncate(plain_len);
    Ok(in_out)
}

/// PEM text of `der` under `label`, lines of 64 characters.
fn pem_encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    let b64 = Zeroizing::new(B64.encode(der));
    let mut out = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 80));
    out.push_str(&format!("-----BEGIN {label}-----\n"));
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The base64-decoded body of the first `label` block of `text`, if any.
fn pem_block(path: &Path, text: &str, label: &str) -> Result<Option<Vec<u8>>, CaError> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(start) = text.find(&begin) else {
        return Ok(None);
    };
    let rest = &text[start + begin.len()..];
    let Some(stop) = rest.find(&end) else {
        return Err(CaError::MalformedKey {
            path: path.to_path_buf(),
            reason: format!("no {end} line"),
        });
    };
    let b64: String = rest[..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    B64.decode(b64.as_bytes())
        .map(Some)
        .map_err(|e| CaError::MalformedKey {
            path: path.to_path_buf(),
            reason: format!("bad base64: {e}"),
        })
}

/// Writes a PKCS#8 private key to `path` with mode 0600: plain PEM without a
/// passphrase, the Vigil encrypted format (see the module docs) with one.
/// Replaces an existing file atomically.
pub fn write_private_key(
    path: &Path,
    pkcs8_der: &[u8],
    passphrase: Option<&str>,
    kdf: &KdfParams,
) -> Result<(), CaError> {
    let pem = match passphrase {
        None => pem_encode(PLAIN_LABEL, pkcs8_der),
        Some(pass) => pem_encode(ENCRYPTED_LABEL, &encrypt(pkcs8_der, pass, kdf)?),
    };
    write_atomic(path, pem.as_bytes(), 0o600)
}

/// Reads a private key file written by [`write_private_key`] (or any PKCS#8
/// `PRIVATE KEY` PEM file).
///
/// Refuses a file that group or others can access, and an encrypted file when
/// `passphrase` is `None`. A passphrase given for a plain file is ignored.
pub fn load_private_key(
    path: &Path,
    passphrase: Option<&str>,
) -> Result<PrivateKeyDer<'static>, CaError> {
    let meta = std::fs::metadata(path).map_err(|e| CaError::io("reading", path, e))?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(CaError::InsecureKeyFile {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = Zeroizing::new(crate::fsutil::read(path)?);
    let text = std::str::from_utf8(&bytes).map_err(|_| CaError::MalformedKey {
        path: path.to_path_buf(),
        reason: "not a PEM text file".to_string(),
    })?;

    if let Some(body) = pem_block(path, text, ENCRYPTED_LABEL)? {
        let Some(pass) = passphrase else {
            return Err(CaError::PassphraseRequired {
                path: path.to_path_buf(),
                kind: None,
            });
        };
        let der = decrypt(path, &body, pass)?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(der.to_vec())));
    }
    if text.contains(&format!("-----BEGIN {PLAIN_LABEL}-----")) {
        return PrivatePkcs8KeyDer::from_pem_slice(text.as_bytes())
            .map(PrivateKeyDer::Pkcs8)
            .map_err(|e| CaError::MalformedKey {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
    }
    Err(CaError::MalformedKey {
        path: path.to_path_buf(),
        reason: format!("no \"{PLAIN_LABEL}\" or \"{ENCRYPTED_LABEL}\" PEM block"),
    })
}

/// Writes the secret bytes `secret` (a symmetric key, not PKCS#8) to `path` with mode 0600,
/// encrypted like a key file but under the PEM label `VIGIL ENCRYPTED SECRET`. Replaces an
/// existing file atomically.
pub fn write_encrypted_secret(
    path: &Path,
    secret: &[u8],
    passphrase: &str,
    kdf: &KdfParams,
) -> Result<(), CaError> {
    let pem = pem_encode(SECRET_LABEL, &encrypt(secret, passphrase, kdf)?);
    write_atomic(path, pem.as_bytes(), 0o600)
}

/// The secret bytes of `content`, the text of the file `path`, if it is in the format
/// [`write_encrypted_secret`] writes; `None` if it is not (a secret stored in clear).
pub fn read_encrypted_secret(
    path: &Path,
    content: &[u8],
    passphrase: Option<&str>,
) -> Result<Option<Zeroizing<Vec<u8>>>, CaError> {
    let Some(text) = std::str::from_utf8(content).ok() else {
        return Ok(None);
    };
    let Some(body) = pem_block(path, text, SECRET_LABEL)? else {
        return Ok(None);
    };
    let Some(pass) = passphrase else {
        return Err(CaError::PassphraseRequired {
            path: path.to_path_buf(),
            kind: None,
        });
    };
    decrypt(path, &body, pass).map(Some)
}

/// Whether the key file `path` is in the encrypted format (it is read, not decrypted).
pub fn is_encrypted(path: &Path) -> Result<bool, CaError> {
    let bytes = Zeroizing::new(crate::fsutil::read(path)?);
    Ok(bytes
        .windows(ENCRYPTED_LABEL.len())
        .any(|w| w == ENCRYPTED_LABEL.as_bytes()))
}

/// Rewrites the plain key file `path` encrypted under `passphrase` (atomically, mode 0600);
/// returns false, changing nothing, when it is encrypted already. The old file's blocks are
/// not wiped: a copy of the clear key may survive on the disk and in backups.
pub fn encrypt_in_place(path: &Path, passphrase: &str, kdf: &KdfParams) -> Result<bool, CaError> {
    if is_encrypted(path)? {
        return Ok(false);
    }
    let key = load_private_key(path, None)?;
    write_private_key(path, key.secret_der(), Some(passphrase), kdf)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampered_header_is_detected() {
        let dir = tempfile::tempdir().expect("tempdir");
        let der = b"not really pkcs8 but bytes all the same".to_vec();
        let body = encrypt(&der, "pw", &KdfParams::insecure_for_tests()).expect("encrypt");
        let path = dir.path().join("k");
        assert_eq!(
            decrypt(&path, &body, "pw").expect("decrypt").as_slice(),
            der.as_slice()
        );
        let mut bad_salt = body.clone();
        bad_salt[20] ^= 1;
        assert!(matches!(
            decrypt(&path, &bad_salt, "pw"),
            Err(CaError::WrongPassphrase { .. })
        ));
        let mut bad_cost = body.clone();
        bad_cost[4] ^= 1;
        assert!(matches!(
            decrypt(&path, &bad_cost, "pw"),
            Err(CaError::WrongPassphrase { .. })
        ));
        let mut huge = body;
        huge[1] = 0xff;
        assert!(matches!(
            decrypt(&path, &huge, "pw"),
            Err(CaError::MalformedKey { .. })
        ));
    }
}
