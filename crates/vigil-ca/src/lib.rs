//! Vigil's private certificate authority for the event bus, and the
//! mutual-TLS configurations built from it.
//!
//! - [`Authority`] creates and runs a CA directory: Ed25519 CA certificate and
//!   key, sensor and core certificates, revocation and the CRL.
//! - [`load_private_key`] and [`keyfile::write_private_key`] read and write
//!   key files, plain PKCS#8 or passphrase-encrypted (Argon2id +
//!   ChaCha20-Poly1305, format in [`keyfile`]); [`passphrase`] decides where their
//!   passphrases come from.
//! - [`TlsIdentity`], [`server_config`] and [`client_config`] give the
//!   rustls configurations of the bus: TLS 1.3, mutual authentication, CRLs,
//!   ALPN `vigil-bus/1`, `ring` provider.
//! - [`peer_name`], [`Signer`] and [`verify_signed_by`] tie a peer to its name
//!   and sign or verify messages with a certificate's key.

pub mod authority;
mod error;
mod fsutil;
pub mod keyfile;
pub mod names;
pub mod passphrase;
mod pemfile;
mod sign;
pub mod tls;
pub mod web;

pub use authority::{
    Authority, DEFAULT_CA_VALIDITY_DAYS, DEFAULT_LEAF_VALIDITY_DAYS, Issued, IssuedCert, Role,
};
pub use error::CaError;
pub use keyfile::{
    KdfParams, encrypt_in_place, is_encrypted, load_private_key, read_encrypted_secret,
    write_encrypted_secret, write_private_key,
};
pub use names::validate_name;
pub use passphrase::{KeyKind, Passphrase, own_passphrase, passphrase};
pub use pemfile::{load_certs, load_crls, parse_crls};
pub use sign::{Signer, verify_signed_by};
pub use tls::{
    ALPN, TlsIdentity, client_config, client_verifier, is_revoked, peer_name, server_config,
    server_config_with,
};
