//! Numbers for humans, the way the book writes them: rounded to a few significant digits,
//! with a decimal SI prefix and a unit (`3.5 K`, `30 TB`, `52.6 min`).
//!
//! Decimal prefixes (K = 10³), not binary ones (Ki = 2¹⁰): the book's estimates multiply
//! powers of ten (1.5 × 10⁸ users × 1 MB) and "1 KB ≈ 1 thousand bytes" is the rounding
//! its powers-of-two table teaches.

/// Significant digits of a count, a rate or a size: two, as the book rounds (3 472 → 3.5 K,
/// 54.75 PB → 55 PB). Estimates are not more precise than their assumptions.
pub const COUNT_DIGITS: u32 = 2;

/// Significant digits of a duration: three, so the availability table reads as the book's
/// (8.64 s, 52.6 min, 1.68 h).
pub const DURATION_DIGITS: u32 = 3;

/// Decimal SI prefixes, 10⁰ to 10³⁰; beyond Q a value is written in scientific notation.
const PREFIXES: [&str; 11] = ["", "K", "M", "G", "T", "P", "E", "Z", "Y", "R", "Q"];

/// `value` rounded to `digits` significant digits (`digits` ≥ 1). Zero, NaN and infinities
/// come back unchanged.
pub fn round_significant(value: f64, digits: u32) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let digits = i32::try_from(digits.max(1)).unwrap_or(i32::MAX);
    let magnitude = value.abs().log10().floor() as i32;
    let exponent = digits - 1 - magnitude;
    // Divide by a power of ten rather than multiply by its (inexact) reciprocal, so that
    // round numbers stay round: 10⁶ × 10⁻⁵ is 10.000000000000002, 10⁶ / 10⁵ is 10.
    let rounded = if exponent >= 0 {
        let scale = 10f64.powi(exponent);
        (value * scale).round() / scale
    } else {
        let scale = 10f64.powi(-exponent);
        (value / scale).round() * scale
    };
    if rounded.is_finite() { rounded } else { value }
}

/// `value` in plain decimal with at most `digits` significant digits and no trailing
/// zeros: `3.5`, `150`, `0.0035`.
pub fn significant(value: f64, digits: u32) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    let rounded = round_significant(value, digits);
    if rounded == 0.0 {
        return "0".to_owned();
    }
    let magnitude = rounded.abs().log10().floor() as i32;
    let digits = i32::try_from(digits.max(1)).unwrap_or(i32::MAX);
    let decimals = usize::try_from((digits - 1 - magnitude).max(0)).unwrap_or(0);
    trim_zeros(format!("{rounded:.decimals$}"))
}

fn trim_zeros(text: String) -> String {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Significant digits of an assumption when it is written out: enough to show what was
/// given (204 B stays 204 B) where a result would be rounded to [`COUNT_DIGITS`].
pub const ASSUMPTION_DIGITS: u32 = 4;

/// A count or rate with a decimal prefix, to [`COUNT_DIGITS`]: `150 M`, `3.5 K`, `200`.
pub fn count(value: f64) -> String {
    with_prefix(value, "", COUNT_DIGITS)
}

/// A size in bytes with a decimal prefix, to [`COUNT_DIGITS`]: `30 TB`, `55 PB`, `200 B`.
pub fn bytes(value: f64) -> String {
    with_prefix(value, "B", COUNT_DIGITS)
}

/// [`count`] to `digits` significant digits.
pub fn count_to(value: f64, digits: u32) -> String {
    with_prefix(value, "", digits)
}

/// [`bytes`] to `digits` significant digits.
pub fn bytes_to(value: f64, digits: u32) -> String {
    with_prefix(value, "B", digits)
}

fn with_prefix(value: f64, unit: &str, digits: u32) -> String {
    let rounded = round_significant(value, digits);
    let mut scaled = rounded;
    let mut prefix = 0;
    while scaled.abs() >= 1000.0 && prefix + 1 < PREFIXES.len() {
        scaled /= 1000.0;
        prefix += 1;
    }
    if scaled.abs() >= 1000.0 || !scaled.is_finite() {
        return format!("{rounded:.1e} {unit}").trim_end().to_owned();
    }
    let number = significant(scaled, digits);
    let suffix = format!("{}{unit}", PREFIXES[prefix]);
    if suffix.is_empty() { number } else { format!("{number} {suffix}") }
}

/// A duration given in seconds, in the largest unit under which it is at least 1: `86.4 ms`,
/// `8.64 s`, `52.6 min`, `1.68 h`, `3.65 days`.
pub fn seconds(value: f64) -> String {
    const UNITS: [(f64, &str); 5] =
        [(86_400.0, "days"), (3_600.0, "h"), (60.0, "min"), (1.0, "s"), (1e-3, "ms")];
    in_largest_unit(value, &UNITS).unwrap_or_else(|| nanoseconds(value * 1e9))
}

/// A duration given in nanoseconds: `0.5 ns`, `100 ns`, `10 µs`, `250 µs`, `30 ms`, `1.2 s`.
pub fn nanoseconds(value: f64) -> String {
    const UNITS: [(f64, &str); 3] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs")];
    in_largest_unit(value, &UNITS)
        .unwrap_or_else(|| format!("{} ns", significant(value, DURATION_DIGITS)))
}

/// `value` in the first (largest) of `units` in which it rounds to at least 1, if any.
/// Rounded in that unit, once: rounding first and dividing after would round twice.
fn in_largest_unit(value: f64, units: &[(f64, &str)]) -> Option<String> {
    units.iter().find_map(|&(size, unit)| {
        let scaled = value / size;
        (round_significant(scaled, DURATION_DIGITS).abs() >= 1.0)
            .then(|| format!("{} {unit}", significant(scaled, DURATION_DIGITS)))
    })
}

/// A ratio: `2.2×`, `0.041×`, `1 200×`-style values keep two significant digits.
pub fn ratio(value: f64) -> String {
    format!("{}×", significant(value, COUNT_DIGITS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_round_to_two_digits_with_a_prefix() {
        assert_eq!(count(150_000_000.0), "150 M");
        assert_eq!(count(3_472.222), "3.5 K");
        assert_eq!(count(6_944.44), "6.9 K");
        assert_eq!(count(204.0), "200");
        assert_eq!(count(0.0035), "0.0035");
        assert_eq!(count(0.0), "0");
    }

    #[test]
    fn rounding_up_to_a_thousand_moves_to_the_next_prefix() {
        assert_eq!(count(999_600.0), "1 M");
        assert_eq!(bytes(999.7), "1 KB");
    }

    #[test]
    fn bytes_use_decimal_prefixes_as_the_book_does() {
        assert_eq!(bytes(30e12), "30 TB");
        assert_eq!(bytes(54.75e15), "55 PB");
        assert_eq!(bytes(204.0), "200 B");
        assert_eq!(bytes(1e34), "1.0e34 B");
        assert_eq!(bytes(1e6), "1 MB", "a round number stays round");
        assert_eq!(bytes_to(204.0, ASSUMPTION_DIGITS), "204 B");
        assert_eq!(count_to(1_234_567.0, ASSUMPTION_DIGITS), "1.235 M");
    }

    #[test]
    fn durations_pick_the_largest_unit_that_is_at_least_one() {
        assert_eq!(seconds(8.64), "8.64 s");
        assert_eq!(seconds(3_155.76), "52.6 min");
        assert_eq!(seconds(6_048.0), "1.68 h");
        assert_eq!(seconds(315_576.0), "3.65 days");
        assert_eq!(seconds(0.0864), "86.4 ms");
        assert_eq!(seconds(0.000_031_5), "31.5 µs");
    }

    #[test]
    fn nanoseconds_read_like_the_latency_table() {
        assert_eq!(nanoseconds(0.5), "0.5 ns");
        assert_eq!(nanoseconds(100.0), "100 ns");
        assert_eq!(nanoseconds(10_000.0), "10 µs");
        assert_eq!(nanoseconds(150_000_000.0), "150 ms");
        assert_eq!(nanoseconds(1_234_567_890.0), "1.23 s");
    }

    #[test]
    fn ratios_keep_two_significant_digits() {
        assert_eq!(ratio(2.2222), "2.2×");
        assert_eq!(ratio(0.04123), "0.041×");
    }
}
