//! The one error type of the crate: every variant names the file, name or
//! certificate involved and what was wrong with it.

use std::path::PathBuf;

/// What went wrong while running the CA or building TLS configurations.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// A file or directory could not be read, written or created.
    #[error("{action} {path}: {source}", path = path.display())]
    Io {
        /// What was being done ("reading", "creating", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A certificate or CA name does not follow the naming rule.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: String,
    },

    /// A `--host` given for a core certificate is neither an IP address nor a valid name.
    #[error("invalid host {host:?}: {reason}")]
    InvalidHost {
        /// The host as given.
        host: String,
        /// Why it is refused.
        reason: String,
    },

    /// `init` was asked to create a CA where one already exists.
    #[error(
        "a CA already exists in {dir} ({path} is present); refusing to overwrite it",
        dir = dir.display(),
        path = path.display()
    )]
    AlreadyInitialized {
        /// The CA directory.
        dir: PathBuf,
        /// The file whose presence marks the CA.
        path: PathBuf,
    },

    /// `open` was pointed at a directory holding no CA.
    #[error(
        "no CA in {dir}: {path} does not exist (create one with init first)",
        dir = dir.display(),
        path = path.display()
    )]
    NotInitialized {
        /// The directory given.
        dir: PathBuf,
        /// The CA certificate that is missing.
        path: PathBuf,
    },

    /// A private key file can be read by group or others.
    #[error(
        "private key file {path} has mode {mode:04o}, which lets group or others access it; \
         run `chmod 600 {path}`",
        path = path.display()
    )]
    InsecureKeyFile {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// A key file is encrypted and no passphrase was given.
    #[error(
        "private key file {path} is passphrase-protected; give its passphrase{}",
        kind.map(|k| format!(" with {}", k.sources())).unwrap_or_default(),
        path = path.display()
    )]
    PassphraseRequired {
        /// The key file.
        path: PathBuf,
        /// Whose key it is, when known: the message then names the passphrase's sources.
        kind: Option<crate::KeyKind>,
    },

    /// A passphrase source is set but unusable (empty, unreadable, or a file others may read).
    #[error("passphrase from {origin}: {reason}")]
    PassphraseSource {
        /// The source ("environment variable ...", "file ... (...)", "systemd credential ...").
        origin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The passphrase did not decrypt the key file (or the file was altered).
    #[error("wrong passphrase or damaged key file {path}", path = path.display())]
    WrongPassphrase {
        /// The key file.
        path: PathBuf,
    },

    /// A key file is not in a format this crate reads.
    #[error("malformed private key file {path}: {reason}", path = path.display())]
    MalformedKey {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A PEM file could not be parsed.
    #[error("malformed PEM in {path}: {reason}", path = path.display())]
    Pem {
        /// The PEM file.
        path: PathBuf,
        /// The parser's complaint.
        reason: String,
    },

    /// A PEM file that should hold certificates (or CRLs) holds none.
    #[error("{path} contains no {what}", path = path.display())]
    Empty {
        /// The PEM file.
        path: PathBuf,
        /// What was expected ("certificate", "CRL").
        what: &'static str,
    },

    /// `index.json` could not be parsed or has an unknown version.
    #[error("bad CA index {path}: {reason}", path = path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A name already has a live (unrevoked, unexpired) certificate.
    #[error(
        "{name:?} already has a live certificate (serial {serial}); revoke it first to issue a new one"
    )]
    NameInUse {
        /// The name.
        name: String,
        /// Serial of the live certificate.
        serial: String,
    },

    /// `revoke` was asked for a name with no unrevoked certificate.
    #[error("{name:?} has no unrevoked certificate to revoke")]
    NotIssued {
        /// The name.
        name: String,
    },

    /// A leaf certificate name collides with the CA's own file names.
    #[error("{name:?} is reserved: {reason}")]
    ReservedName {
        /// The name.
        name: String,
        /// Why it cannot be used.
        reason: &'static str,
    },

    /// The output directory of `issue` is the CA directory itself.
    #[error("refusing to write issued files into the CA directory {path}", path = path.display())]
    OutputIsCaDir {
        /// The CA directory.
        path: PathBuf,
    },

    /// A requested certificate lifetime is not acceptable.
    #[error("invalid validity of {days} days: {reason}")]
    InvalidValidity {
        /// The lifetime asked for.
        days: u32,
        /// Why it is refused.
        reason: &'static str,
    },

    /// Certificate or CRL generation failed.
    #[error("generating {what}: {source}")]
    Generate {
        /// What was being generated.
        what: String,
        /// rcgen's error.
        source: rcgen::Error,
    },

    /// A private key does not belong to the certificate it is paired with.
    #[error("private key {key} does not match certificate {cert}", key = key.display(), cert = cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },

    /// A certificate could not be parsed or lacks what is needed.
    #[error("bad certificate: {reason}")]
    BadCertificate {
        /// What is wrong with it.
        reason: String,
    },

    /// A cryptographic primitive refused its input.
    #[error("{what}: {reason}")]
    Crypto {
        /// What was being done.
        what: &'static str,
        /// The primitive's complaint.
        reason: String,
    },

    /// rustls refused to build a configuration.
    #[error("building the TLS {what}: {source}")]
    Tls {
        /// Which configuration ("server config", "client config").
        what: &'static str,
        /// rustls's error.
        source: rustls::Error,
    },

    /// A CRL that is not the CA's: revocation would not apply to the CA's certificates.
    #[error("a CRL not issued by the CA: {reason}")]
    ForeignCrl {
        /// Why.
        reason: String,
    },

    /// rustls refused to build a certificate verifier.
    #[error("building the {what} verifier: {source}")]
    Verifier {
        /// Which verifier ("client certificate", "server certificate").
        what: &'static str,
        /// rustls's error.
        source: rustls::server::VerifierBuilderError,
    },
}

impl CaError {
    /// This error, naming the passphrase sources of `kind` if it is [`CaError::PassphraseRequired`].
    pub fn for_key(self, kind: crate::KeyKind) -> Self {
        match self {
            CaError::PassphraseRequired { path, .. } => CaError::PassphraseRequired {
                path,
                kind: Some(kind),
            },
            other => other,
        }
    }

    /// Shorthand for [`CaError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        CaError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
