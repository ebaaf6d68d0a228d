//! `jwt-edge inspect [--now UNIX_SECS] <TOKEN | ->`: decodes a token without
//! verifying it and prints the library's warnings. Nothing printed here may be
//! used for an access decision.

use std::process::ExitCode;

use serde_json::{json, Value};

use crate::io::{self, Failure};

/// Arguments of `jwt-edge inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Current time in unix seconds for the time warnings (default: the system clock).
    #[arg(long, value_name = "UNIX_SECS")]
    now: Option<u64>,
    /// The compact JWS, or `-` to read it from stdin.
    #[arg(value_name = "TOKEN | -")]
    token: String,
}

/// Runs `inspect` and returns the exit status.
pub fn run(args: &InspectArgs) -> ExitCode {
    match execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

fn execute(args: &InspectArgs) -> Result<(), Failure> {
    let now = io::now_or_clock(args.now)?;
    let token = io::read_token(&args.token)?;
    let inspection = jwt_edge::inspect(&token, Some(now)).map_err(|e| Failure::rejected(&e))?;
    let warnings: Vec<Value> = inspection
        .warnings
        .iter()
        .map(|w| json!({ "code": w.code, "message": w.message }))
        .collect();
    io::print_json(&json!({
        "header": inspection.header,
        "claims": inspection.claims,
        "warnings": warnings,
    }))
}
