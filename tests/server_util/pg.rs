//! A real PostgreSQL server for the tests: `initdb` + `pg_ctl` into a
//! temporary directory, listening on 127.0.0.1 and a free port (as the
//! `postgres` user when the tests run as root: PostgreSQL refuses root),
//! password authentication (SCRAM), optionally TLS with a certificate made
//! here. Stopped when dropped, and by a watchdog process when the test
//! process ends without dropping it (a `static`, a panic, a kill).
//! Debian's `postgresql` package provides the binaries (pkg-scripts/setup
//! installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The superuser's password of every test cluster.
pub const PG_PASSWORD: &str = "pg-test-pw-7f3a9c";

pub struct PgCluster {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    pub tls: bool,
}

/// PostgreSQL's binaries: the newest /usr/lib/postgresql/<v>/bin (Debian),
/// else `pg_config --bindir`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, b)) = versions.pop() {
        return b;
    }
    let out = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .expect("PostgreSQL is not installed (pkg-scripts/setup installs Debian's postgresql)");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgCluster {
    /// A new cluster (TLS on with `tls`: `server.crt` in `dir` is its
    /// self-signed certificate for 127.0.0.1 and localhost).
    pub fn start(tls: bool) -> Self {
        let dir = super::support::temp_dir("pg");
        let as_postgres = is_root();
        let c = Self {
            dir,
            port: free_port(),
            bin: bin_dir(),
            as_postgres,
            tls,
        };
        std::fs::write(c.dir.join("pw"), PG_PASSWORD).unwrap();
        if tls {
            let cert = rcgen::generate_simple_self_signed(vec![
                "127.0.0.1".to_owned(),
                "localhost".to_owned(),
            ])
            .unwrap();
            std::fs::write(c.dir.join("server.crt"), cert.cert.pem()).unwrap();
            std::fs::write(c.dir.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                c.dir.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        if as_postgres {
            c.chown(&c.dir);
        }
        let data = c.dir.join("data");
        let out = c.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "scram-sha-256",
                "--pwfile",
                c.dir.join("pw").to_str().unwrap(),
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\nmax_connections = 300\n\
             synchronous_commit = on\nfsync = on\nlog_min_messages = warning\n\
             autovacuum_naptime = 1\n",
            c.port,
            c.dir.display()
        );
        if tls {
            conf.push_str(&format!(
                "ssl = on\nssl_cert_file = '{0}/server.crt'\nssl_key_file = '{0}/server.key'\n",
                c.dir.display()
            ));
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        c.pg_ctl_start();
        // The watchdog: stops the server once this process is gone. (Not
        // waited for: it outlives this process by design.)
        let pid = std::process::id();
        #[allow(clippy::zombie_processes)]
        let _watchdog = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
                 p=$(head -1 '{data}/postmaster.pid' 2>/dev/null) && kill -QUIT \"$p\" 2>/dev/null; \
                 sleep 2; rm -rf '{dir}'",
                data = data.display(),
                dir = c.dir.display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        c
    }

    fn chown(&self, p: &Path) {
        let st = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(p)
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// Runs a PostgreSQL binary (as `postgres` when we are root).
    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).current_dir(&self.dir).stdin(Stdio::null());
        cmd.output().unwrap()
    }

    fn pg_ctl_start(&self) {
        let data = self.dir.join("data");
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                self.dir.join("log").to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// `pg_ctl stop` with shutdown `mode` (`fast`, `immediate`).
    fn pg_ctl_stop(&self, mode: &str) -> Output {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
        )
    }

    /// Stops the server (fast shutdown: connections are closed).
    pub fn stop(&self) {
        let out = self.pg_ctl_stop("fast");
        assert!(
            out.status.success(),
            "pg_ctl stop: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts it again (same data, same port).
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    /// `psql -c sql` as the superuser on database `db`.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
            .env("PGPASSWORD", PG_PASSWORD)
            .env("PGSSLMODE", "disable")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A PostgreSQL client tool (`psql`, `pg_dump`, ...) connected as the superuser.
    pub fn client_tool(&self, tool: &str) -> Command {
        let mut c = Command::new(self.bin.join(tool));
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-U",
            "postgres",
        ])
        .env("PGPASSWORD", PG_PASSWORD)
        .env("PGSSLMODE", "disable")
        .stdin(Stdio::null());
        c
    }

    /// An online backup of database `db` (`pg_dump -Fc`) into `file`.
    pub fn dump(&self, db: &str, file: &Path) {
        let out = self
            .client_tool("pg_dump")
            .args(["-Fc", "-f"])
            .arg(file)
            .arg(db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Replaces database `db` by the backup in `file` (`pg_restore`).
    pub fn restore(&self, db: &str, file: &Path) {
        self.psql("postgres", &format!("DROP DATABASE {db} WITH (FORCE)"));
        self.psql("postgres", &format!("CREATE DATABASE {db}"));
        let out = self
            .client_tool("pg_restore")
            .args(["-d", db])
            .arg(file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_restore: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new empty database; its URL.
    pub fn new_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!("issuer_{}", N.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// The URL of database `db` (plain TCP).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://postgres:{PG_PASSWORD}@127.0.0.1:{}/{db}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl_stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether this run keeps every test store in PostgreSQL:
/// `JWT_EDGE_TEST_STORE=postgres` (pkg-scripts/test runs the issuer and
/// server suites once on SQLite and once so).
pub fn postgres() -> bool {
    std::env::var("JWT_EDGE_TEST_STORE").as_deref() == Ok("postgres")
}

/// The cluster of this test process (started on first use).
pub fn shared_cluster() -> &'static PgCluster {
    static C: std::sync::OnceLock<PgCluster> = std::sync::OnceLock::new();
    C.get_or_init(|| PgCluster::start(false))
}

/// The database name of a test URL made by [`PgCluster::url`].
pub fn database_of(url: &str) -> String {
    let after_host = url.rsplit_once('/').map_or(url, |(_, d)| d);
    after_host.split('?').next().unwrap_or("").to_owned()
}

/// An online backup of the test store `db` (SQLite: `VACUUM INTO`;
/// PostgreSQL: `pg_dump`) into `backup`.
pub fn backup_store(db: &Path, backup: &Path) {
    if postgres() {
        shared_cluster().dump(&database_of(db.to_str().unwrap()), backup);
    } else {
        rusqlite::Connection::open(db)
            .unwrap()
            .execute("VACUUM INTO ?1", [backup.to_str().unwrap()])
            .unwrap();
    }
}

/// Replaces the test store `db` by `backup` (nothing may have it open).
pub fn restore_store(db: &Path, backup: &Path) {
    if postgres() {
        shared_cluster().restore(&database_of(db.to_str().unwrap()), backup);
    } else {
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
        }
        std::fs::copy(backup, db).unwrap();
    }
}

/// The first column of `sql`'s rows, as text, read directly from the test
/// store `db` (SQLite or PostgreSQL; `sql` must be valid in both).
pub fn sql_column(db: &Path, sql: &str) -> Vec<String> {
    if postgres() {
        let out = shared_cluster().psql(&database_of(db.to_str().unwrap()), sql);
        out.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    } else {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Null => String::new(),
                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                rusqlite::types::ValueRef::Real(f) => f.to_string(),
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    String::from_utf8_lossy(t).into_owned()
                }
            })
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }
}
