//! What a verifier accepts: algorithms, claim rules, limits and revocation data.
//!
//! Defaults (each documented in the README):
//! - algorithms: every asymmetric algorithm (RS*, PS*, ES*, EdDSA and RFC
//!   9964's ML-DSA-44/65/87, whose `AKP` keys are bound to their own
//!   algorithm); HS* only when listed explicitly; `none` can never be listed;
//! - `exp` required; leeway 0 s; no maximum age;
//! - no issuer/audience/subject/typ check unless configured;
//! - a token without `kid` needs exactly one fitting key;
//! - token at most 16 KiB, JSON nesting at most 20 levels.

use alloc::string::String;
use alloc::vec::Vec;

use crate::alg::Algorithm;
use crate::json::DEFAULT_MAX_DEPTH;
use crate::jws::DEFAULT_MAX_TOKEN_LEN;
use crate::revocation::Revocations;

/// Most candidate keys a token without `kid` may be tried against when the
/// policy opts in with [`Policy::kidless_candidates`].
pub const MAX_KIDLESS_CANDIDATES: usize = 3;

/// Validation policy. Build with [`Policy::new`] and the chaining setters.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) require_exp: bool,
    pub(crate) leeway: u64,
    pub(crate) max_token_age: Option<u64>,
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) subject: Option<String>,
    /// Accepted header `typ` values (empty: not checked).
    pub(crate) typ: Vec<String>,
    /// A token without `typ` passes the `typ` check.
    pub(crate) typ_optional: bool,
    /// `aud` must hold exactly one value (a string or a one-element array).
    pub(crate) sole_audience: bool,
    /// Longest lifetime accepted: `exp` − `iat` (or − now without `iat`).
    pub(crate) max_lifetime: Option<u64>,
    /// RFC 9864's fully-specified `Ed25519` is read as EdDSA.
    pub(crate) ed25519_name: bool,
    pub(crate) required_claims: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) kidless_candidates: usize,
    /// What the caller asked for (before clamping), so that a validator
    /// builder can refuse an out-of-range value instead of clamping it.
    pub(crate) kidless_requested: usize,
    /// Whether the allowlist was set with [`Policy::algorithms`] (as opposed
    /// to the default, or the default plus [`Policy::allow_hmac`]).
    pub(crate) explicit_algorithms: bool,
    pub(crate) max_token_len: usize,
    pub(crate) max_depth: usize,
    /// Tokens' `status.status_list` references are checked against held
    /// Token Status Lists (fail closed when the list is not held).
    pub(crate) check_status: bool,
    /// A token without a `status.status_list` reference is refused.
    pub(crate) require_status: bool,
    /// Largest inflated status list accepted (bytes).
    pub(crate) max_status_list_bytes: usize,
    /// Revocation data for the free functions ([`crate::verify`] and its
    /// steps, [`crate::install_revocations`]). A [`crate::Validator`] keeps
    /// its revocation data per trusted issuer, apart from its policies, and
    /// never reads this.
    pub(crate) revocations: Revocations,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// The default policy (see the module documentation).
    pub fn new() -> Self {
        Self {
            algorithms: Algorithm::ASYMMETRIC
                .into_iter()
                .chain(Algorithm::ML_DSA)
                .collect(),
            require_exp: true,
            leeway: 0,
            max_token_age: None,
            issuers: Vec::new(),
            audiences: Vec::new(),
            subject: None,
            typ: Vec::new(),
            typ_optional: false,
            sole_audience: false,
            max_lifetime: None,
            ed25519_name: false,
            required_claims: Vec::new(),
            scopes: Vec::new(),
            kidless_candidates: 1,
            kidless_requested: 1,
            explicit_algorithms: false,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            max_depth: DEFAULT_MAX_DEPTH,
            check_status: false,
            require_status: false,
            max_status_list_bytes: crate::status_list::DEFAULT_MAX_STATUS_LIST_BYTES,
            revocations: Revocations::new(),
        }
    }

    /// Check tokens' `status.status_list` references (IETF Token Status
    /// Lists) against the lists installed or fetched for their issuer: a
    /// token whose list is not held (or has expired) is refused with
    /// `ERR_STATUS_LIST_UNAVAILABLE`, retryable. Default off: like jose, the
    /// `status` claim is then not looked at (revocation documents still are).
    #[must_use]
    pub fn check_status_lists(mut self, check: bool) -> Self {
        self.check_status = check;
        self
    }

    /// Refuse tokens without a `status.status_list` reference (default:
    /// accepted). Implies [`Policy::check_status_lists`].
    #[must_use]
    pub fn require_status(mut self, required: bool) -> Self {
        self.require_status = required;
        if required {
            self.check_status = true;
        }
        self
    }

    /// Largest status list accepted, in inflated bytes (default 4 MiB:
    /// 33,554,432 one-bit statuses). A larger `lst` is refused as a
    /// decompression bomb after at most this many bytes of output.
    #[must_use]
    pub fn max_status_list_bytes(mut self, bytes: usize) -> Self {
        self.max_status_list_bytes = bytes;
        self
    }

    /// Replaces the algorithm allowlist. The token's `alg` must be on it.
    #[must_use]
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        let mut v: Vec<Algorithm> = Vec::new();
        for a in algs {
            if !v.contains(&a) {
                v.push(a);
            }
        }
        self.algorithms = v;
        self.explicit_algorithms = true;
        self
    }

    /// Adds HS256/HS384/HS512 to the allowlist. Adapters call this when the
    /// caller configured an HMAC secret and gave no explicit algorithm list:
    /// symmetric algorithms are never allowed by default.
    #[must_use]
    pub fn allow_hmac(self) -> Self {
        let mut algs = self.algorithms.clone();
        algs.extend(Algorithm::ALL.into_iter().filter(|a| a.is_symmetric()));
        let explicit = self.explicit_algorithms;
        let mut policy = self.algorithms(algs);
        policy.explicit_algorithms = explicit;
        policy
    }

    /// Whether `exp` is required (default: true).
    #[must_use]
    pub fn require_exp(mut self, required: bool) -> Self {
        self.require_exp = required;
        self
    }

    /// Clock skew tolerated for `exp`, `nbf`, `iat` and the maximum age, in seconds (default 0).
    #[must_use]
    pub fn leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Rejects tokens whose `iat` is more than `seconds` ago (requires `iat`).
    #[must_use]
    pub fn max_token_age(mut self, seconds: u64) -> Self {
        self.max_token_age = Some(seconds);
        self
    }

    /// Adds an accepted issuer (`iss` must equal one of them exactly).
    #[must_use]
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuers.push(iss.into());
        self
    }

    /// Adds an accepted audience (`aud`, a string or an array, must contain one of them).
    #[must_use]
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Requires `sub` to equal `sub` exactly.
    #[must_use]
    pub fn subject(mut self, sub: impl Into<String>) -> Self {
        self.subject = Some(sub.into());
        self
    }

    /// Requires the header `typ` to match (RFC 7515 §4.1.9 comparison, e.g. `at+jwt`).
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = alloc::vec![typ.into()];
        self
    }

    /// Accepts one more header `typ` value besides those already set (e.g.
    /// RFC 7523bis client assertions: `JWT` or `client-authentication+jwt`).
    #[must_use]
    pub fn accept_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ.push(typ.into());
        self
    }

    /// With `true`, a token without a header `typ` passes the `typ` check
    /// (a `typ` that is present must still be one of those set).
    #[must_use]
    pub fn typ_optional(mut self, optional: bool) -> Self {
        self.typ_optional = optional;
        self
    }

    /// With `true`, `aud` must hold exactly one value, one of the audiences
    /// set: an array with anything else is refused (draft-ietf-oauth-rfc7523bis
    /// for client assertions; it closes audience injection).
    #[must_use]
    pub fn sole_audience(mut self, sole: bool) -> Self {
        self.sole_audience = sole;
        self
    }

    /// With `true`, a header `alg` of `Ed25519` (RFC 9864's fully-specified
    /// name, which oauth4webapi and openid-client sign with) is EdDSA with an
    /// Ed25519 key, allowed when EdDSA is. Default off: only `EdDSA` names
    /// the algorithm (the client assertions of `jwt-edge serve` turn it on).
    #[must_use]
    pub fn accept_ed25519_name(mut self, accept: bool) -> Self {
        self.ed25519_name = accept;
        self
    }

    /// Longest lifetime a token may have been given: `exp` − `iat` (or
    /// `exp` − now when there is no `iat`) at most `seconds`. Implies that
    /// `exp` is required.
    #[must_use]
    pub fn max_lifetime(mut self, seconds: u64) -> Self {
        self.max_lifetime = Some(seconds);
        self.require_exp = true;
        self
    }

    /// Requires a claim to be present.
    #[must_use]
    pub fn require_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }

    /// Requires a scope (in the space-separated `scope` string or the `scp` array).
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// How many fitting keys a token without `kid` may be tried against
    /// (1 = exactly one key must fit; at most [`MAX_KIDLESS_CANDIDATES`]).
    #[must_use]
    pub fn kidless_candidates(mut self, n: usize) -> Self {
        self.kidless_candidates = n.clamp(1, MAX_KIDLESS_CANDIDATES);
        self.kidless_requested = n;
        self
    }

    /// Maximum token length in bytes (default 16 KiB).
    #[must_use]
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// Maximum JSON nesting depth in the header and claims (default 20; at
    /// most [`crate::MAX_DEPTH_LIMIT`], 128, whatever is asked here: the
    /// parser recurses once per level).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth.max(1);
        self
    }

    /// The algorithm allowlist.
    pub fn allowed_algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// The revocation data the free functions check after signature and
    /// claims (a [`crate::Validator`] keeps its own: see
    /// [`crate::Validator::install_revocations`]).
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Mutable access to the revocation data, to install or refresh lists.
    pub fn revocations_mut(&mut self) -> &mut Revocations {
        &mut self.revocations
    }

    /// The leeway in seconds.
    pub fn leeway_secs(&self) -> u64 {
        self.leeway
    }
}
