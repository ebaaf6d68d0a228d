//! Anomaly detection on issuance: cheap, explainable rules per provisioning
//! key, evaluated by `jwt-edge serve` on every answered `/token` request.
//! A pure state machine (time comes in as data), so a scripted traffic
//! pattern tests each rule.
//!
//! Rules (each with its thresholds in [`AnomalyConfig`]):
//! - `rate`: issuances in the current window exceed `rate_multiple` × the
//!   key's own trailing baseline (an exponentially weighted mean of past
//!   windows), and at least `rate_min`;
//! - `refusals`: refusals for the key in the current window exceed
//!   `refusal_multiple` × its refusal baseline, and at least `refusal_min`;
//! - `new_network`: the key is used from a network (IPv4 /24, IPv6 /64) it
//!   has not used before;
//! - `new_scope`, `new_audience`: the key requests a scope or an audience it
//!   has never requested.
//!
//! Novelty rules start after `warmup` issuances of the key in this process
//! (what a key did before a restart is relearned, not flagged). Memory is
//! bounded: at most `max_keys` keys and `max_seen` networks, scopes and
//! audiences per key (beyond that, nothing new is learned or flagged).

use std::collections::{BTreeMap, BTreeSet};
use std::format;
use std::net::IpAddr;
use std::string::{String, ToString};
use std::vec::Vec;

/// A rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// Issuance rate above the key's baseline.
    Rate,
    /// Refusal spike.
    Refusals,
    /// A network the key has not used before.
    NewNetwork,
    /// A scope the key has never requested.
    NewScope,
    /// An audience the key has never requested.
    NewAudience,
}

impl Rule {
    /// Every rule.
    pub const ALL: [Self; 5] = [
        Self::Rate,
        Self::Refusals,
        Self::NewNetwork,
        Self::NewScope,
        Self::NewAudience,
    ];

    /// The stable name (audit detail, metrics label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rate => "rate",
            Self::Refusals => "refusals",
            Self::NewNetwork => "new_network",
            Self::NewScope => "new_scope",
            Self::NewAudience => "new_audience",
        }
    }
}

/// Thresholds; every field has a default (JSON: `serve --anomaly-config FILE`).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyConfig {
    /// Window length, seconds.
    pub window: u64,
    /// Weight of the newest window in the baselines (0 < a ≤ 1).
    pub baseline_weight: f64,
    /// Windows of history a key needs before rate rules apply.
    pub baseline_windows: u64,
    /// `rate`: multiple of the baseline.
    pub rate_multiple: f64,
    /// `rate`: minimum issuances in the window.
    pub rate_min: u64,
    /// `refusals`: multiple of the refusal baseline.
    pub refusal_multiple: f64,
    /// `refusals`: minimum refusals in the window.
    pub refusal_min: u64,
    /// Issuances of a key before novelty rules apply.
    pub warmup: u64,
    /// Keys tracked at most.
    pub max_keys: usize,
    /// Networks, scopes and audiences remembered per key at most.
    pub max_seen: usize,
    /// Rules that are off.
    pub disabled: Vec<String>,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            window: 60,
            baseline_weight: 0.1,
            baseline_windows: 10,
            rate_multiple: 10.0,
            rate_min: 60,
            refusal_multiple: 10.0,
            refusal_min: 20,
            warmup: 20,
            max_keys: 100_000,
            max_seen: 64,
            disabled: Vec::new(),
        }
    }
}

impl AnomalyConfig {
    /// Checks the thresholds.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.window == 0 {
            return Err("window must be positive".into());
        }
        if !(self.baseline_weight > 0.0 && self.baseline_weight <= 1.0) {
            return Err("baseline_weight must be in (0, 1]".into());
        }
        if !(self.rate_multiple >= 1.0 && self.refusal_multiple >= 1.0) {
            return Err("rate_multiple and refusal_multiple must be at least 1".into());
        }
        if let Some(bad) = self
            .disabled
            .iter()
            .find(|d| !Rule::ALL.iter().any(|r| r.as_str() == d.as_str()))
        {
            return Err(format!(
                "disabled: unknown rule {bad:?} (rules: rate, refusals, new_network, new_scope, new_audience)"
            ));
        }
        Ok(())
    }

    fn on(&self, r: Rule) -> bool {
        !self.disabled.iter().any(|d| d == r.as_str())
    }
}

/// One answered issuance request, as the detector sees it.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// The provisioning key (client id).
    pub client_id: &'a str,
    /// The request's source address.
    pub source: Option<IpAddr>,
    /// Scopes requested (empty: the key's default).
    pub scopes: &'a [String],
    /// Audiences requested (empty: the key's default).
    pub audiences: &'a [String],
    /// Whether a token was issued.
    pub issued: bool,
    /// When (unix seconds).
    pub at: u64,
}

/// A flagged anomaly.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// The rule.
    pub rule: Rule,
    /// The provisioning key.
    pub client_id: String,
    /// The numbers, for people (`count=… baseline=…`, `network=…`).
    pub detail: String,
    /// When.
    pub at: u64,
}

#[derive(Debug, Default)]
struct Counter {
    window: u64,
    count: u64,
    baseline: f64,
    windows: u64,
    flagged: bool,
}

impl Counter {
    /// Moves to `window`, folding finished windows (and empty ones between)
    /// into the baseline.
    fn roll(&mut self, window: u64, weight: f64) {
        if window <= self.window && self.windows > 0 {
            return;
        }
        if self.windows > 0 {
            let gap = window.saturating_sub(self.window);
            self.baseline = self.baseline * (1.0 - weight) + weight * self.count as f64;
            // Each empty window in between decays the baseline (bounded loop).
            for _ in 1..gap.min(1_000) {
                self.baseline *= 1.0 - weight;
            }
            self.windows = self.windows.saturating_add(gap);
        } else {
            self.windows = 1;
        }
        self.window = window;
        self.count = 0;
        self.flagged = false;
    }

    /// Counts one event; `Some((count, baseline))` when it crosses the threshold.
    fn hit(&mut self, min: u64, multiple: f64, history: u64) -> Option<(u64, f64)> {
        self.count = self.count.saturating_add(1);
        let over = self.count >= min && self.count as f64 > multiple * self.baseline.max(1.0);
        if over && !self.flagged && self.windows > history {
            self.flagged = true;
            return Some((self.count, self.baseline));
        }
        None
    }
}

#[derive(Debug, Default)]
struct KeyState {
    issued: u64,
    rate: Counter,
    refusals: Counter,
    networks: BTreeSet<String>,
    scopes: BTreeSet<String>,
    audiences: BTreeSet<String>,
}

/// The detector: state per provisioning key.
#[derive(Debug, Default)]
pub struct Detector {
    config: AnomalyConfig,
    keys: BTreeMap<String, KeyState>,
}

/// The network of an address: IPv4 /24, IPv6 /64.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return network(IpAddr::V4(v4));
            }
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Remembers `value`; an anomaly when it is new and the rule is armed.
fn learn(
    seen: &mut BTreeSet<String>,
    value: &str,
    cap: usize,
    armed: bool,
    rule: Rule,
    ev: &Event<'_>,
) -> Option<Anomaly> {
    if seen.contains(value) || seen.len() >= cap {
        return None;
    }
    seen.insert(value.to_string());
    let what = match rule {
        Rule::NewNetwork => "network",
        Rule::NewScope => "scope",
        _ => "audience",
    };
    armed.then(|| Anomaly {
        rule,
        client_id: ev.client_id.into(),
        detail: format!("{what}={value} known={}", seen.len().saturating_sub(1)),
        at: ev.at,
    })
}

impl Detector {
    /// A detector with these thresholds.
    pub fn new(config: AnomalyConfig) -> Self {
        Self {
            config,
            keys: BTreeMap::new(),
        }
    }

    /// The thresholds.
    pub fn config(&self) -> &AnomalyConfig {
        &self.config
    }

    /// Feeds one answered request; returns what it flags.
    pub fn observe(&mut self, ev: &Event<'_>) -> Vec<Anomaly> {
        let mut out = Vec::new();
        let c = &self.config;
        if !self.keys.contains_key(ev.client_id) && self.keys.len() >= c.max_keys {
            return out;
        }
        let k = self.keys.entry(ev.client_id.into()).or_default();
        let window = ev.at / c.window;
        k.rate.roll(window, c.baseline_weight);
        k.refusals.roll(window, c.baseline_weight);
        if !ev.issued {
            if c.on(Rule::Refusals) {
                if let Some((n, b)) =
                    k.refusals
                        .hit(c.refusal_min, c.refusal_multiple, c.baseline_windows)
                {
                    out.push(Anomaly {
                        rule: Rule::Refusals,
                        client_id: ev.client_id.into(),
                        detail: format!(
                            "refusals={n} in {}s baseline={b:.2} multiple={} min={}",
                            c.window, c.refusal_multiple, c.refusal_min
                        ),
                        at: ev.at,
                    });
                }
            }
            return out;
        }
        if c.on(Rule::Rate) {
            if let Some((n, b)) = k.rate.hit(c.rate_min, c.rate_multiple, c.baseline_windows) {
                out.push(Anomaly {
                    rule: Rule::Rate,
                    client_id: ev.client_id.into(),
                    detail: format!(
                        "issued={n} in {}s baseline={b:.2} multiple={} min={}",
                        c.window, c.rate_multiple, c.rate_min
                    ),
                    at: ev.at,
                });
            }
        }
        let armed = k.issued >= c.warmup;
        k.issued = k.issued.saturating_add(1);
        let cap = c.max_seen;
        if let Some(ip) = ev.source {
            let armed = armed && c.on(Rule::NewNetwork);
            out.extend(learn(
                &mut k.networks,
                &network(ip),
                cap,
                armed,
                Rule::NewNetwork,
                ev,
            ));
        }
        for s in ev.scopes {
            let armed = armed && c.on(Rule::NewScope);
            out.extend(learn(&mut k.scopes, s, cap, armed, Rule::NewScope, ev));
        }
        for a in ev.audiences {
            let armed = armed && c.on(Rule::NewAudience);
            out.extend(learn(
                &mut k.audiences,
                a,
                cap,
                armed,
                Rule::NewAudience,
                ev,
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    fn ev<'a>(id: &'a str, ip: &str, scopes: &'a [String], issued: bool, at: u64) -> Event<'a> {
        Event {
            client_id: id,
            source: ip.parse().ok(),
            scopes,
            audiences: &[],
            issued,
            at,
        }
    }

    fn scopes(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_string()).collect()
    }

    /// Steady traffic for `minutes` (per minute `per_min` issuances from one
    /// network, one scope): nothing is flagged.
    fn steady(d: &mut Detector, id: &str, start: u64, minutes: u64, per_min: u64) -> Vec<Anomaly> {
        let sc = scopes(&["read"]);
        let mut out = Vec::new();
        for m in 0..minutes {
            for i in 0..per_min {
                let at = start + m * 60 + (i * 60 / per_min.max(1));
                out.extend(d.observe(&ev(id, "10.0.0.7", &sc, true, at)));
            }
        }
        out
    }

    #[test]
    fn steady_traffic_is_not_flagged() {
        let mut d = Detector::new(AnomalyConfig::default());
        // Two hours at 30/min, then 24 h at 100/min, with a few refusals.
        assert!(steady(&mut d, "a", 0, 120, 30).is_empty());
        assert!(steady(&mut d, "b", 0, 24 * 60, 100).is_empty());
        for m in 0..60 {
            assert!(d
                .observe(&ev("a", "10.0.0.7", &[], false, 7_200 + m * 60))
                .is_empty());
        }
    }

    #[test]
    fn rate_spike_is_flagged_once_per_window() {
        let mut d = Detector::new(AnomalyConfig::default());
        assert!(steady(&mut d, "a", 0, 60, 10).is_empty());
        // 10/min baseline; one minute with 200.
        let sc = scopes(&["read"]);
        let mut found = Vec::new();
        for i in 0..200 {
            found.extend(d.observe(&ev("a", "10.0.0.7", &sc, true, 3_600 + i % 60)));
        }
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, Rule::Rate);
        assert!(
            found[0].detail.starts_with("issued=100 "),
            "{}",
            found[0].detail
        );
        // Another key's steady traffic is unaffected.
        assert!(steady(&mut d, "b", 0, 61, 10).is_empty());
    }

    #[test]
    fn refusal_spike_is_flagged() {
        let mut d = Detector::new(AnomalyConfig::default());
        assert!(steady(&mut d, "a", 0, 30, 5).is_empty());
        let found: Vec<_> = (0..50)
            .flat_map(|i| d.observe(&ev("a", "10.9.9.9", &[], false, 1_800 + i)))
            .collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, Rule::Refusals);
        assert!(
            found[0].detail.starts_with("refusals=20 "),
            "{}",
            found[0].detail
        );
    }

    #[test]
    fn new_network_scope_and_audience_after_warmup() {
        let mut d = Detector::new(AnomalyConfig::default());
        let sc = scopes(&["read"]);
        // During warm-up a second network is learned, not flagged.
        for i in 0..20 {
            let ip = if i == 5 { "192.168.1.9" } else { "10.0.0.7" };
            assert!(d.observe(&ev("a", ip, &sc, true, i)).is_empty());
        }
        // Same /24: known.
        assert!(d.observe(&ev("a", "10.0.0.200", &sc, true, 30)).is_empty());
        assert!(d.observe(&ev("a", "192.168.1.1", &sc, true, 31)).is_empty());
        let f = d.observe(&ev("a", "172.16.5.5", &sc, true, 32));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].rule, Rule::NewNetwork);
        assert_eq!(f[0].detail, "network=172.16.5.0/24 known=2");
        let v6 = d.observe(&ev("a", "2001:db8:1:2::5", &sc, true, 33));
        assert_eq!(v6[0].detail, "network=2001:db8:1:2::/64 known=3");
        assert!(d
            .observe(&ev("a", "2001:db8:1:2:ffff::1", &sc, true, 34))
            .is_empty());
        let f = d.observe(&ev("a", "10.0.0.7", &scopes(&["read", "admin"]), true, 35));
        assert_eq!(f.len(), 1);
        assert_eq!(
            (f[0].rule, f[0].detail.as_str()),
            (Rule::NewScope, "scope=admin known=1")
        );
        let aud = scopes(&["https://api.example"]);
        let e = Event {
            audiences: &aud,
            ..ev("a", "10.0.0.7", &sc, true, 36)
        };
        assert_eq!(d.observe(&e)[0].rule, Rule::NewAudience);
        assert!(d.observe(&e).is_empty());
    }

    #[test]
    fn disabled_rules_and_bounds() {
        let cfg = AnomalyConfig {
            disabled: vec!["new_network".into()],
            max_seen: 2,
            warmup: 1,
            ..AnomalyConfig::default()
        };
        assert!(cfg.validate().is_ok());
        let mut d = Detector::new(cfg);
        let sc = scopes(&["a"]);
        assert!(d.observe(&ev("k", "10.0.0.1", &sc, true, 0)).is_empty());
        assert!(d.observe(&ev("k", "10.0.1.1", &sc, true, 1)).is_empty());
        // max_seen = 2 scopes: "a" and "b" learned, "c" neither learned nor flagged.
        assert_eq!(
            d.observe(&ev("k", "10.0.0.1", &scopes(&["b"]), true, 2))
                .len(),
            1
        );
        assert!(d
            .observe(&ev("k", "10.0.0.1", &scopes(&["c"]), true, 3))
            .is_empty());
        let bad = AnomalyConfig {
            disabled: vec!["nope".into()],
            ..AnomalyConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("nope"));
    }
}
