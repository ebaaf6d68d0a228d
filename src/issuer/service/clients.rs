//! Clients: provisioning keys (create, list, revoke, rotate, rotate their
//! own secret), client authentication and permissions.

#[allow(clippy::wildcard_imports)]
use super::*;

/// The longest overlap a client may ask for when it rotates its own secret.
pub const MAX_SELF_OVERLAP: u64 = 7 * 86_400;

/// The JSON view of a provisioning key (no secret, no hash).
pub fn provisioning_json(k: &ProvisioningRecord) -> Value {
    json!({
        "id": k.id,
        "name": k.name,
        "sub": k.sub,
        "scope": k.scopes.join(" "),
        "audiences": k.audiences,
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "max_token_ttl": k.max_token_ttl,
        "revoked_at": k.revoked_at,
        "use_count": k.use_count,
        "last_used_at": k.last_used_at,
        "permissions": k.permissions,
        "secret_set_at": k.secret_set_at,
        "previous_secret_until": k.previous.map(|p| p.until),
        "require_dpop": k.require_dpop,
        "token_endpoint_auth_method": auth_method(k),
        "jwks": k.keys.as_ref().and_then(ClientKeys::jwks).and_then(|j| serde_json::from_str::<Value>(j).ok()),
        "jwks_uri": k.keys.as_ref().and_then(ClientKeys::jwks_uri),
        "jwks_uri_failing_since": k.keys_failing_since,
        "alg": k.alg.map(crate::Algorithm::name),
    })
}

/// A client may ask only for an algorithm the issuer signs with.
fn check_client_alg(s: &Settings, alg: Option<Algorithm>) -> Result<()> {
    alg.map_or(Ok(()), |a| s.require_ring(a))
}

/// A client's RFC 7591 `token_endpoint_auth_method`: `private_key_jwt`, or
/// `client_secret_basic` for a client with a secret (which may also use
/// `client_secret_post`).
pub fn auth_method(k: &ProvisioningRecord) -> &'static str {
    if k.keys.is_some() {
        "private_key_jwt"
    } else {
        "client_secret_basic"
    }
}

/// A failed client authentication: what is known of the client, and why
/// (for the audit row only; the client learns just "authentication failed").
pub(super) struct AuthFailed {
    pub(super) id: Option<String>,
    pub(super) record: Option<ProvisioningRecord>,
    pub(super) failure: ClientFailure,
    pub(super) why: String,
    /// Not a failure yet: the client's `jwks_uri` must be fetched first
    /// (the answer to give instead of a refusal; nothing is audited).
    pub(super) fetch: Option<Error>,
}

/// Which of a provisioning key's secrets authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretUsed {
    /// The current secret.
    Current,
    /// The previous secret, within its rotation overlap.
    Previous,
    /// A signed client assertion (`private_key_jwt`): no secret.
    Assertion,
}

impl SecretUsed {
    /// `current` or `previous` (metrics label `key`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Previous => "previous",
            Self::Assertion => "assertion",
        }
    }
}

/// Authenticates a client: the one check shared by issuance, revocation,
/// introspection and self-rotation, for both kinds of client. A provisioning
/// key's current secret works until the key expires; a previous secret
/// (after a rotation) until its overlap ends, and is refused as
/// `rotated_secret` afterwards. A `private_key_jwt` client's assertion is
/// checked by the core validator ([`assertion::check`]) and its `jti` is
/// remembered in the store until it expires. A client registered for one
/// method is refused the other. `Ok(Err(_))` is a refusal to be audited by
/// the caller (or a fetch to make first, [`AuthFailed::fetch`]).
pub(super) fn authenticate(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    credential: &Credential,
    now: u64,
) -> Result<Result<(ProvisioningRecord, SecretUsed), AuthFailed>> {
    match credential {
        Credential::Secret(key) => authenticate_secret(tx, key, now),
        Credential::Assertion(a) => authenticate_assertion(ctx, tx, a, now),
    }
}

fn failure(
    id: &str,
    record: Option<ProvisioningRecord>,
    failure: ClientFailure,
    why: String,
) -> Result<Result<(ProvisioningRecord, SecretUsed), AuthFailed>> {
    Ok(Err(AuthFailed {
        id: Some(id.into()),
        record,
        failure,
        why,
        fetch: None,
    }))
}

/// Revoked and expired clients are refused whatever they present.
fn usable(
    pk: ProvisioningRecord,
    used: SecretUsed,
    now: u64,
) -> Result<Result<(ProvisioningRecord, SecretUsed), AuthFailed>> {
    let id = pk.id.clone();
    if let Some(at) = pk.revoked_at {
        let why = format!("provisioning key was revoked at {at}");
        return failure(&id, Some(pk), ClientFailure::Revoked, why);
    }
    if now >= pk.expires_at {
        let why = format!("provisioning key expired at {}", pk.expires_at);
        return failure(&id, Some(pk), ClientFailure::Expired, why);
    }
    Ok(Ok((pk, used)))
}

fn authenticate_assertion(
    ctx: &mut Ctx,
    tx: &mut Tx<'_>,
    a: &ClientAssertion,
    now: u64,
) -> Result<Result<(ProvisioningRecord, SecretUsed), AuthFailed>> {
    let id = a
        .client_id
        .strip_prefix(provisioning::PREFIX)
        .unwrap_or(&a.client_id);
    if !provisioning::is_client_id(id) {
        // Nothing the client chose goes into the audit row.
        return Ok(Err(AuthFailed {
            id: None,
            record: None,
            failure: ClientFailure::Malformed,
            why: "a client assertion naming no well-formed client id (client_id or sub)".into(),
            fetch: None,
        }));
    }
    let Some(pk) = tx.provisioning_key(id)? else {
        return failure(id, None, ClientFailure::Unknown, "unknown client".into());
    };
    let Some(keys) = pk.keys.clone() else {
        let why = "a client assertion from a client registered with a secret (client_secret_basic or client_secret_post)".into();
        return failure(id, Some(pk), ClientFailure::WrongMethod, why);
    };
    match assertion::check(ctx, tx, &pk, &keys, a, now)? {
        assertion::Checked::Fetch(e) => Ok(Err(AuthFailed {
            id: Some(pk.id.clone()),
            record: Some(pk),
            failure: ClientFailure::KeysUnavailable,
            why: String::new(),
            fetch: Some(e),
        })),
        assertion::Checked::Refused(f, why) => {
            let mut pk = pk;
            if f == ClientFailure::KeysUnavailable && pk.keys_failing_since.is_none() {
                pk.keys_failing_since = Some(now);
                tx.update_provisioning_key(&pk)?;
            }
            failure(id, Some(pk), f, why)
        }
        assertion::Checked::Valid { jti, exp } => {
            let mut pk = pk;
            if pk.keys_failing_since.take().is_some() {
                tx.update_provisioning_key(&pk)?;
            }
            let until = exp.saturating_add(ctx.assertions.rules.leeway);
            if !tx.record_client_assertion(&pk.id, &jti, until, now)? {
                let why =
                    "a replayed client assertion: its jti was used before (RFC 7523 section 3)"
                        .into();
                return failure(id, Some(pk), ClientFailure::ReplayedAssertion, why);
            }
            usable(pk, SecretUsed::Assertion, now)
        }
    }
}

fn authenticate_secret(
    tx: &mut Tx<'_>,
    provisioning_key: &str,
    now: u64,
) -> Result<Result<(ProvisioningRecord, SecretUsed), AuthFailed>> {
    let presented = match Presented::parse(provisioning_key) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(AuthFailed {
                id: None,
                record: None,
                failure: ClientFailure::Malformed,
                why: e.message().into(),
                fetch: None,
            }))
        }
    };
    let id = presented.id.clone();
    let Some(pk) = tx.provisioning_key(&id)? else {
        return failure(
            &id,
            None,
            ClientFailure::Unknown,
            "unknown provisioning key".into(),
        );
    };
    if pk.keys.is_some() {
        let why = "a secret from a private_key_jwt client (it has no secret; it must send a client assertion)".into();
        return failure(&id, Some(pk), ClientFailure::WrongMethod, why);
    }
    let used = if presented.matches(&pk.secret_sha256) {
        SecretUsed::Current
    } else if let Some(prev) = pk.previous.filter(|p| presented.matches(&p.secret_sha256)) {
        if now >= prev.until {
            let why = format!(
                "a replaced secret: the provisioning key was rotated at {}, and the old secret's overlap ended at {}",
                pk.secret_set_at.unwrap_or(pk.created_at),
                prev.until
            );
            return failure(&id, Some(pk), ClientFailure::RotatedSecret, why);
        }
        SecretUsed::Previous
    } else {
        return failure(
            &id,
            Some(pk),
            ClientFailure::WrongSecret,
            "wrong provisioning key secret".into(),
        );
    };
    usable(pk, used, now)
}

/// Rotates `pk`'s secret (see [`Issuer::rotate_provisioning_key`]).
pub(super) fn rotate_secret(
    tx: &mut Tx<'_>,
    mut pk: ProvisioningRecord,
    overlap: u64,
    ttl: Option<u64>,
    actor: &str,
    now: u64,
) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
    let lifetime = pk
        .expires_at
        .saturating_sub(pk.secret_set_at.unwrap_or(pk.created_at));
    let ttl = ttl.unwrap_or(lifetime);
    if ttl == 0 {
        return Err(Error::usage("the key lifetime (`ttl`) must be positive"));
    }
    let until = now.saturating_add(overlap).min(pk.expires_at);
    let new = provisioning::successor(&pk.id);
    pk.previous = (until > now).then_some(PreviousSecret {
        secret_sha256: pk.secret_sha256,
        until,
    });
    pk.secret_sha256 = new.secret_sha256;
    pk.secret_set_at = Some(now);
    pk.expires_at = now.saturating_add(ttl);
    tx.update_provisioning_key(&pk)?;
    let mut a = row(now, AuditAction::ProvisionRotate, actor);
    a.provisioning_key_id = Some(pk.id.clone());
    a.sub = Some(pk.sub.clone());
    a.detail = Some(format!(
        "new secret expires_at={}; previous secret {}",
        pk.expires_at,
        pk.previous.map_or_else(
            || "refused from now on".into(),
            |p| format!("accepted until {}", p.until)
        )
    ));
    tx.insert_audit(&a)?;
    Ok((pk, new.full))
}

impl<S: Store> Issuer<S> {
    /// Creates a provisioning key; returns its record and the full key, to be
    /// shown once.
    ///
    /// # Errors
    /// Invalid request, storage errors.
    #[allow(clippy::too_many_arguments)]
    pub fn create_provisioning_key(
        &mut self,
        name: &str,
        scope: &str,
        ttl: Option<u64>,
        max_token_ttl: Option<u64>,
        sub: Option<&str>,
        audiences: &[String],
        permissions: &[String],
        now: u64,
    ) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
        let (rec, key) = self.create_client(
            name,
            scope,
            ttl,
            max_token_ttl,
            sub,
            audiences,
            permissions,
            None,
            now,
        )?;
        Ok((rec, key.unwrap_or_default()))
    }

    /// Registers a `private_key_jwt` client (RFC 7523): like
    /// [`Issuer::create_provisioning_key`], but the client is known by its
    /// public keys (an inline JWKS or a `jwks_uri`, checked with
    /// [`check_client_keys`]) and no secret is generated: it authenticates
    /// with signed assertions only.
    ///
    /// # Errors
    /// Invalid request or keys, storage errors.
    #[allow(clippy::too_many_arguments)]
    pub fn create_key_client(
        &mut self,
        name: &str,
        scope: &str,
        ttl: Option<u64>,
        max_token_ttl: Option<u64>,
        sub: Option<&str>,
        audiences: &[String],
        permissions: &[String],
        keys: ClientKeys,
        now: u64,
    ) -> Result<ProvisioningRecord> {
        self.create_client(
            name,
            scope,
            ttl,
            max_token_ttl,
            sub,
            audiences,
            permissions,
            Some(keys),
            now,
        )
        .map(|(rec, _)| rec)
    }

    /// Replaces a `private_key_jwt` client's keys (a new inline set, or a
    /// new `jwks_uri`). Audited as `provision.update`.
    ///
    /// # Errors
    /// Unknown client, a client with a secret, invalid keys, storage errors.
    pub fn set_client_keys(
        &mut self,
        id: &str,
        keys: ClientKeys,
        now: u64,
    ) -> Result<ProvisioningRecord> {
        check_client_keys(&keys)?;
        self.run(|_, tx| {
            let Some(mut pk) = tx.provisioning_key(id)? else {
                return Err(not_found("provisioning key", id));
            };
            if pk.keys.is_none() {
                return Err(Error::usage(format!(
                    "client {id} authenticates with a secret; register a new client with --jwks or --jwks-uri to move it to private_key_jwt"
                )));
            }
            let detail = match &keys {
                ClientKeys::Jwks(_) => "keys replaced: an inline jwks".to_string(),
                ClientKeys::JwksUri(u) => format!("keys replaced: jwks_uri={u}"),
            };
            pk.keys = Some(keys);
            tx.update_provisioning_key(&pk)?;
            let mut a = row(now, AuditAction::ProvisionUpdate, OPERATOR);
            a.provisioning_key_id = Some(pk.id.clone());
            a.sub = Some(pk.sub.clone());
            a.detail = Some(detail);
            tx.insert_audit(&a)?;
            Ok(pk)
        })
    }

    /// Creates a client: with `keys`, a `private_key_jwt` client
    /// ([`Issuer::create_key_client`]: the keys checked, no secret, `None`
    /// for the key); without, a provisioning key
    /// ([`Issuer::create_provisioning_key`]: the full key, to be shown once).
    ///
    /// # Errors
    /// Invalid request or keys, storage errors.
    #[allow(clippy::too_many_arguments)]
    pub fn create_client(
        &mut self,
        name: &str,
        scope: &str,
        ttl: Option<u64>,
        max_token_ttl: Option<u64>,
        sub: Option<&str>,
        audiences: &[String],
        permissions: &[String],
        keys: Option<ClientKeys>,
        now: u64,
    ) -> Result<(ProvisioningRecord, Option<Zeroizing<String>>)> {
        if let Some(k) = &keys {
            check_client_keys(k)?;
        }
        let scopes = provisioning::parse_scopes(scope)?;
        let permissions = provisioning::parse_permissions(permissions)?;
        if scopes.is_empty() {
            return Err(Error::usage("`scope` must name at least one scope"));
        }
        if name.trim().is_empty() {
            return Err(Error::usage("`name` must not be empty"));
        }
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let max = max_token_ttl.unwrap_or(s.token_ttl);
            if max == 0 || max > s.max_token_ttl {
                return Err(Error::usage(format!(
                    "`max_token_ttl` must be between 1s and the issuer's maximum ({})",
                    duration::format(s.max_token_ttl)
                )));
            }
            let ttl = ttl.unwrap_or(30 * 86_400);
            if ttl == 0 {
                return Err(Error::usage("the key lifetime (`ttl`) must be positive"));
            }
            let new = provisioning::generate();
            // A key client has no secret: its hash is of nothing anyone
            // holds (and a secret is refused for it before any comparison).
            let secret_sha256 = if keys.is_some() {
                [0; 32]
            } else {
                new.secret_sha256
            };
            let rec = ProvisioningRecord {
                id: new.id.clone(),
                name: name.into(),
                secret_sha256,
                scopes,
                audiences: audiences.to_vec(),
                sub: sub.map_or_else(|| new.id.clone(), String::from),
                created_at: now,
                expires_at: now.saturating_add(ttl),
                max_token_ttl: max,
                revoked_at: None,
                use_count: 0,
                last_used_at: None,
                permissions,
                secret_set_at: None,
                previous: None,
                require_dpop: false,
                keys,
                keys_failing_since: None,
                alg: None,
            };
            tx.insert_provisioning_key(&rec)?;
            let mut a = row(now, AuditAction::ProvisionCreate, OPERATOR);
            a.provisioning_key_id = Some(rec.id.clone());
            a.sub = Some(rec.sub.clone());
            a.detail = Some(format!(
                "name={} auth={} scope={} expires_at={} max_token_ttl={}{}",
                rec.name,
                auth_method(&rec),
                rec.scopes.join(" "),
                rec.expires_at,
                duration::format(rec.max_token_ttl),
                if rec.permissions.is_empty() {
                    String::new()
                } else {
                    format!(
                        " permissions={}",
                        rec.permissions
                            .iter()
                            .map(|p| p.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                }
            ));
            tx.insert_audit(&a)?;
            let key = rec.keys.is_none().then_some(new.full);
            Ok((rec, key))
        })
    }

    /// Sets the algorithm client `id`'s tokens are signed with (`None`: the
    /// primary key ring's): one of the issuer's extra algorithms, or its
    /// primary one. Tokens already issued keep verifying. Audited as
    /// `provision.update`.
    ///
    /// # Errors
    /// Unknown client, an algorithm the issuer has no key ring for, storage errors.
    pub fn set_client_alg(
        &mut self,
        id: &str,
        alg: Option<Algorithm>,
        now: u64,
    ) -> Result<ProvisioningRecord> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            check_client_alg(&s, alg)?;
            let Some(mut pk) = tx.provisioning_key(id)? else {
                return Err(not_found("provisioning key", id));
            };
            pk.alg = alg.filter(|a| s.ring_of(*a).is_some());
            tx.update_provisioning_key(&pk)?;
            let mut a = row(now, AuditAction::ProvisionUpdate, OPERATOR);
            a.provisioning_key_id = Some(pk.id.clone());
            a.sub = Some(pk.sub.clone());
            a.detail = Some(format!("alg={}", alg.map_or(s.alg.name(), Algorithm::name)));
            tx.insert_audit(&a)?;
            Ok(pk)
        })
    }

    /// Sets whether provisioning key `id`'s token requests must carry a
    /// DPoP proof (RFC 9449 §5.2 `dpop_bound_access_tokens`). Audited.
    ///
    /// # Errors
    /// Unknown key, storage errors.
    pub fn set_require_dpop(
        &mut self,
        id: &str,
        required: bool,
        now: u64,
    ) -> Result<ProvisioningRecord> {
        self.run(|_, tx| {
            let Some(mut pk) = tx.provisioning_key(id)? else {
                return Err(not_found("provisioning key", id));
            };
            pk.require_dpop = required;
            tx.update_provisioning_key(&pk)?;
            let mut a = row(now, AuditAction::ProvisionUpdate, OPERATOR);
            a.provisioning_key_id = Some(pk.id.clone());
            a.sub = Some(pk.sub.clone());
            a.detail = Some(format!("require_dpop={required}"));
            tx.insert_audit(&a)?;
            Ok(pk)
        })
    }

    /// Every provisioning key.
    ///
    /// # Errors
    /// Storage errors.
    pub fn provisioning_keys(&mut self) -> Result<Vec<ProvisioningRecord>> {
        self.run(|_, tx| {
            load_settings(tx)?;
            tx.provisioning_keys()
        })
    }

    /// Revokes a provisioning key and every token issued through it (its
    /// `sub` is revoked for tokens issued up to and including `now`).
    ///
    /// # Errors
    /// Unknown id, storage errors.
    pub fn revoke_provisioning_key(&mut self, id: &str, now: u64) -> Result<ProvisioningRecord> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let mut k = tx
                .provisioning_key(id)?
                .ok_or_else(|| not_found("provisioning key", id))?;
            if k.revoked_at.is_some() {
                let mut a = unchanged(now, AuditAction::ProvisionRevoke, "already revoked");
                a.provisioning_key_id = Some(k.id.clone());
                a.sub = Some(k.sub.clone());
                tx.insert_audit(&a)?;
                return Ok(k);
            }
            k.revoked_at = Some(now);
            tx.update_provisioning_key(&k)?;
            let before = now.saturating_add(1);
            tx.insert_revocation(&RevocationEntry {
                kind: RevocationKind::Sub,
                value: k.sub.clone(),
                at: before,
                expires_at: before.saturating_add(s.max_token_ttl),
                created_at: now,
            })?;
            let epoch = bump_epoch(tx, now)?;
            let mut a = row(now, AuditAction::ProvisionRevoke, OPERATOR);
            a.provisioning_key_id = Some(k.id.clone());
            a.sub = Some(k.sub.clone());
            a.detail = Some(format!(
                "tokens of sub issued before {before} revoked; epoch={epoch}"
            ));
            tx.insert_audit(&a)?;
            Ok(k)
        })
    }

    /// Rotates a provisioning key's secret (the operator): a new secret for
    /// the same client (id, scopes, audiences, limits unchanged), valid for
    /// `ttl` (default: as long as the current one was); the current secret
    /// keeps working for `overlap` (never past its own expiry), then is
    /// refused as `rotated_secret`. A secret replaced earlier and still in
    /// its overlap stops at once: at most two secrets work at any time.
    /// Returns the record and the new full key, to be shown once.
    ///
    /// # Errors
    /// Unknown id, a revoked key, storage errors.
    pub fn rotate_provisioning_key(
        &mut self,
        id: &str,
        overlap: u64,
        ttl: Option<u64>,
        now: u64,
    ) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
        self.run(|_, tx| {
            load_settings(tx)?;
            let pk = tx
                .provisioning_key(id)?
                .ok_or_else(|| not_found("provisioning key", id))?;
            if let Some(at) = pk.revoked_at {
                return Err(Error::usage(format!(
                    "provisioning key {id} was revoked at {at}; create a new one"
                )));
            }
            if pk.keys.is_some() {
                return Err(Error::usage(format!(
                    "client {id} uses private_key_jwt and has no secret: replace its keys with `jwt-edge provision keys {id} --jwks FILE` (or at its jwks_uri)"
                )));
            }
            rotate_secret(tx, pk, overlap, ttl, OPERATOR, now)
        })
    }

    /// A client rotates its own secret (`POST /client/rotate`): authenticated
    /// with its CURRENT secret only (a previous secret in its overlap cannot
    /// rotate), `overlap` at most [`MAX_SELF_OVERLAP`]; the new secret lives
    /// as long as the current one was given. Refusals are audited.
    ///
    /// # Errors
    /// `ERR_ISSUER_REFUSED`, storage errors.
    pub fn rotate_own_secret(
        &mut self,
        credential: &Credential,
        overlap: u64,
        now: u64,
    ) -> Result<(ProvisioningRecord, Zeroizing<String>)> {
        self.run(|ctx, tx| {
            load_settings(tx)?;
            let refused = |tx: &mut Tx<'_>, id: Option<&str>, class: Refusal, why: String| {
                tx.insert_audit(&refusal_row(now, AuditAction::ProvisionRotate, id, &why))?;
                Ok(Err(Error::refused_for(class, why)))
            };
            let pk = match authenticate(ctx, tx, credential, now)? {
                Ok((pk, SecretUsed::Current)) => pk,
                Ok((pk, SecretUsed::Previous)) => {
                    let why = "only the current secret may rotate a provisioning key".into();
                    return refused(tx, Some(&pk.id), Refusal::Request, why);
                }
                Ok((pk, SecretUsed::Assertion)) => {
                    let why = "a private_key_jwt client has no secret to rotate: it publishes its new key (at its jwks_uri, or with `jwt-edge provision keys`)".into();
                    return refused(tx, Some(&pk.id), Refusal::Request, why);
                }
                Err(AuthFailed { fetch: Some(e), .. }) => return Ok(Err(e)),
                Err(failed) => {
                    let class = Refusal::Client(failed.failure);
                    return refused(tx, failed.id.as_deref(), class, failed.why);
                }
            };
            if overlap > MAX_SELF_OVERLAP {
                let why = format!(
                    "overlap {} exceeds the maximum {}",
                    duration::format(overlap),
                    duration::format(MAX_SELF_OVERLAP)
                );
                return refused(tx, Some(&pk.id), Refusal::Request, why);
            }
            let actor = format!("pk:{}", pk.id);
            rotate_secret(tx, pk, overlap, None, &actor, now).map(Ok)
        })?
    }

    /// Authenticates a client that asks for `permission` (e.g. `introspect`)
    /// and counts the use. A failed authentication is audited; a missing
    /// permission is refused with [`Refusal::Permission`] and audited.
    ///
    /// # Errors
    /// `ERR_ISSUER_REFUSED`, storage errors.
    pub fn authorize(
        &mut self,
        credential: &Credential,
        permission: Permission,
        now: u64,
    ) -> Result<ProvisioningRecord> {
        let action = AuditAction::Authorize(permission);
        self.run(|ctx, tx| {
            load_settings(tx)?;
            let refused = |tx: &mut Tx<'_>, id: Option<String>, class: Refusal, why: String| {
                tx.insert_audit(&refusal_row(now, action.clone(), id.as_deref(), &why))?;
                // Committed with its audit row, then refused.
                Ok(Err(Error::refused_for(class, why)))
            };
            let mut pk = match authenticate(ctx, tx, credential, now)? {
                Ok((pk, _)) => pk,
                Err(AuthFailed { fetch: Some(e), .. }) => return Ok(Err(e)),
                Err(failed) => {
                    let class = Refusal::Client(failed.failure);
                    return refused(tx, failed.id, class, failed.why);
                }
            };
            if !pk.permissions.contains(&permission) {
                let why = format!("this provisioning key lacks the {permission:?} permission");
                return refused(tx, Some(pk.id), Refusal::Permission, why);
            }
            pk.use_count = pk.use_count.saturating_add(1);
            pk.last_used_at = Some(now);
            tx.update_provisioning_key(&pk)?;
            Ok(Ok(pk))
        })?
    }
}
