//! A build without the `pkcs11` feature: no token can be opened, so no
//! [`Hsm`] value exists (the type is uninhabited) and every operation on one
//! is unreachable by construction. Opening a token is refused with an error
//! that names the missing feature.

use std::string::String;
use std::vec::Vec;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::Algorithm;

use super::Pkcs11Config;
use crate::issuer::{Error, Result};

/// An open PKCS#11 token; in this build (no `pkcs11` feature) there is none.
#[derive(Debug)]
pub enum Hsm {}

impl Hsm {
    /// Refused: this build has no PKCS#11 support.
    ///
    /// # Errors
    /// Always, naming the module, the token label and the cargo feature.
    pub fn open(config: &Pkcs11Config, pin: Zeroizing<String>) -> Result<Self> {
        drop(pin);
        Err(Error::usage(std::format!(
            "the signing keys are in the PKCS#11 token {:?} ({}), and this jwt-edge was built without PKCS#11 support (cargo feature `pkcs11`)",
            config.token, config.module
        )))
    }

    /// Unreachable: no `Hsm` exists in this build.
    ///
    /// # Errors
    /// None.
    pub fn generate(&mut self, _alg: Algorithm) -> Result<(Map<String, Value>, Vec<u8>)> {
        match *self {}
    }

    /// Unreachable: no `Hsm` exists in this build.
    ///
    /// # Errors
    /// None.
    pub fn sign(
        &mut self,
        _alg: Algorithm,
        _id: &[u8],
        _kid: &str,
        _message: &[u8],
    ) -> Result<Vec<u8>> {
        match *self {}
    }

    /// Unreachable: no `Hsm` exists in this build.
    ///
    /// # Errors
    /// None.
    pub fn destroy(&mut self, _id: &[u8]) -> Result<usize> {
        match *self {}
    }

    /// Unreachable: no `Hsm` exists in this build.
    ///
    /// # Errors
    /// None.
    pub fn private_key_ids(&mut self) -> Result<Vec<Vec<u8>>> {
        match *self {}
    }
}
