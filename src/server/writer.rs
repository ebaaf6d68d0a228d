//! The store's single writer: one OS thread owns the [`Issuer`] (its SQLite
//! connection and its cache of decrypted signing keys) and runs the jobs the
//! async handlers send it. Issuances waiting in the queue are committed
//! together in one transaction (a group commit); every answer is sent only
//! after that commit, so no token leaves the server before its audit row is
//! durable (`synchronous=FULL`).

use std::collections::BTreeSet;
use std::string::{String, ToString};
use std::time::{SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use crate::issuer::lifecycle::KeyState;
use crate::issuer::{Error, IssueRequest, Issued, Issuer, Settings, SqliteStore};

/// What the writer publishes: the JWKS and the signed revocation list.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The JWKS (JSON text).
    pub jwks: String,
    /// The signed revocation list (compact JWS).
    pub revocations: String,
    /// The revocation list's epoch.
    pub epoch: u64,
    /// The active signing key.
    pub active_kid: String,
}

/// A job for the writer.
pub enum Job {
    /// Issue a token.
    Issue(IssueRequest, oneshot::Sender<Result<Issued, Error>>),
    /// Apply the rotation policy; answers the steps taken.
    Rotate(oneshot::Sender<Result<Vec<Value>, Error>>),
    /// Build the published documents.
    Publish(oneshot::Sender<Result<Snapshot, Error>>),
    /// Finish the queue and stop.
    Stop,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(crate) struct Writer {
    issuer: Issuer<SqliteStore>,
    batch_max: usize,
    /// The last signed revocation list and what it was signed for.
    signed: Option<(u64, String, String)>,
    warned: BTreeSet<String>,
}

impl Writer {
    pub(crate) fn new(issuer: Issuer<SqliteStore>, batch_max: usize) -> Self {
        Self {
            issuer,
            batch_max: batch_max.max(1),
            signed: None,
            warned: BTreeSet::new(),
        }
    }

    /// Startup: the settings, one rotation run (so there is an active key)
    /// and the first snapshot (which decrypts the active key, so a wrong
    /// passphrase fails here and not at the first request).
    pub(crate) fn start(&mut self) -> Result<(Settings, Snapshot), Error> {
        let settings = self.issuer.settings()?;
        let steps = self.issuer.rotate(unix_now())?;
        log_steps(&steps);
        let snap = self.publish()?;
        Ok((settings, snap))
    }

    fn drain_warnings(&mut self) {
        for w in self.issuer.take_warnings() {
            if self.warned.insert(w.clone()) {
                tracing::warn!(target: "jwt_edge::server", "{w}");
            }
        }
    }

    fn publish(&mut self) -> Result<Snapshot, Error> {
        let now = unix_now();
        let jwks = self.issuer.jwks()?.to_string();
        let list = self.issuer.revocation_list(now)?;
        let epoch = list.get("epoch").and_then(Value::as_u64).unwrap_or(0);
        let active_kid = self
            .issuer
            .keys()?
            .into_iter()
            .find(|k| k.state == KeyState::Active)
            .map(|k| k.kid)
            .ok_or_else(|| Error::crypto("the issuer has no active signing key"))?;
        let fresh = match &self.signed {
            Some((e, kid, jws)) if *e == epoch && *kid == active_kid => jws.clone(),
            _ => {
                let jws = self.issuer.signed_revocation_list(now)?;
                self.signed = Some((epoch, active_kid.clone(), jws.clone()));
                jws
            }
        };
        self.drain_warnings();
        Ok(Snapshot {
            jwks,
            revocations: fresh,
            epoch,
            active_kid,
        })
    }

    fn flush(&mut self, batch: &mut Vec<(IssueRequest, oneshot::Sender<Result<Issued, Error>>)>) {
        if batch.is_empty() {
            return;
        }
        let (reqs, replies): (Vec<_>, Vec<_>) = core::mem::take(batch).into_iter().unzip();
        match self.issuer.issue_batch(&reqs, unix_now()) {
            Ok(answers) => {
                for (reply, answer) in replies.into_iter().zip(answers) {
                    // A client that went away (timeout) still has its row.
                    let _ = reply.send(answer);
                }
            }
            Err(e) => {
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
                    Job::Rotate(reply) => {
                        self.flush(&mut batch);
                        let out = self.issuer.rotate(unix_now());
                        self.drain_warnings();
                        let _ = reply.send(out);
                    }
                    Job::Publish(reply) => {
                        self.flush(&mut batch);
                        let _ = reply.send(self.publish());
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
        tracing::info!(target: "jwt_edge::server", "store writer stopped");
    }
}

/// Logs rotation steps (kids and step names only).
pub(crate) fn log_steps(steps: &[Value]) {
    for s in steps {
        let step = s.get("step").and_then(Value::as_str).unwrap_or("");
        let kid = s.get("kid").and_then(Value::as_str).unwrap_or("");
        tracing::info!(target: "jwt_edge::server", step, kid, "key rotation");
    }
}
