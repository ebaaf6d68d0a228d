//! Building a [`Validator`]: the options of each trusted issuer, the shared
//! settings, and the checks that name the offending option.

use super::*;

/// One trusted issuer of a multi-issuer [`Validator`]: its `iss` value, its
/// keys (static, remote, or HMAC secrets) and, optionally, its own policy.
#[derive(Debug)]
pub struct IssuerOptions {
    issuer: String,
    pub(super) keys: Option<KeySet>,
    pub(super) secrets: KeySet,
    pub(super) remote: Option<RemoteConfig>,
    pub(super) discover: Option<RemoteConfig>,
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
    pub(super) policy: Policy,
    /// The keys of the single-issuer (shorthand) form; its issuer name is unused.
    pub(super) single: IssuerOptions,
    pub(super) issuers: Vec<IssuerOptions>,
    pub(super) remote_revocations: Option<RemoteConfig>,
    pub(super) remote_status_lists: Option<(RemoteConfig, Vec<String>)>,
    pub(super) cache: usize,
    pub(super) jitter: u64,
    pub(super) crypto: Crypto,
    pub(super) dpop: Option<DpopConfig>,
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

    /// Accepts DPoP-bound tokens (RFC 9449) in the request-level API
    /// ([`Validator::verify_request`]) under `config`. Without it, requests
    /// must present Bearer tokens, and a token bound to a key is refused.
    #[must_use]
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
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
            dpop: self.dpop,
            replays: ReplaySet::default(),
            proof_keys: crate::dpop::proof::ProofKeys::default(),
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
pub(super) struct Trust {
    /// `Some` in the multi-issuer form.
    pub(super) issuer: Option<String>,
    pub(super) policy: Policy,
    /// The revocation data (lists and status lists) of this issuer: kept
    /// here, apart from the policy, so a policy is rules only.
    pub(super) revocations: Revocations,
    /// Public keys plus the secrets (what key selection sees).
    pub(super) keys: KeySet,
    /// The configured secrets, added again whenever a fetched JWKS replaces the keys.
    pub(super) secrets: KeySet,
    pub(super) remote: Option<RemoteState>,
    /// Where the remote JWKS is, when it is discovered from metadata.
    pub(super) discovery: Option<Discovery>,
}

/// A trusted issuer's key sources as configured.
pub(super) struct Sources {
    pub(super) keys: Option<KeySet>,
    pub(super) secrets: KeySet,
    pub(super) remote: Option<RemoteConfig>,
    pub(super) discover: Option<RemoteConfig>,
}

impl Trust {
    pub(super) fn new(
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
            revocations: Revocations::new(),
            keys: all,
            secrets,
            remote: remote.map(RemoteState::new),
            discovery,
        })
    }
}
