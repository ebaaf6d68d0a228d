//! The signing-key state machine and the rotation planner (pure functions).
//!
//! ```text
//! pending ──► active ──► retiring ──► retired ──► destroyed
//!    │           │           │
//!    └───────────┴───────────┴──► revoked ──► destroyed      (keys revoke)
//! ```
//! - pending: published in the JWKS so caches learn it, does not sign;
//! - active: signs (exactly one at a time);
//! - retiring: replaced, still published for `grace`;
//! - retired: gone from the JWKS, private key kept for `retain`;
//! - revoked: gone from the JWKS at once and listed in the revocation list;
//! - destroyed: private material deleted, metadata kept for the audit trail.

use std::vec::Vec;

use crate::issuer::settings::Settings;
use crate::issuer::store::KeyRecord;

/// A signing key's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum KeyState {
    /// Published, not yet signing.
    Pending,
    /// The signing key.
    Active,
    /// Replaced; still published for the grace period.
    Retiring,
    /// No longer published; private key retained.
    Retired,
    /// Revoked in an emergency.
    Revoked,
    /// Private material deleted.
    Destroyed,
}

impl KeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Retiring => "retiring",
            Self::Retired => "retired",
            Self::Revoked => "revoked",
            Self::Destroyed => "destroyed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::Active,
            Self::Retiring,
            Self::Retired,
            Self::Revoked,
            Self::Destroyed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// Whether keys in this state are in the published JWKS.
    pub fn is_published(self) -> bool {
        matches!(self, Self::Pending | Self::Active | Self::Retiring)
    }
}

/// One step of a rotation, applied in order by [`crate::issuer::Issuer::rotate`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Generate a key of the configured algorithm; `activate` makes it active
    /// at once (only when the issuer has no active key and no pending one).
    Generate {
        /// Activate immediately.
        activate: bool,
    },
    /// Make a pending key active. `early` when it had not been published for
    /// the pre-publish period (only when there is no active key at all).
    Activate {
        /// The pending key.
        kid: std::string::String,
        /// Activated before the end of its pre-publish period.
        early: bool,
    },
    /// Move the active key to retiring.
    StartRetiring {
        /// The active key.
        kid: std::string::String,
    },
    /// Move a retiring key to retired (out of the JWKS).
    Retire {
        /// The retiring key.
        kid: std::string::String,
    },
    /// Delete a retired or revoked key's private material.
    Destroy {
        /// The key.
        kid: std::string::String,
    },
}

/// Plans the rotation at `now`. Applying the plan and planning again at the
/// same `now` yields no step (idempotent), and the plan never leaves the
/// issuer without an active key.
pub fn plan(keys: &[KeyRecord], s: &Settings, now: u64) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut pending: Vec<&KeyRecord> = keys
        .iter()
        .filter(|k| k.state == KeyState::Pending)
        .collect();
    pending.sort_by_key(|k| k.created_at);
    let published_long_enough = |k: &&&KeyRecord| now >= k.created_at.saturating_add(s.pre_publish);
    match keys.iter().find(|k| k.state == KeyState::Active) {
        None => match pending.first() {
            Some(p) => steps.push(Step::Activate {
                kid: p.kid.clone(),
                early: !published_long_enough(&p),
            }),
            None => steps.push(Step::Generate { activate: true }),
        },
        Some(active) => {
            let age = now.saturating_sub(active.activated_at.unwrap_or(active.created_at));
            if age >= s.rotate_every {
                if let Some(p) = pending.iter().find(published_long_enough) {
                    steps.push(Step::StartRetiring {
                        kid: active.kid.clone(),
                    });
                    steps.push(Step::Activate {
                        kid: p.kid.clone(),
                        early: false,
                    });
                } else if pending.is_empty() {
                    // Late (rotate was not run in time): publish a successor
                    // now; it activates after its pre-publish period.
                    steps.push(Step::Generate { activate: false });
                }
            } else if age >= s.rotate_every.saturating_sub(s.pre_publish) && pending.is_empty() {
                steps.push(Step::Generate { activate: false });
            }
        }
    }
    for k in keys {
        match k.state {
            KeyState::Retiring if now >= k.retiring_at.unwrap_or(now).saturating_add(s.grace) => {
                steps.push(Step::Retire { kid: k.kid.clone() });
                if s.retain == 0 {
                    steps.push(Step::Destroy { kid: k.kid.clone() });
                }
            }
            KeyState::Retired | KeyState::Revoked if k.has_private() => {
                let since = if k.state == KeyState::Retired {
                    k.retired_at
                } else {
                    k.revoked_at
                };
                if now >= since.unwrap_or(now).saturating_add(s.retain) {
                    steps.push(Step::Destroy { kid: k.kid.clone() });
                }
            }
            _ => {}
        }
    }
    steps
}
