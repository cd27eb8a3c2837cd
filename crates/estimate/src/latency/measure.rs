//! The harness: each probe's setup, an untimed warm-up batch, then batches until the
//! budget or the iteration cap.

use std::hint::black_box;
use std::io;
use std::path::Path;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::chase::Chase;
use super::file::ScratchFile;
use super::net::Loopback;
use super::rng::{SEED, SplitMix64};
use super::{
    CACHE_LINE_BYTES, COMPRESS_INPUT_BYTES, LatencyReport, Measurement, PROBE_TIME_BUDGET, Probe,
    RANDOM_READ_BYTES, SEND_BYTES, SEQUENTIAL_READ_BYTES, SEQUENTIAL_SPAN_BYTES,
};

/// Most steps of the untimed walk that brings a chased buffer into its cache level: one
/// full cycle of the 8 MiB buffer, twice; the main-memory buffer does not fit anywhere, so
/// warming it further would only spend time.
const CHASE_WARMUP_STEPS_MAX: u64 = 262_144;

/// Why a measurement failed: the machine's I/O (a socket, the scratch file), never the
/// caller's input.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// A probe's I/O failed.
    #[error("latency probe {probe} failed: {source}")]
    Io {
        /// The probe's id ([`Probe::id`]).
        probe: &'static str,
        /// What failed.
        source: io::Error,
    },
}

/// Runs every [`Probe`] once, in [`Probe::ALL`] order, with its scratch file in
/// `scratch_dir` (removed afterwards). Takes one to two seconds; blocking: call it
/// off any async runtime's workers.
///
/// # Errors
/// [`MeasureError::Io`] if a loopback socket or the scratch file fails.
pub fn measure(scratch_dir: &Path) -> Result<LatencyReport, MeasureError> {
    let started = Instant::now();
    let mut rng = SplitMix64::new(SEED);
    let mut measurements = Vec::with_capacity(Probe::ALL.len());
    for probe in Probe::ALL {
        let measurement = measure_probe(probe, scratch_dir, &mut rng)
            .map_err(|source| MeasureError::Io { probe: probe.id(), source })?;
        measurements.push(measurement);
    }
    Ok(LatencyReport { measurements, elapsed: started.elapsed() })
}

fn measure_probe(probe: Probe, dir: &Path, rng: &mut SplitMix64) -> io::Result<Measurement> {
    match probe {
        Probe::L1Chase | Probe::L2Chase | Probe::LastLevelChase | Probe::MemoryChase => {
            let mut chase = Chase::new(probe.working_set_bytes(), rng);
            debug_assert_eq!(chase.bytes(), probe.working_set_bytes());
            let lines = (chase.bytes() / CACHE_LINE_BYTES) as u64;
            chase.walk(lines.min(CHASE_WARMUP_STEPS_MAX));
            timed(probe, |steps| {
                chase.walk(steps);
                Ok(())
            })
        }
        Probe::MutexLockUnlock => {
            let mutex = Mutex::new(0u64);
            timed(probe, |times| {
                for _ in 0..times {
                    let mut guard =
                        black_box(&mutex).lock().unwrap_or_else(PoisonError::into_inner);
                    *guard = guard.wrapping_add(1);
                }
                Ok(())
            })
        }
        Probe::Lz4Compress => {
            let input = text_like(COMPRESS_INPUT_BYTES, rng);
            let mut output = vec![0; lz4_flex::block::get_maximum_output_size(input.len())];
            timed(probe, |times| {
                for _ in 0..times {
                    let written = lz4_flex::block::compress_into(black_box(&input), &mut output)
                        .map_err(io::Error::other)?;
                    black_box(written);
                }
                Ok(())
            })
        }
        Probe::MemoryRead1MiB => {
            let span = vec![1u8; SEQUENTIAL_SPAN_BYTES];
            let windows = SEQUENTIAL_SPAN_BYTES / SEQUENTIAL_READ_BYTES;
            let mut next = 0;
            timed(probe, |times| {
                for _ in 0..times {
                    let start = (next % windows) * SEQUENTIAL_READ_BYTES;
                    next += 1;
                    let window = &black_box(&span)[start..start + SEQUENTIAL_READ_BYTES];
                    black_box(sum_bytes(window));
                }
                Ok(())
            })
        }
        Probe::LoopbackSend2K => loopback(probe, SEND_BYTES, 1),
        Probe::LoopbackRoundTrip => loopback(probe, 1, 1),
        Probe::LoopbackRead1MiB => loopback(probe, 1, SEQUENTIAL_READ_BYTES),
        Probe::FileRandomRead4K => {
            let mut file = ScratchFile::create(dir)?;
            let mut page = [0; RANDOM_READ_BYTES];
            timed(probe, |times| file.read_random(&mut page, rng, times))
        }
        Probe::FileRead1MiB => {
            let mut file = ScratchFile::create(dir)?;
            let mut window = vec![0; SEQUENTIAL_READ_BYTES];
            timed(probe, |times| file.read_sequential(&mut window, times))
        }
    }
}

fn loopback(probe: Probe, request_bytes: usize, reply_bytes: usize) -> io::Result<Measurement> {
    let mut pair = Loopback::new(request_bytes, reply_bytes)?;
    let measurement = timed(probe, |times| pair.exchange(times))?;
    pair.finish()?;
    Ok(measurement)
}

/// One untimed batch (caches, TLBs, socket buffers warm), then timed batches of
/// [`Probe::batch`] until [`PROBE_TIME_BUDGET`] has passed or [`Probe::iterations_max`]
/// operations have run.
fn timed(probe: Probe, mut operate: impl FnMut(u64) -> io::Result<()>) -> io::Result<Measurement> {
    let (batch, iterations_max) = (probe.batch(), probe.iterations_max());
    operate(batch)?;
    let started = Instant::now();
    let mut iterations = 0;
    while iterations < iterations_max {
        let times = batch.min(iterations_max - iterations);
        operate(times)?;
        iterations += times;
        if started.elapsed() >= PROBE_TIME_BUDGET {
            break;
        }
    }
    let elapsed = started.elapsed();
    // A clock that did not move (it cannot, over a batch) still gives a positive number.
    let nanoseconds = elapsed.as_nanos().max(1) as f64 / iterations as f64;
    debug_assert!((1..=iterations_max).contains(&iterations));
    debug_assert!(nanoseconds.is_finite() && nanoseconds > 0.0);
    Ok(Measurement { probe, nanoseconds, iterations, elapsed })
}

/// Every byte of `window` read and added up, eight at a time (as little-endian words) so
/// that the additions keep up with memory and the probe measures reading, not adding.
fn sum_bytes(window: &[u8]) -> u64 {
    window
        .chunks_exact(8)
        .map(|word| u64::from_le_bytes(word.try_into().unwrap_or([0; 8])))
        .fold(0u64, u64::wrapping_add)
}

/// `bytes` of space-separated words from a small vocabulary: compressible as text is
/// (LZ4 gets it to about half), not as trivially as a run of one byte.
fn text_like(bytes: usize, rng: &mut SplitMix64) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "the",
        "system",
        "design",
        "interview",
        "cache",
        "server",
        "latency",
        "memory",
        "request",
        "database",
        "shard",
        "queue",
        "replica",
        "estimate",
        "traffic",
        "storage",
    ];
    let mut text = Vec::with_capacity(bytes + 16);
    while text.len() < bytes {
        text.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        text.push(b' ');
    }
    text.truncate(bytes);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_harness_returns_every_row_finite_positive_and_within_its_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let report = measure(dir.path()).unwrap();
        let probes: Vec<Probe> = report.measurements.iter().map(|m| m.probe).collect();
        assert_eq!(probes, Probe::ALL);
        for measurement in &report.measurements {
            let probe = measurement.probe;
            assert!(measurement.nanoseconds.is_finite(), "{measurement:?}");
            assert!(measurement.nanoseconds > 0.0, "{measurement:?}");
            assert!(
                (1..=probe.iterations_max()).contains(&measurement.iterations),
                "{measurement:?}"
            );
            if let Some(ratio) = measurement.ratio() {
                assert!(ratio.is_finite() && ratio > 0.0, "{measurement:?}");
            }
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 0, "scratch files are removed");
    }

    #[test]
    fn timed_stops_at_the_iteration_cap() {
        let mut calls = 0;
        let measurement = timed(Probe::FileRead1MiB, |times| {
            calls += times;
            Ok(())
        })
        .unwrap();
        assert_eq!(measurement.iterations, Probe::FileRead1MiB.iterations_max());
        assert_eq!(calls, measurement.iterations + Probe::FileRead1MiB.batch(), "plus warm-up");
    }

    #[test]
    fn sum_bytes_reads_every_byte() {
        assert_eq!(sum_bytes(&[1; 64]), 8 * 0x0101_0101_0101_0101);
    }

    #[test]
    fn text_like_input_is_the_size_asked_for_and_compresses() {
        let input = text_like(COMPRESS_INPUT_BYTES, &mut SplitMix64::new(SEED));
        assert_eq!(input.len(), COMPRESS_INPUT_BYTES);
        let compressed = lz4_flex::block::compress(&input);
        assert!(compressed.len() < input.len(), "{} bytes", compressed.len());
    }
}
