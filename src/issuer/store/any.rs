//! Which store a `--db` value names: [`StoreUrl`] (a SQLite path, or a
//! `postgres://` URL) and [`AnyStore`], the store it opens.

use std::format;
use std::path::{Path, PathBuf};
use std::string::{String, ToString};
use std::vec::Vec;

use zeroize::Zeroizing;

use super::super::Result;
#[cfg(feature = "postgres")]
use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Store, Tx};

/// Where the issuer's state is: `postgres://…` / `postgresql://…` is a
/// PostgreSQL database; `sqlite:PATH` or any other value a SQLite file.
/// Shown (Debug, Display) with its password redacted.
#[derive(Clone)]
#[non_exhaustive]
pub enum StoreUrl {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may hold a password).
    Postgres(Zeroizing<String>),
}

impl StoreUrl {
    /// Reads a `--db` / `JWT_EDGE_DB` value.
    pub fn parse(s: &str) -> Self {
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Self::Postgres(Zeroizing::new(s.into()))
        } else {
            Self::Sqlite(PathBuf::from(s.strip_prefix("sqlite:").unwrap_or(s)))
        }
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Self::Sqlite(p) => Some(p),
            Self::Postgres(_) => None,
        }
    }
}

impl From<&Path> for StoreUrl {
    fn from(p: &Path) -> Self {
        p.to_str()
            .map_or_else(|| Self::Sqlite(p.to_path_buf()), Self::parse)
    }
}

impl From<PathBuf> for StoreUrl {
    fn from(p: PathBuf) -> Self {
        Self::from(p.as_path())
    }
}

impl From<&PathBuf> for StoreUrl {
    fn from(p: &PathBuf) -> Self {
        Self::from(p.as_path())
    }
}

impl From<&str> for StoreUrl {
    fn from(s: &str) -> Self {
        Self::parse(s)
    }
}

impl core::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Sqlite(p) => write!(f, "{}", p.display()),
            Self::Postgres(u) => f.write_str(&redact(u)),
        }
    }
}

impl core::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "StoreUrl({self})")
    }
}

/// The store a [`StoreUrl`] names.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyStore {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database (feature `postgres`).
    #[cfg(feature = "postgres")]
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens (with `create`: creates) the store `url` names and applies
    /// pending migrations.
    ///
    /// # Errors
    /// As [`SqliteStore::open`] and [`PgStore::open`].
    pub fn open(url: &StoreUrl, create: bool) -> Result<Self> {
        Ok(match url {
            StoreUrl::Sqlite(p) => Self::Sqlite(SqliteStore::open(p, create)?),
            #[cfg(feature = "postgres")]
            StoreUrl::Postgres(u) => Self::Postgres(PgStore::open(u, create)?),
            #[cfg(not(feature = "postgres"))]
            StoreUrl::Postgres(u) => {
                let _ = create;
                return Err(super::super::Error::usage(
                    format!(
                        "{}: this jwt-edge was built without PostgreSQL support (cargo feature `postgres`)",
                        redact(u)
                    ),
                ));
            }
        })
    }
}

impl Store for AnyStore {
    fn transaction<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<T> {
        match self {
            Self::Sqlite(s) => s.transaction(f),
            #[cfg(feature = "postgres")]
            Self::Postgres(s) => s.transaction(f),
        }
    }

    fn external_changes(&self) -> Result<u64> {
        match self {
            Self::Sqlite(s) => s.external_changes(),
            #[cfg(feature = "postgres")]
            Self::Postgres(s) => s.external_changes(),
        }
    }

    fn lead(&mut self) -> Result<bool> {
        match self {
            Self::Sqlite(s) => s.lead(),
            #[cfg(feature = "postgres")]
            Self::Postgres(s) => s.lead(),
        }
    }
}

/// `url` with its password (user info and `password=` parameter) replaced
/// by `***`: the only form in which a connection string is ever shown.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority_path, query) = match rest.split_once('?') {
        Some((a, q)) => (a, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match authority_path.find('/') {
        Some(i) => authority_path.split_at(i),
        None => (authority_path, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let mut out = if scheme.is_empty() {
        authority
    } else {
        format!("{scheme}://{authority}")
    };
    out.push_str(path);
    if let Some(q) = query {
        let q: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://app:s3cr%40t@db.example:5432/issuer?sslmode=require"),
            "postgres://app:***@db.example:5432/issuer?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://db/issuer?user=app&password=hunter2"),
            "postgresql://db/issuer?user=app&password=***"
        );
        assert_eq!(redact("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(redact("postgres://u:p@w@h/db"), "postgres://u:***@h/db");
    }
}
