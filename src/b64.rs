//! Strict, unpadded base64url (RFC 7515 §2): alphabet `[A-Za-z0-9_-]` only, no
//! `=` padding, no whitespace, and canonical trailing bits. Decoding is done by
//! `base64ct`, which is constant-time and rejects every non-canonical form; the
//! explicit alphabet scan below only produces a more helpful message.

use alloc::vec::Vec;

use base64ct::{Base64UrlUnpadded, Encoding};

/// Why a base64url segment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum B64Error {
    /// A byte outside `[A-Za-z0-9_-]` (padding, `+`, `/`, whitespace, ...).
    Alphabet,
    /// Wrong length (≡ 1 mod 4) or non-zero unused trailing bits.
    NonCanonical,
}

impl B64Error {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Alphabet => {
                "contains a character outside the base64url alphabet (padding '=', '+', '/' and whitespace are not allowed)"
            }
            Self::NonCanonical => "is not canonical unpadded base64url (bad length or non-zero trailing bits)",
        }
    }
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Decodes `input` as strict unpadded base64url.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, B64Error> {
    if !input.iter().all(|&b| is_b64url(b)) {
        return Err(B64Error::Alphabet);
    }
    let s = core::str::from_utf8(input).map_err(|_| B64Error::Alphabet)?;
    Base64UrlUnpadded::decode_vec(s).map_err(|_| B64Error::NonCanonical)
}

/// Encodes bytes as unpadded base64url.
pub fn encode(input: &[u8]) -> alloc::string::String {
    Base64UrlUnpadded::encode_string(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_canonical_forms() {
        assert_eq!(decode(b"Zm9v"), Ok(b"foo".to_vec()));
        assert_eq!(decode(b"Zm9vYg"), Ok(b"foob".to_vec()));
        assert_eq!(decode(b"Zm9vYg=="), Err(B64Error::Alphabet));
        assert_eq!(decode(b"Zm9 v"), Err(B64Error::Alphabet));
        assert_eq!(decode(b"a+/b"), Err(B64Error::Alphabet));
        // "Zm9vYh" decodes to the same byte as "Zm9vYg" but with a non-zero unused bit.
        assert_eq!(decode(b"Zm9vYh"), Err(B64Error::NonCanonical));
        // length ≡ 1 (mod 4)
        assert_eq!(decode(b"Zm9vY"), Err(B64Error::NonCanonical));
    }
}
