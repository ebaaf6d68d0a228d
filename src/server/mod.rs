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
//! RFC 6749 §5.2 shape (`error`, `error_description`).
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

pub mod conn;
pub mod limit;
pub mod metrics;
pub mod token;
pub mod writer;

use std::borrow::ToOwned;
use std::boxed::Box;
use std::format;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, oneshot};

use crate::issuer::provisioning::INTROSPECT;
use crate::issuer::{AnyStore, ClientRevocation, Error, IssueRequest, Issuer, Settings, StoreUrl};

pub use conn::ConnLimits;
pub use limit::LimitConfig;
use limit::Limiter;
use token::{AuthMethod, OAuthError};
pub use writer::Upkeep;
use writer::{Doc, Job, Shared, Writer};

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

struct AppState {
    jobs: mpsc::Sender<Job>,
    published: Shared,
    metadata: Bytes,
    jwks_max_age: u64,
    jwks_stale_limit: Duration,
    revocations_max_age: u64,
    refresh_interval: Duration,
    limiter: Mutex<Limiter>,
    trusted_proxies: Vec<IpAddr>,
    metrics: Arc<metrics::Metrics>,
    prune_interval: Duration,
}

/// `max-age` of the JWKS: at most the policy's `jwks-max-age`, and at most
/// half the pre-publication period, so that every cache has fetched a new
/// key at least once before it signs.
pub fn jwks_max_age(s: &Settings) -> u64 {
    s.jwks_max_age.min(s.pre_publish / 2).max(1)
}

/// `max-age` of the revocation list: one minute (or the JWKS's, if shorter).
pub fn revocations_max_age(s: &Settings) -> u64 {
    jwks_max_age(s).min(60)
}

/// The client authentication methods of every authenticated endpoint.
const AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// The RFC 8414 metadata document.
pub fn metadata(s: &Settings, public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    json!({
        "issuer": s.issuer,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint": format!("{base}/revoke"),
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint": format!("{base}/introspect"),
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        // Not registered by RFC 8414: the algorithm access tokens and the
        // revocation list are signed with, and where the list is.
        "access_token_signing_alg_values_supported": [s.alg.name()],
        "revocation_list_uri": format!("{base}/revocations"),
        // Token Status Lists (draft-ietf-oauth-status-list) are at
        // `<this>/<n>`; tokens name theirs in `status.status_list.uri`.
        "status_list_endpoint": format!("{base}/statuslists"),
    })
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
}

fn io_error(what: &str, e: &std::io::Error) -> Error {
    Error::usage(format!("{what}: {e}"))
}

impl Server {
    /// Opens the store, starts the writer (one rotation run, the first
    /// publication — which decrypts the active key) and binds `addr`.
    ///
    /// # Errors
    /// Store not initialised, wrong or missing passphrase, storage errors,
    /// the address cannot be bound.
    pub async fn bind(addr: SocketAddr, config: Config) -> Result<Self, Error> {
        let Config {
            db,
            secrets,
            public_url,
            rotate_interval,
            refresh_interval,
            batch_max,
            request_timeout,
            body_limit,
            limits,
            mut conn,
            trusted_proxies,
            queue,
            upkeep,
            prune_interval,
            metrics_addr,
        } = config;
        let metrics = Arc::new(metrics::Metrics::new());
        let writer_metrics = Arc::clone(&metrics);
        let (tx, rx) = mpsc::channel(queue.max(1));
        let (ready_tx, ready_rx) = oneshot::channel();
        let shared: Shared = Arc::new(RwLock::new(None));
        let writer_shared = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("jwt-edge-writer".into())
            .spawn(move || {
                let started = AnyStore::open(&db, false).and_then(|store| {
                    #[cfg(feature = "postgres")]
                    if let AnyStore::Postgres(pg) = &store {
                        tracing::info!(target: "jwt_edge::server", store = pg.shown(), "PostgreSQL store");
                        if pg.unverified_tls() {
                            tracing::warn!(target: "jwt_edge::server", "the database server's certificate is not verified (sslmode=prefer or require without sslrootcert; with prefer, TLS is used only if the server offers it): use sslmode=verify-full (with sslrootcert) on untrusted networks");
                        }
                    }
                    let mut w = Writer::new(
                        Issuer::new(store, secrets),
                        batch_max,
                        writer_shared,
                        writer_metrics,
                        upkeep,
                    );
                    let out = w.start()?;
                    Ok((w, out))
                });
                match started {
                    Ok((w, out)) => {
                        let _ = ready_tx.send(Ok(out));
                        w.run(rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            })
            .map_err(|e| io_error("cannot start the store writer", &e))?;
        let (settings, first) = ready_rx
            .await
            .map_err(|_| Error::storage("the store writer stopped during startup"))??;
        let public = public_url.unwrap_or_else(|| settings.issuer.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| io_error(&format!("cannot listen on {addr}"), &e))?;
        let metrics_listener =
            match metrics_addr {
                Some(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|e| {
                    io_error(&format!("cannot listen on {a} (--metrics-addr)"), &e)
                })?),
                None => None,
            };
        conn.exempt.clone_from(&trusted_proxies);
        let state = Arc::new(AppState {
            jobs: tx,
            published: shared,
            metadata: Bytes::from(metadata(&settings, &public).to_string()),
            jwks_max_age: jwks_max_age(&settings),
            jwks_stale_limit: jwks_stale_limit(&settings),
            revocations_max_age: revocations_max_age(&settings),
            refresh_interval,
            limiter: Mutex::new(Limiter::new(limits)),
            trusted_proxies,
            metrics,
            prune_interval,
        });
        tracing::info!(
            target: "jwt_edge::server",
            issuer = %settings.issuer,
            active_kid = %first.active_kid,
            epoch = first.epoch,
            "issuer store ready"
        );
        Ok(Self {
            listener,
            state,
            writer,
            rotate_interval,
            request_timeout,
            body_limit,
            conn,
            metrics_listener,
        })
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
        let Self {
            listener,
            state,
            writer,
            rotate_interval,
            request_timeout,
            body_limit,
            conn,
            metrics_listener,
        } = self;
        let background = tokio::spawn(maintain(Arc::clone(&state), rotate_interval));
        let pruning = tokio::spawn(prune_loop(Arc::clone(&state)));
        let separate = metrics_listener.is_some();
        let metrics_server = metrics_listener.map(|l| {
            let app = Router::new()
                .route("/metrics", get(metrics_endpoint))
                .with_state(Arc::clone(&state));
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            })
        });
        let app = router(Arc::clone(&state), request_timeout, body_limit, !separate);
        conn::serve(listener, app, conn, shutdown).await;
        background.abort();
        pruning.abort();
        if let Some(m) = metrics_server {
            m.abort();
        }
        let _ = state.jobs.send(Job::Stop).await;
        drop(state);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        tracing::info!(target: "jwt_edge::server", "stopped");
        Ok(())
    }
}

fn router(
    state: Arc<AppState>,
    request_timeout: Duration,
    body_limit: usize,
    with_metrics: bool,
) -> Router {
    // The public documents: readable from any origin (e.g. the token
    // inspector), with their ETag, and preflights answered.
    let cors = tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET, Method::HEAD])
        .allow_headers([header::IF_NONE_MATCH, header::CACHE_CONTROL])
        .expose_headers([header::ETAG])
        .max_age(Duration::from_secs(86_400));
    let documents = Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/revocations", get(revocations))
        .route("/statuslists/{list}", get(status_list))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth_metadata),
        )
        .layer(cors);
    let mut app = Router::new()
        .route("/token", post(token_endpoint))
        .route("/revoke", post(revoke_endpoint))
        .route("/introspect", post(introspect_endpoint))
        .route("/client/rotate", post(rotate_endpoint))
        .route("/healthz", get(healthz));
    if with_metrics {
        app = app.route("/metrics", get(metrics_endpoint));
    }
    app.merge(documents)
        .fallback(not_found)
        .layer(middleware::from_fn(log_request))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::from_fn(json_errors))
        .with_state(state)
}

/// Rotation on a timer, and rebuilding the published documents.
async fn maintain(state: Arc<AppState>, rotate_interval: Duration) {
    let mut rotate = tokio::time::interval(rotate_interval.max(Duration::from_millis(10)));
    let mut refresh = tokio::time::interval(state.refresh_interval.max(Duration::from_millis(10)));
    rotate.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = rotate.tick() => {
                let (reply, answer) = oneshot::channel();
                if state.jobs.send(Job::Rotate(reply)).await.is_err() {
                    return;
                }
                match answer.await {
                    Ok(Ok(_)) => {} // logged and published by the writer
                    Ok(Err(e)) => tracing::error!(target: "jwt_edge::server", code = e.code(), "rotation failed: {}", e.message()),
                    Err(_) => return,
                }
            }
            _ = refresh.tick() => {
                let (reply, answer) = oneshot::channel();
                if state.jobs.send(Job::Publish(reply)).await.is_err() {
                    return;
                }
                // The writer logs failures.
                let _ = answer.await;
            }
        }
    }
}

/// Retention on a timer: bounded pruning steps (each its own short
/// transaction with its audit row, queued behind waiting issuances) until
/// nothing is left; one log line per run.
async fn prune_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(state.prune_interval.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first run one interval after start (start-up stays quick).
    tick.tick().await;
    loop {
        tick.tick().await;
        let mut total = crate::issuer::store::Pruned::default();
        // Bounded: at most 10,000 steps per run; the rest waits for the next.
        for _ in 0..10_000 {
            let (reply, answer) = oneshot::channel();
            if state.jobs.send(Job::PruneStep(reply)).await.is_err() {
                return;
            }
            match answer.await {
                Ok(Ok(step)) if step.total() > 0 => total.add(step),
                Ok(Ok(_)) => break,
                Ok(Err(e)) => {
                    tracing::error!(target: "jwt_edge::server", code = e.code(), "pruning failed: {}", e.message());
                    break;
                }
                Err(_) => return,
            }
        }
        if total.total() > 0 {
            tracing::info!(target: "jwt_edge::server", tokens = total.tokens, audit = total.audit, revocations = total.revocations, "store pruned");
        }
    }
}

/// Logs one line per request: method, path, status, latency (never headers
/// or bodies, which carry credentials and tokens).
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::error!(target: "jwt_edge::server::http", %method, %path, status, micros, "request");
    } else {
        tracing::debug!(target: "jwt_edge::server::http", %method, %path, status, micros, "request");
    }
    res
}

/// Error answers made outside the handlers (405 by the router, 408 by the
/// timeout, 413 by the body limit) get the same JSON body as every other
/// error; their headers (`Allow`, …) are kept.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (error, description) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("invalid_request", "method not allowed on this endpoint")
        }
        StatusCode::REQUEST_TIMEOUT => ("invalid_request", "the request took too long"),
        StatusCode::PAYLOAD_TOO_LARGE => ("invalid_request", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("invalid_request", "unsupported content type"),
        StatusCode::NOT_FOUND => ("not_found", "no such endpoint"),
        s if s.is_server_error() => ("server_error", "the server could not process the request"),
        _ => ("invalid_request", "the request is malformed"),
    };
    let (mut parts, _) = res.into_parts();
    let mut out = json_response(
        status,
        json!({"error": error, "error_description": description}),
    );
    for name in [header::ALLOW, header::RETRY_AFTER, header::CONNECTION] {
        if let Some(v) = parts.headers.remove(&name) {
            out.headers_mut().insert(name, v);
        }
    }
    out
}

async fn not_found() -> Response {
    json_response(
        StatusCode::NOT_FOUND,
        json!({"error": "not_found", "error_description": "no such endpoint"}),
    )
}

fn json_response(status: StatusCode, body: Value) -> Response {
    let mut res = (status, body.to_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// An RFC 6749 §5.2 error answer. `challenge`: send `WWW-Authenticate:
/// Basic` with a 401 — only when the client used HTTP Basic or sent no
/// credentials (RFC 6749 §5.2; a `client_secret_post` client gets none).
fn oauth_error(e: &OAuthError, challenge: bool) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut res = json_response(
        status,
        json!({"error": e.error, "error_description": e.description}),
    );
    if e.is_invalid_client() && challenge {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jwt-edge\", charset=\"UTF-8\""),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// 429 with `Retry-After`.
fn throttled(wait: Duration) -> Response {
    let mut res = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        json!({
            "error": "invalid_request",
            "error_description": "too many failed authentications from this address; retry later",
        }),
    );
    let secs = wait.as_secs().saturating_add(1);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The client's address for throttling (the TCP peer, or the forwarded
/// address when the peer is a trusted proxy).
fn source_of(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    limit::client_addr(
        peer.ip(),
        &state.trusted_proxies,
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// One authenticated request's throttling context.
struct Throttle<'a> {
    state: &'a AppState,
    source: IpAddr,
    client: Option<String>,
}

impl Throttle<'_> {
    fn blocked(&self) -> Option<Duration> {
        self.state
            .limiter
            .lock()
            .ok()
            .and_then(|l| l.blocked(self.client.as_deref(), self.source, Instant::now()))
    }

    fn failed(&self) {
        if let Ok(mut l) = self.state.limiter.lock() {
            l.record_failure(self.client.as_deref(), self.source, Instant::now());
        }
    }
}

/// Checks the throttle before parsing finishes: a parse error that is a
/// failed authentication counts against the source.
fn parse_failed(state: &AppState, source: IpAddr, e: &OAuthError) -> Response {
    let t = Throttle {
        state,
        source,
        client: None,
    };
    if let Some(wait) = t.blocked() {
        return throttled(wait);
    }
    if e.is_invalid_client() {
        t.failed();
    }
    // Parse errors of client authentication: Basic was used (and was
    // malformed) or nothing was sent; either way the challenge applies.
    oauth_error(e, true)
}

/// A request parser: content type, `Authorization`, body.
type Parser<R> = fn(Option<&str>, Option<&str>, &[u8]) -> Result<R, OAuthError>;

/// The front of every authenticated endpoint: the request parsed (a
/// malformed client authentication counts against the source) and the
/// source's throttle checked; `Err` is the answer to send.
fn admit<'a, R>(
    state: &'a AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
    parse: Parser<R>,
    auth: fn(&R) -> &token::ClientAuth,
) -> Result<(R, Throttle<'a>), (Box<Response>, &'static str)> {
    let source = source_of(state, peer, headers);
    let req = parse(
        header_str(headers, header::CONTENT_TYPE),
        header_str(headers, header::AUTHORIZATION),
        body,
    )
    .map_err(|e| {
        let reason = if e.is_invalid_client() {
            "malformed_client"
        } else {
            "invalid_request"
        };
        (Box::new(parse_failed(state, source, &e)), reason)
    })?;
    let t = Throttle {
        state,
        source,
        client: token::normalise_client_id(&auth(&req).client_id).map(str::to_owned),
    };
    if let Some(wait) = t.blocked() {
        tracing::info!(target: "jwt_edge::server", client_id = t.client.as_deref().unwrap_or("-"), %source, "request throttled");
        return Err((Box::new(throttled(wait)), "throttled"));
    }
    Ok((req, t))
}

async fn ask<T>(
    state: &AppState,
    job: impl FnOnce(oneshot::Sender<Result<T, Error>>) -> Job,
) -> Result<T, Error> {
    let (reply, answer) = oneshot::channel();
    if state.jobs.send(job(reply)).await.is_err() {
        return Err(Error::storage("stopping"));
    }
    answer
        .await
        .unwrap_or_else(|_| Err(Error::storage("the store writer stopped")))
}

/// The common path of `/revoke`, `/introspect` and `/client/rotate`: the
/// request admitted ([`admit`]), its job answered by the writer, a refusal
/// mapped ([`refused`]). `job` takes what it needs out of the request.
async fn authenticated<'a, R, T>(
    state: &'a AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    body: &[u8],
    parse: Parser<R>,
    auth: fn(&R) -> &token::ClientAuth,
    job: impl FnOnce(&mut R, oneshot::Sender<Result<T, Error>>) -> Job,
) -> Result<(T, R, Throttle<'a>), Response> {
    let (mut req, t) = admit(state, peer, headers, body, parse, auth).map_err(|(res, _)| *res)?;
    let method = auth(&req).method;
    match ask(state, |reply| job(&mut req, reply)).await {
        Ok(v) => Ok((v, req, t)),
        Err(e) => Err(refused(&t, method, &e)),
    }
}

/// Maps an issuer outcome's error, counting failed authentications.
fn refused(t: &Throttle<'_>, method: AuthMethod, e: &Error) -> Response {
    let oe = OAuthError::from_issuer(e);
    if oe.is_invalid_client() {
        t.failed();
    }
    if oe.status >= 500 {
        tracing::error!(target: "jwt_edge::server", code = e.code(), "request failed: {}", e.message());
    } else {
        tracing::info!(target: "jwt_edge::server", client_id = t.client.as_deref().unwrap_or("-"), source = %t.source, error = oe.error, "request refused");
    }
    oauth_error(&oe, method == AuthMethod::Basic)
}

async fn token_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let (req, t) = match admit(&state, peer, &headers, &body, token::parse, |r| &r.auth) {
        Ok(v) => v,
        Err((res, reason)) => {
            state.metrics.refused(reason);
            return *res;
        }
    };
    let method = req.auth.method;
    let issue = IssueRequest {
        provisioning_key: req.auth.provisioning_key,
        scope: req.scope,
        audiences: req.audiences,
        source: Some(t.source),
        ..IssueRequest::default()
    };
    let answer = ask(&state, |reply| Job::Issue(issue, reply)).await;
    state
        .metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    match answer {
        Ok(issued) => {
            state
                .metrics
                .issued
                .get_or_create(&metrics::ClientLabel {
                    client_id: issued.client_id.clone(),
                })
                .inc();
            let num = |name: &str| issued.claims.get(name).and_then(Value::as_u64).unwrap_or(0);
            json_response(
                StatusCode::OK,
                json!({
                    "access_token": issued.token,
                    "token_type": "Bearer",
                    "expires_in": num("exp").saturating_sub(num("iat")),
                    "scope": issued.claims.get("scope").cloned().unwrap_or(Value::Null),
                }),
            )
        }
        Err(e) => {
            state.metrics.refused(match e.refusal() {
                Some(r) => r.label(),
                None => "unavailable",
            });
            refused(&t, method, &e)
        }
    }
}

/// A client rotates its own secret: authenticated with its current secret
/// (HTTP Basic or the form, as for `/token`), optional `overlap` (default
/// one day, at most seven). Answers the new secret once, in the RFC 7591
/// field names (`client_id`, `client_secret`, `client_secret_expires_at`),
/// with `previous_secret_expires_at` for the old one.
async fn rotate_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = authenticated(
        &state,
        peer,
        &headers,
        &body,
        token::parse_rotate,
        |r| &r.auth,
        |r, reply| {
            Job::RotateSecret(
                core::mem::take(&mut r.auth.provisioning_key),
                r.overlap,
                reply,
            )
        },
    )
    .await;
    match answer {
        Ok(((rec, key), _, _)) => {
            let secret = key
                .strip_prefix(&format!(
                    "{}{}_",
                    crate::issuer::provisioning::PREFIX,
                    rec.id
                ))
                .unwrap_or_default()
                .to_owned();
            json_response(
                StatusCode::OK,
                json!({
                    "client_id": rec.id,
                    "client_secret": secret,
                    "provisioning_key": key.as_str(),
                    "client_secret_expires_at": rec.expires_at,
                    "previous_secret_expires_at": rec.previous.map(|p| p.until),
                }),
            )
        }
        Err(res) => res,
    }
}

/// `GET /metrics`: OpenMetrics text when the scraper asks for it (Prometheus
/// does), else the Prometheus text format 0.0.4.
async fn metrics_endpoint(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let open = header_str(&headers, header::ACCEPT)
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    let (body, content_type) = if open {
        (
            state.metrics.encode(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )
    } else {
        (
            state.metrics.encode_prometheus(),
            "text/plain; version=0.0.4; charset=utf-8",
        )
    };
    let mut res = Body::from(body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// RFC 7009: the client revokes one of its own tokens. 200 with an empty
/// body whether or not the token was known (§2.2).
async fn revoke_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = authenticated(
        &state,
        peer,
        &headers,
        &body,
        token::parse_token_param,
        |r| &r.auth,
        |r, reply| {
            Job::Revoke(
                core::mem::take(&mut r.auth.provisioning_key),
                core::mem::take(&mut r.token),
                reply,
            )
        },
    )
    .await;
    match answer {
        Ok((outcome, _, t)) => {
            if outcome == ClientRevocation::Revoked {
                tracing::info!(target: "jwt_edge::server", client_id = t.client.as_deref().unwrap_or("-"), "token revoked by its client");
            }
            let mut res = StatusCode::OK.into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(res) => res,
    }
}

/// The RFC 7662 members taken from a verified token's claims.
const INTROSPECTION_MEMBERS: [&str; 9] = [
    "scope",
    "client_id",
    "sub",
    "aud",
    "iss",
    "exp",
    "iat",
    "nbf",
    "jti",
];

/// RFC 7662: whether a token is active (verified by the server's own keys
/// and revocation list, unexpired), and its claims if so. Only clients with
/// the `introspect` permission may ask.
async fn introspect_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer = authenticated(
        &state,
        peer,
        &headers,
        &body,
        token::parse_token_param,
        |r| &r.auth,
        |r, reply| {
            Job::Authorize(
                core::mem::take(&mut r.auth.provisioning_key),
                INTROSPECT,
                reply,
            )
        },
    )
    .await;
    let req = match answer {
        Ok((_, req, _)) => req,
        Err(res) => return res,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut out = Map::new();
    let verified = writer::current(&state.published).and_then(|p| {
        let mut v = p.introspector.lock().ok()?;
        v.verify(&req.token, now).ok().map(|ok| ok.claims.clone())
    });
    match verified {
        Some(claims) => {
            out.insert("active".into(), Value::Bool(true));
            for name in INTROSPECTION_MEMBERS {
                if let Some(v) = claims.get(name) {
                    out.insert(name.into(), v.clone());
                }
            }
            out.insert("token_type".into(), "Bearer".into());
        }
        None => {
            out.insert("active".into(), Value::Bool(false));
        }
    }
    json_response(StatusCode::OK, Value::Object(out))
}

fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    header_str(headers, header::IF_NONE_MATCH).is_some_and(|v| {
        v.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag
        })
    })
}

fn cached(headers: &HeaderMap, doc: &Doc, content_type: &'static str, max_age: u64) -> Response {
    let mut res = if matches_etag(headers, &doc.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = Body::from(doc.body.clone()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&doc.etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    res
}

fn unavailable() -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "temporarily_unavailable", "error_description": "nothing is published yet"}),
    )
}

/// 503 for a document kept in memory past its staleness limit (the store
/// has been unreachable that long).
fn too_stale(what: &str, age: Duration) -> Response {
    let mut res = json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({
            "error": "temporarily_unavailable",
            "error_description": format!(
                "the issuer's store has been unreachable for {} s; the last {what} is too old to serve",
                age.as_secs()
            ),
        }),
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    res
}

/// How long the JWKS is served from memory without a successful refresh:
/// half the pre-publication period (a cache may keep it `max-age` more,
/// which is at most as long), so a key activated elsewhere in the meantime
/// was in it, or the served copy expires before that key signs.
pub fn jwks_stale_limit(s: &Settings) -> Duration {
    Duration::from_secs((s.pre_publish / 2).max(60))
}

/// How long the signed revocation list is served from memory without a
/// successful refresh: 15 minutes, so that revocations recorded through
/// another replica reach validators within that bound or they see errors.
pub const REVOCATIONS_STALE_LIMIT: Duration = Duration::from_secs(15 * 60);

async fn jwks(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match writer::current(&state.published) {
        Some(p) if p.refreshed.elapsed() > state.jwks_stale_limit => {
            too_stale("JWKS", p.refreshed.elapsed())
        }
        Some(p) => cached(&headers, &p.jwks, "application/json", state.jwks_max_age),
        None => unavailable(),
    }
}

async fn revocations(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match writer::current(&state.published) {
        Some(p) if p.refreshed.elapsed() > REVOCATIONS_STALE_LIMIT => {
            too_stale("revocation list", p.refreshed.elapsed())
        }
        Some(p) => cached(
            &headers,
            &p.revocations,
            "application/jwt",
            state.revocations_max_age,
        ),
        None => unavailable(),
    }
}

async fn status_list(
    State(state): State<Arc<AppState>>,
    axum::extract::Path(list): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let doc = list.parse::<u64>().ok().and_then(|n| {
        writer::current(&state.published).and_then(|p| p.status_lists.get(&n).cloned())
    });
    match doc {
        Some(d) => cached(
            &headers,
            &d,
            "application/statuslist+jwt",
            crate::issuer::service::STATUS_LIST_TTL,
        ),
        None => json_response(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "error_description": "no such status list"}),
        ),
    }
}

async fn oauth_metadata(State(state): State<Arc<AppState>>) -> Response {
    let mut res = Body::from(state.metadata.clone()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    // Unhealthy as soon as the store fails (a load balancer sends /token
    // elsewhere; JWKS and revocations are still served from memory).
    if state.metrics.store_up.get() == 0 {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "store_unavailable", "error": "temporarily_unavailable"}),
        );
    }
    // Healthy while the published documents are being refreshed.
    let stale = state.refresh_interval.saturating_mul(3) + Duration::from_secs(5);
    match writer::current(&state.published) {
        // Serving is healthy; what will break soon (expiring provisioning
        // keys, overdue rotation, ...) is reported alongside, as in
        // `jwt-edge status`.
        Some(p) if p.refreshed.elapsed() <= stale => {
            let attention: Vec<Value> = p
                .findings
                .iter()
                .map(crate::issuer::health::Finding::to_json)
                .collect();
            json_response(
                StatusCode::OK,
                json!({"status": "ok", "attention": attention}),
            )
        }
        _ => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "stale", "error": "temporarily_unavailable"}),
        ),
    }
}
