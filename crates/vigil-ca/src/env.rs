//! Where passphrases come from: environment variables, never files or command lines.

use zeroize::Zeroizing;

/// Holds the passphrase of a certificate's key: the core's and an edge's at start, and the
/// one `vigil ca issue` protects a new key with.
pub const KEY_PASSPHRASE_ENV: &str = "VIGIL_KEY_PASSPHRASE";
/// Holds the passphrase of a CA's key (`vigil ca`, and the core's automatic CA).
pub const CA_PASSPHRASE_ENV: &str = "VIGIL_CA_PASSPHRASE";

/// The passphrase in environment variable `var`, if set.
pub fn passphrase_from_env(var: &str) -> Option<Zeroizing<String>> {
    std::env::var(var).ok().map(Zeroizing::new)
}
