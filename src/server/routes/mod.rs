//! The handlers, by what they serve: the token endpoint ([`token`]), a
//! client's other calls ([`client`]: revocation, introspection, its own
//! secret's rotation), the public documents ([`documents`]) and the
//! operators' endpoints ([`ops`]: metrics, health).

pub(crate) mod client;
pub(crate) mod documents;
pub(crate) mod ops;
pub(crate) mod token;
