//! Shared helpers of the server tests: an initialised store, an in-process
//! server on 127.0.0.1:0, and a small keep-alive HTTP/1.1 client (hyper).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use jwt_edge::issuer::{AnyStore, Issuer, Secrets, Settings, StoreUrl};
use jwt_edge::server::{Config, Server};
use tokio::sync::oneshot;
use zeroize::Zeroizing;

pub mod pg;
#[path = "../support/mod.rs"]
pub mod support;
#[allow(unused_imports)]
pub use pg::{postgres, sql_column};
#[allow(unused_imports)]
pub use support::{claims_of, temp_dir, TempDir};

pub const ISS: &str = "https://issuer.test";
pub const AUD: &str = "https://api.test";
pub const PASS: &str = "correct horse battery staple";

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The user PIN of the SoftHSM2 tokens of the PKCS#11 run.
pub const PIN: &str = "server-suite-pin";

/// Whether this run keeps every test store's signing keys in a PKCS#11
/// token: `JWT_EDGE_TEST_KEY_STORE=pkcs11`, with `SOFTHSM2_CONF` naming a
/// SoftHSM2 configuration (pkg-scripts/test runs the server suites once
/// with local keys and once so).
pub fn pkcs11() -> bool {
    std::env::var("JWT_EDGE_TEST_KEY_STORE").as_deref() == Ok("pkcs11")
}

pub fn secrets() -> Secrets {
    let s = Secrets::new(Some(Zeroizing::new(PASS.to_owned())), false);
    if pkcs11() {
        s.with_pkcs11_pin(Some(Zeroizing::new(PIN.to_owned())))
    } else {
        s
    }
}

/// The SoftHSM2 token of this test process (in the directory `SOFTHSM2_CONF`
/// names), created once before any test opens the module: SoftHSM lists its
/// tokens at `C_Initialize`, so one created later would not be seen. The
/// tests' stores keep their keys side by side in it.
fn new_token() -> jwt_edge::issuer::custody::hsm::Pkcs11Config {
    static TOKEN: std::sync::OnceLock<jwt_edge::issuer::custody::hsm::Pkcs11Config> =
        std::sync::OnceLock::new();
    TOKEN.get_or_init(create_token).clone()
}

fn create_token() -> jwt_edge::issuer::custody::hsm::Pkcs11Config {
    let label = format!("srv-{}", std::process::id());
    init_softhsm_token(&label, PIN, None);
    jwt_edge::issuer::custody::hsm::Pkcs11Config {
        module: softhsm_module(),
        token: label,
    }
}

/// Debian's SoftHSM2 module (pkg-scripts/setup installs `softhsm2`).
pub fn softhsm_module() -> String {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("SoftHSM2 is not installed (pkg-scripts/setup installs Debian's softhsm2)")
    .to_owned()
}

/// Creates the SoftHSM2 token `label` with user PIN `pin` (in the
/// configuration `conf`, else the one `SOFTHSM2_CONF` names).
pub fn init_softhsm_token(label: &str, pin: &str, conf: Option<&Path>) {
    // `--free` takes the first free slot: two tests of one process creating
    // tokens at once in the same configuration would race for it.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut c = std::process::Command::new("softhsm2-util");
    if let Some(conf) = conf {
        c.env("SOFTHSM2_CONF", conf);
    }
    let out = c
        .args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--so-pin",
            "so-pin-1",
            "--pin",
            pin,
        ])
        .output()
        .expect("softhsm2-util (pkg-scripts/setup installs Debian's softhsm2)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Opens the store `db` names: a SQLite file, or (in the PostgreSQL run)
/// a `postgres://` URL carried in the path.
pub fn open_store(db: &Path, create: bool) -> AnyStore {
    AnyStore::open(&StoreUrl::from(db), create).unwrap()
}

pub fn issuer(db: &Path) -> Issuer<AnyStore> {
    Issuer::new(open_store(db, false), secrets())
}

/// A new, empty store's location: `dir/issuer.db`, or in the PostgreSQL
/// run (`JWT_EDGE_TEST_STORE=postgres`) a new database's URL.
pub fn new_store_location(dir: &Path) -> PathBuf {
    if postgres() {
        PathBuf::from(pg::shared_cluster().new_database())
    } else {
        dir.join("issuer.db")
    }
}

/// Default test settings: fast KDF, default rotation.
pub fn settings() -> Settings {
    let mut s = Settings::new(ISS);
    s.kdf_iterations = 1000;
    s
}

/// Creates and initialises a store; returns the path.
pub fn init_store(dir: &Path, settings: &Settings) -> PathBuf {
    let db = new_store_location(dir);
    let store = open_store(&db, true);
    let mut i = Issuer::new(store, secrets());
    let mut settings = settings.clone();
    if pkcs11() {
        settings.pkcs11 = Some(new_token());
    }
    i.init(&settings, unix_now()).unwrap();
    db
}

/// A provisioning key with scopes "read write" and audience AUD: (id, full key).
pub fn provision(db: &Path, name: &str) -> (String, String) {
    provision_with(db, name, &[AUD], &[])
}

/// A provisioning key with scopes "read write", the given audiences and
/// permissions: (id, full key).
pub fn provision_with(
    db: &Path,
    name: &str,
    audiences: &[&str],
    permissions: &[&str],
) -> (String, String) {
    let audiences: Vec<String> = audiences.iter().map(|a| (*a).to_owned()).collect();
    let permissions: Vec<String> = permissions.iter().map(|a| (*a).to_owned()).collect();
    let (rec, full) = issuer(db)
        .create_provisioning_key(
            name,
            "read write",
            None,
            None,
            None,
            &audiences,
            &permissions,
            unix_now(),
        )
        .unwrap();
    (rec.id, full.as_str().to_owned())
}

pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stops")
            .unwrap();
    }
}

pub fn config(db: &Path) -> Config {
    let mut c = Config::new(db, secrets());
    c.refresh_interval = Duration::from_millis(100);
    c
}

pub async fn start(config: Config) -> Running {
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        stop: Some(tx),
        task,
    }
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A keep-alive HTTP/1.1 connection (reconnects after an error).
pub struct Client {
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A TCP connection to `addr` from the loopback address `local` (another
/// 127.x address is another peer to the server).
pub async fn connect_from(
    addr: SocketAddr,
    local: Option<std::net::IpAddr>,
) -> std::io::Result<tokio::net::TcpStream> {
    match local {
        None => tokio::net::TcpStream::connect(addr).await,
        Some(ip) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(ip, 0))?;
            socket.connect(addr).await
        }
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            local: None,
            sender: None,
        }
    }

    /// A client whose connections come from the loopback address `local`.
    pub fn from_ip(addr: SocketAddr, local: [u8; 4]) -> Self {
        Self {
            addr,
            local: Some(local.into()),
            sender: None,
        }
    }

    async fn connect(&mut self) -> std::io::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = connect_from(self.addr, self.local).await?;
            stream.set_nodelay(true)?;
            let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().unwrap())
    }

    pub async fn try_send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Resp> {
        let addr = self.addr;
        let sender = self.connect().await?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(std::io::Error::other)?;
        if let Err(e) = sender.ready().await {
            self.sender = None;
            return Err(std::io::Error::other(e));
        }
        let res = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                self.sender = None;
                return Err(std::io::Error::other(e));
            }
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?
            .to_bytes()
            .to_vec();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Resp {
        // One retry on a fresh connection (the server may have closed this
        // one, e.g. after a 413).
        match self.try_send(method, path, headers, body).await {
            Ok(r) => r,
            Err(_) => {
                self.sender = None;
                self.try_send(method, path, headers, body).await.unwrap()
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        self.send("GET", path, &[], b"").await
    }

    /// `POST /token` with a form body and optional extra headers.
    pub async fn token(&mut self, form: &str, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("content-type", "application/x-www-form-urlencoded")];
        h.extend_from_slice(headers);
        self.send("POST", "/token", &h, form.as_bytes()).await
    }
}

pub const FORM_CT: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

/// `Authorization: Basic` for the provisioning key's id and secret part.
pub fn basic(id: &str, full: &str) -> String {
    use base64ct::Encoding;
    let secret = &full["jep_".len() + 16 + 1..];
    format!(
        "Basic {}",
        base64ct::Base64::encode_string(format!("{id}:{secret}").as_bytes())
    )
}

/// A token's header `kid`, read without verification.
pub fn kid_of(token: &str) -> String {
    jwt_edge::inspect(token, None).unwrap().header["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A token's `jti` claim, read without verification.
pub fn jti_of(token: &str) -> String {
    jwt_edge::inspect(token, None).unwrap().claims["jti"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Form-urlencodes one value.
pub fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The provisioning key's form credentials.
pub fn form_creds(id: &str, full: &str) -> String {
    format!("client_id={}&client_secret={}", enc(id), enc(full))
}

/// `jwt-edge serve` (the binary) as a child process on 127.0.0.1:0, on the
/// store `db` with `extra` arguments, the passphrase and PIN in its
/// environment; returns it and the address from its listening line.
pub fn spawn_serve<S: AsRef<std::ffi::OsStr>>(
    db: &Path,
    extra: &[S],
) -> (std::process::Child, SocketAddr) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jwt-edge"))
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(extra)
        .env("JWT_EDGE_PASSPHRASE", PASS)
        .env("JWT_EDGE_PKCS11_PIN", PIN)
        .env("JWT_EDGE_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let addr = listening_addr(&mut child);
    (child, addr)
}

/// The address in the first line a `jwt-edge serve` child (its stdout
/// piped) prints: `{"listening": "127.0.0.1:PORT"}`.
pub fn listening_addr(child: &mut std::process::Child) -> SocketAddr {
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("the listening line");
    v["listening"].as_str().unwrap().parse().unwrap()
}
