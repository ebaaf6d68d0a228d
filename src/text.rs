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
