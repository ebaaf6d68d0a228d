//! Key custody: where signing keys live and how they sign.
//!
//! - [`local`]: keys generated here, kept in the store as encrypted PKCS#8
//!   (passphrase-derived key), decrypted into memory to sign;
//! - [`hsm`]: keys generated in and never leaving a PKCS#11 token
//!   (feature `pkcs11`; without it such a store is refused by name).
//!
//! [`crate::issuer::service`]'s `Signer` signs with either.

pub mod hsm;
pub mod local;
