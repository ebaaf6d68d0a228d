//! Key custody in a PKCS#11 token (`init --key-store pkcs11`), through the
//! `cryptoki` binding: keys are generated inside the token
//! (`C_GenerateKeyPair`) as token objects that are sensitive and not
//! extractable, sign there, and are destroyed there; the store keeps only
//! the public key and the object's `CKA_ID`. Tested with SoftHSM2.
//!
//! Supported: ES256 (`CKM_ECDSA` over a SHA-256 digest: the token's `r || s`
//! is already the JWS form), RS256 (`CKM_SHA256_RSA_PKCS`) and PS256
//! (`CKM_SHA256_RSA_PKCS_PSS`, MGF1-SHA-256, 32-byte salt) and EdDSA
//! (Ed25519, `CKM_EDDSA` pure) where the token lists `CKM_EDDSA`, and
//! ML-DSA-44/65/87 (`CKM_ML_DSA_KEY_PAIR_GEN` with `CKA_PARAMETER_SET`,
//! `CKM_ML_DSA` pure with an empty context; PKCS#11 3.2, tested with
//! kryoptic) where it lists those; a token that does not is refused clearly
//! at key generation, naming the mechanism.
//!
//! The PIN is held in a [`Zeroizing`] string, never printed, logged or
//! audited; errors name the module, the token label and kids only.

use std::format;
use std::string::String;
use std::vec::Vec;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::dsa::{HedgeType, SignAdditionalContext};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeType, MlDsaParameterSetType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::issuer::custody::local::ml_dsa_set;
use crate::{b64url_encode, Algorithm, MlDsaSet};

use super::Pkcs11Config;
use crate::issuer::{Error, ErrorKind, Result};

/// The DER of the P-256 curve OID (1.2.840.10045.3.1.7), `CKA_EC_PARAMS`.
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// The DER of the Ed25519 OID (1.3.101.112), `CKA_EC_PARAMS` (RFC 8410).
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2B, 0x65, 0x70];

/// The PKCS#11 3.2 name of an ML-DSA parameter set (`CKA_PARAMETER_SET`).
fn pkcs11_parameter_set(set: MlDsaSet) -> MlDsaParameterSetType {
    match set {
        MlDsaSet::MlDsa44 => MlDsaParameterSetType::ML_DSA_44,
        MlDsaSet::MlDsa65 => MlDsaParameterSetType::ML_DSA_65,
        MlDsaSet::MlDsa87 => MlDsaParameterSetType::ML_DSA_87,
    }
}

/// An open token: the module, a logged-in session, and what to log in with
/// again when the session is lost (token removed and reinserted, module
/// restarted). Dropping it closes its session; the module stays initialised
/// for the process (another `Hsm` of the same process may be using it).
pub struct Hsm {
    config: Pkcs11Config,
    pin: Zeroizing<String>,
    ctx: Pkcs11,
    slot: Slot,
    session: Option<Session>,
}

impl core::fmt::Debug for Hsm {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hsm")
            .field("module", &self.config.module)
            .field("token", &self.config.token)
            .finish_non_exhaustive()
    }
}

fn hsm_error(what: &str, e: &cryptoki::error::Error) -> Error {
    Error::new(ErrorKind::Crypto, format!("PKCS#11: {what}: {e}"))
}

/// Whether an error means the session (or login) is gone and a new
/// session may succeed.
fn session_lost(e: &cryptoki::error::Error) -> bool {
    use cryptoki::error::RvError;
    matches!(
        e,
        cryptoki::error::Error::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::UserNotLoggedIn
                | RvError::DeviceRemoved
                | RvError::TokenNotPresent,
            _
        )
    )
}

impl Hsm {
    /// Loads the module, finds the token by label and logs in.
    ///
    /// # Errors
    /// The module cannot be loaded, no token has the label, or the login
    /// fails (wrong PIN): errors name the module and token, never the PIN.
    pub fn open(config: &Pkcs11Config, pin: Zeroizing<String>) -> Result<Self> {
        // One opening at a time in a process: a C_Initialize still running
        // in another thread would hand this one an incomplete slot list.
        static OPENING: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = OPENING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ctx = Pkcs11::new(&config.module)
            .map_err(|e| hsm_error(&format!("cannot load the module {}", config.module), &e))?;
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::CryptokiAlreadyInitialized,
                _,
            )) => {}
            Err(e) => return Err(hsm_error("C_Initialize", &e)),
        }
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| hsm_error("C_GetSlotList", &e))?;
        let slot = slots
            .into_iter()
            .find(|s| {
                ctx.get_token_info(*s)
                    .is_ok_and(|i| i.label().trim_end() == config.token)
            })
            .ok_or_else(|| {
                Error::usage(format!(
                    "no PKCS#11 token labelled {:?} in {}",
                    config.token, config.module
                ))
            })?;
        let mut hsm = Self {
            config: config.clone(),
            pin,
            ctx,
            slot,
            session: None,
        };
        hsm.session()?;
        Ok(hsm)
    }

    /// The logged-in session, opened (again) when needed.
    fn session(&mut self) -> Result<&Session> {
        if self.session.is_none() {
            let s = self
                .ctx
                .open_rw_session(self.slot)
                .map_err(|e| hsm_error("C_OpenSession", &e))?;
            let pin = AuthPin::new(self.pin.as_str().into());
            match s.login(UserType::User, Some(&pin)) {
                Ok(()) => {}
                Err(cryptoki::error::Error::Pkcs11(
                    cryptoki::error::RvError::UserAlreadyLoggedIn,
                    _,
                )) => {}
                Err(e) => {
                    return Err(Error::secret_needed(
                        crate::issuer::Secret::Pkcs11Pin,
                        format!(
                            "PKCS#11: cannot log in to token {:?} (wrong PIN?): {e}",
                            self.config.token
                        ),
                    ))
                }
            }
            self.session = Some(s);
        }
        self.session
            .as_ref()
            .ok_or_else(|| Error::crypto("PKCS#11: no session"))
    }

    /// Runs `f` on the session; once more on a new session when the first
    /// attempt lost it (token reinserted, module restarted).
    fn with_session<T>(
        &mut self,
        what: &str,
        f: impl Fn(&Session) -> cryptoki::error::Result<T>,
    ) -> Result<T> {
        let first = f(self.session()?);
        match first {
            Ok(v) => Ok(v),
            Err(e) if session_lost(&e) => {
                self.session = None;
                f(self.session()?).map_err(|e| hsm_error(what, &e))
            }
            Err(e) => Err(hsm_error(what, &e)),
        }
    }

    /// Generates a key pair for `alg` inside the token: the private key is a
    /// token object, sensitive, not extractable, usable only to sign. Returns
    /// the public JWK (with `kid` = its RFC 7638 thumbprint, `alg`, `use`)
    /// and the objects' `CKA_ID`; their `CKA_LABEL` is the kid.
    ///
    /// # Errors
    /// An algorithm the token cannot keep (EdDSA without `CKM_EDDSA`, ML-DSA
    /// without `CKM_ML_DSA_KEY_PAIR_GEN` and `CKM_ML_DSA`; ES384, ES512 and
    /// the other RSA sizes are not offered), token errors.
    pub fn generate(&mut self, alg: Algorithm) -> Result<(Map<String, Value>, Vec<u8>)> {
        let id = {
            use rand_core::{OsRng, RngCore};
            let mut id = std::vec![0u8; 16];
            OsRng.fill_bytes(&mut id);
            id
        };
        let (mechanism, public_template) = match (alg, ml_dsa_set(alg)) {
            (_, Some(set)) => {
                if !self.offers(&[MechanismType::ML_DSA_KEY_PAIR_GEN, MechanismType::ML_DSA])? {
                    return Err(Error::usage(format!(
                        "PKCS#11 token {:?} does not offer CKM_ML_DSA_KEY_PAIR_GEN and CKM_ML_DSA (PKCS#11 3.2): {alg} keys cannot be kept in it (choose ES256, RS256, PS256 or EdDSA, or keep {alg} keys in the store)",
                        self.config.token
                    )));
                }
                (
                    Mechanism::MlDsaKeyPairGen,
                    std::vec![Attribute::ParameterSet(pkcs11_parameter_set(set).into())],
                )
            }
            (Algorithm::ES256, _) => (
                Mechanism::EccKeyPairGen,
                std::vec![Attribute::EcParams(P256_OID.to_vec())],
            ),
            (Algorithm::EdDSA, _) => {
                if !self.offers(&[MechanismType::EDDSA])? {
                    return Err(Error::usage(format!(
                        "PKCS#11 token {:?} does not offer CKM_EDDSA: EdDSA keys cannot be kept in it (choose ES256, RS256 or PS256)",
                        self.config.token
                    )));
                }
                (
                    Mechanism::EccEdwardsKeyPairGen,
                    std::vec![Attribute::EcParams(ED25519_OID.to_vec())],
                )
            }
            (Algorithm::RS256 | Algorithm::PS256, _) => (
                Mechanism::RsaPkcsKeyPairGen,
                std::vec![
                    Attribute::ModulusBits(2048.into()),
                    Attribute::PublicExponent(std::vec![0x01, 0x00, 0x01]),
                ],
            ),
            (other, _) => {
                return Err(Error::usage(format!(
                    "{other} keys cannot be kept in a PKCS#11 token here (supported: ES256, RS256, PS256, EdDSA, ML-DSA-44, ML-DSA-65, ML-DSA-87)"
                )))
            }
        };
        let mut public = public_template;
        public.extend([
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::Id(id.clone()),
        ]);
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.clone()),
        ];
        let (pub_handle, priv_handle) = self.with_session("C_GenerateKeyPair", |s| {
            s.generate_key_pair(&mechanism, &public, &private)
        })?;
        let jwk = self.public_jwk(alg, pub_handle)?;
        let kid = crate::jwk::thumbprint(&jwk).ok_or_else(|| {
            Error::crypto("PKCS#11: the token's public key is not a complete JWK")
        })?;
        let label = kid.as_bytes().to_vec();
        self.with_session("C_SetAttributeValue", |s| {
            s.update_attributes(pub_handle, &[Attribute::Label(label.clone())])?;
            s.update_attributes(priv_handle, &[Attribute::Label(label.clone())])
        })?;
        let mut out = jwk;
        out.insert("kid".into(), kid.into());
        out.insert("alg".into(), alg.name().into());
        out.insert("use".into(), "sig".into());
        Ok((out, id))
    }

    /// Whether the token lists every one of `wanted` (`C_GetMechanismList`).
    fn offers(&self, wanted: &[MechanismType]) -> Result<bool> {
        let list = self
            .ctx
            .get_mechanism_list(self.slot)
            .map_err(|e| hsm_error("C_GetMechanismList", &e))?;
        Ok(wanted.iter().all(|m| list.contains(m)))
    }

    /// A byte-string attribute of an object (`CKA_VALUE`, `CKA_EC_POINT`);
    /// `None` if the token does not return it.
    fn bytes_attribute(
        &mut self,
        handle: ObjectHandle,
        which: AttributeType,
    ) -> Result<Option<Vec<u8>>> {
        let attrs = self.with_session("C_GetAttributeValue", |s| {
            s.get_attributes(handle, &[which])
        })?;
        Ok(attrs.into_iter().find_map(|a| match a {
            Attribute::Value(v) | Attribute::EcPoint(v) => Some(v),
            _ => None,
        }))
    }

    fn public_jwk(&mut self, alg: Algorithm, handle: ObjectHandle) -> Result<Map<String, Value>> {
        let bad = || Error::crypto("PKCS#11: the token returned a malformed public key");
        if let Some(set) = ml_dsa_set(alg) {
            // PKCS#11 3.2: an ML-DSA public key's CKA_VALUE is FIPS 204's
            // pkEncode, the bytes of the AKP key's `pub` (RFC 9964).
            let raw = self
                .bytes_attribute(handle, AttributeType::Value)?
                .filter(|v| v.len() == set.public_key_len())
                .ok_or_else(bad)?;
            let Value::Object(m) =
                json!({"kty": "AKP", "alg": alg.name(), "pub": b64url_encode(&raw)})
            else {
                return Err(bad());
            };
            return Ok(m);
        }
        if matches!(alg, Algorithm::EdDSA | Algorithm::ES256) {
            let point = self
                .bytes_attribute(handle, AttributeType::EcPoint)?
                .ok_or_else(bad)?;
            // CKA_EC_POINT: a DER OCTET STRING around the point (Ed25519: the
            // 32-byte key; P-256: the 65-byte uncompressed point), or the point.
            let len = if alg == Algorithm::EdDSA { 32 } else { 65 };
            let raw = match point.as_slice() {
                [0x04, n, rest @ ..] if usize::from(*n) == len && rest.len() == len => rest,
                p if p.len() == len => p,
                _ => return Err(bad()),
            };
            if alg == Algorithm::EdDSA {
                let Value::Object(m) =
                    json!({"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)})
                else {
                    return Err(bad());
                };
                return Ok(m);
            }
            let (x, y) = match raw {
                [0x04, xy @ ..] if xy.len() == 64 => xy.split_at(32),
                _ => return Err(bad()),
            };
            let Value::Object(m) =
                json!({"kty": "EC", "crv": "P-256", "x": b64url_encode(x), "y": b64url_encode(y)})
            else {
                return Err(bad());
            };
            return Ok(m);
        }
        let attrs = self.with_session("C_GetAttributeValue", |s| {
            s.get_attributes(
                handle,
                &[AttributeType::Modulus, AttributeType::PublicExponent],
            )
        })?;
        let (mut n, mut e) = (None, None);
        for a in attrs {
            match a {
                Attribute::Modulus(v) => n = Some(v),
                Attribute::PublicExponent(v) => e = Some(v),
                _ => {}
            }
        }
        let (n, e) = (n.ok_or_else(bad)?, e.ok_or_else(bad)?);
        let strip = |v: &[u8]| -> Vec<u8> {
            let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
            v.get(start..).unwrap_or_default().to_vec()
        };
        let Value::Object(m) =
            json!({"kty": "RSA", "n": b64url_encode(&strip(&n)), "e": b64url_encode(&strip(&e))})
        else {
            return Err(bad());
        };
        Ok(m)
    }

    /// The private key object with this `CKA_ID`.
    fn private_key(&mut self, id: &[u8], kid: &str) -> Result<ObjectHandle> {
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ];
        let mut found = self.with_session("C_FindObjects", |s| s.find_objects(&template))?;
        if found.is_empty() {
            // Private objects are invisible to a session that lost its
            // login: look once more on a new, logged-in session.
            self.session = None;
            found = self.with_session("C_FindObjects", |s| s.find_objects(&template))?;
        }
        found.into_iter().next().ok_or_else(|| {
            Error::crypto(format!(
                "the private key of signing key {kid} is missing from PKCS#11 token {:?}",
                self.config.token
            ))
        })
    }

    /// Logs this process out of the token (every session of it loses the
    /// login; the next operation of any `Hsm` logs in again).
    ///
    /// # Errors
    /// Token errors.
    pub fn logout(&mut self) -> Result<()> {
        self.with_session("C_Logout", Session::logout)
    }

    /// Signs `message` with the key `id` (the JWS signature bytes).
    ///
    /// # Errors
    /// The object is missing, the token refuses.
    pub fn sign(
        &mut self,
        alg: Algorithm,
        id: &[u8],
        kid: &str,
        message: &[u8],
    ) -> Result<Vec<u8>> {
        let key = self.private_key(id, kid)?;
        match alg {
            Algorithm::ES256 => {
                let digest = Sha256::digest(message).to_vec();
                self.with_session("C_Sign", |s| s.sign(&Mechanism::Ecdsa, key, &digest))
            }
            Algorithm::RS256 => self.with_session("C_Sign", |s| {
                s.sign(&Mechanism::Sha256RsaPkcs, key, message)
            }),
            Algorithm::EdDSA => {
                let params = EddsaParams::new(EddsaSignatureScheme::Pure);
                self.with_session("C_Sign", |s| {
                    s.sign(&Mechanism::Eddsa(params), key, message)
                })
            }
            Algorithm::PS256 => {
                let params = PkcsPssParams {
                    hash_alg: MechanismType::SHA256,
                    mgf: PkcsMgfType::MGF1_SHA256,
                    s_len: 32.into(),
                };
                self.with_session("C_Sign", |s| {
                    s.sign(&Mechanism::Sha256RsaPkcsPss(params), key, message)
                })
            }
            // Pure ML-DSA over the signing input, empty context (RFC 9964);
            // hedged or deterministic as the token prefers (both verify).
            Algorithm::MlDsa44 | Algorithm::MlDsa65 | Algorithm::MlDsa87 => {
                let params = SignAdditionalContext::new(HedgeType::Preferred, None);
                self.with_session("C_Sign", |s| {
                    s.sign(&Mechanism::MlDsa(params), key, message)
                })
            }
            other => Err(Error::usage(format!(
                "{other} is not supported with PKCS#11 keys"
            ))),
        }
    }

    /// Destroys both objects with this `CKA_ID` (`C_DestroyObject`); none
    /// left is not an error.
    ///
    /// # Errors
    /// Token errors.
    pub fn destroy(&mut self, id: &[u8]) -> Result<usize> {
        let template = [Attribute::Id(id.to_vec())];
        let found = self.with_session("C_FindObjects", |s| s.find_objects(&template))?;
        let n = found.len();
        for h in found {
            self.with_session("C_DestroyObject", |s| s.destroy_object(h))?;
        }
        Ok(n)
    }

    /// The `CKA_ID`s of the private keys in the token (for `keys check`).
    ///
    /// # Errors
    /// Token errors.
    pub fn private_key_ids(&mut self) -> Result<Vec<Vec<u8>>> {
        let template = [Attribute::Class(ObjectClass::PRIVATE_KEY)];
        let found = self.with_session("C_FindObjects", |s| s.find_objects(&template))?;
        let mut ids = Vec::new();
        for h in found {
            let attrs = self.with_session("C_GetAttributeValue", |s| {
                s.get_attributes(h, &[AttributeType::Id])
            })?;
            for a in attrs {
                if let Attribute::Id(id) = a {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// `(CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_TOKEN)` of the private key `id`.
    ///
    /// # Errors
    /// The object is missing, token errors.
    pub fn private_key_attributes(&mut self, id: &[u8]) -> Result<(bool, bool, bool)> {
        let key = self.private_key(id, "?")?;
        let attrs = self.with_session("C_GetAttributeValue", |s| {
            s.get_attributes(
                key,
                &[
                    AttributeType::Sensitive,
                    AttributeType::Extractable,
                    AttributeType::Token,
                ],
            )
        })?;
        let (mut sensitive, mut extractable, mut token) = (false, true, false);
        for a in attrs {
            match a {
                Attribute::Sensitive(v) => sensitive = v,
                Attribute::Extractable(v) => extractable = v,
                Attribute::Token(v) => token = v,
                _ => {}
            }
        }
        Ok((sensitive, extractable, token))
    }
}
