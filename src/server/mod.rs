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
//! Routes: `POST /token`, `GET /.well-known/jwks.json`, `GET /revocations`,
//! `GET /.well-known/oauth-authorization-server`, `GET /healthz`.

#![allow(
    clippy::std_instead_of_core,
    clippy::std_instead_of_alloc,
    clippy::alloc_instead_of_core
)]

pub mod limit;
pub mod token;
pub mod writer;

use std::borrow::ToOwned;
use std::format;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

use crate::b64url_encode;
use crate::issuer::{Error, IssueRequest, Issuer, Secrets, Settings, SqliteStore};

pub use limit::LimitConfig;
use limit::Limiter;
use token::OAuthError;
use writer::{Job, Snapshot, Writer};

/// The server's configuration.
pub struct Config {
    /// The issuer database (created and initialised with `jwt-edge init`).
    pub db: PathBuf,
    /// The passphrase of the private keys (or `--insecure-dev-keys`).
    pub secrets: Secrets,
    /// The public base URL of this server, for the metadata's `token_endpoint`
    /// and `jwks_uri` (default: the issuer URL from `init`).
    pub public_url: Option<String>,
    /// How often the rotation policy is applied.
    pub rotate_interval: Duration,
    /// How often the JWKS and revocation list are re-read from the store
    /// (changes made by the CLI appear within this time).
    pub refresh_interval: Duration,
    /// Most issuances committed in one transaction.
    pub batch_max: usize,
    /// Requests taking longer are answered 408.
    pub request_timeout: Duration,
    /// Largest request body (bytes); larger ones are answered 413.
    pub body_limit: usize,
    /// Rate limits on failed client authentication.
    pub limits: LimitConfig,
    /// Queue length of the writer (back-pressure beyond it).
    pub queue: usize,
}

impl Config {
    /// Defaults for `db`.
    pub fn new(db: impl Into<PathBuf>, secrets: Secrets) -> Self {
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
            queue: 4096,
        }
    }
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("db", &self.db)
            .field("public_url", &self.public_url)
            .field("rotate_interval", &self.rotate_interval)
            .finish_non_exhaustive()
    }
}

/// A published document with its validator.
#[derive(Debug, Clone)]
struct Doc {
    body: Bytes,
    etag: String,
}

impl Doc {
    fn new(body: String) -> Self {
        let digest = Sha256::digest(body.as_bytes());
        let etag = format!("\"{}\"", b64url_encode(digest.get(..16).unwrap_or(&digest)));
        Self {
            body: Bytes::from(body),
            etag,
        }
    }
}

#[derive(Debug)]
struct Published {
    jwks: Doc,
    revocations: Doc,
    refreshed: Instant,
}

struct AppState {
    jobs: mpsc::Sender<Job>,
    published: RwLock<Arc<Published>>,
    metadata: Bytes,
    jwks_max_age: u64,
    revocations_max_age: u64,
    refresh_interval: Duration,
    limiter: Mutex<Limiter>,
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

/// The RFC 8414 metadata document.
pub fn metadata(s: &Settings, public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    json!({
        "issuer": s.issuer,
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        // Not registered by RFC 8414: the algorithm access tokens and the
        // revocation list are signed with, and where the list is.
        "access_token_signing_alg_values_supported": [s.alg.name()],
        "revocation_list_uri": format!("{base}/revocations"),
    })
}

fn publish(snap: &Snapshot) -> Published {
    Published {
        jwks: Doc::new(snap.jwks.clone()),
        revocations: Doc::new(snap.revocations.clone()),
        refreshed: Instant::now(),
    }
}

/// A bound, started server: the store is open, the writer runs, the first
/// JWKS and revocation list are built. Call [`Server::serve`].
pub struct Server {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    writer: std::thread::JoinHandle<()>,
    rotate_interval: Duration,
    request_timeout: Duration,
    body_limit: usize,
}

fn io_error(what: &str, e: &std::io::Error) -> Error {
    Error::usage(format!("{what}: {e}"))
}

impl Server {
    /// Opens the store, starts the writer (one rotation run, the first
    /// snapshot — which decrypts the active key) and binds `addr`.
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
            queue,
        } = config;
        let (tx, rx) = mpsc::channel(queue.max(1));
        let (ready_tx, ready_rx) = oneshot::channel();
        let writer = std::thread::Builder::new()
            .name("jwt-edge-writer".into())
            .spawn(move || {
                let started = SqliteStore::open(&db, false).and_then(|store| {
                    let mut w = Writer::new(Issuer::new(store, secrets), batch_max);
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
        let (settings, snap) = ready_rx
            .await
            .map_err(|_| Error::storage("the store writer stopped during startup"))??;
        let public = public_url.unwrap_or_else(|| settings.issuer.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| io_error(&format!("cannot listen on {addr}"), &e))?;
        let state = Arc::new(AppState {
            jobs: tx,
            published: RwLock::new(Arc::new(publish(&snap))),
            metadata: Bytes::from(metadata(&settings, &public).to_string()),
            jwks_max_age: jwks_max_age(&settings),
            revocations_max_age: revocations_max_age(&settings),
            refresh_interval,
            limiter: Mutex::new(Limiter::new(limits)),
        });
        tracing::info!(
            target: "jwt_edge::server",
            issuer = %settings.issuer,
            active_kid = %snap.active_kid,
            epoch = snap.epoch,
            "issuer store ready"
        );
        Ok(Self {
            listener,
            state,
            writer,
            rotate_interval,
            request_timeout,
            body_limit,
        })
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
    /// The listener fails.
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
        } = self;
        let background = tokio::spawn(maintain(Arc::clone(&state), rotate_interval));
        let app = Router::new()
            .route("/token", post(token_endpoint))
            .route("/.well-known/jwks.json", get(jwks))
            .route("/revocations", get(revocations))
            .route(
                "/.well-known/oauth-authorization-server",
                get(oauth_metadata),
            )
            .route("/healthz", get(healthz))
            .layer(middleware::from_fn(log_request))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
            .layer(axum::extract::DefaultBodyLimit::max(body_limit))
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                request_timeout,
            ))
            .with_state(Arc::clone(&state));
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| io_error("the server failed", &e));
        background.abort();
        let _ = state.jobs.send(Job::Stop).await;
        drop(state);
        let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        tracing::info!(target: "jwt_edge::server", "stopped");
        served
    }
}

/// Rotation on a timer, and refreshing the published documents.
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
                    Ok(Ok(steps)) => {
                        writer::log_steps(&steps);
                        if !steps.is_empty() {
                            refresh_now(&state).await;
                        }
                    }
                    Ok(Err(e)) => tracing::error!(target: "jwt_edge::server", code = e.code(), "rotation failed: {}", e.message()),
                    Err(_) => return,
                }
            }
            _ = refresh.tick() => refresh_now(&state).await,
        }
    }
}

async fn refresh_now(state: &AppState) {
    let (reply, answer) = oneshot::channel();
    if state.jobs.send(Job::Publish(reply)).await.is_err() {
        return;
    }
    match answer.await {
        Ok(Ok(snap)) => {
            let new = Arc::new(publish(&snap));
            if let Ok(mut p) = state.published.write() {
                if p.jwks.etag != new.jwks.etag {
                    tracing::info!(target: "jwt_edge::server", active_kid = %snap.active_kid, "JWKS changed");
                }
                *p = new;
            }
        }
        Ok(Err(e)) => {
            tracing::error!(target: "jwt_edge::server", code = e.code(), "refresh failed: {}", e.message());
        }
        Err(_) => {}
    }
}

fn current(state: &AppState) -> Option<Arc<Published>> {
    state.published.read().ok().map(|p| Arc::clone(&p))
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

fn oauth_error(e: &OAuthError, retry_after: Option<Duration>) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let status = if retry_after.is_some() {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        status
    };
    let mut res = json_response(
        status,
        json!({"error": e.error, "error_description": e.description}),
    );
    if e.is_invalid_client() && retry_after.is_none() {
        res.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"jwt-edge\", charset=\"UTF-8\""),
        );
    }
    if let Some(d) = retry_after {
        let secs = d.as_secs().saturating_add(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    res
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn token_endpoint(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peer_ip = peer.ip();
    let parsed = token::parse(
        header_str(&headers, header::CONTENT_TYPE),
        header_str(&headers, header::AUTHORIZATION),
        &body,
    );
    let req = match parsed {
        Ok(r) => r,
        Err(e) => {
            if e.is_invalid_client() {
                if let Ok(mut l) = state.limiter.lock() {
                    l.record_failure(None, peer_ip, Instant::now());
                }
            }
            return oauth_error(&e, None);
        }
    };
    let client = token::normalise_client_id(&req.client_id).map(str::to_owned);
    if let Some(wait) = state
        .limiter
        .lock()
        .ok()
        .and_then(|l| l.blocked(client.as_deref(), peer_ip, Instant::now()))
    {
        tracing::info!(target: "jwt_edge::server", client_id = client.as_deref().unwrap_or("-"), %peer_ip, "token request rate limited");
        return oauth_error(
            &OAuthError::invalid_request("too many failed authentications; retry later"),
            Some(wait),
        );
    }
    let issue = IssueRequest {
        provisioning_key: req.provisioning_key,
        scope: req.scope,
        audiences: req.audiences,
        ..IssueRequest::default()
    };
    let (reply, answer) = oneshot::channel();
    if state.jobs.send(Job::Issue(issue, reply)).await.is_err() {
        return oauth_error(&OAuthError::from_issuer(&Error::storage("stopping")), None);
    }
    let outcome = answer
        .await
        .unwrap_or_else(|_| Err(Error::storage("the store writer stopped")));
    match outcome {
        Ok(issued) => {
            let iat = issued
                .claims
                .get("iat")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let exp = issued
                .claims
                .get("exp")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            json_response(
                StatusCode::OK,
                json!({
                    "access_token": issued.token,
                    "token_type": "Bearer",
                    "expires_in": exp.saturating_sub(iat),
                    "scope": issued.claims.get("scope").cloned().unwrap_or(Value::Null),
                }),
            )
        }
        Err(e) => {
            let oe = OAuthError::from_issuer(&e);
            if oe.is_invalid_client() {
                if let Ok(mut l) = state.limiter.lock() {
                    l.record_failure(client.as_deref(), peer_ip, Instant::now());
                }
            }
            if oe.status >= 500 {
                tracing::error!(target: "jwt_edge::server", code = e.code(), "issuance failed: {}", e.message());
            } else {
                tracing::info!(target: "jwt_edge::server", client_id = client.as_deref().unwrap_or("-"), %peer_ip, error = oe.error, "token request refused");
            }
            oauth_error(&oe, None)
        }
    }
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
    // The JWKS and the signed revocation list are public documents: browsers
    // (e.g. the token inspector) may fetch them from any origin.
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("etag"),
    );
    res
}

fn unavailable() -> Response {
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"error": "temporarily_unavailable"}),
    )
}

async fn jwks(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match current(&state) {
        Some(p) => cached(&headers, &p.jwks, "application/json", state.jwks_max_age),
        None => unavailable(),
    }
}

async fn revocations(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match current(&state) {
        Some(p) => cached(
            &headers,
            &p.revocations,
            "application/jwt",
            state.revocations_max_age,
        ),
        None => unavailable(),
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
    // Healthy while the published documents are being refreshed.
    let stale = state.refresh_interval.saturating_mul(3) + Duration::from_secs(5);
    match current(&state) {
        Some(p) if p.refreshed.elapsed() <= stale => {
            json_response(StatusCode::OK, json!({"status": "ok"}))
        }
        _ => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "stale", "error": "temporarily_unavailable"}),
        ),
    }
}
