//! Helpers for quoting untrusted text in error messages without letting it grow
//! the message unboundedly.

use core::fmt;

/// Displays at most [`Truncated::MAX`] characters of a string, marking the cut.
pub(crate) struct Truncated<'a>(pub &'a str);

impl Truncated<'_> {
    pub(crate) const MAX: usize = 64;
}

impl fmt::Debug for Truncated<'_> {
    /// Quotes the text: `"` and `\` are backslash-escaped and control characters
    /// written as `\u{..}`, so hostile input cannot forge message structure.
    /// (Hand-written rather than `str`'s `Debug`, whose Unicode tables cost
    /// wasm size.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        f.write_char('"')?;
        for (n, c) in self.0.chars().enumerate() {
            if n == Self::MAX {
                return f.write_str("\"…");
            }
            match c {
                '"' | '\\' => {
                    f.write_char('\\')?;
                    f.write_char(c)?;
                }
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn truncated_quotes_and_escapes() {
        use alloc::format;
        assert_eq!(
            format!("{:?}", super::Truncated("a\"b\\c\n")),
            "\"a\\\"b\\\\c\\u{a}\""
        );
        let long = "x".repeat(100);
        assert_eq!(
            format!("{:?}", super::Truncated(&long)),
            format!("\"{}\"…", "x".repeat(64))
        );
    }

    #[test]
    fn prefix_stops_at_char_boundaries() {
        let euros = "€".repeat(100); // 3 bytes each
        assert_eq!(super::prefix(&euros, 256).len(), 255);
        assert_eq!(super::prefix("abc", 256), "abc");
        assert_eq!(super::prefix("", 0), "");
    }
}
