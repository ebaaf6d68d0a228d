//! `jwt-edge prune`: deletes expired token rows, exported audit rows older
//! than the retention window and expired revocation entries.

use std::process::ExitCode;

use serde_json::json;

use crate::issuer_io::{dur, with_issuer, Common, Out};

/// Arguments of `jwt-edge prune`.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Keep audit rows this long (rows older than this leave only once
    /// exported: see `jwt-edge audit export`).
    #[arg(long = "audit-retention", default_value = "90d", value_parser = dur)]
    audit_retention: u64,
    /// Rows deleted per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: u64,
    #[command(flatten)]
    common: Common,
}

/// Runs `prune`: expired token rows, exported audit rows older than the
/// retention window, expired revocation entries; in bounded batches, one
/// short transaction each, audited in it as `store.prune`.
pub fn run(a: &PruneArgs) -> ExitCode {
    with_issuer(&a.common, false, |issuer, now| {
        let mut total = jwt_edge::issuer::store::Pruned::default();
        loop {
            let step = issuer.prune_step(now, a.audit_retention, a.batch.max(1))?;
            total.add(step);
            if step.total() == 0 {
                break;
            }
        }
        Ok(if a.common.json {
            Out::Json(json!(total))
        } else {
            Out::Lines(vec![format!(
                "pruned tokens={} audit={} revocations={}",
                total.tokens, total.audit, total.revocations
            )])
        })
    })
}
