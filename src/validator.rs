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
use crate::error::{ClaimReason, Error, ErrorKind, Result};
use crate::jwk::Key;
use crate::jwks::KeySet;
use crate::jws::UntrustedToken;
use crate::policy::{Policy, MAX_KIDLESS_CANDIDATES};
use crate::remote::{FetchOutcome, RemoteConfig, RemoteState};
use crate::revocation::RevocationList;
use crate::text::Truncated;
use crate::verify::{self, Verified};

/// Most entries a verified-token cache may be configured with.
pub const MAX_CACHE_CAPACITY: usize = 1_000_000;

/// Most trusted issuers one validator holds.
pub const MAX_ISSUERS: usize = 64;

fn invalid_options(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::InvalidOptions, message)
}

/// One trusted issuer of a multi-issuer [`Validator`]: its `iss` value, its
/// keys (static, remote, or HMAC secrets) and, optionally, its own policy.
#[derive(Debug)]
pub struct IssuerOptions {
    issuer: String,
    keys: Option<KeySet>,
    secrets: KeySet,
    remote: Option<RemoteConfig>,
    discover: Option<RemoteConfig>,
    discover_url: Option<String>,
    policy: Option<Policy>,
}

impl IssuerOptions {
    /// An issuer whose tokens carry exactly this `iss`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            keys: None,
            secrets: KeySet::new(),
            remote: None,
            discover: None,
            discover_url: None,
            policy: None,
        }
    }

    /// Its public keys (a parsed JWKS).
    #[must_use]
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Its HMAC secrets (enables HS* for this issuer unless its policy lists
    /// algorithms explicitly).
    #[must_use]
    pub fn secrets(mut self, secrets: KeySet) -> Self {
        self.secrets = secrets;
        self
    }

    /// Its JWKS is fetched by the caller under this freshness policy
    /// ([`Step::Fetch`], [`Validator::on_fetch`]).
    #[must_use]
    pub fn remote_jwks(mut self, config: RemoteConfig) -> Self {
        self.remote = Some(config);
        self
    }

    /// Its JWKS is found through its metadata: the caller fetches
    /// `/.well-known/oauth-authorization-server` (RFC 8414 §3.1, the issuer's
    /// path after it), or, when that answers 404, OpenID Connect Discovery's
    /// `/.well-known/openid-configuration` (after the issuer's path); the
    /// document's `issuer` must equal this issuer exactly (RFC 8414 §3.3) and
    /// its `jwks_uri` must be an `https://` URL (or `http://` when the issuer
    /// itself is). Both documents follow `config`'s freshness policy.
    #[must_use]
    pub fn discover(mut self, config: RemoteConfig) -> Self {
        self.discover = Some(config);
        self
    }

    /// [`IssuerOptions::discover`] from the issuer URL a caller names (the
    /// npm package's `discover(url)`): it must equal this issuer exactly.
    #[must_use]
    pub fn discover_from(mut self, issuer_url: impl Into<String>, config: RemoteConfig) -> Self {
        self.discover_url = Some(issuer_url.into());
        self.discover(config)
    }

    /// Its own policy (default: the validator's). Its issuer list is replaced
    /// by this issuer.
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = Some(policy);
        self
    }
}

/// Builds a [`Validator`]; [`ValidatorBuilder::build`] checks the whole
/// configuration and names the offending option.
#[derive(Debug)]
pub struct ValidatorBuilder {
    policy: Policy,
    /// The keys of the single-issuer (shorthand) form; its issuer name is unused.
    single: IssuerOptions,
    issuers: Vec<IssuerOptions>,
    remote_revocations: Option<RemoteConfig>,
    remote_status_lists: Option<(RemoteConfig, Vec<String>)>,
    cache: usize,
    jitter: u64,
    crypto: Crypto,
}

/// Where a caller with its own crypto (the npm package's host) may have
/// asymmetric signatures checked: the one place that decides which backend
/// verifies a signature. HMAC is always checked in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crypto {
    /// The host's crypto where it can use the key, else Rust where this
    /// build has a backend for the algorithm (the default).
    #[default]
    Auto,
    /// Only the host's crypto: a key it cannot use is refused
    /// (`ERR_JOSE_NOT_SUPPORTED`), never checked in Rust.
    Host,
    /// Only Rust: every signature is checked by this build's backends.
    Rust,
}

impl ValidatorBuilder {
    /// Which backend checks asymmetric signatures for a caller with its own
    /// crypto ([`Crypto`]; default [`Crypto::Auto`]).
    #[must_use]
    pub fn crypto(mut self, crypto: Crypto) -> Self {
        self.crypto = crypto;
        self
    }

    /// Token Status Lists are fetched by the caller (a [`Step::Fetch`] with
    /// [`FetchRequest::url`]) from the URI a token names, under this
    /// freshness policy — only URIs that start with one of `prefixes`
    /// (each an `https://` or `http://` URL ending in `/`; empty: each
    /// issuer's own origin, e.g. `https://issuer.example/`). A token naming
    /// any other URI is refused and nothing is fetched. Turns on
    /// [`Policy::check_status_lists`] for every issuer.
    #[must_use]
    pub fn remote_status_lists(mut self, config: RemoteConfig, prefixes: Vec<String>) -> Self {
        self.remote_status_lists = Some((config, prefixes));
        self
    }

    /// The trusted public keys of a single-issuer validator (the shorthand
    /// form: `iss` is then checked by the policy, after the signature).
    #[must_use]
    pub fn keys(mut self, keys: KeySet) -> Self {
        self.single = self.single.keys(keys);
        self
    }

    /// HMAC secrets of a single-issuer validator.
    #[must_use]
    pub fn secrets(mut self, secrets: KeySet) -> Self {
        self.single = self.single.secrets(secrets);
        self
    }

    /// The JWKS of a single-issuer validator is remote (see [`IssuerOptions::remote_jwks`]).
    #[must_use]
    pub fn remote_jwks(mut self, config: RemoteConfig) -> Self {
        self.single = self.single.remote_jwks(config);
        self
    }

    /// The JWKS of a single-issuer validator is discovered from the metadata
    /// of `issuer` (see [`IssuerOptions::discover`]); `issuer` is also the
    /// required `iss` (it must equal the policy's issuer when one is set).
    #[must_use]
    pub fn discover(mut self, issuer: impl Into<String>, config: RemoteConfig) -> Self {
        self.single = self.single.discover_from(issuer, config);
        self
    }

    /// Adds a trusted issuer (the multi-issuer form: a token's `iss` selects
    /// its issuer before any key is considered).
    #[must_use]
    pub fn issuer(mut self, issuer: IssuerOptions) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// A signed revocation list is fetched by the caller under this freshness policy.
    #[must_use]
    pub fn remote_revocations(mut self, config: RemoteConfig) -> Self {
        self.remote_revocations = Some(config);
        self
    }

    /// Verified-token cache entries (default 1000; 0 disables the cache).
    #[must_use]
    pub fn cache(mut self, entries: usize) -> Self {
        self.cache = entries;
        self
    }

    /// A seed for the jitter of the retry delays after failed fetches of
    /// remote sources (see [`crate::remote::RemoteState::set_jitter`]): a number the host
    /// draws at random once per instance, so that many instances that lost
    /// their source together do not retry in step. 0 (the default): no
    /// jitter. The core reads no random source itself.
    #[must_use]
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.jitter = seed;
        self
    }

    /// Checks the configuration and builds the validator.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS`, naming the option (as the npm package spells it).
    pub fn build(self) -> Result<Validator> {
        if self.cache > MAX_CACHE_CAPACITY {
            return Err(invalid_options(msg!(
                "invalid option \"cache\": at most ",
                MAX_CACHE_CAPACITY,
                " entries"
            )));
        }
        let multi = !self.issuers.is_empty();
        if let Some((_, prefixes)) = &self.remote_status_lists {
            for (i, p) in prefixes.iter().enumerate() {
                let ok = (p.starts_with("https://") || p.starts_with("http://"))
                    && p.ends_with('/')
                    && p.split('/').nth(2).is_some_and(|host| !host.is_empty());
                if !ok {
                    return Err(invalid_options(msg!(
                        "invalid option \"statusListPrefixes[",
                        i,
                        "]\": must be an https:// or http:// URL ending in \"/\""
                    )));
                }
            }
        }
        let mut trusts = Vec::new();
        if multi {
            let single = &self.single;
            if single.keys.is_some()
                || !single.secrets.is_empty()
                || single.remote.is_some()
                || single.discover.is_some()
            {
                return Err(invalid_options(
                    "options \"jwks\" and \"secret\" belong inside each entry of \"issuers\" when \"issuers\" is given",
                ));
            }
            if !self.policy.issuers.is_empty() {
                return Err(invalid_options(
                    "option \"issuer\" cannot be combined with \"issuers\" (each entry names its issuer)",
                ));
            }
            if self.issuers.len() > MAX_ISSUERS {
                return Err(invalid_options(msg!(
                    "invalid option \"issuers\": at most ",
                    MAX_ISSUERS,
                    " issuers"
                )));
            }
            for (i, o) in self.issuers.into_iter().enumerate() {
                if o.issuer.is_empty() {
                    return Err(invalid_options(msg!(
                        "invalid option \"issuers[",
                        i,
                        "].issuer\": must be a non-empty string"
                    )));
                }
                if trusts
                    .iter()
                    .any(|t: &Trust| t.issuer.as_deref() == Some(o.issuer.as_str()))
                {
                    return Err(invalid_options(msg!(
                        "invalid option \"issuers\": issuer ",
                        Truncated(&o.issuer),
                        " is listed twice"
                    )));
                }
                let mut policy = o.policy.unwrap_or_else(|| self.policy.clone());
                policy.issuers = alloc::vec![o.issuer.clone()];
                let place = msg!("issuers[", i, "]");
                if o.discover_url.as_ref().is_some_and(|u| *u != o.issuer) {
                    return Err(invalid_options(msg!(
                        "invalid option \"issuers[",
                        i,
                        "].jwks\": discover(url) must name this entry's issuer exactly"
                    )));
                }
                trusts.push(Trust::new(
                    Some(o.issuer),
                    policy,
                    Sources {
                        keys: o.keys,
                        secrets: o.secrets,
                        remote: o.remote,
                        discover: o.discover,
                    },
                    &place,
                )?);
            }
        } else {
            let mut policy = self.policy;
            if let Some(issuer) = self.single.discover_url.clone() {
                if policy.issuers.is_empty() {
                    policy.issuers = alloc::vec![issuer];
                } else if policy.issuers != [issuer] {
                    return Err(invalid_options(
                        "option \"jwks\": discover(url) must name the configured \"issuer\" exactly",
                    ));
                }
            }
            trusts.push(Trust::new(
                None,
                policy,
                Sources {
                    keys: self.single.keys,
                    secrets: self.single.secrets,
                    remote: self.single.remote,
                    discover: self.single.discover,
                },
                "",
            )?);
        }
        // Before an issuer is known, a token is parsed with the loosest
        // limits of any issuer; its own limits are checked once it is known.
        let limits = trusts.iter().fold((0, 0), |(len, depth), t: &Trust| {
            (
                len.max(t.policy.max_token_len),
                depth.max(t.policy.max_depth),
            )
        });
        if self.remote_status_lists.is_some() {
            for t in &mut trusts {
                t.policy.check_status = true;
            }
        }
        let mut validator = Validator {
            trusts,
            multi,
            limits,
            cache: TokenCache::new(self.cache),
            revocations_remote: self.remote_revocations.map(RemoteState::new),
            status_remote: self.remote_status_lists,
            status_sources: Vec::new(),
            generation: 0,
            jitter: 0,
            crypto: self.crypto,
            key_serial: 0,
            notice: None,
        };
        validator.set_jitter_seed(self.jitter);
        for trust in 0..validator.trusts.len() {
            validator.number_keys(trust, None);
        }
        Ok(validator)
    }
}

/// A trusted issuer as the validator holds it.
#[derive(Debug)]
struct Trust {
    /// `Some` in the multi-issuer form.
    issuer: Option<String>,
    policy: Policy,
    /// Public keys plus the secrets (what key selection sees).
    keys: KeySet,
    /// The configured secrets, added again whenever a fetched JWKS replaces the keys.
    secrets: KeySet,
    remote: Option<RemoteState>,
    /// Where the remote JWKS is, when it is discovered from metadata.
    discovery: Option<Discovery>,
}

/// A trusted issuer's key sources as configured.
struct Sources {
    keys: Option<KeySet>,
    secrets: KeySet,
    remote: Option<RemoteConfig>,
    discover: Option<RemoteConfig>,
}

/// Metadata discovery of one issuer's JWKS.
#[derive(Debug)]
struct Discovery {
    state: RemoteState,
    /// The issuer the metadata must name.
    issuer: String,
    /// 0: RFC 8414's well-known URL; 1: OpenID Connect Discovery's (after a 404).
    which: u8,
    /// The `jwks_uri` of the held metadata.
    jwks_uri: Option<String>,
}

impl Discovery {
    fn url(&self) -> Option<String> {
        metadata_url(&self.issuer, self.which)
    }
}

/// The metadata URL of `issuer`: RFC 8414 §3.1 inserts the well-known
/// segment between the host and the issuer's path; OpenID Connect Discovery
/// §4 appends it to the issuer. `None` unless `issuer` is an `https://` or
/// `http://` URL without query or fragment.
pub fn metadata_url(issuer: &str, which: u8) -> Option<String> {
    let (scheme, rest) = issuer.split_once("://")?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_end_matches('/');
    let bad = |s: &str| s.bytes().any(|b| b == b'?' || b == b'#');
    if !(scheme == "https" || scheme == "http")
        || host.is_empty()
        || host.contains('@')
        || bad(host)
        || bad(path)
    {
        return None;
    }
    let (before, after) = if which == 0 {
        ("/.well-known/oauth-authorization-server", "")
    } else {
        ("", "/.well-known/openid-configuration")
    };
    let mut url = String::with_capacity(issuer.len() + 48);
    for part in [scheme, "://", host, before] {
        url.push_str(part);
    }
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    url.push_str(after);
    Some(url)
}

/// The `jwks_uri` of a metadata document that names `issuer` exactly.
fn parse_metadata(body: &[u8], issuer: &str) -> Result<String> {
    let doc = crate::json::parse_object(body, 16).map_err(|e| {
        Error::new(
            ErrorKind::JwksInvalid,
            msg!("the metadata is not JSON: ", e),
        )
    })?;
    let named = doc.get("issuer").and_then(Value::as_str);
    if named != Some(issuer) {
        return Err(Error::new(
            ErrorKind::JwksInvalid,
            msg!(
                "the metadata names issuer ",
                Truncated(named.unwrap_or("(none)")),
                ", not ",
                Truncated(issuer),
                " (RFC 8414 §3.3: they must be identical)"
            ),
        ));
    }
    let uri = doc.get("jwks_uri").and_then(Value::as_str).unwrap_or("");
    let https = uri.starts_with("https://");
    let http_ok = uri.starts_with("http://") && issuer.starts_with("http://");
    let host_ok = uri
        .split_once("://")
        .and_then(|(_, r)| r.split('/').next())
        .is_some_and(|h| !h.is_empty() && !h.contains('@'));
    if !(https || http_ok) || !host_ok || uri.contains('#') {
        return Err(Error::new(
            ErrorKind::JwksInvalid,
            msg!(
                "the metadata's jwks_uri ",
                Truncated(uri),
                " is not an https:// URL"
            ),
        ));
    }
    Ok(String::from(uri))
}

impl Trust {
    fn new(
        issuer: Option<String>,
        mut policy: Policy,
        sources: Sources,
        place: &str,
    ) -> Result<Self> {
        let Sources {
            keys,
            secrets,
            mut remote,
            discover,
        } = sources;
        // Option names as the npm package spells them, prefixed by the
        // issuer's place in "issuers" for the multi-issuer form.
        let name = |option: &str| -> String {
            if place.is_empty() {
                String::from(option)
            } else {
                msg!(place, ".", option)
            }
        };
        let discovery = match discover {
            None => None,
            Some(config) => {
                if keys.is_some() || remote.is_some() {
                    return Err(invalid_options(msg!(
                        "option \"",
                        name("jwks"),
                        "\" is either a key set, a remote source or discover(...), not several"
                    )));
                }
                let iss = issuer
                    .clone()
                    .or_else(|| policy.issuers.first().cloned())
                    .unwrap_or_default();
                if metadata_url(&iss, 0).is_none() {
                    return Err(invalid_options(msg!(
                        "option \"",
                        name("jwks"),
                        "\": discover(url) needs the issuer as an https:// URL without query or fragment, got ",
                        Truncated(&iss)
                    )));
                }
                remote = Some(config);
                Some(Discovery {
                    state: RemoteState::new(config),
                    issuer: iss,
                    which: 0,
                    jwks_uri: None,
                })
            }
        };
        if keys.is_none() && secrets.is_empty() && remote.is_none() {
            return Err(invalid_options(if place.is_empty() {
                String::from("options need \"jwks\" or \"secret\"")
            } else {
                msg!("option \"", place, "\" needs \"jwks\" or \"secret\"")
            }));
        }
        if keys.is_some() && remote.is_some() {
            return Err(invalid_options(msg!(
                "option \"",
                name("jwks"),
                "\" is either a key set or a remote source, not both"
            )));
        }
        if !(1..=MAX_KIDLESS_CANDIDATES).contains(&policy.kidless_requested) {
            return Err(invalid_options(msg!(
                "invalid option \"",
                name("kidlessCandidates"),
                "\": must be between 1 and ",
                MAX_KIDLESS_CANDIDATES
            )));
        }
        if policy.explicit_algorithms {
            // HMAC verifies only with an explicitly configured secret.
            if let Some(hs) = policy.algorithms.iter().find(|a| a.is_symmetric()) {
                if secrets.is_empty() {
                    return Err(invalid_options(msg!(
                        "invalid option \"",
                        name("algorithms"),
                        "\": ",
                        *hs,
                        " needs a \"secret\": HMAC algorithms verify only with an explicitly configured secret"
                    )));
                }
            }
        } else if !secrets.is_empty() {
            // Symmetric algorithms are allowed only because a secret was configured.
            policy = policy.allow_hmac();
        }
        let mut all = keys.unwrap_or_default();
        all.extend(secrets.copy_secrets());
        Ok(Self {
            issuer,
            policy,
            keys: all,
            secrets,
            remote: remote.map(RemoteState::new),
            discovery,
        })
    }
}

/// A document the caller fetches for the validator.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The remote JWKS of trusted issuer `n` (0 in the single-issuer form).
    Jwks(usize),
    /// The remote signed revocation list.
    Revocations,
    /// Remote Token Status List `n` (fetched from the URI tokens name, under
    /// an allowed prefix; [`FetchRequest::url`]).
    StatusList(usize),
    /// The authorization server metadata of trusted issuer `n` (RFC 8414,
    /// else OpenID Connect Discovery), whose `jwks_uri` locates its JWKS
    /// ([`IssuerOptions::discover`]; [`FetchRequest::url`]).
    Metadata(usize),
}

impl Source {
    /// Its stable name: `jwks` (single issuer), `jwks:N` (issuer N of the
    /// multi-issuer form) or `revocations`; also the keys of
    /// [`Validator::export_cache`].
    pub fn name(self, multi: bool) -> String {
        match self {
            Source::Jwks(n) if multi => msg!("jwks:", n),
            Source::Jwks(_) => String::from("jwks"),
            Source::Revocations => String::from("revocations"),
            Source::StatusList(n) => msg!("statuslist:", n),
            Source::Metadata(n) if multi => msg!("metadata:", n),
            Source::Metadata(_) => String::from("metadata"),
        }
    }
}

/// A fetch the caller must perform and report with [`Validator::on_fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// What to fetch.
    pub source: Source,
    /// Its name (see [`Source::name`]).
    pub name: String,
    /// The `If-None-Match` value to send, if any.
    pub if_none_match: Option<String>,
    /// `true`: nothing usable is held (or a kid-miss refetch): await the
    /// fetch, report it, then call `begin` again. `false`: the held document
    /// is stale but usable: run the fetch in the background and call `begin`
    /// again right away (stale-while-revalidate).
    pub blocking: bool,
    /// How long the fetch may take before it counts as failed, in seconds.
    pub timeout: u64,
    /// A refetch because a token named an unknown `kid` (at most one per cooldown).
    pub kid_miss: bool,
    /// Where to fetch it, for sources whose address comes from the token
    /// (status lists); `None`: the address the caller configured.
    pub url: Option<String>,
}

/// The state of one token after [`Validator::begin`].
#[non_exhaustive]
#[derive(Debug)]
pub enum Step<'a> {
    /// Verified: from the cache, or entirely in Rust.
    Verified(Finished<'a>),
    /// The signature must be checked by the caller; then [`Validator::finish`].
    Signature(SignatureCheck),
    /// A remote source must be fetched first (see [`FetchRequest::blocking`]).
    Fetch(FetchRequest),
    /// Nothing usable is held and another caller's fetch of this source is in
    /// flight: poll `begin` again after `poll_ms`, for at most `timeout` seconds.
    Wait {
        /// The source being fetched.
        source: Source,
        /// Poll interval in milliseconds.
        poll_ms: u32,
        /// Give up (`begin` again reports the failure) after this many seconds.
        timeout: u64,
    },
}

/// A successful verification.
#[derive(Debug)]
pub struct Finished<'a> {
    /// The result (borrowed from the cache when cached).
    pub verified: Cow<'a, Verified>,
    /// The cache entry's serial number (unique per insertion), 0 when not cached.
    pub serial: u64,
    /// Whether it was a cache hit.
    pub hit: bool,
    /// For a cached result: the whole seconds `[from, until)` during which a
    /// repeat of this token gets this same answer while the validator's
    /// [`Validator::generation`] is unchanged (time claims, policy, and the
    /// freshness of its sources: nothing needs fetching before `until`). A
    /// caller may answer repeats from its own map with two comparisons.
    pub window: Option<(u64, u64)>,
}

/// A parsed token whose signature the caller checks (with the host's crypto),
/// owning everything [`Validator::finish`] needs: the token is never parsed twice.
#[derive(Debug)]
pub struct SignatureCheck {
    token: String,
    parsed: UntrustedToken,
    claims: Option<Map<String, Value>>,
    alg: Algorithm,
    trust: usize,
    /// Candidate keys (positions in the trust's key set) whose signature
    /// length fits, with their serials ([`SignatureCheck::key_serial`]).
    candidates: Vec<(usize, u32)>,
    generation: u64,
    has_rust_backend: bool,
}

impl SignatureCheck {
    /// The algorithm to check with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The exact JWS signing input.
    pub fn signing_input(&self) -> &[u8] {
        self.parsed.signing_input()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        self.parsed.signature()
    }

    /// How many candidate keys to try, in order.
    pub fn candidates(&self) -> usize {
        self.candidates.len()
    }

    /// A stable number of candidate `n` within its validator, for caching
    /// keys imported into the host's crypto across verifications: the same
    /// key keeps its number while it stays trusted (across key-set changes,
    /// which keep the keys they keep), and no two keys the validator holds
    /// share one, whatever their issuer.
    pub fn key_serial(&self, n: usize) -> Option<u32> {
        self.candidates.get(n).map(|&(_, serial)| serial)
    }

    /// Whether this build can check this algorithm in Rust.
    pub fn has_rust_backend(&self) -> bool {
        self.has_rust_backend
    }
}

/// How [`Validator::begin`] may proceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Asymmetric signatures are checked in Rust (HMAC always is).
    pub rust_signatures: bool,
    /// The caller can fetch ([`Step::Fetch`], [`Step::Wait`]); otherwise
    /// remote sources are used as held and fail closed when unusable.
    pub fetch: bool,
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
}

/// A remote Token Status List: its URI, the issuer whose keys verify it,
/// its fetch state, and when a token last named it.
#[derive(Debug)]
struct StatusSource {
    uri: String,
    trust: usize,
    state: RemoteState,
    used: u64,
}

impl StatusSource {
    /// [`ensure`] for this list; a fetch carries the list's URI.
    fn ensure(
        &mut self,
        source: Source,
        multi: bool,
        now: u64,
        fetch: bool,
    ) -> Result<Option<Step<'static>>> {
        Ok(
            ensure(Some(&mut self.state), source, multi, now, fetch)?.map(|step| match step {
                Step::Fetch(mut f) => {
                    f.url = Some(self.uri.clone());
                    Step::Fetch(f)
                }
                other => other,
            }),
        )
    }
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
    pub fn verify(&mut self, token: &str, now: u64) -> Result<Verified> {
        self.drive(token, now, false, |_| FetchOutcome::Failed)
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
        self.drive(token, now, true, fetch)
    }

    /// The steps of one verification in Rust; with `may_fetch` false no
    /// step asks for a fetch (sources fail closed instead).
    fn drive(
        &mut self,
        token: &str,
        now: u64,
        may_fetch: bool,
        mut fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
    ) -> Result<Verified> {
        let mode = Mode {
            rust_signatures: true,
            fetch: may_fetch,
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

    /// Starts verifying `token` at `now`: a cache hit or a result computed in
    /// Rust ([`Step::Verified`]), a signature for the caller to check
    /// ([`Step::Signature`]), or a fetch to perform first.
    ///
    /// # Errors
    /// Every `ERR_*` the steps before the signature check can give (and, with
    /// Rust signatures, every later one), `ERR_JWKS_TIMEOUT` /
    /// `ERR_REVOCATIONS_UNAVAILABLE` when a remote source has nothing usable.
    pub fn begin(&mut self, token: &str, now: u64, mode: Mode) -> Result<Step<'_>> {
        self.begin_after(token, now, mode, &[])
    }

    /// [`Validator::begin`] again after the caller performed the fetches of
    /// `fetched` for this token (each [`Step::Fetch`] it answered, kid-miss
    /// refetches excepted): those sources are not fetched again for their
    /// freshness during this verification, so a failing source costs one
    /// fetch per verification, never a loop.
    ///
    /// # Errors
    /// As [`Validator::begin`].
    pub fn begin_after(
        &mut self,
        token: &str,
        now: u64,
        mode: Mode,
        fetched: &[Source],
    ) -> Result<Step<'_>> {
        check_now(now)?;
        let rust = mode.rust_signatures || self.crypto == Crypto::Rust;
        // A cached token: its issuer's sources must still be usable (a hit
        // also drives their refresh, so revocations stay current). When
        // signatures must be checked in Rust, an entry the host's crypto
        // verified for an algorithm this build has no backend for is not an
        // answer: without it the pipeline refuses at the signature step, and
        // the answer must not depend on what was verified before.
        let owner = self.cache.owner_of(token).filter(|_| {
            !rust
                || self
                    .cache
                    .peek(token)
                    .is_some_and(|v| v.alg.has_rust_backend())
        });
        if owner.is_none() {
            self.cache.note_miss();
        }
        if let Some(owner) = owner {
            if let Some(step) = self.ensure_sources(owner, now, mode.fetch, fetched)? {
                return Ok(step);
            }
            // The issuer's status lists stay fresh too (a cached answer is
            // only as current as the lists it was checked against).
            let multi = self.multi;
            for (n, s) in self.status_sources.iter_mut().enumerate() {
                let source = Source::StatusList(n);
                if s.trust != owner {
                    continue;
                }
                let may = mode.fetch && !fetched.contains(&source);
                if let Some(step) = s.ensure(source, multi, now, may)? {
                    return Ok(step);
                }
            }
            let trusts = &self.trusts;
            let hit = match self
                .cache
                .get_with(token, now, |o| trusts.get(o).map(|t| &t.policy))
            {
                Lookup::Hit(v, serial) => Some((serial, v.times)),
                Lookup::Rejected(e) => return Err(e),
                Lookup::Miss => None,
            };
            if let Some((serial, times)) = hit {
                let window = self.window(owner, times);
                return match self.cache.peek(token) {
                    Some(v) => Ok(Step::Verified(Finished {
                        verified: Cow::Borrowed(v),
                        serial,
                        hit: true,
                        window,
                    })),
                    None => Err(invalid_options("the cache lost an entry it had just found")),
                };
            }
        }
        let (max_len, max_depth) = self.limits;
        let parsed = verify::parse_token_with(token, max_len, max_depth)?;
        let (trust, mut claims) = if self.multi {
            let claims = parsed.claims(max_depth)?;
            (self.trust_for(&claims)?, Some(claims))
        } else {
            (0, None)
        };
        // The issuer's own limits, where they are stricter.
        if let Some(t) = self.trusts.get(trust) {
            crate::jws::check_len(token.len(), t.policy.max_token_len)?;
            if t.policy.max_depth < max_depth {
                parsed.check_header_depth(t.policy.max_depth)?;
                if claims.is_some() {
                    claims = Some(parsed.claims(t.policy.max_depth)?);
                }
            }
        }
        if let Some(step) = self.ensure_sources(trust, now, mode.fetch, fetched)? {
            return Ok(step);
        }
        if self.status_remote.is_some() {
            if claims.is_none() {
                claims = Some(parsed.claims(max_depth)?);
            }
            if let Some(c) = &claims {
                if let Some(step) = self.ensure_status(trust, c, now, mode.fetch, fetched)? {
                    return Ok(step);
                }
            }
        }
        let Some(t) = self.trusts.get_mut(trust) else {
            return Err(invalid_options("no trusted issuer"));
        };
        let alg = verify::allowed_alg(&parsed.header.alg, &t.policy)?;
        let selected = t.keys.select_indices(
            alg,
            parsed.header.kid.as_deref(),
            t.policy.kidless_candidates,
        );
        let indices = match selected {
            Ok(indices) => indices,
            Err(e) if e.kind() == ErrorKind::NoMatchingKey && mode.fetch => {
                // An unknown kid may be a key newer than the set: one refetch,
                // at most once per cooldown.
                let url = t.discovery.as_ref().and_then(|d| d.jwks_uri.clone());
                let refetch = t
                    .remote
                    .as_mut()
                    .map(|r| (r.on_kid_miss(now), r.config().timeout));
                match refetch {
                    Some((true, timeout)) => {
                        return Ok(Step::Fetch(FetchRequest {
                            source: Source::Jwks(trust),
                            name: Source::Jwks(trust).name(self.multi),
                            if_none_match: None,
                            blocking: true,
                            timeout,
                            kid_miss: true,
                            url,
                        }))
                    }
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        // Host crypto never sees a signature of the wrong length, and Rust
        // never tries one either.
        let sig_len = parsed.signature().len();
        let selected: Vec<&Key> = indices
            .iter()
            .filter_map(|&i| t.keys.keys().get(i))
            .collect();
        verify::check_length(alg, &selected, sig_len)?;
        let candidates: Vec<(usize, u32)> = indices
            .into_iter()
            .filter_map(|i| {
                let key = t.keys.keys().get(i)?;
                (key.signature_len(alg) == Some(sig_len)).then(|| (i, key.serial()))
            })
            .collect();
        let check = SignatureCheck {
            token: String::from(token),
            parsed,
            claims,
            alg,
            trust,
            candidates,
            generation: self.generation,
            has_rust_backend: alg.has_rust_backend(),
        };
        if alg.is_symmetric() || rust {
            let verified_by = self.check_in_rust(&check)?;
            return self.finish(check, verified_by, now).map(Step::Verified);
        }
        Ok(Step::Signature(check))
    }

    /// Checks every candidate of `check` in Rust: the first that verifies.
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED` when this build has no backend for the algorithm.
    pub fn check_in_rust(&self, check: &SignatureCheck) -> Result<Option<usize>> {
        for n in 0..check.candidates.len() {
            if self.check_candidate(check, n)? {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// Checks candidate `n` of `check` in Rust (for a key the host's crypto
    /// cannot use).
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED` when this build has no backend for the algorithm.
    pub fn check_candidate(&self, check: &SignatureCheck, n: usize) -> Result<bool> {
        match self.candidate_key(check, n) {
            Some(key) => key.verify_signature(check.alg, check.signing_input(), check.signature()),
            None => Ok(false),
        }
    }

    /// Checks candidate `n` of `check` in Rust because the host's crypto
    /// could not use the key, where this validator's [`Crypto`] allows it.
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED` with [`Crypto::Host`] or when this build has
    /// no backend for the algorithm.
    pub fn check_instead_of_host(&self, check: &SignatureCheck, n: usize) -> Result<bool> {
        if self.crypto == Crypto::Host || !check.has_rust_backend {
            let alg = check.alg;
            return Err(Error::new(
                ErrorKind::NotSupported,
                if check.has_rust_backend {
                    msg!(
                        alg,
                        ": the host's crypto cannot use this key and crypto is \"host\""
                    )
                } else {
                    msg!(alg, ": the host's crypto cannot use this key and this build has no pure-Rust backend for it (use jwt-edge/full)")
                },
            ));
        }
        self.check_candidate(check, n)
    }

    /// Candidate `n` of `check` (its public JWK is what a host imports).
    /// `None` once the key has left the key set.
    pub fn candidate_key(&self, check: &SignatureCheck, n: usize) -> Option<&Key> {
        let &(index, serial) = check.candidates.get(n)?;
        let keys = self.trusts.get(check.trust)?.keys.keys();
        if check.generation == self.generation {
            return keys.get(index);
        }
        keys.iter().find(|k| k.serial() == serial)
    }

    /// Completes `check` after the caller's signature check: `verified_by` is
    /// the candidate that verified, or `None`. The claims, revocation data and
    /// policy in force now apply; if keys changed meanwhile, the verifying key
    /// must still be trusted.
    ///
    /// # Errors
    /// `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, `ERR_JWKS_NO_MATCHING_KEY`
    /// (the key was removed meanwhile; retryable), and every claim and
    /// revocation error.
    pub fn finish(
        &mut self,
        check: SignatureCheck,
        verified_by: Option<usize>,
        now: u64,
    ) -> Result<Finished<'_>> {
        check_now(now)?;
        let Some(n) = verified_by.filter(|&n| n < check.candidates.len()) else {
            return Err(Error::new(
                ErrorKind::SignatureVerificationFailed,
                "signature verification failed",
            ));
        };
        let Some(key) = self.candidate_key(&check, n) else {
            return Err(Error::new(
                ErrorKind::NoMatchingKey,
                "the key that verified this token left the key set during verification",
            ));
        };
        let Some(t) = self.trusts.get(check.trust) else {
            return Err(invalid_options("no trusted issuer"));
        };
        let verified =
            verify::complete(check.parsed, check.claims, check.alg, key, &t.policy, now)?;
        let window = self.window(check.trust, verified.times);
        Ok(
            match self
                .cache
                .insert_owned(&check.token, verified, check.trust, &t.policy)
            {
                Inserted::Cached(v, serial) => Finished {
                    verified: Cow::Borrowed(v),
                    serial,
                    hit: false,
                    window,
                },
                Inserted::NotCached(v) => Finished {
                    verified: Cow::Owned(v),
                    serial: 0,
                    hit: false,
                    window: None,
                },
            },
        )
    }

    /// [`Finished::window`] of `verified`, a result of trusted issuer `trust`.
    fn window(&self, trust: usize, times: claims::TimeClaims) -> Option<(u64, u64)> {
        let t = self.trusts.get(trust)?;
        let (from, until) = claims::time_window(times, &t.policy)?;
        // Before a source's freshness ends, `begin` would do nothing about it.
        let status = self
            .status_sources
            .iter()
            .filter(|s| s.trust == trust)
            .map(|s| &s.state);
        let metadata = t.discovery.as_ref().map(|d| &d.state);
        let fresh = [
            t.remote.as_ref(),
            self.revocations_remote.as_ref(),
            metadata,
        ]
        .into_iter()
        .flatten()
        .chain(status)
        .map(RemoteState::fresh_until)
        .min()
        .unwrap_or(u64::MAX);
        let until = until.min(fresh);
        (from < until).then_some((from, until))
    }

    /// The cached result for `token` at `now` (after a hit reported by `begin`).
    pub fn cached(&mut self, token: &str, now: u64) -> Option<(&Verified, u64)> {
        let trusts = &self.trusts;
        match self
            .cache
            .get_with(token, now, |o| trusts.get(o).map(|t| &t.policy))
        {
            Lookup::Hit(v, serial) => Some((v, serial)),
            _ => None,
        }
    }

    /// The trusted issuer a multi-issuer token names in `iss`.
    fn trust_for(&self, claims: &Map<String, Value>) -> Result<usize> {
        let iss = claims::string_claim(claims, "iss")?.ok_or_else(|| {
            Error::claim(
                ErrorKind::ClaimValidationFailed,
                "iss",
                ClaimReason::Missing,
                "the token has no \"iss\" claim; this validator trusts several issuers and selects the keys by it",
            )
        })?;
        self.trusts
            .iter()
            .position(|t| t.issuer.as_deref() == Some(iss))
            .ok_or_else(|| {
                Error::claim(
                    ErrorKind::ClaimValidationFailed,
                    "iss",
                    ClaimReason::CheckFailed,
                    msg!("issuer ", Truncated(iss), " is not a trusted issuer"),
                )
            })
    }

    /// Makes sure the sources trust `trust` depends on are usable; a step
    /// for the caller when it must fetch or wait first.
    /// A source already fetched during this verification (`fetched`) is
    /// not fetched again: what is held is used, or it fails closed.
    fn ensure_sources(
        &mut self,
        trust: usize,
        now: u64,
        fetch: bool,
        fetched: &[Source],
    ) -> Result<Option<Step<'static>>> {
        let multi = self.multi;
        let may = |s: Source| fetch && !fetched.contains(&s);
        let mut jwks_url = None;
        if let Some(d) = self
            .trusts
            .get_mut(trust)
            .and_then(|t| t.discovery.as_mut())
        {
            let source = Source::Metadata(trust);
            // After a 404 from RFC 8414's URL, OpenID's is fetched in the
            // same verification: two fetches of this source at most.
            let done = fetched.iter().filter(|s| **s == source).count();
            let may = fetch && done < 1 + usize::from(d.which);
            let url = d.url();
            match ensure(Some(&mut d.state), source, multi, now, may)? {
                Some(Step::Fetch(mut f)) => {
                    f.url = url;
                    return Ok(Some(Step::Fetch(f)));
                }
                Some(step) => return Ok(Some(step)),
                None => {}
            }
            if d.jwks_uri.is_none() {
                // Usable metadata restored from a snapshot: read it again.
                let issuer = d.issuer.clone();
                d.jwks_uri = d.state.body().and_then(|b| parse_metadata(b, &issuer).ok());
            }
            jwks_url = d.jwks_uri.clone();
            if jwks_url.is_none() {
                return Err(self.unavailable(Source::Metadata(trust)));
            }
        }
        let jwks = self.trusts.get_mut(trust).and_then(|t| t.remote.as_mut());
        let source = Source::Jwks(trust);
        match ensure(jwks, source, multi, now, may(source))? {
            Some(Step::Fetch(mut f)) => {
                f.url = jwks_url;
                return Ok(Some(Step::Fetch(f)));
            }
            Some(step) => return Ok(Some(step)),
            None => {}
        }
        let source = Source::Revocations;
        ensure(
            self.revocations_remote.as_mut(),
            source,
            multi,
            now,
            may(source),
        )
    }

    /// Whether the status list at `uri` may be fetched for issuer `trust`.
    fn status_allowed(&self, trust: usize, uri: &str) -> bool {
        let Some((_, prefixes)) = &self.status_remote else {
            return false;
        };
        if !prefixes.is_empty() {
            return prefixes.iter().any(|p| uri.starts_with(p.as_str()));
        }
        // The issuer's own origin: scheme://host[:port]/
        let Some(t) = self.trusts.get(trust) else {
            return false;
        };
        let iss = t
            .issuer
            .as_deref()
            .or_else(|| t.policy.issuers.first().map(String::as_str));
        let origin = iss.and_then(|iss| {
            let rest = iss
                .strip_prefix("https://")
                .map(|r| ("https://", r))
                .or_else(|| iss.strip_prefix("http://").map(|r| ("http://", r)))?;
            let host = rest.1.split('/').next().filter(|h| !h.is_empty())?;
            Some(msg!(rest.0, host, "/"))
        });
        origin.is_some_and(|o| uri.starts_with(o.as_str()))
    }

    /// The status list a token names: a fetch when it is not held (or
    /// stale), nothing when it is fresh. Only allowed URIs are ever fetched.
    fn ensure_status(
        &mut self,
        trust: usize,
        claims: &serde_json::Map<String, Value>,
        now: u64,
        fetch: bool,
        fetched: &[Source],
    ) -> Result<Option<Step<'static>>> {
        let Some((config, _)) = &self.status_remote else {
            return Ok(None);
        };
        let config = *config;
        if !self
            .trusts
            .get(trust)
            .is_some_and(|t| t.policy.check_status)
        {
            return Ok(None);
        }
        let Some(r) = crate::status_list::status_ref(claims)? else {
            return Ok(None);
        };
        if !self.status_allowed(trust, r.uri) {
            return Err(Error::new(
                ErrorKind::StatusListInvalid,
                msg!(
                    "the token's status list ",
                    Truncated(r.uri),
                    " is not under an allowed prefix (statusListPrefixes; default: the issuer's origin); it is not fetched"
                ),
            ));
        }
        let found = self
            .status_sources
            .iter()
            .position(|s| s.trust == trust && s.uri == r.uri);
        let n = match found {
            Some(n) => n,
            None => {
                let mut state = RemoteState::new(config);
                state.set_jitter(self.jitter);
                let fresh = StatusSource {
                    uri: String::from(r.uri),
                    trust,
                    state,
                    used: now,
                };
                if self.status_sources.len() < crate::status_list::MAX_HELD_STATUS_LISTS {
                    self.status_sources.push(fresh);
                    self.status_sources.len() - 1
                } else {
                    // Replace the least recently named list (its slot keeps
                    // its number; a fetch still in flight for the old URI
                    // then fails verification and counts as failed).
                    let n = self
                        .status_sources
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, s)| s.used)
                        .map_or(0, |(n, _)| n);
                    if let Some(s) = self.status_sources.get_mut(n) {
                        *s = fresh;
                    }
                    n
                }
            }
        };
        let source = Source::StatusList(n);
        let may = fetch && !fetched.contains(&source);
        let multi = self.multi;
        let Some(s) = self.status_sources.get_mut(n) else {
            return Ok(None);
        };
        s.used = now;
        s.ensure(source, multi, now, may)
    }

    fn remote_mut(&mut self, source: Source) -> Option<&mut RemoteState> {
        match source {
            Source::Jwks(n) => self.trusts.get_mut(n)?.remote.as_mut(),
            Source::Revocations => self.revocations_remote.as_mut(),
            Source::StatusList(n) => self.status_sources.get_mut(n).map(|s| &mut s.state),
            Source::Metadata(n) => self
                .trusts
                .get_mut(n)?
                .discovery
                .as_mut()
                .map(|d| &mut d.state),
        }
    }

    fn remote(&self, source: Source) -> Option<&RemoteState> {
        match source {
            Source::Jwks(n) => self.trusts.get(n)?.remote.as_ref(),
            Source::Revocations => self.revocations_remote.as_ref(),
            Source::StatusList(n) => self.status_sources.get(n).map(|s| &s.state),
            Source::Metadata(n) => self.trusts.get(n)?.discovery.as_ref().map(|d| &d.state),
        }
    }

    /// Where a discovered issuer's documents are: its metadata URL, or the
    /// `jwks_uri` its metadata named (`None`: the caller's configured URL).
    fn fetch_url(&self, source: Source) -> Option<String> {
        match source {
            Source::Metadata(n) => self.trusts.get(n)?.discovery.as_ref()?.url(),
            Source::Jwks(n) => self.trusts.get(n)?.discovery.as_ref()?.jwks_uri.clone(),
            _ => None,
        }
    }

    /// The error a source with nothing usable gives (fail closed).
    pub fn unavailable(&self, source: Source) -> Error {
        let kind = source_kind(source);
        match self.remote(source) {
            Some(state) => state.unavailable(kind),
            None => RemoteState::default().unavailable(kind),
        }
        .for_source(source.name(self.multi))
    }

    /// The remote sources, by name (see [`Source::name`]).
    pub fn sources(&self) -> Vec<(Source, String)> {
        let mut out = Vec::new();
        for (n, t) in self.trusts.iter().enumerate() {
            // Metadata first: it says where the JWKS is.
            if t.discovery.is_some() {
                out.push((Source::Metadata(n), Source::Metadata(n).name(self.multi)));
            }
            if t.remote.is_some() {
                out.push((Source::Jwks(n), Source::Jwks(n).name(self.multi)));
            }
        }
        if self.revocations_remote.is_some() {
            out.push((Source::Revocations, Source::Revocations.name(self.multi)));
        }
        out
    }

    /// The source called `name`, if configured (or, for `statuslist:N`,
    /// seen in a token).
    pub fn source(&self, name: &str) -> Option<Source> {
        if let Some(n) = name.strip_prefix("statuslist:") {
            let n: usize = n.parse().ok()?;
            return (n < self.status_sources.len()).then_some(Source::StatusList(n));
        }
        self.sources()
            .into_iter()
            .find(|(_, n)| n == name)
            .map(|(s, _)| s)
    }

    /// Reports a fetch of `source` (a [`Step::Fetch`]). A body that does not
    /// parse (a JWKS) or verify (a revocation list) counts as a failed fetch,
    /// so a broken deploy never replaces good data. Returns whether new data
    /// was installed.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` for a source that is not configured or a bad
    /// `now`; `ERR_REVOCATION_LIST_INVALID` for a verified list with an older epoch.
    pub fn on_fetch(&mut self, source: Source, now: u64, outcome: FetchOutcome) -> Result<bool> {
        check_now(now)?;
        let before = self.remote(source).map_or(0, RemoteState::failures);
        let installed = self.apply_fetch(source, now, outcome);
        self.note_health(source, before, now);
        installed
    }

    /// The one log line for a source whose health changed with the last
    /// fetch reported (it began failing, or came back), if any; taken once.
    /// A host logs it (the npm package with `console.warn`), so a source
    /// that stays down costs one line, not one per attempt.
    pub fn take_notice(&mut self) -> Option<String> {
        self.notice.take()
    }

    fn note_health(&mut self, source: Source, before: u32, now: u64) {
        let Some(state) = self.remote(source) else {
            return;
        };
        let after = state.failures();
        let name = source.name(self.multi);
        if before == 0 && after > 0 {
            let what = if state.is_usable(now) {
                "the held copy is served meanwhile"
            } else {
                "verifications that need it fail closed meanwhile"
            };
            self.notice = Some(msg!(
                "jwt-edge: remote source ",
                name.as_str(),
                " could not be fetched (",
                state.last_failure(),
                "); retrying with backoff; ",
                what
            ));
        } else if before > 0 && after == 0 {
            self.notice = Some(msg!(
                "jwt-edge: remote source ",
                name.as_str(),
                " fetched again after ",
                u64::from(before),
                " failed attempts"
            ));
        }
    }

    fn apply_fetch(&mut self, source: Source, now: u64, outcome: FetchOutcome) -> Result<bool> {
        let parsed = match source {
            Source::Jwks(n) => {
                let Some(t) = self.trusts.get_mut(n) else {
                    return Err(invalid_options("no such remote source"));
                };
                let secrets = &t.secrets;
                let Some(remote) = t.remote.as_mut() else {
                    return Err(invalid_options("no such remote source"));
                };
                remote
                    .on_result(now, outcome, |body| parse_jwks(body, secrets))
                    .1
                    .map(Installed::Keys)
            }
            Source::Revocations => {
                let trusts = &self.trusts;
                let multi = self.multi;
                let Some(remote) = self.revocations_remote.as_mut() else {
                    return Err(invalid_options("no such remote source"));
                };
                remote
                    .on_result(now, outcome, |body| verify_list(body, trusts, multi, true))
                    .1
                    .map(Installed::List)
            }
            Source::Metadata(n) => {
                let Some(t) = self.trusts.get_mut(n) else {
                    return Err(invalid_options("no such remote source"));
                };
                let Some(d) = t.discovery.as_mut() else {
                    return Err(invalid_options("no such remote source"));
                };
                let not_found = matches!(outcome, FetchOutcome::Response { status: 404, .. });
                if not_found && d.which == 0 && d.state.body().is_none() {
                    // No RFC 8414 metadata: OpenID Connect Discovery next.
                    d.which = 1;
                    d.state = d.state.renewed();
                    return Ok(false);
                }
                let issuer = d.issuer.clone();
                let found = d
                    .state
                    .on_result(now, outcome, |body| parse_metadata(body, &issuer))
                    .1;
                let Some(uri) = found else {
                    return Ok(false);
                };
                if d.jwks_uri.as_deref() != Some(uri.as_str()) {
                    let moved = d.jwks_uri.is_some();
                    d.jwks_uri = Some(uri);
                    if moved {
                        // The keys moved: fetch them from the new place
                        // (the held ones serve until then).
                        if let Some(r) = t.remote.as_mut() {
                            *r = r.renewed();
                        }
                    }
                }
                return Ok(true);
            }
            Source::StatusList(n) => {
                let Some(StatusSource {
                    uri, trust, state, ..
                }) = self.status_sources.get_mut(n)
                else {
                    return Err(invalid_options("no such remote source"));
                };
                let Some(t) = self.trusts.get(*trust) else {
                    return Err(invalid_options("no such remote source"));
                };
                let trust = *trust;
                state
                    .on_result(now, outcome, |body| {
                        let text = core::str::from_utf8(body).map_err(|_| {
                            Error::new(ErrorKind::StatusListInvalid, "the status list is not UTF-8")
                        })?;
                        verify::verify_status_list(text, uri, &t.keys, &t.policy, now)
                    })
                    .1
                    .map(|list| Installed::Status(trust, list))
            }
        };
        match parsed {
            Some(doc) => self.install(source, doc).map(|()| true),
            None => Ok(false),
        }
    }

    fn install(&mut self, source: Source, doc: Installed) -> Result<()> {
        match (source, doc) {
            (_, Installed::Status(trust, list)) => {
                if let Some(t) = self.trusts.get_mut(trust) {
                    t.policy.revocations.insert_status_list(list)?;
                }
                self.generation = self.generation.wrapping_add(1);
            }
            (Source::Jwks(n), Installed::Keys(keys)) => self.install_keys(n, keys),
            (_, Installed::List((trust, list))) => {
                if let Some(t) = self.trusts.get_mut(trust) {
                    t.policy.revocations_mut().insert(list)?;
                }
                self.generation = self.generation.wrapping_add(1);
            }
            _ => {}
        }
        Ok(())
    }

    fn install_keys(&mut self, trust: usize, keys: KeySet) {
        self.cache.retain_keys_of(trust, &keys, |_| true);
        let old = self
            .trusts
            .get_mut(trust)
            .map(|t| core::mem::replace(&mut t.keys, keys));
        self.number_keys(trust, old.as_ref());
        self.generation = self.generation.wrapping_add(1);
    }

    /// Numbers the keys of trusted issuer `trust` ([`SignatureCheck::key_serial`]):
    /// a key also in `old` (same fingerprint) keeps its number, every other
    /// key gets a new one.
    fn number_keys(&mut self, trust: usize, old: Option<&KeySet>) {
        let Some(t) = self.trusts.get_mut(trust) else {
            return;
        };
        for key in t.keys.keys_mut() {
            let kept = old
                .and_then(|o| {
                    o.keys()
                        .iter()
                        .find(|k| k.fingerprint() == key.fingerprint())
                })
                .map(Key::serial);
            let serial = match kept {
                Some(s) => s,
                None => {
                    self.key_serial = self.key_serial.wrapping_add(1);
                    self.key_serial
                }
            };
            key.set_serial(serial);
        }
    }

    /// Replaces the public keys of trusted issuer `trust` (0 in the
    /// single-issuer form); its configured secrets are kept.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` when there is no such issuer.
    pub fn set_keys(&mut self, trust: usize, mut keys: KeySet) -> Result<()> {
        let Some(t) = self.trusts.get(trust) else {
            return Err(invalid_options("no such issuer"));
        };
        keys.extend(t.secrets.copy_secrets());
        self.install_keys(trust, keys);
        Ok(())
    }

    /// Installs a revocation list, given as JSON or as a signed JWS (anything
    /// not starting with `{`), verified with the keys of the issuer it names.
    ///
    /// # Errors
    /// Parsing or verification errors, a list for an issuer that is not
    /// trusted (multi-issuer form), or an epoch lower than the one held.
    pub fn install_revocations(&mut self, input: &str) -> Result<()> {
        let (trust, list) = verify_list(input.as_bytes(), &self.trusts, self.multi, false)?;
        self.install(Source::Revocations, Installed::List((trust, list)))
    }

    /// Installs a Token Status List fetched from `uri` (a compact JWS with
    /// `typ: statuslist+jwt`), verified with the keys of the issuer that
    /// signed it, for that issuer's tokens. Costs one bounded inflate: no
    /// per-entry work. Tokens whose `status.status_list.uri` is `uri` are
    /// checked against it from now on (cached results are invalidated).
    ///
    /// # Errors
    /// Verification errors, `ERR_STATUS_LIST_INVALID` (see
    /// [`crate::StatusList::from_claims`]; also a copy older than the one
    /// held), `ERR_INVALID_OPTIONS` for `now`.
    pub fn install_status_list(&mut self, uri: &str, jws: &str, now: u64) -> Result<()> {
        check_now(now)?;
        let mut last = None;
        for t in &mut self.trusts {
            match verify::verify_status_list(jws, uri, &t.keys, &t.policy, now) {
                Ok(list) => {
                    if let (Some(want), Some(got)) = (t.issuer.as_deref(), list.issuer()) {
                        if self.multi && want != got {
                            last = Some(Error::new(
                                ErrorKind::StatusListInvalid,
                                msg!(
                                    "the status list names issuer ",
                                    Truncated(got),
                                    " but is signed by a key of another issuer"
                                ),
                            ));
                            continue;
                        }
                    }
                    t.policy.revocations.insert_status_list(list)?;
                    self.generation = self.generation.wrapping_add(1);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(
                ErrorKind::StatusListInvalid,
                "no trusted issuer to verify the status list with",
            )
        }))
    }

    /// A JSON snapshot of the remote sources' state, by name (for KV storage).
    pub fn export_cache(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let names = ["jwks", "revocations"];
        // The single-issuer form always names both (null when not configured),
        // as earlier versions did.
        if !self.multi {
            let discovered = self.remote(Source::Metadata(0)).is_some();
            let names: &[&str] = if discovered {
                &["metadata", "jwks", "revocations"]
            } else {
                &names
            };
            for &name in names {
                if !first {
                    out.push(',');
                }
                first = false;
                crate::text::json_string(&mut out, name);
                out.push(':');
                let state = match name {
                    "jwks" => self.remote(Source::Jwks(0)),
                    "metadata" => self.remote(Source::Metadata(0)),
                    _ => self.remote(Source::Revocations),
                };
                out.push_str(&state.map_or(String::from("null"), RemoteState::snapshot));
            }
        } else {
            for (source, name) in self.sources() {
                if !first {
                    out.push(',');
                }
                first = false;
                crate::text::json_string(&mut out, &name);
                out.push(':');
                if let Some(state) = self.remote(source) {
                    out.push_str(&state.snapshot());
                }
            }
        }
        out.push('}');
        out
    }

    /// Restores a snapshot from [`Validator::export_cache`]; every body is
    /// parsed and verified again before use.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` for a malformed snapshot, or the body's own error.
    pub fn import_cache(&mut self, snapshot: &str) -> Result<()> {
        let doc = crate::json::parse_object(snapshot.as_bytes(), 6)
            .map_err(|e| Error::new(ErrorKind::JwksInvalid, msg!("invalid cache snapshot: ", e)))?;
        // JWKS first (sources() lists them first): a signed revocation list
        // verifies with those keys.
        for (source, name) in self.sources() {
            let Some(Value::Object(snap)) = doc.get(&name) else {
                continue;
            };
            let Some(mut state) = self.remote(source).cloned() else {
                continue;
            };
            state.restore_map(snap)?;
            let Some(body) = state.body() else {
                continue;
            };
            let installed = match source {
                Source::Jwks(n) => {
                    let secrets = self.trusts.get(n).map(|t| &t.secrets);
                    Installed::Keys(parse_jwks(body, secrets.unwrap_or(&KeySet::new()))?)
                }
                Source::Revocations => {
                    Installed::List(verify_list(body, &self.trusts, self.multi, true)?)
                }
                // Not in snapshots: fetched again when a token names them.
                Source::StatusList(_) => continue,
                Source::Metadata(n) => {
                    if let Some(d) = self.trusts.get_mut(n).and_then(|t| t.discovery.as_mut()) {
                        d.jwks_uri = Some(parse_metadata(body, &d.issuer)?);
                        d.state = state;
                    }
                    continue;
                }
            };
            self.install(source, installed)?;
            match source {
                Source::Jwks(n) => {
                    if let Some(t) = self.trusts.get_mut(n) {
                        t.remote = Some(state);
                    }
                }
                Source::Revocations => self.revocations_remote = Some(state),
                Source::StatusList(_) | Source::Metadata(_) => {}
            }
        }
        Ok(())
    }

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

enum Installed {
    Keys(KeySet),
    List((usize, RevocationList)),
    Status(usize, crate::status_list::StatusList),
}

fn parse_jwks(body: &[u8], secrets: &KeySet) -> Result<KeySet> {
    let mut keys = KeySet::from_jwks(body)?;
    keys.extend(secrets.copy_secrets());
    Ok(keys)
}

/// A revocation list (JSON, or a JWS verified with the keys of the issuer
/// that signed it) and the trusted issuer it belongs to. A fetched list
/// (`signed_only`) must be a signed JWS: whoever answers the fetch must not
/// be able to install a list.
fn verify_list(
    body: &[u8],
    trusts: &[Trust],
    multi: bool,
    signed_only: bool,
) -> Result<(usize, RevocationList)> {
    let text = core::str::from_utf8(body).map_err(|_| {
        Error::new(
            ErrorKind::RevocationListInvalid,
            "the revocation list is not UTF-8 text",
        )
    })?;
    let trimmed = text.trim_start();
    let owner = |list: &RevocationList| -> Result<usize> {
        if !multi {
            return Ok(0);
        }
        trusts
            .iter()
            .position(|t| t.issuer.as_deref() == Some(list.issuer()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::RevocationListInvalid,
                    msg!(
                        "the revocation list is for issuer ",
                        Truncated(list.issuer()),
                        ", which this validator does not trust"
                    ),
                )
            })
    };
    if trimmed.starts_with('{') {
        if signed_only {
            return Err(Error::new(
                ErrorKind::RevocationListInvalid,
                msg!(
                    "a fetched revocation list must be a signed JWS (typ ",
                    crate::revocation::REVOCATION_LIST_TYP,
                    "), not JSON"
                ),
            ));
        }
        let list = RevocationList::from_json(trimmed.as_bytes())?;
        return Ok((owner(&list)?, list));
    }
    // Signed: it must verify with the keys of the issuer it names.
    let mut last = None;
    for (n, t) in trusts.iter().enumerate() {
        match verify::verify_revocation_list(trimmed, &t.keys, &t.policy) {
            Ok(list) if owner(&list)? == n => return Ok((n, list)),
            Ok(list) => {
                last = Some(Error::new(
                    ErrorKind::RevocationListInvalid,
                    msg!(
                        "the revocation list for issuer ",
                        Truncated(list.issuer()),
                        " is signed by a key of another issuer"
                    ),
                ))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| invalid_options("no trusted issuer")))
}

/// [`Validator::begin`]'s freshness step for one source.
/// The error kind of a source with nothing usable.
fn source_kind(source: Source) -> ErrorKind {
    match source {
        Source::Jwks(_) | Source::Metadata(_) => ErrorKind::JwksTimeout,
        Source::Revocations => ErrorKind::RevocationsUnavailable,
        Source::StatusList(_) => ErrorKind::StatusListUnavailable,
    }
}

fn ensure(
    state: Option<&mut RemoteState>,
    source: Source,
    multi: bool,
    now: u64,
    fetch: bool,
) -> Result<Option<Step<'static>>> {
    let Some(state) = state else {
        return Ok(None);
    };
    let kind = source_kind(source);
    if !fetch {
        return if state.is_usable(now) {
            Ok(None)
        } else {
            Err(state.unavailable(kind).for_source(source.name(multi)))
        };
    }
    let plan = state.plan(now);
    let timeout = state.config().timeout;
    if plan.fetch {
        return Ok(Some(Step::Fetch(FetchRequest {
            source,
            name: source.name(multi),
            if_none_match: plan.if_none_match,
            blocking: !plan.usable,
            timeout,
            kid_miss: false,
            url: None,
        })));
    }
    if plan.usable {
        return Ok(None);
    }
    if plan.wait {
        return Ok(Some(Step::Wait {
            source,
            poll_ms: 5,
            timeout,
        }));
    }
    Err(state.unavailable(kind).for_source(source.name(multi)))
}
