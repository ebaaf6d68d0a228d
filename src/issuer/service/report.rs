//! Reports: health findings (`jwt-edge status`), growth and the audit backlog.

#[allow(clippy::wildcard_imports)]
use super::*;

impl<S: Store> Issuer<S> {
    /// What will break, and when (`jwt-edge status`): the findings at `now`
    /// (see [`crate::issuer::rules::health::findings`]) and rows per table.
    ///
    /// # Errors
    /// Storage errors.
    pub fn status(
        &mut self,
        now: u64,
        warn: u64,
        unused: u64,
    ) -> Result<crate::issuer::rules::health::Report> {
        self.status_with_retention(now, warn, unused, None)
    }

    /// [`Issuer::status`], plus the retention finding (`audit_export_behind`)
    /// of `retention`: the caller's [`Issuer::audit_backlog`] (or
    /// [`Issuer::growth`]) and the audit retention window.
    ///
    /// # Errors
    /// Storage errors.
    pub fn status_with_retention(
        &mut self,
        now: u64,
        warn: u64,
        unused: u64,
        retention: Option<(&crate::issuer::rules::health::Growth, u64)>,
    ) -> Result<crate::issuer::rules::health::Report> {
        self.run(|_, tx| {
            let s = load_settings(tx)?;
            let keys = tx.keys()?;
            let provisioning = tx.provisioning_keys()?;
            let revoked: Vec<String> = tx
                .revocations()?
                .into_iter()
                .filter(|e| e.kind == RevocationKind::Kid)
                .map(|e| e.value)
                .collect();
            // Each key ring is checked on its own (the clients once, with
            // the primary ring).
            let ring = |r: Option<crate::Algorithm>| -> Vec<KeyRecord> {
                keys.iter()
                    .filter(|k| s.ring_of(k.alg) == r)
                    .cloned()
                    .collect()
            };
            let mut findings = crate::issuer::rules::health::findings(
                &s,
                &ring(None),
                &provisioning,
                &revoked,
                now,
                warn,
                unused,
            );
            for alg in &s.extra_algs {
                for mut f in crate::issuer::rules::health::findings(
                    &s,
                    &ring(Some(*alg)),
                    &[],
                    &revoked,
                    now,
                    warn,
                    unused,
                ) {
                    f.message = format!("{alg} key ring: {}", f.message);
                    findings.push(f);
                }
            }
            if let Some((g, r)) = retention {
                findings.extend(crate::issuer::rules::health::retention_findings(g, r, now));
            }
            Ok((findings, tx.row_counts()?))
        })
    }

    /// How the store grows (see [`crate::issuer::rules::health::Growth`]).
    ///
    /// # Errors
    /// Storage errors.
    pub fn growth(&mut self, now: u64) -> Result<crate::issuer::rules::health::Growth> {
        let mut g = self.audit_backlog()?;
        g.actions_24h = self.run(|_, tx| tx.audit_counts_since(now.saturating_sub(86_400)))?;
        Ok(g)
    }

    /// [`Issuer::growth`] without the per-day counts (cheap: a few indexed
    /// lookups), for the server's periodic publication.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_backlog(&mut self) -> Result<crate::issuer::rules::health::Growth> {
        self.run(|_, tx| {
            let exported = exported_through(tx)?;
            let (bytes_in_use, bytes_free) = tx.size_bytes()?;
            Ok(crate::issuer::rules::health::Growth {
                actions_24h: Vec::new(),
                exported_through: exported,
                newest_audit: tx.max_audit_id()?,
                oldest_unexported_at: tx.audit_after(exported, 1)?.first().map(|r| r.at),
                bytes_in_use,
                bytes_free,
            })
        })
    }
}
