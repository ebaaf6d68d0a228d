//! What the writer does besides issuing and publishing: the audit sink
//! (rows streamed as JSON lines, then acknowledged), the anomaly rules over
//! each answered batch, and their settings ([`Upkeep`]).

use std::format;
use std::string::String;
use std::vec::Vec;

use serde_json::Value;

use crate::issuer::rules::anomaly::{Anomaly, AnomalyConfig, Event};
use crate::issuer::store::AuditRecord;
use crate::issuer::{ClientFailure, Error, ErrorKind, IssueRequest, Issued, Refusal};

use crate::server::metrics::{AnomalyLabels, SecretLabels};

use super::Writer;

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
pub(super) struct AuditSink {
    out: Option<std::fs::File>,
    cursor: u64,
}

impl Writer {
    /// Opens the audit sink (appending) at the store's export cursor.
    pub(super) fn open_sink(&mut self) -> Result<(), Error> {
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
    pub(super) fn stream_audit(&mut self) {
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
            if rows.is_empty() {
                break;
            }
            let (text, through, complete) = audit_lines(&rows);
            let Some(last) = through else {
                // The first row cannot be serialised (logged): nothing moves.
                break;
            };
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
            if !complete || rows.len() < 1_000 {
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
    pub(super) fn observe(
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
                    let id = req.credential.client_id();
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
    pub(super) fn record(&mut self, found: &[Anomaly]) {
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
}

/// The audit rows as JSON lines, up to the first one that cannot be
/// serialised (logged: it and the rows after it are neither written nor
/// acknowledged, so they are retried and never pruned unexported); the id of
/// the last row in the lines; whether every row is in them.
fn audit_lines(rows: &[AuditRecord]) -> (String, Option<u64>, bool) {
    let mut text = String::new();
    let mut through = None;
    for r in rows {
        match serde_json::to_string(r) {
            Ok(line) => {
                text.push_str(&line);
                text.push('\n');
                through = Some(r.id);
            }
            Err(e) => {
                tracing::error!(target: "jwt_edge::server", row = r.id, "audit row cannot be serialised; it and the rows after it are kept for the next export: {e}");
                return (text, through, false);
            }
        }
    }
    (text, through, true)
}
