//! The DPoP proof check (RFC 9449 §4.3), everything but the signature: the
//! proof is parsed, its header and claims checked against the request, and
//! what the signature check needs is kept in a [`ProofCheck`]. Whoever
//! checks the signature (Rust, or the host's crypto) then hands it back to
//! [`crate::Validator::finish_proof`], which remembers the `jti`.

use alloc::borrow::Cow;
use alloc::string::String;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::replay::ReplayKey;
use super::{http, nonce, DpopConfig};
use crate::alg::Algorithm;
use crate::error::{Error, ErrorKind, Result};
use crate::jwk::Key;
use crate::jws::{self, UntrustedToken};
use crate::text::Truncated;

/// Longest DPoP proof accepted (bytes): an RSA-4096 `jwk` and the claims
/// fit several times over.
pub const MAX_PROOF_LEN: usize = 8 * 1024;
/// Deepest JSON nesting in a proof's header and claims.
const MAX_PROOF_DEPTH: usize = 8;
/// Longest `jti` accepted (bytes).
const MAX_JTI_LEN: usize = 256;

fn invalid(message: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::DpopInvalid, message)
}

/// A DPoP proof whose header and claims passed, waiting for its signature
/// check (by [`ProofCheck::check_in_rust`] or the host's crypto with
/// [`ProofCheck::key`]'s public JWK).
#[derive(Debug)]
pub struct ProofCheck {
    parsed: UntrustedToken,
    alg: Algorithm,
    key: Key,
    pub(crate) jkt: [u8; 32],
    jti: String,
    pub(crate) replay_key: ReplayKey,
    expires_at: u64,
}

impl ProofCheck {
    /// The algorithm the proof is signed with (on the allowlist).
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

    /// The proof's public key (its `jwk` header); `public_jwk()` is what a
    /// host imports.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The key's RFC 7638 SHA-256 thumbprint (base64url): the `cnf.jkt` a
    /// token bound to it carries.
    pub fn jkt(&self) -> String {
        crate::b64::encode(&self.jkt)
    }

    /// The proof's `jti`.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// Until when (unix seconds) the proof could be accepted: how long a
    /// replay store must remember its `jti`.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Checks the signature in Rust.
    ///
    /// # Errors
    /// `ERR_JOSE_NOT_SUPPORTED` when this build has no backend for the algorithm.
    pub fn check_in_rust(&self) -> Result<bool> {
        self.key
            .verify_signature(self.alg, self.signing_input(), self.signature())
    }
}

/// What a proof is checked against.
pub(crate) struct Expected<'a> {
    /// The request method, compared exactly.
    pub method: &'a str,
    /// The request URL (normalised here).
    pub url: &'a str,
    /// The access token the proof comes with (its `ath`); `None` at a token
    /// endpoint.
    pub access_token: Option<&'a str>,
    /// The policy's clock leeway (seconds).
    pub leeway: u64,
    pub now: u64,
}

/// The one proof of a request, from its `DPoP` header values.
pub(crate) fn single<'a>(values: &[&'a str]) -> Result<&'a str> {
    match http::sole(values) {
        Ok(Some(one)) => Ok(one.trim_matches(' ')),
        Ok(None) => Err(invalid("the request has no DPoP proof header")),
        Err(()) => Err(invalid(
            "the request has more than one DPoP header (RFC 9449 §4.3 allows exactly one)",
        )),
    }
}

fn string_claim<'a>(claims: &'a Map<String, Value>, name: &str) -> Result<&'a str> {
    match claims.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(invalid(msg!(
            "the DPoP proof's \"",
            name,
            "\" must be a string"
        ))),
        None => Err(invalid(msg!(
            "the DPoP proof has no \"",
            name,
            "\" claim (RFC 9449 §4.2)"
        ))),
    }
}

/// Proof keys already parsed (and, for Ed25519, checked against small-order
/// points), by thumbprint: a client signs its proofs with one key, so each
/// request after its first reuses the parsed key (the members outside the
/// thumbprint do not change what a key verifies). The most recent
/// [`PROOF_KEYS`] are kept.
#[derive(Debug, Default)]
pub(crate) struct ProofKeys {
    keys: alloc::vec::Vec<([u8; 32], Key)>,
}

/// Proof keys a validator keeps parsed.
const PROOF_KEYS: usize = 64;

impl ProofKeys {
    /// The key of `jwk` (thumbprint `jkt`), parsed once.
    fn get(&mut self, jkt: [u8; 32], jwk: &Map<String, Value>) -> Result<Key> {
        if let Some(i) = self.keys.iter().position(|(k, _)| *k == jkt) {
            // Most recent last.
            let entry = self.keys.remove(i);
            let key = entry.1.clone();
            self.keys.push(entry);
            return Ok(key);
        }
        let key = Key::from_public_jwk(jwk)
            .map_err(|m| invalid(msg!("the DPoP proof's \"jwk\" ", m.as_str())))?;
        if self.keys.len() >= PROOF_KEYS {
            self.keys.remove(0);
        }
        self.keys.push((jkt, key.clone()));
        Ok(key)
    }
}

/// Checks everything of `proof` but its signature.
pub(crate) fn check(
    config: &DpopConfig,
    keys: &mut ProofKeys,
    proof: &str,
    expected: &Expected<'_>,
) -> Result<ProofCheck> {
    let parsed = jws::parse(proof, MAX_PROOF_LEN, MAX_PROOF_DEPTH, jws::Mode::Verify)
        .map_err(|e| invalid(msg!("the DPoP proof is not a compact JWS: ", e.message())))?;
    let header = parsed.header();
    // typ: exactly dpop+jwt (media types compare case-insensitively).
    match header.typ.as_deref() {
        Some(t) if jws::normalize_typ(t) == "dpop+jwt" => {}
        Some(t) => {
            return Err(invalid(msg!(
                "the DPoP proof's \"typ\" is ",
                Truncated(t),
                "; it must be dpop+jwt"
            )))
        }
        None => {
            return Err(invalid(
                "the DPoP proof has no \"typ\"; it must be dpop+jwt",
            ))
        }
    }
    // RFC 9864's fully-specified "Ed25519" is EdDSA with an Ed25519 key
    // (what oauth4webapi signs proofs with by default).
    let named = Algorithm::from_name_or_ed25519(&header.alg, true);
    let alg = match named {
        Some(a) if config.algorithms.contains(&a) => a,
        Some(a) => {
            return Err(invalid(msg!(
                "the DPoP proof's \"alg\" (",
                a,
                ") is not accepted here; a proof is signed with one of the asymmetric algorithms in WWW-Authenticate's algs"
            )))
        }
        None => {
            return Err(invalid(msg!(
                "the DPoP proof's \"alg\" ",
                Truncated(&header.alg),
                " is not a supported asymmetric algorithm"
            )))
        }
    };
    let jwk = match header.json.get("jwk") {
        Some(Value::Object(jwk)) => jwk,
        Some(_) => return Err(invalid("the DPoP proof's \"jwk\" must be a JSON object")),
        None => {
            return Err(invalid(
                "the DPoP proof has no \"jwk\" header (RFC 9449 §4.2)",
            ))
        }
    };
    if let Some(m) = crate::jwk::PRIVATE_MEMBERS
        .iter()
        .find(|m| jwk.contains_key(**m))
    {
        return Err(invalid(msg!(
            "the DPoP proof's \"jwk\" holds the private member \"",
            *m,
            "\": a proof carries only the public key (RFC 9449 §4.2)"
        )));
    }
    // The thumbprint first: it names the key in the cache (and refuses a
    // JWK without the required members).
    let jkt = crate::jwk::thumbprint_bytes(jwk)
        .ok_or_else(|| invalid("the DPoP proof's \"jwk\" has no RFC 7638 thumbprint"))?;
    let key = keys.get(jkt, jwk)?;
    if !key.fits(alg) {
        return Err(invalid(msg!(
            "the DPoP proof's \"jwk\" is not a key for its \"alg\" (",
            alg,
            ")"
        )));
    }
    let claims = parsed
        .claims(MAX_PROOF_DEPTH)
        .map_err(|e| invalid(msg!("the DPoP proof's claims: ", e.message())))?;
    let jti = string_claim(&claims, "jti")?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(invalid("the DPoP proof's \"jti\" must hold 1 to 256 bytes"));
    }
    let htm = string_claim(&claims, "htm")?;
    if htm != expected.method {
        return Err(invalid(msg!(
            "the DPoP proof is for method ",
            Truncated(htm),
            ", the request is ",
            Truncated(expected.method)
        )));
    }
    let htu = string_claim(&claims, "htu")?;
    let want = http::normalize_htu(expected.url).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOptions,
            "the request URL is not an absolute http(s) URL",
        )
    })?;
    if http::normalize_htu(htu).as_deref() != Some(want.as_str()) {
        return Err(invalid(msg!(
            "the DPoP proof is for ",
            Truncated(htu),
            ", not for this request's URL (",
            Truncated(&want),
            ")"
        )));
    }
    let iat = match claims.get("iat") {
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|t| t.is_finite() && *t >= 0.0 && *t <= crate::claims::MAX_NUMERIC_DATE)
            .ok_or_else(|| invalid("the DPoP proof's \"iat\" is out of range"))?,
        Some(_) => return Err(invalid("the DPoP proof's \"iat\" must be a number")),
        None => {
            return Err(invalid(
                "the DPoP proof has no \"iat\" claim (RFC 9449 §4.2)",
            ))
        }
    };
    let now = expected.now as f64;
    let leeway = expected.leeway as f64;
    if iat > now + leeway {
        return Err(invalid("the DPoP proof's \"iat\" is in the future"));
    }
    if iat < now - (config.max_age as f64) - leeway {
        return Err(invalid(msg!(
            "the DPoP proof is too old (\"iat\" more than ",
            config.max_age,
            " s ago)"
        )));
    }
    match (expected.access_token, claims.get("ath")) {
        (Some(token), Some(Value::String(ath))) => {
            if *ath != http::ath(token) {
                return Err(invalid(
                    "the DPoP proof's \"ath\" is not the hash of this access token",
                ));
            }
        }
        (Some(_), _) => return Err(invalid(
            "the DPoP proof has no string \"ath\" (the hash of the access token it is sent with)",
        )),
        (None, _) => {}
    }
    if let Some(secret) = &config.nonce_secret {
        match claims.get("nonce") {
            Some(Value::String(n)) if nonce::accepts(secret, config.max_age, n, expected.now) => {}
            Some(_) => {
                return Err(Error::new(
                    ErrorKind::DpopNonceRequired,
                    "the DPoP proof's nonce is not current: retry with the nonce in DPoP-Nonce",
                ))
            }
            None => {
                return Err(Error::new(
                    ErrorKind::DpopNonceRequired,
                    "a DPoP proof here must carry the server's nonce: retry with the nonce in DPoP-Nonce",
                ))
            }
        }
    }
    let mut h = Sha256::new();
    h.update(jkt);
    h.update(jti.as_bytes());
    let mut replay_key = [0u8; 16];
    replay_key.copy_from_slice(h.finalize().get(..16).unwrap_or(&[0u8; 16]));
    // Accepted until iat + max_age + leeway (whole seconds, rounded up).
    let end = iat + config.max_age as f64 + leeway;
    let whole = end as u64;
    let expires_at = if (whole as f64) < end {
        whole + 1
    } else {
        whole
    };
    Ok(ProofCheck {
        jti: String::from(jti),
        parsed,
        alg,
        key,
        jkt,
        replay_key,
        expires_at,
    })
}
