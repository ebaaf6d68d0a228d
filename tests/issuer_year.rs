//! A simulated year of daily issuance and policy-driven rotation through the
//! library API (the CLI is a thin adapter over it): every token verifies with
//! the JWKS of every moment sampled from its issuance until its `exp`, and
//! fails after. Times of day, lifetimes and extra rotate runs come from a
//! seeded generator, so the run is deterministic.
#![cfg(not(target_arch = "wasm32"))]
// The issuer suites run against every store and key custody (JWT_EDGE_TEST_STORE,
// JWT_EDGE_TEST_KEY_STORE), so they need every native feature (pkg-scripts/test: $ALL).
#![cfg(all(
    feature = "cli",
    feature = "server",
    feature = "postgres",
    feature = "pkcs11"
))]

use jwt_edge::issuer::rules::lifecycle::KeyState;
use jwt_edge::issuer::store::AuditAction;
use jwt_edge::issuer::store::Custody;
use jwt_edge::issuer::{AnyStore, IssueRequest, Issuer, Secrets, Settings, StoreUrl};
use jwt_edge::ErrorKind;
use jwt_edge::{KeySet, Policy};
use zeroize::Zeroizing;

/// The PostgreSQL test cluster (the PostgreSQL run of this suite).
#[allow(dead_code)]
#[path = "server_util/pg.rs"]
mod pg;
mod support;

const T0: u64 = 1_700_000_000;
const DAY: u64 = 86_400;

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

#[test]
fn a_simulated_year_of_daily_issuance_and_rotation() {
    let dir = support::temp_dir("year");
    // A SQLite file, or in the PostgreSQL run a new database.
    let location = if pg::postgres() {
        StoreUrl::parse(&pg::shared_cluster().new_database())
    } else {
        StoreUrl::Sqlite(dir.join("y.db"))
    };
    let store = AnyStore::open(&location, true).unwrap();
    let mut issuer = Issuer::new(
        store,
        Secrets::new(Some(Zeroizing::new("pw".into())), false).allow_weak_passphrase(true),
    );
    let mut s = Settings::new("https://issuer.example");
    s.alg = jwt_edge::Algorithm::EdDSA;
    s.token_ttl = 900;
    s.max_token_ttl = 3600;
    s.rotate_every = 30 * DAY;
    s.pre_publish = DAY;
    s.grace = s.default_grace();
    s.retain = 30 * DAY;
    s.kdf_iterations = 1000;
    issuer.init(&s, T0).unwrap();
    let (_, key) = issuer
        .create_provisioning_key(
            "svc",
            "read",
            Some(400 * DAY),
            Some(3600),
            None,
            &["api".into()],
            &[],
            T0,
        )
        .unwrap();
    let policy = Policy::new()
        .issuer("https://issuer.example")
        .audience("api")
        .typ("at+jwt");
    let mut rng = Lcg(42);
    let verify_at = |issuer: &mut Issuer<AnyStore>, token: &str, now: u64| {
        let jwks = issuer.jwks().unwrap().to_string();
        let set = KeySet::from_jwks(jwks.as_bytes()).unwrap();
        assert!(set.issues().is_empty());
        assert!(set.keys().len() <= 3, "at most pending + active + retiring");
        jwt_edge::verify(token, &set, &policy, now)
    };
    let mut tokens = 0;
    for day in 0..365 {
        let t = T0 + day * DAY + rng.next(DAY - 7200);
        issuer.rotate(t).unwrap();
        let ttl = 60 + rng.next(3540);
        let issued = issuer
            .issue(
                &IssueRequest {
                    credential: key.clone().into(),
                    ttl: Some(ttl),
                    ..IssueRequest::default()
                },
                t,
            )
            .unwrap();
        tokens += 1;
        let exp = t + ttl;
        // Sample moments in its life; cron may run rotate at any of them.
        let mut moments = vec![t, exp - 1];
        for _ in 0..2 {
            moments.push(t + rng.next(ttl));
        }
        moments.sort_unstable();
        for m in moments {
            if rng.next(2) == 0 {
                issuer.rotate(m).unwrap();
            }
            verify_at(&mut issuer, &issued.token, m)
                .unwrap_or_else(|e| panic!("day {day}: token of {t} (exp {exp}) at {m}: {e}"));
        }
        issuer.rotate(exp).unwrap();
        let err = verify_at(&mut issuer, &issued.token, exp).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Expired);
        // Rotation happened on schedule: the active key is never older than
        // rotate_every + pre-publish slack plus a day of cron granularity.
        let keys = issuer.keys().unwrap();
        let active: Vec<_> = keys
            .iter()
            .filter(|k| k.state() == KeyState::Active)
            .collect();
        assert_eq!(active.len(), 1);
        assert!(exp - active[0].life.activated_at().unwrap() <= s.rotate_every + 2 * DAY);
    }
    let keys = issuer.keys().unwrap();
    let activations = keys
        .iter()
        .filter(|k| k.life.activated_at().is_some())
        .count();
    assert!(
        (12..=14).contains(&activations),
        "{activations} keys used in a year"
    );
    for k in &keys {
        if k.state() == KeyState::Destroyed {
            assert!(matches!(k.custody, Custody::Destroyed { .. }));
        }
    }
    assert!(
        keys.iter()
            .filter(|k| k.state() == KeyState::Destroyed)
            .count()
            >= 10
    );
    let audit = issuer.audit(0).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|r| r.action == AuditAction::TokenIssue)
            .count(),
        tokens
    );
    let _ = std::fs::remove_dir_all(&dir);
}
