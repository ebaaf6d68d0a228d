//! Decimal text to `f64`, correctly rounded (round half to even), as
//! JavaScript's `JSON.parse` and Rust's `str::parse` read it.
//!
//! A claim such as `"exp": 1700000000.0000001` must mean the same number here
//! as in the application that reads the claims JSON we hand it, so "close"
//! is not enough. core's own parser is exact but links ~15 KB of tables into
//! the wasm module (see README, design notes), so this module takes the
//! classic small route instead: a fast exact path for short numbers, an
//! estimate within a few ulps for the rest, and then exact big-integer
//! comparisons against the halfway points between neighbouring doubles
//! (Clinger's "AlgorithmR" / bigcomp). Tests compare it with `str::parse`.
//!
//! Cost is bounded: at most [`MAX_DIGITS`] significant digits are kept (more
//! only matter through whether any of them is non-zero, since the halfway
//! point between two doubles has at most 767 significant digits), so the big
//! integers stay below ~6,000 bits whatever the input.

use core::cmp::Ordering;

/// Significant digits kept; the rest only count as "something non-zero".
const MAX_DIGITS: usize = 800;

/// Parses a JSON number (`-?int(.frac)?([eE][+-]?exp)?`, already checked by
/// the caller). `None` only for text outside that grammar. Overflow gives an
/// infinity and underflow a zero, as `str::parse` does.
pub(crate) fn parse(text: &[u8]) -> Option<f64> {
    let (negative, rest) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (int, rest) = split_digits(rest);
    let (frac, rest) = match rest.split_first() {
        Some((b'.', rest)) => match split_digits(rest) {
            ([], _) => return None,
            split => split,
        },
        _ => (&[][..], rest),
    };
    let mut exponent: i64 = 0;
    if let Some((b'e' | b'E', rest)) = rest.split_first() {
        let (negative_exp, rest) = match rest.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, rest),
        };
        let (digits, rest) = split_digits(rest);
        if digits.is_empty() || !rest.is_empty() {
            return None;
        }
        for &b in digits {
            // Saturates far beyond any exponent that can still matter.
            exponent = (exponent * 10 + i64::from(b - b'0')).min(1 << 32);
        }
        if negative_exp {
            exponent = -exponent;
        }
    } else if !rest.is_empty() {
        return None;
    }
    if int.is_empty() {
        return None;
    }
    let magnitude = magnitude(int, frac, exponent);
    Some(if negative { -magnitude } else { magnitude })
}

fn split_digits(text: &[u8]) -> (&[u8], &[u8]) {
    text.split_at(text.iter().take_while(|b| b.is_ascii_digit()).count())
}

/// The double nearest to `int.frac × 10^exponent`.
fn magnitude(int: &[u8], frac: &[u8], exponent: i64) -> f64 {
    let all = || int.iter().chain(frac).map(|b| b - b'0');
    let total = int.len() + frac.len();
    let leading_zeros = all().take_while(|&d| d == 0).count();
    if leading_zeros == total {
        return 0.0;
    }
    let trailing_zeros = all().rev().take_while(|&d| d == 0).count();
    let significant = total - leading_zeros - trailing_zeros;
    let kept = significant.min(MAX_DIGITS);
    // value = digits × 10^exp10, plus a little more when `sticky` (a
    // non-zero digit was dropped: the last significant one is never zero).
    let digits = || all().skip(leading_zeros).take(kept);
    let sticky = significant > kept;
    let exp10 = exponent - frac.len() as i64 + (trailing_zeros + significant - kept) as i64;
    // The value lies in [10^(point-1), 10^point).
    let point = kept as i64 + exp10;
    if point > 309 {
        return f64::INFINITY; // ≥ 1e309
    }
    if point < -323 {
        return 0.0; // < 1e-324, below half the smallest subnormal
    }
    let leading = kept.min(19);
    let w = digits()
        .take(leading)
        .fold(0u64, |w, d| w * 10 + u64::from(d));
    // Exact: w < 10^15 < 2^53 and 10^|exp10| ≤ 10^22 are both doubles, so
    // one IEEE operation rounds once, correctly.
    if kept <= 15 && !sticky && (-22..=22).contains(&exp10) {
        let p = pow10(exp10.unsigned_abs());
        return if exp10 < 0 {
            w as f64 / p
        } else {
            w as f64 * p
        };
    }
    // Within a few dozen ulps of the answer: a 19-digit prefix times a power
    // of ten built from a handful of exact factors.
    let e = exp10 + (kept - leading) as i64; // in [-342, 309]
    let mut estimate = w as f64;
    if e >= 0 {
        estimate *= pow10(e.unsigned_abs());
    } else if e < -300 {
        estimate = estimate / 1e300 / pow10((-e - 300).unsigned_abs());
    } else {
        estimate /= pow10(e.unsigned_abs());
    }
    if !estimate.is_finite() {
        estimate = f64::MAX;
    }
    match Exact::new(digits(), exp10, sticky) {
        Some(exact) => exact.round(estimate),
        // Unreachable (see `LIMBS`); the estimate is the best left.
        None => estimate,
    }
}

/// 10^k for k ≤ 400: exact up to 10^22, then a product of exact factors.
fn pow10(k: u64) -> f64 {
    const EXACT: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let mut k = k.min(400);
    let mut result = 1.0;
    while k > 22 {
        result *= 1e22;
        k -= 22;
    }
    result * EXACT.get(k as usize).copied().unwrap_or(1e22)
}

/// The exact decimal value as big integers, ready to be compared with the
/// halfway point above any double.
struct Exact {
    /// `digits × 5^exp10` when `exp10 ≥ 0`, else `digits`.
    value: Big,
    /// 1 when `exp10 ≥ 0`, else `5^-exp10` (multiplies the halfway point).
    halfway_factor: Big,
    /// Power of two of `value`: `exp10`.
    exp2: i64,
    sticky: bool,
}

impl Exact {
    fn new(digits: impl Iterator<Item = u8>, exp10: i64, sticky: bool) -> Option<Exact> {
        let mut value = Big::ZERO;
        for d in digits {
            value.mul_small(10)?;
            value.add_small(u64::from(d))?;
        }
        let mut halfway_factor = Big::ZERO;
        halfway_factor.add_small(1)?;
        if exp10 >= 0 {
            value.mul_pow5(exp10.unsigned_abs())?;
        } else {
            halfway_factor.mul_pow5(exp10.unsigned_abs())?;
        }
        Some(Exact {
            value,
            halfway_factor,
            exp2: exp10,
            sticky,
        })
    }

    /// The value against the point halfway between `b` (finite, ≥ 0) and
    /// the next double up (for `f64::MAX`, the overflow threshold).
    fn cmp_halfway_above(&self, b: f64) -> Option<Ordering> {
        let bits = b.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (mantissa, exp2) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | 1 << 52, biased - 1075)
        };
        // halfway = (2·mantissa + 1) × 2^(exp2 - 1)
        let mut halfway = self.halfway_factor.clone();
        halfway.mul_small(2 * mantissa + 1)?;
        let halfway_exp2 = exp2 - 1;
        let common = self.exp2.min(halfway_exp2);
        let mut value = self.value.clone();
        value.shl((self.exp2 - common).unsigned_abs())?;
        halfway.shl((halfway_exp2 - common).unsigned_abs())?;
        Some(match value.cmp(&halfway) {
            Ordering::Equal if self.sticky => Ordering::Greater,
            other => other,
        })
    }

    /// The correctly rounded double, found by stepping from `estimate`
    /// (finite, ≥ 0, a few dozen ulps off at most) one double at a time.
    fn round(&self, estimate: f64) -> f64 {
        let mut b = estimate;
        loop {
            let Some(above) = self.cmp_halfway_above(b) else {
                return estimate;
            };
            match above {
                Ordering::Greater => {
                    b = f64::from_bits(b.to_bits() + 1);
                    if b.is_infinite() {
                        return b;
                    }
                    continue;
                }
                // A tie goes to the even mantissa.
                Ordering::Equal => return f64::from_bits(b.to_bits() + (b.to_bits() & 1)),
                Ordering::Less => {}
            }
            if b == 0.0 {
                return b;
            }
            let below = f64::from_bits(b.to_bits() - 1);
            match self.cmp_halfway_above(below) {
                Some(Ordering::Less) => b = below,
                Some(Ordering::Equal) if below.to_bits() & 1 == 0 => return below,
                Some(_) => return b,
                None => return estimate,
            }
        }
    }
}

/// Limbs of a [`Big`]: 6,144 bits. The largest number compared is below
/// 2^4,000: 800 digits (2^2,658) shifted by at most 1,075 bits, or 5^1,123
/// (2^2,608) times a 54-bit mantissa shifted to meet the other side, which
/// is within a few ulps of it. A test runs the extremes.
const LIMBS: usize = 96;

/// An unsigned big integer of fixed capacity (no allocation): little-endian
/// 64-bit limbs, `len` of them in use, the top one non-zero.
#[derive(Clone)]
struct Big {
    limbs: [u64; LIMBS],
    len: usize,
}

impl Big {
    const ZERO: Big = Big {
        limbs: [0; LIMBS],
        len: 0,
    };

    fn used(&self) -> &[u64] {
        self.limbs.get(..self.len).unwrap_or_default()
    }

    /// Appends a top limb (kept only if non-zero); `None` when full.
    fn push(&mut self, limb: u64) -> Option<()> {
        if limb != 0 {
            *self.limbs.get_mut(self.len)? = limb;
            self.len += 1;
        }
        Some(())
    }

    fn mul_small(&mut self, m: u64) -> Option<()> {
        let mut carry: u128 = 0;
        for limb in self.limbs.iter_mut().take(self.len) {
            let t = u128::from(*limb) * u128::from(m) + carry;
            *limb = t as u64;
            carry = t >> 64;
        }
        self.push(carry as u64)
    }

    fn add_small(&mut self, a: u64) -> Option<()> {
        let mut carry = a;
        for limb in self.limbs.iter_mut().take(self.len) {
            let (sum, overflow) = limb.overflowing_add(carry);
            *limb = sum;
            carry = u64::from(overflow);
        }
        self.push(carry)
    }

    /// Multiplies by 5^n, in steps of 5^27 (the largest power of five
    /// below 2^64).
    fn mul_pow5(&mut self, mut n: u64) -> Option<()> {
        while n > 0 {
            let step = n.min(27);
            self.mul_small(5u64.pow(step as u32))?;
            n -= step;
        }
        Some(())
    }

    fn shl(&mut self, bits: u64) -> Option<()> {
        if self.len == 0 {
            return Some(());
        }
        let mut out = Big::ZERO;
        out.len = usize::try_from(bits / 64).ok()?.min(LIMBS);
        let shift = bits % 64;
        let mut carry = 0u64;
        for &limb in self.used() {
            let t = (u128::from(limb) << shift) | u128::from(carry);
            *out.limbs.get_mut(out.len)? = t as u64;
            out.len += 1;
            carry = (t >> 64) as u64;
        }
        out.push(carry)?;
        *self = out;
        Some(())
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.len
            .cmp(&other.len)
            .then_with(|| self.used().iter().rev().cmp(other.used().iter().rev()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    fn check(text: &str) {
        let want: f64 = text.parse().unwrap();
        let got = parse(text.as_bytes()).unwrap();
        assert_eq!(got.to_bits(), want.to_bits(), "{text}: {got:e} vs {want:e}");
    }

    /// The exact decimal value of a double (every double has one, with at
    /// most 767 significant digits).
    fn exact(f: f64) -> String {
        format!("{f:.1100e}")
    }

    /// The exact decimal midpoint of two exact decimals `d.ddd…e±x`.
    fn midpoint(a: &str, b: &str) -> String {
        // Both as digit strings scaled to the same power of ten.
        fn parts(s: &str) -> (Vec<u8>, i64) {
            let (mantissa, exp) = s.split_once('e').unwrap();
            let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
            let exp: i64 = exp.parse().unwrap();
            (
                digits.iter().map(|d| d - b'0').collect(),
                exp - (digits.len() as i64 - 1),
            )
        }
        let (mut x, ex) = parts(a);
        let (mut y, ey) = parts(b);
        let e = ex.min(ey);
        x.extend(core::iter::repeat_n(0, (ex - e) as usize));
        y.extend(core::iter::repeat_n(0, (ey - e) as usize));
        let n = x.len().max(y.len()) + 1;
        let pad = |v: &mut Vec<u8>| {
            let mut p = vec![0; n - v.len()];
            p.append(v);
            *v = p;
        };
        pad(&mut x);
        pad(&mut y);
        // sum, then halve (appending a digit so the halving is exact)
        let mut sum = vec![0u8; n];
        let mut carry = 0;
        for i in (0..n).rev() {
            let s = x[i] + y[i] + carry;
            sum[i] = s % 10;
            carry = s / 10;
        }
        sum.push(0);
        let mut half = Vec::with_capacity(sum.len());
        let mut rem = 0;
        for d in sum {
            let cur = rem * 10 + d;
            half.push(b'0' + cur / 2);
            rem = cur % 2;
        }
        let mut e = e - 1;
        while half.len() > 1 && half.last() == Some(&b'0') {
            half.pop();
            e += 1;
        }
        format!("{}e{e}", String::from_utf8(half).unwrap())
    }

    #[test]
    fn hand_picked() {
        for text in [
            "0",
            "0.0",
            "-0.0",
            "1",
            "0.1",
            "1.5",
            "2000e-3",
            "1700000000.5",
            "1700000000.0000001",
            "3.141592653589793",
            "9007199254740993",  // 2^53 + 1: a tie, to even (2^53)
            "9007199254740995",  // 2^53 + 3: a tie, to even (2^53 + 4)
            "9007199254740993.0000000000000000000000000001",
            "1.7976931348623157e308",
            "1.7976931348623158e308", // rounds down to MAX
            "1.7976931348623159e308", // overflows
            "2.2250738585072014e-308",
            "2.2250738585072011e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324", // just below half the smallest subnormal
            "2.4703282292062328e-324", // just above: the smallest subnormal
            "1e-400",
            "1e400",
            "123456789012345678901234567890",
            "167777777777777777777777777777777777777777777777777777777777777777777777777777777777799999940",
            "0.000000000000000000000000000000000000000000001",
            "1e-99999999999999999999",
            "1e99999999999999999999",
            "0e99999999999999999999",
            "1.00000000000000011102230246251565404236316680908203125", // 1 + ulp/2: tie to 1
            "1.00000000000000011102230246251565404236316680908203126",
            "1.00000000000000011102230246251565404236316680908203124",
        ] {
            check(text);
        }
    }

    #[test]
    fn not_json_numbers() {
        for text in ["", "-", ".5", "1.", "1e", "1e+", "1x", "1.5.5", "+1"] {
            assert!(parse(text.as_bytes()).is_none(), "{text}");
        }
    }

    #[test]
    fn halfway_points_and_their_neighbours() {
        // Deterministic spread over every binade, subnormals included.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..3000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bits = match i % 3 {
                0 => state % 0x7fef_ffff_ffff_ffff,
                1 => state % (1 << 52), // subnormal
                _ => ((state % 2046 + 1) << 52) | ((state >> 20) % 4), // near binade starts
            };
            let b = f64::from_bits(bits);
            let next = f64::from_bits(bits + 1);
            let mid = midpoint(&exact(b), &exact(next));
            check(&mid);
            // Nudged just above and just below the tie (m - 1 + 0.999999).
            let (m, e) = mid.split_once('e').unwrap();
            check(&format!("{m}.000001e{e}"));
            // Above the tie only past the digits kept: decided by `sticky`.
            check(&format!("{m}.{}1e{e}", "0".repeat(MAX_DIGITS)));
            let mut below = m.as_bytes().to_vec();
            let mut i = below.len() - 1;
            while below[i] == b'0' {
                below[i] = b'9';
                i -= 1;
            }
            below[i] -= 1;
            check(&format!("{}.999999e{e}", String::from_utf8(below).unwrap()));
            check(&exact(b));
            check(&format!("{:e}", b));
        }
    }

    /// The largest numbers `Exact` builds fit in `LIMBS`: 800 digits at both
    /// ends of the range, against the halfway points of the doubles nearby.
    #[test]
    fn big_integers_never_run_out_of_limbs() {
        let nines: Vec<u8> = vec![9; MAX_DIGITS];
        for point in [-323i64, -308, -1, 0, 22, 300, 309] {
            let exp10 = point - MAX_DIGITS as i64;
            let exact = Exact::new(nines.iter().copied(), exp10, true).unwrap();
            let text = format!("{}e{exp10}", "9".repeat(MAX_DIGITS));
            let near: f64 = text.parse().unwrap();
            let near = if near.is_finite() { near } else { f64::MAX };
            for b in [near, f64::from_bits(near.to_bits().saturating_sub(40)), 0.0] {
                for step in 0..80 {
                    let b = f64::from_bits(b.to_bits() + step);
                    if b.is_finite() {
                        assert!(exact.cmp_halfway_above(b).is_some(), "{text} near {b:e}");
                    }
                }
            }
            check(&text);
        }
    }

    #[test]
    fn long_inputs_stay_cheap() {
        let many = format!("0.{}1e1", "0".repeat(50_000));
        check(&many);
        let long = format!("{}.{}", "7".repeat(5_000), "3".repeat(5_000));
        check(&long);
        check(&format!("1{}e-1000", "0".repeat(1_000)));
    }
}
