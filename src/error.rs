//! The one error type of the crate, with stable `ERR_*` codes.
//!
//! Codes follow panva/jose where the meaning is the same, so code that switches
//! on `err.code` can move between the two libraries. Messages are written for a
//! person fixing the problem; they never contain key material or secrets.

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

/// What kind of failure an [`Error`] is. Each kind maps to one stable code.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The compact JWS is malformed (segments, base64url, header JSON, `crit`, size).
    JwsInvalid,
    /// The JWT claims set is malformed (payload not a JSON object, bad JSON).
    JwtInvalid,
    /// The token's `alg` is not on the verifier's allowlist (or is `none`).
    AlgNotAllowed,
    /// The algorithm or key type is recognised but not available in this build.
    NotSupported,
    /// The key set as a whole is unusable (not a `{"keys":[...]}` object, bad secret).
    JwksInvalid,
    /// No trusted key fits the token's `kid` and `alg`.
    NoMatchingKey,
    /// More than one trusted key fits and the policy does not allow trying several.
    MultipleMatchingKeys,
    /// The signature does not verify with the selected key.
    SignatureVerificationFailed,
    /// `exp` has passed, or the token is older than the policy's maximum age.
    Expired,
    /// A claim is missing, malformed, or fails a policy check (see `claim`/`reason`).
    ClaimValidationFailed,
    /// The token is listed in the revocation list (see `revocation_reason`).
    Revoked,
    /// A revocation list could not be accepted (malformed, bad signature, older epoch).
    RevocationListInvalid,
    /// A remote JWKS could not be fetched and no usable copy is held (retryable).
    JwksTimeout,
    /// A remote revocation list could not be fetched and no usable copy is held (retryable).
    RevocationsUnavailable,
    /// The verifier's own configuration (or a call argument such as `now`) is
    /// invalid; the message names the option. Not a jose code: jose has no equivalent.
    InvalidOptions,
    /// A Token Status List could not be accepted (malformed, bad signature,
    /// wrong `sub`, expired, inflates beyond the configured maximum), or a
    /// token's index is outside the list.
    StatusListInvalid,
    /// The status list a token refers to is not held (or has expired):
    /// fetch or install it (retryable).
    StatusListUnavailable,
    /// A request carries no `Authorization` header (request-level API only).
    AuthorizationMissing,
    /// A request's `Authorization` header is malformed: more than one, a
    /// scheme other than `Bearer`/`DPoP`, or not `<scheme> <token68>`; or
    /// the `DPoP` scheme where DPoP is not configured.
    AuthorizationInvalid,
    /// A DPoP proof (RFC 9449 §4.3) is missing, malformed, or fails a check:
    /// `typ`, `alg`, `jwk`, signature, `htm`, `htu`, `iat`, `ath`.
    DpopInvalid,
    /// A DPoP proof's `jti` was seen before within its window.
    DpopReplayed,
    /// A DPoP proof must carry a fresh server nonce (`use_dpop_nonce`); the
    /// request-level answer carries the nonce to send.
    DpopNonceRequired,
    /// A token and its proof do not belong together: a token bound to a
    /// key (`cnf.jkt`) without a proof by that key, or the `DPoP` scheme with
    /// a token that is not bound.
    DpopBindingMismatch,
    /// The resource requires DPoP and the request presents a Bearer token.
    DpopRequired,
}

impl ErrorKind {
    /// The stable, machine-readable code of this kind.
    pub const fn code(self) -> &'static str {
        match self {
            Self::JwsInvalid => "ERR_JWS_INVALID",
            Self::JwtInvalid => "ERR_JWT_INVALID",
            Self::AlgNotAllowed => "ERR_JOSE_ALG_NOT_ALLOWED",
            Self::NotSupported => "ERR_JOSE_NOT_SUPPORTED",
            Self::JwksInvalid => "ERR_JWKS_INVALID",
            Self::NoMatchingKey => "ERR_JWKS_NO_MATCHING_KEY",
            Self::MultipleMatchingKeys => "ERR_JWKS_MULTIPLE_MATCHING_KEYS",
            Self::SignatureVerificationFailed => "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
            Self::Expired => "ERR_JWT_EXPIRED",
            Self::ClaimValidationFailed => "ERR_JWT_CLAIM_VALIDATION_FAILED",
            Self::Revoked => "ERR_JWT_REVOKED",
            Self::RevocationListInvalid => "ERR_REVOCATION_LIST_INVALID",
            Self::JwksTimeout => "ERR_JWKS_TIMEOUT",
            Self::RevocationsUnavailable => "ERR_REVOCATIONS_UNAVAILABLE",
            Self::InvalidOptions => "ERR_INVALID_OPTIONS",
            Self::StatusListInvalid => "ERR_STATUS_LIST_INVALID",
            Self::StatusListUnavailable => "ERR_STATUS_LIST_UNAVAILABLE",
            Self::AuthorizationMissing => "ERR_AUTHORIZATION_MISSING",
            Self::AuthorizationInvalid => "ERR_AUTHORIZATION_INVALID",
            Self::DpopInvalid => "ERR_DPOP_INVALID",
            Self::DpopReplayed => "ERR_DPOP_REPLAYED",
            Self::DpopNonceRequired => "ERR_DPOP_NONCE_REQUIRED",
            Self::DpopBindingMismatch => "ERR_DPOP_BINDING_MISMATCH",
            Self::DpopRequired => "ERR_DPOP_REQUIRED",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [ErrorKind; 24] = [
        Self::JwsInvalid,
        Self::JwtInvalid,
        Self::AlgNotAllowed,
        Self::NotSupported,
        Self::JwksInvalid,
        Self::NoMatchingKey,
        Self::MultipleMatchingKeys,
        Self::SignatureVerificationFailed,
        Self::Expired,
        Self::ClaimValidationFailed,
        Self::Revoked,
        Self::RevocationListInvalid,
        Self::JwksTimeout,
        Self::RevocationsUnavailable,
        Self::InvalidOptions,
        Self::StatusListInvalid,
        Self::StatusListUnavailable,
        Self::AuthorizationMissing,
        Self::AuthorizationInvalid,
        Self::DpopInvalid,
        Self::DpopReplayed,
        Self::DpopNonceRequired,
        Self::DpopBindingMismatch,
        Self::DpopRequired,
    ];

    /// The kind whose [`ErrorKind::code`] is `code`.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// Why a claim check failed (jose's `reason` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClaimReason {
    /// The claim is required but absent.
    Missing,
    /// The claim is present and well-formed but does not satisfy the policy.
    CheckFailed,
    /// The claim is present but has the wrong type or an out-of-range value.
    Invalid,
}

impl ClaimReason {
    /// The lower-case name used in JSON output: `missing`, `check_failed`, `invalid`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::CheckFailed => "check_failed",
            Self::Invalid => "invalid",
        }
    }
}

/// Why a token was found revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// The token's (`iss`, `jti`) is on the list.
    Jti,
    /// The token's subject was revoked for tokens issued before a cut-off.
    Sub,
    /// The key that signed the token was revoked.
    Kid,
    /// The token's status list entry says invalid (or any status but valid
    /// and suspended).
    StatusList,
    /// The token's status list entry says suspended.
    Suspended,
}

impl RevocationReason {
    /// `jti`, `sub`, `kid`, `status_list` or `suspended`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Sub => "sub",
            Self::Kid => "kid",
            Self::StatusList => "status_list",
            Self::Suspended => "suspended",
        }
    }
}

/// An error from parsing, key selection, verification or validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Cow<'static, str>,
    detail: Detail,
}

/// What an error carries beyond its kind and message; each kind of data
/// exists only on the errors it applies to.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// Nothing more.
    None,
    /// A claim error (`ERR_JWT_CLAIM_VALIDATION_FAILED`, `ERR_JWT_EXPIRED`, ...):
    /// the claim (or header parameter) and why.
    Claim {
        /// The claim, e.g. `aud`.
        name: Cow<'static, str>,
        /// `missing`, `check_failed` or `invalid`.
        reason: ClaimReason,
    },
    /// `ERR_JWT_REVOKED`: which entry matched.
    Revoked(RevocationReason),
    /// An unusable remote source: what happened to it.
    Remote(alloc::boxed::Box<RemoteFailure>),
}

/// What happened to a remote source (JWKS, revocation list, status list)
/// that left nothing usable: carried by `ERR_JWKS_TIMEOUT`,
/// `ERR_REVOCATIONS_UNAVAILABLE` and `ERR_STATUS_LIST_UNAVAILABLE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteFailure {
    /// The source's name (`jwks`, `jwks:N`, `revocations`, `statuslist:N`).
    pub source: String,
    /// The HTTP status of the last failed fetch (`None`: no response, or no
    /// fetch attempted).
    pub status: Option<u16>,
    /// What happened: `HTTP 500`, `timeout`, a network error's name, a body
    /// that was refused and why, or `not fetched yet`.
    pub cause: String,
    /// When the last failure happened (unix seconds).
    pub failed_at: Option<u64>,
    /// When the last good copy was fetched (unix seconds), if ever.
    pub last_good_at: Option<u64>,
}

impl Error {
    /// A new error of `kind` with a human-readable message.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            detail: Detail::None,
        }
    }

    /// This error with what happened to its remote source.
    #[must_use]
    pub fn with_remote(mut self, remote: RemoteFailure) -> Self {
        self.detail = Detail::Remote(alloc::boxed::Box::new(remote));
        self
    }

    /// Names the remote source this error is about.
    #[must_use]
    pub(crate) fn for_source(mut self, name: String) -> Self {
        if let Detail::Remote(r) = &mut self.detail {
            r.source = name;
        }
        self
    }

    /// What the error carries beyond its kind and message.
    pub fn detail(&self) -> &Detail {
        &self.detail
    }

    /// What happened to the remote source, for the `*_UNAVAILABLE` and
    /// `ERR_JWKS_TIMEOUT` errors.
    pub fn remote(&self) -> Option<&RemoteFailure> {
        match &self.detail {
            Detail::Remote(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn claim(
        kind: ErrorKind,
        claim: impl Into<Cow<'static, str>>,
        reason: ClaimReason,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            detail: Detail::Claim {
                name: claim.into(),
                reason,
            },
            ..Self::new(kind, message)
        }
    }

    pub(crate) fn revoked(reason: RevocationReason, message: String) -> Self {
        Self {
            detail: Detail::Revoked(reason),
            ..Self::new(ErrorKind::Revoked, message)
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable `ERR_*` code, e.g. `ERR_JWT_EXPIRED`.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The human-readable message (never contains secrets).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// For claim errors: the claim (or header parameter) concerned, e.g. `aud`.
    pub fn claim_name(&self) -> Option<&str> {
        match &self.detail {
            Detail::Claim { name, .. } => Some(name),
            _ => None,
        }
    }

    /// For claim errors: `missing`, `check_failed` or `invalid`.
    pub fn claim_reason(&self) -> Option<ClaimReason> {
        match &self.detail {
            Detail::Claim { reason, .. } => Some(*reason),
            _ => None,
        }
    }

    /// For [`ErrorKind::Revoked`]: which entry matched.
    pub fn revocation_reason(&self) -> Option<RevocationReason> {
        match self.detail {
            Detail::Revoked(reason) => Some(reason),
            _ => None,
        }
    }

    /// True only when a retry could succeed: an unknown `kid` (the key may be
    /// newer than the set) or a remote source that could not be fetched.
    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::NoMatchingKey | ErrorKind::JwksTimeout | ErrorKind::RevocationsUnavailable
        )
    }
}

impl Error {
    /// The error as one JSON object, the one shape every adapter reports:
    /// `{"code","message","claim"?,"reason"?,"revocationReason"?,"retryable"}`
    /// (the npm package's `JwtEdgeError` fields, the CLI's `--json` error).
    pub fn to_json(&self) -> String {
        self.to_json_with(false)
    }

    /// [`Error::to_json`]; `answered`: for a request-level answer, whose
    /// `status` is the HTTP status to give, so a remote source's own status
    /// is `sourceStatus`.
    pub(crate) fn to_json_with(&self, answered: bool) -> String {
        use crate::text::json_string;
        let mut out = String::from("{\"code\":");
        json_string(&mut out, self.code());
        out.push_str(",\"message\":");
        json_string(&mut out, &self.message);
        if let Detail::Claim { name, reason } = &self.detail {
            out.push_str(",\"claim\":");
            json_string(&mut out, name);
            out.push_str(",\"reason\":");
            json_string(&mut out, reason.as_str());
        }
        if let Detail::Revoked(reason) = self.detail {
            out.push_str(",\"revocationReason\":");
            json_string(&mut out, reason.as_str());
        }
        if let Detail::Remote(r) = &self.detail {
            out.push_str(",\"source\":");
            json_string(&mut out, &r.source);
            if let Some(s) = r.status {
                out.push_str(if answered {
                    ",\"sourceStatus\":"
                } else {
                    ",\"status\":"
                });
                out.push_str(&msg!(s));
            }
            out.push_str(",\"cause\":");
            json_string(&mut out, &r.cause);
            if let Some(t) = r.failed_at {
                out.push_str(&msg!(",\"failedAt\":", t));
            }
            if let Some(t) = r.last_good_at {
                out.push_str(&msg!(",\"lastGoodAt\":", t));
            }
        }
        out.push_str(if self.retryable() {
            ",\"retryable\":true}"
        } else {
            ",\"retryable\":false}"
        });
        out
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl core::error::Error for Error {}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

pub(crate) fn jws_invalid(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::JwsInvalid, message)
}

pub(crate) fn jwt_invalid(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::JwtInvalid, message)
}

pub(crate) fn jwks_invalid(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::JwksInvalid, message)
}
