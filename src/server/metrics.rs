//! `GET /metrics`: the server's Prometheus metrics (OpenMetrics text, via
//! the `prometheus-client` crate). Labels are bounded: client ids come from
//! the store (one series per provisioning key), refusal reasons and anomaly
//! rules are fixed sets, kids are the store's signing keys; nothing is
//! labelled per token or per source address.
//!
//! The writer thread sets the store-derived gauges at every publication
//! (and the last-used gauge at every issuance); the handlers count requests.

use std::collections::BTreeSet;
use std::string::{String, ToString};
use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::issuer::rules::health::Finding;
use crate::issuer::rules::lifecycle::KeyState;
use crate::issuer::store::{KeyRecord, ProvisioningRecord};

/// `client_id`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClientLabel {
    /// The provisioning key id.
    pub client_id: String,
}

/// `method`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// A client authentication method (RFC 7591 name).
    pub method: String,
}

/// `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok` (a 200 answer), `status` (another HTTP status) or `unreachable`.
    pub outcome: String,
}

/// `reason`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// A refusal reason (see [`crate::issuer::Refusal::label`], plus
    /// `throttled`, `invalid_request`, `unavailable`).
    pub reason: String,
}

/// `client_id`, `key` (`current` / `previous` secret).
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct SecretLabels {
    /// The provisioning key id.
    pub client_id: String,
    /// `current` or `previous`.
    pub key: String,
}

/// `kid`, `state`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct KidLabels {
    /// The signing key.
    pub kid: String,
    /// Its lifecycle state.
    pub state: String,
}

/// `rule`, `client_id`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AnomalyLabels {
    /// The anomaly rule.
    pub rule: String,
    /// The provisioning key id.
    pub client_id: String,
}

/// `kind`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct KindLabel {
    /// A `jwt-edge status` finding kind.
    pub kind: String,
}

/// Every metric of the server.
pub struct Metrics {
    registry: Registry,
    /// Tokens issued, per client.
    pub issued: Family<ClientLabel, Counter>,
    /// `/token` refusals, per reason.
    pub refusals: Family<ReasonLabel, Counter>,
    /// `/token` request duration (seconds), answered requests.
    pub duration: Histogram,
    expiry: Family<SecretLabels, Gauge>,
    /// Last use per client and secret (unix seconds).
    pub last_used: Family<SecretLabels, Gauge>,
    activated: Family<KidLabels, Gauge>,
    epoch: Gauge,
    entries: Gauge,
    /// Storage failures seen by the writer.
    pub store_errors: Counter,
    /// Anomalies flagged, per rule and client.
    pub anomalies: Family<AnomalyLabels, Counter>,
    findings: Family<KindLabel, Gauge>,
    unexported: Gauge,
    store_bytes: Gauge,
    /// Rows deleted by pruning.
    pub pruned: Family<KindLabel, Counter>,
    /// 1 while the store answers (the last store operation succeeded), else 0.
    pub store_up: Gauge,
    /// 1 while this replica leads (rotation, pruning, the audit sink).
    pub leader: Gauge,
    /// Successful client authentications, per method.
    pub client_auth: Family<MethodLabel, Counter>,
    /// Fetches of clients' `jwks_uri`, per outcome.
    pub jwks_uri_fetches: Family<OutcomeLabel, Counter>,
    /// Label sets set at the last publication (to drop vanished ones).
    published: Mutex<Labels>,
}

#[derive(Default)]
struct Labels {
    secrets: BTreeSet<SecretLabels>,
    kids: BTreeSet<KidLabels>,
    kinds: BTreeSet<KindLabel>,
}

impl core::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let m = Self {
            registry: Registry::default(),
            issued: Family::default(),
            refusals: Family::default(),
            duration: Histogram::new(exponential_buckets(0.000_25, 2.0, 16)),
            expiry: Family::default(),
            last_used: Family::default(),
            activated: Family::default(),
            epoch: Gauge::default(),
            entries: Gauge::default(),
            store_errors: Counter::default(),
            anomalies: Family::default(),
            findings: Family::default(),
            unexported: Gauge::default(),
            store_bytes: Gauge::default(),
            pruned: Family::default(),
            store_up: Gauge::default(),
            leader: Gauge::default(),
            client_auth: Family::default(),
            jwks_uri_fetches: Family::default(),
            published: Mutex::new(Labels::default()),
        };
        registry.register(
            "jwt_edge_client_authentications",
            "Successful client authentications, per method (client_secret_basic, client_secret_post, private_key_jwt)",
            m.client_auth.clone(),
        );
        registry.register(
            "jwt_edge_jwks_uri_fetches",
            "Fetches of private_key_jwt clients' jwks_uri, per outcome",
            m.jwks_uri_fetches.clone(),
        );
        // Counters get their `_total` suffix from the encoder.
        registry.register(
            "jwt_edge_tokens_issued",
            "Tokens issued by POST /token, per provisioning key",
            m.issued.clone(),
        );
        registry.register(
            "jwt_edge_token_refusals",
            "POST /token requests refused, per reason",
            m.refusals.clone(),
        );
        registry.register(
            "jwt_edge_token_request_duration_seconds",
            "POST /token time from parsed request to answer (includes the group commit)",
            m.duration.clone(),
        );
        registry.register(
            "jwt_edge_provisioning_key_expiry_timestamp_seconds",
            "When each provisioning-key secret stops working (unix seconds)",
            m.expiry.clone(),
        );
        registry.register(
            "jwt_edge_provisioning_key_last_used_timestamp_seconds",
            "When each provisioning-key secret last obtained a token (unix seconds)",
            m.last_used.clone(),
        );
        registry.register(
            "jwt_edge_signing_key_activated_timestamp_seconds",
            "When each published signing key became active (unix seconds; 0 while pending)",
            m.activated.clone(),
        );
        registry.register(
            "jwt_edge_revocation_list_epoch",
            "Epoch of the published revocation list",
            m.epoch.clone(),
        );
        registry.register(
            "jwt_edge_revocation_entries",
            "Entries in the published revocation list",
            m.entries.clone(),
        );
        registry.register(
            "jwt_edge_store_errors",
            "Storage failures seen by the store writer",
            m.store_errors.clone(),
        );
        registry.register(
            "jwt_edge_anomalies",
            "Issuance anomalies flagged, per rule and provisioning key",
            m.anomalies.clone(),
        );
        registry.register(
            "jwt_edge_health_findings",
            "What jwt-edge status reports (7-day window), per finding kind",
            m.findings.clone(),
        );
        registry.register(
            "jwt_edge_audit_unexported_rows",
            "Audit rows no export has acknowledged yet (they cannot be pruned)",
            m.unexported.clone(),
        );
        registry.register(
            "jwt_edge_store_bytes",
            "Bytes of the store in use",
            m.store_bytes.clone(),
        );
        registry.register(
            "jwt_edge_pruned_rows",
            "Rows deleted by retention, per table",
            m.pruned.clone(),
        );
        registry.register(
            "jwt_edge_store_up",
            "1 while the store answers (the last store operation succeeded), else 0",
            m.store_up.clone(),
        );
        registry.register(
            "jwt_edge_leader",
            "1 while this replica leads: runs rotation, pruning and the audit sink",
            m.leader.clone(),
        );
        Self { registry, ..m }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The Prometheus text format (0.0.4), for scrapers that do not ask for
    /// OpenMetrics (`curl`, `promtool check metrics`): the same samples,
    /// counter families named with their `_total` suffix, no `# EOF`.
    pub fn encode_prometheus(&self) -> String {
        let open = self.encode();
        let counters: BTreeSet<&str> = open
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.strip_suffix(" counter"))
            .collect();
        let mut out = String::with_capacity(open.len());
        for line in open.lines() {
            if line == "# EOF" {
                continue;
            }
            let renamed = ["# HELP ", "# TYPE "].iter().find_map(|p| {
                let rest = line.strip_prefix(p)?;
                let (name, tail) = rest.split_once(' ')?;
                counters
                    .contains(name)
                    .then(|| std::format!("{p}{name}_total {tail}"))
            });
            out.push_str(renamed.as_deref().unwrap_or(line));
            out.push('\n');
        }
        out
    }

    /// Counts a successful client authentication by `method`.
    pub fn authenticated(&self, method: crate::server::token::AuthMethod) {
        self.client_auth
            .get_or_create(&MethodLabel {
                method: method.as_str().to_string(),
            })
            .inc();
    }

    /// Counts a fetch of a client's `jwks_uri`.
    pub fn jwks_uri_fetch(&self, outcome: &crate::FetchOutcome) {
        let outcome = match outcome {
            crate::FetchOutcome::Response { status: 200, .. } => "ok",
            crate::FetchOutcome::Response { .. } => "status",
            _ => "unreachable",
        };
        self.jwks_uri_fetches
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts a `/token` refusal.
    pub fn refused(&self, reason: &str) {
        self.refusals
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Sets the store-derived gauges (the writer, at each publication).
    #[allow(clippy::too_many_arguments)]
    pub fn publish(
        &self,
        provisioning: &[ProvisioningRecord],
        keys: &[KeyRecord],
        epoch: u64,
        entries: usize,
        findings: &[Finding],
        unexported: u64,
        store_bytes: u64,
        now: u64,
    ) {
        let mut secrets = BTreeSet::new();
        for p in provisioning.iter().filter(|p| p.revoked_at.is_none()) {
            let current = SecretLabels {
                client_id: p.id.clone(),
                key: "current".into(),
            };
            self.expiry.get_or_create(&current).set(secs(p.expires_at));
            if let Some(at) = p.last_used_at {
                // The store counts uses of either secret; a use of the
                // previous one also sets its own series (writer, at issuance).
                if p.previous.is_none() {
                    self.last_used.get_or_create(&current).set(secs(at));
                }
            }
            secrets.insert(current);
            if let Some(prev) = p.previous.filter(|prev| prev.until > now) {
                let previous = SecretLabels {
                    client_id: p.id.clone(),
                    key: "previous".into(),
                };
                self.expiry.get_or_create(&previous).set(secs(prev.until));
                secrets.insert(previous);
            }
        }
        let mut kids = BTreeSet::new();
        for k in keys.iter().filter(|k| {
            matches!(
                k.state(),
                KeyState::Pending | KeyState::Active | KeyState::Retiring
            )
        }) {
            let l = KidLabels {
                kid: k.kid.clone(),
                state: k.state().as_str().into(),
            };
            self.activated
                .get_or_create(&l)
                .set(secs(k.life.activated_at().unwrap_or(0)));
            kids.insert(l);
        }
        let mut kinds = BTreeSet::new();
        let mut counts = std::collections::BTreeMap::<&str, i64>::new();
        for f in findings {
            *counts.entry(f.kind).or_default() += 1;
        }
        for (kind, n) in counts {
            let l = KindLabel { kind: kind.into() };
            self.findings.get_or_create(&l).set(n);
            kinds.insert(l);
        }
        self.epoch.set(secs(epoch));
        self.entries.set(i64::try_from(entries).unwrap_or(i64::MAX));
        self.unexported.set(secs(unexported));
        self.store_bytes.set(secs(store_bytes));
        if let Ok(mut last) = self.published.lock() {
            for gone in last.secrets.difference(&secrets) {
                self.expiry.remove(gone);
                self.last_used.remove(gone);
            }
            for gone in last.kids.difference(&kids) {
                self.activated.remove(gone);
            }
            for gone in last.kinds.difference(&kinds) {
                self.findings.remove(gone);
            }
            *last = Labels {
                secrets,
                kids,
                kinds,
            };
        }
    }
}
