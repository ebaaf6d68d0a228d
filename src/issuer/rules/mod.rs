//! The issuer's rules: pure decisions over records, with no store, clock or
//! random source of their own (time comes in as `now`).
//!
//! - [`lifecycle`]: the signing-key state machine and the rotation planner;
//! - [`provisioning`]: provisioning-key format, hashing, scope rules;
//! - [`grant`]: what an issuance request is granted, or why not;
//! - [`anomaly`]: refusal bursts and unusual issuance, per source and client;
//! - [`health`]: what will break and when (`jwt-edge status`);
//! - [`passphrase`]: the strength of the passphrase a store's keys are encrypted under.

pub mod anomaly;
pub mod grant;
pub mod health;
pub mod lifecycle;
pub mod passphrase;
pub mod provisioning;
