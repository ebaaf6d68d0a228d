//! Issuance: one token, or a batch in one transaction (group commit).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Every request of a batch, in one transaction (each its own answer).
pub(super) fn issue_all(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    reqs: &[IssueRequest],
    now: u64,
) -> Result<Vec<Result<Issued>>> {
    let s = load_settings(tx)?;
    reqs.iter()
        .map(|req| issue_in(ctx, tx, &s, req, now))
        .collect()
}

/// One issuance inside a transaction: `Ok(Err(refusal))` for an audited
/// refusal, `Err` for a failure that must abort the transaction.
pub(super) fn issue_in(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    s: &Settings,
    req: &IssueRequest,
    now: u64,
) -> Result<Result<Issued>> {
    let refuse = |tx: &mut Tx<'_>,
                  pk: Option<&ProvisioningRecord>,
                  id: Option<&str>,
                  class: Refusal,
                  why: String|
     -> Result<Result<Issued>> {
        let mut a = refusal_row(now, AuditAction::TokenIssue, id, &why);
        a.sub = pk.map(|p| p.sub.clone());
        tx.insert_audit(&a)?;
        Ok(Err(Error::refused_for(class, why)))
    };
    let (mut pk, used) = match authenticate(ctx, tx, &req.credential, now)? {
        Ok(v) => v,
        Err(AuthFailed { fetch: Some(e), .. }) => return Ok(Err(e)),
        Err(failed) => {
            return refuse(
                tx,
                failed.record.as_ref(),
                failed.id.as_deref(),
                Refusal::Client(failed.failure),
                failed.why,
            )
        }
    };
    let id = pk.id.clone();
    let Grant {
        scopes,
        audiences,
        ttl,
    } = match grant::decide(&pk, s, req) {
        Ok(g) => g,
        Err(Denied { class, why }) => return refuse(tx, Some(&pk), Some(&id), class, why),
    };
    if pk.require_dpop && req.dpop.is_none() {
        return refuse(
            tx,
            Some(&pk),
            Some(&id),
            Refusal::Dpop,
            "this client must send a DPoP proof with its token requests (dpop_bound_access_tokens)"
                .into(),
        );
    }
    if let Some(d) = &req.dpop {
        if !tx.record_dpop_proof(&d.proof_id, d.expires_at, now)? {
            return refuse(
                tx,
                Some(&pk),
                Some(&id),
                Refusal::Dpop,
                "this DPoP proof was used before (its jti was seen within its window)".into(),
            );
        }
    }
    // The client's key ring (its algorithm), else the primary one.
    let active = active_key_of(tx, pk.alg.and_then(|a| s.ring_of(a)))?;
    let mut signer = ctx.signer(&active, s)?;
    let jti = keys::random_b64(16);
    let exp = now.saturating_add(ttl);
    let slot = tx.allocate_status(STATUS_LIST_CAPACITY, now)?;
    let mut claims = Map::new();
    for (name, value) in &req.claims {
        claims.insert(name.clone(), Value::String(value.clone()));
    }
    claims.insert("iss".into(), s.issuer.clone().into());
    claims.insert("sub".into(), pk.sub.clone().into());
    claims.insert(
        "aud".into(),
        match audiences.as_slice() {
            [one] => Value::String(one.clone()),
            many => Value::from(many.to_vec()),
        },
    );
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), exp.into());
    claims.insert("jti".into(), jti.clone().into());
    claims.insert("scope".into(), scopes.join(" ").into());
    claims.insert("client_id".into(), pk.id.clone().into());
    claims.insert(
        "status".into(),
        json!({"status_list": {"idx": slot.idx, "uri": status_list_uri(s, slot.list)}}),
    );
    if let Some(d) = &req.dpop {
        claims.insert("cnf".into(), json!({"jkt": d.jkt}));
    }
    let token = compact_jws(
        &mut signer,
        &active.kid,
        TOKEN_TYP,
        &Value::Object(claims.clone()),
    )?;
    tx.insert_token(&TokenRecord {
        jti: jti.clone(),
        sub: pk.sub.clone(),
        provisioning_key_id: pk.id.clone(),
        kid: active.kid.clone(),
        iat: now,
        exp,
        status: Some(slot),
    })?;
    pk.use_count = pk.use_count.saturating_add(1);
    pk.last_used_at = Some(now);
    tx.update_provisioning_key(&pk)?;
    let mut a = row(now, AuditAction::TokenIssue, &format!("pk:{id}"));
    a.kid = Some(active.kid.clone());
    a.jti = Some(jti);
    a.sub = Some(pk.sub.clone());
    a.provisioning_key_id = Some(id);
    a.detail = Some(match &req.dpop {
        Some(d) => format!(
            "scope={} exp={exp} auth={} jkt={}",
            scopes.join(" "),
            req.credential.method(),
            d.jkt
        ),
        None => format!(
            "scope={} exp={exp} auth={}",
            scopes.join(" "),
            req.credential.method()
        ),
    });
    tx.insert_audit(&a)?;
    Ok(Ok(Issued {
        token,
        claims,
        kid: active.kid,
        status_list: Some(slot.list),
        client_id: pk.id,
        secret: used,
    }))
}

impl<S: Store> Issuer<S> {
    /// Issues a token. Refusals (wrong, expired or revoked provisioning key;
    /// scope, audience or lifetime beyond what it allows) are audited and
    /// returned as `ERR_ISSUER_REFUSED`.
    ///
    /// # Errors
    /// Refusals, no passphrase, storage errors.
    pub fn issue(&mut self, req: &IssueRequest, now: u64) -> Result<Issued> {
        self.run(|ctx, tx| {
            let s = load_settings(tx)?;
            issue_in(ctx, tx, &s, req, now)
        })?
    }

    /// Issues several tokens in ONE store transaction (a group commit): each
    /// request gets its own answer, as [`Issuer::issue`] would give it, and
    /// every answer exists only once the transaction (with every token's and
    /// refusal's audit row) is committed. A storage or signing failure fails
    /// the whole batch and nothing of it is committed.
    ///
    /// # Errors
    /// No passphrase, no active key, storage errors (for the whole batch).
    pub fn issue_batch(&mut self, reqs: &[IssueRequest], now: u64) -> Result<Vec<Result<Issued>>> {
        self.run(|ctx, tx| issue_all(ctx, tx, reqs, now))
    }

    /// [`Issuer::issue_batch`], unless the store changed since `published`
    /// (a value of [`Store::external_changes`]): checked under the writer
    /// lock before anything is signed; on a change nothing is done and the
    /// answer is `None` (publish, then ask again). So a batch is signed
    /// only under key state the caller has published, and no other
    /// process changes that state before the batch commits.
    ///
    /// # Errors
    /// As [`Issuer::issue_batch`].
    pub fn issue_batch_unless_changed(
        &mut self,
        reqs: &[IssueRequest],
        now: u64,
        published: Option<u64>,
    ) -> Result<Option<Vec<Result<Issued>>>> {
        self.run(|ctx, tx| {
            if Some(tx.change_counter()?) != published {
                return Ok(None);
            }
            issue_all(ctx, tx, reqs, now).map(Some)
        })
    }
}
