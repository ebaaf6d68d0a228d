//! Signing: which key signs ([`Signer`]: decrypted in memory or in a
//! PKCS#11 token), unlocking and generating keys for the process, and
//! compact JWS output.

#[allow(clippy::wildcard_imports)]
use super::*;

/// A key that signs: decrypted in memory, or in a PKCS#11 token.
pub enum Signer<'a> {
    /// An in-memory key.
    Local(&'a SigningKey),
    /// A key in a token.
    Token {
        /// The open token.
        hsm: &'a mut Hsm,
        /// The key's algorithm.
        alg: Algorithm,
        /// Its `CKA_ID`.
        id: Vec<u8>,
        /// Its kid (for errors).
        kid: String,
    },
}

impl Signer<'_> {
    /// The algorithm.
    pub fn alg(&self) -> Algorithm {
        match self {
            Self::Local(k) => k.alg(),
            Self::Token { alg, .. } => *alg,
        }
    }

    /// The JWS signature of `message`.
    ///
    /// # Errors
    /// Signing failed.
    pub fn sign(&mut self, message: &[u8]) -> Result<Vec<u8>> {
        match self {
            Self::Local(k) => k.sign(message),
            Self::Token { hsm, alg, id, kid } => hsm.sign(*alg, id, kid, message),
        }
    }
}

/// The active key of key ring `ring` (see [`Settings::ring_of`]).
pub(super) fn active_key_of(tx: &mut Tx<'_>, ring: Option<Algorithm>) -> Result<KeyRecord> {
    tx.keys()?
        .into_iter()
        .find(|k| k.state() == KeyState::Active && k.ring == ring)
        .ok_or_else(|| {
            Error::crypto(match ring {
                None => "the issuer has no active signing key (a rotation makes one)".to_string(),
                Some(a) => {
                    format!("the issuer has no active {a} signing key (a rotation makes one)")
                }
            })
        })
}

/// `payload` (a revocation or status list) as a compact JWS of type `typ`,
/// signed by the active key of the lists' ring ([`Settings::lists_ring`]).
pub(super) fn sign_with_active(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    typ: &str,
    payload: &Value,
) -> Result<String> {
    let s = load_settings(tx)?;
    let active = active_key_of(tx, s.lists_ring())?;
    let mut signer = ctx.signer(&active, &s)?;
    compact_jws(&mut signer, &active.kid, typ, payload)
}

/// Signs `payload` as a compact JWS with header `{alg, kid, typ}`.
///
/// # Errors
/// Signing failed.
pub fn compact_jws(key: &mut Signer<'_>, kid: &str, typ: &str, payload: &Value) -> Result<String> {
    let header = json!({ "alg": key.alg().name(), "kid": kid, "typ": typ });
    let input = format!(
        "{}.{}",
        b64url_encode(header.to_string().as_bytes()),
        b64url_encode(payload.to_string().as_bytes())
    );
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64url_encode(&sig)))
}

impl Ctx {
    pub(super) fn require_private_keys(&self) -> Result<()> {
        if self.secrets.passphrase.is_none() && !self.secrets.insecure_dev_keys {
            return Err(Error::secret_needed(
                Secret::Passphrase,
                "this needs the private signing keys, and no passphrase was given (nor consent \
                 to unencrypted development keys)",
            ));
        }
        Ok(())
    }

    pub(super) fn warn_unencrypted(&mut self, kid: &str) {
        self.warnings.push(format!(
            "WARNING: signing key {kid} is stored UNENCRYPTED (insecure development keys); never use this outside development"
        ));
    }

    /// The PKCS#11 token of `s`, opened (and logged in) on first use.
    pub(super) fn hsm(&mut self, s: &Settings) -> Result<&mut Hsm> {
        let Some(config) = &s.pkcs11 else {
            return Err(Error::usage(
                "this issuer keeps its keys in the store, not in a PKCS#11 token",
            ));
        };
        if self.hsm.is_none() {
            let pin = self.secrets.pkcs11_pin.clone().ok_or_else(|| {
                Error::secret_needed(
                    Secret::Pkcs11Pin,
                    "the signing keys are in a PKCS#11 token, and no PIN was given",
                )
            })?;
            self.hsm = Some(Hsm::open(config, pin)?);
        }
        self.hsm
            .as_mut()
            .ok_or_else(|| Error::crypto("PKCS#11: not open"))
    }

    pub(super) fn new_key(&mut self, alg: Algorithm, s: &Settings, now: u64) -> Result<KeyRecord> {
        keys::check_supported(alg)?;
        if s.pkcs11.is_some() {
            let (jwk, id) = self.hsm(s)?.generate(alg)?;
            let kid = jwk
                .get("kid")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::crypto("PKCS#11: the generated key's JWK has no kid"))?
                .to_string();
            let custody = Custody::Token(hsm::id_hex(&id));
            return Ok(KeyRecord::pending(
                kid,
                alg,
                Value::Object(jwk).to_string(),
                custody,
                now,
            ));
        }
        self.require_private_keys()?;
        let key = SigningKey::generate(alg)?;
        let kid = key.thumbprint()?;
        let der = key.to_pkcs8_der()?;
        let custody = match &self.secrets.passphrase {
            Some(p) => Custody::Encrypted(Zeroizing::new(keys::encrypt_pkcs8(
                &der,
                p.as_bytes(),
                s.kdf_iterations,
            )?)),
            None => {
                self.warn_unencrypted(&kid);
                Custody::Plain(der)
            }
        };
        let record = KeyRecord::pending(
            kid.clone(),
            alg,
            Value::Object(key.public_jwk(&kid)).to_string(),
            custody,
            now,
        );
        self.signers.insert(kid, key);
        Ok(record)
    }

    pub(super) fn signer(&mut self, k: &KeyRecord, s: &Settings) -> Result<Signer<'_>> {
        if let Custody::Token(hex) = &k.custody {
            let id = hsm::id_from_hex(hex)?;
            let hsm = self.hsm(s)?;
            return Ok(Signer::Token {
                hsm,
                alg: k.alg,
                id,
                kid: k.kid.clone(),
            });
        }
        if !self.signers.contains_key(&k.kid) {
            let der = match &k.custody {
                Custody::Encrypted(stored) => {
                    let p = self.secrets.passphrase.as_ref().ok_or_else(|| {
                        Error::secret_needed(
                            Secret::Passphrase,
                            format!(
                                "signing key {} is encrypted, and no passphrase was given",
                                k.kid
                            ),
                        )
                    })?;
                    keys::decrypt_pkcs8(stored, p.as_bytes())?
                }
                Custody::Plain(stored) => {
                    if !self.secrets.insecure_dev_keys {
                        return Err(Error::secret_needed(
                        Secret::InsecureDevKeys,
                        format!(
                            "signing key {} is stored unencrypted, and unencrypted development keys were not allowed",
                            k.kid
                        ),
                    ));
                    }
                    stored.clone()
                }
                Custody::Token(_) | Custody::Destroyed { .. } => {
                    return Err(Error::crypto(format!(
                        "the private key of {} has been destroyed",
                        k.kid
                    )))
                }
            };
            let key = SigningKey::from_pkcs8_der(k.alg, &der)?;
            self.signers.insert(k.kid.clone(), key);
        }
        if !k.custody.encrypted() {
            self.warn_unencrypted(&k.kid);
        }
        self.signers
            .get(&k.kid)
            .map(Signer::Local)
            .ok_or_else(|| Error::crypto("signer cache inconsistency"))
    }
}
