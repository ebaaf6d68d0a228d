//! Revocation: by token, by subject, by a client (RFC 7009); the
//! revocation list and Token Status Lists.

#[allow(clippy::wildcard_imports)]
use super::*;

pub(super) const STATUS_INVALID: u8 = 1;

/// The URI of status list `list`: `<issuer>/statuslists/<list>`.
pub fn status_list_uri(s: &Settings, list: u64) -> String {
    format!("{}/statuslists/{list}", s.issuer.trim_end_matches('/'))
}

/// Revokes one issued token: its `jti` on the revocation document (until
/// it expires), its status-list bit set, the epoch bumped. Returns the epoch.
pub(super) fn revoke_record(tx: &mut Tx<'_>, t: &TokenRecord, now: u64) -> Result<u64> {
    tx.insert_revocation(&RevocationEntry {
        kind: RevocationKind::Jti,
        value: t.jti.clone(),
        at: t.exp,
        expires_at: t.exp,
        created_at: now,
    })?;
    if let Some(slot) = t.status {
        tx.set_status(slot, STATUS_INVALID)?;
    }
    bump_epoch(tx, now)
}

pub(super) fn epoch(tx: &mut Tx<'_>) -> Result<u64> {
    match tx.settings()?.get(EPOCH_SETTING) {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| {
            Error::storage(format!("the stored revocation epoch {v:?} is not a number"))
        }),
    }
}

/// The next revocation-list epoch: one more than the stored one, and at
/// least `now` in milliseconds. Epochs so never go backwards, even for a
/// store restored from an older backup: every epoch it published before was
/// at most its clock then (in ms) plus the changes made within the same
/// millisecond, so the restored store's next epoch is higher than all of
/// them unless more than a thousand changes a second ran the counter ahead
/// of the clock. Edges that hold a newer epoch keep accepting its lists.
pub(super) fn bump_epoch(tx: &mut Tx<'_>, now: u64) -> Result<u64> {
    let next = epoch(tx)?.saturating_add(1).max(now.saturating_mul(1000));
    tx.put_setting(EPOCH_SETTING, &next.to_string())?;
    Ok(next)
}

/// What a client's RFC 7009 revocation request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientRevocation {
    /// The token was the client's and is now revoked.
    Revoked,
    /// Nothing to do: already revoked or expired, unknown, undecodable, or
    /// a token of another client (RFC 7009 §2.2: the answer is the same).
    Unchanged,
}

/// Drops revocation entries past their `expires_at` (bumping the epoch and
/// auditing it when any left).
pub(super) fn prune_expired_revocations(tx: &mut Tx<'_>, now: u64) -> Result<u64> {
    let pruned = tx.prune_revocations(now)?;
    if pruned > 0 {
        let epoch = bump_epoch(tx, now)?;
        let mut a = row(now, AuditAction::RevocationsPrune, OPERATOR);
        a.detail = Some(format!("{pruned} expired entries removed; epoch={epoch}"));
        tx.insert_audit(&a)?;
    }
    Ok(pruned)
}

/// The issuer's revocation list: what validators install (JSON, or signed
/// as `revocation-list+jwt`). Entries sorted by value, so a validator
/// installs it without sorting.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevocationList {
    /// The issuer.
    pub iss: String,
    /// Bumped on every revocation (validators keep the newest).
    pub epoch: u64,
    /// When it was built.
    pub generated_at: u64,
    /// The entries, under one private claim: registered names (`jti`,
    /// `sub`) keep their registered types, so standard JWT libraries decode
    /// the list.
    pub revoked: Revoked,
}

/// The entries of a [`RevocationList`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Revoked {
    /// Tokens by id, each with its `exp`.
    pub jti: Vec<RevokedToken>,
    /// Subjects, each with the time before which its tokens are revoked.
    pub sub: Vec<RevokedSubject>,
    /// Signing keys.
    pub kid: Vec<String>,
}

impl Revoked {
    /// How many entries.
    pub fn len(&self) -> usize {
        self.jti.len() + self.sub.len() + self.kid.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A revoked token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevokedToken {
    /// Its id.
    pub jti: String,
    /// Its expiry (the entry leaves the list after it).
    pub exp: u64,
}

/// A revoked subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RevokedSubject {
    /// The subject.
    pub sub: String,
    /// Its tokens issued before this time are revoked.
    pub before: u64,
}

impl RevocationList {
    /// As a JSON value (the payload signed, the document served).
    ///
    /// # Errors
    /// Never in practice (plain strings and numbers), as a usage error.
    pub fn to_json(&self) -> Result<Value> {
        serde_json::to_value(self)
            .map_err(|e| Error::usage(format!("cannot encode the revocation list: {e}")))
    }
}

pub(super) fn revocation_list(tx: &mut Tx<'_>, s: &Settings, now: u64) -> Result<RevocationList> {
    prune_expired_revocations(tx, now)?;
    let epoch = epoch(tx)?;
    let mut revoked = Revoked::default();
    for e in tx.revocations()? {
        match e.kind {
            RevocationKind::Jti => revoked.jti.push(RevokedToken {
                jti: e.value,
                exp: e.at,
            }),
            RevocationKind::Sub => revoked.sub.push(RevokedSubject {
                sub: e.value,
                before: e.at,
            }),
            RevocationKind::Kid => {
                if !revoked.kid.contains(&e.value) {
                    revoked.kid.push(e.value);
                }
            }
        }
    }
    // Sorted by value: a validator installs a sorted list without sorting it.
    revoked.jti.sort_by(|a, b| a.jti.cmp(&b.jti));
    revoked.sub.sort_by(|a, b| a.sub.cmp(&b.sub));
    revoked.kid.sort();
    Ok(RevocationList {
        iss: s.issuer.clone(),
        epoch,
        generated_at: now,
        revoked,
    })
}

impl<S: Store> Issuer<S> {
    /// Revokes one token by `jti` (it must have been issued here). Returns
    /// false if it had already expired or was already revoked (nothing to do).
    ///
    /// # Errors
    /// Unknown jti, storage errors.
    pub fn revoke_jti(&mut self, jti: &str, now: u64) -> Result<bool> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let t = tx
                .token(jti)?
                .ok_or_else(|| not_found("token with jti", jti))?;
            let listed = tx
                .revocations()?
                .iter()
                .any(|e| e.kind == RevocationKind::Jti && e.value == jti);
            if t.exp <= now || listed {
                let why = if listed {
                    "already revoked"
                } else {
                    "already expired"
                };
                let mut a = unchanged(now, AuditAction::TokenRevoke, why);
                a.jti = Some(jti.into());
                a.sub = Some(t.sub);
                tx.insert_audit(&a)?;
                return Ok(false);
            }
            let epoch = revoke_record(tx, &t, now)?;
            let mut a = row(now, AuditAction::TokenRevoke, OPERATOR);
            a.jti = Some(jti.into());
            a.sub = Some(t.sub);
            a.kid = Some(t.kid);
            a.provisioning_key_id = Some(t.provisioning_key_id);
            a.detail = Some(format!("epoch={epoch}"));
            tx.insert_audit(&a)?;
            Ok(true)
        })
    }

    /// Revokes one token given in full (its `jti` is read without verifying;
    /// it must name a token issued here).
    ///
    /// # Errors
    /// Undecodable token, no `jti`, unknown jti, storage errors.
    pub fn revoke_token(&mut self, token: &str, now: u64) -> Result<bool> {
        let ins = crate::inspect(token, None)
            .map_err(|e| Error::usage(format!("cannot decode the token: {}", e.message())))?;
        let jti = ins
            .claims
            .get("jti")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::usage("the token has no string \"jti\""))?
            .to_string();
        self.revoke_jti(&jti, now)
    }

    /// Revokes every token of `sub` issued before `before` (default: up to and
    /// including `now`). Returns the cut-off used.
    ///
    /// # Errors
    /// Storage errors.
    pub fn revoke_subject(&mut self, sub: &str, before: Option<u64>, now: u64) -> Result<u64> {
        if sub.is_empty() {
            return Err(Error::usage("the subject must not be empty"));
        }
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let before = before.unwrap_or_else(|| now.saturating_add(1));
            tx.insert_revocation(&RevocationEntry {
                kind: RevocationKind::Sub,
                value: sub.into(),
                at: before,
                expires_at: before.saturating_add(s.max_token_ttl),
                created_at: now,
            })?;
            let epoch = bump_epoch(tx, now)?;
            let mut a = row(now, AuditAction::SubjectRevoke, OPERATOR);
            a.sub = Some(sub.into());
            a.detail = Some(format!("before={before} epoch={epoch}"));
            tx.insert_audit(&a)?;
            Ok(before)
        })
    }

    /// The revocation list at `now` in the core's schema (expired entries are
    /// pruned first, which counts as a change and bumps the epoch).
    ///
    /// # Errors
    /// Storage errors.
    pub fn revocation_list(&mut self, now: u64) -> Result<RevocationList> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            revocation_list(tx, &s, now)
        })
    }

    /// The revocation list as a compact JWS (`typ: revocation-list+jwt`)
    /// signed by the active key.
    ///
    /// # Errors
    /// No active key, no passphrase, storage errors.
    pub fn signed_revocation_list(&mut self, now: u64) -> Result<String> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let list = revocation_list(tx, &s, now)?.to_json()?;
            sign_with_active(ctx, tx, crate::revocation::REVOCATION_LIST_TYP, &list)
        })
    }

    /// The Token Status Lists (numbers, capacities, versions).
    ///
    /// # Errors
    /// Storage errors.
    pub fn status_list_records(&mut self) -> Result<Vec<StatusListRecord>> {
        self.run(|_, tx| tx.status_lists())
    }

    /// Status list `list` as a Status List Token (`typ: statuslist+jwt`)
    /// signed by the active key at `now`: `sub` its URI, `iss`, `iat`,
    /// `exp` (`iat` + [`STATUS_LIST_LIFETIME`]), `ttl`
    /// ([`STATUS_LIST_TTL`]), one bit per token (1 = revoked), ZLIB.
    ///
    /// # Errors
    /// Unknown list, no active key, no passphrase, storage errors.
    pub fn status_list_token(&mut self, list: u64, now: u64) -> Result<String> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            let rec = tx
                .status_lists()?
                .into_iter()
                .find(|r| r.list == list)
                .ok_or_else(|| not_found("status list", &list.to_string()))?;
            let len = usize::try_from(rec.capacity.div_ceil(8))
                .map_err(|_| Error::storage("status list capacity out of range"))?;
            let mut raw = std::vec![0u8; len];
            for (idx, status) in tx.statuses(list)? {
                let byte = usize::try_from(idx / 8).ok().and_then(|i| raw.get_mut(i));
                if let (Some(b), true) = (byte, status != 0) {
                    *b |= 1 << (idx % 8);
                }
            }
            let lst = b64url_encode(&miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6));
            let payload = json!({
                "sub": status_list_uri(&s, list),
                "iss": s.issuer,
                "iat": now,
                "exp": now.saturating_add(STATUS_LIST_LIFETIME),
                "ttl": STATUS_LIST_TTL,
                "status_list": {"bits": 1, "lst": lst},
            });
            sign_with_active(ctx, tx, crate::status_list::STATUS_LIST_TYP, &payload)
        })
    }

    /// RFC 7009: a client revokes one of its own tokens. The client is
    /// authenticated like an issuance; the token need not verify (its `jti`
    /// is looked up among the tokens issued here, and must belong to this
    /// client). Every outcome is audited.
    ///
    /// # Errors
    /// `ERR_ISSUER_REFUSED` (client authentication failed), storage errors.
    pub fn revoke_by_client(
        &mut self,
        credential: &Credential,
        token: &str,
        now: u64,
    ) -> Result<ClientRevocation> {
        let jti = crate::inspect(token, None).ok().and_then(|t| {
            t.claims
                .get("jti")
                .and_then(Value::as_str)
                .map(String::from)
        });
        self.run(|ctx, tx| {
            load_settings(tx)?;
            let pk = match authenticate(ctx, tx, credential, now)? {
                Ok((pk, _)) => pk,
                Err(AuthFailed { fetch: Some(e), .. }) => return Ok(Err(e)),
                Err(failed) => {
                    let a = refusal_row(
                        now,
                        AuditAction::TokenRevoke,
                        failed.id.as_deref(),
                        &failed.why,
                    );
                    tx.insert_audit(&a)?;
                    // Committed with its audit row, then refused.
                    let class = Refusal::Client(failed.failure);
                    return Ok(Err(Error::refused_for(class, failed.why)));
                }
            };
            let actor = format!("pk:{}", pk.id);
            let record = match &jti {
                Some(j) => tx.token(j)?,
                None => None,
            };
            let unchanged = |tx: &mut Tx<'_>, why: &str| -> Result<Result<ClientRevocation>> {
                let mut a = row(now, AuditAction::TokenRevoke, &actor);
                a.outcome = Outcome::Unchanged;
                a.provisioning_key_id = Some(pk.id.clone());
                a.jti.clone_from(&jti);
                a.detail = Some(why.into());
                tx.insert_audit(&a)?;
                Ok(Ok(ClientRevocation::Unchanged))
            };
            let Some(t) = record else {
                return unchanged(tx, "not a token issued here");
            };
            if t.provisioning_key_id != pk.id {
                return unchanged(tx, "a token of another client: not revoked");
            }
            let listed = tx
                .revocations()?
                .iter()
                .any(|e| e.kind == RevocationKind::Jti && e.value == t.jti);
            if listed {
                return unchanged(tx, "already revoked");
            }
            if t.exp <= now {
                return unchanged(tx, "already expired");
            }
            let epoch = revoke_record(tx, &t, now)?;
            let mut a = row(now, AuditAction::TokenRevoke, &actor);
            a.jti = Some(t.jti);
            a.sub = Some(t.sub);
            a.kid = Some(t.kid);
            a.provisioning_key_id = Some(pk.id);
            a.detail = Some(format!("by the client (RFC 7009); epoch={epoch}"));
            tx.insert_audit(&a)?;
            Ok(Ok(ClientRevocation::Revoked))
        })?
    }
}
