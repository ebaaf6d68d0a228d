//! Installing keys, revocation lists and status lists, verified first; every
//! install bumps the validator's generation.

use super::*;

impl Validator {
    pub(super) fn install(&mut self, source: Source, doc: Installed) -> Result<()> {
        match (source, doc) {
            (_, Installed::Status(trust, list)) => {
                if let Some(t) = self.trusts.get_mut(trust) {
                    t.revocations.insert_status_list(list)?;
                }
                self.generation = self.generation.wrapping_add(1);
            }
            (Source::Jwks(n), Installed::Keys(keys)) => self.install_keys(n, keys),
            (_, Installed::List((trust, list))) => {
                if let Some(t) = self.trusts.get_mut(trust) {
                    t.revocations.insert(list)?;
                }
                self.generation = self.generation.wrapping_add(1);
            }
            _ => {}
        }
        Ok(())
    }

    pub(super) fn install_keys(&mut self, trust: usize, keys: KeySet) {
        self.cache.retain_keys_of(trust, &keys, |_| true);
        let old = self
            .trusts
            .get_mut(trust)
            .map(|t| core::mem::replace(&mut t.keys, keys));
        self.number_keys(trust, old.as_ref());
        self.generation = self.generation.wrapping_add(1);
    }

    /// Numbers the keys of trusted issuer `trust` ([`SignatureCheck::key_serial`]):
    /// a key also in `old` (same fingerprint) keeps its number, every other
    /// key gets a new one.
    pub(super) fn number_keys(&mut self, trust: usize, old: Option<&KeySet>) {
        let Some(t) = self.trusts.get_mut(trust) else {
            return;
        };
        for key in t.keys.keys_mut() {
            let kept = old
                .and_then(|o| {
                    o.keys()
                        .iter()
                        .find(|k| k.fingerprint() == key.fingerprint())
                })
                .map(Key::serial);
            let serial = match kept {
                Some(s) => s,
                None => {
                    self.key_serial = self.key_serial.wrapping_add(1);
                    self.key_serial
                }
            };
            key.set_serial(serial);
        }
    }

    /// Replaces the public keys of trusted issuer `trust` (0 in the
    /// single-issuer form); its configured secrets are kept.
    ///
    /// # Errors
    /// `ERR_INVALID_OPTIONS` when there is no such issuer.
    pub fn set_keys(&mut self, trust: usize, mut keys: KeySet) -> Result<()> {
        let Some(t) = self.trusts.get(trust) else {
            return Err(invalid_options("no such issuer"));
        };
        keys.extend(t.secrets.copy_secrets());
        self.install_keys(trust, keys);
        Ok(())
    }

    /// Installs a revocation list, given as JSON or as a signed JWS (anything
    /// not starting with `{`), verified with the keys of the issuer it names.
    ///
    /// # Errors
    /// Parsing or verification errors, a list for an issuer that is not
    /// trusted (multi-issuer form), or an epoch lower than the one held.
    pub fn install_revocations(&mut self, input: &str) -> Result<()> {
        let (trust, list) = verify_list(input.as_bytes(), &self.trusts, self.multi, false)?;
        self.install(Source::Revocations, Installed::List((trust, list)))
    }

    /// Installs a Token Status List fetched from `uri` (a compact JWS with
    /// `typ: statuslist+jwt`), verified with the keys of the issuer that
    /// signed it, for that issuer's tokens. Costs one bounded inflate: no
    /// per-entry work. Tokens whose `status.status_list.uri` is `uri` are
    /// checked against it from now on (cached results are invalidated).
    ///
    /// # Errors
    /// Verification errors, `ERR_STATUS_LIST_INVALID` (see
    /// [`crate::StatusList::from_claims`]; also a copy older than the one
    /// held), `ERR_INVALID_OPTIONS` for `now`.
    pub fn install_status_list(&mut self, uri: &str, jws: &str, now: u64) -> Result<()> {
        check_now(now)?;
        let mut last = None;
        for t in &mut self.trusts {
            match verify::verify_status_list(jws, uri, &t.keys, &t.policy, now) {
                Ok(list) => {
                    if let (Some(want), Some(got)) = (t.issuer.as_deref(), list.issuer()) {
                        if self.multi && want != got {
                            last = Some(Error::new(
                                ErrorKind::StatusListInvalid,
                                msg!(
                                    "the status list names issuer ",
                                    Truncated(got),
                                    " but is signed by a key of another issuer"
                                ),
                            ));
                            continue;
                        }
                    }
                    t.revocations.insert_status_list(list)?;
                    self.generation = self.generation.wrapping_add(1);
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::new(
                ErrorKind::StatusListInvalid,
                "no trusted issuer to verify the status list with",
            )
        }))
    }
}

pub(super) enum Installed {
    Keys(KeySet),
    List((usize, RevocationList)),
    Status(usize, crate::status_list::StatusList),
}

pub(super) fn parse_jwks(body: &[u8], secrets: &KeySet) -> Result<KeySet> {
    let mut keys = KeySet::from_jwks(body)?;
    keys.extend(secrets.copy_secrets());
    Ok(keys)
}

/// A revocation list (JSON, or a JWS verified with the keys of the issuer
/// that signed it) and the trusted issuer it belongs to. A fetched list
/// (`signed_only`) must be a signed JWS: whoever answers the fetch must not
/// be able to install a list.
pub(super) fn verify_list(
    body: &[u8],
    trusts: &[Trust],
    multi: bool,
    signed_only: bool,
) -> Result<(usize, RevocationList)> {
    let text = core::str::from_utf8(body).map_err(|_| {
        Error::new(
            ErrorKind::RevocationListInvalid,
            "the revocation list is not UTF-8 text",
        )
    })?;
    let trimmed = text.trim_start();
    let owner = |list: &RevocationList| -> Result<usize> {
        if !multi {
            return Ok(0);
        }
        trusts
            .iter()
            .position(|t| t.issuer.as_deref() == Some(list.issuer()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::RevocationListInvalid,
                    msg!(
                        "the revocation list is for issuer ",
                        Truncated(list.issuer()),
                        ", which this validator does not trust"
                    ),
                )
            })
    };
    if trimmed.starts_with('{') {
        if signed_only {
            return Err(Error::new(
                ErrorKind::RevocationListInvalid,
                msg!(
                    "a fetched revocation list must be a signed JWS (typ ",
                    crate::revocation::REVOCATION_LIST_TYP,
                    "), not JSON"
                ),
            ));
        }
        let list = RevocationList::from_json(trimmed.as_bytes())?;
        return Ok((owner(&list)?, list));
    }
    // Signed: it must verify with the keys of the issuer it names.
    let mut last = None;
    for (n, t) in trusts.iter().enumerate() {
        match verify::verify_revocation_list(trimmed, &t.keys, &t.policy) {
            Ok(list) if owner(&list)? == n => return Ok((n, list)),
            Ok(list) => {
                last = Some(Error::new(
                    ErrorKind::RevocationListInvalid,
                    msg!(
                        "the revocation list for issuer ",
                        Truncated(list.issuer()),
                        " is signed by a key of another issuer"
                    ),
                ))
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| invalid_options("no trusted issuer")))
}
