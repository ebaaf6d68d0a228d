//! The audit log: reading, the resumable export and its acknowledgement,
//! pruning, anomalies.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Tokens stay this long past their `exp` (validators' clock-skew leeway)
/// before their rows may be pruned.
pub const TOKEN_PRUNE_MARGIN: u64 = 3_600;
/// The settings row holding the highest acknowledged audit row id.
pub(super) const AUDIT_EXPORTED_THROUGH: &str = "audit_exported_through";

pub(super) fn exported_through(tx: &mut Tx<'_>) -> Result<u64> {
    Ok(tx
        .settings()?
        .get(AUDIT_EXPORTED_THROUGH)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// Acknowledges audit rows up to `through` (never beyond the newest row,
/// never backwards).
pub(super) fn acknowledge_audit(tx: &mut Tx<'_>, through: u64) -> Result<()> {
    let stored = exported_through(tx)?;
    if through <= stored {
        return Ok(());
    }
    let ack = through.min(tx.max_audit_id()?);
    if ack > stored {
        tx.put_setting(AUDIT_EXPORTED_THROUGH, &ack.to_string())?;
    }
    Ok(())
}

impl<S: Store> Issuer<S> {
    /// Audit rows after the cursor `after` (a row id; 0 for the first), in
    /// order, at most `limit`: `jwt-edge audit export`. Asking for rows after
    /// `after` acknowledges every row up to it as durably stored by the
    /// caller, and only acknowledged rows are ever pruned. Resume with the
    /// last row's id: each row is delivered once per cursor.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_export(&mut self, after: u64, limit: u64) -> Result<Vec<AuditRecord>> {
        self.run(|_, tx| {
            acknowledge_audit(tx, after)?;
            tx.audit_after(after, limit.max(1))
        })
    }

    /// Acknowledges audit rows up to `through` as durably stored by a sink
    /// (`serve --audit-log`), without reading any.
    ///
    /// # Errors
    /// Storage errors.
    pub fn acknowledge_audit(&mut self, through: u64) -> Result<()> {
        self.run(|_, tx| acknowledge_audit(tx, through))
    }

    /// The highest audit row id acknowledged by an export (0: none).
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit_exported_through(&mut self) -> Result<u64> {
        self.run(|_, tx| exported_through(tx))
    }

    /// One bounded pruning step, in its own short transaction: up to `limit`
    /// expired token rows that no revocation entry names, up to `limit`
    /// audit rows older than `audit_retention` AND acknowledged by an export
    /// ([`Issuer::audit_export`]), expired revocation entries, and the DPoP
    /// proofs whose window ended. Call it
    /// until it deletes nothing. A step that deletes rows writes its
    /// `store.prune` audit row in the same transaction (expired revocation
    /// entries have their own `revocations.prune` row).
    ///
    /// # Errors
    /// Storage errors.
    pub fn prune_step(&mut self, now: u64, audit_retention: u64, limit: u64) -> Result<Pruned> {
        self.run(|_, tx| {
            let revocations = prune_expired_revocations(tx, now)?;
            // DPoP proofs whose window ended (a replay of them is refused
            // for its `iat` by then).
            tx.prune_dpop_proofs(now)?;
            let tokens = tx.prune_tokens(now.saturating_sub(TOKEN_PRUNE_MARGIN), limit)?;
            let through = exported_through(tx)?;
            let audit = tx.prune_audit(now.saturating_sub(audit_retention), through, limit)?;
            if tokens > 0 || audit > 0 {
                let mut a = row(now, AuditAction::StorePrune, OPERATOR);
                a.detail = Some(format!(
                    "tokens={tokens} audit={audit} audit_retention={}",
                    duration::format(audit_retention)
                ));
                tx.insert_audit(&a)?;
            }
            Ok(Pruned {
                tokens,
                audit,
                revocations,
            })
        })
    }

    /// Records anomalies found on issuance (audit action `anomaly`, actor
    /// `pk:<id>`, the rule and its numbers in the detail).
    ///
    /// # Errors
    /// Storage errors.
    pub fn record_anomalies(
        &mut self,
        found: &[crate::issuer::rules::anomaly::Anomaly],
    ) -> Result<()> {
        if found.is_empty() {
            return Ok(());
        }
        self.run(|_, tx| {
            for f in found {
                let mut a = row(f.at, AuditAction::Anomaly, &format!("pk:{}", f.client_id));
                a.provisioning_key_id = Some(f.client_id.clone());
                a.outcome = Outcome::Flagged;
                a.detail = Some(format!("rule={} {}", f.rule.as_str(), f.detail));
                tx.insert_audit(&a)?;
            }
            Ok(())
        })
    }

    /// Audit rows with `at >= since`.
    ///
    /// # Errors
    /// Storage errors.
    pub fn audit(&mut self, since: u64) -> Result<Vec<AuditRecord>> {
        self.run(|_, tx| tx.audit(since))
    }
}
