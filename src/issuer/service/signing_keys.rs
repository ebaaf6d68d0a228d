//! Signing-key operations: generate, list, rotate (the planner in
//! [`crate::issuer::rules::lifecycle`] decides), revoke, check, export, JWKS.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The JSON view of a key (no private material).
pub fn key_json(k: &KeyRecord) -> Value {
    json!({
        "kid": k.kid,
        "alg": k.alg.name(),
        "state": k.state().as_str(),
        "created_at": k.created_at,
        "activated_at": k.life.activated_at(),
        "retiring_at": k.life.retiring_at(),
        "retired_at": k.life.retired_at(),
        "revoked_at": k.life.revocation().map(|r| r.at),
        "revoke_reason": k.life.revocation().and_then(|r| r.reason.as_deref()),
        "destroyed_at": k.life.destroyed_at(),
        "encrypted": k.custody.encrypted(),
        "has_private_key": k.has_private(),
        "custody": if k.custody.token_id().is_some() { "pkcs11" } else { "local" },
        "pkcs11_id": k.custody.token_id(),
    })
}

/// What a rotation step did to a key (serialised as `generate`,
/// `activate`, `retiring`, `retire`, `destroy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyEvent {
    /// A new key (pending, or active at once when there was none).
    Generate,
    /// The key became the signing key.
    Activate,
    /// The key stopped signing; still published.
    Retiring,
    /// The key left the JWKS.
    Retire,
    /// Its private material was destroyed.
    Destroy,
}

impl KeyEvent {
    /// The name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generate => "generate",
            Self::Activate => "activate",
            Self::Retiring => "retiring",
            Self::Retire => "retire",
            Self::Destroy => "destroy",
        }
    }

    fn action(self) -> AuditAction {
        match self {
            Self::Generate => AuditAction::KeyGenerate,
            Self::Activate => AuditAction::KeyActivate,
            Self::Retiring => AuditAction::KeyRetiring,
            Self::Retire => AuditAction::KeyRetire,
            Self::Destroy => AuditAction::KeyDestroy,
        }
    }
}

/// One rotation step taken (`init`, `rotate`, `revoke_key`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepTaken {
    /// What happened.
    pub step: KeyEvent,
    /// To which key.
    pub kid: String,
}

/// A disagreement between the store and the PKCS#11 token (`keys check`).
/// Serialised with its `kind` (`missing_object`, `orphan_object`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CustodyFinding {
    /// A key of the store whose private key object is not in the token.
    MissingObject {
        /// The key.
        kid: String,
        /// In words.
        message: String,
    },
    /// A private key object in the token no key of the store refers to.
    OrphanObject {
        /// Its `CKA_ID`, hex.
        id: String,
        /// In words.
        message: String,
    },
}

impl CustodyFinding {
    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingObject { .. } => "missing_object",
            Self::OrphanObject { .. } => "orphan_object",
        }
    }

    /// In words.
    pub fn message(&self) -> &str {
        match self {
            Self::MissingObject { message, .. } | Self::OrphanObject { message, .. } => message,
        }
    }
}

/// The public JWKS: the published keys (pending, active, retiring), each
/// with its kid.
#[derive(Debug, Clone, PartialEq)]
pub struct Jwks {
    keys: Vec<(String, Map<String, Value>)>,
}

impl Jwks {
    /// The published kids, oldest key first.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    /// The JWKS document, `{"keys":[…]}`.
    pub fn to_json(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|(_, jwk)| Value::Object(jwk.clone()))
            .collect();
        json!({ "keys": keys })
    }
}

/// The JWKS document's JSON text.
impl core::fmt::Display for Jwks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl Ctx {
    /// Applies the rotation plan at `now`; returns the steps taken.
    pub(super) fn rotate(
        &mut self,
        tx: &mut Tx<'_>,
        s: &Settings,
        now: u64,
    ) -> Result<Vec<StepTaken>> {
        // Each key ring under the same policy: the primary one, then one
        // per extra algorithm.
        let mut done = self.rotate_ring(tx, s, None, now)?;
        for alg in s.extra_algs.clone() {
            done.extend(self.rotate_ring(tx, s, Some(alg), now)?);
        }
        Ok(done)
    }

    /// The rotation steps of one key ring (`ring`: see [`Settings::ring_of`]).
    fn rotate_ring(
        &mut self,
        tx: &mut Tx<'_>,
        s: &Settings,
        ring: Option<Algorithm>,
        now: u64,
    ) -> Result<Vec<StepTaken>> {
        let mut keys: Vec<KeyRecord> = tx.keys()?.into_iter().filter(|k| k.ring == ring).collect();
        let steps = lifecycle::plan(&keys, s, now);
        let mut done = Vec::new();
        for step in steps {
            let (event, kid, detail) = match step {
                Step::Generate { activate } => {
                    let mut rec = self.new_key(ring.unwrap_or(s.alg), s, now)?;
                    rec.ring = ring;
                    let kid = rec.kid.clone();
                    tx.insert_key(&rec)?;
                    let mut a = row(now, AuditAction::KeyGenerate, OPERATOR);
                    a.kid = Some(kid.clone());
                    a.detail = Some(format!(
                        "alg={} encrypted={}",
                        rec.alg,
                        rec.custody.encrypted()
                    ));
                    tx.insert_audit(&a)?;
                    done.push(StepTaken {
                        step: KeyEvent::Generate,
                        kid: kid.clone(),
                    });
                    if activate {
                        rec.life.activate(&kid, now)?;
                        tx.update_key(&rec)?;
                    }
                    keys.push(rec);
                    if !activate {
                        continue;
                    }
                    (
                        KeyEvent::Activate,
                        kid,
                        Some("no active key: activated without pre-publication".into()),
                    )
                }
                Step::Activate { kid, early } => {
                    update(tx, &mut keys, &kid, |k| k.life.activate(&kid, now))?;
                    let detail = early.then(|| {
                        "no active key: activated before its pre-publish period ended".to_string()
                    });
                    (KeyEvent::Activate, kid, detail)
                }
                Step::StartRetiring { kid } => {
                    update(tx, &mut keys, &kid, |k| k.life.start_retiring(&kid, now))?;
                    (KeyEvent::Retiring, kid, None)
                }
                Step::Retire { kid } => {
                    update(tx, &mut keys, &kid, |k| k.life.retire(&kid, now))?;
                    (KeyEvent::Retire, kid, None)
                }
                Step::Destroy { kid } => {
                    let in_token = keys
                        .iter()
                        .find(|k| k.kid == kid)
                        .and_then(|k| k.custody.token_id().map(String::from));
                    if let Some(hex) = in_token {
                        // C_DestroyObject first: if the store then fails,
                        // `keys check` reports the key's missing object.
                        self.hsm(s)?.destroy(&hsm::id_from_hex(&hex)?)?;
                    }
                    update(tx, &mut keys, &kid, |k| {
                        k.custody = k.custody.destroyed();
                        k.life.destroy(&kid, now)
                    })?;
                    self.signers.remove(&kid);
                    (KeyEvent::Destroy, kid, None)
                }
            };
            let mut a = row(now, event.action(), OPERATOR);
            a.kid = Some(kid.clone());
            a.detail = detail;
            tx.insert_audit(&a)?;
            done.push(StepTaken { step: event, kid });
        }
        Ok(done)
    }
}

impl<S: Store> Issuer<S> {
    /// Adds a key ring for `alg` beside the primary one (a migration, e.g.
    /// ML-DSA-65 beside ES256): the setting is stored and audited
    /// (`settings.update`), and the ring's first key is generated and
    /// activated at once, under the same rotation policy as the others.
    /// Clients then ask for it with `provision create|update --alg`.
    ///
    /// # Errors
    /// An algorithm already signed with or not implemented, no passphrase,
    /// storage errors.
    pub fn add_algorithm(&mut self, alg: Algorithm, now: u64) -> Result<Vec<StepTaken>> {
        self.run(|ctx, tx| {
            let mut s = load_settings(tx)?;
            if s.signs_with(alg) {
                return Err(Error::usage(format!("the issuer already signs with {alg}")));
            }
            s.extra_algs.push(alg);
            s.validate()?;
            if let Some(v) = s.to_rows().get("extra_algs") {
                tx.put_setting("extra_algs", v)?;
            }
            let mut a = row(now, AuditAction::SettingsUpdate, OPERATOR);
            a.detail = Some(format!("key ring added: alg={alg}"));
            tx.insert_audit(&a)?;
            ctx.rotate(tx, &s, now)
        })
    }

    /// Chooses the key ring that signs revocation lists and status lists
    /// (`None` or the primary algorithm: the primary ring). Audited as
    /// `settings.update`; verifiers need the chosen algorithm.
    ///
    /// # Errors
    /// An algorithm without a ring, storage errors.
    pub fn set_lists_alg(&mut self, alg: Option<Algorithm>, now: u64) -> Result<()> {
        self.run(|_, tx| {
            let mut s = load_settings(tx)?;
            s.lists_alg = alg.filter(|a| *a != s.alg);
            s.validate()?;
            tx.put_setting("lists_alg", s.lists_alg.map_or("", Algorithm::name))?;
            let mut a = row(now, AuditAction::SettingsUpdate, OPERATOR);
            a.detail = Some(format!(
                "lists signed by the {} ring",
                s.lists_alg.unwrap_or(s.alg)
            ));
            tx.insert_audit(&a)
        })
    }

    /// Generates a pending key (`alg` defaults to the configured one).
    ///
    /// # Errors
    /// Not implemented algorithm, no passphrase, storage errors.
    pub fn generate_key(&mut self, alg: Option<Algorithm>, now: u64) -> Result<KeyRecord> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let alg = alg.unwrap_or(s.alg);
            let mut rec = ctx.new_key(alg, &s, now)?;
            // A key of an extra algorithm joins that ring as its next key.
            rec.ring = s.ring_of(alg);
            tx.insert_key(&rec)?;
            let mut a = row(now, AuditAction::KeyGenerate, OPERATOR);
            a.kid = Some(rec.kid.clone());
            a.detail = Some(format!(
                "alg={} encrypted={}",
                rec.alg,
                rec.custody.encrypted()
            ));
            tx.insert_audit(&a)?;
            Ok(rec)
        })
    }

    /// Every signing key.
    ///
    /// # Errors
    /// Storage errors.
    pub fn keys(&mut self) -> Result<Vec<KeyRecord>> {
        self.run(|_, tx| {
            load_settings(tx)?;
            tx.keys()
        })
    }

    /// Applies the rotation policy at `now` (idempotent); returns the steps taken.
    ///
    /// # Errors
    /// No passphrase when a key must be generated, storage errors.
    pub fn rotate(&mut self, now: u64) -> Result<Vec<StepTaken>> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            ctx.rotate(tx, &s, now)
        })
    }

    /// Applies the rotation policy at `now` to the key ring of `alg` only
    /// (the primary algorithm's ring, or one added with
    /// [`Issuer::add_algorithm`]); the other rings wait for their own turn.
    ///
    /// # Errors
    /// No ring signs with `alg`, no passphrase when a key must be
    /// generated, storage errors.
    pub fn rotate_alg(&mut self, alg: Algorithm, now: u64) -> Result<Vec<StepTaken>> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            s.require_ring(alg)?;
            ctx.rotate_ring(tx, &s, s.ring_of(alg), now)
        })
    }

    /// Emergency revocation of a signing key: out of the JWKS now, its kid on
    /// the revocation list; if it was the active key, a pending key (or a new
    /// one) becomes active at once. Returns the rotation steps this caused.
    ///
    /// # Errors
    /// Unknown kid, storage errors, no passphrase when a key must be generated.
    pub fn revoke_key(
        &mut self,
        kid: &str,
        reason: Option<&str>,
        now: u64,
    ) -> Result<Vec<StepTaken>> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let mut keys = tx.keys()?;
            let k = keys
                .iter_mut()
                .find(|k| k.kid == kid)
                .ok_or_else(|| not_found("signing key", kid))?;
            if !k.life.revoke(now, reason) {
                let mut a = unchanged(now, AuditAction::KeyRevoke, "already revoked");
                a.kid = Some(kid.into());
                tx.insert_audit(&a)?;
                return Ok(Vec::new());
            }
            tx.update_key(k)?;
            ctx.signers.remove(kid);
            tx.insert_revocation(&RevocationEntry {
                kind: RevocationKind::Kid,
                value: kid.into(),
                at: now,
                expires_at: now
                    .saturating_add(s.max_token_ttl)
                    .saturating_add(s.jwks_max_age),
                created_at: now,
            })?;
            let epoch = bump_epoch(tx, now)?;
            let mut a = row(now, AuditAction::KeyRevoke, OPERATOR);
            a.kid = Some(kid.into());
            a.detail = Some(format!(
                "epoch={epoch}{}",
                reason.map(|r| format!(" reason={r}")).unwrap_or_default()
            ));
            tx.insert_audit(&a)?;
            ctx.rotate(tx, &s, now)
        })
    }

    /// Compares the store with the PKCS#11 token (`jwt-edge keys check`):
    /// `missing_object` for a key whose private key is not in the token,
    /// `orphan_object` for a private key in the token no key of the store
    /// refers to (e.g. generated by a rotation whose transaction failed).
    /// Empty for stores that keep their keys themselves.
    ///
    /// # Errors
    /// The token cannot be opened, storage errors.
    pub fn check_keys(&mut self) -> Result<Vec<CustodyFinding>> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let keys = tx.keys()?;
            if s.pkcs11.is_none() {
                return Ok(Vec::new());
            }
            let objects = ctx.hsm(&s)?.private_key_ids()?;
            let mut out = Vec::new();
            let mut known = Vec::new();
            for k in &keys {
                let Some(hex) = k.custody.token_id() else {
                    continue;
                };
                let id = hsm::id_from_hex(hex)?;
                if !objects.contains(&id) {
                    out.push(CustodyFinding::MissingObject {
                        kid: k.kid.clone(),
                        message: format!("signing key {} ({}) has no private key object (CKA_ID {hex}) in the token", k.kid, k.state().as_str()),
                    });
                }
                known.push(id);
            }
            for id in objects.iter().filter(|id| !known.contains(id)) {
                let hex = hsm::id_hex(id);
                out.push(CustodyFinding::OrphanObject {
                    message: format!("private key object CKA_ID {hex} belongs to no signing key of this store (destroy it, or restore the store that has it)"),
                    id: hex,
                });
            }
            Ok(out)
        })
    }

    /// The encrypted PKCS#8 PEM of a key (for `openssl pkey`); an unencrypted
    /// PEM only for `--insecure-dev-keys` stores.
    ///
    /// # Errors
    /// Unknown kid, destroyed key, storage errors.
    pub fn export_key(&mut self, kid: &str, now: u64) -> Result<Zeroizing<String>> {
        self.run(|ctx, tx| {
            load_settings(tx)?;
            let k = tx
                .keys()?
                .into_iter()
                .find(|k| k.kid == kid)
                .ok_or_else(|| not_found("signing key", kid))?;
            let pem = match &k.custody {
                Custody::Token(_) => {
                return Err(Error::usage(format!(
                    "signing key {kid} is kept in a PKCS#11 token and cannot be exported (CKA_EXTRACTABLE is false)"
                )));
                }
                Custody::Destroyed { .. } => {
                    return Err(Error::crypto(format!(
                        "the private key of {kid} has been destroyed"
                    )))
                }
                Custody::Encrypted(stored) => Zeroizing::new(keys::encrypted_pem(stored)?),
                Custody::Plain(stored) => {
                if !ctx.secrets.insecure_dev_keys {
                    return Err(Error::secret_needed(
                        Secret::InsecureDevKeys,
                        format!("signing key {kid} is stored unencrypted, and unencrypted development keys were not allowed"),
                    ));
                }
                ctx.warn_unencrypted(kid);
                keys::plain_pem(stored)?
                }
            };
            let mut a = row(now, AuditAction::KeyExport, OPERATOR);
            a.kid = Some(kid.into());
            a.detail = Some(format!("encrypted={}", k.custody.encrypted()));
            tx.insert_audit(&a)?;
            Ok(pem)
        })
    }

    /// The public JWKS: pending, active and retiring keys.
    ///
    /// # Errors
    /// Storage errors.
    pub fn jwks(&mut self) -> Result<Jwks> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let mut keys = Vec::new();
            for k in tx.keys()? {
                if k.state().is_published() {
                    let jwk: Map<String, Value> = serde_json::from_str(&k.public_jwk)
                        .map_err(|e| Error::storage(format!("stored JWK is invalid: {e}")))?;
                    keys.push((k.kid, jwk));
                }
            }
            Ok(Jwks { keys })
        })
    }
}
