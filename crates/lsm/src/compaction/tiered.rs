//! Picks what to compact: size-tiered with a space-amplification bound (RocksDB calls
//! this "universal" compaction). Every table is one sorted run, newest first.
//!
//! 1. Space: when the runs newer than the oldest hold more than
//!    `space_amp_max_percent` of the oldest run's bytes, merge everything. This bounds
//!    space amplification near `1 + space_amp_max_percent / 100`.
//! 2. Size ratio: otherwise merge the first window of at least `min_merge_width`
//!    adjacent runs in which each next run is at most `size_ratio_percent` larger than
//!    the window so far: similar-sized runs merge, so each byte is rewritten about
//!    `log_width(total / memtable)` times.

use std::ops::Range;

use crate::options::CompactionOptions;

/// The window of runs (indexes into the newest-first list) to merge, if any.
pub(crate) fn pick(run_bytes: &[u64], options: &CompactionOptions) -> Option<Range<usize>> {
    let count = run_bytes.len();
    if count < 2 {
        return None;
    }
    let oldest = run_bytes[count - 1];
    let newer: u64 = run_bytes[..count - 1].iter().sum();
    if newer.saturating_mul(100) > oldest.saturating_mul(options.space_amp_max_percent) {
        return Some(0..count);
    }
    for start in 0..count {
        let mut window_bytes = run_bytes[start];
        let mut end = start + 1;
        while end < count
            && run_bytes[end].saturating_mul(100)
                <= window_bytes.saturating_mul(100 + options.size_ratio_percent)
        {
            window_bytes += run_bytes[end];
            end += 1;
        }
        if end - start >= options.min_merge_width {
            return Some(start..end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> CompactionOptions {
        CompactionOptions {
            space_amp_max_percent: 25,
            size_ratio_percent: 100,
            min_merge_width: 4,
            runs_slowdown: 24,
        }
    }

    #[test]
    fn a_single_run_is_left_alone() {
        assert_eq!(pick(&[100], &options()), None);
    }

    #[test]
    fn too_much_data_above_the_oldest_run_triggers_a_full_merge() {
        assert_eq!(pick(&[10, 10, 10, 100], &options()), Some(0..4));
    }

    #[test]
    fn small_runs_within_the_space_bound_wait_for_a_wide_enough_window() {
        assert_eq!(pick(&[10, 10, 1000], &options()), None);
    }

    #[test]
    fn similar_sized_young_runs_merge_without_touching_the_oldest() {
        assert_eq!(pick(&[10, 10, 10, 10, 10, 100_000], &options()), Some(0..5));
    }

    #[test]
    fn a_much_larger_run_stops_the_window() {
        assert_eq!(pick(&[10, 10, 10, 10, 500, 100_000], &options()), Some(0..4));
    }
}
