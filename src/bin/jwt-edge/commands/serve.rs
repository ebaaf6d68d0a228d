//! `jwt-edge serve`: runs the issuer's HTTP server (`jwt_edge::server`) on
//! the same store as the other issuer commands. This file only reads flags and
//! secrets, sets up logging and the runtime, and waits for SIGTERM/Ctrl-C.
//!
//! Stdout gets one line, `{"listening":"ADDR"}`, once the port is bound;
//! logs go to stderr (`--log-format text|json`, filter in env `JWT_EDGE_LOG`).
//!
//! Exit statuses: 0 after a graceful shutdown; 2 on usage, configuration,
//! passphrase or storage errors (the first stderr line is `<CODE>: <message>`).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use jwt_edge::issuer::Error;
use jwt_edge::server::{Config, ConnLimits, LimitConfig, Server, Upkeep};

use crate::io::{print_err, EXIT_USAGE};

use crate::issuer_io::{dur, StoreArgs};

/// Arguments of `jwt-edge serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (put a TLS reverse proxy in front of it).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Public base URL of this server, for the metadata's endpoints [default: the issuer URL].
    #[arg(long = "public-url", value_name = "URL")]
    public_url: Option<String>,
    /// How often the rotation policy is applied.
    #[arg(long = "rotate-interval", default_value = "60s", value_parser = dur)]
    rotate_interval: u64,
    /// How often the JWKS and revocation list are re-read (CLI changes show up within it).
    #[arg(long = "refresh-interval", default_value = "5s", value_parser = dur)]
    refresh_interval: u64,
    /// Requests running longer (once their head has arrived) are answered 408.
    #[arg(long = "request-timeout", default_value = "10s", value_parser = dur)]
    request_timeout: u64,
    /// Largest request body in bytes.
    #[arg(long = "body-limit", default_value_t = 16 * 1024)]
    body_limit: usize,
    /// Most issuances committed in one transaction.
    #[arg(long = "batch-max", default_value_t = 512)]
    batch_max: usize,
    /// Failed client authentications allowed per minute for one client id
    /// from one address (never counted across addresses: a stranger cannot
    /// lock a client out).
    #[arg(long = "max-failures-per-client", default_value_t = 10)]
    per_client: u32,
    /// Failed client authentications allowed per minute from one address
    /// (IPv6: one /64), whatever the client id.
    #[arg(long = "max-failures-per-peer", default_value_t = 50)]
    per_peer: u32,
    /// A reverse proxy whose X-Forwarded-For names the client address
    /// (repeatable; default: none, the header is ignored). Its own
    /// connections are exempt from --max-connections-per-peer.
    #[arg(long = "trusted-proxy", value_name = "IP")]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Time a connection has to send a complete request head, counted from
    /// when the server starts waiting for one (also the keep-alive idle timeout).
    #[arg(long = "header-timeout", default_value = "10s", value_parser = dur)]
    header_timeout: u64,
    /// Most concurrent connections; more are answered 503 and closed.
    #[arg(long = "max-connections", default_value_t = 4096)]
    max_connections: usize,
    /// Most concurrent connections from one address; more are answered 503 and closed.
    #[arg(long = "max-connections-per-peer", default_value_t = 256)]
    max_connections_per_peer: usize,
    /// Keep audit rows this long; older rows are pruned once exported
    /// (`jwt-edge audit export` or --audit-log). Expired token rows are
    /// pruned an hour after their `exp`.
    #[arg(long = "audit-retention", default_value = "90d", value_parser = dur)]
    audit_retention: u64,
    /// How often retention runs (in bounded batches between issuances).
    #[arg(long = "prune-interval", default_value = "10m", value_parser = dur)]
    prune_interval: u64,
    /// Rows deleted per pruning transaction.
    #[arg(long = "prune-batch", default_value_t = 1_000)]
    prune_batch: u64,
    /// Stream audit rows as JSON lines to FILE (appended and synced; `-`:
    /// stdout), every --refresh-interval; streamed rows count as exported.
    #[arg(long = "audit-log", value_name = "FILE | -")]
    audit_log: Option<std::path::PathBuf>,
    /// Serve GET /metrics on this address instead of the main one.
    #[arg(long = "metrics-addr", value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// How old a DPoP proof's `iat` may be at the token endpoint.
    #[arg(long = "dpop-max-age", default_value = "60s", value_parser = dur)]
    dpop_max_age: u64,
    /// Require authorization-server DPoP nonces (RFC 9449 §8): a proof
    /// without a current nonce is answered `400 use_dpop_nonce` with a
    /// `DPoP-Nonce` header. Nonces are derived from a secret and the time
    /// (nothing stored); without --dpop-nonce-secret-file the secret is
    /// random per process (one replica).
    #[arg(long = "dpop-nonce")]
    dpop_nonce: bool,
    /// The nonce secret (at least 32 bytes), shared by the replicas that
    /// accept each other's nonces; implies --dpop-nonce.
    #[arg(long = "dpop-nonce-secret-file", value_name = "FILE")]
    dpop_nonce_secret_file: Option<std::path::PathBuf>,
    /// Longest lifetime (`exp` - `iat`) of a private_key_jwt client
    /// assertion.
    #[arg(long = "max-assertion-lifetime", default_value = "5m", value_parser = dur)]
    max_assertion_lifetime: u64,
    /// Also accept the token endpoint's URL as a client assertion's sole
    /// `aud` (for clients that still send it; the issuer identifier is
    /// always accepted, and an `aud` array with anything else never is).
    #[arg(long = "accept-token-endpoint-audience")]
    accept_token_endpoint_audience: bool,
    /// Accept RS256 client assertions (besides ES256, ES384, PS256, EdDSA).
    #[arg(long = "allow-rs256-assertions")]
    allow_rs256_assertions: bool,
    /// Fetch clients' jwks_uri from loopback, private, link-local and
    /// other non-public addresses, and over http:// (tests and private
    /// deployments only).
    #[arg(long = "allow-private-jwks-uri")]
    allow_private_jwks_uri: bool,
    /// Terminate TLS (1.3 and 1.2) with this PEM certificate chain, leaf
    /// first; it and --tls-key are read again when they change on disk or
    /// on SIGHUP, without dropping open connections.
    #[arg(long = "tls-cert", value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The certificate's PEM private key (PKCS#8, SEC1 or PKCS#1).
    #[arg(long = "tls-key", value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Thresholds of the issuance anomaly rules (JSON; see docs/server.md).
    #[arg(long = "anomaly-config", value_name = "FILE")]
    anomaly_config: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(long = "log-format", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Worker threads of the async runtime [default: one per core].
    #[arg(long = "threads")]
    threads: Option<usize>,
    #[command(flatten)]
    store: StoreArgs,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JWT_EDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (never in the binary) is not an error worth failing on.
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.with_ansi(false).try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}

fn fail(e: &Error) -> ExitCode {
    print_err(&e.to_string());
    ExitCode::from(EXIT_USAGE)
}

/// Runs `jwt-edge serve`.
pub fn run(args: &ServeArgs) -> ExitCode {
    init_logging(&args.log_format);
    let secrets = match args.store.secrets() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let mut config = Config::new(args.store.db_url(), secrets);
    config.public_url = args.public_url.clone();
    config.rotate_interval = Duration::from_secs(args.rotate_interval.max(1));
    config.refresh_interval = Duration::from_secs(args.refresh_interval.max(1));
    config.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    config.body_limit = args.body_limit;
    config.batch_max = args.batch_max;
    config.limits = LimitConfig {
        per_client: args.per_client,
        per_peer: args.per_peer,
        ..LimitConfig::default()
    };
    config.trusted_proxies.clone_from(&args.trusted_proxy);
    config.conn = ConnLimits {
        header_timeout: Duration::from_secs(args.header_timeout.max(1)),
        max_connections: args.max_connections.max(1),
        max_per_peer: args.max_connections_per_peer.max(1),
        ..ConnLimits::default()
    };
    let anomaly = match &args.anomaly_config {
        None => jwt_edge::issuer::rules::anomaly::AnomalyConfig::default(),
        Some(path) => {
            let parsed = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --anomaly-config {}: {e}", path.display()))
                .and_then(|t| {
                    serde_json::from_str::<jwt_edge::issuer::rules::anomaly::AnomalyConfig>(&t)
                        .map_err(|e| format!("--anomaly-config {}: {e}", path.display()))
                })
                .and_then(|c| {
                    c.validate()
                        .map(|()| c)
                        .map_err(|e| format!("--anomaly-config {}: {e}", path.display()))
                });
            match parsed {
                Ok(c) => c,
                Err(m) => return fail(&Error::usage(m)),
            }
        }
    };
    config.upkeep = Upkeep {
        audit_retention: args.audit_retention,
        prune_batch: args.prune_batch.max(1),
        audit_log: args.audit_log.clone(),
        anomaly,
    };
    config.prune_interval = Duration::from_secs(args.prune_interval.max(1));
    config.metrics_addr = args.metrics_addr;
    config.assertions.max_lifetime = args.max_assertion_lifetime;
    config.assertions.allow_rs256 = args.allow_rs256_assertions;
    config.accept_token_endpoint_audience = args.accept_token_endpoint_audience;
    config.allow_private_jwks_uri = args.allow_private_jwks_uri;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(jwt_edge::server::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            poll: std::time::Duration::from_secs(2),
        });
    }
    config.dpop = match dpop_config(args) {
        Ok(c) => c,
        Err(m) => return fail(&Error::usage(m)),
    };
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        rt.worker_threads(n.max(1));
    }
    let rt = match rt.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return fail(&Error::usage(format!("cannot start the runtime: {e}"))),
    };
    let addr = args.addr;
    let out = rt.block_on(async move {
        let server = Server::bind(addr, config).await?;
        let local = server.local_addr()?;
        let metrics = server.metrics_addr()?;
        tracing::info!(addr = %local, "listening");
        // One line on stdout for scripts that start the server on port 0.
        let mut line = serde_json::json!({ "listening": local.to_string() });
        if let (Some(m), Some(o)) = (metrics, line.as_object_mut()) {
            o.insert("metrics".into(), m.to_string().into());
        }
        let _ = crate::io::print_json(&line);
        server.serve(shutdown_signal()).await
    });
    match out {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// The token endpoint's DPoP settings from the flags.
fn dpop_config(args: &ServeArgs) -> Result<jwt_edge::DpopConfig, String> {
    let mut c = jwt_edge::DpopConfig::new()
        .max_age(args.dpop_max_age)
        .map_err(|e| format!("--dpop-max-age: {}", e.message()))?;
    let secret = match &args.dpop_nonce_secret_file {
        Some(path) => Some(zeroize::Zeroizing::new(std::fs::read(path).map_err(
            |e| format!("--dpop-nonce-secret-file {}: {e}", path.display()),
        )?)),
        None if args.dpop_nonce => {
            let mut s = zeroize::Zeroizing::new(vec![0u8; 32]);
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut s[..]);
            Some(s)
        }
        None => None,
    };
    if let Some(s) = secret {
        c = c
            .nonce_secret(&s)
            .map_err(|e| format!("--dpop-nonce-secret-file: {}", e.message()))?;
    }
    Ok(c)
}
