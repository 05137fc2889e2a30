//! Reading certificates and CRLs from PEM files.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer};

use crate::CaError;

fn load_all<T: PemObject>(path: &Path, what: &'static str) -> Result<Vec<T>, CaError> {
    parse_all(path, &crate::fsutil::read(path)?, what)
}

fn parse_all<T: PemObject>(
    path: &Path,
    bytes: &[u8],
    what: &'static str,
) -> Result<Vec<T>, CaError> {
    let items = T::pem_slice_iter(bytes)
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| CaError::Pem {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if items.is_empty() {
        return Err(CaError::Empty {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(items)
}

/// Every `CERTIFICATE` block of a PEM file, in order. Error if there is none.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, CaError> {
    load_all(path, "certificate")
}

/// Every `X509 CRL` block of a PEM file, in order. Error if there is none
/// (a CA directory always holds a signed, possibly empty, CRL).
pub fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>, CaError> {
    load_all(path, "CRL")
}

/// Every `X509 CRL` block of `bytes`, the content of the file `path` (named in errors), as
/// [`load_crls`] reads them: for a caller that has read the file already.
pub fn parse_crls(
    path: &Path,
    bytes: &[u8],
) -> Result<Vec<CertificateRevocationListDer<'static>>, CaError> {
    parse_all(path, bytes, "CRL")
}
