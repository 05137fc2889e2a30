//! Ed25519 signatures with the key of a Vigil certificate, outside TLS (the
//! edge signs its batches with the same key as its certificate).

use ring::signature::{Ed25519KeyPair, KeyPair as _};
use rustls::pki_types::CertificateDer;

use crate::CaError;

/// Signs messages with an Ed25519 private key.
pub struct Signer {
    key: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public_key", &crate::fsutil::hex(&self.public_key()))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer from PKCS#8 DER holding an Ed25519 key (v1 or v2 PKCS#8).
    pub fn from_pkcs8(pkcs8_der: &[u8]) -> Result<Signer, CaError> {
        Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8_der)
            .map(|key| Signer { key })
            .map_err(|e| CaError::Crypto {
                what: "loading an Ed25519 key",
                reason: e.to_string(),
            })
    }

    /// The Ed25519 signature of `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.key.sign(message).as_ref());
        out
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.key.public_key().as_ref());
        out
    }
}

/// Whether `signature` is a valid Ed25519 signature of `message` by the key
/// certified in `cert`. False on any failure, including an unparsable
/// certificate. Checks the signature only: verifying the certificate itself
/// (chain, validity, revocation) is the TLS layer's job.
pub fn verify_signed_by(cert: &CertificateDer<'_>, message: &[u8], signature: &[u8]) -> bool {
    match webpki::EndEntityCert::try_from(cert) {
        Ok(ee) => ee
            .verify_signature(webpki::ring::ED25519, message, signature)
            .is_ok(),
        Err(_) => false,
    }
}
