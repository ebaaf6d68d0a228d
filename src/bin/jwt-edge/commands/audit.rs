//! `jwt-edge audit`: prints the audit log, or exports it resumably
//! (`audit export`).

use std::process::ExitCode;

use jwt_edge::issuer::Error;

use crate::issuer_io::{with_issuer, Common, Out};

/// Arguments of `jwt-edge audit`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Only rows at or after this time (unix seconds).
    #[arg(long, value_name = "UNIX_SECS", default_value_t = 0)]
    since: u64,
    /// Only rows of this action (e.g. `anomaly`, `token.issue`, `provision.rotate`).
    #[arg(long)]
    action: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// The `audit` subcommands.
#[derive(Debug, clap::Subcommand)]
enum AuditCommand {
    /// Export audit rows as JSON lines, resumably: rows after the cursor
    /// --since (a row id; 0 for the first), in order. Resume with the last
    /// printed row's `id`. Asking for rows after a cursor acknowledges every
    /// row up to it as stored: only acknowledged rows are ever pruned.
    Export {
        /// The cursor: the `id` of the last row already stored.
        #[arg(long, value_name = "CURSOR", default_value_t = 0)]
        since: u64,
        /// Most rows printed.
        #[arg(long, default_value_t = 10_000)]
        limit: u64,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `audit`.
pub fn run(a: &AuditArgs) -> ExitCode {
    if let Some(AuditCommand::Export {
        since,
        limit,
        common,
    }) = &a.command
    {
        return with_issuer(common, false, |issuer, _| {
            let mut lines = Vec::new();
            for r in issuer.audit_export(*since, *limit)? {
                lines.push(serde_json::to_string(&r).map_err(|e| Error::storage(e.to_string()))?);
            }
            Ok(Out::Lines(lines))
        });
    }
    with_issuer(&a.common, false, |issuer, _| {
        let rows = issuer.audit(a.since)?;
        let mut lines = Vec::new();
        for r in rows
            .into_iter()
            .filter(|r| a.action.as_ref().is_none_or(|x| *x == r.action.as_str()))
        {
            if a.common.json {
                lines.push(serde_json::to_string(&r).map_err(|e| Error::storage(e.to_string()))?);
            } else {
                lines.push(format!(
                    "{}\t{}\t{}\t{}\t{}\tkid={}\tjti={}\tsub={}\tpk={}\t{}",
                    r.id,
                    r.at,
                    r.action,
                    r.outcome,
                    r.actor,
                    r.kid.as_deref().unwrap_or("-"),
                    r.jti.as_deref().unwrap_or("-"),
                    r.sub.as_deref().unwrap_or("-"),
                    r.provisioning_key_id.as_deref().unwrap_or("-"),
                    r.detail.as_deref().unwrap_or("")
                ));
            }
        }
        Ok(Out::Lines(lines))
    })
}
