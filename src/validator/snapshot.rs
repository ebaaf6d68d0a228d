//! Snapshots of the remote sources' state, for a host's KV store.

use super::*;

impl Validator {
    /// A JSON snapshot of the remote sources' state, by name (for KV storage).
    pub fn export_cache(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let names = ["jwks", "revocations"];
        // The single-issuer form always names both (null when not configured),
        // as earlier versions did.
        if !self.multi {
            let discovered = self.remote(Source::Metadata(0)).is_some();
            let names: &[&str] = if discovered {
                &["metadata", "jwks", "revocations"]
            } else {
                &names
            };
            for &name in names {
                if !first {
                    out.push(',');
                }
                first = false;
                crate::text::json_string(&mut out, name);
                out.push(':');
                let state = match name {
                    "jwks" => self.remote(Source::Jwks(0)),
                    "metadata" => self.remote(Source::Metadata(0)),
                    _ => self.remote(Source::Revocations),
                };
                out.push_str(&state.map_or(String::from("null"), RemoteState::snapshot));
            }
        } else {
            for (source, name) in self.sources() {
                if !first {
                    out.push(',');
                }
                first = false;
                crate::text::json_string(&mut out, &name);
                out.push(':');
                if let Some(state) = self.remote(source) {
                    out.push_str(&state.snapshot());
                }
            }
        }
        out.push('}');
        out
    }

    /// Restores a snapshot from [`Validator::export_cache`]; every body is
    /// parsed and verified again before use.
    ///
    /// # Errors
    /// `ERR_JWKS_INVALID` for a malformed snapshot, or the body's own error.
    pub fn import_cache(&mut self, snapshot: &str) -> Result<()> {
        let doc = crate::json::parse_object(snapshot.as_bytes(), 6)
            .map_err(|e| Error::new(ErrorKind::JwksInvalid, msg!("invalid cache snapshot: ", e)))?;
        // JWKS first (sources() lists them first): a signed revocation list
        // verifies with those keys.
        for (source, name) in self.sources() {
            let Some(Value::Object(snap)) = doc.get(&name) else {
                continue;
            };
            let Some(mut state) = self.remote(source).cloned() else {
                continue;
            };
            state.restore_map(snap)?;
            let Some(body) = state.body() else {
                continue;
            };
            let installed = match source {
                Source::Jwks(n) => {
                    let secrets = self.trusts.get(n).map(|t| &t.secrets);
                    Installed::Keys(parse_jwks(body, secrets.unwrap_or(&KeySet::new()))?)
                }
                Source::Revocations => {
                    Installed::List(verify_list(body, &self.trusts, self.multi, true)?)
                }
                // Not in snapshots: fetched again when a token names them.
                Source::StatusList(_) => continue,
                Source::Metadata(n) => {
                    if let Some(d) = self.trusts.get_mut(n).and_then(|t| t.discovery.as_mut()) {
                        d.jwks_uri = Some(parse_metadata(body, &d.issuer)?);
                        d.state = state;
                    }
                    continue;
                }
            };
            self.install(source, installed)?;
            match source {
                Source::Jwks(n) => {
                    if let Some(t) = self.trusts.get_mut(n) {
                        t.remote = Some(state);
                    }
                }
                Source::Revocations => self.revocations_remote = Some(state),
                Source::StatusList(_) | Source::Metadata(_) => {}
            }
        }
        Ok(())
    }
}
