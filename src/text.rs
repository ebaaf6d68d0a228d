//! Message building without `core::fmt` ([`msg!`]) and quoting of untrusted
//! text in error messages without letting it grow the message unboundedly.

use alloc::string::String;

/// Builds a message from parts, without `core::fmt`:
/// `msg!("key ", index, " has kid ", Truncated(kid))`. Each part is a [`Part`]:
/// text (`&str`, `&String`, an [`Algorithm`](crate::Algorithm)), a whole
/// number, or untrusted text in [`Truncated`].
///
/// Why not `format!`: every `format!` links the `core::fmt` machinery, and
/// with it the `Debug` impls that dependencies reference from their panic
/// paths. Without one, the npm package's `.wasm` is several KiB smaller
/// (its size budget is the reason; see the README).
macro_rules! msg {
    ($($part:expr),+ $(,)?) => {
        $crate::text::concat(&[$($crate::text::Piece::part(&$part)),+])
    };
}

/// One part of a message built by [`msg!`].
pub(crate) enum Part<'a> {
    /// Literal (or already safe) text.
    Text(&'a str),
    /// A whole number, in decimal.
    Num(u64),
    /// Untrusted text, quoted and truncated as [`Truncated`] describes.
    Quoted(&'a str),
}

/// Anything [`msg!`] takes as a part.
pub(crate) trait Piece {
    /// This value as a message part.
    fn part(&self) -> Part<'_>;
}

impl Piece for str {
    fn part(&self) -> Part<'_> {
        Part::Text(self)
    }
}

impl Piece for String {
    fn part(&self) -> Part<'_> {
        Part::Text(self)
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn part(&self) -> Part<'_> {
        (**self).part()
    }
}

impl Piece for crate::Algorithm {
    fn part(&self) -> Part<'_> {
        Part::Text(self.name())
    }
}

impl Piece for Truncated<'_> {
    fn part(&self) -> Part<'_> {
        Part::Quoted(self.0)
    }
}

macro_rules! num_piece {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn part(&self) -> Part<'_> {
                Part::Num(*self as u64)
            }
        }
    )*};
}
num_piece!(u8, u16, u32, u64, usize);

/// Concatenates `parts` (the expansion of [`msg!`]).
pub(crate) fn concat(parts: &[Part<'_>]) -> String {
    let mut out = String::new();
    for part in parts {
        match *part {
            Part::Text(s) => out.push_str(s),
            Part::Num(n) => push_decimal(&mut out, n),
            Part::Quoted(s) => push_quoted(&mut out, s),
        }
    }
    out
}

/// Appends `n` in decimal.
pub(crate) fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        if let Some(d) = digits.get_mut(i) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &d in digits.get(i..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

/// Appends the lowercase hex digits of `n` (no leading zeros), at least `width` of them.
pub(crate) fn push_hex(out: &mut String, n: u32, width: usize) {
    let mut started = false;
    for shift in (0..8).rev() {
        let d = (n >> (shift * 4)) & 0xf;
        if d != 0 || started || shift < width {
            started = true;
            out.push(char::from_digit(d, 16).unwrap_or('0'));
        }
    }
}

/// Quotes at most [`Truncated::MAX`] characters of a string, marking the cut.
pub(crate) struct Truncated<'a>(pub &'a str);

impl Truncated<'_> {
    pub(crate) const MAX: usize = 64;
}

/// Appends `s` quoted: `"` and `\` are backslash-escaped and control
/// characters written as `\u{..}`, so hostile input cannot forge message
/// structure; after [`Truncated::MAX`] characters the quote closes with `…`.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    for (n, c) in s.chars().enumerate() {
        if n == Truncated::MAX {
            out.push_str("\"…");
            return;
        }
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                out.push_str("\\u{");
                push_hex(out, c as u32, 1);
                out.push('}');
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character
/// boundary (never panics, unlike `String::truncate` at an arbitrary byte).
pub(crate) fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
pub(crate) fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u");
                push_hex(out, c as u32, 4);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncated_quotes_and_escapes() {
        use super::Truncated;
        assert_eq!(
            msg!(Truncated("a\"b\\c\n\u{1b}")),
            "\"a\\\"b\\\\c\\u{a}\\u{1b}\""
        );
        let long = "x".repeat(100);
        assert_eq!(msg!(Truncated(&long)), msg!("\"", &"x".repeat(64), "\"…"));
        // Exactly MAX characters: no cut mark.
        let max = "é".repeat(Truncated::MAX);
        assert_eq!(msg!(Truncated(&max)), msg!("\"", &max, "\""));
    }

    #[test]
    fn numbers_as_format_writes_them() {
        use alloc::format;
        for n in [0u64, 7, 10, 99, 100, 12345, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(msg!(n), format!("{n}"));
            assert_eq!(msg!("a", n, "b"), format!("a{n}b"));
        }
        for (n, w) in [(0u32, 1), (0, 4), (0x1f, 4), (0xabc, 1), (u32::MAX, 4)] {
            let mut s = alloc::string::String::new();
            super::push_hex(&mut s, n, w);
            assert_eq!(s, format!("{n:0w$x}"));
        }
    }

    #[test]
    fn prefix_stops_at_char_boundaries() {
        let euros = "€".repeat(100); // 3 bytes each
        assert_eq!(super::prefix(&euros, 256).len(), 255);
        assert_eq!(super::prefix("abc", 256), "abc");
        assert_eq!(super::prefix("", 0), "");
    }
}
