//! DPoP (RFC 9449), sans I/O: the one owner of the rules that bind an
//! access token to a key its client holds.
//!
//! - [`http`]: the request's `Authorization` header, the `htu` comparison
//!   form, `ath`;
//! - [`DpopConfig`]: what a resource server accepts (algorithms, proof
//!   window, nonces, replay memory);
//! - the proof check itself (`proof.rs`), the in-memory `jti` set
//!   (`replay.rs`) and stateless nonces (`nonce.rs`);
//! - [`Challenge`]: the HTTP answer an error calls for (status,
//!   `WWW-Authenticate`, `DPoP-Nonce`).
//!
//! The request-level entry points are on [`crate::Validator`]:
//! `verify_request`, or `begin_request` / `finish_proof` for a host that
//! checks signatures itself.

use alloc::string::String;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::alg::Algorithm;
use crate::error::{Error, ErrorKind, Result};

pub mod http;
pub(crate) mod nonce;
pub(crate) mod proof;
pub(crate) mod replay;

pub use http::{
    ath, normalize_htu, parse_authorization, AuthorizationError, Credentials, Scheme, MAX_TOKEN_LEN,
};
pub use proof::{ProofCheck, MAX_PROOF_LEN};

/// Default proof window (seconds): how old a proof's `iat` may be.
pub const DEFAULT_MAX_AGE: u64 = 60;
/// Longest proof window accepted (seconds).
pub const MAX_MAX_AGE: u64 = 3600;
/// Default number of `jti`s one validator remembers.
pub const DEFAULT_REPLAY_CAPACITY: usize = 16_384;
/// Most `jti`s one validator may be configured to remember.
pub const MAX_REPLAY_CAPACITY: usize = 1_000_000;
/// Shortest nonce secret accepted (bytes).
pub const MIN_NONCE_SECRET_LEN: usize = 32;

/// How a resource server treats DPoP: whether it is required, the proof
/// window, the algorithms a proof may use, an optional nonce secret and the
/// size of the replay memory.
#[derive(Clone)]
pub struct DpopConfig {
    pub(crate) required: bool,
    pub(crate) max_age: u64,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) nonce_secret: Option<Zeroizing<Vec<u8>>>,
    pub(crate) replay_capacity: usize,
}

impl core::fmt::Debug for DpopConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never the nonce secret.
        f.debug_struct("DpopConfig")
            .field("required", &self.required)
            .field("max_age", &self.max_age)
            .field("algorithms", &self.algorithms)
            .field("nonces", &self.nonce_secret.is_some())
            .field("replay_capacity", &self.replay_capacity)
            .finish()
    }
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self::new()
    }
}

fn invalid(message: &'static str) -> Error {
    Error::new(ErrorKind::InvalidOptions, message)
}

impl DpopConfig {
    /// DPoP accepted beside Bearer, proofs at most
    /// [`DEFAULT_MAX_AGE`] seconds old, every asymmetric algorithm, no
    /// nonces, [`DEFAULT_REPLAY_CAPACITY`] remembered `jti`s.
    pub fn new() -> Self {
        DpopConfig {
            required: false,
            max_age: DEFAULT_MAX_AGE,
            // The classic asymmetric algorithms: an ML-DSA proof would add
            // some 6 KB to every request (configurable).
            algorithms: Algorithm::ASYMMETRIC.to_vec(),
            nonce_secret: None,
            replay_capacity: DEFAULT_REPLAY_CAPACITY,
        }
    }

    /// Refuses Bearer tokens: every request must be DPoP-bound.
    #[must_use]
    pub fn required(mut self, required: bool) -> Self {
        self.required = required;
        self
    }

    /// How old (seconds) a proof's `iat` may be, beside the policy's leeway.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` outside 1..=[`MAX_MAX_AGE`].
    pub fn max_age(mut self, seconds: u64) -> Result<Self> {
        if !(1..=MAX_MAX_AGE).contains(&seconds) {
            return Err(invalid("dpop.maxAge must be between 1 and 3600 seconds"));
        }
        self.max_age = seconds;
        Ok(self)
    }

    /// The algorithms a proof may be signed with (RFC 9449 §4.3: asymmetric).
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` for an empty list or a symmetric algorithm.
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Result<Self> {
        let mut list: Vec<Algorithm> = Vec::new();
        for a in algs {
            if a.is_symmetric() {
                return Err(invalid(
                    "dpop.algorithms: a DPoP proof is signed with an asymmetric algorithm (RFC 9449 §4.3); HS* cannot be allowed",
                ));
            }
            if !list.contains(&a) {
                list.push(a);
            }
        }
        if list.is_empty() {
            return Err(invalid("dpop.algorithms must name at least one algorithm"));
        }
        self.algorithms = list;
        Ok(self)
    }

    /// Requires server nonces (RFC 9449 §9), derived statelessly from
    /// `secret` and the time: every validator configured with the same
    /// secret accepts the nonces any of them hands out.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` for a secret shorter than [`MIN_NONCE_SECRET_LEN`].
    pub fn nonce_secret(mut self, secret: &[u8]) -> Result<Self> {
        if secret.len() < MIN_NONCE_SECRET_LEN {
            return Err(invalid(
                "dpop.nonceSecret must be at least 32 bytes (random, shared by the replicas that accept each other's nonces)",
            ));
        }
        self.nonce_secret = Some(Zeroizing::new(secret.to_vec()));
        Ok(self)
    }

    /// How many `jti`s the validator remembers (beyond it, the ones whose
    /// window ends first are forgotten first).
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` outside 1..=[`MAX_REPLAY_CAPACITY`].
    pub fn replay_capacity(mut self, entries: usize) -> Result<Self> {
        if !(1..=MAX_REPLAY_CAPACITY).contains(&entries) {
            return Err(invalid("dpop.replayCapacity must be between 1 and 1000000"));
        }
        self.replay_capacity = entries;
        Ok(self)
    }

    /// Whether Bearer tokens are refused.
    pub fn is_required(&self) -> bool {
        self.required
    }

    /// The proof window in seconds.
    pub fn max_age_secs(&self) -> u64 {
        self.max_age
    }

    /// The allowed proof algorithms.
    pub fn allowed_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The names of the allowed proof algorithms, as published
    /// (`dpop_signing_alg_values_supported`, `WWW-Authenticate`'s `algs`):
    /// EdDSA also under RFC 9864's fully-specified name `Ed25519`.
    pub fn algorithm_names(&self) -> impl Iterator<Item = &'static str> + '_ {
        Algorithm::names_with_ed25519(&self.algorithms)
    }

    /// Whether proofs must carry a server nonce.
    pub fn uses_nonces(&self) -> bool {
        self.nonce_secret.is_some()
    }

    /// A fresh nonce at `now` (`None` without a nonce secret).
    pub fn nonce(&self, now: u64) -> Option<String> {
        self.nonce_secret
            .as_ref()
            .map(|s| nonce::issue(s, self.max_age, now))
    }
}

/// What a token must be bound to for a verification to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Binding {
    /// A token bound to a key (`cnf.jkt`) is refused: no proof was checked.
    #[default]
    Unbound,
    /// The token must be bound to this key (the SHA-256 thumbprint a
    /// checked proof's `jwk` has).
    Key([u8; 32]),
    /// Bound or not, the binding is not checked: for non-HTTP uses that
    /// opted out explicitly.
    Unchecked,
}

/// The key a token is bound to (`cnf.jkt`, RFC 9449 §6.1), if any.
///
/// # Errors
/// `ERR_JWT_CLAIM_VALIDATION_FAILED` (claim `cnf`) for a `cnf` that is not
/// an object, or a `jkt` that is not the base64url of a SHA-256 hash.
pub(crate) fn token_jkt(
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<Option<[u8; 32]>> {
    use crate::error::ClaimReason;
    let bad = |m: &'static str| {
        Error::claim(
            ErrorKind::ClaimValidationFailed,
            "cnf",
            ClaimReason::Invalid,
            m,
        )
    };
    let Some(cnf) = claims.get("cnf") else {
        return Ok(None);
    };
    let cnf = cnf
        .as_object()
        .ok_or_else(|| bad("\"cnf\" must be a JSON object (RFC 7800)"))?;
    let Some(jkt) = cnf.get("jkt") else {
        return Ok(None);
    };
    let jkt = jkt
        .as_str()
        .ok_or_else(|| bad("\"cnf.jkt\" must be a string (RFC 9449 §6.1)"))?;
    let bytes = crate::b64::decode(jkt.as_bytes())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| bad("\"cnf.jkt\" must be the base64url of a SHA-256 thumbprint"))?;
    Ok(Some(bytes))
}

/// Whether `claims` satisfy `binding`; `Ok(true)` when the token is bound
/// to a key (such a token is never answered from a caller's own map of
/// repeats: each request needs its proof checked).
///
/// # Errors
/// `ERR_DPOP_BINDING_MISMATCH`, or a malformed `cnf` (see [`token_jkt`]).
pub(crate) fn check_binding(
    binding: Binding,
    claims: &serde_json::Map<String, serde_json::Value>,
) -> Result<bool> {
    let mismatch = |m: &'static str| Error::new(ErrorKind::DpopBindingMismatch, m);
    match (binding, token_jkt(claims)?) {
        (Binding::Unchecked, j) => Ok(j.is_some()),
        (Binding::Unbound, None) => Ok(false),
        (Binding::Unbound, Some(_)) => Err(mismatch(
            "this token is bound to a key (cnf.jkt): it is accepted only with a DPoP proof signed by that key",
        )),
        (Binding::Key(_), None) => Err(mismatch(
            "the token is not bound to a key (no cnf.jkt), so it cannot be presented with DPoP",
        )),
        (Binding::Key(k), Some(j)) if k == j => Ok(true),
        (Binding::Key(_), Some(_)) => Err(mismatch(
            "the DPoP proof is signed by another key than the one the token is bound to (cnf.jkt)",
        )),
    }
}

/// The HTTP answer an error calls for at a resource server (RFC 6750 §3,
/// RFC 9449 §7.1 and §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// 400, 401, 403, or 500/503 for a server-side problem.
    pub status: u16,
    /// The exact `WWW-Authenticate` value (`None` for 500/503).
    pub www_authenticate: Option<String>,
    /// A `DPoP-Nonce` header value to send, when nonces are in use.
    pub dpop_nonce: Option<String>,
}

/// An error with the HTTP answer it calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// What went wrong (its `code` is stable).
    pub error: Error,
    /// How to answer.
    pub challenge: Challenge,
}

impl Rejection {
    /// The error's JSON ([`Error::to_json`]) with the answer added:
    /// `status` (the HTTP status to answer; a remote source's own status
    /// moves to `sourceStatus`), `wwwAuthenticate`, `dpopNonce`.
    pub fn to_json(&self) -> String {
        use crate::text::json_string;
        let mut out = self.error.to_json_with(true);
        if out.ends_with('}') {
            out.pop();
        }
        out.push_str(&msg!(",\"status\":", self.challenge.status));
        if let Some(w) = &self.challenge.www_authenticate {
            out.push_str(",\"wwwAuthenticate\":");
            json_string(&mut out, w);
        }
        if let Some(n) = &self.challenge.dpop_nonce {
            out.push_str(",\"dpopNonce\":");
            json_string(&mut out, n);
        }
        out.push('}');
        out
    }
}

impl core::fmt::Display for Rejection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} (HTTP {})", self.error, self.challenge.status)
    }
}

/// RFC 6750 §3: `error_description` holds printable ASCII without `"` and `\`.
fn description(message: &str) -> String {
    message
        .chars()
        .take(240)
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            c if (' '..='~').contains(&c) => c,
            _ => '?',
        })
        .collect()
}

/// The answer to an error at a resource server with `config` (`None`:
/// DPoP not configured), for a request that presented `scheme` (`None`: no
/// usable credentials), at `now` (for a fresh nonce). The error is given by
/// its kind, claim and message (what an adapter holds of it).
pub fn challenge(
    config: Option<&DpopConfig>,
    kind: ErrorKind,
    claim: Option<&str>,
    message: &str,
    scheme: Option<Scheme>,
    now: u64,
) -> Challenge {
    let (status, code) = match kind {
        ErrorKind::AuthorizationMissing => (401, None),
        ErrorKind::AuthorizationInvalid => (400, Some("invalid_request")),
        ErrorKind::DpopInvalid | ErrorKind::DpopReplayed => (401, Some("invalid_dpop_proof")),
        ErrorKind::DpopNonceRequired => (401, Some("use_dpop_nonce")),
        ErrorKind::ClaimValidationFailed if claim == Some("scope") => {
            (403, Some("insufficient_scope"))
        }
        ErrorKind::JwksTimeout
        | ErrorKind::RevocationsUnavailable
        | ErrorKind::StatusListUnavailable => (503, None),
        ErrorKind::InvalidOptions => (500, None),
        _ => (401, Some("invalid_token")),
    };
    if status >= 500 {
        return Challenge {
            status,
            www_authenticate: None,
            dpop_nonce: None,
        };
    }
    // Which scheme(s) to challenge with: the one presented; a proof or a
    // binding problem is DPoP's; with nothing usable presented, every
    // scheme accepted here.
    let dpop_kind = matches!(
        kind,
        ErrorKind::DpopInvalid
            | ErrorKind::DpopReplayed
            | ErrorKind::DpopNonceRequired
            | ErrorKind::DpopRequired
            | ErrorKind::DpopBindingMismatch
    );
    let (dpop, bearer) = match config {
        None => (false, true),
        Some(c) => match scheme {
            _ if dpop_kind => (true, false),
            Some(Scheme::DPoP) => (true, false),
            Some(Scheme::Bearer) => (false, true),
            None if c.required => (true, false),
            None if code.is_none() => (true, true),
            None => (true, false),
        },
    };
    let params = |out: &mut String| {
        if let Some(code) = code {
            out.push_str("error=\"");
            out.push_str(code);
            out.push_str("\", error_description=\"");
            out.push_str(&description(message));
            out.push('"');
        }
    };
    let mut value = String::new();
    let mut nonce = None;
    if let (true, Some(c)) = (dpop, config) {
        value.push_str("DPoP algs=\"");
        for (i, a) in c.algorithm_names().enumerate() {
            if i > 0 {
                value.push(' ');
            }
            value.push_str(a);
        }
        value.push('"');
        if code.is_some() {
            value.push_str(", ");
            params(&mut value);
        }
        nonce = c.nonce(now);
    }
    if bearer {
        if !value.is_empty() {
            value.push_str(", ");
        }
        value.push_str("Bearer");
        if code.is_some() {
            value.push(' ');
            params(&mut value);
        }
    }
    Challenge {
        status,
        www_authenticate: Some(value),
        dpop_nonce: nonce,
    }
}
