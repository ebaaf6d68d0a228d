//! Helpers for quoting untrusted text in error messages without letting it grow
//! the message unboundedly.

use core::fmt;

/// Displays at most [`Truncated::MAX`] characters of a string, marking the cut.
pub(crate) struct Truncated<'a>(pub &'a str);

impl Truncated<'_> {
    pub(crate) const MAX: usize = 64;
}

impl fmt::Debug for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(Self::MAX) {
            Some((cut, _)) => {
                let head = self.0.get(..cut).unwrap_or_default();
                write!(f, "{head:?}…")
            }
            None => write!(f, "{:?}", self.0),
        }
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
    fn prefix_stops_at_char_boundaries() {
        let euros = "€".repeat(100); // 3 bytes each
        assert_eq!(super::prefix(&euros, 256).len(), 255);
        assert_eq!(super::prefix("abc", 256), "abc");
        assert_eq!(super::prefix("", 0), "");
    }
}
