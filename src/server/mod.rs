//! The issuer's HTTP server (feature `server`; `jwt-edge serve`): an OAuth 2.0
//! client-credentials token endpoint authenticated by provisioning keys, the
//! JWKS and the signed revocation list with cache headers, RFC 8414 metadata,
//! and automatic key rotation on a timer. Same SQLite store as the CLI; both
//! may run at once.
//!
//! The handlers are thin adapters over [`crate::issuer::Issuer`]: every rule
//! (scopes, audiences, lifetimes, lifecycle) is the service's. One writer
//! thread owns the store and the decrypted signing keys (see [`writer`]);
//! issuances queued together are committed in one transaction, and a token
//! is returned only after the commit that holds its audit row.
//!
//! Routes: `POST /token`, `POST /revoke` (RFC 7009), `POST /introspect`
//! (RFC 7662), `GET /.well-known/jwks.json`, `GET /revocations`,
//! `GET /.well-known/oauth-authorization-server`, `GET /healthz`. The three
//! public documents answer CORS preflights. Every error body is JSON in the
//! RFC 6749 §5.2 shape (`error`, `error_description`), made by [`ApiError`].
//!
//! Limits (see `docs/server.md`): failed client authentications are
//! throttled per source ([`limit`]); connections have a header-read timeout
//! and caps, total and per peer ([`conn`]); no token is answered before the
//! JWKS that serves its kid is published ([`writer`]).

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

mod app;
mod auth;
pub mod conn;
mod dpop;
pub mod error;
pub mod jwks_uri;
pub mod limit;
pub mod metrics;
mod middleware;
mod reply;
mod routes;
mod tasks;
pub mod tls;
pub mod token;
pub mod writer;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::string::String;
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use crate::issuer::{Error, StoreUrl};

use app::{io_error, AppState};
pub use conn::ConnLimits;
pub use error::{ApiError, ErrorCode};
pub use limit::LimitConfig;
pub use routes::documents::{
    jwks_max_age, jwks_stale_limit, metadata, revocations_max_age, REVOCATIONS_STALE_LIMIT,
};
pub use writer::Upkeep;

/// The server's configuration.
pub struct Config {
    /// The issuer store (created and initialised with `jwt-edge init`): a
    /// SQLite file, or a PostgreSQL database several replicas share.
    pub db: StoreUrl,
    /// The passphrase of the private keys (or `--insecure-dev-keys`).
    pub secrets: crate::issuer::Secrets,
    /// The public base URL of this server, for the metadata's endpoints
    /// (default: the issuer URL from `init`).
    pub public_url: Option<String>,
    /// How often the rotation policy is applied.
    pub rotate_interval: Duration,
    /// How often the JWKS and revocation list are rebuilt from the store
    /// when nothing else triggers it (a token request publishes CLI changes
    /// at once, before it is answered).
    pub refresh_interval: Duration,
    /// Most issuances committed in one transaction.
    pub batch_max: usize,
    /// Requests taking longer (once their head is read) are answered 408.
    pub request_timeout: Duration,
    /// Largest request body (bytes); larger ones are answered 413.
    pub body_limit: usize,
    /// Throttling of failed client authentications.
    pub limits: LimitConfig,
    /// Connection limits (header-read timeout, caps).
    pub conn: ConnLimits,
    /// Reverse proxies whose `X-Forwarded-For` names the client's address
    /// (empty: the TCP peer is the client, and the header is ignored).
    pub trusted_proxies: Vec<IpAddr>,
    /// Queue length of the writer (back-pressure beyond it).
    pub queue: usize,
    /// Retention, the audit sink and the anomaly rules.
    pub upkeep: Upkeep,
    /// How often retention runs (expired tokens, exported old audit rows).
    pub prune_interval: Duration,
    /// Serve `GET /metrics` on this separate address instead of the main one.
    pub metrics_addr: Option<SocketAddr>,
    /// DPoP at the token endpoint (RFC 9449): the proof window and, with
    /// a nonce secret, authorization-server nonces (§8). Replicas that
    /// share the secret accept each other's nonces.
    pub dpop: crate::DpopConfig,
    /// How `private_key_jwt` client assertions are checked.
    pub assertions: crate::issuer::AssertionRules,
    /// Accept the token endpoint's URL as an assertion's sole `aud`
    /// (`--accept-token-endpoint-audience`).
    pub accept_token_endpoint_audience: bool,
    /// Fetch clients' `jwks_uri` from loopback, private and link-local
    /// addresses, and over `http://` (`--allow-private-jwks-uri`; tests).
    pub allow_private_jwks_uri: bool,
    /// Terminate TLS with this certificate and key (`--tls-cert`,
    /// `--tls-key`), reloaded when they change.
    pub tls: Option<tls::TlsFiles>,
}

impl Config {
    /// Defaults for `db`.
    pub fn new(db: impl Into<StoreUrl>, secrets: crate::issuer::Secrets) -> Self {
        Self {
            db: db.into(),
            secrets,
            public_url: None,
            rotate_interval: Duration::from_secs(60),
            refresh_interval: Duration::from_secs(5),
            batch_max: 512,
            request_timeout: Duration::from_secs(10),
            body_limit: 16 * 1024,
            limits: LimitConfig::default(),
            conn: ConnLimits::default(),
            trusted_proxies: Vec::new(),
            queue: 4096,
            upkeep: Upkeep::default(),
            prune_interval: Duration::from_secs(600),
            metrics_addr: None,
            dpop: crate::DpopConfig::new(),
            assertions: crate::issuer::AssertionRules::default(),
            accept_token_endpoint_audience: false,
            allow_private_jwks_uri: false,
            tls: None,
        }
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("db", &self.db)
            .field("public_url", &self.public_url)
            .field("rotate_interval", &self.rotate_interval)
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}

/// A bound, started server: the store is open, the writer runs, the first
/// JWKS and revocation list are published. Call [`Server::serve`].
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    writer: std::thread::JoinHandle<()>,
    rotate_interval: Duration,
    request_timeout: Duration,
    body_limit: usize,
    conn: ConnLimits,
    metrics_listener: Option<tokio::net::TcpListener>,
    tls: Option<Arc<tls::Reloading>>,
}

impl Server {
    /// Opens the store, starts the writer (one rotation run, the first
    /// publication — which decrypts the active key) and binds `addr`.
    ///
    /// # Errors
    /// Store not initialised, wrong or missing passphrase, storage errors,
    /// the address cannot be bound.
    pub async fn bind(addr: SocketAddr, config: Config) -> Result<Self, Error> {
        app::bind(addr, config).await
    }

    /// The address of the separate metrics listener (`--metrics-addr`), if any.
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>, Error> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().map_err(|e| io_error("no local address", &e)))
            .transpose()
    }

    /// The bound address (useful with port 0).
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener
            .local_addr()
            .map_err(|e| io_error("no local address", &e))
    }

    /// Serves until `shutdown` completes, then stops accepting, finishes the
    /// requests in flight, commits the queued issuances and stops the writer.
    ///
    /// # Errors
    /// None today (kept for the listener's future failure modes).
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        app::serve(self, shutdown).await;
        Ok(())
    }
}
