//! Passwords: the strength a new one must have, and its Argon2id hash (PHC string, OWASP's
//! parameters: m = 19 MiB, t = 2, p = 1). A hash is verified in constant time by argon2.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Fewest characters of a password.
pub const MIN_CHARS: usize = 12;
/// Most bytes of a password (longer input is refused, not hashed: Argon2 on megabytes is a
/// denial of service).
pub const MAX_BYTES: usize = 1024;
/// From this length a password needs no mix of character classes (a passphrase).
pub const PASSPHRASE_CHARS: usize = 20;

/// Why a new password is refused; the message says what to do.
pub fn weakness(password: &str, user: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some(format!(
            "a password needs at least {MIN_CHARS} characters (this one has {chars})"
        ));
    }
    if password.len() > MAX_BYTES {
        return Some(format!("a password has at most {MAX_BYTES} bytes"));
    }
    if password.to_lowercase().contains(&user.to_lowercase()) {
        return Some("a password must not contain the user name".into());
    }
    let distinct = password
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if distinct < 5 {
        return Some("a password needs at least 5 different characters".into());
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_numeric()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ]
    .iter()
    .filter(|&&present| present)
    .count();
    if chars < PASSPHRASE_CHARS && classes < 3 {
        return Some(format!(
            "a password shorter than {PASSPHRASE_CHARS} characters needs 3 of: lower case, upper case, digits, other characters"
        ));
    }
    None
}

fn hasher() -> Argon2<'static> {
    // OWASP's minimum for Argon2id; `Params::new` only fails on values outside Argon2's range.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The Argon2id hash of `password` under a random salt, as a PHC string.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
}

/// Whether `password` matches the PHC string `phc` (false for a malformed one).
pub fn verify(password: &str, phc: &str) -> bool {
    if password.len() > MAX_BYTES {
        return false;
    }
    PasswordHash::new(phc).is_ok_and(|parsed| {
        hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        let refused = |p: &str| weakness(p, "alice").unwrap_or_default();
        assert!(refused("Sh0rt!").contains("at least 12 characters (this one has 6)"));
        assert!(refused("xAlice-2026-x!").contains("user name"));
        assert!(refused("aaaaaaaaaaaaAAAA1").contains("5 different"));
        assert!(refused("lowercaseonly1").contains("needs 3 of"));
        assert!(refused(&"Ab1!".repeat(300)).contains("at most 1024 bytes"));
        assert_eq!(weakness("Correct-Horse-7", "alice"), None);
        assert_eq!(weakness("correct horse battery staple", "alice"), None);
    }

    #[test]
    fn a_hash_is_argon2id_salted_and_verifies_only_its_password() {
        let a = hash("Correct-Horse-7").unwrap();
        let b = hash("Correct-Horse-7").unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify("Correct-Horse-7", &a));
        assert!(!verify("Correct-Horse-8", &a));
        assert!(!verify("Correct-Horse-7", "not a hash"));
    }
}
