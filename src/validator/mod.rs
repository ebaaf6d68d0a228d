//! The validator object: everything one verifier trusts and remembers, and
//! the one place where the rules that span a single verification live.
//!
//! A [`Validator`] owns the trusted issuers (each with its key set, HMAC
//! secrets, policy and optional remote JWKS), the revocation data, the
//! verified-token cache and the freshness state of the remote sources. Every
//! adapter (the npm package's wasm `Core`, the CLI's `verify`) is a thin
//! caller of it:
//!
//! - [`Validator::verify`] runs the whole pipeline in Rust with the data as
//!   held (nothing is fetched);
//! - [`Validator::begin`] / [`Validator::finish`] split it for a caller that
//!   checks signatures with the host's crypto or performs fetches: `begin`
//!   answers with one typed [`Step`], and `finish` completes a
//!   [`SignatureCheck`] without parsing the token again.
//!
//! It is sans-I/O: time comes in as `now`, fetched bodies as
//! [`FetchOutcome`]s. The rules that used to be repeated per adapter live
//! here once: which issuer a token belongs to, that HMAC needs a configured
//! secret (and is then allowed), the kidless-candidates range, the `now`
//! range, the kid-miss refetch, fail-closed remote sources, and cache
//! invalidation on key or revocation changes.
//!
//! ```
//! use jwt_edge::{KeySet, Policy, Validator};
//! let jwks = br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let mut v = Validator::builder(Policy::new())
//!     .keys(KeySet::from_jwks(jwks).unwrap())
//!     .build()
//!     .unwrap();
//! // RFC 8037 A.4's payload is not a JWT claims set:
//! let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
//! assert_eq!(v.verify(token, 1_700_000_000).unwrap_err().code(), "ERR_JWT_INVALID");
//! ```

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::alg::Algorithm;
use crate::cache::{Inserted, Lookup, TokenCache, DEFAULT_CAPACITY};
use crate::claims::{self, MAX_NUMERIC_DATE};
use crate::dpop::replay::ReplaySet;
use crate::dpop::{Binding, DpopConfig};
use crate::error::{ClaimReason, Error, ErrorKind, Result};
use crate::jwk::Key;
use crate::jwks::KeySet;
use crate::jws::UntrustedToken;
use crate::policy::{Policy, MAX_KIDLESS_CANDIDATES};
use crate::remote::{FetchOutcome, RemoteConfig, RemoteState};
use crate::revocation::{RevocationList, Revocations};
use crate::text::Truncated;
use crate::verify::{self, Verified};

mod builder;
mod discovery;
mod installs;
mod request;
mod snapshot;
mod sources;
mod step;

pub use builder::{Crypto, IssuerOptions, ValidatorBuilder};
pub use discovery::metadata_url;
pub use request::{RequestCheck, RequestParts};
pub use sources::Source;
pub use step::{FetchRequest, Finished, Mode, SignatureCheck, Step};

use builder::Trust;
use discovery::{parse_metadata, Discovery};
use installs::{parse_jwks, verify_list, Installed};
use sources::{ensure, StatusSource};

/// Most entries a verified-token cache may be configured with.
pub const MAX_CACHE_CAPACITY: usize = 1_000_000;

/// Most trusted issuers one validator holds.
pub const MAX_ISSUERS: usize = 64;

fn invalid_options(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOptions, message)
}

/// The validator (see the module documentation).
#[derive(Debug)]
pub struct Validator {
    trusts: Vec<Trust>,
    multi: bool,
    /// (token length, JSON depth) limits for parsing before the issuer is known.
    limits: (usize, usize),
    cache: TokenCache,
    revocations_remote: Option<RemoteState>,
    /// Remote Token Status Lists: the freshness policy and allowed prefixes.
    status_remote: Option<(RemoteConfig, Vec<String>)>,
    /// The status lists seen in tokens so far (at most
    /// [`crate::status_list::MAX_HELD_STATUS_LISTS`]; the least recently
    /// used is replaced beyond it).
    status_sources: Vec<StatusSource>,
    generation: u64,
    /// Seed of the retry jitter of every remote source (0: none).
    jitter: u64,
    crypto: Crypto,
    /// The last number given to a key ([`SignatureCheck::key_serial`]).
    key_serial: u32,
    /// A source's health change to log ([`Validator::take_notice`]).
    notice: Option<String>,
    /// What DPoP requests are accepted (`None`: Bearer only).
    dpop: Option<DpopConfig>,
    /// The `jti`s of the DPoP proofs accepted, each until its window ends.
    replays: ReplaySet,
    /// DPoP proof keys already parsed, by thumbprint.
    proof_keys: crate::dpop::proof::ProofKeys,
}

/// The `now` every entry point accepts.
fn check_now(now: u64) -> Result<()> {
    if (now as f64) <= MAX_NUMERIC_DATE {
        Ok(())
    } else {
        Err(invalid_now())
    }
}

/// The error for a `now` that is not unix seconds within NumericDate's range
/// (also what an adapter answers for a `now` that is not a number of seconds).
pub(crate) fn invalid_now() -> Error {
    invalid_options("\"now\" must be unix seconds between 0 and 253402300799 (year 9999)")
}

impl Validator {
    /// A builder with `policy` as the shared policy.
    pub fn builder(policy: Policy) -> ValidatorBuilder {
        ValidatorBuilder {
            policy,
            single: IssuerOptions::new(""),
            issuers: Vec::new(),
            remote_revocations: None,
            remote_status_lists: None,
            cache: DEFAULT_CAPACITY,
            jitter: 0,
            crypto: Crypto::Auto,
            dpop: None,
        }
    }

    /// Sets the seed of the retry jitter of every remote source (as
    /// [`ValidatorBuilder::jitter_seed`]); the sources' state is kept.
    pub fn set_jitter_seed(&mut self, seed: u64) {
        self.jitter = seed;
        let states = self
            .trusts
            .iter_mut()
            .flat_map(|t| {
                t.remote
                    .iter_mut()
                    .chain(t.discovery.iter_mut().map(|d| &mut d.state))
            })
            .chain(self.revocations_remote.iter_mut())
            .chain(self.status_sources.iter_mut().map(|s| &mut s.state));
        for state in states {
            state.set_jitter(seed);
        }
    }

    /// Verifies `token` at `now` entirely in Rust, with the remote sources as
    /// held (they fail closed when unusable).
    ///
    /// # Errors
    /// Every `ERR_*` of the pipeline; `ERR_INVALID_OPTIONS` for a `now` past year 9999.
    /// A token bound to a key (`cnf.jkt`, RFC 9449) is refused here
    /// (`ERR_DPOP_BINDING_MISMATCH`): it needs its proof
    /// ([`Validator::verify_request`]), or [`Validator::verify_bound`] with
    /// [`Binding::Unchecked`] for a non-HTTP use that opts out.
    pub fn verify(&mut self, token: &str, now: u64) -> Result<Verified> {
        self.drive(token, now, false, Binding::Unbound, |_| {
            FetchOutcome::Failed
        })
    }

    /// [`Validator::verify`] with the key binding a token must have
    /// (what a checked DPoP proof says, or [`Binding::Unchecked`]).
    ///
    /// # Errors
    /// As [`Validator::verify`], and `ERR_DPOP_BINDING_MISMATCH`.
    pub fn verify_bound(&mut self, token: &str, binding: Binding, now: u64) -> Result<Verified> {
        self.drive(token, now, false, binding, |_| FetchOutcome::Failed)
    }

    /// Verifies `token` in Rust, performing the fetches it needs through
    /// `fetch` (a blocking HTTP client, say; at most a few per call).
    ///
    /// # Errors
    /// As [`Validator::verify`].
    pub fn verify_fetching(
        &mut self,
        token: &str,
        now: u64,
        fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
    ) -> Result<Verified> {
        self.drive(token, now, true, Binding::Unbound, fetch)
    }

    /// The steps of one verification in Rust; with `may_fetch` false no
    /// step asks for a fetch (sources fail closed instead).
    pub(super) fn drive(
        &mut self,
        token: &str,
        now: u64,
        may_fetch: bool,
        binding: Binding,
        mut fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
    ) -> Result<Verified> {
        let mode = Mode {
            rust_signatures: true,
            fetch: may_fetch,
            binding,
        };
        let mut fetched: Vec<Source> = Vec::new();
        // A source is fetched at most once for its freshness per call, plus
        // at most one kid-miss refetch (the cooldown's rule): a few rounds.
        for _ in 0..8 {
            let request = match self.begin_after(token, now, mode, &fetched)? {
                Step::Verified(done) => return Ok(done.verified.into_owned()),
                Step::Fetch(request) => request,
                Step::Wait { source, .. } => return Err(self.unavailable(source)),
                // Not reachable with Rust signatures; answered as what it would mean.
                Step::Signature(_) => {
                    return Err(Error::new(
                        ErrorKind::NotSupported,
                        "no backend for this signature",
                    ))
                }
            };
            if !request.kid_miss {
                fetched.push(request.source);
            }
            let outcome = fetch(&request);
            self.on_fetch(request.source, now, outcome)?;
        }
        Err(Error::new(
            ErrorKind::JwksTimeout,
            "the remote sources kept changing during verification",
        ))
    }

    /// Brings every remote source up to date at `now`, fetching through
    /// `fetch` what its freshness policy says to (e.g. at start-up, or before
    /// installing a signed revocation list that verifies with fetched keys).
    ///
    /// # Errors
    /// `ERR_JWKS_TIMEOUT` / `ERR_REVOCATIONS_UNAVAILABLE` when a source has
    /// nothing usable after its fetch.
    pub fn refresh(
        &mut self,
        now: u64,
        mut fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
    ) -> Result<()> {
        check_now(now)?;
        // JWKS first: a signed revocation list verifies with those keys.
        for (source, _) in self.sources() {
            // At most one fetch per source (two for metadata: RFC 8414's URL,
            // then OpenID's after a 404); then what is held is used, or the
            // source fails closed.
            let multi = self.multi;
            for _ in 0..2 {
                let url = self.fetch_url(source);
                match ensure(self.remote_mut(source), source, multi, now, true)? {
                    Some(Step::Fetch(mut request)) => {
                        request.url = url;
                        let outcome = fetch(&request);
                        self.on_fetch(source, now, outcome)?;
                        if self.fetch_url(source) != request.url {
                            continue; // the metadata moved to OpenID's URL
                        }
                        ensure(self.remote_mut(source), source, multi, now, false)?;
                    }
                    Some(Step::Wait { source, .. }) => return Err(self.unavailable(source)),
                    _ => {}
                }
                break;
            }
        }
        Ok(())
    }
}

impl Validator {
    /// Changes whenever keys or revocation data change.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Which backend checks asymmetric signatures ([`ValidatorBuilder::crypto`]).
    pub fn crypto(&self) -> Crypto {
        self.crypto
    }

    /// Whether this validator trusts several issuers (selected by `iss`).
    pub fn is_multi_issuer(&self) -> bool {
        self.multi
    }

    /// The key sets of the trusted issuers, in order (`None` for the issuer
    /// name in the single-issuer form).
    pub fn key_sets(&self) -> impl Iterator<Item = (Option<&str>, &KeySet)> {
        self.trusts.iter().map(|t| (t.issuer.as_deref(), &t.keys))
    }

    /// How many entries the verified-token cache holds at most.
    pub fn cache_capacity(&self) -> usize {
        self.cache.capacity()
    }

    /// `(hits, misses, entries)` of the verified-token cache.
    pub fn cache_stats(&self) -> (u64, u64, usize) {
        let (h, m) = self.cache.stats();
        (h, m, self.cache.len())
    }
}
