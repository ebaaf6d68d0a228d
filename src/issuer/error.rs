//! The issuer's error type. Messages never contain secrets (private keys,
//! passphrases, provisioning-key secrets): callers build them from ids only.

use std::fmt;
use std::string::String;

/// What kind of failure an [`Error`] is; decides the code and the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bad arguments or an invalid request (exit 2).
    Usage,
    /// The store has not been initialised with `init` (exit 2).
    NotInitialized,
    /// `init` on a store that already has settings (exit 2).
    AlreadyInitialized,
    /// A private key is needed and no passphrase was given, or it is wrong (exit 2).
    Passphrase,
    /// Key generation, encoding or signing failed (exit 2).
    Crypto,
    /// The store failed (exit 2).
    Storage,
    /// A named key, provisioning key or token does not exist (exit 2).
    NotFound,
    /// An issuance was refused: the provisioning key is wrong, expired or
    /// revoked, or the request exceeds what it allows (exit 1). Always audited.
    Refused,
}

/// Why an issuance was refused, for protocol adapters (the HTTP server maps
/// these to RFC 6749 §5.2 error codes). Set only on [`ErrorKind::Refused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The provisioning key is malformed, unknown, wrong, expired or revoked
    /// (which one is for the audit log and metrics, never for the client).
    Client(ClientFailure),
    /// A requested scope is invalid or not allowed, or none was requested.
    Scope,
    /// A requested audience is not allowed, or none was given.
    Audience,
    /// Anything else the request asks for that is not allowed (lifetime, claims).
    Request,
    /// The client is authenticated but lacks the permission for the call
    /// (e.g. `introspect`).
    Permission,
}

impl Refusal {
    /// A stable label (metrics, logs): `malformed_client`, `unknown_client`,
    /// `wrong_secret`, `rotated_secret`, `revoked_client`, `expired_client`,
    /// `scope`, `audience`, `request`, `permission`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Client(f) => f.label(),
            Self::Scope => "scope",
            Self::Audience => "audience",
            Self::Request => "request",
            Self::Permission => "permission",
        }
    }
}

/// Why a client's authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientFailure {
    /// Not `jep_<id>_<secret>`.
    Malformed,
    /// No provisioning key has this id.
    Unknown,
    /// The secret is neither the current one nor a previous one.
    WrongSecret,
    /// A previous secret whose rotation overlap has ended.
    RotatedSecret,
    /// The provisioning key was revoked.
    Revoked,
    /// The provisioning key expired.
    Expired,
}

impl ClientFailure {
    /// A stable label (see [`Refusal::label`]).
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed_client",
            Self::Unknown => "unknown_client",
            Self::WrongSecret => "wrong_secret",
            Self::RotatedSecret => "rotated_secret",
            Self::Revoked => "revoked_client",
            Self::Expired => "expired_client",
        }
    }
}

/// An issuer failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    refusal: Option<Refusal>,
}

/// Result with the issuer [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            refusal: None,
        }
    }

    /// A refused issuance, with the reason's class.
    pub fn refused_for(refusal: Refusal, message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Refused,
            message: message.into(),
            refusal: Some(refusal),
        }
    }

    /// Why an issuance was refused (`None` for other errors, or a refusal
    /// made without a class).
    pub fn refusal(&self) -> Option<Refusal> {
        self.refusal
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }

    /// A refused issuance.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }

    /// A crypto failure.
    pub fn crypto(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Crypto, message)
    }

    /// A storage failure.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message (never contains a secret).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A stable code, e.g. `ERR_ISSUER_REFUSED`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Usage => "ERR_ISSUER_USAGE",
            ErrorKind::NotInitialized => "ERR_ISSUER_NOT_INITIALIZED",
            ErrorKind::AlreadyInitialized => "ERR_ISSUER_ALREADY_INITIALIZED",
            ErrorKind::Passphrase => "ERR_ISSUER_PASSPHRASE",
            ErrorKind::Crypto => "ERR_ISSUER_CRYPTO",
            ErrorKind::Storage => "ERR_ISSUER_STORE",
            ErrorKind::NotFound => "ERR_ISSUER_NOT_FOUND",
            ErrorKind::Refused => "ERR_ISSUER_REFUSED",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // SQL parameters are bound, never formatted into the statement, so a
        // SQLite message cannot carry a secret.
        Self::storage(std::format!("database error: {e}"))
    }
}
