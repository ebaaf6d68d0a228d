//! The issuer's operations. Each public method is one store transaction; every
//! change it makes is recorded by an audit row written in that same
//! transaction, so nothing reported to the caller lacks its audit row.
//! Refused issuances are committed too (their audit row is the change).

mod assertion;
mod audit;
mod clients;
mod issue;
mod report;
mod revoke;
mod signing;
mod signing_keys;

use super::custody::hsm::{self, Hsm};
use super::custody::local::{self as keys, SigningKey};
use super::duration;
use super::rules::grant::{self, Denied, Grant};
use super::rules::lifecycle::{self, KeyState, Step};
use super::rules::provisioning::{self, Permission, Presented};
use super::settings::Settings;
use super::store::{
    AuditAction, AuditRecord, ClientKeys, Custody, KeyRecord, Outcome, PreviousSecret,
    ProvisioningRecord, Pruned, RevocationEntry, RevocationKind, StatusListRecord, Store,
    TokenRecord, Tx,
};
use super::{ClientFailure, Error, ErrorKind, Refusal, Result, Secret};
use crate::{b64url_encode, Algorithm};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::format;
use std::string::{String, ToString};
use std::vec::Vec;
use zeroize::Zeroizing;

#[allow(clippy::wildcard_imports)]
use self::{audit::*, clients::*, revoke::*, signing::*};

pub use self::assertion::{
    assertion_policy, check_client_keys, AssertionRules, ClientAssertion, Credential, Fetched,
    ASSERTION_TYPES, DEFAULT_MAX_ASSERTION_LIFETIME, JWT_BEARER_ASSERTION,
};
pub use self::audit::TOKEN_PRUNE_MARGIN;
pub use self::clients::{provisioning_json, SecretUsed, MAX_SELF_OVERLAP};
pub use self::revoke::{
    status_list_uri, ClientRevocation, RevocationList, Revoked, RevokedSubject, RevokedToken,
};
pub use self::signing::{compact_jws, Signer};
pub use self::signing_keys::{key_json, CustodyFinding, Jwks, KeyEvent, StepTaken};

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
    allow_weak_passphrase: bool,
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
            allow_weak_passphrase: false,
        }
    }

    /// Lets [`Issuer::init`] encrypt keys under a passphrase that fails
    /// the strength rule ([`crate::issuer::rules::passphrase::weakness`]):
    /// for tests only (`init --allow-weak-passphrase`).
    #[must_use]
    pub fn allow_weak_passphrase(mut self, allow: bool) -> Self {
        self.allow_weak_passphrase = allow;
        self
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
    /// What the client presented: its provisioning key
    /// (`jep_<id>_<secret>`) or a signed client assertion.
    pub credential: Credential,
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
    /// The DPoP proof the request came with, checked (RFC 9449): the token
    /// is bound to its key.
    pub dpop: Option<DpopBinding>,
}

/// A checked DPoP proof of a token request: what the issuance needs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopBinding {
    /// The proof key's RFC 7638 thumbprint: the token's `cnf.jkt`.
    pub jkt: String,
    /// The proof's identity (its key and `jti`, hashed), remembered in the
    /// store until `expires_at` so that every replica refuses a replay.
    pub proof_id: String,
    /// When the proof's window ends (unix seconds).
    pub expires_at: u64,
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
    /// `private_key_jwt`: the rules and a validator per client.
    assertions: assertion::Assertions,
}

fn row(now: u64, action: AuditAction, actor: &str) -> AuditRecord {
    AuditRecord::new(now, action, actor)
}

/// The audit row of an operator request that changed nothing (the target was
/// already revoked or expired): still an event, so still audited.
fn unchanged(now: u64, action: AuditAction, detail: &str) -> AuditRecord {
    let mut a = row(now, action, OPERATOR);
    a.outcome = Outcome::Unchanged;
    a.detail = Some(detail.into());
    a
}

/// The audit row of a refused client request: the actor is `pk:<id>` (or
/// `unknown` when no id could be read), the reason in `detail`.
fn refusal_row(now: u64, action: AuditAction, id: Option<&str>, why: &str) -> AuditRecord {
    let mut a = row(
        now,
        action,
        &id.map_or_else(|| "unknown".into(), |i| format!("pk:{i}")),
    );
    a.outcome = Outcome::Refused;
    a.provisioning_key_id = id.map(String::from);
    a.detail = Some(why.into());
    a
}

fn load_settings(tx: &mut Tx<'_>) -> Result<Settings> {
    let rows = tx.settings()?;
    if rows.is_empty() {
        return Err(Error::new(
            ErrorKind::NotInitialized,
            "the issuer database has no settings (not initialised)",
        ));
    }
    Settings::from_rows(&rows)
}

fn update(
    tx: &mut Tx<'_>,
    keys: &mut [KeyRecord],
    kid: &str,
    f: impl FnOnce(&mut KeyRecord) -> Result<()>,
) -> Result<()> {
    let k = keys
        .iter_mut()
        .find(|k| k.kid == kid)
        .ok_or_else(|| Error::storage(format!("signing key {kid} vanished")))?;
    f(k)?;
    tx.update_key(k)
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
                assertions: assertion::Assertions::default(),
            },
        }
    }

    /// How client assertions (`private_key_jwt`) are checked (the server's
    /// configuration; default [`AssertionRules::default`]).
    pub fn set_assertion_rules(&mut self, rules: AssertionRules) {
        self.ctx.assertions = assertion::Assertions::new(rules);
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
    pub fn init(&mut self, settings: &Settings, now: u64) -> Result<Vec<StepTaken>> {
        settings.validate()?;
        if settings.pkcs11.is_none() {
            self.ctx.require_private_keys()?;
            let s = &self.ctx.secrets;
            if let (Some(p), false) = (&s.passphrase, s.allow_weak_passphrase) {
                if let Some(why) = super::rules::passphrase::weakness(p) {
                    return Err(Error::usage(format!(
                        "{why} (--allow-weak-passphrase lets it through, for tests only)"
                    )));
                }
            }
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
            let mut a = row(now, AuditAction::Init, OPERATOR);
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
}
