//! One JSON Web Key (RFC 7517 / RFC 7518 §6 / RFC 8037), parsed strictly into a
//! typed, usable verification key.
//!
//! Public keys come from a JWKS ([`crate::KeySet::from_jwks`]); HMAC secrets only
//! from explicit configuration ([`Key::hmac_secret`], [`Key::from_secret_jwk`]).
//! There is no code path that turns asymmetric key material into an HMAC secret.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::alg::{Algorithm, KeyFamily};
use crate::b64;
use crate::error::{jwks_invalid, Result};
use crate::text::Truncated;

/// Longest `kid` accepted, in bytes (in a JWK and in a token header).
pub const MAX_KID_LEN: usize = 256;
/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds verification cost).
pub const MAX_RSA_BITS: usize = 8192;
/// Smallest HMAC secret accepted for any HS* algorithm, in bytes.
pub const MIN_HMAC_SECRET: usize = 32;

/// An elliptic curve for ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-256 (ES256).
    P256,
    /// NIST P-384 (ES384).
    P384,
    /// NIST P-521 (ES512).
    P521,
}

impl Curve {
    /// The JWK `crv` name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Byte length of one coordinate (RFC 7518 §6.2.1.2: always full length).
    pub const fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }
}

/// Backend-specific, pre-parsed verification material. Built once at ingest so
/// that verification does no parsing. `HostOnly` means the key was validated
/// structurally but this build has no pure-Rust backend for it: host crypto
/// (WebCrypto) imports it from [`Key::public_jwk`] and validates the point.
#[derive(Clone)]
pub(crate) enum Prepared {
    #[cfg(feature = "es256")]
    P256(p256::ecdsa::VerifyingKey),
    #[cfg(feature = "es384")]
    P384(p384::ecdsa::VerifyingKey),
    #[cfg(feature = "es512")]
    P521(p521::ecdsa::VerifyingKey),
    #[cfg(feature = "eddsa")]
    Ed25519(ed25519_dalek::VerifyingKey),
    #[cfg(feature = "rsa")]
    Rsa(rsa::RsaPublicKey),
    #[cfg(feature = "ml-dsa")]
    MlDsa(crate::alg::prepare::MlDsaPublicKey),
    Hmac(Zeroizing<Vec<u8>>),
    #[allow(dead_code)]
    HostOnly,
}

/// A verification key the caller trusts.
#[derive(Clone)]
pub struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    family: KeyFamily,
    rsa_bits: usize,
    prepared: Prepared,
    public_jwk: Option<Map<String, Value>>,
    fingerprint: String,
    /// A number a [`crate::Validator`] gives each distinct key it holds
    /// (0 until then): the same while the key stays, across key-set changes.
    serial: u32,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // Never print key material (secrets in particular).
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("family", &self.family)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key's own `alg` member, if it has one. When present, a token must use
    /// exactly this algorithm with the key.
    pub fn alg(&self) -> Option<Algorithm> {
        self.alg
    }

    /// The key family (RSA, EC curve, Ed25519, HMAC).
    pub fn family(&self) -> KeyFamily {
        self.family
    }

    /// The public JWK (only public members: `kty`, `crv`, `x`, `y`, `n`, `e`,
    /// `kid`, `alg`), for importing into host crypto. `None` for HMAC secrets.
    pub fn public_jwk(&self) -> Option<&Map<String, Value>> {
        self.public_jwk.as_ref()
    }

    pub(crate) fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Whether this key may verify a token signed with `alg`: the key family
    /// must match, the key's own `alg` (if any) must equal it, and an HMAC secret
    /// must be at least as long as the hash output.
    pub fn fits(&self, alg: Algorithm) -> bool {
        if self.family != alg.family() {
            return false;
        }
        if let Some(own) = self.alg {
            if own != alg {
                return false;
            }
        }
        match &self.prepared {
            Prepared::Hmac(secret) => secret.len() >= alg.hash_len(),
            _ => true,
        }
    }

    /// Checks a raw signature over `message` with this key and the pure-Rust
    /// backend for `alg` (no JWS parsing, no claims): the primitive under the
    /// pipeline, exposed for test vectors and host-crypto fallbacks.
    ///
    /// # Errors
    /// `ERR_JWKS_NO_MATCHING_KEY` if the key does not fit `alg`;
    /// `ERR_JOSE_NOT_SUPPORTED` if this build has no backend for `alg`.
    pub fn verify_signature(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        if !self.fits(alg) {
            return Err(crate::error::Error::new(
                crate::error::ErrorKind::NoMatchingKey,
                msg!("this key cannot verify ", alg),
            ));
        }
        crate::alg::verify(alg, self, message, signature)
    }

    /// The exact signature length `alg` produces with this key: 64/96/132 for
    /// ES256/384/512, 64 for EdDSA, the hash length for HS*, the modulus
    /// length for RS*/PS*. `None` if the key does not fit `alg`. Host-crypto
    /// adapters refuse other lengths before calling the host.
    pub fn signature_len(&self, alg: Algorithm) -> Option<usize> {
        if !self.fits(alg) {
            return None;
        }
        Some(match alg.family() {
            KeyFamily::Hmac => alg.hash_len(),
            KeyFamily::Rsa => self.rsa_bits.div_ceil(8),
            KeyFamily::Ec(curve) => 2 * curve.coordinate_len(),
            KeyFamily::Ed25519 => 64,
            KeyFamily::MlDsa(set) => set.signature_len(),
        })
    }

    /// An HMAC secret from explicit configuration.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` if the secret is shorter than 32 bytes (or than the hash
    /// output of `alg`, when given), if `alg` is not an HS* algorithm, or if the
    /// `kid` is longer than 256 bytes.
    pub fn hmac_secret(secret: &[u8], kid: Option<&str>, alg: Option<Algorithm>) -> Result<Key> {
        let min = match alg {
            Some(a) if !a.is_symmetric() => {
                return Err(jwks_invalid(msg!(
                    "an HMAC secret cannot be used with ",
                    a,
                    "; HMAC secrets are only for HS256/HS384/HS512"
                )))
            }
            Some(a) => a.hash_len(),
            None => MIN_HMAC_SECRET,
        };
        if secret.len() < min {
            return Err(jwks_invalid(msg!("HMAC secret is ", secret.len(), " bytes; at least ", min, " are required (RFC 7518 §3.2: the key must be at least as long as the hash output)")));
        }
        if let Some(k) = kid {
            check_kid_len(k).map_err(jwks_invalid)?;
        }
        Ok(Key {
            kid: kid.map(ToString::to_string),
            alg,
            family: KeyFamily::Hmac,
            rsa_bits: 0,
            prepared: Prepared::Hmac(Zeroizing::new(secret.to_vec())),
            public_jwk: None,
            fingerprint: msg!(
                "oct;kid=",
                kid.unwrap_or(""),
                ";alg=",
                alg.map_or("", Algorithm::name)
            ),
            serial: 0,
        })
    }

    /// A copy of this key if it is an HMAC secret (a validator adds its
    /// configured secrets again to every fetched key set). Public keys are
    /// never copied: they come from parsing a JWKS.
    pub(crate) fn copy_secret(&self) -> Option<Key> {
        let Prepared::Hmac(secret) = &self.prepared else {
            return None;
        };
        Some(Key {
            kid: self.kid.clone(),
            alg: self.alg,
            family: KeyFamily::Hmac,
            rsa_bits: 0,
            prepared: Prepared::Hmac(secret.clone()),
            public_jwk: None,
            fingerprint: self.fingerprint.clone(),
            serial: 0,
        })
    }

    /// An HMAC secret from a trusted `oct` JWK (explicit configuration, never a
    /// fetched JWKS). The JWK's `use`, `key_ops` and `alg` are honoured.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` if the JWK is not a usable `oct` signing key.
    pub fn from_secret_jwk(jwk: &Map<String, Value>) -> Result<Key> {
        let meta = Meta::parse(jwk).map_err(jwks_invalid)?;
        if meta.kty != "oct" {
            return Err(jwks_invalid(msg!(
                "expected an \"oct\" key for an HMAC secret, found kty ",
                Truncated(&meta.kty)
            )));
        }
        let k = member_bytes(jwk, "k", b64::decode).map_err(jwks_invalid)?;
        let k = Zeroizing::new(k);
        Key::hmac_secret(&k, meta.kid.as_deref(), meta.alg)
    }

    /// Parses one public JWK. Returns a message saying why the key is unusable.
    pub(crate) fn from_public_jwk(jwk: &Map<String, Value>) -> core::result::Result<Key, String> {
        let meta = Meta::parse(jwk)?;
        if meta.kty == "oct" {
            return Err("is a symmetric (oct) key; HMAC secrets are never taken from a JWKS, configure them explicitly".into());
        }
        for private in PRIVATE_MEMBERS {
            if jwk.contains_key(private) {
                return Err(msg!(
                    "contains the private member \"",
                    private,
                    "\"; a public key set must not carry private key material"
                ));
            }
        }
        let (family, rsa_bits, prepared, public) = match meta.kty.as_str() {
            "EC" => parse_ec(jwk)?,
            "OKP" => parse_okp(jwk)?,
            "RSA" => parse_rsa(jwk)?,
            "AKP" => parse_akp(jwk, meta.alg)?,
            other => return Err(msg!("has unsupported kty ", Truncated(other))),
        };
        if let Some(a) = meta.alg {
            if a.family() != family {
                return Err(msg!("has alg ", a, ", which does not fit its key type"));
            }
        }
        let mut public_jwk = public;
        if let Some(kid) = &meta.kid {
            public_jwk.insert("kid".into(), Value::String(kid.clone()));
        }
        if let Some(a) = meta.alg {
            public_jwk.insert("alg".into(), Value::String(a.name().into()));
        }
        // The sorted public members identify the key (map order is sorted).
        let mut fingerprint = String::new();
        for (k, v) in &public_jwk {
            fingerprint.push_str(k);
            fingerprint.push('=');
            fingerprint.push_str(v.as_str().unwrap_or_default());
            fingerprint.push(';');
        }
        Ok(Key {
            kid: meta.kid,
            alg: meta.alg,
            family,
            rsa_bits,
            prepared,
            public_jwk: Some(public_jwk),
            fingerprint,
            serial: 0,
        })
    }

    /// A string that identifies the key material and its `kid`/`alg` (not a
    /// secret: for HMAC keys it holds only the `kid` and `alg`). Caches use it
    /// to notice that a key left the set.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The validator's number for this key (see [`crate::SignatureCheck::key_serial`]).
    pub(crate) fn serial(&self) -> u32 {
        self.serial
    }

    pub(crate) fn set_serial(&mut self, serial: u32) {
        self.serial = serial;
    }

    /// RSA modulus size in bits (0 for other key types).
    pub fn rsa_bits(&self) -> usize {
        self.rsa_bits
    }
}

pub(crate) fn check_kid_len(kid: &str) -> core::result::Result<(), String> {
    if kid.len() > MAX_KID_LEN {
        return Err(msg!(
            "kid is ",
            kid.len(),
            " bytes long; at most ",
            MAX_KID_LEN,
            " are allowed"
        ));
    }
    Ok(())
}

/// The metadata members common to every key type.
struct Meta {
    kty: String,
    kid: Option<String>,
    alg: Option<Algorithm>,
}

impl Meta {
    fn parse(jwk: &Map<String, Value>) -> core::result::Result<Meta, String> {
        let kty = match jwk.get("kty") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err("has a non-string kty".into()),
            None => return Err("has no kty".into()),
        };
        let kid = match jwk.get("kid") {
            None => None,
            Some(Value::String(s)) => {
                check_kid_len(s)?;
                Some(s.clone())
            }
            Some(_) => return Err("has a non-string kid".into()),
        };
        match jwk.get("use") {
            None => {}
            Some(Value::String(u)) if u == "sig" => {}
            Some(Value::String(u)) => {
                return Err(msg!(
                    "has use ",
                    Truncated(u),
                    "; only \"sig\" keys verify signatures"
                ))
            }
            Some(_) => return Err("has a non-string use".into()),
        }
        match jwk.get("key_ops") {
            None => {}
            Some(Value::Array(ops)) => {
                if !ops.iter().all(Value::is_string) {
                    return Err("has key_ops with a non-string member".into());
                }
                if !ops.iter().any(|op| op.as_str() == Some("verify")) {
                    return Err("has key_ops without \"verify\"".into());
                }
            }
            Some(_) => return Err("has key_ops that is not an array".into()),
        }
        let alg = match jwk.get("alg") {
            None => None,
            Some(Value::String(a)) => match Algorithm::from_name(a) {
                Some(a) => Some(a),
                None => {
                    return Err(msg!(
                        "has alg ",
                        Truncated(a),
                        ", which is not a supported signature algorithm"
                    ))
                }
            },
            Some(_) => return Err("has a non-string alg".into()),
        };
        Ok(Meta { kty, kid, alg })
    }
}

/// A public key member (`x`, `y`, `n`, `e`): public data, so the fast
/// variable-time decoder is used.
fn b64_member(
    jwk: &Map<String, Value>,
    name: &'static str,
) -> core::result::Result<Vec<u8>, String> {
    member_bytes(jwk, name, b64::decode_public)
}

/// The bytes of base64url member `name`, decoded by `decode` (constant-time
/// [`b64::decode`] for secret members such as an HMAC `k`).
fn member_bytes(
    jwk: &Map<String, Value>,
    name: &'static str,
    decode: fn(&[u8]) -> core::result::Result<Vec<u8>, b64::B64Error>,
) -> core::result::Result<Vec<u8>, String> {
    match jwk.get(name) {
        Some(Value::String(s)) => {
            decode(s.as_bytes()).map_err(|e| msg!("member \"", name, "\" ", e.describe()))
        }
        Some(_) => Err(msg!("member \"", name, "\" is not a string")),
        None => Err(msg!("is missing member \"", name, "\"")),
    }
}

fn str_member<'a>(
    jwk: &'a Map<String, Value>,
    name: &'static str,
) -> core::result::Result<&'a str, String> {
    match jwk.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(msg!("member \"", name, "\" is not a string")),
        None => Err(msg!("is missing member \"", name, "\"")),
    }
}

type Parsed = (KeyFamily, usize, Prepared, Map<String, Value>);

fn public_members(jwk: &Map<String, Value>, names: &[&str]) -> Map<String, Value> {
    // Inserted one by one: `collect` into a map would sort (more wasm code).
    // Public members are strings (checked by the caller); copying only those
    // keeps `Value::clone` (and a B-tree clone) out of the wasm build.
    let mut out = Map::new();
    for n in names {
        if let Some(Value::String(v)) = jwk.get(*n) {
            out.insert((*n).to_string(), Value::String(v.clone()));
        }
    }
    out
}

fn parse_ec(jwk: &Map<String, Value>) -> core::result::Result<Parsed, String> {
    let curve = match str_member(jwk, "crv")? {
        "P-256" => Curve::P256,
        "P-384" => Curve::P384,
        "P-521" => Curve::P521,
        other => return Err(msg!("has unsupported EC curve ", Truncated(other))),
    };
    let x = b64_member(jwk, "x")?;
    let y = b64_member(jwk, "y")?;
    let len = curve.coordinate_len();
    if x.len() != len || y.len() != len {
        return Err(msg!(
            "has ",
            curve.name(),
            " coordinates of ",
            x.len(),
            " and ",
            y.len(),
            " bytes; ",
            len,
            " bytes each are required"
        ));
    }
    let prepared = prepare_ec(curve, &x, &y)?;
    Ok((
        KeyFamily::Ec(curve),
        0,
        prepared,
        public_members(jwk, &["kty", "crv", "x", "y"]),
    ))
}

#[allow(unused_variables)]
fn prepare_ec(curve: Curve, x: &[u8], y: &[u8]) -> core::result::Result<Prepared, String> {
    let invalid = || msg!("has an invalid ", curve.name(), " point (not on the curve)");
    match curve {
        #[cfg(feature = "es256")]
        Curve::P256 => crate::alg::prepare::p256(x, y)
            .map(Prepared::P256)
            .ok_or_else(invalid),
        #[cfg(feature = "es384")]
        Curve::P384 => crate::alg::prepare::p384(x, y)
            .map(Prepared::P384)
            .ok_or_else(invalid),
        #[cfg(feature = "es512")]
        Curve::P521 => crate::alg::prepare::p521(x, y)
            .map(Prepared::P521)
            .ok_or_else(invalid),
        #[allow(unreachable_patterns)]
        _ => Ok(Prepared::HostOnly),
    }
}

fn parse_okp(jwk: &Map<String, Value>) -> core::result::Result<Parsed, String> {
    match str_member(jwk, "crv")? {
        "Ed25519" => {}
        other => {
            return Err(msg!(
                "has unsupported OKP curve ",
                Truncated(other),
                " (only Ed25519)"
            ))
        }
    }
    let x = b64_member(jwk, "x")?;
    if x.len() != 32 {
        return Err(msg!(
            "has an Ed25519 key of ",
            x.len(),
            " bytes; 32 are required"
        ));
    }
    #[cfg(feature = "eddsa")]
    let prepared = crate::alg::prepare::ed25519(&x)
        .map(Prepared::Ed25519)
        .ok_or_else(|| String::from("has an invalid or weak (small-order) Ed25519 public key"))?;
    #[cfg(not(feature = "eddsa"))]
    let prepared = Prepared::HostOnly;
    Ok((
        KeyFamily::Ed25519,
        0,
        prepared,
        public_members(jwk, &["kty", "crv", "x"]),
    ))
}

/// RFC 9964 `AKP` keys: `alg` is required and binds the key to its
/// parameter set; `pub` has exactly that set's public key length.
fn parse_akp(
    jwk: &Map<String, Value>,
    alg: Option<Algorithm>,
) -> core::result::Result<Parsed, String> {
    let set = match alg.map(Algorithm::family) {
        Some(KeyFamily::MlDsa(set)) => set,
        Some(_) => {
            return Err(msg!(
                "is an AKP key with alg ",
                alg.map_or("", Algorithm::name),
                "; AKP keys here are ML-DSA-44, ML-DSA-65 or ML-DSA-87"
            ))
        }
        None => {
            return Err(
                "is an AKP key without alg; RFC 9964 requires it (it binds the key to its parameter set)"
                    .into(),
            )
        }
    };
    let public = b64_member(jwk, "pub")?;
    let len = set.public_key_len();
    if public.len() != len {
        return Err(msg!(
            "has an ",
            set.algorithm(),
            " public key of ",
            public.len(),
            " bytes; ",
            len,
            " are required"
        ));
    }
    #[cfg(feature = "ml-dsa")]
    let prepared = crate::alg::prepare::ml_dsa(set, &public)
        .map(Prepared::MlDsa)
        .ok_or_else(|| msg!("has an invalid ", set.algorithm(), " public key"))?;
    #[cfg(not(feature = "ml-dsa"))]
    let prepared = Prepared::HostOnly;
    Ok((
        KeyFamily::MlDsa(set),
        0,
        prepared,
        public_members(jwk, &["kty", "pub"]),
    ))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

fn parse_rsa(jwk: &Map<String, Value>) -> core::result::Result<Parsed, String> {
    let n_raw = b64_member(jwk, "n")?;
    let e_raw = b64_member(jwk, "e")?;
    let n = strip_leading_zeros(&n_raw);
    let e = strip_leading_zeros(&e_raw);
    let bits = match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(msg!(
            "is a ",
            bits,
            "-bit RSA key; at least ",
            MIN_RSA_BITS,
            " bits are required"
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(msg!(
            "is a ",
            bits,
            "-bit RSA key; at most ",
            MAX_RSA_BITS,
            " bits are accepted"
        ));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("has an even RSA modulus".into());
    }
    // e must be odd, at least 3 and at most 32 bits (65537 in practice).
    let e_ok = !e.is_empty() && e.len() <= 4 && e.last().is_some_and(|b| b & 1 == 1) && e != [1];
    if !e_ok {
        return Err(
            "has an unacceptable RSA public exponent (must be odd, at least 3, at most 32 bits)"
                .into(),
        );
    }
    #[cfg(feature = "rsa")]
    let prepared = crate::alg::prepare::rsa(n, e)
        .map(Prepared::Rsa)
        .ok_or_else(|| String::from("has an invalid RSA public key"))?;
    #[cfg(not(feature = "rsa"))]
    let prepared = Prepared::HostOnly;
    Ok((
        KeyFamily::Rsa,
        bits,
        prepared,
        public_members(jwk, &["kty", "n", "e"]),
    ))
}

/// Members that only a private or symmetric JWK has (RFC 7517/7518).
pub(crate) const PRIVATE_MEMBERS: [&str; 9] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

/// The RFC 7638 SHA-256 thumbprint of a public JWK (EC, OKP or RSA):
/// base64url of the hash of its required members in lexicographic order,
/// without whitespace. `None` for a JWK that is not a public key of those
/// types, lacks a required member, or holds a private member (a DPoP proof
/// carrying one is refused, RFC 9449 §4.2).
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    thumbprint_bytes(jwk).map(|h| b64::encode(&h))
}

/// [`thumbprint`] as the hash's bytes.
pub(crate) fn thumbprint_bytes(jwk: &Map<String, Value>) -> Option<[u8; 32]> {
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return None;
    }
    let required: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        "RSA" => &["e", "kty", "n"],
        // RFC 9964 §6: the thumbprint of an AKP key covers its alg.
        "AKP" => &["alg", "kty", "pub"],
        _ => return None,
    };
    // RFC 7638's canonical form: the required members, in lexicographic
    // order (as listed), without whitespace, strings escaped as JSON does.
    let mut text = String::from("{");
    for (i, m) in required.iter().enumerate() {
        let v = jwk.get(*m)?.as_str()?;
        if i > 0 {
            text.push(',');
        }
        crate::text::json_string(&mut text, m);
        text.push(':');
        crate::text::json_string(&mut text, v);
    }
    text.push('}');
    Some(Sha256::digest(text.as_bytes()).into())
}
