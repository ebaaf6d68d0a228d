//! The store's single writer: one OS thread owns the [`Issuer`] (its store
//! connection and its cache of decrypted signing keys) and runs the jobs the
//! async handlers send it. Issuances waiting in the queue are committed
//! together in one transaction (a group commit); every answer is sent only
//! after that commit, so no token leaves the server before its audit row is
//! durable (SQLite `synchronous=FULL`, PostgreSQL `synchronous_commit = on`).
//!
//! The writer also owns publication: it is the only code that installs the
//! JWKS and the signed revocation list the handlers serve. Before it signs a
//! batch of issuances it checks, inside the batch's transaction (under the
//! store's writer lock), whether another process (the CLI, another replica
//! on the same PostgreSQL database) changed the store since it last
//! published; if so it publishes first and tries again. After the commit it
//! checks that every token's `kid` (and status list) is published. So no
//! `/token` answer carries a kid the server's own JWKS does not serve at that
//! moment, and a key revoked with `jwt-edge keys revoke` is not used for any
//! batch signed after the revocation committed.
//!
//! With several replicas, rotation, pruning and the audit sink run on the
//! leader only ([`crate::issuer::Store::lead`]).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::format;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use axum::body::Bytes;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::issuer::anomaly::{Anomaly, AnomalyConfig, Detector, Event};
use crate::issuer::lifecycle::KeyState;
use crate::issuer::provisioning::Presented;
use crate::issuer::service::{STATUS_LIST_LIFETIME, TOKEN_TYP};
use crate::issuer::store::{ProvisioningRecord, Pruned};
use crate::issuer::{
    AnyStore, ClientFailure, ClientRevocation, Error, ErrorKind, IssueRequest, Issued, Issuer,
    Refusal, Settings, Store,
};
use crate::{b64url_encode, KeySet, Policy, Validator};

use super::metrics::{AnomalyLabels, KindLabel, Metrics, SecretLabels};

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
    pub findings: Vec<crate::issuer::health::Finding>,
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

/// A job for the writer.
pub enum Job {
    /// Issue a token.
    Issue(IssueRequest, oneshot::Sender<Result<Issued, Error>>),
    /// RFC 7009: a client revokes its own token (`provisioning key`, `token`).
    Revoke(
        zeroize::Zeroizing<String>,
        zeroize::Zeroizing<String>,
        oneshot::Sender<Result<ClientRevocation, Error>>,
    ),
    /// Authenticate a client that needs a permission (`provisioning key`,
    /// permission); answers its id.
    Authorize(
        zeroize::Zeroizing<String>,
        &'static str,
        oneshot::Sender<Result<String, Error>>,
    ),
    /// A client rotates its own secret (`provisioning key`, overlap).
    RotateSecret(
        zeroize::Zeroizing<String>,
        u64,
        oneshot::Sender<Result<(ProvisioningRecord, zeroize::Zeroizing<String>), Error>>,
    ),
    /// One bounded pruning step (its own short transaction, audited in it).
    PruneStep(oneshot::Sender<Result<Pruned, Error>>),
    /// Apply the rotation policy; answers the steps taken (already published).
    Rotate(oneshot::Sender<Result<Vec<Value>, Error>>),
    /// Rebuild and install the published documents.
    Publish(oneshot::Sender<Result<(), Error>>),
    /// Finish the queue and stop.
    Stop,
}

/// The window of `/healthz`'s findings and the log (as `jwt-edge status`'s default).
const FINDINGS_WINDOW: u64 = 7 * 86_400;
/// Provisioning keys unused this long are reported.
const FINDINGS_UNUSED: u64 = 30 * 86_400;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

type Reply = oneshot::Sender<Result<Issued, Error>>;

/// What the writer does besides issuing: retention, the audit sink, the
/// anomaly rules.
#[derive(Debug, Clone)]
pub struct Upkeep {
    /// Audit rows older than this leave the store once exported.
    pub audit_retention: u64,
    /// Rows deleted per pruning transaction.
    pub prune_batch: u64,
    /// Where audit rows are streamed as JSON lines (`-`: stdout); each row
    /// is acknowledged (and so may be pruned) once written and synced.
    pub audit_log: Option<std::path::PathBuf>,
    /// Thresholds of the anomaly rules.
    pub anomaly: AnomalyConfig,
}

impl Default for Upkeep {
    fn default() -> Self {
        Self {
            audit_retention: 90 * 86_400,
            prune_batch: 1_000,
            audit_log: None,
            anomaly: AnomalyConfig::default(),
        }
    }
}

/// An open audit sink and the last row written to it.
struct AuditSink {
    out: Option<std::fs::File>,
    cursor: u64,
}

pub(crate) struct Writer {
    issuer: Issuer<AnyStore>,
    batch_max: usize,
    shared: Shared,
    /// The store's change counter when the documents were last built.
    published_at_change: Option<u64>,
    /// The last signed revocation list and what it was signed for.
    signed: Option<(u64, String, String)>,
    /// Signed status lists: list -> (version, signing kid, signed at, JWS).
    signed_lists: BTreeMap<u64, (u64, String, u64, String)>,
    /// Key states as last published (for one log line per change).
    key_states: BTreeMap<String, KeyState>,
    /// When each finding (kind, subject) was last logged: once a day each.
    findings_logged: BTreeMap<(&'static str, String), u64>,
    warned: BTreeSet<String>,
    metrics: Arc<Metrics>,
    detector: Detector,
    upkeep: Upkeep,
    sink: Option<AuditSink>,
    /// Whether this replica leads (asked at start and at every rotation tick).
    leading: bool,
}

impl Writer {
    pub(crate) fn new(
        issuer: Issuer<AnyStore>,
        batch_max: usize,
        shared: Shared,
        metrics: Arc<Metrics>,
        upkeep: Upkeep,
    ) -> Self {
        Self {
            issuer,
            batch_max: batch_max.max(1),
            shared,
            published_at_change: None,
            signed: None,
            signed_lists: BTreeMap::new(),
            key_states: BTreeMap::new(),
            findings_logged: BTreeMap::new(),
            warned: BTreeSet::new(),
            metrics,
            detector: Detector::new(upkeep.anomaly.clone()),
            upkeep,
            sink: None,
            leading: false,
        }
    }

    fn count_error(&self, e: &Error) {
        if e.kind() == ErrorKind::Storage {
            self.metrics.store_errors.inc();
            self.metrics.store_up.set(0);
        }
    }

    /// Asks the store whether this replica leads (logs changes). A store
    /// that cannot be reached is led from nowhere here.
    fn lead(&mut self) -> bool {
        let now = match self.issuer.store_mut().lead() {
            Ok(v) => v,
            Err(e) => {
                self.count_error(&e);
                false
            }
        };
        if now != self.leading {
            if now {
                tracing::info!(target: "jwt_edge::server", "leadership acquired: this replica runs rotation, pruning and the audit sink");
            } else {
                tracing::warn!(target: "jwt_edge::server", "leadership lost: another replica (or none while the store is unreachable) runs rotation");
            }
        }
        self.leading = now;
        self.metrics.leader.set(i64::from(now));
        now
    }

    /// Opens the audit sink (appending) at the store's export cursor.
    fn open_sink(&mut self) -> Result<(), Error> {
        let Some(path) = &self.upkeep.audit_log else {
            return Ok(());
        };
        let out = if path.as_os_str() == "-" {
            None
        } else {
            Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| {
                        Error::usage(format!("cannot open --audit-log {}: {e}", path.display()))
                    })?,
            )
        };
        let cursor = self.issuer.audit_exported_through()?;
        self.sink = Some(AuditSink { out, cursor });
        Ok(())
    }

    /// Appends the audit rows after the sink's cursor (JSON lines), syncs,
    /// then acknowledges them (so retention may prune them later).
    fn stream_audit(&mut self) {
        if !self.leading {
            // The leader exports; each row leaves through exactly one sink.
            return;
        }
        let Some(sink) = self.sink.as_mut() else {
            return;
        };
        let start = sink.cursor;
        loop {
            let rows = match self.issuer.audit_export(sink.cursor, 1_000) {
                Ok(r) => r,
                Err(e) => {
                    if e.kind() == ErrorKind::Storage {
                        self.metrics.store_errors.inc();
                    }
                    tracing::error!(target: "jwt_edge::server", code = e.code(), "audit export failed: {}", e.message());
                    return;
                }
            };
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            let mut text = String::new();
            for r in &rows {
                text.push_str(&serde_json::to_string(r).unwrap_or_default());
                text.push('\n');
            }
            let written = match &mut sink.out {
                Some(f) => {
                    use std::io::Write;
                    f.write_all(text.as_bytes()).and_then(|()| f.sync_data())
                }
                None => {
                    use std::io::Write;
                    let mut o = std::io::stdout().lock();
                    o.write_all(text.as_bytes()).and_then(|()| o.flush())
                }
            };
            if let Err(e) = written {
                tracing::error!(target: "jwt_edge::server", "audit log write failed (rows kept, retried): {e}");
                return;
            }
            sink.cursor = last;
            if rows.len() < 1_000 {
                break;
            }
        }
        if sink.cursor != start {
            if let Err(e) = self.issuer.acknowledge_audit(sink.cursor) {
                tracing::error!(target: "jwt_edge::server", code = e.code(), "audit acknowledgement failed: {}", e.message());
            }
        }
    }

    /// Metrics and anomaly rules for one answered batch (in memory); returns
    /// the anomalies, to be recorded once the answers are sent.
    fn observe(
        &mut self,
        reqs: &[IssueRequest],
        answers: &[Result<Issued, Error>],
        now: u64,
    ) -> Vec<Anomaly> {
        let mut found = Vec::new();
        for (req, answer) in reqs.iter().zip(answers) {
            match answer {
                Ok(issued) => {
                    self.metrics
                        .last_used
                        .get_or_create(&SecretLabels {
                            client_id: issued.client_id.clone(),
                            key: issued.secret.label().into(),
                        })
                        .set(i64::try_from(now).unwrap_or(i64::MAX));
                    let scopes: Vec<String> = issued
                        .claims
                        .get("scope")
                        .and_then(Value::as_str)
                        .map(|s| s.split(' ').map(String::from).collect())
                        .unwrap_or_default();
                    let audiences: Vec<String> = match issued.claims.get("aud") {
                        Some(Value::String(a)) => std::vec![a.clone()],
                        Some(Value::Array(a)) => a
                            .iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect(),
                        _ => Vec::new(),
                    };
                    found.extend(self.detector.observe(&Event {
                        client_id: &issued.client_id,
                        source: req.source,
                        scopes: &scopes,
                        audiences: &audiences,
                        issued: true,
                        at: now,
                    }));
                }
                Err(e) => {
                    // Refusals of an existing key count against it.
                    let known = !matches!(
                        e.refusal(),
                        None | Some(Refusal::Client(
                            ClientFailure::Malformed | ClientFailure::Unknown
                        ))
                    );
                    let id = Presented::parse(&req.provisioning_key).ok().map(|p| p.id);
                    if let (true, Some(id)) = (known, id) {
                        found.extend(self.detector.observe(&Event {
                            client_id: &id,
                            source: req.source,
                            scopes: &[],
                            audiences: &[],
                            issued: false,
                            at: now,
                        }));
                    }
                }
            }
        }
        found
    }

    /// Logs, counts and audits the anomalies of a batch.
    fn record(&mut self, found: &[Anomaly]) {
        if found.is_empty() {
            return;
        }
        for a in found {
            tracing::warn!(target: "jwt_edge::server", rule = a.rule.as_str(), client_id = %a.client_id, "issuance anomaly: {}", a.detail);
            self.metrics
                .anomalies
                .get_or_create(&AnomalyLabels {
                    rule: a.rule.as_str().into(),
                    client_id: a.client_id.clone(),
                })
                .inc();
        }
        if let Err(e) = self.issuer.record_anomalies(found) {
            self.count_error(&e);
            tracing::error!(target: "jwt_edge::server", code = e.code(), "recording anomalies failed: {}", e.message());
        }
    }

    /// Startup: the settings, one rotation run (so there is an active key)
    /// and the first publication (which decrypts the active key, so a wrong
    /// passphrase fails here and not at the first request).
    pub(crate) fn start(&mut self) -> Result<(Settings, Arc<Published>), Error> {
        let settings = self.issuer.settings()?;
        if self.lead() {
            let steps = self.issuer.rotate(unix_now())?;
            log_steps(&steps);
        }
        self.open_sink()?;
        self.publish()?;
        let p = current(&self.shared).ok_or_else(|| Error::storage("nothing published"))?;
        Ok((settings, p))
    }

    fn drain_warnings(&mut self) {
        for w in self.issuer.take_warnings() {
            if self.warned.insert(w.clone()) {
                tracing::warn!(target: "jwt_edge::server", "{w}");
            }
        }
    }

    /// Builds the documents from the store and installs them.
    fn publish(&mut self) -> Result<(), Error> {
        // Read before building: a change committed while we build is seen
        // (and published) next time.
        let change = self.issuer.store().external_changes()?;
        let settings = self.issuer.settings()?;
        let now = unix_now();
        let jwks = self.issuer.jwks()?;
        let list = self.issuer.revocation_list(now)?;
        let epoch = list.get("epoch").and_then(Value::as_u64).unwrap_or(0);
        let keys = self.issuer.keys()?;
        let active_kid = keys
            .iter()
            .find(|k| k.state == KeyState::Active)
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
        let kids = jwks
            .get("keys")
            .and_then(Value::as_array)
            .map(|ks| {
                ks.iter()
                    .filter_map(|k| k.get("kid").and_then(Value::as_str).map(String::from))
                    .collect()
            })
            .unwrap_or_default();
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
            status_lists.insert(rec.list, Doc::new(jws));
        }
        let jwks_text = jwks.to_string();
        let mut introspector = introspector(&settings, &jwks_text, &list.to_string())?;
        for (n, doc) in &status_lists {
            let uri = crate::issuer::service::status_list_uri(&settings, *n);
            let text = core::str::from_utf8(&doc.body).unwrap_or_default();
            introspector
                .install_status_list(&uri, text, now)
                .map_err(|e| Error::crypto(format!("status list {n} does not verify: {e}")))?;
        }
        for k in &keys {
            let before = self.key_states.insert(k.kid.clone(), k.state);
            if before != Some(k.state) {
                tracing::info!(
                    target: "jwt_edge::server",
                    kid = %k.kid,
                    from = before.map_or("-", KeyState::as_str),
                    to = k.state.as_str(),
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
        let entries = list
            .get("revoked")
            .and_then(Value::as_object)
            .map_or(0, |r| {
                r.values().filter_map(Value::as_array).map(Vec::len).sum()
            });
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
    fn publish_before_answer(&mut self, issued: &[&Issued]) -> Result<(), Error> {
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

    /// Issues the batch under the published key state: if another process
    /// (the CLI, another replica) changed the store since the last
    /// publication, publishes first and tries again (three times at most).
    fn issue_published(
        &mut self,
        reqs: &[IssueRequest],
        now: u64,
    ) -> Result<Vec<Result<Issued, Error>>, Error> {
        for _ in 0..3 {
            let published = self.published_at_change;
            if let Some(answers) = self
                .issuer
                .issue_batch_unless_changed(reqs, now, published)?
            {
                return Ok(answers);
            }
            self.publish()?;
        }
        Err(Error::storage(
            "the store kept changing under the batch (three publications); try again",
        ))
    }

    fn flush(&mut self, batch: &mut Vec<(IssueRequest, Reply)>) {
        if batch.is_empty() {
            return;
        }
        let (reqs, replies): (Vec<_>, Vec<_>) = core::mem::take(batch).into_iter().unzip();
        let now = unix_now();
        match self.issue_published(&reqs, now) {
            Ok(answers) => {
                let issued: Vec<&Issued> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
                if let Err(e) = self.publish_before_answer(&issued) {
                    self.count_error(&e);
                    tracing::error!(target: "jwt_edge::server", code = e.code(), "tokens withheld: {}", e.message());
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                    return;
                }
                self.metrics.store_up.set(1);
                let found = self.observe(&reqs, &answers, now);
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A client that went away (timeout) still has its row.
                    let _ = reply.send(answer);
                }
                self.record(&found);
            }
            Err(e) => {
                self.count_error(&e);
                tracing::error!(target: "jwt_edge::server", code = e.code(), "issuance batch failed: {}", e.message());
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        self.drain_warnings();
    }

    fn publish_logged(&mut self) -> Result<(), Error> {
        let out = self.publish();
        if let Err(e) = &out {
            self.count_error(e);
            tracing::error!(target: "jwt_edge::server", code = e.code(), "publishing failed: {}", e.message());
        }
        out
    }

    /// Runs jobs until [`Job::Stop`] or until every sender is gone.
    pub(crate) fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut batch = Vec::new();
        while let Some(first) = jobs.blocking_recv() {
            let mut next = Some(first);
            let mut stop = false;
            while let Some(job) = next.take() {
                match job {
                    Job::Issue(req, reply) => {
                        batch.push((req, reply));
                        if batch.len() >= self.batch_max {
                            self.flush(&mut batch);
                        }
                    }
                    Job::Revoke(key, token, reply) => {
                        self.flush(&mut batch);
                        let out = self.issuer.revoke_by_client(&key, &token, unix_now());
                        if out == Ok(ClientRevocation::Revoked) {
                            // Served (and introspected) as revoked from now on.
                            let _ = self.publish_logged();
                        }
                        let _ = reply.send(out);
                    }
                    Job::Authorize(key, permission, reply) => {
                        let out = self
                            .issuer
                            .authorize(&key, permission, unix_now())
                            .map(|pk| pk.id);
                        let _ = reply.send(out);
                    }
                    Job::RotateSecret(key, overlap, reply) => {
                        self.flush(&mut batch);
                        let out = self.issuer.rotate_own_secret(&key, overlap, unix_now());
                        if let Ok((rec, _)) = &out {
                            tracing::info!(target: "jwt_edge::server", client_id = %rec.id, "provisioning key rotated by its client");
                            let _ = self.publish_logged();
                        }
                        let _ = reply.send(out);
                    }
                    Job::PruneStep(reply) => {
                        self.flush(&mut batch);
                        // Retention is the leader's.
                        let out = if self.leading {
                            self.issuer.prune_step(
                                unix_now(),
                                self.upkeep.audit_retention,
                                self.upkeep.prune_batch,
                            )
                        } else {
                            Ok(Pruned::default())
                        };
                        match &out {
                            Ok(p) => {
                                for (table, n) in [
                                    ("tokens", p.tokens),
                                    ("audit", p.audit),
                                    ("revocations", p.revocations),
                                ] {
                                    if n > 0 {
                                        self.metrics
                                            .pruned
                                            .get_or_create(&KindLabel { kind: table.into() })
                                            .inc_by(n);
                                    }
                                }
                                if p.revocations > 0 {
                                    let _ = self.publish_logged();
                                }
                            }
                            Err(e) => self.count_error(e),
                        }
                        let _ = reply.send(out);
                    }
                    Job::Rotate(reply) => {
                        self.flush(&mut batch);
                        // Only the leader rotates; another replica's
                        // changes reach this one through the store's
                        // change counter.
                        let out = if self.lead() {
                            self.issuer.rotate(unix_now())
                        } else {
                            Ok(Vec::new())
                        };
                        if let Ok(steps) = &out {
                            log_steps(steps);
                            if !steps.is_empty() {
                                // Our own change: published before any
                                // token is signed under it.
                                let _ = self.publish_logged();
                            }
                        }
                        self.drain_warnings();
                        let _ = reply.send(out);
                    }
                    Job::Publish(reply) => {
                        self.flush(&mut batch);
                        self.stream_audit();
                        let _ = reply.send(self.publish_logged());
                    }
                    Job::Stop => stop = true,
                }
                if stop {
                    break;
                }
                next = jobs.try_recv().ok();
            }
            self.flush(&mut batch);
            if stop {
                break;
            }
        }
        self.flush(&mut batch);
        self.stream_audit();
        tracing::info!(target: "jwt_edge::server", "store writer stopped");
    }
}

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

/// Logs rotation steps (kids and step names only).
pub(crate) fn log_steps(steps: &[Value]) {
    for s in steps {
        let step = s.get("step").and_then(Value::as_str).unwrap_or("");
        let kid = s.get("kid").and_then(Value::as_str).unwrap_or("");
        tracing::info!(target: "jwt_edge::server", step, kid, "key rotation");
    }
}
