//! SplitMix64: a seeded generator for the chase permutation and the random file offsets.
//! Deterministic (the same run is the same walk) and a few instructions a number, so
//! building a 4-million-line permutation stays cheap even in a debug build.

/// Seed of every run: the walk does not need to differ between runs, only to be random.
pub(crate) const SEED: u64 = 0x5EED_2B1D_E57A_0002;

/// The SplitMix64 generator (Steele, Lea and Flood, 2014).
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (`bound` ≥ 1), by Lemire's multiply-shift (its bias, under
    /// 2⁻⁴⁰ for these bounds, does not matter to a cache walk).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_stay_below_the_bound_and_cover_it() {
        let mut rng = SplitMix64::new(SEED);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let value = rng.below(7);
            assert!(value < 7);
            seen[value as usize] = true;
        }
        assert!(seen.iter().all(|&hit| hit));
    }
}
