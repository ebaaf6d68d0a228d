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

use std::format;
use std::string::String;
use std::vec::Vec;

use crate::issuer::settings::Settings;
use crate::issuer::store::KeyRecord;
use crate::issuer::{Error, Result};

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

/// A revocation: when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    /// When (unix seconds).
    pub at: u64,
    /// Why, as the operator said.
    pub reason: Option<String>,
}

/// How far a key got in service: each state with the times it reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Never activated.
    Pending,
    /// Signing since `activated_at`.
    Active {
        /// When it became the signing key.
        activated_at: u64,
    },
    /// Replaced at `retiring_at`, still published.
    Retiring {
        /// When it became the signing key.
        activated_at: u64,
        /// When it was replaced.
        retiring_at: u64,
    },
    /// Out of the JWKS since `retired_at`.
    Retired {
        /// When it became the signing key.
        activated_at: u64,
        /// When it was replaced.
        retiring_at: u64,
        /// When it left the JWKS.
        retired_at: u64,
    },
}

/// A signing key's lifecycle: its state, with the times that state has and
/// the service that led there. Only the transitions of the state machine
/// above change it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// Pending, active, retiring or retired.
    InService(Served),
    /// Revoked in an emergency after `served`; its private key still exists.
    Revoked {
        /// How far it got before.
        served: Served,
        /// When and why.
        revocation: Revocation,
    },
    /// Its private material is gone; `revocation` if it was revoked (before
    /// or after).
    Destroyed {
        /// How far it got before.
        served: Served,
        /// Its revocation, if any.
        revocation: Option<Revocation>,
        /// When its private material was deleted.
        destroyed_at: u64,
    },
}

impl Served {
    /// Its state.
    pub fn state(self) -> KeyState {
        match self {
            Self::Pending => KeyState::Pending,
            Self::Active { .. } => KeyState::Active,
            Self::Retiring { .. } => KeyState::Retiring,
            Self::Retired { .. } => KeyState::Retired,
        }
    }

    /// The next state in service, reached at `now` (none after retired).
    fn next(self, now: u64) -> Option<Self> {
        match self {
            Self::Pending => Some(Self::Active { activated_at: now }),
            Self::Active { activated_at } => Some(Self::Retiring {
                activated_at,
                retiring_at: now,
            }),
            Self::Retiring {
                activated_at,
                retiring_at,
            } => Some(Self::Retired {
                activated_at,
                retiring_at,
                retired_at: now,
            }),
            Self::Retired { .. } => None,
        }
    }
}

fn transition(kid: &str, from: KeyState, to: KeyState) -> Error {
    Error::usage(format!(
        "signing key {kid} is {} and cannot become {}",
        from.as_str(),
        to.as_str()
    ))
}

impl Life {
    /// The state.
    pub fn state(&self) -> KeyState {
        match self {
            Self::InService(served) => served.state(),
            Self::Revoked { .. } => KeyState::Revoked,
            Self::Destroyed { .. } => KeyState::Destroyed,
        }
    }

    /// Its service, whatever happened since.
    pub fn served(&self) -> Served {
        match self {
            Self::InService(s)
            | Self::Revoked { served: s, .. }
            | Self::Destroyed { served: s, .. } => *s,
        }
    }

    /// When it became the signing key.
    pub fn activated_at(&self) -> Option<u64> {
        match self.served() {
            Served::Pending => None,
            Served::Active { activated_at }
            | Served::Retiring { activated_at, .. }
            | Served::Retired { activated_at, .. } => Some(activated_at),
        }
    }

    /// When it was replaced.
    pub fn retiring_at(&self) -> Option<u64> {
        match self.served() {
            Served::Retiring { retiring_at, .. } | Served::Retired { retiring_at, .. } => {
                Some(retiring_at)
            }
            Served::Pending | Served::Active { .. } => None,
        }
    }

    /// When it left the JWKS by retirement.
    pub fn retired_at(&self) -> Option<u64> {
        match self.served() {
            Served::Retired { retired_at, .. } => Some(retired_at),
            _ => None,
        }
    }

    /// Its revocation.
    pub fn revocation(&self) -> Option<&Revocation> {
        match self {
            Self::Revoked { revocation, .. } => Some(revocation),
            Self::Destroyed { revocation, .. } => revocation.as_ref(),
            Self::InService(_) => None,
        }
    }

    /// When its private material was deleted.
    pub fn destroyed_at(&self) -> Option<u64> {
        match self {
            Self::Destroyed { destroyed_at, .. } => Some(*destroyed_at),
            _ => None,
        }
    }

    /// One step along the service (pending → active → retiring →
    /// retired) at `now`, to `to`.
    fn advance(&mut self, kid: &str, to: KeyState, now: u64) -> Result<()> {
        if let Self::InService(served) = self {
            if let Some(next) = served.next(now).filter(|n| n.state() == to) {
                *served = next;
                return Ok(());
            }
        }
        Err(transition(kid, self.state(), to))
    }

    /// pending → active.
    ///
    /// # Errors
    /// The key is not pending.
    pub fn activate(&mut self, kid: &str, now: u64) -> Result<()> {
        self.advance(kid, KeyState::Active, now)
    }

    /// active → retiring.
    ///
    /// # Errors
    /// The key is not active.
    pub fn start_retiring(&mut self, kid: &str, now: u64) -> Result<()> {
        self.advance(kid, KeyState::Retiring, now)
    }

    /// retiring → retired.
    ///
    /// # Errors
    /// The key is not retiring.
    pub fn retire(&mut self, kid: &str, now: u64) -> Result<()> {
        self.advance(kid, KeyState::Retired, now)
    }

    /// Any state → revoked (a destroyed key keeps its state and gains the
    /// revocation). `false` when it was revoked already (nothing changes).
    pub fn revoke(&mut self, now: u64, reason: Option<&str>) -> bool {
        let revocation = Revocation {
            at: now,
            reason: reason.map(String::from),
        };
        match self {
            Self::InService(served) => {
                *self = Self::Revoked {
                    served: *served,
                    revocation,
                };
                true
            }
            Self::Destroyed {
                revocation: slot @ None,
                ..
            } => {
                *slot = Some(revocation);
                true
            }
            Self::Revoked { .. } | Self::Destroyed { .. } => false,
        }
    }

    /// retired or revoked → destroyed.
    ///
    /// # Errors
    /// The key is in service or destroyed already.
    pub fn destroy(&mut self, kid: &str, now: u64) -> Result<()> {
        match self {
            Self::InService(served @ Served::Retired { .. }) => {
                *self = Self::Destroyed {
                    served: *served,
                    revocation: None,
                    destroyed_at: now,
                };
                Ok(())
            }
            Self::Revoked { served, revocation } => {
                *self = Self::Destroyed {
                    served: *served,
                    revocation: Some(revocation.clone()),
                    destroyed_at: now,
                };
                Ok(())
            }
            _ => Err(transition(kid, self.state(), KeyState::Destroyed)),
        }
    }

    /// The lifecycle the store's columns describe, if they are consistent.
    pub fn from_columns(
        state: KeyState,
        activated_at: Option<u64>,
        retiring_at: Option<u64>,
        retired_at: Option<u64>,
        revocation: Option<Revocation>,
        destroyed_at: Option<u64>,
    ) -> Option<Self> {
        let served = match (activated_at, retiring_at, retired_at) {
            (None, None, None) => Served::Pending,
            (Some(activated_at), None, None) => Served::Active { activated_at },
            (Some(activated_at), Some(retiring_at), None) => Served::Retiring {
                activated_at,
                retiring_at,
            },
            (Some(activated_at), Some(retiring_at), Some(retired_at)) => Served::Retired {
                activated_at,
                retiring_at,
                retired_at,
            },
            _ => return None,
        };
        let life = match (state, revocation, destroyed_at) {
            (KeyState::Destroyed, revocation, Some(destroyed_at)) => Self::Destroyed {
                served,
                revocation,
                destroyed_at,
            },
            (KeyState::Revoked, Some(revocation), None) => Self::Revoked { served, revocation },
            (_, None, None) => Self::InService(served),
            _ => return None,
        };
        (life.state() == state).then_some(life)
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
        .filter(|k| k.state() == KeyState::Pending)
        .collect();
    pending.sort_by_key(|k| k.created_at);
    let published_long_enough = |k: &&&KeyRecord| now >= k.created_at.saturating_add(s.pre_publish);
    match keys.iter().find(|k| k.state() == KeyState::Active) {
        None => match pending.first() {
            Some(p) => steps.push(Step::Activate {
                kid: p.kid.clone(),
                early: !published_long_enough(&p),
            }),
            None => steps.push(Step::Generate { activate: true }),
        },
        Some(active) => {
            let age = now.saturating_sub(active.life.activated_at().unwrap_or(active.created_at));
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
        match &k.life {
            Life::InService(Served::Retiring { retiring_at, .. })
                if now >= retiring_at.saturating_add(s.grace) =>
            {
                steps.push(Step::Retire { kid: k.kid.clone() });
                if s.retain == 0 {
                    steps.push(Step::Destroy { kid: k.kid.clone() });
                }
            }
            Life::InService(Served::Retired {
                retired_at: since, ..
            })
            | Life::Revoked {
                revocation: Revocation { at: since, .. },
                ..
            } if k.has_private() && now >= since.saturating_add(s.retain) => {
                steps.push(Step::Destroy { kid: k.kid.clone() });
            }
            _ => {}
        }
    }
    steps
}
