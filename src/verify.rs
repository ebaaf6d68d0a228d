//! The one verification pipeline:
//! parse (untrusted) → select key → check signature → validate claims →
//! check revocation → [`Verified`].
//!
//! It is split at the signature step so that someone else can do the math:
//! [`begin`] parses and selects and returns a [`Pending`] exposing the
//! algorithm, the candidate keys, the signing input and the signature;
//! [`finish`] takes the outcome of the signature check and does the rest.
//! The wasm package puts the host's WebCrypto between the two; [`verify`] puts
//! the pure-Rust backends there. There is no other copy of the pipeline.

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::{Map, Value};

use crate::alg::{self, Algorithm};
use crate::claims;
use crate::error::{jws_invalid, Error, ErrorKind, Result};
use crate::jwk::Key;
use crate::jwks::KeySet;
use crate::jws::{self, normalize_typ, Mode, UntrustedToken};
use crate::policy::Policy;
use crate::revocation::{
    RevocationList, Revocations, Subject, MAX_REVOCATION_LIST_BYTES, REVOCATION_LIST_TYP,
};
use crate::status_list::{StatusList, STATUS_LIST_TYP};
use crate::text::Truncated;

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The claims set.
    pub claims: Map<String, Value>,
    /// The algorithm that verified it.
    pub alg: Algorithm,
    /// The `kid` of the key that verified it, if the key has one.
    pub kid: Option<String>,
    /// The protected header exactly as decoded (strictly validated JSON text).
    pub header_json: String,
    /// The claims set exactly as decoded (strictly validated JSON text).
    pub claims_json: String,
    /// [`Key::fingerprint`] of the key that verified it.
    pub key_fingerprint: String,
    pub(crate) times: claims::TimeClaims,
}

/// What a [`Pending`] will become when finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Token,
    RevocationList,
    StatusList,
}

/// A parsed token with its candidate keys, waiting for a signature check.
#[derive(Debug)]
pub struct Pending<'a> {
    token: UntrustedToken,
    alg: Algorithm,
    keys: Vec<&'a Key>,
    policy: &'a Policy,
    purpose: Purpose,
}

impl<'a> Pending<'a> {
    /// The algorithm the signature must be checked with (from the allowlist).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The candidate keys, in order (one, unless the policy lets a token
    /// without `kid` try several). Try each; report which one verified.
    pub fn keys(&self) -> &[&'a Key] {
        &self.keys
    }

    /// The exact JWS signing input.
    pub fn signing_input(&self) -> &[u8] {
        self.token.signing_input()
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> &[u8] {
        self.token.signature()
    }

    /// The protected header (untrusted until the signature verifies).
    pub fn header(&self) -> &Map<String, Value> {
        &self.token.header.json
    }

    /// Checks the signature with the pure-Rust backends: the index of the
    /// first candidate key that verifies, or `None`.
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED` if this build has no backend for the algorithm.
    pub fn check_signature(&self) -> Result<Option<usize>> {
        for (i, key) in self.keys.iter().enumerate() {
            if alg::verify(self.alg, key, self.signing_input(), self.signature())? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }
}

/// Parses `token` and selects its candidate keys.
///
/// # Errors
/// `ERR_JWS_INVALID` (structure), `ERR_JOSE_ALG_NOT_ALLOWED`,
/// `ERR_JWKS_NO_MATCHING_KEY`, `ERR_JWKS_MULTIPLE_MATCHING_KEYS`.
pub fn begin<'a>(token: &'a str, keys: &'a KeySet, policy: &'a Policy) -> Result<Pending<'a>> {
    let token = parse_token_with(token, policy.max_token_len, policy.max_depth)?;
    let pending = select(token, keys, policy, Purpose::Token)?;
    check_length(pending.alg, &pending.keys, pending.token.signature().len())?;
    Ok(pending)
}

/// Refuses a signature whose length no candidate key produces (RFC 8017
/// §8.1.2 / §8.2.2 step 1 for RSA; fixed lengths for ECDSA, EdDSA, HMAC):
/// such a signature never verifies, and no host ever sees it.
pub(crate) fn check_length(alg: Algorithm, candidates: &[&Key], sig_len: usize) -> Result<()> {
    if candidates
        .iter()
        .any(|k| k.signature_len(alg) == Some(sig_len))
    {
        return Ok(());
    }
    let expected = candidates
        .first()
        .and_then(|k| k.signature_len(alg))
        .unwrap_or(0);
    Err(Error::new(
        ErrorKind::SignatureVerificationFailed,
        msg!(
            "the signature is ",
            sig_len,
            " bytes; ",
            alg,
            " with the selected key produces exactly ",
            expected,
            " (a signature of any other length never verifies)"
        ),
    ))
}

/// The first step for an access token: structure, header, not a revocation
/// list (the `alg` allowlist is checked next, by [`allowed_alg`]).
pub(crate) fn parse_token_with(
    token: &str,
    max_len: usize,
    max_depth: usize,
) -> Result<UntrustedToken> {
    let token = jws::parse(token, max_len, max_depth, Mode::Verify)?;
    if let Some(typ) = &token.header.typ {
        if normalize_typ(typ) == REVOCATION_LIST_TYP {
            return Err(jws_invalid(
                "this is a signed revocation list, not an access token",
            ));
        }
        if normalize_typ(typ) == STATUS_LIST_TYP {
            return Err(jws_invalid(
                "this is a status list token, not an access token",
            ));
        }
    }
    Ok(token)
}

fn begin_for<'a>(
    token: &'a str,
    keys: &'a KeySet,
    policy: &'a Policy,
    purpose: Purpose,
    max_len: usize,
) -> Result<Pending<'a>> {
    let token = jws::parse(token, max_len, policy.max_depth, Mode::Verify)?;
    select(token, keys, policy, purpose)
}

/// The allowlist and key selection for a parsed token.
fn select<'a>(
    token: UntrustedToken,
    keys: &'a KeySet,
    policy: &'a Policy,
    purpose: Purpose,
) -> Result<Pending<'a>> {
    let alg = allowed_alg(&token.header.alg, policy)?;
    let candidates = keys.select(alg, token.header.kid.as_deref(), policy.kidless_candidates)?;
    Ok(Pending {
        token,
        alg,
        keys: candidates,
        policy,
        purpose,
    })
}

pub(crate) fn allowed_alg(name: &str, policy: &Policy) -> Result<Algorithm> {
    match Algorithm::from_name_or_ed25519(name, policy.ed25519_name) {
        Some(a) if policy.algorithms.contains(&a) => Ok(a),
        Some(a) => Err(Error::new(
            ErrorKind::AlgNotAllowed,
            msg!(
                "\"alg\" (",
                a,
                ") is not allowed by the verifier's algorithm allowlist"
            ),
        )),
        None if name.eq_ignore_ascii_case("none") => Err(Error::new(
            ErrorKind::AlgNotAllowed,
            "unsecured tokens (\"alg\": \"none\") are never accepted",
        )),
        None => Err(Error::new(
            ErrorKind::AlgNotAllowed,
            msg!(
                "\"alg\" ",
                Truncated(name),
                " is not a supported signature algorithm"
            ),
        )),
    }
}

/// Finishes verification after the signature check. `verified_by` is the
/// index (into [`Pending::keys`]) of the key whose signature check succeeded,
/// or `None` if none did. `now` is the current time in unix seconds.
///
/// # Errors
/// `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, `ERR_JWT_INVALID`,
/// `ERR_JWT_EXPIRED`, `ERR_JWT_CLAIM_VALIDATION_FAILED`, `ERR_JWT_REVOKED`.
pub fn finish(pending: Pending<'_>, verified_by: Option<usize>, now: u64) -> Result<Verified> {
    if pending.purpose != Purpose::Token {
        return Err(jws_invalid(
            "this pending check is for a revocation list; use finish_revocation_list",
        ));
    }
    let key = verified_key(&pending, verified_by)?;
    let policy = pending.policy;
    complete(
        pending.token,
        None,
        pending.alg,
        key,
        policy,
        &policy.revocations,
        now,
    )
}

/// The steps after a successful signature check with `key`: claims, then
/// revocation against `revocations` (a [`crate::Validator`] keeps them per
/// trusted issuer, apart from its policy; the free functions use the
/// policy's). `claims` is the claims set if it was already parsed (a
/// validator that selects the issuer by `iss` parses it before key selection).
pub(crate) fn complete(
    token: UntrustedToken,
    claims: Option<Map<String, Value>>,
    alg: Algorithm,
    key: &Key,
    policy: &Policy,
    revocations: &Revocations,
    now: u64,
) -> Result<Verified> {
    let claims = match claims {
        Some(c) => c,
        None => token.claims(policy.max_depth)?,
    };
    let header = token.header.json;
    // Both texts parsed as JSON above, so they are valid UTF-8.
    let header_json = String::from_utf8(token.header_bytes)
        .map_err(|_| jws_invalid("the header is not UTF-8"))?;
    let claims_json = String::from_utf8(token.payload)
        .map_err(|_| crate::error::jwt_invalid("the claims set is not UTF-8"))?;
    claims::validate(&header, &claims, policy, now)?;

    let kid = key.kid().map(String::from);
    let times = claims::TimeClaims {
        exp: claims::numeric_date(&claims, "exp")?,
        nbf: claims::numeric_date(&claims, "nbf")?,
        iat: claims::numeric_date(&claims, "iat")?,
    };
    let subject = Subject {
        iss: claims::string_claim(&claims, "iss")?,
        jti: claims::string_claim(&claims, "jti")?,
        sub: claims::string_claim(&claims, "sub")?,
        iat: times.iat,
        kid: kid.as_deref().or(token.header.kid.as_deref()),
    };
    revocations.check(&subject)?;
    match crate::status_list::status_ref(&claims)? {
        Some(_) if !policy.check_status => {}
        Some(r) => revocations.check_status(r, subject.iss, now)?,
        None if policy.require_status => {
            return Err(Error::claim(
                ErrorKind::ClaimValidationFailed,
                "status",
                crate::error::ClaimReason::Missing,
                "the token has no \"status.status_list\" reference and the policy requires one",
            ))
        }
        None => {}
    }
    Ok(Verified {
        header,
        claims,
        alg,
        kid,
        header_json,
        claims_json,
        key_fingerprint: String::from(key.fingerprint()),
        times,
    })
}

fn verified_key<'a>(pending: &Pending<'a>, verified_by: Option<usize>) -> Result<&'a Key> {
    let failed = || {
        Error::new(
            ErrorKind::SignatureVerificationFailed,
            "signature verification failed",
        )
    };
    verified_by
        .and_then(|i| pending.keys.get(i).copied())
        .ok_or_else(failed)
}

/// Verifies `token` entirely in Rust: [`begin`], the pure-Rust signature
/// backends, then [`finish`].
///
/// # Errors
/// Any error of [`begin`], [`finish`], or `ERR_JOSE_NOT_SUPPORTED` when this
/// build has no pure-Rust backend for the token's algorithm.
pub fn verify(token: &str, keys: &KeySet, policy: &Policy, now: u64) -> Result<Verified> {
    let pending = begin(token, keys, policy)?;
    let verified_by = pending.check_signature()?;
    finish(pending, verified_by, now)
}

/// Parses a signed revocation list (`typ: revocation-list+jwt`) and selects
/// its candidate keys, like [`begin`] does for tokens.
///
/// # Errors
/// As [`begin`], plus `ERR_JWS_INVALID` if `typ` is not `revocation-list+jwt`.
pub fn begin_revocation_list<'a>(
    jws: &'a str,
    keys: &'a KeySet,
    policy: &'a Policy,
) -> Result<Pending<'a>> {
    let max = MAX_REVOCATION_LIST_BYTES / 3 * 4 + 4096;
    let pending = begin_for(jws.trim(), keys, policy, Purpose::RevocationList, max)?;
    match &pending.token.header.typ {
        Some(t) if normalize_typ(t) == REVOCATION_LIST_TYP => Ok(pending),
        _ => Err(jws_invalid(msg!(
            "a signed revocation list must have header \"typ\": \"",
            REVOCATION_LIST_TYP,
            "\""
        ))),
    }
}

/// Finishes a signed revocation list after its signature check.
///
/// # Errors
/// `ERR_JWS_SIGNATURE_VERIFICATION_FAILED`, `ERR_REVOCATION_LIST_INVALID`.
pub fn finish_revocation_list(
    pending: Pending<'_>,
    verified_by: Option<usize>,
) -> Result<RevocationList> {
    if pending.purpose != Purpose::RevocationList {
        return Err(jws_invalid("this pending check is for a token; use finish"));
    }
    verified_key(&pending, verified_by)?;
    RevocationList::from_json(&pending.token.payload)
}

/// Verifies a signed revocation list entirely in Rust.
///
/// # Errors
/// See [`begin_revocation_list`] and [`finish_revocation_list`].
pub fn verify_revocation_list(jws: &str, keys: &KeySet, policy: &Policy) -> Result<RevocationList> {
    let pending = begin_revocation_list(jws, keys, policy)?;
    let verified_by = pending.check_signature()?;
    finish_revocation_list(pending, verified_by)
}

/// Verifies a Status List Token (`typ: statuslist+jwt`) fetched from `uri`
/// against `keys` and the policy's algorithm allowlist, and decodes it
/// (bounded by [`Policy::max_status_list_bytes`]).
///
/// # Errors
/// `ERR_JWS_INVALID` (structure, `typ`), key selection and signature
/// errors, `ERR_STATUS_LIST_INVALID` (see [`StatusList::from_claims`]).
pub fn verify_status_list(
    jws: &str,
    uri: &str,
    keys: &KeySet,
    policy: &Policy,
    now: u64,
) -> Result<StatusList> {
    // base64url of at most the inflated bound, plus the rest of the claims.
    let max = policy
        .max_status_list_bytes
        .saturating_mul(2)
        .saturating_add(64 * 1024);
    let token = jws::parse(jws.trim(), max, policy.max_depth, Mode::Verify)?;
    match &token.header.typ {
        Some(t) if normalize_typ(t) == STATUS_LIST_TYP => {}
        _ => {
            return Err(jws_invalid(msg!(
                "a status list token must have header \"typ\": \"",
                STATUS_LIST_TYP,
                "\""
            )))
        }
    }
    let pending = select(token, keys, policy, Purpose::StatusList)?;
    let verified_by = pending.check_signature()?;
    verified_key(&pending, verified_by)?;
    let claims = pending.token.claims(policy.max_depth)?;
    StatusList::from_claims(&claims, uri, now, policy.max_status_list_bytes)
}

/// Installs a revocation list given either as JSON or as a signed JWS
/// (anything not starting with `{` is treated as a JWS and must verify).
///
/// # Errors
/// Parsing or verification errors, or an epoch lower than the one held.
pub fn install_revocations(input: &str, keys: &KeySet, policy: &mut Policy) -> Result<()> {
    let trimmed = input.trim_start();
    let list = if trimmed.starts_with('{') {
        RevocationList::from_json(trimmed.as_bytes())?
    } else {
        verify_revocation_list(trimmed, keys, policy)?
    };
    policy.revocations_mut().insert(list)
}
