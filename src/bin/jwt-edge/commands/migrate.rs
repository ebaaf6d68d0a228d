//! `jwt-edge migrate`: copies a SQLite store into an empty PostgreSQL
//! database (feature `postgres`).

use std::process::ExitCode;

use jwt_edge::issuer::StoreUrl;
use serde_json::json;
use zeroize::Zeroizing;

use crate::io::print_json;
use crate::issuer_io::{fail, usage};

/// Arguments of `jwt-edge migrate`.
#[derive(Debug, clap::Args)]
pub struct MigrateArgs {
    /// The SQLite store to copy: sqlite:PATH (stop `jwt-edge serve` on it first).
    #[arg(long, value_name = "sqlite:PATH")]
    from: String,
    /// The empty PostgreSQL database to copy it into: postgres://USER@HOST/DB
    /// [else env: JWT_EDGE_DB, which keeps a password out of the process list].
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Structured output as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `migrate`: copies a SQLite store into an empty PostgreSQL database
/// table by table in one transaction, verifying every table's row count.
pub fn run(a: &MigrateArgs) -> ExitCode {
    let to =
        a.to.clone()
            .or_else(|| std::env::var("JWT_EDGE_DB").ok())
            .map(Zeroizing::new);
    let out = match to {
        Some(to) if matches!(StoreUrl::parse(&to), StoreUrl::Postgres(_)) => {
            jwt_edge::issuer::store::migrate::sqlite_to_postgres(
                &jwt_edge::issuer::store::migrate::source_path(&a.from),
                &to,
            )
        }
        _ => Err(usage(
            "--to (or JWT_EDGE_DB) must be a postgres:// or postgresql:// URL",
        )),
    };
    match out {
        Ok(copied) => {
            let total: u64 = copied.iter().map(|c| c.rows).sum();
            if a.json {
                let _ = print_json(&json!({"copied": copied, "rows": total, "verified": true}));
            } else {
                for c in &copied {
                    println!("{}\t{} rows (verified)", c.table, c.rows);
                }
                println!("copied {total} rows; point every server at the new --db");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, a.json),
    }
}
