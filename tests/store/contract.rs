//! Issue #26: one contract for both stores. Every store operation, its
//! return values and its errors, run against a SQLite file and against a
//! PostgreSQL database (a server this test starts on a loopback port and
//! stops): what the shared store layer (src/issuer/store/) promises, whatever
//! the dialect.
//!
//! (A module of the `pg_store` test binary, which has the same features
//! and helpers: one link fewer for the test build.)

use super::server_util;
use super::server_util::pg::PgCluster;
use jwt_edge::issuer::rules::lifecycle::KeyState;
use jwt_edge::issuer::rules::provisioning::Permission;
use jwt_edge::issuer::store::{
    AuditAction, AuditRecord, ClientKeys, Custody, KeyRecord, Outcome, PreviousSecret,
    ProvisioningRecord, RevocationEntry, RevocationKind, StatusSlot, TokenRecord,
};
use jwt_edge::issuer::{AnyStore, ErrorKind, PgStore, SqliteStore, Store, StoreUrl};
use jwt_edge::Algorithm;
use zeroize::Zeroizing;

const NOW: u64 = 1_800_000_000;

fn key(kid: &str, at: u64) -> KeyRecord {
    KeyRecord::pending(
        kid.to_owned(),
        Algorithm::ES256,
        format!(r#"{{"kty":"EC","kid":"{kid}"}}"#),
        Custody::Encrypted(Zeroizing::new(vec![0x30, 0x81, 0x00, 0xff])),
        at,
    )
}

fn client(id: &str, at: u64) -> ProvisioningRecord {
    ProvisioningRecord {
        id: id.to_owned(),
        name: format!("client {id}"),
        secret_sha256: [7; 32],
        scopes: vec!["read".into(), "write".into()],
        audiences: vec!["https://api.test".into()],
        sub: format!("svc-{id}"),
        created_at: at,
        expires_at: at + 86_400,
        max_token_ttl: 900,
        revoked_at: None,
        use_count: 0,
        last_used_at: None,
        permissions: vec![Permission::Introspect],
        secret_set_at: None,
        previous: None,
        require_dpop: false,
        keys: None,
        keys_failing_since: None,
        alg: None,
    }
}

fn token(jti: &str, pk: &str, kid: &str, exp: u64, status: Option<StatusSlot>) -> TokenRecord {
    TokenRecord {
        jti: jti.to_owned(),
        sub: format!("svc-{pk}"),
        provisioning_key_id: pk.to_owned(),
        status,
        kid: kid.to_owned(),
        iat: exp - 900,
        exp,
    }
}

fn audit(at: u64, action: AuditAction) -> AuditRecord {
    AuditRecord {
        id: 0,
        at,
        action,
        actor: "operator".into(),
        kid: Some("k1".into()),
        jti: None,
        sub: None,
        provisioning_key_id: Some("p1".into()),
        outcome: Outcome::Ok,
        detail: Some("why: a test".into()),
    }
}

/// The key fields a store keeps (KeyRecord has no PartialEq: it holds a
/// private key).
fn key_fields(k: &KeyRecord) -> String {
    format!(
        "{} {:?} {:?} {} {} {}",
        k.kid,
        k.alg,
        k.life,
        k.created_at,
        k.public_jwk,
        match &k.custody {
            Custody::Encrypted(der) => format!("encrypted {:?}", der.to_vec()),
            Custody::Plain(der) => format!("plain {:?}", der.to_vec()),
            other => format!("{other:?}"),
        }
    )
}

/// Everything a store promises, on `store`; `other` is a second connection
/// to the same store.
fn contract(what: &str, store: &mut impl Store, other: &mut impl Store) {
    // Settings: empty after creation, inserted, replaced.
    let s = store.transaction(|tx| tx.settings()).unwrap();
    assert!(s.is_empty(), "{what}: {s:?}");
    store
        .transaction(|tx| {
            tx.put_setting("a", "1")?;
            tx.put_setting("b", "2")?;
            tx.put_setting("a", "3")?;
            // Read back inside the same transaction.
            assert_eq!(tx.settings()?.get("a").map(String::as_str), Some("3"));
            Ok(())
        })
        .unwrap();
    let s = store.transaction(|tx| tx.settings()).unwrap();
    assert_eq!(
        s.into_iter().collect::<Vec<_>>(),
        vec![("a".into(), "3".into()), ("b".into(), "2".into())],
        "{what}"
    );

    // A failed transaction leaves nothing behind, buffered writes included.
    let e = store
        .transaction(|tx| {
            tx.put_setting("rolled", "back")?;
            tx.insert_audit(&audit(NOW, AuditAction::TokenIssue))?;
            Err::<(), _>(jwt_edge::issuer::Error::usage("the closure fails"))
        })
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage, "{what}");
    let (s, rows) = store
        .transaction(|tx| Ok((tx.settings()?, tx.audit(0)?)))
        .unwrap();
    assert!(!s.contains_key("rolled") && rows.is_empty(), "{what}");

    // Signing keys: insertion order (same created_at), every column back.
    let (k1, mut k2) = (key("k1", NOW), key("k2", NOW));
    store
        .transaction(|tx| {
            tx.insert_key(&k2)?;
            tx.insert_key(&k1)
        })
        .unwrap();
    let keys = store.transaction(|tx| tx.keys()).unwrap();
    assert_eq!(
        keys.iter().map(key_fields).collect::<Vec<_>>(),
        vec![key_fields(&k2), key_fields(&k1)],
        "{what}: keys in insertion order, every column"
    );
    let dup = store.transaction(|tx| tx.insert_key(&k1)).unwrap_err();
    assert_eq!(dup.kind(), ErrorKind::Storage, "{what}: duplicate kid");
    assert!(k2.life.revoke(NOW + 5, Some("compromised")));
    k2.custody = Custody::Token("0a0b".into());
    store
        .transaction(|tx| {
            tx.keys()?; // cached, then updated in the same transaction
            tx.update_key(&k2)?;
            let seen = tx.keys()?;
            assert_eq!(key_fields(&seen[0]), key_fields(&k2));
            Ok(())
        })
        .unwrap();
    let keys = store.transaction(|tx| tx.keys()).unwrap();
    assert_eq!(key_fields(&keys[0]), key_fields(&k2), "{what}: update_key");
    let gone = store
        .transaction(|tx| tx.update_key(&key("nope", NOW)))
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::Storage, "{what}: update of no key");
    assert!(gone.message().contains("vanished"), "{what}: {gone}");
    // Every state's times survive the store, one transition at a time.
    let mut k1 = k1;
    let steps: [fn(&mut KeyRecord); 4] = [
        |k| k.life.activate("k1", NOW + 10).unwrap(),
        |k| k.life.start_retiring("k1", NOW + 20).unwrap(),
        |k| k.life.retire("k1", NOW + 30).unwrap(),
        |k| {
            k.custody = k.custody.destroyed();
            k.life.destroy("k1", NOW + 40).unwrap();
        },
    ];
    for step in steps {
        step(&mut k1);
        store.transaction(|tx| tx.update_key(&k1)).unwrap();
        let keys = store.transaction(|tx| tx.keys()).unwrap();
        assert_eq!(
            key_fields(&keys[1]),
            key_fields(&k1),
            "{what}: {:?}",
            k1.life
        );
    }
    assert_eq!(k1.state(), KeyState::Destroyed);
    assert_eq!(k1.life.activated_at(), Some(NOW + 10));

    // Provisioning keys.
    let (mut p1, p2) = (client("p1", NOW), client("p2", NOW));
    store
        .transaction(|tx| {
            tx.insert_provisioning_key(&p1)?;
            tx.insert_provisioning_key(&p2)
        })
        .unwrap();
    let (all, one, none) = store
        .transaction(|tx| {
            Ok((
                tx.provisioning_keys()?,
                tx.provisioning_key("p2")?,
                tx.provisioning_key("p9")?,
            ))
        })
        .unwrap();
    assert_eq!(all, vec![p1.clone(), p2.clone()], "{what}");
    assert_eq!(one, Some(p2.clone()), "{what}");
    assert_eq!(none, None, "{what}");
    p1.use_count = 3;
    p1.last_used_at = Some(NOW + 1);
    p1.previous = Some(PreviousSecret {
        secret_sha256: [9; 32],
        until: NOW + 60,
    });
    p1.secret_sha256 = [8; 32];
    p1.secret_set_at = Some(NOW + 1);
    p1.revoked_at = Some(NOW + 2);
    p1.expires_at = NOW + 100;
    store
        .transaction(|tx| {
            tx.provisioning_key("p1")?;
            tx.update_provisioning_key(&p1)?;
            // Seen in the same transaction before the write is sent...
            assert_eq!(tx.provisioning_key("p1")?, Some(p1.clone()));
            Ok(())
        })
        .unwrap();
    // ...and after commit.
    let got = store.transaction(|tx| tx.provisioning_key("p1")).unwrap();
    assert_eq!(got, Some(p1.clone()), "{what}: update_provisioning_key");

    // Tokens (buffered writes) and their status-list slots.
    let slots = store
        .transaction(|tx| {
            (0..9)
                .map(|_| tx.allocate_status(8, NOW))
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    assert_eq!(
        slots,
        (0..8)
            .map(|idx| StatusSlot { list: 1, idx })
            .chain([StatusSlot { list: 2, idx: 0 }])
            .collect::<Vec<_>>(),
        "{what}: a list of 8, then a new list"
    );
    let next = store.transaction(|tx| tx.allocate_status(8, NOW)).unwrap();
    assert_eq!(next, StatusSlot { list: 2, idx: 1 }, "{what}");
    let t1 = token("j1", "p1", "k1", NOW + 900, Some(slots[3]));
    let t2 = token("j2", "p2", "k1", NOW - 7_200, None);
    store
        .transaction(|tx| {
            tx.insert_token(&t1)?;
            tx.insert_token(&t2)?;
            // A read sends the buffered rows first.
            assert_eq!(tx.token("j1")?, Some(t1.clone()));
            Ok(())
        })
        .unwrap();
    let (a, b, c) = store
        .transaction(|tx| Ok((tx.token("j1")?, tx.token("j2")?, tx.token("j3")?)))
        .unwrap();
    assert_eq!(
        (a, b, c),
        (Some(t1.clone()), Some(t2.clone()), None),
        "{what}"
    );
    // A buffered row that breaks a constraint fails its transaction, whole.
    let orphan = store
        .transaction(|tx| {
            tx.put_setting("orphan", "x")?;
            tx.insert_token(&token("j4", "no-such-client", "k1", NOW, None))
        })
        .unwrap_err();
    assert_eq!(orphan.kind(), ErrorKind::Storage, "{what}: foreign key");
    let s = store.transaction(|tx| tx.settings()).unwrap();
    assert!(!s.contains_key("orphan"), "{what}");

    // Statuses.
    store.transaction(|tx| tx.set_status(slots[3], 1)).unwrap();
    let (lists, statuses, empty) = store
        .transaction(|tx| Ok((tx.status_lists()?, tx.statuses(1)?, tx.statuses(2)?)))
        .unwrap();
    assert_eq!(statuses, vec![(3, 1)], "{what}");
    assert!(empty.is_empty(), "{what}");
    assert_eq!(
        lists
            .iter()
            .map(|l| (l.list, l.capacity, l.next_idx, l.version))
            .collect::<Vec<_>>(),
        vec![(1, 8, 8, 1), (2, 8, 2, 0)],
        "{what}: status lists"
    );

    // Revocations.
    let entries = [
        RevocationEntry {
            kind: RevocationKind::Jti,
            value: "j2".into(),
            at: NOW - 7_200,
            expires_at: NOW - 10,
            created_at: NOW,
        },
        RevocationEntry {
            kind: RevocationKind::Sub,
            value: "svc-p1".into(),
            at: NOW,
            expires_at: NOW + 900,
            created_at: NOW,
        },
        RevocationEntry {
            kind: RevocationKind::Kid,
            value: "k2".into(),
            at: NOW,
            expires_at: NOW + 900,
            created_at: NOW,
        },
    ];
    store
        .transaction(|tx| entries.iter().try_for_each(|e| tx.insert_revocation(e)))
        .unwrap();
    let got = store.transaction(|tx| tx.revocations()).unwrap();
    assert_eq!(got, entries.to_vec(), "{what}: revocations in order");
    // j2 expired but a jti entry names it: kept; nothing else expired.
    let pruned = store.transaction(|tx| tx.prune_tokens(NOW, 100)).unwrap();
    assert_eq!(pruned, 0, "{what}");
    let pruned = store.transaction(|tx| tx.prune_revocations(NOW)).unwrap();
    assert_eq!(pruned, 1, "{what}: the expired jti entry");
    let pruned = store.transaction(|tx| tx.prune_tokens(NOW, 100)).unwrap();
    assert_eq!(pruned, 1, "{what}: j2, no longer named");

    // Audit: ids in write order, cursors, counts, pruning.
    store
        .transaction(|tx| {
            tx.insert_audit(&audit(NOW - 100, AuditAction::KeyActivate))?;
            tx.insert_audit(&audit(NOW, AuditAction::TokenIssue))?;
            // Another version's action and outcome are kept as written.
            let mut other = audit(NOW + 1, AuditAction::Other("token.mint".into()));
            other.outcome = Outcome::Other("deferred".into());
            tx.insert_audit(&other)
        })
        .unwrap();
    let (rows, after, since, max, counts) = store
        .transaction(|tx| {
            Ok((
                tx.audit(0)?,
                tx.audit_after(1, 1)?,
                tx.audit(NOW)?,
                tx.max_audit_id()?,
                tx.audit_counts_since(NOW)?,
            ))
        })
        .unwrap();
    let ids: Vec<u64> = rows.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3, "{what}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{what}: {ids:?}");
    let mut expected = audit(NOW - 100, AuditAction::KeyActivate);
    expected.id = ids[0];
    assert_eq!(rows[0], expected, "{what}: every column of an audit row");
    assert_eq!(rows[2].action, AuditAction::Other("token.mint".into()));
    assert_eq!(rows[2].outcome, Outcome::Other("deferred".into()));
    assert_eq!(after.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[1]]);
    assert_eq!(since.len(), 2, "{what}");
    assert_eq!(max, ids[2], "{what}");
    assert_eq!(
        counts,
        vec![("token.issue".into(), 1), ("token.mint".into(), 1)],
        "{what}"
    );
    let pruned = store
        .transaction(|tx| tx.prune_audit(NOW + 1, ids[1], 10))
        .unwrap();
    assert_eq!(pruned, 2, "{what}: rows before NOW+1 up to the second id");
    let max = store.transaction(|tx| tx.max_audit_id()).unwrap();
    assert_eq!(max, ids[2], "{what}");

    // The store as a whole.
    let counts = store.transaction(|tx| tx.row_counts()).unwrap();
    assert_eq!(
        counts,
        vec![
            ("signing_keys", 2),
            ("provisioning_keys", 2),
            ("tokens", 1),
            ("revocations", 2),
            ("audit", 1),
            ("status_lists", 2),
        ],
        "{what}"
    );
    let (in_use, _free) = store.transaction(|tx| tx.size_bytes()).unwrap();
    assert!(in_use > 0, "{what}");

    // DPoP proofs: new once, a replay while its window lasts (also seen
    // from another connection), new again once it ended; pruned by time.
    let fresh = store
        .transaction(|tx| {
            Ok((
                tx.record_dpop_proof("proof-1", NOW + 60, NOW)?,
                tx.record_dpop_proof("proof-1", NOW + 60, NOW + 1)?,
            ))
        })
        .unwrap();
    assert_eq!(fresh, (true, false), "{what}: a proof, then its replay");
    let elsewhere = other
        .transaction(|tx| tx.record_dpop_proof("proof-1", NOW + 70, NOW + 30))
        .unwrap();
    assert!(!elsewhere, "{what}: the replay seen by another connection");
    let again = store
        .transaction(|tx| tx.record_dpop_proof("proof-1", NOW + 200, NOW + 60))
        .unwrap();
    assert!(again, "{what}: its window ended");
    let pruned = store
        .transaction(|tx| {
            tx.record_dpop_proof("proof-2", NOW + 100, NOW)?;
            tx.prune_dpop_proofs(NOW + 150)
        })
        .unwrap();
    assert_eq!(pruned, 1, "{what}: only the proof whose window ended");
    // A client that must send DPoP proofs keeps the flag, and loses it.
    let mut strict = client("dpop-client", NOW);
    strict.require_dpop = true;
    store
        .transaction(|tx| tx.insert_provisioning_key(&strict))
        .unwrap();
    let back = other
        .transaction(|tx| tx.provisioning_key("dpop-client"))
        .unwrap()
        .unwrap();
    assert!(back.require_dpop, "{what}: require_dpop stored");
    strict.require_dpop = false;
    store
        .transaction(|tx| tx.update_provisioning_key(&strict))
        .unwrap();
    let back = other
        .transaction(|tx| tx.provisioning_key("dpop-client"))
        .unwrap()
        .unwrap();
    assert!(!back.require_dpop, "{what}: require_dpop updated");
    // A private_key_jwt client: its keys (inline, then a URL), and since
    // when its jwks_uri fails, stored and updated.
    let mut keyed = client("key-client", NOW);
    keyed.keys = Some(ClientKeys::Jwks(r#"{"keys":[]}"#.into()));
    store
        .transaction(|tx| tx.insert_provisioning_key(&keyed))
        .unwrap();
    let back = other
        .transaction(|tx| tx.provisioning_key("key-client"))
        .unwrap()
        .unwrap();
    assert_eq!(back.keys, keyed.keys, "{what}: jwks stored");
    keyed.keys = Some(ClientKeys::JwksUri("https://client.test/jwks".into()));
    keyed.keys_failing_since = Some(NOW + 5);
    store
        .transaction(|tx| tx.update_provisioning_key(&keyed))
        .unwrap();
    let back = other
        .transaction(|tx| tx.provisioning_key("key-client"))
        .unwrap()
        .unwrap();
    assert_eq!(
        back, keyed,
        "{what}: jwks_uri and keys_failing_since updated"
    );
    // A client assertion's jti: once per client within its lifetime.
    let first = store
        .transaction(|tx| tx.record_client_assertion("key-client", "j1", NOW + 60, NOW))
        .unwrap();
    let replay = other
        .transaction(|tx| tx.record_client_assertion("key-client", "j1", NOW + 60, NOW + 1))
        .unwrap();
    let other_client = other
        .transaction(|tx| tx.record_client_assertion("dpop-client", "j1", NOW + 60, NOW + 1))
        .unwrap();
    assert!(
        first && !replay && other_client,
        "{what}: assertion jti single-use per client"
    );

    // Another connection's commit changes what this one sees.
    let before = store.external_changes().unwrap();
    other
        .transaction(|tx| tx.put_setting("from", "elsewhere"))
        .unwrap();
    assert_ne!(store.external_changes().unwrap(), before, "{what}");
    let inside = store.transaction(|tx| tx.change_counter()).unwrap();
    assert_eq!(inside, store.external_changes().unwrap(), "{what}");

    // Out-of-range values are refused before they reach the database.
    let big = store
        .transaction(|tx| tx.prune_revocations(u64::MAX))
        .unwrap_err();
    assert_eq!(big.kind(), ErrorKind::Usage, "{what}");

    // A store that leads alone (SQLite) or by lock (PostgreSQL).
    assert!(store.lead().unwrap(), "{what}");
}

#[test]
fn sqlite_keeps_the_store_contract() {
    let dir = server_util::temp_dir("contract");
    let path = dir.join("issuer.db");
    let mut store = SqliteStore::open(&path, true).unwrap();
    let mut other = AnyStore::open(&StoreUrl::from(&path), false).unwrap();
    contract("sqlite", &mut store, &mut other);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn postgres_keeps_the_store_contract() {
    let pg = PgCluster::start(false);
    let url = pg.new_database();
    let mut store = PgStore::open(&url, true).unwrap();
    let mut other = AnyStore::open(&StoreUrl::parse(&url), false).unwrap();
    contract("postgres", &mut store, &mut other);
    // Leadership is one connection's at a time.
    assert!(
        !other.lead().unwrap(),
        "the second connection does not lead"
    );
    drop(store);
    // PostgreSQL releases the session lock when the leader's backend has
    // exited, a moment after the client closed: asked again, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut leads = other.lead().unwrap();
    while !leads && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        leads = other.lead().unwrap();
    }
    assert!(leads, "it leads once the leader is gone");
}
