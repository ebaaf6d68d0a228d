//! What the writer publishes and the handlers serve: the documents
//! ([`Doc`], [`Published`]) in their shared slot ([`Shared`], [`current`]),
//! and how the writer builds and installs them ([`Writer::publish`]), before
//! any token whose key or status list is not served yet is answered.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use std::vec::Vec;

use axum::body::Bytes;
use sha2::{Digest, Sha256};

use crate::issuer::rules::lifecycle::KeyState;
use crate::issuer::service::{STATUS_LIST_LIFETIME, TOKEN_TYP};
use crate::issuer::{Error, Issued, Settings, Store};
use crate::{b64url_encode, KeySet, Policy, Validator};

use super::{unix_now, Writer};

/// A published document with its validator.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The body.
    pub body: Bytes,
    /// Its strong `ETag` (a digest of the body).
    pub etag: String,
}

impl Doc {
    fn new(body: String) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", b64url_encode(digest.get(..16).unwrap_or(&digest)));
        Self {
            body: Bytes::from(body),
            etag,
        }
    }
}

/// What the server serves, built and installed by the writer only.
pub struct Published {
    /// The JWKS.
    pub jwks: Doc,
    /// The signed revocation list.
    pub revocations: Doc,
    /// The signed Token Status Lists, by number.
    pub status_lists: BTreeMap<u64, Doc>,
    /// The kids the JWKS serves.
    pub kids: BTreeSet<String>,
    /// The active signing key.
    pub active_kid: String,
    /// The revocation list's epoch.
    pub epoch: u64,
    /// When it was built.
    pub refreshed: Instant,
    /// A validator over exactly these documents, for RFC 7662 introspection.
    pub introspector: Mutex<Validator>,
    /// What will break and when (`jwt-edge status`, 7-day window), for `/healthz`.
    pub findings: Vec<crate::issuer::rules::health::Finding>,
}

impl core::fmt::Debug for Published {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Published")
            .field("active_kid", &self.active_kid)
            .field("epoch", &self.epoch)
            .field("kids", &self.kids)
            .finish_non_exhaustive()
    }
}

/// The slot the handlers read and the writer replaces.
pub type Shared = Arc<RwLock<Option<Arc<Published>>>>;

/// The current published documents, if any.
pub fn current(shared: &Shared) -> Option<Arc<Published>> {
    shared.read().ok().and_then(|p| p.as_ref().map(Arc::clone))
}

/// The window of `/healthz`'s findings and the log (as `jwt-edge status`'s default).
const FINDINGS_WINDOW: u64 = 7 * 86_400;
/// Provisioning keys unused this long are reported.
const FINDINGS_UNUSED: u64 = 30 * 86_400;

/// A validator over the published JWKS and revocation list: the issuer's
/// own tokens (`typ: at+jwt`, its `iss`), for introspection.
fn introspector(s: &Settings, jwks: &str, list: &str) -> Result<Validator, Error> {
    let keys = KeySet::from_jwks(jwks.as_bytes())
        .map_err(|e| Error::crypto(format!("the published JWKS does not parse: {e}")))?;
    let policy = Policy::new()
        .issuer(s.issuer.clone())
        .typ(TOKEN_TYP)
        .require_claim("jti")
        .check_status_lists(true);
    let mut v = Validator::builder(policy)
        .keys(keys)
        .cache(0)
        .build()
        .map_err(|e| Error::crypto(format!("introspection validator: {e}")))?;
    v.install_revocations(list)
        .map_err(|e| Error::crypto(format!("the revocation list does not parse: {e}")))?;
    Ok(v)
}

impl Writer {
    /// Builds the documents from the store and installs them.
    pub(super) fn publish(&mut self) -> Result<(), Error> {
        // Read before building: a change committed while we build is seen
        // (and published) next time.
        let change = self.issuer.store().external_changes()?;
        let settings = self.issuer.settings()?;
        let now = unix_now();
        let jwks = self.issuer.jwks()?;
        let list = self.issuer.revocation_list(now)?;
        let epoch = list.epoch;
        let keys = self.issuer.keys()?;
        // The lists' ring's active key signs them (the primary ring by default).
        let lists_ring = settings.lists_ring();
        let active_kid = keys
            .iter()
            .find(|k| k.state() == KeyState::Active && k.ring == lists_ring)
            .map(|k| k.kid.clone())
            .ok_or_else(|| Error::crypto("the issuer has no active signing key"))?;
        let signed = match &self.signed {
            Some((e, kid, jws)) if *e == epoch && *kid == active_kid => jws.clone(),
            _ => {
                let jws = self.issuer.signed_revocation_list(now)?;
                self.signed = Some((epoch, active_kid.clone(), jws.clone()));
                jws
            }
        };
        let kids = jwks.kids().map(String::from).collect();
        // The signed lists, by number (made documents once installed below).
        let mut status_lists = BTreeMap::new();
        for rec in self.issuer.status_list_records()? {
            // Re-signed when a status in it changed, when the signing key
            // changed, or when a third of its lifetime has passed.
            let fresh = self.signed_lists.get(&rec.list).filter(|(v, kid, at, _)| {
                *v == rec.version
                    && *kid == active_kid
                    && now.saturating_sub(*at) < STATUS_LIST_LIFETIME / 3
            });
            let jws = match fresh {
                Some((.., jws)) => jws.clone(),
                None => {
                    let jws = self.issuer.status_list_token(rec.list, now)?;
                    self.signed_lists.insert(
                        rec.list,
                        (rec.version, active_kid.clone(), now, jws.clone()),
                    );
                    jws
                }
            };
            status_lists.insert(rec.list, jws);
        }
        let jwks_text = jwks.to_string();
        let mut introspector = introspector(&settings, &jwks_text, &list.to_json()?.to_string())?;
        for (n, jws) in &status_lists {
            let uri = crate::issuer::service::status_list_uri(&settings, *n);
            introspector
                .install_status_list(&uri, jws, now)
                .map_err(|e| Error::crypto(format!("status list {n} does not verify: {e}")))?;
        }
        let status_lists: BTreeMap<u64, Doc> = status_lists
            .into_iter()
            .map(|(n, jws)| (n, Doc::new(jws)))
            .collect();
        for k in &keys {
            let before = self.key_states.insert(k.kid.clone(), k.state());
            if before != Some(k.state()) {
                tracing::info!(
                    target: "jwt_edge::server",
                    kid = %k.kid,
                    from = before.map_or("-", KeyState::as_str),
                    to = k.state().as_str(),
                    "signing key state"
                );
            }
        }
        let backlog = self.issuer.audit_backlog()?;
        let (findings, _) = self.issuer.status_with_retention(
            now,
            FINDINGS_WINDOW,
            FINDINGS_UNUSED,
            Some((&backlog, self.upkeep.audit_retention)),
        )?;
        let entries = list.revoked.len();
        self.metrics.publish(
            &self.issuer.provisioning_keys()?,
            &keys,
            epoch,
            entries,
            &findings,
            backlog
                .newest_audit
                .saturating_sub(backlog.exported_through),
            backlog.bytes_in_use,
            now,
        );
        for f in &findings {
            let key = (f.kind, f.subject.clone());
            let due = self
                .findings_logged
                .get(&key)
                .is_none_or(|at| now.saturating_sub(*at) >= 86_400);
            if due {
                tracing::warn!(target: "jwt_edge::server", kind = f.kind, subject = %f.subject, "{}", f.message);
                self.findings_logged.insert(key, now);
            }
        }
        let new = Arc::new(Published {
            jwks: Doc::new(jwks_text),
            revocations: Doc::new(signed),
            status_lists,
            kids,
            active_kid,
            epoch,
            refreshed: Instant::now(),
            introspector: Mutex::new(introspector),
            findings,
        });
        if let Ok(mut slot) = self.shared.write() {
            let changed = slot.as_ref().is_none_or(|p| p.jwks.etag != new.jwks.etag);
            if changed && slot.is_some() {
                tracing::info!(target: "jwt_edge::server", active_kid = %new.active_kid, "JWKS changed");
            }
            *slot = Some(new);
        }
        self.published_at_change = Some(change);
        self.metrics.store_up.set(1);
        self.drain_warnings();
        Ok(())
    }

    /// Publishes if a kid (or status list) about to be handed out is not
    /// served yet (a status list the batch itself opened). Key state cannot
    /// have changed under the batch: it was signed only after the store's
    /// change counter, read under the writer lock, matched the published one.
    pub(super) fn publish_before_answer(&mut self, issued: &[&Issued]) -> Result<(), Error> {
        let shared = Arc::clone(&self.shared);
        let served = |i: &&Issued| {
            current(&shared).is_some_and(|p| {
                p.kids.contains(&i.kid)
                    && i.status_list
                        .is_none_or(|n| p.status_lists.contains_key(&n))
            })
        };
        if !issued.iter().all(served) {
            self.publish()?;
        }
        if let Some(i) = issued.iter().find(|i| !served(i)) {
            return Err(Error::crypto(format!(
                "signing key {} (or its status list) is not published; no token is handed out",
                i.kid
            )));
        }
        Ok(())
    }

    /// Publishes, logging and counting a failure.
    pub(super) fn publish_logged(&mut self) -> Result<(), Error> {
        let out = self.publish();
        if let Err(e) = &out {
            self.count_error(e);
            tracing::error!(target: "jwt_edge::server", code = e.code(), "publishing failed: {}", e.message());
        }
        out
    }
}
