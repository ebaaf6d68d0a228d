//! The issuer's error type. Messages never contain secrets (private keys,
//! passphrases, provisioning-key secrets): callers build them from ids only.

use std::fmt;
use std::string::String;
use std::sync::Arc;

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
    /// A client's keys must be fetched from its `jwks_uri` before its
    /// assertion can be checked: the caller fetches and asks again
    /// ([`Error::fetch_needed`]; not a refusal, nothing was audited).
    FetchNeeded,
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
    /// A DPoP proof is required of this client and missing, or was used
    /// before (RFC 9449 `invalid_dpop_proof`).
    Dpop,
}

impl Refusal {
    /// A stable label (metrics, logs): `malformed_client`, `unknown_client`,
    /// `wrong_secret`, `rotated_secret`, `revoked_client`, `expired_client`,
    /// `scope`, `audience`, `request`, `permission`, `dpop`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Client(f) => f.label(),
            Self::Scope => "scope",
            Self::Audience => "audience",
            Self::Request => "request",
            Self::Permission => "permission",
            Self::Dpop => "dpop",
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
    /// The client authenticated with the other method than the one it is
    /// registered for (a secret for a `private_key_jwt` client, or an
    /// assertion for a client with a secret).
    WrongMethod,
    /// Its client assertion failed a check (signature, key, claims, `typ`).
    BadAssertion,
    /// Its client assertion's `jti` was used before (RFC 7523 §3).
    ReplayedAssertion,
    /// Its `jwks_uri` gave no usable key set.
    KeysUnavailable,
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
            Self::WrongMethod => "wrong_auth_method",
            Self::BadAssertion => "invalid_assertion",
            Self::ReplayedAssertion => "replayed_assertion",
            Self::KeysUnavailable => "jwks_uri_unavailable",
        }
    }
}

/// An issuer failure: each variant carries what it has (a refusal its
/// reason's class, a storage failure the driver's error as its
/// [`source`](std::error::Error::source)). Messages never hold a secret.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// Invalid arguments or configuration.
    Usage(String),
    /// No issuer store at the given location.
    NotInitialized(String),
    /// `init` on a store that already holds one.
    AlreadyInitialized(String),
    /// A secret is missing or wrong; `secret` says which (an adapter says
    /// how to give it).
    Passphrase {
        /// The secret at fault.
        secret: Secret,
        /// What happened.
        message: String,
    },
    /// Key material or signing failed.
    Crypto(String),
    /// The store failed.
    Storage {
        /// What failed (never a connection string's password).
        message: String,
        /// The driver's error, where there is one.
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
    /// No such key, client or token.
    NotFound(String),
    /// A request refused, with its reason's class.
    Refused {
        /// The reason's class (what the server answers and audits).
        refusal: Refusal,
        /// Why, in words.
        message: String,
    },
    /// A client's `jwks_uri` must be fetched first (see
    /// [`ErrorKind::FetchNeeded`]): the URL and the fetch's time limit.
    FetchNeeded {
        /// What to fetch (the client's registered `jwks_uri`).
        url: String,
        /// How long the fetch may take, in seconds.
        timeout: u64,
    },
}

/// The secret an [`Error::Passphrase`] failure is about. The library names
/// it; adapters say how their users give it (the CLI: its flags and
/// environment variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secret {
    /// The passphrase the store's signing keys are encrypted under
    /// ([`crate::issuer::Secrets::new`]).
    Passphrase,
    /// The user PIN of the PKCS#11 token
    /// ([`crate::issuer::Secrets::with_pkcs11_pin`]).
    Pkcs11Pin,
    /// Consent to use signing keys stored unencrypted (development stores only).
    InsecureDevKeys,
}

/// Result with the issuer [`Error`].
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// A new error of `kind` (a [`ErrorKind::Refused`] made here is a
    /// [`Refusal::Request`]; [`Error::refused_for`] names the class).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let message = message.into();
        match kind {
            ErrorKind::Usage => Self::Usage(message),
            ErrorKind::NotInitialized => Self::NotInitialized(message),
            ErrorKind::AlreadyInitialized => Self::AlreadyInitialized(message),
            ErrorKind::Passphrase => Self::Passphrase {
                secret: Secret::Passphrase,
                message,
            },
            ErrorKind::Crypto => Self::Crypto(message),
            ErrorKind::Storage => Self::Storage {
                message,
                source: None,
            },
            ErrorKind::NotFound => Self::NotFound(message),
            ErrorKind::Refused => Self::Refused {
                refusal: Refusal::Request,
                message,
            },
            ErrorKind::FetchNeeded => Self::FetchNeeded {
                url: message,
                timeout: 5,
            },
        }
    }

    /// A refused request, with the reason's class.
    pub fn refused_for(refusal: Refusal, message: impl Into<String>) -> Self {
        Self::Refused {
            refusal,
            message: message.into(),
        }
    }

    /// The client keys at `url` must be fetched (within `timeout` seconds)
    /// before the request can be decided.
    pub fn fetch_needed(url: impl Into<String>, timeout: u64) -> Self {
        Self::FetchNeeded {
            url: url.into(),
            timeout,
        }
    }

    /// The fetch a [`ErrorKind::FetchNeeded`] error asks for: URL and time limit.
    pub fn fetch(&self) -> Option<(&str, u64)> {
        match self {
            Self::FetchNeeded { url, timeout } => Some((url, *timeout)),
            _ => None,
        }
    }

    /// A missing or wrong `secret`.
    pub fn secret_needed(secret: Secret, message: impl Into<String>) -> Self {
        Self::Passphrase {
            secret,
            message: message.into(),
        }
    }

    /// The secret a [`ErrorKind::Passphrase`] error is about.
    pub fn secret(&self) -> Option<Secret> {
        match self {
            Self::Passphrase { secret, .. } => Some(*secret),
            _ => None,
        }
    }

    /// Why a request was refused (`None` for other errors).
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Self::Refused { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }

    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    /// A crypto failure.
    pub fn crypto(message: impl Into<String>) -> Self {
        Self::Crypto(message.into())
    }

    /// A storage failure.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    /// A storage failure caused by a driver error.
    pub fn storage_from(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self::Storage {
            message: message.into(),
            source: Some(Arc::new(source)),
        }
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Usage(_) => ErrorKind::Usage,
            Self::NotInitialized(_) => ErrorKind::NotInitialized,
            Self::AlreadyInitialized(_) => ErrorKind::AlreadyInitialized,
            Self::Passphrase { .. } => ErrorKind::Passphrase,
            Self::Crypto(_) => ErrorKind::Crypto,
            Self::Storage { .. } => ErrorKind::Storage,
            Self::NotFound(_) => ErrorKind::NotFound,
            Self::Refused { .. } => ErrorKind::Refused,
            Self::FetchNeeded { .. } => ErrorKind::FetchNeeded,
        }
    }

    /// The message (never contains a secret).
    pub fn message(&self) -> &str {
        match self {
            Self::Usage(m)
            | Self::NotInitialized(m)
            | Self::AlreadyInitialized(m)
            | Self::Passphrase { message: m, .. }
            | Self::Crypto(m)
            | Self::NotFound(m)
            | Self::Storage { message: m, .. }
            | Self::Refused { message: m, .. }
            | Self::FetchNeeded { url: m, .. } => m,
        }
    }

    /// A stable code, e.g. `ERR_ISSUER_REFUSED`.
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }
}

impl ErrorKind {
    /// The stable code of errors of this kind, e.g. `ERR_ISSUER_REFUSED`.
    pub fn code(self) -> &'static str {
        match self {
            Self::Usage => "ERR_ISSUER_USAGE",
            Self::NotInitialized => "ERR_ISSUER_NOT_INITIALIZED",
            Self::AlreadyInitialized => "ERR_ISSUER_ALREADY_INITIALIZED",
            Self::Passphrase => "ERR_ISSUER_PASSPHRASE",
            Self::Crypto => "ERR_ISSUER_CRYPTO",
            Self::Storage => "ERR_ISSUER_STORE",
            Self::NotFound => "ERR_ISSUER_NOT_FOUND",
            Self::Refused => "ERR_ISSUER_REFUSED",
            Self::FetchNeeded => "ERR_ISSUER_FETCH_NEEDED",
        }
    }
}

/// Errors are equal when their kind, refusal and message are (a storage
/// error's source is not compared).
impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind()
            && self.refusal() == other.refusal()
            && self.message() == other.message()
    }
}

impl Eq for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Storage {
                source: Some(s), ..
            } => Some(s.as_ref()),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        // SQL parameters are bound, never formatted into the statement, so a
        // SQLite message cannot carry a secret.
        Self::storage_from(std::format!("database error: {e}"), e)
    }
}
