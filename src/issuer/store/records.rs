//! The records a store keeps, one per table row.
//!
//! Timestamps are unix seconds. Nothing here interprets the records: the
//! rules live in [`crate::issuer::rules::lifecycle`], [`crate::issuer::rules::provisioning`]
//! and [`crate::issuer::service`].

use std::string::String;
use std::vec::Vec;

use zeroize::Zeroizing;

use crate::Algorithm;

use super::super::rules::lifecycle::KeyState;

/// A signing key's row. `private_key` is the PKCS#8 DER — encrypted
/// (`EncryptedPrivateKeyInfo`) unless `encrypted` is false (`--insecure-dev-keys`);
/// `None` once destroyed.
#[derive(Clone)]
pub struct KeyRecord {
    /// RFC 7638 thumbprint.
    pub kid: String,
    /// Signing algorithm.
    pub alg: Algorithm,
    /// Lifecycle state.
    pub state: KeyState,
    /// When generated (state pending).
    pub created_at: u64,
    /// When it became active.
    pub activated_at: Option<u64>,
    /// When it started retiring.
    pub retiring_at: Option<u64>,
    /// When it was retired (left the JWKS).
    pub retired_at: Option<u64>,
    /// When it was revoked (emergency).
    pub revoked_at: Option<u64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// When its private material was destroyed.
    pub destroyed_at: Option<u64>,
    /// The public JWK (JSON text, with kid/alg/use).
    pub public_jwk: String,
    /// The private key (PKCS#8 DER, see above).
    pub private_key: Option<Zeroizing<Vec<u8>>>,
    /// Whether `private_key` is encrypted.
    pub encrypted: bool,
    /// For a key kept in a PKCS#11 token: its objects' `CKA_ID` (hex); the
    /// private key never leaves the token and `private_key` is `None`.
    pub hsm_id: Option<String>,
}

impl KeyRecord {
    /// A new key in state pending with its public JWK; the caller says where
    /// its private key is (`private_key` + `encrypted`, or `hsm_id`).
    pub fn pending(kid: String, alg: Algorithm, public_jwk: String, now: u64) -> Self {
        Self {
            kid,
            alg,
            state: KeyState::Pending,
            created_at: now,
            activated_at: None,
            retiring_at: None,
            retired_at: None,
            revoked_at: None,
            revoke_reason: None,
            destroyed_at: None,
            public_jwk,
            private_key: None,
            encrypted: false,
            hsm_id: None,
        }
    }

    /// Whether the private key still exists (in the store or in a token).
    pub fn has_private(&self) -> bool {
        self.private_key.is_some() || self.hsm_id.is_some()
    }
}

impl core::fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
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
    pub permissions: Vec<String>,
    /// When the current secret was set (`None`: at creation, never rotated).
    pub secret_set_at: Option<u64>,
    /// The secret it replaced, accepted until its overlap ends.
    pub previous: Option<PreviousSecret>,
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

/// One audit row. Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord {
    /// Row id (assigned by the store; 0 before insertion).
    pub id: u64,
    /// When (the command's `now`).
    pub at: u64,
    /// What, e.g. `token.issue`, `key.activate`, `provision.revoke`.
    pub action: String,
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
    /// `ok` or `refused`.
    pub outcome: String,
    /// Free text (reasons, scopes; never a secret).
    pub detail: Option<String>,
}
