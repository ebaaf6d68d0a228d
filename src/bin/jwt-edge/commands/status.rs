//! `jwt-edge status`: what will break and when, and how the store grows.

use std::io;
use std::process::ExitCode;

use serde_json::{json, Value};

use crate::io::{print_err, print_json};
use crate::issuer_io::{dur, fail, now, open, Common};

/// Arguments of `jwt-edge status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Report what breaks within this window (provisioning keys expiring).
    #[arg(long, default_value = "7d", value_parser = dur)]
    warn: u64,
    /// Report provisioning keys not used for this long.
    #[arg(long, default_value = "30d", value_parser = dur)]
    unused: u64,
    /// The audit retention window (as `serve`/`prune --audit-retention`):
    /// unexported audit rows older than this are reported.
    #[arg(long = "audit-retention", default_value = "90d", value_parser = dur)]
    audit_retention: u64,
    #[command(flatten)]
    common: Common,
}

/// Runs `status`: exit 0 when healthy, 1 when something is within the
/// window (or already broken), 2 on errors.
pub fn run(a: &StatusArgs) -> ExitCode {
    let mut issuer = match open(&a.common, false) {
        Ok(i) => i,
        Err(e) => return fail(&e, a.common.json),
    };
    let out = now(&a.common).and_then(|n| {
        let growth = issuer.growth(n)?;
        let report = issuer.status_with_retention(
            n,
            a.warn,
            a.unused,
            Some((&growth, a.audit_retention)),
        )?;
        Ok((report, growth))
    });
    let ((findings, counts), growth) = match out {
        Ok(v) => v,
        Err(e) => return fail(&e, a.common.json),
    };
    let per_day: serde_json::Map<String, Value> = growth
        .actions_24h
        .iter()
        .map(|(action, n)| (action.clone(), Value::from(*n)))
        .collect();
    // The files' sizes (SQLite); a PostgreSQL store reports its tables' size.
    let (db_bytes, wal_bytes) = match a.common.store.db_url().sqlite_path() {
        Some(p) => {
            let size = |suffix: &str| {
                std::fs::metadata(format!("{}{suffix}", p.display())).map_or(0, |m| m.len())
            };
            (size(""), size("-wal"))
        }
        None => (growth.bytes_in_use, 0),
    };
    if a.common.json {
        let rows: serde_json::Map<String, Value> = counts
            .iter()
            .map(|(t, n)| ((*t).to_owned(), Value::from(*n)))
            .collect();
        let _ = print_json(&json!({
            "healthy": findings.is_empty(),
            "findings": findings.iter().map(jwt_edge::issuer::rules::health::Finding::to_json).collect::<Vec<_>>(),
            "store": {
                "bytes": db_bytes,
                "wal_bytes": wal_bytes,
                "bytes_in_use": growth.bytes_in_use,
                "bytes_free": growth.bytes_free,
                "rows": rows,
                "audit_rows_last_24h": per_day,
                "audit_exported_through": growth.exported_through,
                "audit_unexported": growth.newest_audit.saturating_sub(growth.exported_through),
            },
        }));
    } else {
        use std::io::Write;
        let mut o = io::stdout().lock();
        for f in &findings {
            let _ = writeln!(o, "WARN\t{}\t{}", f.kind, f.message);
        }
        let rows: Vec<String> = counts.iter().map(|(t, n)| format!("{t}={n}")).collect();
        let day: Vec<String> = growth
            .actions_24h
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        let _ = writeln!(
            o,
            "GROWTH\tlast 24h: {}\taudit exported through row {} ({} not exported)",
            if day.is_empty() {
                "-".into()
            } else {
                day.join(" ")
            },
            growth.exported_through,
            growth.newest_audit.saturating_sub(growth.exported_through)
        );
        let _ = writeln!(
            o,
            "{}\tstore {} bytes (+{} WAL)\t{}",
            if findings.is_empty() {
                "OK"
            } else {
                "ATTENTION"
            },
            db_bytes,
            wal_bytes,
            rows.join(" ")
        );
    }
    for w in issuer.take_warnings() {
        print_err(&w);
    }
    ExitCode::from(u8::from(!findings.is_empty()))
}
