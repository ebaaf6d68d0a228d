//! Connections: the accept loop with its limits. hyper serves each
//! connection (HTTP/1.1, keep-alive) with a header-read timeout; a cap on
//! concurrent connections, total and per peer address, refuses the excess
//! cleanly (a `503` with a JSON body and `Connection: close`, then the socket
//! is closed) before any request is read; shutdown is graceful.
//!
//! hyper's header-read timeout runs from the moment the server starts
//! waiting for a request head — when the connection opens, and again after
//! each response — until the head is complete. So it bounds a slow-header
//! client and an idle keep-alive connection alike: an idle connection is
//! closed after `header_timeout`, and a client trickling header bytes cannot
//! extend it.

use std::collections::HashMap;
use std::convert::Infallible;
use std::format;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::vec::Vec;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::error::ApiError;

/// Connection limits.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// Time allowed for a complete request head, counted from when the
    /// server starts waiting for it (so also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// Most concurrent connections.
    pub max_connections: usize,
    /// Most concurrent connections from one peer address (trusted proxies
    /// are exempt: every client behind them shares their address).
    pub max_per_peer: usize,
    /// Peers exempt from `max_per_peer` (the trusted proxies).
    pub exempt: Vec<IpAddr>,
    /// How long shutdown waits for connections to finish.
    pub drain: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_per_peer: 256,
            exempt: Vec::new(),
            drain: Duration::from_secs(15),
        }
    }
}

/// Counts of open connections, total and per peer.
#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_peer: HashMap<IpAddr, usize>,
}

/// An admitted connection; releases its slot when dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    peer: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut c) = self.counts.lock() {
            c.total = c.total.saturating_sub(1);
            if let Some(n) = c.per_peer.get_mut(&self.peer) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    c.per_peer.remove(&self.peer);
                }
            }
        }
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy)]
enum Refused {
    Total,
    Peer,
}

fn admit(counts: &Arc<Mutex<Counts>>, limits: &ConnLimits, peer: IpAddr) -> Result<Slot, Refused> {
    let mut c = counts.lock().map_err(|_| Refused::Total)?;
    if c.total >= limits.max_connections {
        return Err(Refused::Total);
    }
    let n = c.per_peer.get(&peer).copied().unwrap_or(0);
    if n >= limits.max_per_peer && !limits.exempt.contains(&peer) {
        return Err(Refused::Peer);
    }
    c.total += 1;
    *c.per_peer.entry(peer).or_insert(0) += 1;
    Ok(Slot {
        counts: Arc::clone(counts),
        peer,
    })
}

/// Answers a refused connection with a 503 (bounded in time) and closes it.
async fn refuse(mut stream: TcpStream, why: Refused) {
    let text = match why {
        Refused::Total => "too many connections to this server; retry later",
        Refused::Peer => "too many connections from this address; retry later",
    };
    let body = ApiError::temporarily_unavailable(text).body();
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         cache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Serves `app` on `listener` until `shutdown` completes, then waits (at
/// most `limits.drain`) for the open connections to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let counts = Arc::new(Mutex::new(Counts::default()));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut refused_logged = std::time::Instant::now() - Duration::from_secs(60);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, never spin.
                    tracing::warn!(target: "jwt_edge::server", "accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match admit(&counts, &limits, peer.ip()) {
            Ok(slot) => slot,
            Err(why) => {
                if refused_logged.elapsed() >= Duration::from_secs(10) {
                    refused_logged = std::time::Instant::now();
                    tracing::warn!(target: "jwt_edge::server", peer = %peer.ip(), reason = ?why, "connection refused: limit reached (logged at most every 10 s)");
                }
                tokio::spawn(refuse(stream, why));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            let router = router.clone();
            async move { Ok::<_, Infallible>(router.oneshot(req).await.unwrap_or_else(|e| match e {})) }
        });
        match &tls {
            None => {
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    // Errors here are the client's (reset, timeout, bad request line).
                    if let Err(e) = conn.await {
                        tracing::debug!(target: "jwt_edge::server::http", "connection closed: {e}");
                    }
                    drop(slot);
                });
            }
            Some(acceptor) => {
                // The handshake is bounded like a request head; the
                // connection is watched for shutdown once it is HTTP.
                let (acceptor, http, watcher) =
                    (acceptor.clone(), http.clone(), graceful.watcher());
                let timeout = limits.header_timeout;
                tokio::spawn(async move {
                    let stream = match tokio::time::timeout(timeout, acceptor.accept(stream)).await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::debug!(target: "jwt_edge::server::http", "TLS handshake failed: {e}");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(target: "jwt_edge::server::http", "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = watcher.watch(http.serve_connection(TokioIo::new(stream), service));
                    if let Err(e) = conn.await {
                        tracing::debug!(target: "jwt_edge::server::http", "connection closed: {e}");
                    }
                    drop(slot);
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(target: "jwt_edge::server", "shutdown: connections still open after the drain period");
    }
}
