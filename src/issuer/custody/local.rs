//! Signing-key material: generation, signing, the public JWK (in the shape the
//! core's JWK parser accepts), RFC 7638 thumbprints as `kid`, and PKCS#8
//! encoding — encrypted at rest with PBES2 (PBKDF2-HMAC-SHA256 + AES-256-CBC),
//! which `openssl pkey` reads with the passphrase.
//!
//! Implemented: ES256, EdDSA (Ed25519), RS256 and PS256 (RSA 2048), and
//! ML-DSA-44/65/87 (RFC 9964; fips204, hedged signing; PKCS#8 with the
//! LAMPS OIDs and the 32-byte seed form of RFC 9881).

use std::boxed::Box;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use pkcs8::{DecodePrivateKey, EncodePrivateKey, EncryptedPrivateKeyInfo, PrivateKeyInfo};
use rand_core::{OsRng, RngCore};
use serde_json::{Map, Value};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::{b64url_encode, Algorithm, KeyFamily, MlDsaSet};

use crate::issuer::{Error, ErrorKind, Result};

/// The algorithms the issuer can sign with, in the order `--alg` lists them.
pub const SUPPORTED: [Algorithm; 7] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::MlDsa44,
    Algorithm::MlDsa65,
    Algorithm::MlDsa87,
];

/// What `--alg` accepts, for messages.
const IMPLEMENTED: &str = "ES256, EdDSA, RS256, PS256, ML-DSA-44, ML-DSA-65, ML-DSA-87";

/// RFC 9881's OIDs for ML-DSA keys (NIST CSOR sigAlgs 17, 18, 19), checked
/// at compile time.
const ML_DSA_44_OID: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.17");
const ML_DSA_65_OID: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.18");
const ML_DSA_87_OID: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.3.19");

/// The OID of ML-DSA keys of `set`.
const fn ml_dsa_oid(set: MlDsaSet) -> pkcs8::ObjectIdentifier {
    match set {
        MlDsaSet::MlDsa44 => ML_DSA_44_OID,
        MlDsaSet::MlDsa65 => ML_DSA_65_OID,
        MlDsaSet::MlDsa87 => ML_DSA_87_OID,
    }
}

/// RSA modulus size for generated RS256/PS256 keys.
pub const RSA_BITS: usize = 2048;

/// Refuses algorithms the issuer cannot sign with.
///
/// # Errors
/// A usage error listing what is implemented.
pub fn check_supported(alg: Algorithm) -> Result<()> {
    if SUPPORTED.contains(&alg) {
        Ok(())
    } else {
        Err(Error::usage(format!(
            "signing with {alg} is not implemented (implemented: {IMPLEMENTED})"
        )))
    }
}

/// Parses an `--alg` name.
///
/// # Errors
/// Unknown or not implemented.
pub fn parse_alg(name: &str) -> Result<Algorithm> {
    let alg = Algorithm::from_name(name).ok_or_else(|| {
        Error::usage(format!(
            "unknown algorithm {name:?} (implemented: {IMPLEMENTED})"
        ))
    })?;
    check_supported(alg)?;
    Ok(alg)
}

enum Inner {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
    Rsa(Box<rsa::RsaPrivateKey>),
    MlDsa(MlDsaKey),
}

/// An ML-DSA private key: its FIPS 204 seed ξ (what PKCS#8 stores) and the
/// expanded key fips204 signs with (both zeroized on drop).
struct MlDsaKey {
    seed: Zeroizing<[u8; 32]>,
    expanded: MlDsaExpanded,
}

enum MlDsaExpanded {
    MlDsa44(Box<fips204::ml_dsa_44::PrivateKey>, Vec<u8>),
    MlDsa65(Box<fips204::ml_dsa_65::PrivateKey>, Vec<u8>),
    MlDsa87(Box<fips204::ml_dsa_87::PrivateKey>, Vec<u8>),
}

impl MlDsaKey {
    /// The key pair of `set` from seed ξ (FIPS 204 `ML-DSA.KeyGen_internal`).
    fn from_seed(set: MlDsaSet, seed: Zeroizing<[u8; 32]>) -> Self {
        use fips204::traits::{KeyGen, SerDes};
        let expanded = match set {
            MlDsaSet::MlDsa87 => {
                let (pk, sk) = fips204::ml_dsa_87::KG::keygen_from_seed(&seed);
                MlDsaExpanded::MlDsa87(Box::new(sk), pk.into_bytes().to_vec())
            }
            MlDsaSet::MlDsa65 => {
                let (pk, sk) = fips204::ml_dsa_65::KG::keygen_from_seed(&seed);
                MlDsaExpanded::MlDsa65(Box::new(sk), pk.into_bytes().to_vec())
            }
            MlDsaSet::MlDsa44 => {
                let (pk, sk) = fips204::ml_dsa_44::KG::keygen_from_seed(&seed);
                MlDsaExpanded::MlDsa44(Box::new(sk), pk.into_bytes().to_vec())
            }
        };
        Self { seed, expanded }
    }

    fn set(&self) -> MlDsaSet {
        match &self.expanded {
            MlDsaExpanded::MlDsa44(..) => MlDsaSet::MlDsa44,
            MlDsaExpanded::MlDsa65(..) => MlDsaSet::MlDsa65,
            MlDsaExpanded::MlDsa87(..) => MlDsaSet::MlDsa87,
        }
    }

    fn public(&self) -> &[u8] {
        match &self.expanded {
            MlDsaExpanded::MlDsa44(_, p)
            | MlDsaExpanded::MlDsa65(_, p)
            | MlDsaExpanded::MlDsa87(_, p) => p,
        }
    }

    /// Hedged signing (fresh randomness from the OS), empty context (RFC 9964).
    fn sign(&self, message: &[u8]) -> core::result::Result<Vec<u8>, &'static str> {
        use fips204::traits::Signer;
        Ok(match &self.expanded {
            MlDsaExpanded::MlDsa44(sk, _) => {
                sk.try_sign_with_rng(&mut OsRng, message, &[])?.to_vec()
            }
            MlDsaExpanded::MlDsa65(sk, _) => {
                sk.try_sign_with_rng(&mut OsRng, message, &[])?.to_vec()
            }
            MlDsaExpanded::MlDsa87(sk, _) => {
                sk.try_sign_with_rng(&mut OsRng, message, &[])?.to_vec()
            }
        })
    }
}

pub(crate) fn ml_dsa_set(alg: Algorithm) -> Option<MlDsaSet> {
    match alg.family() {
        KeyFamily::MlDsa(set) => Some(set),
        _ => None,
    }
}

/// A private signing key. Its `Debug` never shows key material.
pub struct SigningKey {
    alg: Algorithm,
    inner: Inner,
    /// ES256: the same key in ring, which signs (randomized ECDSA, the same
    /// JWS signature format) about 7x faster than p256's pure-Rust code; the
    /// p256 key stays for encoding and as the fallback.
    fast: Option<ring::signature::EcdsaKeyPair>,
}

/// ring's copy of an ES256 key from its PKCS#8 DER (`None` if ring does
/// not read it: p256 signs then).
fn ring_p256(der: &[u8]) -> Option<ring::signature::EcdsaKeyPair> {
    ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        der,
        &ring::rand::SystemRandom::new(),
    )
    .ok()
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn crypto(what: &str) -> impl Fn(String) -> Error + '_ {
    move |e| Error::crypto(format!("{what}: {e}"))
}

impl SigningKey {
    /// Generates a fresh key for `alg` from the OS random source.
    ///
    /// # Errors
    /// `alg` is not implemented, or key generation failed.
    pub fn generate(alg: Algorithm) -> Result<Self> {
        check_supported(alg)?;
        let inner = match (alg, ml_dsa_set(alg)) {
            (_, Some(set)) => {
                let mut seed = Zeroizing::new([0u8; 32]);
                OsRng
                    .try_fill_bytes(seed.as_mut())
                    .map_err(|e| crypto("ML-DSA key generation failed")(e.to_string()))?;
                Inner::MlDsa(MlDsaKey::from_seed(set, seed))
            }
            (Algorithm::ES256, _) => Inner::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            (Algorithm::EdDSA, _) => {
                let mut seed = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(seed.as_mut());
                Inner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&seed))
            }
            _ => Inner::Rsa(Box::new(
                rsa::RsaPrivateKey::new(&mut OsRng, RSA_BITS)
                    .map_err(|e| crypto("RSA key generation failed")(e.to_string()))?,
            )),
        };
        let mut key = Self {
            alg,
            inner,
            fast: None,
        };
        if alg == Algorithm::ES256 {
            key.fast = ring_p256(&key.to_pkcs8_der()?);
        }
        Ok(key)
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK members that define the key (`kty`, `crv`, `x`, `y`, `n`, `e`).
    fn required_members(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match &self.inner {
            Inner::P256(sk) => {
                let point = sk.verifying_key().to_encoded_point(false);
                m.insert("kty".into(), "EC".into());
                m.insert("crv".into(), "P-256".into());
                if let (Some(x), Some(y)) = (point.x(), point.y()) {
                    m.insert("x".into(), b64url_encode(x).into());
                    m.insert("y".into(), b64url_encode(y).into());
                }
            }
            Inner::Ed25519(sk) => {
                m.insert("kty".into(), "OKP".into());
                m.insert("crv".into(), "Ed25519".into());
                m.insert(
                    "x".into(),
                    b64url_encode(sk.verifying_key().as_bytes()).into(),
                );
            }
            Inner::Rsa(sk) => {
                use rsa::traits::PublicKeyParts;
                m.insert("kty".into(), "RSA".into());
                m.insert("n".into(), b64url_encode(&sk.n().to_bytes_be()).into());
                m.insert("e".into(), b64url_encode(&sk.e().to_bytes_be()).into());
            }
            Inner::MlDsa(k) => {
                // RFC 9964: an AKP key's alg is part of the key (and of its thumbprint).
                m.insert("kty".into(), "AKP".into());
                m.insert("alg".into(), self.alg.name().into());
                m.insert("pub".into(), b64url_encode(k.public()).into());
            }
        }
        m
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url): used as the `kid`.
    ///
    /// # Errors
    /// The public key has no complete JWK (never for a generated key).
    pub fn thumbprint(&self) -> Result<String> {
        crate::jwk::thumbprint(&self.required_members())
            .ok_or_else(|| Error::crypto("the key's public JWK is incomplete"))
    }

    /// The public JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self, kid: &str) -> Map<String, Value> {
        let mut m = self.required_members();
        m.insert("kid".into(), kid.into());
        m.insert("alg".into(), self.alg.name().into());
        m.insert("use".into(), "sig".into());
        m
    }

    /// Signs `message`, returning the JWS signature bytes (P1363 for ECDSA).
    ///
    /// # Errors
    /// The backend failed.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        use rsa::signature::{RandomizedSigner, SignatureEncoding, Signer};
        let err = crypto("signing failed");
        if let Some(kp) = &self.fast {
            return Ok(kp
                .sign(&ring::rand::SystemRandom::new(), message)
                .map_err(|_| err("ring refused to sign".into()))?
                .as_ref()
                .to_vec());
        }
        match (&self.inner, self.alg) {
            (Inner::P256(sk), _) => {
                let sig: p256::ecdsa::Signature =
                    sk.try_sign(message).map_err(|e| err(e.to_string()))?;
                Ok(sig.to_bytes().to_vec())
            }
            (Inner::Ed25519(sk), _) => Ok(sk
                .try_sign(message)
                .map_err(|e| err(e.to_string()))?
                .to_bytes()
                .to_vec()),
            (Inner::Rsa(sk), Algorithm::PS256) => {
                let key = rsa::pss::BlindedSigningKey::<Sha256>::new((**sk).clone());
                Ok(key
                    .try_sign_with_rng(&mut OsRng, message)
                    .map_err(|e| err(e.to_string()))?
                    .to_vec())
            }
            (Inner::Rsa(sk), _) => {
                let key = rsa::pkcs1v15::SigningKey::<Sha256>::new((**sk).clone());
                Ok(key
                    .try_sign(message)
                    .map_err(|e| err(e.to_string()))?
                    .to_vec())
            }
            (Inner::MlDsa(k), _) => k.sign(message).map_err(|e| err(e.into())),
        }
    }

    /// The unencrypted PKCS#8 DER.
    ///
    /// # Errors
    /// Encoding failed.
    pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        let err = crypto("PKCS#8 encoding failed");
        let doc = match &self.inner {
            Inner::P256(sk) => sk.to_pkcs8_der().map_err(|e| err(e.to_string()))?,
            Inner::Ed25519(sk) => sk.to_pkcs8_der().map_err(|e| err(e.to_string()))?,
            Inner::Rsa(sk) => sk.to_pkcs8_der().map_err(|e| err(e.to_string()))?,
            Inner::MlDsa(k) => {
                use pkcs8::der::Encode;
                let oid = ml_dsa_oid(k.set());
                // RFC 9881: ML-DSA-PrivateKey ::= CHOICE { seed [0] OCTET STRING (SIZE (32)), ... }.
                let mut private = Zeroizing::new(std::vec![0x80, 0x20]);
                private.extend_from_slice(k.seed.as_ref());
                let info = PrivateKeyInfo::new(
                    pkcs8::AlgorithmIdentifierRef {
                        oid,
                        parameters: None,
                    },
                    &private,
                );
                return Ok(Zeroizing::new(
                    info.to_der().map_err(|e| err(e.to_string()))?,
                ));
            }
        };
        Ok(Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Reads an unencrypted PKCS#8 DER key for `alg`.
    ///
    /// # Errors
    /// The DER is not a key of the right type.
    pub fn from_pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<Self> {
        check_supported(alg)?;
        let err = crypto("stored private key is unreadable");
        let inner = match (alg, ml_dsa_set(alg)) {
            (a, Some(set)) => {
                let info = PrivateKeyInfo::try_from(der).map_err(|e| err(e.to_string()))?;
                if info.algorithm.oid != ml_dsa_oid(set) {
                    return Err(err(format!("not an {a} key (another algorithm's OID)")));
                }
                let seed: [u8; 32] = match info.private_key {
                    [0x80, 0x20, rest @ ..] => rest
                        .try_into()
                        .map_err(|_| err("the ML-DSA seed is not 32 bytes".into()))?,
                    _ => {
                        return Err(err(
                            "only the seed form of an ML-DSA private key is read (RFC 9881)".into(),
                        ))
                    }
                };
                Inner::MlDsa(MlDsaKey::from_seed(set, Zeroizing::new(seed)))
            }
            (Algorithm::ES256, _) => Inner::P256(
                p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|e| err(e.to_string()))?,
            ),
            (Algorithm::EdDSA, _) => Inner::Ed25519(
                ed25519_dalek::SigningKey::from_pkcs8_der(der).map_err(|e| err(e.to_string()))?,
            ),
            _ => Inner::Rsa(Box::new(
                rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|e| err(e.to_string()))?,
            )),
        };
        let fast = if alg == Algorithm::ES256 {
            ring_p256(der)
        } else {
            None
        };
        Ok(Self { alg, inner, fast })
    }
}

/// Encrypts a PKCS#8 DER key with PBES2 (PBKDF2-HMAC-SHA256, `iterations`,
/// random 16-byte salt; AES-256-CBC, random IV). Returns the
/// `EncryptedPrivateKeyInfo` DER.
///
/// # Errors
/// Encoding failed.
pub fn encrypt_pkcs8(der: &[u8], passphrase: &[u8], iterations: u32) -> Result<Vec<u8>> {
    let err = crypto("private key encryption failed");
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(iterations, &salt, &iv)
        .map_err(|e| err(e.to_string()))?;
    let info = PrivateKeyInfo::try_from(der).map_err(|e| err(e.to_string()))?;
    let doc = info
        .encrypt_with_params(params, passphrase)
        .map_err(|e| err(e.to_string()))?;
    Ok(doc.as_bytes().to_vec())
}

/// Decrypts an `EncryptedPrivateKeyInfo` DER.
///
/// # Errors
/// A passphrase error if it does not decrypt (wrong passphrase).
pub fn decrypt_pkcs8(encrypted: &[u8], passphrase: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let info = EncryptedPrivateKeyInfo::try_from(encrypted)
        .map_err(|e| Error::crypto(format!("stored encrypted key is malformed: {e}")))?;
    let doc = info.decrypt(passphrase).map_err(|_| {
        Error::new(
            ErrorKind::Passphrase,
            "cannot decrypt the private key: wrong passphrase",
        )
    })?;
    Ok(Zeroizing::new(doc.as_bytes().to_vec()))
}

/// PEM-encodes an `EncryptedPrivateKeyInfo` DER (`-----BEGIN ENCRYPTED PRIVATE KEY-----`).
///
/// # Errors
/// Encoding failed.
pub fn encrypted_pem(encrypted: &[u8]) -> Result<String> {
    pkcs8::der::pem::encode_string("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF, encrypted)
        .map_err(|e| Error::crypto(format!("PEM encoding failed: {e}")))
}

/// PEM-encodes an unencrypted PKCS#8 DER (`-----BEGIN PRIVATE KEY-----`).
///
/// # Errors
/// Encoding failed.
pub fn plain_pem(der: &[u8]) -> Result<Zeroizing<String>> {
    pkcs8::der::pem::encode_string("PRIVATE KEY", pkcs8::LineEnding::LF, der)
        .map(Zeroizing::new)
        .map_err(|e| Error::crypto(format!("PEM encoding failed: {e}")))
}

/// `n` random bytes from the OS, base64url-encoded.
pub fn random_b64(n: usize) -> String {
    let mut bytes = Zeroizing::new(std::vec![0u8; n]);
    OsRng.fill_bytes(&mut bytes);
    b64url_encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeySet, Policy};

    #[test]
    fn ec_and_ed_keys_round_trip_and_verify_with_the_core() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let key = SigningKey::generate(alg).unwrap();
            let kid = key.thumbprint().unwrap();
            let jwks = serde_json::json!({ "keys": [key.public_jwk(&kid)] }).to_string();
            let set = KeySet::from_jwks(jwks.as_bytes()).unwrap();
            assert!(set.issues().is_empty());
            let enc = encrypt_pkcs8(&key.to_pkcs8_der().unwrap(), b"pw", 1000).unwrap();
            assert!(decrypt_pkcs8(&enc, b"wrong").is_err());
            let der = decrypt_pkcs8(&enc, b"pw").unwrap();
            let back = SigningKey::from_pkcs8_der(alg, &der).unwrap();
            assert_eq!(back.thumbprint().unwrap(), kid);
            let header = b64url_encode(
                serde_json::json!({"alg": alg.name(), "kid": kid})
                    .to_string()
                    .as_bytes(),
            );
            let payload = b64url_encode(br#"{"exp":2000000000}"#);
            let input = format!("{header}.{payload}");
            let sig = back.sign(input.as_bytes()).unwrap();
            let token = format!("{input}.{}", b64url_encode(&sig));
            crate::verify(&token, &set, &Policy::new(), 1_900_000_000).unwrap();
            assert!(!format!("{back:?}").contains(&b64url_encode(&der)));
        }
    }

    #[test]
    fn es256_signs_with_ring_and_p256_verifies_it() {
        use p256::ecdsa::signature::Verifier;
        let k = SigningKey::generate(Algorithm::ES256).unwrap();
        let again =
            SigningKey::from_pkcs8_der(Algorithm::ES256, &k.to_pkcs8_der().unwrap()).unwrap();
        for key in [&k, &again] {
            assert!(key.fast.is_some(), "ring reads the PKCS#8 key");
            let sig = key.sign(b"header.payload").unwrap();
            assert_eq!(sig.len(), 64);
            let Inner::P256(sk) = &k.inner else {
                panic!("not a P-256 key")
            };
            let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
            sk.verifying_key().verify(b"header.payload", &sig).unwrap();
            assert!(sk.verifying_key().verify(b"header.payloaD", &sig).is_err());
        }
    }
}
