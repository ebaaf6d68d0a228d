//! The request-level check: credentials from the `Authorization` header,
//! the DPoP proof (RFC 9449) and the token, with the HTTP answer each
//! failure calls for ([`Rejection`]).
//!
//! In Rust, [`Validator::verify_request`] does everything. A host that
//! checks signatures itself (the npm package) splits it: [`Validator::begin_request`]
//! reads the credentials and checks the proof but for its signature; the
//! token goes through [`Validator::begin`] with [`RequestCheck::binding`]
//! in its [`Mode`]; then the proof's signature is checked and
//! [`Validator::finish_proof`] remembers its `jti`.

use super::*;
use crate::dpop::proof::{self, Expected};
use crate::dpop::{self as d, Challenge, ProofCheck, Rejection, Scheme};

/// The parts of an HTTP request the request-level check reads: every value
/// of each header (a value joined with `", "` by a fetch `Headers` object
/// counts as several), the method and the full URL as received.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// `Authorization` header values.
    pub authorization: &'a [&'a str],
    /// `DPoP` header values.
    pub dpop: &'a [&'a str],
    /// The request method (`GET`, `POST`, ...), compared exactly with `htm`.
    pub method: &'a str,
    /// The request URL (its query and fragment are ignored for `htu`).
    pub url: &'a str,
}

/// A request whose credentials were read and whose DPoP proof (if any)
/// passed every check but its signature.
#[derive(Debug)]
pub struct RequestCheck {
    token: String,
    scheme: Scheme,
    proof: Option<ProofCheck>,
}

impl RequestCheck {
    /// The access token.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The scheme it was presented with.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The DPoP proof whose signature is still to check (`DPoP` scheme).
    pub fn proof(&self) -> Option<&ProofCheck> {
        self.proof.as_ref()
    }

    /// The key binding the token must have: the proof's key, or none.
    pub fn binding(&self) -> Binding {
        match &self.proof {
            Some(p) => Binding::Key(p.jkt),
            None => Binding::Unbound,
        }
    }
}

impl Validator {
    /// The DPoP configuration (`None`: Bearer only).
    pub fn dpop(&self) -> Option<&DpopConfig> {
        self.dpop.as_ref()
    }

    /// `error` with the HTTP answer it calls for, for a request that
    /// presented `scheme` (`None`: no usable credentials).
    pub fn reject(&self, error: Error, scheme: Option<Scheme>, now: u64) -> Rejection {
        let challenge: Challenge = d::challenge(
            self.dpop.as_ref(),
            error.kind(),
            error.claim_name(),
            error.message(),
            scheme,
            now,
        );
        Rejection { error, challenge }
    }

    /// Reads a request's credentials (RFC 6750 §2.1, RFC 9449 §7.1) and,
    /// for the `DPoP` scheme, checks its proof but for the signature.
    ///
    /// # Errors
    /// `ERR_AUTHORIZATION_MISSING`, `ERR_AUTHORIZATION_INVALID`,
    /// `ERR_DPOP_REQUIRED`, `ERR_DPOP_INVALID`, `ERR_DPOP_NONCE_REQUIRED`,
    /// each with its answer.
    pub fn begin_request(
        &mut self,
        parts: &RequestParts<'_>,
        now: u64,
    ) -> core::result::Result<RequestCheck, Rejection> {
        use crate::dpop::AuthorizationError as A;
        let creds = d::parse_authorization(parts.authorization).map_err(|e| {
            let (kind, message) = match e {
                A::Missing => (
                    ErrorKind::AuthorizationMissing,
                    "the request has no Authorization header",
                ),
                A::Multiple => (
                    ErrorKind::AuthorizationInvalid,
                    "the request has more than one Authorization header",
                ),
                A::UnknownScheme => (
                    ErrorKind::AuthorizationInvalid,
                    "the Authorization scheme must be Bearer or DPoP",
                ),
                _ => (
                    ErrorKind::AuthorizationInvalid,
                    "the Authorization header must be \"<scheme> <token>\" with one token68",
                ),
            };
            self.reject(Error::new(kind, message), None, now)
        })?;
        self.begin_presented(
            creds.token,
            creds.scheme,
            parts.dpop,
            parts.method,
            parts.url,
            now,
        )
    }

    /// [`Validator::begin_request`] for a token already taken from its
    /// header: `scheme` is how it was presented, `proofs` the `DPoP`
    /// header values.
    ///
    /// # Errors
    /// As [`Validator::begin_request`] (but for the header's own errors).
    pub fn begin_presented(
        &mut self,
        token: &str,
        scheme: Scheme,
        proofs: &[&str],
        method: &str,
        url: &str,
        now: u64,
    ) -> core::result::Result<RequestCheck, Rejection> {
        if let Err(e) = check_now(now) {
            return Err(self.reject(e, Some(scheme), now));
        }
        let checked = self.read_proof(token, scheme, proofs, method, url, now);
        match checked {
            Ok(proof) => Ok(RequestCheck {
                token: String::from(token),
                scheme,
                proof,
            }),
            Err(e) => Err(self.reject(e, Some(scheme), now)),
        }
    }

    /// The proof a token presented with `scheme` needs, checked but for its
    /// signature (`None` for Bearer).
    fn read_proof(
        &mut self,
        token: &str,
        scheme: Scheme,
        proofs: &[&str],
        method: &str,
        url: &str,
        now: u64,
    ) -> Result<Option<ProofCheck>> {
        Ok(match (scheme, &self.dpop) {
            (Scheme::Bearer, Some(c)) if c.required => {
                return Err(Error::new(
                    ErrorKind::DpopRequired,
                    "this resource requires DPoP: present a DPoP-bound token with the DPoP scheme and a proof",
                ))
            }
            (Scheme::Bearer, _) => None,
            (Scheme::DPoP, None) => {
                return Err(Error::new(
                    ErrorKind::AuthorizationInvalid,
                    "the DPoP scheme is not accepted here (this validator has no dpop option)",
                ))
            }
            (Scheme::DPoP, Some(config)) => {
                let leeway = self.trusts.first().map_or(0, |t| t.policy.leeway_secs());
                let value = proof::single(proofs)?;
                let expected = Expected {
                    method,
                    url,
                    access_token: Some(token),
                    leeway,
                    now,
                };
                Some(proof::check(config, &mut self.proof_keys, value, &expected)?)
            }
        })
    }

    /// Checks a proof's signature in Rust because the host's crypto could
    /// not use its key, where this validator's [`Crypto`] allows it.
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED` with [`Crypto::Host`] or when this build has
    /// no backend for the algorithm.
    pub fn check_proof_instead_of_host(&self, proof: &ProofCheck) -> Result<bool> {
        self.rust_instead_of_host(proof.alg())?;
        proof.check_in_rust()
    }

    /// Completes a proof after its signature check (`signature_ok`):
    /// remembers its `jti` until its window ends. `fresh_elsewhere` is a
    /// host's global replay check (`true` without one).
    ///
    /// # Errors
    /// `ERR_DPOP_INVALID` (signature), `ERR_DPOP_REPLAYED`.
    pub fn finish_proof(
        &mut self,
        proof: &ProofCheck,
        signature_ok: bool,
        fresh_elsewhere: bool,
        now: u64,
    ) -> Result<()> {
        if !signature_ok {
            return Err(Error::new(
                ErrorKind::DpopInvalid,
                "the DPoP proof's signature does not verify with its jwk",
            ));
        }
        let capacity = self
            .dpop
            .as_ref()
            .map_or(d::DEFAULT_REPLAY_CAPACITY, |c| c.replay_capacity);
        if !self
            .replays
            .insert(proof.replay_key, proof.expires_at(), now, capacity)
        {
            return Err(Error::new(
                ErrorKind::DpopReplayed,
                "this DPoP proof was used before (its jti was seen within its window)",
            ));
        }
        if !fresh_elsewhere {
            return Err(Error::new(
                ErrorKind::DpopReplayed,
                "this DPoP proof was used before (the replay store has its jti)",
            ));
        }
        Ok(())
    }

    /// Checks a whole request in Rust: credentials, proof (signature in
    /// Rust, `jti` against this validator's memory), and the token with
    /// its binding, remote sources as held.
    ///
    /// # Errors
    /// Every error of the pipeline, with its HTTP answer.
    pub fn verify_request(
        &mut self,
        parts: &RequestParts<'_>,
        now: u64,
    ) -> core::result::Result<Verified, Rejection> {
        let check = self.begin_request(parts, now)?;
        self.complete_in_rust(check, now)
    }

    /// The rest of [`Validator::verify_request`] after `begin_request` /
    /// `begin_presented`: the token with its binding (remote sources as
    /// held), then the proof's signature in Rust and its `jti`.
    ///
    /// # Errors
    /// As [`Validator::verify_request`].
    pub fn complete_in_rust(
        &mut self,
        check: RequestCheck,
        now: u64,
    ) -> core::result::Result<Verified, Rejection> {
        self.complete(check, now, false, |_| FetchOutcome::Failed)
    }

    /// [`Validator::complete_in_rust`], performing the fetches the token
    /// needs through `fetch` (as [`Validator::verify_fetching`]).
    ///
    /// # Errors
    /// As [`Validator::verify_request`].
    pub fn complete_fetching(
        &mut self,
        check: RequestCheck,
        now: u64,
        fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
    ) -> core::result::Result<Verified, Rejection> {
        self.complete(check, now, true, fetch)
    }

    fn complete(
        &mut self,
        check: RequestCheck,
        now: u64,
        may_fetch: bool,
        fetch: impl FnMut(&FetchRequest) -> FetchOutcome,
    ) -> core::result::Result<Verified, Rejection> {
        let scheme = Some(check.scheme);
        let verified = match self.drive(&check.token, now, may_fetch, check.binding(), fetch) {
            Ok(v) => v,
            Err(e) => return Err(self.reject(e, scheme, now)),
        };
        if let Some(proof) = &check.proof {
            let done = proof
                .check_in_rust()
                .and_then(|ok| self.finish_proof(proof, ok, true, now));
            if let Err(e) = done {
                return Err(self.reject(e, scheme, now));
            }
        }
        Ok(verified)
    }
}
