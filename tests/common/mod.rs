//! Shared helpers for the integration tests: minting compact JWS tokens with
//! fixed test keys, building JWKS documents from their public parts, and
//! asserting stable error codes.
//!
//! Every key here is a fixed test key (deterministic signatures: RFC 6979 for
//! ECDSA, RFC 8032 for Ed25519, PKCS#1 v1.5 for RSA; PSS uses a seeded RNG).
#![allow(dead_code)]

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use jwt_edge::{Algorithm, Error, KeySet, Policy, Verified};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer as _};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Value};
use sha2::{Sha256, Sha384, Sha512};

/// The "current time" used by every test (2023-11-14T22:13:20Z).
pub const NOW: u64 = 1_700_000_000;
/// The issuer of the good tokens.
pub const ISS: &str = "https://issuer.example";
/// The audience of the good tokens.
pub const AUD: &str = "api";

/// Key ids of the standard key set.
pub const KID_EC: &str = "ec-1";
pub const KID_EC384: &str = "ec384-1";
pub const KID_ED: &str = "ed-1";
pub const KID_RSA: &str = "rsa-1";
pub const KID_HS: &str = "hs-1";

// ---------------------------------------------------------------------------
// base64url and token assembly
// ---------------------------------------------------------------------------

/// Unpadded base64url, via the library's own encoder.
pub fn b64(bytes: &[u8]) -> String {
    jwt_edge::b64url_encode(bytes)
}

/// Unpadded base64url of the compact JSON text of `v`.
pub fn b64_json(v: &Value) -> String {
    b64(&serde_json::to_vec(v).unwrap())
}

/// Standard (padded, `+/`) base64, for PEM-like encodings.
pub fn b64_std(bytes: &[u8]) -> String {
    let mut s: String = b64(bytes)
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while s.len() % 4 != 0 {
        s.push('=');
    }
    s
}

/// Decodes unpadded base64url on the test side (panics on any character
/// outside the base64url alphabet; ignores trailing bits).
pub fn b64_decode(s: &str) -> Vec<u8> {
    fn val(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        }
    }
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0u32;
    for &c in s.as_bytes() {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Something that can sign a JWS signing input.
pub trait Sign {
    /// The JWA name this key signs with by default.
    fn alg(&self) -> &'static str;
    /// The signature over `msg`.
    fn sign(&self, msg: &[u8]) -> Vec<u8>;
}

/// `b64(header) '.' b64(payload) '.' b64(sign(signing input))`, from segment
/// strings that are already encoded (or deliberately broken).
pub fn token_from_segments(header_b64: &str, payload_b64: &str, key: &dyn Sign) -> String {
    let input = format!("{header_b64}.{payload_b64}");
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

/// A token from raw header and payload JSON *text* (for duplicate-member and
/// other byte-exact cases).
pub fn token_raw(header_json: &str, payload_json: &str, key: &dyn Sign) -> String {
    token_from_segments(
        &b64(header_json.as_bytes()),
        &b64(payload_json.as_bytes()),
        key,
    )
}

/// A token from header and claims JSON values.
pub fn token(header: &Value, claims: &Value, key: &dyn Sign) -> String {
    token_from_segments(&b64_json(header), &b64_json(claims), key)
}

/// A token with header `{"alg": key.alg(), "kid": kid}`.
pub fn token_kid(kid: &str, claims: &Value, key: &dyn Sign) -> String {
    token(&json!({"alg": key.alg(), "kid": kid}), claims, key)
}

/// Splits a compact token into its three segments (panics otherwise).
pub fn segments(token: &str) -> [String; 3] {
    let v: Vec<&str> = token.split('.').collect();
    assert_eq!(v.len(), 3, "not a 3-segment token: {token}");
    [v[0].to_string(), v[1].to_string(), v[2].to_string()]
}

/// Replaces segment `i` (0 = header, 1 = payload, 2 = signature) verbatim.
pub fn with_segment(token: &str, i: usize, new: &str) -> String {
    let mut s = segments(token);
    s[i] = new.to_string();
    s.join(".")
}

/// Replaces the signature segment with the encoding of `sig`.
pub fn with_signature(token: &str, sig: &[u8]) -> String {
    with_segment(token, 2, &b64(sig))
}

/// The decoded signature of a token.
pub fn signature_of(token: &str) -> Vec<u8> {
    b64_decode(&segments(token)[2])
}

/// The exact signing input of a token.
pub fn signing_input_of(token: &str) -> String {
    let s = segments(token);
    format!("{}.{}", s[0], s[1])
}

/// The claims of a good token, valid at [`NOW`].
pub fn good_claims() -> Value {
    json!({
        "iss": ISS,
        "sub": "user-1",
        "aud": AUD,
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "jti": "tok-1",
    })
}

/// [`good_claims`] with one member replaced (or removed, with `None`).
pub fn claims_with(name: &str, value: Option<Value>) -> Value {
    let mut c = good_claims();
    let map = c.as_object_mut().unwrap();
    match value {
        Some(v) => {
            map.insert(name.to_string(), v);
        }
        None => {
            map.remove(name);
        }
    }
    c
}

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/// An HMAC secret used with HS256/HS384/HS512.
pub struct HsKey {
    pub alg: Algorithm,
    pub secret: Vec<u8>,
}

/// HMAC-SHA-2 of `msg` under `secret` (any length, even empty).
pub fn hmac(alg: Algorithm, secret: &[u8], msg: &[u8]) -> Vec<u8> {
    match alg {
        Algorithm::HS256 => {
            let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Algorithm::HS384 => {
            let mut m = Hmac::<Sha384>::new_from_slice(secret).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        Algorithm::HS512 => {
            let mut m = Hmac::<Sha512>::new_from_slice(secret).unwrap();
            m.update(msg);
            m.finalize().into_bytes().to_vec()
        }
        other => panic!("not an HMAC algorithm: {other}"),
    }
}

impl Sign for HsKey {
    fn alg(&self) -> &'static str {
        self.alg.name()
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        hmac(self.alg, &self.secret, msg)
    }
}

/// The standard 64-byte HMAC secret (long enough for HS512).
pub fn hs_secret() -> Vec<u8> {
    (0u8..64)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect()
}

/// The standard HMAC key for `alg`.
pub fn hs(alg: Algorithm) -> HsKey {
    HsKey {
        alg,
        secret: hs_secret(),
    }
}

/// An ES256 key (P-256).
pub struct Es256Key(pub p256::ecdsa::SigningKey);

impl Es256Key {
    /// A key from a fixed 32-byte scalar.
    pub fn from_seed(byte: u8) -> Self {
        Self(p256::ecdsa::SigningKey::from_slice(&[byte; 32]).unwrap())
    }
    /// `(x, y)` affine coordinates, 32 bytes each.
    pub fn xy(&self) -> (Vec<u8>, Vec<u8>) {
        let p = self.0.verifying_key().to_encoded_point(false);
        (p.x().unwrap().to_vec(), p.y().unwrap().to_vec())
    }
    /// The public JWK.
    pub fn jwk(&self, kid: &str) -> Value {
        let (x, y) = self.xy();
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": b64(&x), "y": b64(&y)})
    }
    /// The private JWK (public members plus `d`).
    pub fn private_jwk(&self, kid: &str) -> Value {
        let mut j = self.jwk(kid);
        j["d"] = json!(b64(&self.0.to_bytes()));
        j
    }
    /// The `p256` signature object (low- or high-S as produced by RFC 6979).
    pub fn sign_raw(&self, msg: &[u8]) -> p256::ecdsa::Signature {
        use p256::ecdsa::signature::Signer;
        self.0.sign(msg)
    }
}

impl Sign for Es256Key {
    fn alg(&self) -> &'static str {
        "ES256"
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        self.sign_raw(msg).to_bytes().to_vec()
    }
}

/// An ES384 key (P-384).
pub struct Es384Key(pub p384::ecdsa::SigningKey);

impl Es384Key {
    /// A key from a fixed 48-byte scalar.
    pub fn from_seed(byte: u8) -> Self {
        Self(p384::ecdsa::SigningKey::from_slice(&[byte; 48]).unwrap())
    }
    /// The public JWK.
    pub fn jwk(&self, kid: &str) -> Value {
        let p = self.0.verifying_key().to_sec1_point(false);
        json!({"kty": "EC", "crv": "P-384", "kid": kid,
               "x": b64(p.x().unwrap()), "y": b64(p.y().unwrap())})
    }
}

impl Sign for Es384Key {
    fn alg(&self) -> &'static str {
        "ES384"
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use p384::ecdsa::signature::Signer;
        let sig: p384::ecdsa::Signature = self.0.sign(msg);
        sig.to_bytes().to_vec()
    }
}

/// An Ed25519 key.
pub struct EdKey(pub ed25519_dalek::SigningKey);

impl EdKey {
    /// A key from a fixed 32-byte seed.
    pub fn from_seed(byte: u8) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&[byte; 32]))
    }
    /// The 32-byte public key.
    pub fn public(&self) -> [u8; 32] {
        self.0.verifying_key().to_bytes()
    }
    /// The public JWK.
    pub fn jwk(&self, kid: &str) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64(&self.public())})
    }
}

impl Sign for EdKey {
    fn alg(&self) -> &'static str {
        "EdDSA"
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer;
        self.0.sign(msg).to_bytes().to_vec()
    }
}

/// RFC 7520 §3.4 RSA-2048 private key
/// (`tests/vectors/rfc7520/jwk/3_4.rsa_private_key.json`, kid
/// `bilbo.baggins@hobbiton.example`), embedded so these tests do not read
/// the vector files.
pub mod rfc7520_rsa {
    pub const N: &str = "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw";
    pub const E: &str = "AQAB";
    pub const D: &str = "bWUC9B-EFRIo8kpGfh0ZuyGPvMNKvYWNtB_ikiH9k20eT-O1q_I78eiZkpXxXQ0UTEs2LsNRS-8uJbvQ-A1irkwMSMkK1J3XTGgdrhCku9gRldY7sNA_AKZGh-Q661_42rINLRCe8W-nZ34ui_qOfkLnK9QWDDqpaIsA-bMwWWSDFu2MUBYwkHTMEzLYGqOe04noqeq1hExBTHBOBdkMXiuFhUq1BU6l-DqEiWxqg82sXt2h-LMnT3046AOYJoRioz75tSUQfGCshWTBnP5uDjd18kKhyv07lhfSJdrPdM5Plyl21hsFf4L_mHCuoFau7gdsPfHPxxjVOcOpBrQzwQ";
    pub const P: &str = "3Slxg_DwTXJcb6095RoXygQCAZ5RnAvZlno1yhHtnUex_fp7AZ_9nRaO7HX_-SFfGQeutao2TDjDAWU4Vupk8rw9JR0AzZ0N2fvuIAmr_WCsmGpeNqQnev1T7IyEsnh8UMt-n5CafhkikzhEsrmndH6LxOrvRJlsPp6Zv8bUq0k";
    pub const Q: &str = "uKE2dh-cTf6ERF4k4e_jy78GfPYUIaUyoSSJuBzp3Cubk3OCqs6grT8bR_cu0Dm1MZwWmtdqDyI95HrUeq3MP15vMMON8lHTeZu2lmKvwqW7anV5UzhM1iZ7z4yMkuUwFWoBvyY898EXvRD-hdqRxHlSqAZ192zB3pVFJ0s7pFc";
}

/// The RFC 7520 RSA-2048 key (parsed once).
pub fn rsa_private() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let int = |s: &str| BigUint::from_bytes_be(&b64_decode(s));
        RsaPrivateKey::from_components(
            int(rfc7520_rsa::N),
            int(rfc7520_rsa::E),
            int(rfc7520_rsa::D),
            vec![int(rfc7520_rsa::P), int(rfc7520_rsa::Q)],
        )
        .unwrap()
    })
}

/// The modulus of the RFC 7520 key, big-endian.
pub fn rsa_n() -> Vec<u8> {
    rsa_private().n().to_bytes_be()
}

/// An RSA signer for one of RS256/384/512 or PS256/384/512.
pub struct RsaKey {
    pub alg: Algorithm,
    /// PSS salt length (`None` = hash length, the only one JWA allows).
    pub pss_salt: Option<usize>,
}

/// The RFC 7520 RSA key signing with `alg`.
pub fn rsa(alg: Algorithm) -> RsaKey {
    RsaKey {
        alg,
        pss_salt: None,
    }
}

/// The public JWK of the RFC 7520 RSA key.
pub fn rsa_jwk(kid: &str) -> Value {
    json!({"kty": "RSA", "kid": kid, "n": rfc7520_rsa::N, "e": rfc7520_rsa::E})
}

fn pss_sign<D>(salt: Option<usize>, msg: &[u8]) -> Vec<u8>
where
    D: sha2::Digest + sha2::digest::FixedOutputReset,
{
    use rand_chacha::rand_core::SeedableRng;
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let key = rsa_private().clone();
    let signer = match salt {
        None => rsa::pss::SigningKey::<D>::new(key),
        Some(len) => rsa::pss::SigningKey::<D>::new_with_salt_len(key, len),
    };
    signer.sign_with_rng(&mut rng, msg).to_vec()
}

impl Sign for RsaKey {
    fn alg(&self) -> &'static str {
        self.alg.name()
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let key = rsa_private().clone();
        match self.alg {
            Algorithm::RS256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(key)
                .sign(msg)
                .to_vec(),
            Algorithm::RS384 => rsa::pkcs1v15::SigningKey::<Sha384>::new(key)
                .sign(msg)
                .to_vec(),
            Algorithm::RS512 => rsa::pkcs1v15::SigningKey::<Sha512>::new(key)
                .sign(msg)
                .to_vec(),
            Algorithm::PS256 => pss_sign::<Sha256>(self.pss_salt, msg),
            Algorithm::PS384 => pss_sign::<Sha384>(self.pss_salt, msg),
            Algorithm::PS512 => pss_sign::<Sha512>(self.pss_salt, msg),
            other => panic!("not an RSA algorithm: {other}"),
        }
    }
}

/// A signer that returns fixed bytes (for hand-made signatures).
pub struct Fixed(pub &'static str, pub Vec<u8>);

impl Sign for Fixed {
    fn alg(&self) -> &'static str {
        self.0
    }
    fn sign(&self, _msg: &[u8]) -> Vec<u8> {
        self.1.clone()
    }
}

/// A signing function over a message.
type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// An ML-DSA key pair (RFC 9964) of one parameter set, from a fixed seed.
pub struct MlDsaKey {
    /// `ML-DSA-44`, `ML-DSA-65` or `ML-DSA-87`.
    pub alg: &'static str,
    /// The encoded public key.
    pub public: Vec<u8>,
    sign: SignFn,
}

impl MlDsaKey {
    /// The key of `alg` from the 32-byte seed `[byte; 32]` (FIPS 204 ξ).
    pub fn from_seed(alg: &'static str, byte: u8) -> Self {
        use fips204::traits::{KeyGen, SerDes, Signer};
        use rand_chacha::rand_core::SeedableRng;
        macro_rules! pair {
            ($m:ident) => {{
                let (pk, sk) = fips204::$m::KG::keygen_from_seed(&[byte; 32]);
                let sign = move |msg: &[u8]| {
                    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(u64::from(byte));
                    sk.try_sign_with_rng(&mut rng, msg, &[]).unwrap().to_vec()
                };
                (
                    pk.into_bytes().to_vec(),
                    Box::new(sign) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
                )
            }};
        }
        let (public, sign) = match alg {
            "ML-DSA-44" => pair!(ml_dsa_44),
            "ML-DSA-65" => pair!(ml_dsa_65),
            "ML-DSA-87" => pair!(ml_dsa_87),
            other => panic!("not an ML-DSA algorithm: {other}"),
        };
        Self { alg, public, sign }
    }

    /// The public `AKP` JWK (RFC 9964), `alg` bound.
    pub fn jwk(&self, kid: &str) -> Value {
        json!({"kty": "AKP", "alg": self.alg, "kid": kid, "pub": b64(&self.public)})
    }
}

impl Sign for MlDsaKey {
    fn alg(&self) -> &'static str {
        self.alg
    }
    fn sign(&self, msg: &[u8]) -> Vec<u8> {
        (self.sign)(msg)
    }
}

/// The legitimate P-256 key (kid [`KID_EC`]).
pub fn ec() -> Es256Key {
    Es256Key::from_seed(0x11)
}
/// A second legitimate P-256 key.
pub fn ec2() -> Es256Key {
    Es256Key::from_seed(0x33)
}
/// An attacker's P-256 key (never in any key set).
pub fn attacker_ec() -> Es256Key {
    Es256Key::from_seed(0x22)
}
/// The legitimate P-384 key (kid [`KID_EC384`]).
pub fn ec384() -> Es384Key {
    Es384Key::from_seed(0x44)
}
/// The legitimate Ed25519 key (kid [`KID_ED`]).
pub fn ed() -> EdKey {
    EdKey::from_seed(0x55)
}
/// An attacker's Ed25519 key.
pub fn attacker_ed() -> EdKey {
    EdKey::from_seed(0x66)
}

// ---------------------------------------------------------------------------
// Key sets and policies
// ---------------------------------------------------------------------------

/// `{"keys":[...]}` as bytes.
pub fn jwks(keys: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "keys": keys })).unwrap()
}

/// The public JWKS of the standard keys (EC P-256, EC P-384, Ed25519, RSA).
pub fn standard_jwks() -> Vec<u8> {
    jwks(&[
        ec().jwk(KID_EC),
        ec384().jwk(KID_EC384),
        ed().jwk(KID_ED),
        rsa_jwk(KID_RSA),
    ])
}

/// The standard key set: [`standard_jwks`] plus the configured HMAC secret
/// [`hs_secret`] under kid [`KID_HS`].
pub fn standard_keys() -> KeySet {
    let mut keys = KeySet::from_jwks(&standard_jwks()).unwrap();
    assert!(keys.issues().is_empty(), "{:?}", keys.issues());
    keys.add_hmac_secret(&hs_secret(), Some(KID_HS), None)
        .unwrap();
    keys
}

/// A key set from a JWKS that must parse (keys may be skipped).
pub fn keys_from(jwks_doc: &[u8]) -> KeySet {
    KeySet::from_jwks(jwks_doc).unwrap()
}

/// Every algorithm allowed (HS* included), everything else default.
pub fn policy_all() -> Policy {
    Policy::new().algorithms(Algorithm::ALL)
}

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

/// Verifies with the standard keys, [`policy_all`] and [`NOW`].
pub fn verify_std(token: &str) -> Result<Verified, Error> {
    jwt_edge::verify(token, &standard_keys(), &policy_all(), NOW)
}

/// Asserts success and returns the verified token.
#[track_caller]
pub fn assert_ok(r: Result<Verified, Error>) -> Verified {
    match r {
        Ok(v) => v,
        Err(e) => panic!("expected success, got {}: {}", e.code(), e.message()),
    }
}

/// Asserts failure with `code` and returns the error.
#[track_caller]
pub fn assert_code<T: core::fmt::Debug>(r: Result<T, Error>, code: &str) -> Error {
    match r {
        Ok(v) => panic!("expected {code}, but it succeeded: {v:?}"),
        Err(e) => {
            assert_eq!(
                e.code(),
                code,
                "expected {code}, got {}: {}",
                e.code(),
                e.message()
            );
            e
        }
    }
}

/// Asserts a claim failure with `code`, claim name and reason.
#[track_caller]
pub fn assert_claim<T: core::fmt::Debug>(
    r: Result<T, Error>,
    code: &str,
    claim: &str,
    reason: jwt_edge::ClaimReason,
) -> Error {
    let e = assert_code(r, code);
    assert_eq!(e.claim_name(), Some(claim), "{}", e.message());
    assert_eq!(e.claim_reason(), Some(reason), "{}", e.message());
    e
}

// ---------------------------------------------------------------------------
// Tiny DER writer (for "public key as HMAC secret" encodings and DER ECDSA)
// ---------------------------------------------------------------------------

/// A DER length.
pub fn der_len(len: usize) -> Vec<u8> {
    if len < 0x80 {
        vec![len as u8]
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|&b| b == 0)
            .collect();
        let mut out = vec![0x80 | bytes.len() as u8];
        out.extend(bytes);
        out
    }
}

/// A DER TLV.
pub fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER from unsigned big-endian bytes (minimal encoding).
pub fn der_uint(be: &[u8]) -> Vec<u8> {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len() - 1);
    let mut v = be[start..].to_vec();
    if v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    der(0x02, &v)
}

/// A PEM block with 64-column lines.
pub fn pem(label: &str, der_bytes: &[u8]) -> String {
    let body = b64_std(der_bytes);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(core::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
