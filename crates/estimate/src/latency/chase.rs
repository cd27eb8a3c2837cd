//! Dependent pointer chasing through a random cyclic permutation: the load-to-use latency
//! of whatever level of the memory hierarchy the buffer fits in.
//!
//! The buffer holds one pointer (an index) per cache line; line `i` points at line
//! `next[i]`, where `next` is a single cycle through every line (Sattolo's shuffle), so a
//! walk visits every line before repeating and each step's address depends on the previous
//! step's load.

use std::hint::black_box;

use super::CACHE_LINE_BYTES;
use super::rng::SplitMix64;

/// Slots (usizes) per cache line; only the first of each line is used.
const SLOTS_PER_LINE: usize = CACHE_LINE_BYTES / std::mem::size_of::<usize>();

/// A buffer to chase through and where the walk is.
pub(crate) struct Chase {
    slots: Vec<usize>,
    position: usize,
}

impl Chase {
    /// A buffer of `bytes` (rounded down to whole lines, at least two) linked into one
    /// random cycle. Allocates `bytes` plus 4 bytes a line for the permutation, briefly.
    pub(crate) fn new(bytes: usize, rng: &mut SplitMix64) -> Self {
        let lines = (bytes / CACHE_LINE_BYTES).clamp(2, u32::MAX as usize);
        // Sattolo's algorithm: swapping each position with a strictly earlier one yields a
        // permutation that is one cycle through all `lines` (Fisher–Yates would give many).
        let mut next: Vec<u32> = (0..lines as u32).collect();
        for i in (1..lines).rev() {
            let j = rng.below(i as u64) as usize;
            next.swap(i, j);
        }
        // Written in line order, so building the buffer is sequential; only the walk is
        // random.
        let mut slots = vec![0usize; lines * SLOTS_PER_LINE];
        for (line, &to) in next.iter().enumerate() {
            slots[line * SLOTS_PER_LINE] = to as usize * SLOTS_PER_LINE;
        }
        Self { slots, position: 0 }
    }

    /// Bytes of the chased buffer.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<usize>()
    }

    /// Takes `steps` dependent steps from where the last walk stopped.
    pub(crate) fn walk(&mut self, steps: u64) {
        let mut at = self.position;
        for _ in 0..steps {
            at = self.slots[at];
        }
        self.position = black_box(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::rng::SEED;

    #[test]
    fn the_walk_is_one_cycle_through_every_line() {
        let mut chase = Chase::new(64 * CACHE_LINE_BYTES, &mut SplitMix64::new(SEED));
        assert_eq!(chase.bytes(), 64 * CACHE_LINE_BYTES);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..64 {
            assert!(seen.insert(chase.position), "line revisited before the cycle closed");
            chase.walk(1);
        }
        assert_eq!(chase.position, 0, "back at the start after exactly 64 steps");
        assert!(seen.iter().all(|slot| slot % SLOTS_PER_LINE == 0));
    }

    #[test]
    fn the_buffer_is_the_size_asked_for() {
        let chase = Chase::new(crate::latency::L1_CHASE_BYTES, &mut SplitMix64::new(SEED));
        assert_eq!(chase.bytes(), crate::latency::L1_CHASE_BYTES);
    }
}
