//! The running server's state ([`AppState`]), its start-up (the store
//! writer's thread, the listeners, the first publication) and shutdown, and
//! the router that maps every route to its handler and wraps the layers.

use std::format;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::string::ToString;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use std::vec::Vec;

use axum::body::Bytes;
use axum::http::{header, Method, StatusCode};
use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{mpsc, oneshot};

use crate::issuer::{AnyStore, Error, Issuer};

use super::limit::Limiter;
use super::middleware::{json_errors, log_request, not_found};
use super::routes::client::{introspect_endpoint, revoke_endpoint, rotate_endpoint};
use super::routes::documents::{
    jwks, jwks_max_age, jwks_stale_limit, metadata, oauth_metadata, revocations,
    revocations_max_age, status_list,
};
use super::routes::ops::{healthz, metrics_endpoint};
use super::routes::token::token_endpoint;
use super::tasks::{maintain, prune_loop};
use super::writer::{Job, Shared, Writer};
use super::{conn, metrics, Config, Server};

/// What every handler shares: the writer's queue, the published documents,
/// the throttle, the metrics and the settings the answers need.
pub(crate) struct AppState {
    pub(crate) jobs: mpsc::Sender<Job>,
    pub(crate) published: Shared,
    pub(crate) metadata: Bytes,
    pub(crate) jwks_max_age: u64,
    pub(crate) jwks_stale_limit: Duration,
    pub(crate) revocations_max_age: u64,
    pub(crate) refresh_interval: Duration,
    pub(crate) limiter: Mutex<Limiter>,
    pub(crate) trusted_proxies: Vec<IpAddr>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    pub(crate) prune_interval: Duration,
    pub(crate) dpop: super::dpop::TokenDpop,
    pub(crate) jwks_fetcher: super::jwks_uri::JwksFetcher,
}

/// An I/O failure of the listeners or the writer's thread, as an issuer error.
pub(crate) fn io_error(what: &str, e: &std::io::Error) -> Error {
    Error::usage(format!("{what}: {e}"))
}

/// [`Server::bind`]: opens the store, starts the writer (one rotation run,
/// the first publication) and binds the listeners.
pub(crate) async fn bind(addr: SocketAddr, config: Config) -> Result<Server, Error> {
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
        dpop,
        mut assertions,
        accept_token_endpoint_audience,
        allow_private_jwks_uri,
        tls,
    } = config;
    let tls = match tls {
        Some(files) => Some(Arc::new(super::tls::Reloading::new(files)?)),
        None => None,
    };
    let writer_public = public_url.clone();
    let metadata_assertions = assertions.clone();
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
                    let mut issuer = Issuer::new(store, secrets);
                    if accept_token_endpoint_audience {
                        let public = match writer_public {
                            Some(p) => p,
                            None => issuer.settings()?.issuer,
                        };
                        assertions.token_endpoint_audience =
                            Some(format!("{}/token", public.trim_end_matches('/')));
                    }
                    issuer.set_assertion_rules(assertions);
                    let mut w = Writer::new(
                        issuer,
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
    if tls.is_some() && !public.starts_with("https://") {
        return Err(Error::usage(format!(
            "with --tls-cert the public URL must be https:// (it is {public}; give --public-url)"
        )));
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| io_error(&format!("cannot listen on {addr}"), &e))?;
    let metrics_listener = match metrics_addr {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| io_error(&format!("cannot listen on {a} (--metrics-addr)"), &e))?,
        ),
        None => None,
    };
    conn.exempt.clone_from(&trusted_proxies);
    let state = Arc::new(AppState {
        jobs: tx,
        published: shared,
        metadata: Bytes::from(
            metadata(&settings, &public, &dpop, &metadata_assertions).to_string(),
        ),
        jwks_max_age: jwks_max_age(&settings),
        jwks_stale_limit: jwks_stale_limit(&settings),
        revocations_max_age: revocations_max_age(&settings),
        refresh_interval,
        limiter: Mutex::new(Limiter::new(limits)),
        trusted_proxies,
        metrics,
        prune_interval,
        dpop: super::dpop::TokenDpop {
            token_url: format!("{}/token", public.trim_end_matches('/')),
            config: dpop,
        },
        jwks_fetcher: super::jwks_uri::JwksFetcher::new(allow_private_jwks_uri),
    });
    tracing::info!(
        target: "jwt_edge::server",
        issuer = %settings.issuer,
        active_kid = %first.active_kid,
        epoch = first.epoch,
        "issuer store ready"
    );
    Ok(Server {
        listener,
        state,
        writer,
        rotate_interval,
        request_timeout,
        body_limit,
        conn,
        metrics_listener,
        tls,
    })
}

/// [`Server::serve`]: serves until `shutdown` completes, then drains the
/// connections, commits the queued issuances and stops the writer.
pub(crate) async fn serve(server: Server, shutdown: impl Future<Output = ()> + Send + 'static) {
    let Server {
        listener,
        state,
        writer,
        rotate_interval,
        request_timeout,
        body_limit,
        conn,
        metrics_listener,
        tls,
    } = server;
    let acceptor = match &tls {
        Some(t) => match t.acceptor() {
            Ok(a) => Some(a),
            Err(e) => {
                tracing::error!(target: "jwt_edge::server", "{}", e.message());
                return;
            }
        },
        None => None,
    };
    let watching = tls.map(|t| tokio::spawn(t.watch()));
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
    conn::serve(listener, app, conn, acceptor, shutdown).await;
    if let Some(w) = watching {
        w.abort();
    }
    background.abort();
    pruning.abort();
    if let Some(m) = metrics_server {
        m.abort();
    }
    let _ = state.jobs.send(Job::Stop).await;
    drop(state);
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    tracing::info!(target: "jwt_edge::server", "stopped");
}

/// Every route and its layers: CORS on the public documents, the request
/// log, the body limit, the request timeout, JSON error bodies.
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
