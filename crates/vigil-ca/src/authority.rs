//! The certificate authority: its directory, issuing and revoking certificates.
//!
//! # Directory layout
//!
//! | file | mode | content |
//! | --- | --- | --- |
//! | (the directory) | 0700 | |
//! | `ca.pem` | 0644 | the CA certificate |
//! | `ca.key` | 0600 | the CA private key (encrypted when a passphrase was given) |
//! | `crl.pem` | 0644 | the current CRL, signed by the CA |
//! | `index.json` | 0644 | every certificate issued, see [`IssuedCert`] |
//!
//! Every file is replaced atomically (temporary file, fsync, rename).
//!
//! # Identities
//!
//! One name has at most one live certificate: issuing a name that has an
//! unrevoked, unexpired certificate is refused until it is revoked. A sensor
//! certificate has CN = name, a single DNS SAN = name and EKU clientAuth; a
//! core certificate has CN = name, SANs = name plus its hosts, and EKU
//! serverAuth and clientAuth. All keys are Ed25519; serial numbers are 16
//! random bytes (top bit clear so the integer is positive).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_ED25519, RevokedCertParams, SanType, SerialNumber,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

use crate::fsutil::{create_private_dir, hex, random_bytes, write_atomic};
use crate::keyfile::{KdfParams, load_private_key, write_private_key};
use crate::names::{Host, parse_host, validate_name};
use crate::{CaError, Signer, verify_signed_by};

/// Default lifetime of the CA certificate: 10 years.
pub const DEFAULT_CA_VALIDITY_DAYS: u32 = 3650;
/// Default lifetime of a sensor or core certificate.
pub const DEFAULT_LEAF_VALIDITY_DAYS: u32 = 825;
/// How far ahead each CRL announces its successor.
pub const CRL_NEXT_UPDATE_DAYS: i64 = 30;
/// Certificates start this long before their issuance, for peers whose clock is a little behind.
pub(crate) const BACKDATE: Duration = Duration::minutes(5);
const INDEX_VERSION: u32 = 1;

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const CRL: &str = "crl.pem";
const INDEX: &str = "index.json";

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An edge sensor: TLS client only (EKU clientAuth).
    Sensor,
    /// A core server: accepts sensors and may forward upward (EKU serverAuth and clientAuth).
    Core,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Sensor => "sensor",
            Role::Core => "core",
        })
    }
}

/// One certificate in the CA's `index.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCert {
    /// The name (CN and first DNS SAN).
    pub name: String,
    /// Sensor or core.
    pub role: Role,
    /// Serial number, lower-case hex (32 digits).
    pub serial: String,
    /// Start of validity, RFC 3339 UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// When it was revoked, RFC 3339 UTC; `None` while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
}

impl IssuedCert {
    /// Unrevoked and not yet expired at `now`.
    fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none()
            && OffsetDateTime::parse(&self.not_after, &Rfc3339).map_or(true, |t| t > now)
    }
}

/// The files written by [`Authority::issue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issued {
    /// `out_dir/NAME.pem`, the new certificate.
    pub cert: PathBuf,
    /// `out_dir/NAME.key`, its private key (mode 0600).
    pub key: PathBuf,
    /// `out_dir/ca.pem`, a copy of the CA certificate.
    pub ca: PathBuf,
    /// The certificate's serial number, lower-case hex.
    pub serial: String,
}

/// Contents of `index.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Index {
    version: u32,
    ca_name: String,
    ca_not_after: String,
    crl_number: u64,
    certs: Vec<IssuedCert>,
}

/// A loaded certificate authority: its certificate, key and directory.
pub struct Authority {
    dir: PathBuf,
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    index: Index,
    kdf: KdfParams,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("dir", &self.dir)
            .field("name", &self.index.ca_name)
            .field("issued", &self.index.certs.len())
            .finish_non_exhaustive()
    }
}

fn rfc3339(t: OffsetDateTime) -> Result<String, CaError> {
    t.format(&Rfc3339).map_err(|e| CaError::Crypto {
        what: "formatting a timestamp",
        reason: e.to_string(),
    })
}

pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

pub(crate) fn generate_err(what: impl Into<String>) -> impl FnOnce(rcgen::Error) -> CaError {
    let what = what.into();
    move |source| CaError::Generate { what, source }
}

/// 16 random bytes forming a positive integer of exactly 16 bytes.
pub(crate) fn new_serial() -> Result<[u8; 16], CaError> {
    let mut serial = random_bytes::<16>()?;
    serial[0] &= 0x7f;
    if serial[0] == 0 {
        serial[0] = 1;
    }
    Ok(serial)
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

pub(crate) fn dn_with_cn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

pub(crate) fn dns_san(name: &str) -> Result<SanType, CaError> {
    rcgen::string::Ia5String::try_from(name.to_string())
        .map(SanType::DnsName)
        .map_err(|e| CaError::InvalidName {
            name: name.to_string(),
            reason: e.to_string(),
        })
}

impl Authority {
    /// Creates a new CA named `name` in `dir` (refuses if `dir/ca.pem` exists):
    /// CA certificate (CN "Vigil CA NAME", basicConstraints CA pathlen 0,
    /// keyCertSign + cRLSign, 10 years), its key (encrypted with `passphrase`
    /// if given), an empty CRL and an empty index.
    pub fn init(dir: &Path, name: &str, passphrase: Option<&str>) -> Result<Authority, CaError> {
        Self::init_with(
            dir,
            name,
            passphrase,
            DEFAULT_CA_VALIDITY_DAYS,
            KdfParams::default(),
        )
    }

    /// [`Authority::init`] with a chosen CA lifetime and key-file KDF cost;
    /// the KDF cost also applies to keys issued through the returned value.
    #[doc(hidden)]
    pub fn init_with(
        dir: &Path,
        name: &str,
        passphrase: Option<&str>,
        validity_days: u32,
        kdf: KdfParams,
    ) -> Result<Authority, CaError> {
        validate_name(name)?;
        let ca_path = dir.join(CA_CERT);
        if ca_path.exists() {
            return Err(CaError::AlreadyInitialized {
                dir: dir.to_path_buf(),
                path: ca_path,
            });
        }
        if validity_days == 0 {
            return Err(CaError::InvalidValidity {
                days: validity_days,
                reason: "must be at least one day",
            });
        }
        create_private_dir(dir)?;

        let key = KeyPair::generate_for(&PKCS_ED25519).map_err(generate_err("the CA key"))?;
        let not_before = now() - BACKDATE;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn_with_cn(&format!("Vigil CA {name}"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.serial_number = Some(SerialNumber::from_slice(&new_serial()?));
        params.not_before = not_before;
        params.not_after = not_before + Duration::days(i64::from(validity_days));
        let cert = params
            .self_signed(&key)
            .map_err(generate_err("the CA certificate"))?;

        let pkcs8 = Zeroizing::new(key.serialize_der());
        write_private_key(&dir.join(CA_KEY), &pkcs8, passphrase, &kdf)?;
        let ca_der = cert.der().clone();
        let issuer = Issuer::from_ca_cert_der(&ca_der, key)
            .map_err(generate_err("the issuer from the CA certificate"))?;
        let mut authority = Authority {
            dir: dir.to_path_buf(),
            ca_pem: cert.pem(),
            ca_der,
            issuer,
            index: Index {
                version: INDEX_VERSION,
                ca_name: name.to_string(),
                ca_not_after: rfc3339(params.not_after)?,
                crl_number: 0,
                certs: Vec::new(),
            },
            kdf,
        };
        authority.write_crl()?;
        authority.save_index()?;
        // ca.pem last: its presence marks a complete CA.
        write_atomic(&ca_path, authority.ca_pem.as_bytes(), 0o644)?;
        tracing::info!(dir = %dir.display(), name, "created Vigil CA");
        Ok(authority)
    }

    /// Opens the CA in `dir`; `passphrase` decrypts `ca.key` if it is encrypted.
    pub fn open(dir: &Path, passphrase: Option<&str>) -> Result<Authority, CaError> {
        let ca_path = dir.join(CA_CERT);
        if !ca_path.exists() {
            return Err(CaError::NotInitialized {
                dir: dir.to_path_buf(),
                path: ca_path,
            });
        }
        let ca_pem =
            String::from_utf8(crate::fsutil::read(&ca_path)?).map_err(|_| CaError::Pem {
                path: ca_path.clone(),
                reason: "not UTF-8 text".to_string(),
            })?;
        let ca_der = crate::load_certs(&ca_path)?.swap_remove(0);

        let key_path = dir.join(CA_KEY);
        let key_der = Zeroizing::new(
            load_private_key(&key_path, passphrase).map_err(|e| e.for_key(crate::KeyKind::Ca))?,
        );
        let pkcs8 = PrivatePkcs8KeyDer::from(key_der.secret_der());
        let signer = Signer::from_pkcs8(pkcs8.secret_pkcs8_der())?;
        let probe = b"vigil-ca key check";
        if !verify_signed_by(&ca_der, probe, &signer.sign(probe)) {
            return Err(CaError::KeyMismatch {
                cert: ca_path,
                key: key_path,
            });
        }
        let key = KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &PKCS_ED25519).map_err(|e| {
            CaError::MalformedKey {
                path: key_path.clone(),
                reason: e.to_string(),
            }
        })?;
        let issuer = Issuer::from_ca_cert_der(&ca_der, key).map_err(generate_err(format!(
            "the issuer from {}",
            ca_path.display()
        )))?;

        let index_path = dir.join(INDEX);
        let index: Index =
            serde_json::from_slice(&crate::fsutil::read(&index_path)?).map_err(|e| {
                CaError::Index {
                    path: index_path.clone(),
                    reason: e.to_string(),
                }
            })?;
        if index.version != INDEX_VERSION {
            return Err(CaError::Index {
                path: index_path,
                reason: format!(
                    "version {} (this build reads version {INDEX_VERSION})",
                    index.version
                ),
            });
        }
        Ok(Authority {
            dir: dir.to_path_buf(),
            ca_pem,
            ca_der,
            issuer,
            index,
            kdf: KdfParams::default(),
        })
    }

    /// Sets the Argon2id cost used for encrypted keys written by [`Authority::issue`].
    #[doc(hidden)]
    pub fn set_kdf_params(&mut self, kdf: KdfParams) {
        self.kdf = kdf;
    }

    /// Issues a certificate: writes `out_dir/NAME.pem` (leaf cert),
    /// `out_dir/NAME.key` (0600, encrypted if `key_passphrase`), and
    /// `out_dir/ca.pem` (copy of the CA cert), and records it in the index.
    ///
    /// `hosts` (core only) become extra DNS SANs, or IP SANs for IP addresses.
    /// Refused when NAME already has a live certificate, when `out_dir` is the
    /// CA directory, and when the certificate would outlive the CA.
    pub fn issue(
        &mut self,
        role: Role,
        name: &str,
        hosts: &[String],
        out_dir: &Path,
        key_passphrase: Option<&str>,
        validity_days: u32,
    ) -> Result<Issued, CaError> {
        validate_name(name)?;
        if name == "ca" {
            return Err(CaError::ReservedName {
                name: name.to_string(),
                reason: "NAME.pem would collide with the copy of the CA certificate, ca.pem",
            });
        }
        let mut sans = vec![dns_san(name)?];
        match role {
            Role::Sensor => {
                if let Some(host) = hosts.first() {
                    return Err(CaError::InvalidHost {
                        host: host.clone(),
                        reason:
                            "hosts are only for core certificates; a sensor's only SAN is its name"
                                .to_string(),
                    });
                }
            }
            Role::Core => {
                for host in hosts {
                    let san = match parse_host(host)? {
                        Host::Ip(ip) => SanType::IpAddress(ip),
                        Host::Dns(dns) => dns_san(&dns)?,
                    };
                    if !sans.contains(&san) {
                        sans.push(san);
                    }
                }
            }
        }
        let now = now();
        if let Some(live) = self
            .index
            .certs
            .iter()
            .find(|c| c.name == name && c.is_live(now))
        {
            return Err(CaError::NameInUse {
                name: name.to_string(),
                serial: live.serial.clone(),
            });
        }
        if validity_days == 0 {
            return Err(CaError::InvalidValidity {
                days: validity_days,
                reason: "must be at least one day",
            });
        }
        let not_before = now - BACKDATE;
        let not_after = not_before + Duration::days(i64::from(validity_days));
        if let Ok(ca_end) = OffsetDateTime::parse(&self.index.ca_not_after, &Rfc3339)
            && not_after > ca_end
        {
            return Err(CaError::InvalidValidity {
                days: validity_days,
                reason: "the certificate would outlive the CA certificate",
            });
        }

        std::fs::create_dir_all(out_dir).map_err(|e| CaError::io("creating", out_dir, e))?;
        let same_dir = match (out_dir.canonicalize(), self.dir.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same_dir {
            return Err(CaError::OutputIsCaDir {
                path: self.dir.clone(),
            });
        }

        let key = KeyPair::generate_for(&PKCS_ED25519)
            .map_err(generate_err(format!("the key of {name}")))?;
        let serial = new_serial()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn_with_cn(name);
        params.subject_alt_names = sans;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match role {
            Role::Sensor => vec![ExtendedKeyUsagePurpose::ClientAuth],
            Role::Core => vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
        };
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        params.not_before = not_before;
        params.not_after = not_after;
        params.use_authority_key_identifier_extension = true;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(generate_err(format!("the certificate of {name}")))?;

        let issued = Issued {
            cert: out_dir.join(format!("{name}.pem")),
            key: out_dir.join(format!("{name}.key")),
            ca: out_dir.join(CA_CERT),
            serial: hex(&serial),
        };
        let pkcs8 = Zeroizing::new(key.serialize_der());
        let written = write_private_key(&issued.key, &pkcs8, key_passphrase, &self.kdf)
            .and_then(|()| write_atomic(&issued.cert, cert.pem().as_bytes(), 0o644))
            .and_then(|()| write_atomic(&issued.ca, self.ca_pem.as_bytes(), 0o644));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&issued.key);
            let _ = std::fs::remove_file(&issued.cert);
            return Err(e);
        }

        self.index.certs.push(IssuedCert {
            name: name.to_string(),
            role,
            serial: issued.serial.clone(),
            not_before: rfc3339(not_before)?,
            not_after: rfc3339(not_after)?,
            revoked_at: None,
        });
        if let Err(e) = self.save_index() {
            // Unrecorded, the certificate could never be revoked: take it back.
            self.index.certs.pop();
            let _ = std::fs::remove_file(&issued.key);
            let _ = std::fs::remove_file(&issued.cert);
            return Err(e);
        }
        tracing::info!(name, %role, serial = %issued.serial, "issued certificate");
        Ok(issued)
    }

    /// Revokes every unrevoked certificate of NAME: marks it in `index.json`
    /// and rewrites `crl.pem` (new CRL number, next update in 30 days).
    /// Returns the certificates revoked. Error if NAME has none.
    pub fn revoke(&mut self, name: &str) -> Result<Vec<IssuedCert>, CaError> {
        let when = rfc3339(now())?;
        let before = self.index.clone();
        let mut revoked = Vec::new();
        for cert in &mut self.index.certs {
            if cert.name == name && cert.revoked_at.is_none() {
                cert.revoked_at = Some(when.clone());
                revoked.push(cert.clone());
            }
        }
        if revoked.is_empty() {
            return Err(CaError::NotIssued {
                name: name.to_string(),
            });
        }
        // CRL first: if the index then fails, the certificate is revoked for
        // every peer and revoking again rewrites both.
        if let Err(e) = self.write_crl().and_then(|()| self.save_index()) {
            self.index = before;
            return Err(e);
        }
        for cert in &revoked {
            tracing::info!(name, serial = %cert.serial, "revoked certificate");
        }
        Ok(revoked)
    }

    /// Re-signs `crl.pem` with a new CRL number and a next update 30 days
    /// ahead, for CAs whose peers enforce CRL expiry.
    pub fn refresh_crl(&mut self) -> Result<(), CaError> {
        let before = self.index.crl_number;
        if let Err(e) = self.write_crl().and_then(|()| self.save_index()) {
            self.index.crl_number = before;
            return Err(e);
        }
        Ok(())
    }

    /// Certificates issued so far, in issuing order.
    pub fn issued(&self) -> &[IssuedCert] {
        &self.index.certs
    }

    /// The CA directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA's name (its certificate's CN is "Vigil CA NAME").
    pub fn name(&self) -> &str {
        &self.index.ca_name
    }

    /// The CA certificate.
    pub fn ca_cert(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// Path of the CA certificate, `dir/ca.pem`.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// Path of the CA's private key, `dir/ca.key`.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join(CA_KEY)
    }

    /// Path of the current CRL, `dir/crl.pem`.
    pub fn crl_path(&self) -> PathBuf {
        self.dir.join(CRL)
    }

    /// Increments the CRL number and writes `crl.pem` listing every revoked certificate.
    fn write_crl(&mut self) -> Result<(), CaError> {
        let this_update = now();
        let mut revoked_certs = Vec::new();
        for cert in &self.index.certs {
            let Some(at) = &cert.revoked_at else { continue };
            let serial = parse_hex(&cert.serial).ok_or_else(|| CaError::Index {
                path: self.dir.join(INDEX),
                reason: format!("serial {:?} of {:?} is not hex", cert.serial, cert.name),
            })?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: OffsetDateTime::parse(at, &Rfc3339).unwrap_or(this_update),
                reason_code: None,
                invalidity_date: None,
            });
        }
        let number = self.index.crl_number + 1;
        let number_bytes = number.to_be_bytes();
        let first = number_bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(number_bytes.len() - 1);
        let params = CertificateRevocationListParams {
            this_update,
            next_update: this_update + Duration::days(CRL_NEXT_UPDATE_DAYS),
            crl_number: SerialNumber::from_slice(&number_bytes[first..]),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params
            .signed_by(&self.issuer)
            .map_err(generate_err("the CRL"))?;
        let pem = crl.pem().map_err(generate_err("the CRL's PEM"))?;
        write_atomic(&self.dir.join(CRL), pem.as_bytes(), 0o644)?;
        self.index.crl_number = number;
        Ok(())
    }

    fn save_index(&self) -> Result<(), CaError> {
        let path = self.dir.join(INDEX);
        let mut json = serde_json::to_vec_pretty(&self.index).map_err(|e| CaError::Index {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        json.push(b'\n');
        write_atomic(&path, &json, 0o644)
    }
}
