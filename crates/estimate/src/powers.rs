//! The powers-of-two table (book table 2-1): 2¹⁰ … 2⁵⁰, each beside the power of ten it
//! rounds to and the unit named after it.
//!
//! The table is why an estimate may say "1 KB = 1 000 bytes": 2¹⁰ = 1 024 is within 2.4 %
//! of 10³, and even 2⁵⁰ is within 12.6 % of 10¹⁵, less than the error in any assumption.

/// One row: 2^`exponent` = `exact` ≈ `approximate` (`approximate_name`), one `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerOfTwo {
    /// The power: 10, 20, 30, 40 or 50.
    pub exponent: u32,
    /// 2^exponent exactly.
    pub exact: u64,
    /// The power of ten it rounds to (10^(3·exponent/10)).
    pub approximate: u64,
    /// That power of ten in words, as the book writes it.
    pub approximate_name: &'static str,
    /// The unit of that many bytes (decimal symbol).
    pub unit: &'static str,
    /// The unit's full name.
    pub unit_name: &'static str,
}

impl PowerOfTwo {
    /// How far the rounding is off: `exact / approximate − 1` (0.024 for 2¹⁰).
    pub fn rounding_error(&self) -> f64 {
        self.exact as f64 / self.approximate as f64 - 1.0
    }
}

const fn row(
    exponent: u32,
    approximate_name: &'static str,
    unit: &'static str,
    unit_name: &'static str,
) -> PowerOfTwo {
    PowerOfTwo {
        exponent,
        exact: 1 << exponent,
        approximate: 10u64.pow(exponent / 10 * 3),
        approximate_name,
        unit,
        unit_name,
    }
}

/// The book's table, smallest first.
pub const POWERS: [PowerOfTwo; 5] = [
    row(10, "1 thousand", "KB", "kilobyte"),
    row(20, "1 million", "MB", "megabyte"),
    row(30, "1 billion", "GB", "gigabyte"),
    row(40, "1 trillion", "TB", "terabyte"),
    row(50, "1 quadrillion", "PB", "petabyte"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_books_five_rows_exactly() {
        let exact: Vec<u64> = POWERS.iter().map(|row| row.exact).collect();
        assert_eq!(
            exact,
            [1_024, 1_048_576, 1_073_741_824, 1_099_511_627_776, 1_125_899_906_842_624]
        );
        let approximate: Vec<u64> = POWERS.iter().map(|row| row.approximate).collect();
        assert_eq!(
            approximate,
            [1_000, 1_000_000, 1_000_000_000, 1_000_000_000_000, 1_000_000_000_000_000]
        );
        let units: Vec<&str> = POWERS.iter().map(|row| row.unit).collect();
        assert_eq!(units, ["KB", "MB", "GB", "TB", "PB"]);
    }

    #[test]
    fn rounding_to_powers_of_ten_is_off_by_less_than_thirteen_percent() {
        assert!((POWERS[0].rounding_error() - 0.024).abs() < 1e-12);
        for row in POWERS {
            assert!(row.rounding_error() > 0.0 && row.rounding_error() < 0.13, "{row:?}");
        }
    }
}
