//! TLS termination in `serve` (`--tls-cert FILE --tls-key FILE`): rustls
//! with its ring provider, TLS 1.3 and 1.2 only (nothing older is
//! implemented), HTTP/1.1 by ALPN. The certificate chain and key are read
//! again when either file changes (checked every `poll`) or on SIGHUP; a
//! handshake uses the pair held at that moment, so open connections keep
//! the session they negotiated and new ones get the new certificate. A pair
//! that fails to load (a half-written file, a key that does not match) is
//! logged and the previous pair kept.

use std::format;
use std::path::{Path, PathBuf};
use std::string::String;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use std::vec::Vec;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::issuer::Error;

/// Where the certificate chain and its private key are (PEM files).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// Its private key (PKCS#8, SEC1 or PKCS#1).
    pub key: PathBuf,
    /// How often the files are checked for changes.
    pub poll: Duration,
}

/// What identifies a version of the two files.
type Stamp = [(Option<SystemTime>, u64); 2];

fn stamp(files: &TlsFiles) -> Stamp {
    let one = |p: &Path| std::fs::metadata(p).map_or((None, 0), |m| (m.modified().ok(), m.len()));
    [one(&files.cert), one(&files.key)]
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load(files: &TlsFiles) -> Result<CertifiedKey, Error> {
    let bad = |what: &str, p: &Path, e: &dyn core::fmt::Display| {
        Error::usage(format!("{what} {}: {e}", p.display()))
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| bad("--tls-cert", &files.cert, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad("--tls-cert", &files.cert, &e))?;
    if chain.is_empty() {
        return Err(Error::usage(format!(
            "--tls-cert {}: no certificate in the file",
            files.cert.display()
        )));
    }
    // The key's text is never part of a message: only the file's name.
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|_| {
        Error::usage(format!(
            "--tls-key {}: no readable PEM private key (PKCS#8, SEC1 or PKCS#1)",
            files.key.display()
        ))
    })?;
    CertifiedKey::from_der(chain, key, &provider())
        .map_err(|e| bad("--tls-cert/--tls-key", &files.cert, &e))
}

/// The certificate in use, swapped when its files change.
#[derive(Debug)]
pub(crate) struct Reloading {
    files: TlsFiles,
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c.0))
    }
}

impl Reloading {
    /// Loads the pair (an error names the file at fault).
    pub(crate) fn new(files: TlsFiles) -> Result<Self, Error> {
        let s = stamp(&files);
        let key = load(&files)?;
        Ok(Self {
            files,
            current: RwLock::new((Arc::new(key), s)),
        })
    }

    /// Loads the files again when they changed (or when `force`); `Ok(true)`
    /// when a new pair is in use. On error the previous pair stays.
    pub(crate) fn reload(&self, force: bool) -> Result<bool, Error> {
        let s = stamp(&self.files);
        let unchanged = self.current.read().map(|c| c.1 == s).unwrap_or(false);
        if unchanged && !force {
            return Ok(false);
        }
        match load(&self.files) {
            Ok(key) => {
                if let Ok(mut c) = self.current.write() {
                    *c = (Arc::new(key), s);
                }
                Ok(true)
            }
            Err(e) => {
                // Not again for these same files: the next write changes them.
                if let Ok(mut c) = self.current.write() {
                    c.1 = s;
                }
                Err(e)
            }
        }
    }

    /// The server configuration over this resolver.
    pub(crate) fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor, Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| Error::usage(format!("TLS configuration: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = std::vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// Reloads on SIGHUP and when the files change, until the task is aborted.
    pub(crate) async fn watch(self: Arc<Self>) {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(self.files.poll.max(Duration::from_millis(50)));
        loop {
            #[cfg(unix)]
            let forced = match hup.as_mut() {
                Some(h) => tokio::select! {
                    _ = tick.tick() => false,
                    _ = h.recv() => true,
                },
                None => {
                    tick.tick().await;
                    false
                }
            };
            #[cfg(not(unix))]
            let forced = {
                tick.tick().await;
                false
            };
            match self.reload(forced) {
                Ok(true) => {
                    tracing::info!(target: "jwt_edge::server", cert = %self.files.cert.display(), "TLS certificate reloaded");
                }
                Ok(false) => {}
                Err(e) => {
                    let msg: String = e.message().into();
                    tracing::error!(target: "jwt_edge::server", "TLS certificate not reloaded (the previous one stays in use): {msg}");
                }
            }
        }
    }
}
