//! Strict, unpadded base64url (RFC 7515 §2): alphabet `[A-Za-z0-9_-]` only, no
//! `=` padding, no whitespace, and canonical trailing bits.
//!
//! Two decoders with one contract. [`decode`] uses `base64ct`, which is
//! constant-time: it decodes secret JWK members (an HMAC `k`). [`decode_public`]
//! is a table-driven decoder for what travels in the clear, the segments of a
//! token and public key members (`x`, `y`, `n`, `e`): `base64ct`'s
//! per-character arithmetic was ~30% of a verification in wasm (profiled in
//! Node), the lookup table is several times faster, and the npm package, which
//! never decodes a secret JWK, links no second decoder. A differential test
//! keeps the two identical on every input, errors included.

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

/// Whether every byte is in the base64url alphabet.
fn in_alphabet(input: &[u8]) -> bool {
    input.iter().all(|&b| value(b) <= 63)
}

/// Decodes `input` as strict unpadded base64url.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, B64Error> {
    if !in_alphabet(input) {
        return Err(B64Error::Alphabet);
    }
    let s = core::str::from_utf8(input).map_err(|_| B64Error::Alphabet)?;
    Base64UrlUnpadded::decode_vec(s).map_err(|_| B64Error::NonCanonical)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The 6-bit value of each base64url character; `0xFF` for every other byte.
// Evaluated at compile time: an out-of-range index would be a build error.
#[allow(clippy::indexing_slicing)]
const VALUES: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn value(b: u8) -> u32 {
    // Never out of range (a u8 indexes 256 entries); the fallback is unreachable.
    u32::from(VALUES.get(usize::from(b)).copied().unwrap_or(0xFF))
}

/// Decodes `input` (public data: variable time) as strict unpadded base64url,
/// with the same result as [`decode`] for every input.
pub(crate) fn decode_public(input: &[u8]) -> Result<Vec<u8>, B64Error> {
    if !in_alphabet(input) {
        return Err(B64Error::Alphabet);
    }
    let mut quads = input.chunks_exact(4);
    let mut out = alloc::vec![0u8; quads.len() * 3];
    for (quad, bytes) in (&mut quads).zip(out.chunks_exact_mut(3)) {
        if let ([a, b, c, d], [x, y, z]) = (quad, bytes) {
            let n = value(*a) << 18 | value(*b) << 12 | value(*c) << 6 | value(*d);
            (*x, *y, *z) = ((n >> 16) as u8, (n >> 8) as u8, n as u8);
        }
    }
    match *quads.remainder() {
        [] => {}
        [a, b] => {
            let n = value(a) << 18 | value(b) << 12;
            if n & 0xFFFF != 0 {
                return Err(B64Error::NonCanonical);
            }
            out.push((n >> 16) as u8);
        }
        [a, b, c] => {
            let n = value(a) << 18 | value(b) << 12 | value(c) << 6;
            if n & 0xFF != 0 {
                return Err(B64Error::NonCanonical);
            }
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
        _ => return Err(B64Error::NonCanonical), // length ≡ 1 (mod 4)
    }
    Ok(out)
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

    #[test]
    fn both_decoders_agree_on_edge_cases() {
        for input in [
            &b""[..],
            b"A",
            b"AA",
            b"AB",
            b"AAA",
            b"AAB",
            b"AAAA",
            b"____",
            b"-_-_-",
            b"Zm9vYg",
            b"Zm9vYh",
            b"Zm9vYmE",
            b"Zm9vYmF",
            b"Zm9v=",
            b"Zm 9v",
            b"Zm9v\n",
            b"\xff\xfe",
            b"a+/b",
        ] {
            assert_eq!(decode_public(input), decode(input), "{input:?}");
        }
        // Every 2- and 3-character tail.
        for &a in ALPHABET {
            for &b in ALPHABET {
                assert_eq!(decode_public(&[a, b]), decode(&[a, b]));
                assert_eq!(decode_public(&[b'A', a, b]), decode(&[b'A', a, b]));
            }
        }
    }

    // proptest is a native-only dev-dependency.
    #[cfg(not(target_arch = "wasm32"))]
    mod differential {
        use super::super::{decode, decode_public};
        use alloc::vec::Vec;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]
            #[test]
            fn same_result_as_base64ct(
                input in prop::collection::vec(
                    prop_oneof![
                        8 => prop::sample::select(super::super::ALPHABET.to_vec()),
                        1 => any::<u8>(),
                    ],
                    0..64,
                )
            ) {
                let input: Vec<u8> = input;
                prop_assert_eq!(decode_public(&input), decode(&input));
            }
        }
    }
}
