//! Durations written as `<number><unit>`: `s`, `m`, `h`, `d`, `w` (e.g. `15m`,
//! `1h`, `30d`); a bare number is seconds.

use std::format;
use std::string::String;

use super::{Error, Result};

/// Parses a duration into seconds.
///
/// # Errors
/// Not a number with a known unit, or out of range.
pub fn parse(text: &str) -> Result<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let bad = || {
        Error::usage(format!(
            "invalid duration {t:?}: use e.g. 90s, 15m, 1h, 30d, 2w"
        ))
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .filter(|&s| s <= 100 * 365 * 86_400)
        .ok_or_else(bad)
}

/// Formats seconds in the largest exact unit (`3600` → `1h`).
pub fn format(secs: u64) -> String {
    for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if secs != 0 && secs % size == 0 {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse("15m").unwrap(), 900);
        assert_eq!(parse("1h").unwrap(), 3600);
        assert_eq!(parse("30d").unwrap(), 2_592_000);
        assert_eq!(parse("45").unwrap(), 45);
        assert_eq!(parse("2w").unwrap(), 1_209_600);
        for bad in ["", "m", "1x", "-1h", "1.5h", "99999999999999999999d"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(format(3600), "1h");
        assert_eq!(format(90), "90s");
        assert_eq!(format(0), "0s");
    }
}
