//! The records a store keeps, one per table row.
//!
//! Timestamps are unix seconds. Nothing here interprets the records: the
//! rules live in [`crate::issuer::rules::lifecycle`], [`crate::issuer::rules::provisioning`]
//! and [`crate::issuer::service`].

use std::string::String;
use std::vec::Vec;

use zeroize::Zeroizing;

use crate::Algorithm;

use super::super::rules::lifecycle::{KeyState, Life, Served};
use super::super::rules::provisioning::Permission;

/// Where a signing key's private half is.
#[derive(Clone)]
pub enum Custody {
    /// In the store: PKCS#8 DER encrypted under the store's passphrase
    /// (`EncryptedPrivateKeyInfo`).
    Encrypted(Zeroizing<Vec<u8>>),
    /// In the store in clear: PKCS#8 DER (`--insecure-dev-keys` stores only).
    Plain(Zeroizing<Vec<u8>>),
    /// In a PKCS#11 token, never leaving it: its objects' `CKA_ID` (hex).
    Token(String),
    /// Nowhere any more: destroyed (`was_encrypted`: how the store kept it).
    Destroyed {
        /// Whether the store kept it encrypted.
        was_encrypted: bool,
    },
}

impl Custody {
    /// Whether the private half still exists (in the store or in a token).
    pub fn has_private(&self) -> bool {
        !matches!(self, Self::Destroyed { .. })
    }

    /// Whether the store keeps (or kept) it encrypted.
    pub fn encrypted(&self) -> bool {
        match self {
            Self::Encrypted(_) => true,
            Self::Destroyed { was_encrypted } => *was_encrypted,
            Self::Plain(_) | Self::Token(_) => false,
        }
    }

    /// The token's `CKA_ID` (hex) of a key kept in a PKCS#11 token.
    pub fn token_id(&self) -> Option<&str> {
        match self {
            Self::Token(id) => Some(id),
            _ => None,
        }
    }

    /// The custody after destruction.
    #[must_use]
    pub fn destroyed(&self) -> Self {
        Self::Destroyed {
            was_encrypted: self.encrypted(),
        }
    }
}

impl core::fmt::Debug for Custody {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Encrypted(_) => f.write_str("Encrypted(..)"),
            Self::Plain(_) => f.write_str("Plain(..)"),
            Self::Token(id) => write!(f, "Token({id})"),
            Self::Destroyed { was_encrypted } => {
                write!(f, "Destroyed {{ was_encrypted: {was_encrypted} }}")
            }
        }
    }
}

/// A signing key's row.
#[derive(Clone)]
pub struct KeyRecord {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Signing algorithm.
    pub alg: Algorithm,
    /// Lifecycle: the state, with its times.
    pub life: Life,
    /// When generated (state pending).
    pub created_at: u64,
    /// The public JWK (JSON text, with kid/alg/use).
    pub public_jwk: String,
    /// Where its private half is.
    pub custody: Custody,
    /// Its key ring: `None` the primary one, else the extra algorithm's
    /// ([`crate::issuer::Settings::extra_algs`]). One key per ring is active.
    pub ring: Option<Algorithm>,
}

impl KeyRecord {
    /// A new key in state pending with its public JWK and its private half.
    pub fn pending(
        kid: String,
        alg: Algorithm,
        public_jwk: String,
        custody: Custody,
        now: u64,
    ) -> Self {
        Self {
            kid,
            alg,
            life: Life::InService(Served::Pending),
            created_at: now,
            public_jwk,
            custody,
            ring: None,
        }
    }

    /// Whether the private key still exists (in the store or in a token).
    pub fn has_private(&self) -> bool {
        self.custody.has_private()
    }

    /// The lifecycle state.
    pub fn state(&self) -> KeyState {
        self.life.state()
    }
}

impl core::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("life", &self.life)
            .finish_non_exhaustive()
    }
}

/// A provisioning key's row: the secret is stored only as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningRecord {
    /// Public id (the `<id>` of `jep_<id>_<secret>`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// SHA-256 of the secret.
    pub secret_sha256: [u8; 32],
    /// Scopes it may request.
    pub scopes: Vec<String>,
    /// Audiences it may request (empty: any `--aud`, but one is required).
    pub audiences: Vec<String>,
    /// The `sub` of the tokens it issues.
    pub sub: String,
    /// Creation time.
    pub created_at: u64,
    /// Expiry time (refused from then on).
    pub expires_at: u64,
    /// Longest token lifetime it may request (seconds).
    pub max_token_ttl: u64,
    /// When revoked.
    pub revoked_at: Option<u64>,
    /// Successful issuances.
    pub use_count: u64,
    /// Last successful issuance.
    pub last_used_at: Option<u64>,
    /// What it may do besides obtaining tokens (e.g. `introspect`: call the
    /// server's RFC 7662 introspection endpoint).
    pub permissions: Vec<Permission>,
    /// When the current secret was set (`None`: at creation, never rotated).
    pub secret_set_at: Option<u64>,
    /// The secret it replaced, accepted until its overlap ends.
    pub previous: Option<PreviousSecret>,
    /// Its token requests must carry a DPoP proof (RFC 9449 §5.2
    /// `dpop_bound_access_tokens`).
    pub require_dpop: bool,
    /// A `private_key_jwt` client's public keys (RFC 7523): it has no
    /// secret and authenticates with signed assertions only. `None`: a
    /// client with a secret.
    pub keys: Option<ClientKeys>,
    /// Since when its `jwks_uri` has given no usable key set (cleared by
    /// the next assertion that verifies).
    pub keys_failing_since: Option<u64>,
    /// The algorithm its tokens are signed with (one of the issuer's
    /// [`crate::issuer::Settings::extra_algs`]); `None`: the primary ring's.
    pub alg: Option<crate::Algorithm>,
}

/// Where a `private_key_jwt` client's public keys are (RFC 7591 `jwks` /
/// `jwks_uri`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKeys {
    /// An inline JWK Set (its JSON text, checked at registration).
    Jwks(String),
    /// An `https://` URL the issuer fetches the set from.
    JwksUri(String),
}

impl ClientKeys {
    /// The inline set, if that is what this is.
    pub fn jwks(&self) -> Option<&str> {
        match self {
            Self::Jwks(j) => Some(j),
            Self::JwksUri(_) => None,
        }
    }

    /// The URL, if that is what this is.
    pub fn jwks_uri(&self) -> Option<&str> {
        match self {
            Self::JwksUri(u) => Some(u),
            Self::Jwks(_) => None,
        }
    }
}

/// A replaced provisioning-key secret that still works during its overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousSecret {
    /// SHA-256 of the replaced secret.
    pub secret_sha256: [u8; 32],
    /// Refused from then on (unix seconds).
    pub until: u64,
}

/// What one pruning batch deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Pruned {
    /// `tokens` rows (expired, and no revocation entry names them).
    pub tokens: u64,
    /// `audit` rows (older than the retention window, and exported).
    pub audit: u64,
    /// Revocation entries past their `expires_at`.
    pub revocations: u64,
}

impl Pruned {
    /// Adds another batch's counts.
    pub fn add(&mut self, o: Self) {
        self.tokens = self.tokens.saturating_add(o.tokens);
        self.audit = self.audit.saturating_add(o.audit);
        self.revocations = self.revocations.saturating_add(o.revocations);
    }

    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.tokens
            .saturating_add(self.audit)
            .saturating_add(self.revocations)
    }
}

/// A token's place in a Token Status List: list number and index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusSlot {
    /// The list (its URI is `<issuer>/statuslists/<list>`).
    pub list: u64,
    /// The token's index in it.
    pub idx: u64,
}

/// A Token Status List's bookkeeping row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusListRecord {
    /// Its number.
    pub list: u64,
    /// Indexes it holds.
    pub capacity: u64,
    /// The next unallocated index.
    pub next_idx: u64,
    /// Bumped on every status change in it (publication cache key).
    pub version: u64,
}

/// An issued token's row (kept to revoke it by `jti` with its `exp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Token id.
    pub jti: String,
    /// Subject.
    pub sub: String,
    /// Provisioning key it was issued through.
    pub provisioning_key_id: String,
    /// Its place in a status list (tokens issued before status lists: none).
    pub status: Option<StatusSlot>,
    /// Signing key.
    pub kid: String,
    /// Issued at.
    pub iat: u64,
    /// Expires at.
    pub exp: u64,
}

/// What a revocation entry covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationKind {
    /// One token, by `jti` (`at` is the token's `exp`).
    Jti,
    /// Every token of a subject issued before `at`.
    Sub,
    /// Every token signed by a key.
    Kid,
}

impl RevocationKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jti => "jti",
            Self::Sub => "sub",
            Self::Kid => "kid",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "jti" => Some(Self::Jti),
            "sub" => Some(Self::Sub),
            "kid" => Some(Self::Kid),
            _ => None,
        }
    }
}

/// A revocation entry. It is dropped from the list at `expires_at`, when every
/// token it covers has expired anyway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationEntry {
    /// What it covers.
    pub kind: RevocationKind,
    /// The `jti`, `sub` or `kid`.
    pub value: String,
    /// `exp` for a jti, `before` for a sub, the revocation time for a kid.
    pub at: u64,
    /// When the entry may leave the list.
    pub expires_at: u64,
    /// When it was recorded.
    pub created_at: u64,
}

/// What an audit row records: one spelling table ([`AuditAction::as_str`])
/// for the store, the CLI, the audit sink and the metrics.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AuditAction {
    /// `init`: the store's policy and first key.
    Init,
    /// `key.generate`.
    KeyGenerate,
    /// `key.activate`.
    KeyActivate,
    /// `key.retiring`: the key stopped signing, still published.
    KeyRetiring,
    /// `key.retire`: the key left the JWKS.
    KeyRetire,
    /// `key.destroy`: its private material is gone.
    KeyDestroy,
    /// `key.revoke`: emergency revocation.
    KeyRevoke,
    /// `key.export`.
    KeyExport,
    /// `provision.create`.
    ProvisionCreate,
    /// `provision.revoke`.
    ProvisionRevoke,
    /// `provision.rotate`: a new secret (by the operator or the client).
    ProvisionRotate,
    /// `provision.update`: a setting changed (e.g. `require_dpop`).
    ProvisionUpdate,
    /// `settings.update`: an issuer setting changed (e.g. a key ring added).
    SettingsUpdate,
    /// `token.issue`.
    TokenIssue,
    /// `token.revoke`.
    TokenRevoke,
    /// `subject.revoke`: every token of a subject.
    SubjectRevoke,
    /// `revocations.prune`: expired revocation entries dropped.
    RevocationsPrune,
    /// `store.prune`: expired rows deleted.
    StorePrune,
    /// `anomaly`: a finding of the anomaly detector.
    Anomaly,
    /// `<permission>.authorize`, e.g. `introspect.authorize`.
    Authorize(Permission),
    /// An action this build does not know (a row written by another
    /// version), kept as written.
    Other(String),
}

impl AuditAction {
    /// Every action without data, for [`AuditAction::parse`].
    const NAMED: [Self; 19] = [
        Self::Init,
        Self::KeyGenerate,
        Self::KeyActivate,
        Self::KeyRetiring,
        Self::KeyRetire,
        Self::KeyDestroy,
        Self::KeyRevoke,
        Self::KeyExport,
        Self::ProvisionCreate,
        Self::ProvisionRevoke,
        Self::ProvisionRotate,
        Self::ProvisionUpdate,
        Self::SettingsUpdate,
        Self::TokenIssue,
        Self::TokenRevoke,
        Self::SubjectRevoke,
        Self::RevocationsPrune,
        Self::StorePrune,
        Self::Anomaly,
    ];

    /// The stored name, e.g. `token.issue` (the one spelling table).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Init => "init",
            Self::KeyGenerate => "key.generate",
            Self::KeyActivate => "key.activate",
            Self::KeyRetiring => "key.retiring",
            Self::KeyRetire => "key.retire",
            Self::KeyDestroy => "key.destroy",
            Self::KeyRevoke => "key.revoke",
            Self::KeyExport => "key.export",
            Self::ProvisionCreate => "provision.create",
            Self::ProvisionRevoke => "provision.revoke",
            Self::ProvisionRotate => "provision.rotate",
            Self::ProvisionUpdate => "provision.update",
            Self::SettingsUpdate => "settings.update",
            Self::TokenIssue => "token.issue",
            Self::TokenRevoke => "token.revoke",
            Self::SubjectRevoke => "subject.revoke",
            Self::RevocationsPrune => "revocations.prune",
            Self::StorePrune => "store.prune",
            Self::Anomaly => "anomaly",
            Self::Authorize(p) => p.authorize_action(),
            Self::Other(s) => s,
        }
    }

    /// The action a stored name means (an unknown name is [`Self::Other`]).
    pub fn parse(name: &str) -> Self {
        Self::NAMED
            .into_iter()
            .chain(Permission::ALL.map(Self::Authorize))
            .find(|a| a.as_str() == name)
            .unwrap_or_else(|| Self::Other(String::from(name)))
    }
}

impl core::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for AuditAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// How an audited request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// `ok`: done.
    Ok,
    /// `refused`: a client request refused (the reason in `detail`).
    Refused,
    /// `unchanged`: nothing to do (already revoked or expired, unknown).
    Unchanged,
    /// `flagged`: an anomaly finding.
    Flagged,
    /// An outcome this build does not know (another version's row).
    Other(String),
}

impl Outcome {
    /// The stored name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Ok => "ok",
            Self::Refused => "refused",
            Self::Unchanged => "unchanged",
            Self::Flagged => "flagged",
            Self::Other(s) => s,
        }
    }

    /// The outcome a stored name means.
    pub fn parse(name: &str) -> Self {
        [Self::Ok, Self::Refused, Self::Unchanged, Self::Flagged]
            .into_iter()
            .find(|o| o.as_str() == name)
            .unwrap_or_else(|| Self::Other(String::from(name)))
    }
}

impl core::fmt::Display for Outcome {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One audit row. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// Row id (assigned by the store; 0 before insertion).
    pub id: u64,
    /// When (the command's `now`).
    pub at: u64,
    /// What.
    pub action: AuditAction,
    /// Who: `operator` for administrative commands, `pk:<id>` for issuance.
    pub actor: String,
    /// Signing key involved.
    pub kid: Option<String>,
    /// Token involved.
    pub jti: Option<String>,
    /// Subject involved.
    pub sub: Option<String>,
    /// Provisioning key involved.
    pub provisioning_key_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Free text (reasons, scopes; never a secret).
    pub detail: Option<String>,
}

impl AuditRecord {
    /// A row of `action` by `actor` at `at`, outcome `ok`, nothing else set.
    pub fn new(at: u64, action: AuditAction, actor: impl Into<String>) -> Self {
        Self {
            id: 0,
            at,
            action,
            actor: actor.into(),
            kid: None,
            jti: None,
            sub: None,
            provisioning_key_id: None,
            outcome: Outcome::Ok,
            detail: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_names_read_back_as_what_wrote_them() {
        for a in AuditAction::NAMED
            .into_iter()
            .chain(Permission::ALL.map(AuditAction::Authorize))
        {
            assert_eq!(AuditAction::parse(a.as_str()), a);
        }
        let mut names: Vec<&str> = AuditAction::NAMED.iter().map(AuditAction::as_str).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::NAMED.len(), "one name per action");
        assert_eq!(
            AuditAction::parse("token.mint"),
            AuditAction::Other("token.mint".into())
        );
        for o in [
            Outcome::Ok,
            Outcome::Refused,
            Outcome::Unchanged,
            Outcome::Flagged,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), o);
        }
    }
}
