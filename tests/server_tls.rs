//! `jwt-edge serve` terminating TLS (`--tls-cert`, `--tls-key`): curl,
//! Python and Node clients that trust the test CA; TLS 1.1 refused by the
//! server (an `openssl s_client` that offers only TLS 1.1 gets a
//! protocol-version alert); a certificate swapped on disk is served to the
//! next connection while an open keep-alive connection keeps working; a
//! pair the file poll cannot see (same sizes and times) reloaded on SIGHUP;
//! the metadata's URLs are https.

#![cfg(not(target_arch = "wasm32"))]
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

mod server_util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, ServerName};
use server_util::*;

/// A test CA and leaf certificates for localhost and 127.0.0.1.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "jwt-edge test CA");
        let cert = params.self_signed(&key).unwrap();
        Self {
            issuer: Issuer::new(params, key),
            pem: cert.pem(),
        }
    }

    /// A CA whose certificate is `dir/ca.pem` (returned), and its leaf
    /// "leaf-a" in `dir/cert.pem` and `dir/key.pem`.
    fn in_dir(dir: &Path) -> (Self, PathBuf) {
        let ca = Self::new();
        let ca_pem = dir.join("ca.pem");
        std::fs::write(&ca_pem, &ca.pem).unwrap();
        ca.leaf("leaf-a", dir);
        (ca, ca_pem)
    }

    /// Writes a leaf named `cn` to `dir/cert.pem` and `dir/key.pem`
    /// (through a rename each, as a deployment tool would).
    fn leaf(&self, cn: &str, dir: &Path) {
        let (key, cert) = self.leaf_pem(cn);
        for (name, text) in [("key.pem", key), ("cert.pem", cert)] {
            let tmp = dir.join(format!("{name}.tmp"));
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, dir.join(name)).unwrap();
        }
    }

    /// A leaf named `cn`: (key PEM, certificate PEM).
    fn leaf_pem(&self, cn: &str) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        let cert = p.signed_by(&key, &self.issuer).unwrap();
        (key.serialize_pem(), cert.pem())
    }
}

fn tls_config(db: &Path, dir: &Path) -> jwt_edge::server::Config {
    let mut c = config(db);
    c.public_url = None;
    c.tls = Some(jwt_edge::server::tls::TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
        poll: Duration::from_millis(100),
    });
    c
}

/// A rustls client trusting `ca_pem`.
fn connector(ca_pem: &Path) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca_pem).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// A keep-alive HTTPS connection: the common name of the certificate the
/// server presented, and a request sender.
async fn open(
    addr: std::net::SocketAddr,
    ca_pem: &Path,
) -> (
    String,
    hyper::client::conn::http1::SendRequest<http_body_util::Empty<hyper::body::Bytes>>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = connector(ca_pem).connect(name, tcp).await.unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    let text = String::from_utf8_lossy(leaf.as_ref()).into_owned();
    let cn = ["leaf-a", "leaf-b"]
        .into_iter()
        .find(|cn| text.contains(cn))
        .unwrap_or("?")
        .to_owned();
    let (send, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    (cn, send)
}

async fn get(
    send: &mut hyper::client::conn::http1::SendRequest<http_body_util::Empty<hyper::body::Bytes>>,
    path: &str,
) -> (u16, String) {
    let req = hyper::Request::get(path)
        .header("host", "localhost")
        .body(http_body_util::Empty::new())
        .unwrap();
    let res = send.send_request(req).await.unwrap();
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_terminates_tls_and_reloads_its_certificate() {
    let dir = temp_dir("server-tls");
    let db = init_store(&dir, &settings());
    let (ca, ca_pem) = Ca::in_dir(&dir);
    let server = start(tls_config(&db, &dir)).await;
    let url = format!("https://localhost:{}", server.addr.port());
    let resolve = format!("localhost:{}:127.0.0.1", server.addr.port());

    // The metadata's URLs are https.
    let (cn, mut keep) = open(server.addr, &ca_pem).await;
    assert_eq!(cn, "leaf-a");
    let (status, body) = get(&mut keep, "/.well-known/oauth-authorization-server").await;
    assert_eq!(status, 200, "{body}");
    let meta: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        meta["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{meta}"
    );

    // curl, Python and Node trust the test CA.
    let (ok, out) = run(Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "10", "--cacert"])
        .arg(&ca_pem)
        .args(["--resolve", &resolve])
        .arg(format!("{url}/healthz")));
    assert!(ok, "curl: {out}");
    let python = root().join("target/pyenv/bin/python");
    let python = if python.exists() {
        python
    } else {
        PathBuf::from("python3")
    };
    let (ok, out) = run(Command::new(&python).args([
        "-c",
        "import sys, ssl, urllib.request\n\
         ctx = ssl.create_default_context(cafile=sys.argv[1])\n\
         r = urllib.request.urlopen(sys.argv[2], context=ctx, timeout=10)\n\
         print(r.status, r.fp.raw._sock.version())",
        ca_pem.to_str().unwrap(),
        &format!("https://127.0.0.1:{}/healthz", server.addr.port()),
    ]));
    assert!(ok && out.starts_with("200 TLSv1."), "python: {out}");
    let (ok, out) = run(Command::new("node").args([
        "-e",
        "const https = require('node:https'); const fs = require('node:fs');\n\
         https.get(process.argv[2], { ca: fs.readFileSync(process.argv[1]), timeout: 10000 }, (r) => {\n\
           console.log(r.statusCode, r.socket.getProtocol()); r.resume(); })\n\
           .on('error', (e) => { console.error(e.message); process.exit(1); });",
        ca_pem.to_str().unwrap(),
        &format!("https://127.0.0.1:{}/healthz", server.addr.port()),
    ]));
    assert!(ok && out.starts_with("200 TLSv1."), "node: {out}");

    // A client that offers only TLS 1.1 is refused by the server: it
    // answers with an alert (rustls: handshake_failure, as no version is
    // shared); the same client offering TLS 1.2 completes its handshake.
    let s_client = |version: &str| {
        run(Command::new("openssl")
            .args([
                "s_client",
                version,
                "-cipher",
                "DEFAULT@SECLEVEL=0",
                "-CAfile",
            ])
            .arg(&ca_pem)
            .arg("-connect")
            .arg(format!("127.0.0.1:{}", server.addr.port()))
            .stdin(std::process::Stdio::null()))
    };
    let (ok, out) = s_client("-tls1_1");
    assert!(!ok, "TLS 1.1 was accepted: {out}");
    assert!(
        out.contains("alert handshake failure") || out.contains("alert protocol version"),
        "no alert from the server: {out}"
    );
    assert!(out.contains("Protocol  : TLSv1.1"), "{out}");
    let (ok, out) = s_client("-tls1_2");
    assert!(
        ok && (out.contains("Protocol: TLSv1.2") || out.contains("Protocol  : TLSv1.2")),
        "TLS 1.2: {out}"
    );
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");

    // The certificate is replaced on disk: the next connection gets it,
    // the open keep-alive connection keeps working.
    ca.leaf("leaf-b", &dir);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut swapped = false;
    while Instant::now() < deadline {
        let (cn, mut fresh) = open(server.addr, &ca_pem).await;
        if cn == "leaf-b" {
            assert_eq!(get(&mut fresh, "/healthz").await.0, 200);
            swapped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(swapped, "the new certificate was not served within 10 s");
    let (status, _) = get(&mut keep, "/healthz").await;
    assert_eq!(status, 200, "the open connection still works");

    // A half-written pair (a key that does not match the certificate) is
    // not loaded: the previous certificate stays.
    std::fs::write(
        dir.join("key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (cn, mut again) = open(server.addr, &ca_pem).await;
    assert_eq!(cn, "leaf-b");
    assert_eq!(get(&mut again, "/healthz").await.0, 200);

    server.stop().await;
    std::fs::remove_dir_all(dir).ok();
}

/// The `jwt-edge serve` binary (one process, its own runtime, as deployed):
/// SIGHUP reloads what the file poll cannot see, a new pair with the same
/// sizes and modification times as the old one (renamed into place with
/// the old times already set), which stays unnoticed until the signal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_reloads_its_certificate_on_sighup() {
    let dir = temp_dir("server-tls-hup");
    let db = init_store(&dir, &settings());
    let (ca, ca_pem) = Ca::in_dir(&dir);
    let (mut child, addr) = spawn_serve(
        &db,
        &[
            "--tls-cert".as_ref(),
            dir.join("cert.pem").as_os_str(),
            "--tls-key".as_ref(),
            dir.join("key.pem").as_os_str(),
        ],
    );
    assert_eq!(open(addr, &ca_pem).await.0, "leaf-a");

    let meta = |n: &str| std::fs::metadata(dir.join(n)).unwrap();
    let (cert_meta, key_meta) = (meta("cert.pem"), meta("key.pem"));
    let (key, cert) = (0..200)
        .map(|_| ca.leaf_pem("leaf-b"))
        .find(|(k, c)| k.len() as u64 == key_meta.len() && c.len() as u64 == cert_meta.len())
        .expect("no leaf of the same sizes in 200 tries");
    for (name, text, was) in [("key.pem", key, &key_meta), ("cert.pem", cert, &cert_meta)] {
        let tmp = dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        let f = std::fs::File::options().write(true).open(&tmp).unwrap();
        f.set_modified(was.modified().unwrap()).unwrap();
        drop(f);
        std::fs::rename(&tmp, dir.join(name)).unwrap();
    }
    // Longer than the binary's 2 s poll: the poll sees no change.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        open(addr, &ca_pem).await.0,
        "leaf-a",
        "the poll saw no change"
    );
    let (ok, out) = run(Command::new("kill").args(["-HUP", &child.id().to_string()]));
    assert!(ok, "kill -HUP: {out}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut reloaded = false;
    while Instant::now() < deadline {
        if open(addr, &ca_pem).await.0 == "leaf-b" {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().ok();
    child.wait().ok();
    assert!(reloaded, "SIGHUP did not reload the pair within 10 s");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_needs_a_usable_pair_and_an_https_public_url() {
    let dir = temp_dir("server-tls-bad");
    let db = init_store(&dir, &settings());
    std::fs::write(dir.join("cert.pem"), "not a certificate").unwrap();
    std::fs::write(dir.join("key.pem"), "not a key").unwrap();
    let e = jwt_edge::server::Server::bind("127.0.0.1:0".parse().unwrap(), tls_config(&db, &dir))
        .await
        .err()
        .unwrap();
    assert!(e.message().contains("--tls-cert"), "{e}");
    assert!(
        !e.message().contains("not a key"),
        "the key file's text is never shown: {e}"
    );
    let ca = Ca::new();
    ca.leaf("leaf-a", &dir);
    let mut c = tls_config(&db, &dir);
    c.public_url = Some("http://issuer.test".into());
    let e = jwt_edge::server::Server::bind("127.0.0.1:0".parse().unwrap(), c)
        .await
        .err()
        .unwrap();
    assert!(e.message().contains("https://"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}
