//! Key custody in a PKCS#11 token (`init --key-store pkcs11`): what the
//! store records about it (the [`Pkcs11Config`] in the settings, each key's
//! `CKA_ID` as hex) and the open token, [`Hsm`]. With the cargo feature
//! `pkcs11` the token is driven through `cryptoki` ([`token`]); without it
//! the same names exist, and opening a token is refused with an error that
//! names the feature, so a build without PKCS#11 still reads every store
//! and refuses only what needs the token.

use std::format;
use std::string::String;
use std::vec::Vec;

use crate::issuer::{Error, Result};

#[cfg(not(feature = "pkcs11"))]
mod absent;
#[cfg(feature = "pkcs11")]
pub mod token;

#[cfg(not(feature = "pkcs11"))]
pub use absent::Hsm;
#[cfg(feature = "pkcs11")]
pub use token::Hsm;

/// Where the keys are: the PKCS#11 module (a shared library) and the token
/// label. Stored in the settings; the PIN is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: String,
    /// The token's label.
    pub token: String,
}

/// The `CKA_ID` as stored (hex).
pub fn id_hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a stored hex `CKA_ID`.
///
/// # Errors
/// Not hex.
pub fn id_from_hex(hex: &str) -> Result<Vec<u8>> {
    let bytes = hex.as_bytes();
    if bytes.len() % 2 != 0 {
        return Err(Error::storage("malformed PKCS#11 object id"));
    }
    bytes
        .chunks(2)
        .map(|c| {
            core::str::from_utf8(c)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| Error::storage("malformed PKCS#11 object id"))
        })
        .collect()
}
