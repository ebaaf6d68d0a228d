//! `jwt-edge status`: what will break, and when. A pure function of the
//! store's keys and settings at `now`, so that a simulated timeline tests it.

use std::format;
use std::string::String;
use std::vec::Vec;

use serde_json::{json, Value};

use crate::issuer::duration;
use crate::issuer::rules::lifecycle::KeyState;
use crate::issuer::settings::Settings;
use crate::issuer::store::{KeyRecord, ProvisioningRecord};

/// The findings and the rows per table.
pub type Report = (Vec<Finding>, Vec<(&'static str, u64)>);

/// How the store grows: audit rows per action over the last day, the export
/// cursor and what it leaves behind, bytes in use and free for reuse.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Growth {
    /// Audit rows per action in the last 24 hours (`token.issue` ≈ tokens).
    pub actions_24h: Vec<(String, u64)>,
    /// The highest audit row acknowledged by an export (0: never exported).
    pub exported_through: u64,
    /// The newest audit row id.
    pub newest_audit: u64,
    /// When the oldest audit row not yet exported was written.
    pub oldest_unexported_at: Option<u64>,
    /// Bytes in use (pages holding data).
    pub bytes_in_use: u64,
    /// Bytes free for reuse inside the file.
    pub bytes_free: u64,
}

/// Retention findings: audit rows older than the retention window that no
/// export has acknowledged (they can never be pruned until one does).
pub fn retention_findings(g: &Growth, audit_retention: u64, now: u64) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(at) = g.oldest_unexported_at {
        if at.saturating_add(audit_retention) <= now {
            out.push(Finding {
                kind: "audit_export_behind",
                subject: String::new(),
                message: format!(
                    "{} audit rows are not exported, the oldest written {}: older than the retention window ({}), so the store cannot shrink; export them from row {} on into your log store (the audit export, or the server's audit sink)",
                    g.newest_audit.saturating_sub(g.exported_through),
                    when(now, at),
                    duration::format(audit_retention),
                    g.exported_through
                ),
                at: Some(at),
            });
        }
    }
    out
}

/// One thing that will break (or has): its kind, what it is about, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Stable name: `provisioning_key_expiring`, `provisioning_key_expired`,
    /// `provisioning_key_unused`, `no_active_key`, `rotation_overdue`,
    /// `no_pending_key`, `active_key_revoked`, `audit_export_behind`,
    /// `previous_secret_in_use`, `client_jwks_uri_failing`.
    pub kind: &'static str,
    /// The provisioning key id or signing kid concerned.
    pub subject: String,
    /// For people.
    pub message: String,
    /// When it breaks (or broke), unix seconds.
    pub at: Option<u64>,
}

impl Finding {
    /// The JSON view.
    pub fn to_json(&self) -> Value {
        json!({"kind": self.kind, "subject": self.subject, "message": self.message, "at": self.at})
    }
}

fn when(now: u64, at: u64) -> String {
    if at > now {
        format!("in {}", duration::format(at - now))
    } else {
        format!("{} ago", duration::format(now - at))
    }
}

/// The findings at `now`: provisioning keys that expire within `warn` (or
/// have expired without being revoked) or were not used for `unused`; no
/// active signing key, an active key whose rotation is overdue, or no
/// pending key where one should already be published; an active key on the
/// revocation list (`revoked_kids`).
pub fn findings(
    s: &Settings,
    keys: &[KeyRecord],
    provisioning: &[ProvisioningRecord],
    revoked_kids: &[String],
    now: u64,
    warn: u64,
    unused: u64,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for p in provisioning.iter().filter(|p| p.revoked_at.is_none()) {
        // Set only when no usable set is held: the last good one is past
        // its stale window (stale-if-error), or there never was one.
        if let (Some(since), Some(uri)) = (
            p.keys_failing_since,
            p.keys
                .as_ref()
                .and_then(crate::issuer::store::ClientKeys::jwks_uri),
        ) {
            out.push(Finding {
                kind: "client_jwks_uri_failing",
                subject: p.id.clone(),
                message: format!(
                    "client {} ({}): its jwks_uri {uri} has given no usable key set since {} (its last good set is past the stale window, or it never served one): it cannot authenticate until the set is served again",
                    p.id,
                    p.name,
                    when(now, since)
                ),
                at: Some(since),
            });
        }
        if p.expires_at <= now {
            out.push(Finding {
                kind: "provisioning_key_expired",
                subject: p.id.clone(),
                message: format!(
                    "provisioning key {} ({}) expired {}: its client can no longer obtain tokens",
                    p.id,
                    p.name,
                    when(now, p.expires_at)
                ),
                at: Some(p.expires_at),
            });
            continue;
        }
        if p.expires_at <= now.saturating_add(warn) {
            out.push(Finding {
                kind: "provisioning_key_expiring",
                subject: p.id.clone(),
                message: format!(
                    "provisioning key {} ({}) expires {}: rotate it before then",
                    p.id,
                    p.name,
                    when(now, p.expires_at)
                ),
                at: Some(p.expires_at),
            });
        }
        if let Some(prev) = p.previous.filter(|prev| prev.until > now) {
            if prev.until <= now.saturating_add(warn) {
                out.push(Finding {
                    kind: "previous_secret_in_use",
                    subject: p.id.clone(),
                    message: format!(
                        "provisioning key {} ({}) was rotated; its previous secret stops working {}: make sure its client has the new one",
                        p.id,
                        p.name,
                        when(now, prev.until)
                    ),
                    at: Some(prev.until),
                });
            }
        }
        let since = p.last_used_at.unwrap_or(p.created_at);
        if since.saturating_add(unused) <= now {
            let what = if p.last_used_at.is_some() {
                "was last used"
            } else {
                "was created, and never used,"
            };
            out.push(Finding {
                kind: "provisioning_key_unused",
                subject: p.id.clone(),
                message: format!(
                    "provisioning key {} ({}) {what} {}: revoke it if nobody needs it",
                    p.id,
                    p.name,
                    when(now, since)
                ),
                at: Some(since),
            });
        }
    }
    let active = keys.iter().find(|k| k.state() == KeyState::Active);
    let Some(active) = active else {
        out.push(Finding {
            kind: "no_active_key",
            subject: String::new(),
            message: "no active signing key: nothing can be issued until a rotation runs".into(),
            at: None,
        });
        return out;
    };
    if revoked_kids.contains(&active.kid) {
        out.push(Finding {
            kind: "active_key_revoked",
            subject: active.kid.clone(),
            message: format!(
                "the active signing key {} is on the revocation list: every token it signs is refused",
                active.kid
            ),
            at: active.life.revocation().map(|r| r.at),
        });
    }
    let activated = active.life.activated_at().unwrap_or(active.created_at);
    let due = activated.saturating_add(s.rotate_every);
    // The rotation runs on a timer (serve, or cron): a day late is overdue.
    if due.saturating_add(86_400) <= now {
        out.push(Finding {
            kind: "rotation_overdue",
            subject: active.kid.clone(),
            message: format!(
                "signing key {} was due for rotation {} (rotate-every {}): is the rotation timer running?",
                active.kid,
                when(now, due),
                duration::format(s.rotate_every)
            ),
            at: Some(due),
        });
    }
    let publish_from = due.saturating_sub(s.pre_publish);
    let pending = keys.iter().any(|k| k.state() == KeyState::Pending);
    if !pending && publish_from.saturating_add(86_400) <= now {
        out.push(Finding {
            kind: "no_pending_key",
            subject: active.kid.clone(),
            message: format!(
                "no pending signing key, though the successor of {} should be published since {}: the next rotation cuts over without pre-publication",
                active.kid,
                when(now, publish_from)
            ),
            at: Some(publish_from),
        });
    }
    out
}
