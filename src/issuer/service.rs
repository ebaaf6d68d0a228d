//! The issuer's operations. Each public method is one store transaction; every
//! change it makes is recorded by an audit row written in that same
//! transaction, so nothing reported to the caller lacks its audit row.
//! Refused issuances are committed too (their audit row is the change).

use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;

use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use crate::{b64url_encode, Algorithm};

use super::duration;
use super::grant::{self, Denied, Grant};
use super::hsm::{self, Hsm};
use super::keys::{self, SigningKey};
use super::lifecycle::{self, KeyState, Step};
use super::provisioning::{self, Presented};
use super::settings::Settings;
use super::store::{
    AuditRecord, KeyRecord, PreviousSecret, ProvisioningRecord, Pruned, RevocationEntry,
    RevocationKind, StatusListRecord, Store, TokenRecord, Tx,
};
use super::{ClientFailure, Error, ErrorKind, Refusal, Result};

/// The `typ` of issued access tokens (RFC 9068).
pub const TOKEN_TYP: &str = "at+jwt";
/// Indexes per Token Status List (one bit each: 128 KiB inflated, a few
/// hundred bytes compressed while few are revoked).
pub const STATUS_LIST_CAPACITY: u64 = 1 << 20;

/// How long a copy of a published status list may be used (`ttl`, seconds).
pub const STATUS_LIST_TTL: u64 = 60;
/// A status list expires this long after it was signed (edges fail closed
/// on an expired copy; a day outlives any refresh outage worth riding out).
pub const STATUS_LIST_LIFETIME: u64 = 86_400;

const STATUS_INVALID: u8 = 1;

/// The URI of status list `list`: `<issuer>/statuslists/<list>`.
pub fn status_list_uri(s: &Settings, list: u64) -> String {
    format!("{}/statuslists/{list}", s.issuer.trim_end_matches('/'))
}

/// Claims set by the issuer that `--claim` may not override.
pub const RESERVED_CLAIMS: [&str; 10] = [
    "iss",
    "sub",
    "aud",
    "iat",
    "nbf",
    "exp",
    "jti",
    "scope",
    "client_id",
    "status",
];
/// The actor recorded for administrative commands.
pub const OPERATOR: &str = "operator";
const EPOCH_SETTING: &str = "revocation_epoch";

/// How private keys are protected: a passphrase (PBES2), or explicitly none.
pub struct Secrets {
    passphrase: Option<Zeroizing<String>>,
    insecure_dev_keys: bool,
    pkcs11_pin: Option<Zeroizing<String>>,
}

impl core::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Secrets")
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure_dev_keys", &self.insecure_dev_keys)
            .field(
                "pkcs11_pin",
                &self.pkcs11_pin.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Secrets {
    /// With a passphrase (or `None`), and whether unencrypted dev keys are allowed.
    pub fn new(passphrase: Option<Zeroizing<String>>, insecure_dev_keys: bool) -> Self {
        Self {
            passphrase,
            insecure_dev_keys,
            pkcs11_pin: None,
        }
    }

    /// With the user PIN of the PKCS#11 token (`init --key-store pkcs11`).
    #[must_use]
    pub fn with_pkcs11_pin(mut self, pin: Option<Zeroizing<String>>) -> Self {
        self.pkcs11_pin = pin;
        self
    }
}

/// An issuance request.
#[derive(Default)]
pub struct IssueRequest {
    /// The presented provisioning key (`jep_<id>_<secret>`).
    pub provisioning_key: Zeroizing<String>,
    /// Requested scopes (space-separated); default: all the key allows.
    pub scope: Option<String>,
    /// Requested audiences; default: the key's audiences.
    pub audiences: Vec<String>,
    /// Requested lifetime (seconds); default: min(token TTL, the key's max).
    pub ttl: Option<u64>,
    /// Extra string claims.
    pub claims: Vec<(String, String)>,
    /// Where the request came from (the server's anomaly rules; not stored).
    pub source: Option<std::net::IpAddr>,
}

/// An issued token.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The compact JWS.
    pub token: String,
    /// Its claims.
    pub claims: Map<String, Value>,
    /// The signing key.
    pub kid: String,
    /// The Token Status List that holds its status.
    pub status_list: Option<u64>,
    /// The provisioning key (client id) it was issued through.
    pub client_id: String,
    /// Which of the key's secrets was presented.
    pub secret: SecretUsed,
}

/// The issuer over a store.
pub struct Issuer<S: Store> {
    store: S,
    ctx: Ctx,
}

/// Per-process state: secrets, warnings to show, decrypted signers.
struct Ctx {
    secrets: Secrets,
    warnings: Vec<String>,
    signers: BTreeMap<String, SigningKey>,
    /// The PKCS#11 token, opened on first use.
    hsm: Option<Hsm>,
}

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

fn row(now: u64, action: &str, actor: &str) -> AuditRecord {
    AuditRecord {
        at: now,
        action: action.into(),
        actor: actor.into(),
        outcome: "ok".into(),
        ..AuditRecord::default()
    }
}

/// The audit row of an operator request that changed nothing (the target was
/// already revoked or expired): still an event, so still audited.
fn unchanged(now: u64, action: &str, detail: &str) -> AuditRecord {
    let mut a = row(now, action, OPERATOR);
    a.outcome = "unchanged".into();
    a.detail = Some(detail.into());
    a
}

/// The audit row of a refused client request: the actor is `pk:<id>` (or
/// `unknown` when no id could be read), the reason in `detail`.
fn refusal_row(now: u64, action: &str, id: Option<&str>, why: &str) -> AuditRecord {
    let mut a = row(
        now,
        action,
        &id.map_or_else(|| "unknown".into(), |i| format!("pk:{i}")),
    );
    a.outcome = "refused".into();
    a.provisioning_key_id = id.map(String::from);
    a.detail = Some(why.into());
    a
}

/// The active signing key.
fn active_key(tx: &mut Tx<'_>) -> Result<KeyRecord> {
    tx.keys()?
        .into_iter()
        .find(|k| k.state == KeyState::Active)
        .ok_or_else(|| {
            Error::crypto("the issuer has no active signing key; run `jwt-edge keys rotate`")
        })
}

/// `payload` as a compact JWS of type `typ`, signed by the active key.
fn sign_with_active(ctx: &mut Ctx, tx: &mut Tx<'_>, typ: &str, payload: &Value) -> Result<String> {
    let active = active_key(tx)?;
    let s = load_settings(tx)?;
    let mut signer = ctx.signer(&active, &s)?;
    compact_jws(&mut signer, &active.kid, typ, payload)
}

/// Revokes one issued token: its `jti` on the revocation document (until
/// it expires), its status-list bit set, the epoch bumped. Returns the epoch.
fn revoke_record(tx: &mut Tx<'_>, t: &TokenRecord, now: u64) -> Result<u64> {
    tx.insert_revocation(&RevocationEntry {
        kind: RevocationKind::Jti,
        value: t.jti.clone(),
        at: t.exp,
        expires_at: t.exp,
        created_at: now,
    })?;
    if let Some(slot) = t.status {
        tx.set_status(slot, STATUS_INVALID)?;
    }
    bump_epoch(tx, now)
}

fn load_settings(tx: &mut Tx<'_>) -> Result<Settings> {
    let rows = tx.settings()?;
    if rows.is_empty() {
        return Err(Error::new(
            ErrorKind::NotInitialized,
            "the issuer database has no settings; run `jwt-edge init` first",
        ));
    }
    Settings::from_rows(&rows)
}

fn epoch(tx: &mut Tx<'_>) -> Result<u64> {
    Ok(tx
        .settings()?
        .get(EPOCH_SETTING)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The next revocation-list epoch: one more than the stored one, and at
/// least `now` in milliseconds. Epochs so never go backwards, even for a
/// store restored from an older backup: every epoch it published before was
/// at most its clock then (in ms) plus the changes made within the same
/// millisecond, so the restored store's next epoch is higher than all of
/// them unless more than a thousand changes a second ran the counter ahead
/// of the clock. Edges that hold a newer epoch keep accepting its lists.
fn bump_epoch(tx: &mut Tx<'_>, now: u64) -> Result<u64> {
    let next = epoch(tx)?.saturating_add(1).max(now.saturating_mul(1000));
    tx.put_setting(EPOCH_SETTING, &next.to_string())?;
    Ok(next)
}

/// The JSON view of a key (no private material).
pub fn key_json(k: &KeyRecord) -> Value {
    json!({
        "kid": k.kid,
        "alg": k.alg.name(),
        "state": k.state.as_str(),
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retiring_at": k.retiring_at,
        "retired_at": k.retired_at,
        "revoked_at": k.revoked_at,
        "revoke_reason": k.revoke_reason,
        "destroyed_at": k.destroyed_at,
        "encrypted": k.encrypted,
        "has_private_key": k.has_private(),
        "custody": if k.hsm_id.is_some() { "pkcs11" } else { "local" },
        "pkcs11_id": k.hsm_id,
    })
}

/// The JSON view of a provisioning key (no secret, no hash).
pub fn provisioning_json(k: &ProvisioningRecord) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "sub": k.sub,
        "scope": k.scopes.join(" "),
        "audiences": k.audiences,
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "max_token_ttl": k.max_token_ttl,
        "revoked_at": k.revoked_at,
        "use_count": k.use_count,
        "last_used_at": k.last_used_at,
        "permissions": k.permissions,
        "secret_set_at": k.secret_set_at,
        "previous_secret_until": k.previous.map(|p| p.until),
    })
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
    fn require_private_keys(&self) -> Result<()> {
        if self.secrets.passphrase.is_none() && !self.secrets.insecure_dev_keys {
            return Err(Error::new(
                ErrorKind::Passphrase,
                "this command needs the private signing keys: set JWT_EDGE_PASSPHRASE or pass \
                 --passphrase-file FILE (or --insecure-dev-keys for unencrypted development keys)",
            ));
        }
        Ok(())
    }

    fn warn_unencrypted(&mut self, kid: &str) {
        self.warnings.push(format!(
            "WARNING: signing key {kid} is stored UNENCRYPTED (--insecure-dev-keys); never use this outside development"
        ));
    }

    /// The PKCS#11 token of `s`, opened (and logged in) on first use.
    fn hsm(&mut self, s: &Settings) -> Result<&mut Hsm> {
        let Some(config) = &s.pkcs11 else {
            return Err(Error::usage(
                "this issuer keeps its keys in the store, not in a PKCS#11 token",
            ));
        };
        if self.hsm.is_none() {
            let pin = self.secrets.pkcs11_pin.clone().ok_or_else(|| {
                Error::new(
                    ErrorKind::Passphrase,
                    "the signing keys are in a PKCS#11 token: pass --pkcs11-pin-file FILE or set JWT_EDGE_PKCS11_PIN",
                )
            })?;
            self.hsm = Some(Hsm::open(config, pin)?);
        }
        self.hsm
            .as_mut()
            .ok_or_else(|| Error::crypto("PKCS#11: not open"))
    }

    fn new_key(&mut self, alg: Algorithm, s: &Settings, now: u64) -> Result<KeyRecord> {
        keys::check_supported(alg)?;
        if s.pkcs11.is_some() {
            let (jwk, id) = self.hsm(s)?.generate(alg)?;
            let kid = jwk
                .get("kid")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let mut record = KeyRecord::pending(kid, alg, Value::Object(jwk).to_string(), now);
            record.hsm_id = Some(hsm::id_hex(&id));
            return Ok(record);
        }
        self.require_private_keys()?;
        let key = SigningKey::generate(alg)?;
        let kid = key.thumbprint();
        let der = key.to_pkcs8_der()?;
        let (private, encrypted) = match &self.secrets.passphrase {
            Some(p) => (
                Zeroizing::new(keys::encrypt_pkcs8(&der, p.as_bytes(), s.kdf_iterations)?),
                true,
            ),
            None => {
                self.warn_unencrypted(&kid);
                (der, false)
            }
        };
        let mut record = KeyRecord::pending(
            kid.clone(),
            alg,
            Value::Object(key.public_jwk(&kid)).to_string(),
            now,
        );
        record.private_key = Some(private);
        record.encrypted = encrypted;
        self.signers.insert(kid, key);
        Ok(record)
    }

    fn signer(&mut self, k: &KeyRecord, s: &Settings) -> Result<Signer<'_>> {
        if let Some(hex) = &k.hsm_id {
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
            let stored = k.private_key.as_ref().ok_or_else(|| {
                Error::crypto(format!("the private key of {} has been destroyed", k.kid))
            })?;
            let der = if k.encrypted {
                let p = self.secrets.passphrase.as_ref().ok_or_else(|| {
                    Error::new(
                        ErrorKind::Passphrase,
                        format!(
                            "signing key {} is encrypted: set JWT_EDGE_PASSPHRASE or pass --passphrase-file FILE",
                            k.kid
                        ),
                    )
                })?;
                keys::decrypt_pkcs8(stored, p.as_bytes())?
            } else {
                if !self.secrets.insecure_dev_keys {
                    return Err(Error::new(
                        ErrorKind::Passphrase,
                        format!(
                            "signing key {} is stored unencrypted; pass --insecure-dev-keys to use it",
                            k.kid
                        ),
                    ));
                }
                stored.clone()
            };
            let key = SigningKey::from_pkcs8_der(k.alg, &der)?;
            self.signers.insert(k.kid.clone(), key);
        }
        if !k.encrypted {
            self.warn_unencrypted(&k.kid);
        }
        self.signers
            .get(&k.kid)
            .map(Signer::Local)
            .ok_or_else(|| Error::crypto("signer cache inconsistency"))
    }

    /// Applies the rotation plan at `now`; returns the steps taken as JSON.
    fn rotate(&mut self, tx: &mut Tx<'_>, s: &Settings, now: u64) -> Result<Vec<Value>> {
        let mut keys = tx.keys()?;
        let steps = lifecycle::plan(&keys, s, now);
        let mut done = Vec::new();
        for step in steps {
            let (action, kid, detail) = match step {
                Step::Generate { activate } => {
                    let mut rec = self.new_key(s.alg, s, now)?;
                    let kid = rec.kid.clone();
                    tx.insert_key(&rec)?;
                    let mut a = row(now, "key.generate", OPERATOR);
                    a.kid = Some(kid.clone());
                    a.detail = Some(format!("alg={} encrypted={}", rec.alg, rec.encrypted));
                    tx.insert_audit(&a)?;
                    done.push(json!({"step": "generate", "kid": kid}));
                    if activate {
                        rec.state = KeyState::Active;
                        rec.activated_at = Some(now);
                        tx.update_key(&rec)?;
                    }
                    keys.push(rec);
                    if !activate {
                        continue;
                    }
                    (
                        "key.activate",
                        kid,
                        Some("no active key: activated without pre-publication".into()),
                    )
                }
                Step::Activate { kid, early } => {
                    update(tx, &mut keys, &kid, |k| {
                        k.state = KeyState::Active;
                        k.activated_at = Some(now);
                    })?;
                    let detail = early.then(|| {
                        "no active key: activated before its pre-publish period ended".to_string()
                    });
                    ("key.activate", kid, detail)
                }
                Step::StartRetiring { kid } => {
                    update(tx, &mut keys, &kid, |k| {
                        k.state = KeyState::Retiring;
                        k.retiring_at = Some(now);
                    })?;
                    ("key.retiring", kid, None)
                }
                Step::Retire { kid } => {
                    update(tx, &mut keys, &kid, |k| {
                        k.state = KeyState::Retired;
                        k.retired_at = Some(now);
                    })?;
                    ("key.retire", kid, None)
                }
                Step::Destroy { kid } => {
                    let in_token = keys
                        .iter()
                        .find(|k| k.kid == kid)
                        .and_then(|k| k.hsm_id.clone());
                    if let Some(hex) = in_token {
                        // C_DestroyObject first: if the store then fails,
                        // `keys check` reports the key's missing object.
                        self.hsm(s)?.destroy(&hsm::id_from_hex(&hex)?)?;
                    }
                    update(tx, &mut keys, &kid, |k| {
                        k.state = KeyState::Destroyed;
                        k.destroyed_at = Some(now);
                        k.private_key = None;
                        k.hsm_id = None;
                    })?;
                    self.signers.remove(&kid);
                    ("key.destroy", kid, None)
                }
            };
            let mut a = row(now, action, OPERATOR);
            a.kid = Some(kid.clone());
            a.detail = detail;
            tx.insert_audit(&a)?;
            let step_name = action.trim_start_matches("key.");
            done.push(json!({"step": step_name, "kid": kid}));
        }
        Ok(done)
    }
}

fn update(
    tx: &mut Tx<'_>,
    keys: &mut [KeyRecord],
    kid: &str,
    f: impl FnOnce(&mut KeyRecord),
) -> Result<()> {
    let k = keys
        .iter_mut()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Error::storage(format!("signing key {kid} vanished")))?;
    f(k);
    tx.update_key(k)
}

/// Every request of a batch, in one transaction (each its own answer).
fn issue_all(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    reqs: &[IssueRequest],
    now: u64,
) -> Result<Vec<Result<Issued>>> {
    let s = load_settings(tx)?;
    reqs.iter()
        .map(|req| issue_in(ctx, tx, &s, req, now))
        .collect()
}

fn not_found(what: &str, id: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("no {what} {id:?}"))
}

impl<S: Store> Issuer<S> {
    /// An issuer over `store`.
    pub fn new(store: S, secrets: Secrets) -> Self {
        Self {
            store,
            ctx: Ctx {
                secrets,
                warnings: Vec::new(),
                signers: BTreeMap::new(),
                hsm: None,
            },
        }
    }

    /// Warnings gathered so far (e.g. unencrypted keys in use); drains them.
    pub fn take_warnings(&mut self) -> Vec<String> {
        core::mem::take(&mut self.ctx.warnings)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, mutably (leadership: [`Store::lead`]).
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    fn run<T>(&mut self, f: impl FnOnce(&mut Ctx, &mut Tx<'_>) -> Result<T>) -> Result<T> {
        let ctx = &mut self.ctx;
        self.store.transaction(|tx| f(ctx, tx))
    }

    /// The stored settings.
    ///
    /// # Errors
    /// Not initialised, or storage errors.
    pub fn settings(&mut self) -> Result<Settings> {
        self.run(|_, tx| load_settings(tx))
    }

    /// Stores the policy and creates the first (active) signing key.
    ///
    /// # Errors
    /// Invalid settings, already initialised, no passphrase.
    pub fn init(&mut self, settings: &Settings, now: u64) -> Result<Vec<Value>> {
        settings.validate()?;
        if settings.pkcs11.is_none() {
            self.ctx.require_private_keys()?;
        }
        self.run(|ctx, tx| {
            if !tx.settings()?.is_empty() {
                return Err(Error::new(
                    ErrorKind::AlreadyInitialized,
                    "this database is already initialised",
                ));
            }
            for (k, v) in settings.to_rows() {
                tx.put_setting(k, &v)?;
            }
            tx.put_setting(EPOCH_SETTING, "0")?;
            let mut a = row(now, "init", OPERATOR);
            a.detail = Some(format!(
                "issuer={} alg={} token_ttl={} max_token_ttl={} rotate_every={} pre_publish={} grace={} retain={}",
                settings.issuer,
                settings.alg,
                duration::format(settings.token_ttl),
                duration::format(settings.max_token_ttl),
                duration::format(settings.rotate_every),
                duration::format(settings.pre_publish),
                duration::format(settings.grace),
                duration::format(settings.retain)
            ));
            tx.insert_audit(&a)?;
            ctx.rotate(tx, settings, now)
        })
    }

    /// Generates a pending key (`alg` defaults to the configured one).
    ///
    /// # Errors
    /// Not implemented algorithm, no passphrase, storage errors.
    pub fn generate_key(&mut self, alg: Option<Algorithm>, now: u64) -> Result<KeyRecord> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let rec = ctx.new_key(alg.unwrap_or(s.alg), &s, now)?;
            tx.insert_key(&rec)?;
            let mut a = row(now, "key.generate", OPERATOR);
            a.kid = Some(rec.kid.clone());
            a.detail = Some(format!("alg={} encrypted={}", rec.alg, rec.encrypted));
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
    pub fn rotate(&mut self, now: u64) -> Result<Vec<Value>> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            ctx.rotate(tx, &s, now)
        })
    }

    /// Emergency revocation of a signing key: out of the JWKS now, its kid on
    /// the revocation list; if it was the active key, a pending key (or a new
    /// one) becomes active at once. Returns the rotation steps this caused.
    ///
    /// # Errors
    /// Unknown kid, storage errors, no passphrase when a key must be generated.
    pub fn revoke_key(&mut self, kid: &str, reason: Option<&str>, now: u64) -> Result<Vec<Value>> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let mut keys = tx.keys()?;
            let k = keys
                .iter_mut()
                .find(|k| k.kid == kid)
                .ok_or_else(|| not_found("signing key", kid))?;
            if k.revoked_at.is_some() {
                let mut a = unchanged(now, "key.revoke", "already revoked");
                a.kid = Some(kid.into());
                tx.insert_audit(&a)?;
                return Ok(Vec::new());
            }
            k.state = if k.has_private() {
                KeyState::Revoked
            } else {
                KeyState::Destroyed
            };
            k.revoked_at = Some(now);
            k.revoke_reason = reason.map(String::from);
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
            let mut a = row(now, "key.revoke", OPERATOR);
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
    pub fn check_keys(&mut self) -> Result<Vec<Value>> {
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
                let Some(hex) = &k.hsm_id else { continue };
                let id = hsm::id_from_hex(hex)?;
                if !objects.contains(&id) {
                    out.push(json!({
                        "kind": "missing_object",
                        "kid": k.kid,
                        "message": format!("signing key {} ({}) has no private key object (CKA_ID {hex}) in the token", k.kid, k.state.as_str()),
                    }));
                }
                known.push(id);
            }
            for id in objects.iter().filter(|id| !known.contains(id)) {
                let hex = hsm::id_hex(id);
                out.push(json!({
                    "kind": "orphan_object",
                    "id": hex,
                    "message": format!("private key object CKA_ID {hex} belongs to no signing key of this store (destroy it, or restore the store that has it)"),
                }));
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
            if k.hsm_id.is_some() {
                return Err(Error::usage(format!(
                    "signing key {kid} is kept in a PKCS#11 token and cannot be exported (CKA_EXTRACTABLE is false)"
                )));
            }
            let stored = k.private_key.as_ref().ok_or_else(|| {
                Error::crypto(format!("the private key of {kid} has been destroyed"))
            })?;
            let pem = if k.encrypted {
                Zeroizing::new(keys::encrypted_pem(stored)?)
            } else {
                if !ctx.secrets.insecure_dev_keys {
                    return Err(Error::new(
                        ErrorKind::Passphrase,
                        format!("signing key {kid} is stored unencrypted; pass --insecure-dev-keys to export it"),
                    ));
                }
                ctx.warn_unencrypted(kid);
                keys::plain_pem(stored)?
            };
            let mut a = row(now, "key.export", OPERATOR);
            a.kid = Some(kid.into());
            a.detail = Some(format!("encrypted={}", k.encrypted));
            tx.insert_audit(&a)?;
            Ok(pem)
        })
    }

    /// The public JWKS: pending, active and retiring keys.
    ///
    /// # Errors
    /// Storage errors.
    pub fn jwks(&mut self) -> Result<Value> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let mut keys: Vec<Value> = Vec::new();
            for k in tx.keys()? {
                if k.state.is_published() {
                    keys.push(
                        serde_json::from_str(&k.public_jwk)
                            .map_err(|e| Error::storage(format!("stored JWK is invalid: {e}")))?,
                    );
                }
            }
            Ok(json!({ "keys": keys }))
        })
    }

    /// Creates a provisioning key; returns its record and the full key, to be
    /// shown once.
    ///
    /// # Errors
    /// Invalid request, storage errors.
    #[allow(clippy::too_many_arguments)]
    pub fn create_provisioning_key(
        &mut self,
        name: &str,
        scope: &str,
        ttl: Option<u64>,
        max_token_ttl: Option<u64>,
        sub: Option<&str>,
        audiences: &[String],
        permissions: &[String],
        now: u64,
    ) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
        let scopes = provisioning::parse_scopes(scope)?;
        let permissions = provisioning::parse_permissions(permissions)?;
        if scopes.is_empty() {
            return Err(Error::usage("--scope must name at least one scope"));
        }
        if name.trim().is_empty() {
            return Err(Error::usage("--name must not be empty"));
        }
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let max = max_token_ttl.unwrap_or(s.token_ttl);
            if max == 0 || max > s.max_token_ttl {
                return Err(Error::usage(format!(
                    "--max-token-ttl must be between 1s and the issuer's maximum ({})",
                    duration::format(s.max_token_ttl)
                )));
            }
            let ttl = ttl.unwrap_or(30 * 86_400);
            if ttl == 0 {
                return Err(Error::usage("--ttl must be positive"));
            }
            let new = provisioning::generate();
            let rec = ProvisioningRecord {
                id: new.id.clone(),
                name: name.into(),
                secret_sha256: new.secret_sha256,
                scopes,
                audiences: audiences.to_vec(),
                sub: sub.map_or_else(|| new.id.clone(), String::from),
                created_at: now,
                expires_at: now.saturating_add(ttl),
                max_token_ttl: max,
                revoked_at: None,
                use_count: 0,
                last_used_at: None,
                permissions,
                secret_set_at: None,
                previous: None,
            };
            tx.insert_provisioning_key(&rec)?;
            let mut a = row(now, "provision.create", OPERATOR);
            a.provisioning_key_id = Some(rec.id.clone());
            a.sub = Some(rec.sub.clone());
            a.detail = Some(format!(
                "name={} scope={} expires_at={} max_token_ttl={}{}",
                rec.name,
                rec.scopes.join(" "),
                rec.expires_at,
                duration::format(rec.max_token_ttl),
                if rec.permissions.is_empty() {
                    String::new()
                } else {
                    format!(" permissions={}", rec.permissions.join(" "))
                }
            ));
            tx.insert_audit(&a)?;
            Ok((rec, new.full))
        })
    }

    /// Every provisioning key.
    ///
    /// # Errors
    /// Storage errors.
    pub fn provisioning_keys(&mut self) -> Result<Vec<ProvisioningRecord>> {
        self.run(|_, tx| {
            load_settings(tx)?;
            tx.provisioning_keys()
        })
    }

    /// Revokes a provisioning key and every token issued through it (its
    /// `sub` is revoked for tokens issued up to and including `now`).
    ///
    /// # Errors
    /// Unknown id, storage errors.
    pub fn revoke_provisioning_key(&mut self, id: &str, now: u64) -> Result<ProvisioningRecord> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let mut k = tx
                .provisioning_key(id)?
                .ok_or_else(|| not_found("provisioning key", id))?;
            if k.revoked_at.is_some() {
                let mut a = unchanged(now, "provision.revoke", "already revoked");
                a.provisioning_key_id = Some(k.id.clone());
                a.sub = Some(k.sub.clone());
                tx.insert_audit(&a)?;
                return Ok(k);
            }
            k.revoked_at = Some(now);
            tx.update_provisioning_key(&k)?;
            let before = now.saturating_add(1);
            tx.insert_revocation(&RevocationEntry {
                kind: RevocationKind::Sub,
                value: k.sub.clone(),
                at: before,
                expires_at: before.saturating_add(s.max_token_ttl),
                created_at: now,
            })?;
            let epoch = bump_epoch(tx, now)?;
            let mut a = row(now, "provision.revoke", OPERATOR);
            a.provisioning_key_id = Some(k.id.clone());
            a.sub = Some(k.sub.clone());
            a.detail = Some(format!(
                "tokens of sub issued before {before} revoked; epoch={epoch}"
            ));
            tx.insert_audit(&a)?;
            Ok(k)
        })
    }

    /// Rotates a provisioning key's secret (the operator): a new secret for
    /// the same client (id, scopes, audiences, limits unchanged), valid for
    /// `ttl` (default: as long as the current one was); the current secret
    /// keeps working for `overlap` (never past its own expiry), then is
    /// refused as `rotated_secret`. A secret replaced earlier and still in
    /// its overlap stops at once: at most two secrets work at any time.
    /// Returns the record and the new full key, to be shown once.
    ///
    /// # Errors
    /// Unknown id, a revoked key, storage errors.
    pub fn rotate_provisioning_key(
        &mut self,
        id: &str,
        overlap: u64,
        ttl: Option<u64>,
        now: u64,
    ) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let pk = tx
                .provisioning_key(id)?
                .ok_or_else(|| not_found("provisioning key", id))?;
            if let Some(at) = pk.revoked_at {
                return Err(Error::usage(format!(
                    "provisioning key {id} was revoked at {at}; create a new one"
                )));
            }
            rotate_secret(tx, pk, overlap, ttl, OPERATOR, now)
        })
    }

    /// A client rotates its own secret (`POST /client/rotate`): authenticated
    /// with its CURRENT secret only (a previous secret in its overlap cannot
    /// rotate), `overlap` at most [`MAX_SELF_OVERLAP`]; the new secret lives
    /// as long as the current one was given. Refusals are audited.
    ///
    /// # Errors
    /// `ERR_ISSUER_REFUSED`, storage errors.
    pub fn rotate_own_secret(
        &mut self,
        provisioning_key: &str,
        overlap: u64,
        now: u64,
    ) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let refused = |tx: &mut Tx<'_>, id: Option<&str>, class: Refusal, why: String| {
                tx.insert_audit(&refusal_row(now, "provision.rotate", id, &why))?;
                Ok(Err(Error::refused_for(class, why)))
            };
            let pk = match authenticate(tx, provisioning_key, now)? {
                Ok((pk, SecretUsed::Current)) => pk,
                Ok((pk, SecretUsed::Previous)) => {
                    let why = "only the current secret may rotate a provisioning key".into();
                    return refused(tx, Some(&pk.id), Refusal::Request, why);
                }
                Err(failed) => {
                    let class = Refusal::Client(failed.failure);
                    return refused(tx, failed.id.as_deref(), class, failed.why);
                }
            };
            if overlap > MAX_SELF_OVERLAP {
                let why = format!(
                    "overlap {} exceeds the maximum {}",
                    duration::format(overlap),
                    duration::format(MAX_SELF_OVERLAP)
                );
                return refused(tx, Some(&pk.id), Refusal::Request, why);
            }
            let actor = format!("pk:{}", pk.id);
            rotate_secret(tx, pk, overlap, None, &actor, now).map(Ok)
        })?
    }

    /// Audit rows after the cursor `after` (a row id; 0 for the first), in
    /// order, at most `limit`: `jwt-edge audit export`. Asking for rows after
    /// `after` acknowledges every row up to it as durably stored by the
    /// caller, and only acknowledged rows are ever pruned. Resume with the
    /// last row's id: each row is delivered once per cursor.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_export(&mut self, after: u64, limit: u64) -> Result<Vec<AuditRecord>> {
        self.run(|_, tx| {
            acknowledge_audit(tx, after)?;
            tx.audit_after(after, limit.max(1))
        })
    }

    /// Acknowledges audit rows up to `through` as durably stored by a sink
    /// (`serve --audit-log`), without reading any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn acknowledge_audit(&mut self, through: u64) -> Result<()> {
        self.run(|_, tx| acknowledge_audit(tx, through))
    }

    /// The highest audit row id acknowledged by an export (0: none).
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_exported_through(&mut self) -> Result<u64> {
        self.run(|_, tx| exported_through(tx))
    }

    /// One bounded pruning step, in its own short transaction: up to `limit`
    /// expired token rows that no revocation entry names, up to `limit`
    /// audit rows older than `audit_retention` AND acknowledged by an export
    /// ([`Issuer::audit_export`]), and expired revocation entries. Call it
    /// until it deletes nothing. A step that deletes rows writes its
    /// `store.prune` audit row in the same transaction (expired revocation
    /// entries have their own `revocations.prune` row).
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_step(&mut self, now: u64, audit_retention: u64, limit: u64) -> Result<Pruned> {
        self.run(|_, tx| {
            let revocations = prune_expired_revocations(tx, now)?;
            let tokens = tx.prune_tokens(now.saturating_sub(TOKEN_PRUNE_MARGIN), limit)?;
            let through = exported_through(tx)?;
            let audit = tx.prune_audit(now.saturating_sub(audit_retention), through, limit)?;
            if tokens > 0 || audit > 0 {
                let mut a = row(now, "store.prune", OPERATOR);
                a.detail = Some(format!(
                    "tokens={tokens} audit={audit} audit_retention={}",
                    duration::format(audit_retention)
                ));
                tx.insert_audit(&a)?;
            }
            Ok(Pruned {
                tokens,
                audit,
                revocations,
            })
        })
    }

    /// Records anomalies found on issuance (audit action `anomaly`, actor
    /// `pk:<id>`, the rule and its numbers in the detail).
    ///
    /// # Errors
    /// Storage errors.
    pub fn record_anomalies(&mut self, found: &[super::anomaly::Anomaly]) -> Result<()> {
        if found.is_empty() {
            return Ok(());
        }
        self.run(|_, tx| {
            for f in found {
                let mut a = row(f.at, "anomaly", &format!("pk:{}", f.client_id));
                a.provisioning_key_id = Some(f.client_id.clone());
                a.outcome = "flagged".into();
                a.detail = Some(format!("rule={} {}", f.rule.as_str(), f.detail));
                tx.insert_audit(&a)?;
            }
            Ok(())
        })
    }

    /// Issues a token. Refusals (wrong, expired or revoked provisioning key;
    /// scope, audience or lifetime beyond what it allows) are audited and
    /// returned as `ERR_ISSUER_REFUSED`.
    ///
    /// # Errors
    /// Refusals, no passphrase, storage errors.
    pub fn issue(&mut self, req: &IssueRequest, now: u64) -> Result<Issued> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            issue_in(ctx, tx, &s, req, now)
        })?
    }

    /// Issues several tokens in ONE store transaction (a group commit): each
    /// request gets its own answer, as [`Issuer::issue`] would give it, and
    /// every answer exists only once the transaction (with every token's and
    /// refusal's audit row) is committed. A storage or signing failure fails
    /// the whole batch and nothing of it is committed.
    ///
    /// # Errors
    /// No passphrase, no active key, storage errors (for the whole batch).
    pub fn issue_batch(&mut self, reqs: &[IssueRequest], now: u64) -> Result<Vec<Result<Issued>>> {
        self.run(|ctx, tx| issue_all(ctx, tx, reqs, now))
    }

    /// [`Issuer::issue_batch`], unless the store changed since `published`
    /// (a value of [`Store::external_changes`]): checked under the writer
    /// lock before anything is signed; on a change nothing is done and the
    /// answer is `None` (publish, then ask again). So a batch is signed
    /// only under key state the caller has published, and no other
    /// process changes that state before the batch commits.
    ///
    /// # Errors
    /// As [`Issuer::issue_batch`].
    pub fn issue_batch_unless_changed(
        &mut self,
        reqs: &[IssueRequest],
        now: u64,
        published: Option<u64>,
    ) -> Result<Option<Vec<Result<Issued>>>> {
        self.run(|ctx, tx| {
            if Some(tx.change_counter()?) != published {
                return Ok(None);
            }
            issue_all(ctx, tx, reqs, now).map(Some)
        })
    }

    /// Revokes one token by `jti` (it must have been issued here). Returns
    /// false if it had already expired or was already revoked (nothing to do).
    ///
    /// # Errors
    /// Unknown jti, storage errors.
    pub fn revoke_jti(&mut self, jti: &str, now: u64) -> Result<bool> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let t = tx
                .token(jti)?
                .ok_or_else(|| not_found("token with jti", jti))?;
            let listed = tx
                .revocations()?
                .iter()
                .any(|e| e.kind == RevocationKind::Jti && e.value == jti);
            if t.exp <= now || listed {
                let why = if listed {
                    "already revoked"
                } else {
                    "already expired"
                };
                let mut a = unchanged(now, "token.revoke", why);
                a.jti = Some(jti.into());
                a.sub = Some(t.sub);
                tx.insert_audit(&a)?;
                return Ok(false);
            }
            let epoch = revoke_record(tx, &t, now)?;
            let mut a = row(now, "token.revoke", OPERATOR);
            a.jti = Some(jti.into());
            a.sub = Some(t.sub);
            a.kid = Some(t.kid);
            a.provisioning_key_id = Some(t.provisioning_key_id);
            a.detail = Some(format!("epoch={epoch}"));
            tx.insert_audit(&a)?;
            Ok(true)
        })
    }

    /// Revokes one token given in full (its `jti` is read without verifying;
    /// it must name a token issued here).
    ///
    /// # Errors
    /// Undecodable token, no `jti`, unknown jti, storage errors.
    pub fn revoke_token(&mut self, token: &str, now: u64) -> Result<bool> {
        let ins = crate::inspect(token, None)
            .map_err(|e| Error::usage(format!("cannot decode the token: {}", e.message())))?;
        let jti = ins
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::usage("the token has no string \"jti\""))?
            .to_string();
        self.revoke_jti(&jti, now)
    }

    /// Revokes every token of `sub` issued before `before` (default: up to and
    /// including `now`). Returns the cut-off used.
    ///
    /// # Errors
    /// Storage errors.
    pub fn revoke_subject(&mut self, sub: &str, before: Option<u64>, now: u64) -> Result<u64> {
        if sub.is_empty() {
            return Err(Error::usage("the subject must not be empty"));
        }
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let before = before.unwrap_or_else(|| now.saturating_add(1));
            tx.insert_revocation(&RevocationEntry {
                kind: RevocationKind::Sub,
                value: sub.into(),
                at: before,
                expires_at: before.saturating_add(s.max_token_ttl),
                created_at: now,
            })?;
            let epoch = bump_epoch(tx, now)?;
            let mut a = row(now, "subject.revoke", OPERATOR);
            a.sub = Some(sub.into());
            a.detail = Some(format!("before={before} epoch={epoch}"));
            tx.insert_audit(&a)?;
            Ok(before)
        })
    }

    /// The revocation list at `now` in the core's schema (expired entries are
    /// pruned first, which counts as a change and bumps the epoch).
    ///
    /// # Errors
    /// Storage errors.
    pub fn revocation_list(&mut self, now: u64) -> Result<Value> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            revocation_list(tx, &s, now)
        })
    }

    /// The revocation list as a compact JWS (`typ: revocation-list+jwt`)
    /// signed by the active key.
    ///
    /// # Errors
    /// No active key, no passphrase, storage errors.
    pub fn signed_revocation_list(&mut self, now: u64) -> Result<String> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let list = revocation_list(tx, &s, now)?;
            sign_with_active(ctx, tx, crate::revocation::REVOCATION_LIST_TYP, &list)
        })
    }

    /// What will break, and when (`jwt-edge status`): the findings at `now`
    /// (see [`super::health::findings`]) and rows per table.
    ///
    /// # Errors
    /// Storage errors.
    pub fn status(&mut self, now: u64, warn: u64, unused: u64) -> Result<super::health::Report> {
        self.status_with_retention(now, warn, unused, None)
    }

    /// [`Issuer::status`], plus the retention finding (`audit_export_behind`)
    /// of `retention`: the caller's [`Issuer::audit_backlog`] (or
    /// [`Issuer::growth`]) and the audit retention window.
    ///
    /// # Errors
    /// Storage errors.
    pub fn status_with_retention(
        &mut self,
        now: u64,
        warn: u64,
        unused: u64,
        retention: Option<(&super::health::Growth, u64)>,
    ) -> Result<super::health::Report> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let keys = tx.keys()?;
            let provisioning = tx.provisioning_keys()?;
            let revoked: Vec<String> = tx
                .revocations()?
                .into_iter()
                .filter(|e| e.kind == RevocationKind::Kid)
                .map(|e| e.value)
                .collect();
            let mut findings =
                super::health::findings(&s, &keys, &provisioning, &revoked, now, warn, unused);
            if let Some((g, r)) = retention {
                findings.extend(super::health::retention_findings(g, r, now));
            }
            Ok((findings, tx.row_counts()?))
        })
    }

    /// How the store grows (see [`super::health::Growth`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn growth(&mut self, now: u64) -> Result<super::health::Growth> {
        let mut g = self.audit_backlog()?;
        g.actions_24h = self.run(|_, tx| tx.audit_counts_since(now.saturating_sub(86_400)))?;
        Ok(g)
    }

    /// [`Issuer::growth`] without the per-day counts (cheap: a few indexed
    /// lookups), for the server's periodic publication.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_backlog(&mut self) -> Result<super::health::Growth> {
        self.run(|_, tx| {
            let exported = exported_through(tx)?;
            let (bytes_in_use, bytes_free) = tx.size_bytes()?;
            Ok(super::health::Growth {
                actions_24h: Vec::new(),
                exported_through: exported,
                newest_audit: tx.max_audit_id()?,
                oldest_unexported_at: tx.audit_after(exported, 1)?.first().map(|r| r.at),
                bytes_in_use,
                bytes_free,
            })
        })
    }

    /// The Token Status Lists (numbers, capacities, versions).
    ///
    /// # Errors
    /// Storage errors.
    pub fn status_list_records(&mut self) -> Result<Vec<StatusListRecord>> {
        self.run(|_, tx| tx.status_lists())
    }

    /// Status list `list` as a Status List Token (`typ: statuslist+jwt`)
    /// signed by the active key at `now`: `sub` its URI, `iss`, `iat`,
    /// `exp` (`iat` + [`STATUS_LIST_LIFETIME`]), `ttl`
    /// ([`STATUS_LIST_TTL`]), one bit per token (1 = revoked), ZLIB.
    ///
    /// # Errors
    /// Unknown list, no active key, no passphrase, storage errors.
    pub fn status_list_token(&mut self, list: u64, now: u64) -> Result<String> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let rec = tx
                .status_lists()?
                .into_iter()
                .find(|r| r.list == list)
                .ok_or_else(|| not_found("status list", &list.to_string()))?;
            let len = usize::try_from(rec.capacity.div_ceil(8))
                .map_err(|_| Error::storage("status list capacity out of range"))?;
            let mut raw = std::vec![0u8; len];
            for (idx, status) in tx.statuses(list)? {
                let byte = usize::try_from(idx / 8).ok().and_then(|i| raw.get_mut(i));
                if let (Some(b), true) = (byte, status != 0) {
                    *b |= 1 << (idx % 8);
                }
            }
            let lst = b64url_encode(&miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6));
            let payload = json!({
                "sub": status_list_uri(&s, list),
                "iss": s.issuer,
                "iat": now,
                "exp": now.saturating_add(STATUS_LIST_LIFETIME),
                "ttl": STATUS_LIST_TTL,
                "status_list": {"bits": 1, "lst": lst},
            });
            sign_with_active(ctx, tx, crate::status_list::STATUS_LIST_TYP, &payload)
        })
    }

    /// Audit rows with `at >= since`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit(&mut self, since: u64) -> Result<Vec<AuditRecord>> {
        self.run(|_, tx| tx.audit(since))
    }
}

/// One issuance inside a transaction: `Ok(Err(refusal))` for an audited
/// refusal, `Err` for a failure that must abort the transaction.
fn issue_in(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    s: &Settings,
    req: &IssueRequest,
    now: u64,
) -> Result<Result<Issued>> {
    let refuse = |tx: &mut Tx<'_>,
                  pk: Option<&ProvisioningRecord>,
                  id: Option<&str>,
                  class: Refusal,
                  why: String|
     -> Result<Result<Issued>> {
        let mut a = refusal_row(now, "token.issue", id, &why);
        a.sub = pk.map(|p| p.sub.clone());
        tx.insert_audit(&a)?;
        Ok(Err(Error::refused_for(class, why)))
    };
    let (mut pk, used) = match authenticate(tx, &req.provisioning_key, now)? {
        Ok(v) => v,
        Err(failed) => {
            return refuse(
                tx,
                failed.record.as_ref(),
                failed.id.as_deref(),
                Refusal::Client(failed.failure),
                failed.why,
            )
        }
    };
    let id = pk.id.clone();
    let Grant {
        scopes,
        audiences,
        ttl,
    } = match grant::decide(&pk, s, req) {
        Ok(g) => g,
        Err(Denied { class, why }) => return refuse(tx, Some(&pk), Some(&id), class, why),
    };
    let active = active_key(tx)?;
    let mut signer = ctx.signer(&active, s)?;
    let jti = keys::random_b64(16);
    let exp = now.saturating_add(ttl);
    let slot = tx.allocate_status(STATUS_LIST_CAPACITY, now)?;
    let mut claims = Map::new();
    for (name, value) in &req.claims {
        claims.insert(name.clone(), Value::String(value.clone()));
    }
    claims.insert("iss".into(), s.issuer.clone().into());
    claims.insert("sub".into(), pk.sub.clone().into());
    claims.insert(
        "aud".into(),
        match audiences.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::from(many.to_vec()),
        },
    );
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), exp.into());
    claims.insert("jti".into(), jti.clone().into());
    claims.insert("scope".into(), scopes.join(" ").into());
    claims.insert("client_id".into(), pk.id.clone().into());
    claims.insert(
        "status".into(),
        json!({"status_list": {"idx": slot.idx, "uri": status_list_uri(s, slot.list)}}),
    );
    let token = compact_jws(
        &mut signer,
        &active.kid,
        TOKEN_TYP,
        &Value::Object(claims.clone()),
    )?;
    tx.insert_token(&TokenRecord {
        jti: jti.clone(),
        sub: pk.sub.clone(),
        provisioning_key_id: pk.id.clone(),
        kid: active.kid.clone(),
        iat: now,
        exp,
        status: Some(slot),
    })?;
    pk.use_count = pk.use_count.saturating_add(1);
    pk.last_used_at = Some(now);
    tx.update_provisioning_key(&pk)?;
    let mut a = row(now, "token.issue", &format!("pk:{id}"));
    a.kid = Some(active.kid.clone());
    a.jti = Some(jti);
    a.sub = Some(pk.sub.clone());
    a.provisioning_key_id = Some(id);
    a.detail = Some(format!("scope={} exp={exp}", scopes.join(" ")));
    tx.insert_audit(&a)?;
    Ok(Ok(Issued {
        token,
        claims,
        kid: active.kid,
        status_list: Some(slot.list),
        client_id: pk.id,
        secret: used,
    }))
}

/// A failed client authentication: what is known of the client, and why
/// (for the audit row only; the client learns just "authentication failed").
struct AuthFailed {
    id: Option<String>,
    record: Option<ProvisioningRecord>,
    failure: ClientFailure,
    why: String,
}

/// Which of a provisioning key's secrets authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretUsed {
    /// The current secret.
    Current,
    /// The previous secret, within its rotation overlap.
    Previous,
}

impl SecretUsed {
    /// `current` or `previous` (metrics label `key`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Previous => "previous",
        }
    }
}

/// Authenticates a presented provisioning key: the one check shared by
/// issuance, revocation, introspection and self-rotation. The current secret
/// works until the key expires; a previous secret (after a rotation) until
/// its overlap ends, and is refused as `rotated_secret` afterwards.
/// `Ok(Err(_))` is a refusal to be audited by the caller.
fn authenticate(
    tx: &mut Tx<'_>,
    provisioning_key: &str,
    now: u64,
) -> Result<Result<(ProvisioningRecord, SecretUsed), AuthFailed>> {
    let presented = match Presented::parse(provisioning_key) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(AuthFailed {
                id: None,
                record: None,
                failure: ClientFailure::Malformed,
                why: e.message().into(),
            }))
        }
    };
    let id = presented.id.clone();
    let failed = |record: Option<ProvisioningRecord>, failure: ClientFailure, why: String| {
        Ok(Err(AuthFailed {
            id: Some(id.clone()),
            record,
            failure,
            why,
        }))
    };
    let Some(pk) = tx.provisioning_key(&id)? else {
        return failed(
            None,
            ClientFailure::Unknown,
            "unknown provisioning key".into(),
        );
    };
    let used = if presented.matches(&pk.secret_sha256) {
        SecretUsed::Current
    } else if let Some(prev) = pk.previous.filter(|p| presented.matches(&p.secret_sha256)) {
        if now >= prev.until {
            let why = format!(
                "a replaced secret: the provisioning key was rotated at {}, and the old secret's overlap ended at {}",
                pk.secret_set_at.unwrap_or(pk.created_at),
                prev.until
            );
            return failed(Some(pk), ClientFailure::RotatedSecret, why);
        }
        SecretUsed::Previous
    } else {
        return failed(
            Some(pk),
            ClientFailure::WrongSecret,
            "wrong provisioning key secret".into(),
        );
    };
    if let Some(at) = pk.revoked_at {
        return failed(
            Some(pk),
            ClientFailure::Revoked,
            format!("provisioning key was revoked at {at}"),
        );
    }
    if now >= pk.expires_at {
        let why = format!("provisioning key expired at {}", pk.expires_at);
        return failed(Some(pk), ClientFailure::Expired, why);
    }
    Ok(Ok((pk, used)))
}

/// What a client's RFC 7009 revocation request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientRevocation {
    /// The token was the client's and is now revoked.
    Revoked,
    /// Nothing to do: already revoked or expired, unknown, undecodable, or
    /// a token of another client (RFC 7009 §2.2: the answer is the same).
    Unchanged,
}

impl<S: Store> Issuer<S> {
    /// RFC 7009: a client revokes one of its own tokens. The client is
    /// authenticated like an issuance; the token need not verify (its `jti`
    /// is looked up among the tokens issued here, and must belong to this
    /// client). Every outcome is audited.
    ///
    /// # Errors
    /// `ERR_ISSUER_REFUSED` (client authentication failed), storage errors.
    pub fn revoke_by_client(
        &mut self,
        provisioning_key: &str,
        token: &str,
        now: u64,
    ) -> Result<ClientRevocation> {
        let jti = crate::inspect(token, None).ok().and_then(|t| {
            t.claims
                .get("jti")
                .and_then(Value::as_str)
                .map(String::from)
        });
        self.run(|_, tx| {
            load_settings(tx)?;
            let pk = match authenticate(tx, provisioning_key, now)? {
                Ok((pk, _)) => pk,
                Err(failed) => {
                    let a = refusal_row(now, "token.revoke", failed.id.as_deref(), &failed.why);
                    tx.insert_audit(&a)?;
                    // Committed with its audit row, then refused.
                    let class = Refusal::Client(failed.failure);
                    return Ok(Err(Error::refused_for(class, failed.why)));
                }
            };
            let actor = format!("pk:{}", pk.id);
            let record = match &jti {
                Some(j) => tx.token(j)?,
                None => None,
            };
            let unchanged = |tx: &mut Tx<'_>, why: &str| -> Result<Result<ClientRevocation>> {
                let mut a = row(now, "token.revoke", &actor);
                a.outcome = "unchanged".into();
                a.provisioning_key_id = Some(pk.id.clone());
                a.jti.clone_from(&jti);
                a.detail = Some(why.into());
                tx.insert_audit(&a)?;
                Ok(Ok(ClientRevocation::Unchanged))
            };
            let Some(t) = record else {
                return unchanged(tx, "not a token issued here");
            };
            if t.provisioning_key_id != pk.id {
                return unchanged(tx, "a token of another client: not revoked");
            }
            let listed = tx
                .revocations()?
                .iter()
                .any(|e| e.kind == RevocationKind::Jti && e.value == t.jti);
            if listed {
                return unchanged(tx, "already revoked");
            }
            if t.exp <= now {
                return unchanged(tx, "already expired");
            }
            let epoch = revoke_record(tx, &t, now)?;
            let mut a = row(now, "token.revoke", &actor);
            a.jti = Some(t.jti);
            a.sub = Some(t.sub);
            a.kid = Some(t.kid);
            a.provisioning_key_id = Some(pk.id);
            a.detail = Some(format!("by the client (RFC 7009); epoch={epoch}"));
            tx.insert_audit(&a)?;
            Ok(Ok(ClientRevocation::Revoked))
        })?
    }

    /// Authenticates a client that asks for `permission` (e.g. `introspect`)
    /// and counts the use. A failed authentication is audited; a missing
    /// permission is refused with [`Refusal::Permission`] and audited.
    ///
    /// # Errors
    /// `ERR_ISSUER_REFUSED`, storage errors.
    pub fn authorize(
        &mut self,
        provisioning_key: &str,
        permission: &str,
        now: u64,
    ) -> Result<ProvisioningRecord> {
        let action = format!("{permission}.authorize");
        self.run(|_, tx| {
            load_settings(tx)?;
            let refused = |tx: &mut Tx<'_>, id: Option<String>, class: Refusal, why: String| {
                tx.insert_audit(&refusal_row(now, &action, id.as_deref(), &why))?;
                // Committed with its audit row, then refused.
                Ok(Err(Error::refused_for(class, why)))
            };
            let mut pk = match authenticate(tx, provisioning_key, now)? {
                Ok((pk, _)) => pk,
                Err(failed) => {
                    let class = Refusal::Client(failed.failure);
                    return refused(tx, failed.id, class, failed.why);
                }
            };
            if !pk.permissions.iter().any(|p| p == permission) {
                let why = format!("this provisioning key lacks the {permission:?} permission");
                return refused(tx, Some(pk.id), Refusal::Permission, why);
            }
            pk.use_count = pk.use_count.saturating_add(1);
            pk.last_used_at = Some(now);
            tx.update_provisioning_key(&pk)?;
            Ok(Ok(pk))
        })?
    }
}

/// Tokens stay this long past their `exp` (validators' clock-skew leeway)
/// before their rows may be pruned.
pub const TOKEN_PRUNE_MARGIN: u64 = 3_600;

/// The longest overlap a client may ask for when it rotates its own secret.
pub const MAX_SELF_OVERLAP: u64 = 7 * 86_400;

/// The settings row holding the highest acknowledged audit row id.
const AUDIT_EXPORTED_THROUGH: &str = "audit_exported_through";

fn exported_through(tx: &mut Tx<'_>) -> Result<u64> {
    Ok(tx
        .settings()?
        .get(AUDIT_EXPORTED_THROUGH)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Acknowledges audit rows up to `through` (never beyond the newest row,
/// never backwards).
fn acknowledge_audit(tx: &mut Tx<'_>, through: u64) -> Result<()> {
    let stored = exported_through(tx)?;
    if through <= stored {
        return Ok(());
    }
    let ack = through.min(tx.max_audit_id()?);
    if ack > stored {
        tx.put_setting(AUDIT_EXPORTED_THROUGH, &ack.to_string())?;
    }
    Ok(())
}

/// Rotates `pk`'s secret (see [`Issuer::rotate_provisioning_key`]).
fn rotate_secret(
    tx: &mut Tx<'_>,
    mut pk: ProvisioningRecord,
    overlap: u64,
    ttl: Option<u64>,
    actor: &str,
    now: u64,
) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
    let lifetime = pk
        .expires_at
        .saturating_sub(pk.secret_set_at.unwrap_or(pk.created_at));
    let ttl = ttl.unwrap_or(lifetime);
    if ttl == 0 {
        return Err(Error::usage("--ttl must be positive"));
    }
    let until = now.saturating_add(overlap).min(pk.expires_at);
    let new = provisioning::successor(&pk.id);
    pk.previous = (until > now).then_some(PreviousSecret {
        secret_sha256: pk.secret_sha256,
        until,
    });
    pk.secret_sha256 = new.secret_sha256;
    pk.secret_set_at = Some(now);
    pk.expires_at = now.saturating_add(ttl);
    tx.update_provisioning_key(&pk)?;
    let mut a = row(now, "provision.rotate", actor);
    a.provisioning_key_id = Some(pk.id.clone());
    a.sub = Some(pk.sub.clone());
    a.detail = Some(format!(
        "new secret expires_at={}; previous secret {}",
        pk.expires_at,
        pk.previous.map_or_else(
            || "refused from now on".into(),
            |p| format!("accepted until {}", p.until)
        )
    ));
    tx.insert_audit(&a)?;
    Ok((pk, new.full))
}

/// Drops revocation entries past their `expires_at` (bumping the epoch and
/// auditing it when any left).
fn prune_expired_revocations(tx: &mut Tx<'_>, now: u64) -> Result<u64> {
    let pruned = tx.prune_revocations(now)?;
    if pruned > 0 {
        let epoch = bump_epoch(tx, now)?;
        let mut a = row(now, "revocations.prune", OPERATOR);
        a.detail = Some(format!("{pruned} expired entries removed; epoch={epoch}"));
        tx.insert_audit(&a)?;
    }
    Ok(pruned)
}

fn revocation_list(tx: &mut Tx<'_>, s: &Settings, now: u64) -> Result<Value> {
    prune_expired_revocations(tx, now)?;
    let epoch = epoch(tx)?;
    let mut jti = Vec::new();
    let mut sub = Vec::new();
    let mut kid = Vec::new();
    for e in tx.revocations()? {
        match e.kind {
            RevocationKind::Jti => jti.push(json!({"jti": e.value, "exp": e.at})),
            RevocationKind::Sub => sub.push(json!({"sub": e.value, "before": e.at})),
            RevocationKind::Kid => {
                if !kid.contains(&Value::String(e.value.clone())) {
                    kid.push(Value::String(e.value));
                }
            }
        }
    }
    // Sorted by value: a validator installs a sorted list without sorting it.
    jti.sort_by(|a, b| a["jti"].as_str().cmp(&b["jti"].as_str()));
    sub.sort_by(|a, b| a["sub"].as_str().cmp(&b["sub"].as_str()));
    kid.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    Ok(json!({
        "iss": s.issuer,
        "epoch": epoch,
        "generated_at": now,
        // Under one private claim: registered names (`jti`, `sub`) keep
        // their registered types, so standard JWT libraries decode the list.
        "revoked": {"jti": jti, "sub": sub, "kid": kid},
    }))
}
