//! Shared plumbing for every command: reading the token and files, writing
//! one-line JSON to stdout, the one `--json` error shape ([`JsonError`]), and
//! turning failures into exit statuses.
//!
//! Nothing here decides anything about tokens or keys; that is the library's job.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

// Exit status 0 (`ExitCode::SUCCESS`): the token verified, or was decoded.

/// Exit status: the token was rejected (or could not be decoded).
pub const EXIT_REJECTED: u8 = 1;
/// Exit status: usage or configuration error (bad flags, unreadable or invalid files).
pub const EXIT_USAGE: u8 = 2;

/// A failure that ends a command: the line to print on stderr and the exit status.
#[derive(Debug)]
pub struct Failure {
    status: u8,
    line: String,
}

impl Failure {
    /// A usage error (exit 2), printed as `error: <message>`.
    pub fn usage(message: impl core::fmt::Display) -> Self {
        Self {
            status: EXIT_USAGE,
            line: format!("error: {message}"),
        }
    }

    /// A configuration error from the library (exit 2), printed as
    /// `<CODE>: <context>: <message>` so that the code comes first.
    pub fn config(err: &jwt_edge::Error, context: impl core::fmt::Display) -> Self {
        Self {
            status: EXIT_USAGE,
            line: format!("{}: {context}: {}", err.code(), err.message()),
        }
    }

    /// A library error that rejects the input (exit 1), printed as `<CODE>: <message>`.
    pub fn rejected(err: &jwt_edge::Error) -> Self {
        Self {
            status: EXIT_REJECTED,
            line: err.to_string(),
        }
    }

    /// Prints the failure on stderr and returns its exit status.
    pub fn report(self) -> ExitCode {
        print_err(&self.line);
        ExitCode::from(self.status)
    }
}

/// Writes one line to stderr. A closed stderr is ignored: there is nowhere
/// left to report it, and the exit status still carries the verdict.
pub fn print_err(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Writes `value` to stdout as compact JSON on one newline-terminated line.
///
/// A closed stdout (`BrokenPipe`, e.g. `jwt-edge ... | head -c0`) is not an
/// error: the reader went away and the exit status still carries the verdict.
///
/// # Errors
/// Any other write failure, as a usage/environment error (exit 2).
pub fn print_json(value: &Value) -> Result<(), Failure> {
    let mut line = value.to_string();
    line.push('\n');
    let mut out = io::stdout().lock();
    match out.write_all(line.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::usage(format_args!("cannot write to stdout: {e}"))),
    }
}

/// The `--json` error every command prints on stdout when it fails:
/// `{"error":{...}}`, the object in the library's one error shape
/// ([`jwt_edge::Error::to_json`]): `code`, `message`, the details of a
/// rejected token (`claim`, `reason`, `revocationReason`, …) when it has
/// them, and `retryable`.
#[derive(Debug)]
pub struct JsonError(Value);

impl JsonError {
    /// A verification error, as the library renders it.
    ///
    /// # Errors
    /// The library's JSON does not parse (never expected), as a usage error.
    pub fn verification(err: &jwt_edge::Error) -> Result<Self, Failure> {
        serde_json::from_str(&err.to_json())
            .map(Self)
            .map_err(|e| Failure::usage(format_args!("cannot encode the error as JSON: {e}")))
    }

    /// An issuer error: its code and message; retryable when the store
    /// failed (the server answers those 503 with `Retry-After`).
    #[cfg(feature = "issuer")]
    pub fn issuer(err: &jwt_edge::issuer::Error) -> Self {
        Self(json!({
            "code": err.code(),
            "message": err.message(),
            "retryable": err.kind() == jwt_edge::issuer::ErrorKind::Storage,
        }))
    }

    /// Prints `{"error":{...}}` on stdout (see [`print_json`]).
    ///
    /// # Errors
    /// Stdout cannot be written (exit 2).
    pub fn print(self) -> Result<(), Failure> {
        print_json(&json!({ "error": self.0 }))
    }
}

/// Reads the token from the positional argument, or from stdin when it is `-`.
/// From stdin one trailing newline (from a pipe or file) is removed; nothing
/// else is changed, so the CLI and the npm package judge the same bytes.
///
/// # Errors
/// Stdin cannot be read or is not UTF-8 (exit 2).
pub fn read_token(arg: &str) -> Result<String, Failure> {
    if arg != "-" {
        // Exactly as given: the validator judges every byte, as the npm package does.
        return Ok(arg.to_owned());
    }
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .read_to_end(&mut bytes)
        .map_err(|e| Failure::usage(format_args!("cannot read the token from stdin: {e}")))?;
    let mut text = String::from_utf8(bytes)
        .map_err(|_| Failure::usage("the token read from stdin is not valid UTF-8"))?;
    // One trailing newline (what `echo` and editors add) and nothing else.
    if text.ends_with('\n') {
        text.pop();
    }
    Ok(text)
}

/// Reads a whole file; `what` names it in the error (e.g. `--jwks`).
///
/// # Errors
/// The file cannot be read (exit 2).
pub fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| {
        Failure::usage(format_args!(
            "cannot read {what} file {}: {e}",
            path.display()
        ))
    })
}

/// Reads a whole file that must be UTF-8 text; `what` names it in the error.
///
/// # Errors
/// The file cannot be read or is not UTF-8 (exit 2).
pub fn read_text_file(path: &Path, what: &str) -> Result<String, Failure> {
    let bytes = read_file(path, what)?;
    String::from_utf8(bytes).map_err(|_| {
        Failure::usage(format_args!(
            "{what} file {} is not valid UTF-8",
            path.display()
        ))
    })
}

/// The `--now` value if given, else the system clock in unix seconds.
///
/// # Errors
/// The system clock is before 1970 (exit 2).
pub fn now_or_clock(now: Option<u64>) -> Result<u64, Failure> {
    match now {
        Some(n) => Ok(n),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .map_err(|_| Failure::usage("the system clock is before 1970; pass --now UNIX_SECS")),
    }
}
