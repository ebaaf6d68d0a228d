//! The passphrase that encrypts a local store's signing keys: all that
//! protects every key in the store, so a weak one is refused at `init`
//! (`--allow-weak-passphrase` lets one through, for tests only).

use std::format;
use std::string::{String, ToString};

/// The shortest passphrase accepted, in characters.
pub const MIN_PASSPHRASE_CHARS: usize = 12;

/// Why `passphrase` is too weak to protect signing keys, or `None`: fewer
/// than [`MIN_PASSPHRASE_CHARS`] characters, or guessable by zxcvbn's
/// estimate (score below 3 of 4: found in its lists of common passwords,
/// words and names, or a keyboard pattern, sequence or repetition).
pub fn weakness(passphrase: &str) -> Option<String> {
    let chars = passphrase.chars().count();
    if chars < MIN_PASSPHRASE_CHARS {
        return Some(format!(
            "the passphrase has {chars} characters; at least {MIN_PASSPHRASE_CHARS} are required (it is all that protects every signing key in the store)"
        ));
    }
    let estimate = zxcvbn::zxcvbn(passphrase, &[]);
    if (estimate.score() as u8) < 3 {
        let why = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map_or_else(|| "it is easy to guess".to_string(), |w| w.to_string());
        return Some(format!(
            "the passphrase is too guessable ({}): it is found in common-password lists or follows a common pattern; use several random words",
            why.trim_end_matches('.')
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_strong() {
        assert!(weakness("abcde").unwrap().contains("5 characters"));
        assert!(weakness("password1234").unwrap().contains("common"));
        assert!(weakness("123456789012").is_some());
        assert!(weakness("qwertyuiop123").is_some());
        assert_eq!(weakness("correct horse battery staple"), None);
        assert_eq!(weakness("throwaway-demo-passphrase"), None);
    }
}
