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

mod publish;
mod upkeep;

use crate::issuer::rules::provisioning::Permission;
use crate::issuer::service::StepTaken;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::string::String;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use tokio::sync::{mpsc, oneshot};

use crate::issuer::rules::anomaly::Detector;
use crate::issuer::rules::lifecycle::KeyState;
use crate::issuer::store::{ProvisioningRecord, Pruned};
use crate::issuer::{
    AnyStore, ClientRevocation, Credential, Error, ErrorKind, IssueRequest, Issued, Issuer,
    Settings, Store,
};

use super::metrics::{KindLabel, Metrics};

pub use publish::{current, Doc, Published, Shared};
use upkeep::AuditSink;
pub use upkeep::Upkeep;

/// A job for the writer.
pub enum Job {
    /// Issue a token.
    Issue(IssueRequest, oneshot::Sender<Result<Issued, Error>>),
    /// RFC 7009: a client revokes its own token (`provisioning key`, `token`).
    Revoke(
        Credential,
        zeroize::Zeroizing<String>,
        oneshot::Sender<Result<ClientRevocation, Error>>,
    ),
    /// Authenticate a client that needs a permission (`provisioning key`,
    /// permission); answers its id.
    Authorize(
        Credential,
        Permission,
        oneshot::Sender<Result<String, Error>>,
    ),
    /// A client rotates its own secret (`provisioning key`, overlap).
    RotateSecret(
        Credential,
        u64,
        oneshot::Sender<Result<(ProvisioningRecord, zeroize::Zeroizing<String>), Error>>,
    ),
    /// One bounded pruning step (its own short transaction, audited in it).
    PruneStep(oneshot::Sender<Result<Pruned, Error>>),
    /// Apply the rotation policy; answers the steps taken (already published).
    Rotate(oneshot::Sender<Result<Vec<StepTaken>, Error>>),
    /// Rebuild and install the published documents.
    Publish(oneshot::Sender<Result<(), Error>>),
    /// Finish the queue and stop.
    Stop,
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

type Reply = oneshot::Sender<Result<Issued, Error>>;

/// The store's single writer (see the module documentation).
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

/// Logs rotation steps (kids and step names only).
pub(crate) fn log_steps(steps: &[StepTaken]) {
    for s in steps {
        let (step, kid) = (s.step.as_str(), s.kid.as_str());
        tracing::info!(target: "jwt_edge::server", step, kid, "key rotation");
    }
}
