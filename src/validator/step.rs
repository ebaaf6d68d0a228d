//! One verification, step by step: [`Validator::begin`] answers with a
//! typed [`Step`] (verified, a signature for the host, a fetch, a wait),
//! [`Validator::finish`] completes a [`SignatureCheck`].

use super::*;

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
    pub(super) token: String,
    pub(super) parsed: UntrustedToken,
    pub(super) claims: Option<Map<String, Value>>,
    pub(super) alg: Algorithm,
    pub(super) trust: usize,
    /// Candidate keys (positions in the trust's key set) whose signature
    /// length fits, with their serials ([`SignatureCheck::key_serial`]).
    pub(super) candidates: Vec<(usize, u32)>,
    pub(super) generation: u64,
    pub(super) has_rust_backend: bool,
    /// The key binding the token must have ([`Mode::binding`]).
    pub(super) binding: Binding,
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
    /// The key binding the token must have (RFC 9449): by default a token
    /// bound to a key is refused; a checked DPoP proof gives its key.
    pub binding: Binding,
}

impl Validator {
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
        let owner = self
            .cache
            .owner_of(token)
            .filter(|&(_, alg)| !rust || alg.has_rust_backend())
            .map(|(owner, _)| owner);
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
            let hit = match self.cache.get_with(token, now, |o| {
                trusts.get(o).map(|t| (&t.policy, t.revocations.version()))
            }) {
                Lookup::Hit(v, serial) => Some((serial, v.times)),
                Lookup::Rejected(e) => return Err(e),
                Lookup::Miss => None,
            };
            if let Some((serial, times)) = hit {
                let window = self.window(owner, times);
                return match self.cache.peek(token) {
                    Some(v) => {
                        let bound = crate::dpop::check_binding(mode.binding, &v.claims)?;
                        let window = window.filter(|_| !bound);
                        Ok(Step::Verified(Finished {
                            verified: Cow::Borrowed(v),
                            serial,
                            hit: true,
                            window,
                        }))
                    }
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
            binding: mode.binding,
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
        self.rust_instead_of_host(check.alg)?;
        self.check_candidate(check, n)
    }

    /// Whether a signature with `alg` that the host's crypto could not check
    /// may be checked in Rust: this validator's [`Crypto`] allows it and the
    /// build has a backend (a token's key or a DPoP proof's).
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED`, saying which of the two it is.
    pub(super) fn rust_instead_of_host(&self, alg: Algorithm) -> Result<()> {
        let has_backend = alg.has_rust_backend();
        if self.crypto == Crypto::Host || !has_backend {
            return Err(Error::new(
                ErrorKind::NotSupported,
                if has_backend {
                    msg!(
                        alg,
                        ": the host's crypto cannot use this key and crypto is \"host\""
                    )
                } else {
                    msg!(alg, ": the host's crypto cannot use this key and this build has no pure-Rust backend for it (use jwt-edge/full)")
                },
            ));
        }
        Ok(())
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
        let verified = verify::complete(
            check.parsed,
            check.claims,
            check.alg,
            key,
            &t.policy,
            &t.revocations,
            now,
        )?;
        let bound = crate::dpop::check_binding(check.binding, &verified.claims)?;
        let window = self.window(check.trust, verified.times);
        let window = window.filter(|_| !bound);
        Ok(
            match self.cache.insert_owned(
                &check.token,
                verified,
                check.trust,
                t.revocations.version(),
            ) {
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
    pub(super) fn window(&self, trust: usize, times: claims::TimeClaims) -> Option<(u64, u64)> {
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
        match self.cache.get_with(token, now, |o| {
            trusts.get(o).map(|t| (&t.policy, t.revocations.version()))
        }) {
            Lookup::Hit(v, serial) => Some((v, serial)),
            _ => None,
        }
    }

    /// The trusted issuer a multi-issuer token names in `iss`.
    pub(super) fn trust_for(&self, claims: &Map<String, Value>) -> Result<usize> {
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
}
