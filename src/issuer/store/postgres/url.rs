//! Where a PostgreSQL store is: the URL (libpq's `sslmode` / `sslrootcert`
//! taken out and enforced here), its redacted form, and connecting.

use std::format;
use std::string::{String, ToString};
use std::time::Duration;
use std::vec::Vec;

use postgres::NoTls;

use super::super::super::{Error, Result};
use super::super::any::redact;
use super::tls::tls_connector;

/// How the connection is secured, from `sslmode` (and `sslrootcert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    /// `disable`: plain TCP.
    Disable,
    /// `prefer` (the default): TLS if the server offers it; the
    /// certificate is verified only against `sslrootcert` when given.
    Prefer,
    /// `require`: TLS or fail; verified as with `prefer`.
    Require,
    /// `verify-full`: TLS, certificate chain and host name verified.
    VerifyFull,
}

/// Where a PostgreSQL store is and how to reach it.
pub(super) struct Target {
    config: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pub(super) shown: String,
    /// `sslmode=require`/`prefer` without a root certificate: encrypted,
    /// but the server is not authenticated (libpq's behaviour).
    pub(crate) unverified_tls: bool,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| {
            b.get(j)
                .and_then(|h| char::from(*h).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Self> {
        let shown = redact(url);
        let bad = |why: String| Error::usage(format!("invalid database URL {shown}: {why}"));
        // `sslmode=verify-full` and `sslrootcert` are libpq's; the driver
        // knows neither, so they are taken out here.
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut mode = SslMode::Prefer;
        let mut root: Option<String> = None;
        let mut rest = Vec::new();
        for kv in query.split('&').filter(|kv| !kv.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            match k {
                "sslmode" => {
                    mode = match v {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-full" => SslMode::VerifyFull,
                        "verify-ca" => {
                            return Err(bad(
                                "sslmode=verify-ca is not supported: use verify-full (it also checks the host name)".into(),
                            ))
                        }
                        other => return Err(bad(format!("unknown sslmode {other:?}"))),
                    };
                }
                "sslrootcert" => root = Some(percent_decode(v)),
                _ => rest.push(kv),
            }
        }
        // The driver's own words (it verifies nothing itself: our TLS
        // connector below does).
        rest.push(match mode {
            SslMode::Disable => "sslmode=disable",
            SslMode::Prefer => "sslmode=prefer",
            SslMode::Require | SslMode::VerifyFull => "sslmode=require",
        });
        let driver_url = format!("{base}?{}", rest.join("&"));
        let mut config: postgres::Config = driver_url
            .parse()
            .map_err(|e: postgres::Error| bad(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("jwt-edge");
        }
        let verify = mode == SslMode::VerifyFull || root.is_some();
        let tls = if mode == SslMode::Disable {
            None
        } else {
            Some(tls_connector(verify, root.as_deref()).map_err(bad)?)
        };
        Ok(Self {
            config,
            tls,
            shown,
            unverified_tls: mode != SslMode::Disable && !verify,
        })
    }

    pub(super) fn connect(&self) -> Result<postgres::Client> {
        let client = match &self.tls {
            Some(tls) => self.config.connect(tls.clone()),
            None => self.config.connect(NoTls),
        };
        let mut client = client.map_err(|e| {
            Error::storage(format!(
                "cannot connect to the PostgreSQL store {}: {}",
                self.shown,
                describe(&e)
            ))
        })?;
        // Durable commits whatever the server's default; bounded waits, so
        // a stuck replica cannot hold the writer lock forever.
        client
            .batch_execute(
                "SET synchronous_commit = on; SET lock_timeout = '20s'; \
                 SET statement_timeout = '60s'; SET idle_in_transaction_session_timeout = '60s'",
            )
            .map_err(|e| Error::storage(format!("cannot set up the session: {}", describe(&e))))?;
        Ok(client)
    }
}

/// A driver error in words (never the connection string).
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                let t = inner.to_string();
                if !s.contains(&t) {
                    s.push_str(": ");
                    s.push_str(&t);
                }
                source = inner.source();
            }
            s
        }
    }
}
