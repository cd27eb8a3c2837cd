//! The bit layout of a 64-bit time-based ID: `sign | timestamp | datacenter | worker |
//! sequence`, most significant first, with a custom epoch and a tick length.
//!
//! A [`LayoutSpec`] is what a config file holds; [`LayoutSpec::validate`] turns it into a
//! [`Layout`] or refuses it: the bits must sum to 64, the epoch must not be in the future
//! and the layout must not have run out of timestamps already (Baidu's uid-generator
//! default of 28-bit seconds from 2016-05-20 ran out in November 2024).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Twitter's Snowflake epoch, 2010-11-04T01:42:54.657Z, the book's default.
pub const TWITTER_EPOCH_MS: u64 = 1_288_834_974_657;
/// 2025-01-01T00:00:00Z, the epoch of our uid-generator-style default layout.
pub const EPOCH_2025_MS: u64 = 1_735_689_600_000;
/// 2016-05-20T00:00:00Z, Baidu uid-generator's default epoch.
pub const BAIDU_EPOCH_MS: u64 = 1_463_702_400_000;
/// The sign bit is always zero so that IDs stay positive as `i64` (Java, PostgreSQL `BIGINT`).
pub const SIGN_BITS: u32 = 1;
/// Milliseconds in a (Julian) year, for stating horizons.
const MS_PER_YEAR: f64 = 365.25 * 24.0 * 3600.0 * 1000.0;

/// Why a layout was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// `1 + timestamp + datacenter + worker + sequence` must be exactly 64.
    #[error("layout bits sum to {sum} (1 sign + fields), not 64")]
    BitsDoNotSumTo64 {
        /// The actual sum including the sign bit.
        sum: u32,
    },
    /// The timestamp and sequence need at least one bit each, the tick at least 1 ms.
    #[error("layout field {field} must be at least 1")]
    ZeroField {
        /// `timestamp_bits`, `sequence_bits` or `tick_ms`.
        field: &'static str,
    },
    /// IDs stamped before the epoch cannot be represented.
    #[error("layout epoch {epoch_ms} ms is in the future (now {now_ms} ms)")]
    EpochInFuture {
        /// The configured epoch.
        epoch_ms: u64,
        /// The clock at validation.
        now_ms: u64,
    },
    /// The timestamp field has already overflowed.
    #[error(
        "layout expired at {horizon} (now {now_ms} ms): widen timestamp_bits or move the epoch"
    )]
    Expired {
        /// The horizon as RFC 3339.
        horizon: String,
        /// The clock at validation.
        now_ms: u64,
    },
}

/// Why an ID could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The sign bit is reserved and always zero in IDs we issue.
    #[error("id {id} has the sign bit set; not an ID of this layout")]
    SignBitSet {
        /// The offending value.
        id: u64,
    },
}

/// A layout as configured: field widths in bits, the epoch and the tick length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayoutSpec {
    /// Width of the timestamp (ticks since `epoch_ms`).
    pub timestamp_bits: u32,
    /// Width of the datacenter ID (may be 0).
    pub datacenter_bits: u32,
    /// Width of the worker ID (may be 0).
    pub worker_bits: u32,
    /// Width of the per-tick sequence.
    pub sequence_bits: u32,
    /// Custom epoch, ms since the Unix epoch: a later epoch buys years of horizon.
    pub epoch_ms: u64,
    /// Length of one timestamp tick in ms: 1 for Snowflake, 1000 for uid-generator.
    pub tick_ms: u64,
}

impl LayoutSpec {
    /// The book's Snowflake: 1 + 41 ms + 5 datacenter + 5 worker + 12 sequence, Twitter
    /// epoch. Horizon 2080-07-10 (2^41 ms ≈ 69.7 years after 2010-11-04).
    pub const fn snowflake() -> Self {
        Self {
            timestamp_bits: 41,
            datacenter_bits: 5,
            worker_bits: 5,
            sequence_bits: 12,
            epoch_ms: TWITTER_EPOCH_MS,
            tick_ms: 1,
        }
    }

    /// Our uid-generator default: 1 + 31 s + 19 worker + 13 sequence from 2025-01-01.
    /// Horizon 2093-01-19 (2^31 s ≈ 68 years); 524,288 worker IDs; 8,192 IDs per second
    /// per worker (the ring borrows future seconds beyond that).
    pub const fn uid_generator() -> Self {
        Self {
            timestamp_bits: 31,
            datacenter_bits: 0,
            worker_bits: 19,
            sequence_bits: 13,
            epoch_ms: EPOCH_2025_MS,
            tick_ms: 1000,
        }
    }

    /// Baidu uid-generator's shipped default, 1 + 28 s + 22 worker + 13 sequence from
    /// 2016-05-20: horizon 2024-11-05, so [`validate`](Self::validate) refuses it today.
    pub const fn baidu_default() -> Self {
        Self {
            timestamp_bits: 28,
            datacenter_bits: 0,
            worker_bits: 22,
            sequence_bits: 13,
            epoch_ms: BAIDU_EPOCH_MS,
            tick_ms: 1000,
        }
    }

    /// Check the spec against the clock reading `now_ms` and derive the shifts.
    pub fn validate(&self, now_ms: u64) -> Result<Layout, LayoutError> {
        let sum = SIGN_BITS
            .saturating_add(self.timestamp_bits)
            .saturating_add(self.datacenter_bits)
            .saturating_add(self.worker_bits)
            .saturating_add(self.sequence_bits);
        if sum != 64 {
            return Err(LayoutError::BitsDoNotSumTo64 { sum });
        }
        for (field, value) in [
            ("timestamp_bits", u64::from(self.timestamp_bits)),
            ("sequence_bits", u64::from(self.sequence_bits)),
            ("tick_ms", self.tick_ms),
        ] {
            if value == 0 {
                return Err(LayoutError::ZeroField { field });
            }
        }
        if self.epoch_ms > now_ms {
            return Err(LayoutError::EpochInFuture { epoch_ms: self.epoch_ms, now_ms });
        }
        let horizon_ms = (1u64 << self.timestamp_bits)
            .saturating_mul(self.tick_ms)
            .saturating_add(self.epoch_ms);
        let layout = Layout {
            spec: *self,
            worker_shift: self.sequence_bits,
            datacenter_shift: self.sequence_bits + self.worker_bits,
            timestamp_shift: self.sequence_bits + self.worker_bits + self.datacenter_bits,
            horizon_ms,
        };
        if now_ms >= horizon_ms {
            return Err(LayoutError::Expired { horizon: layout.horizon_rfc3339(), now_ms });
        }
        Ok(layout)
    }
}

/// A validated layout: bits sum to 64, epoch in the past, horizon in the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    spec: LayoutSpec,
    worker_shift: u32,
    datacenter_shift: u32,
    timestamp_shift: u32,
    horizon_ms: u64,
}

/// An ID taken apart into its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoded {
    /// The ID itself.
    pub id: u64,
    /// Start of the ID's tick, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// The same instant as RFC 3339 UTC.
    pub timestamp: String,
    /// The raw timestamp field (ticks since the layout's epoch).
    pub ticks: u64,
    /// Datacenter field.
    pub datacenter: u64,
    /// Worker field.
    pub worker: u64,
    /// Sequence field.
    pub sequence: u64,
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

/// Format ms since the Unix epoch as RFC 3339 UTC (falls back to the number if the value
/// is beyond what `time` can represent).
pub fn rfc3339_ms(unix_ms: u64) -> String {
    i128::from(unix_ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .and_then(|instant| instant.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{unix_ms} ms"))
}

impl Layout {
    /// The spec this layout was validated from.
    pub fn spec(&self) -> LayoutSpec {
        self.spec
    }
    /// Largest sequence value.
    pub fn max_sequence(&self) -> u64 {
        mask(self.spec.sequence_bits)
    }
    /// Largest worker ID.
    pub fn max_worker(&self) -> u64 {
        mask(self.spec.worker_bits)
    }
    /// Largest datacenter ID.
    pub fn max_datacenter(&self) -> u64 {
        mask(self.spec.datacenter_bits)
    }
    /// Bit position of the timestamp field (everything below it is node + sequence).
    pub fn timestamp_shift(&self) -> u32 {
        self.timestamp_shift
    }
    /// Largest timestamp field value (ticks since the epoch).
    pub fn max_ticks(&self) -> u64 {
        mask(self.spec.timestamp_bits)
    }
    /// First instant (ms since the Unix epoch) this layout cannot represent.
    pub fn horizon_ms(&self) -> u64 {
        self.horizon_ms
    }
    /// The horizon as RFC 3339 UTC.
    pub fn horizon_rfc3339(&self) -> String {
        rfc3339_ms(self.horizon_ms)
    }
    /// Years left until the horizon, as seen from `now_ms`.
    pub fn years_left(&self, now_ms: u64) -> f64 {
        self.horizon_ms.saturating_sub(now_ms) as f64 / MS_PER_YEAR
    }
    /// The tick containing `now_ms`, or `None` before the epoch or at/after the horizon.
    #[inline]
    pub fn tick_of(&self, now_ms: u64) -> Option<u64> {
        let since_epoch_ms = now_ms.checked_sub(self.spec.epoch_ms)?;
        // A 64-bit division costs more than the rest of `next_id`; skip it for ms ticks.
        let ticks = if self.spec.tick_ms == 1 {
            since_epoch_ms
        } else {
            since_epoch_ms / self.spec.tick_ms
        };
        (ticks <= self.max_ticks()).then_some(ticks)
    }
    /// Start of tick `ticks`, ms since the Unix epoch.
    #[inline]
    pub fn ms_of_tick(&self, ticks: u64) -> u64 {
        ticks.saturating_mul(self.spec.tick_ms).saturating_add(self.spec.epoch_ms)
    }
    /// Pack the fields into an ID. Each field is masked to its width; callers validate
    /// node IDs once at construction (see [`crate::NodeId::validate`]).
    #[inline]
    pub fn compose(&self, ticks: u64, datacenter: u64, worker: u64, sequence: u64) -> u64 {
        ((ticks & self.max_ticks()) << self.timestamp_shift)
            | ((datacenter & self.max_datacenter()) << self.datacenter_shift)
            | ((worker & self.max_worker()) << self.worker_shift)
            | (sequence & self.max_sequence())
    }
    /// Take an ID apart.
    pub fn decode(&self, id: u64) -> Result<Decoded, DecodeError> {
        if id >> 63 != 0 {
            return Err(DecodeError::SignBitSet { id });
        }
        let ticks = (id >> self.timestamp_shift) & self.max_ticks();
        let timestamp_ms = self.ms_of_tick(ticks);
        Ok(Decoded {
            id,
            timestamp_ms,
            timestamp: rfc3339_ms(timestamp_ms),
            ticks,
            datacenter: (id >> self.datacenter_shift) & self.max_datacenter(),
            worker: (id >> self.worker_shift) & self.max_worker(),
            sequence: id & self.max_sequence(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// 2026-01-01T00:00:00Z.
    const NOW_MS: u64 = 1_767_225_600_000;

    #[test]
    fn snowflake_default_lasts_until_2080() {
        let layout = LayoutSpec::snowflake().validate(NOW_MS).unwrap();
        assert!(layout.horizon_rfc3339().starts_with("2080-07-10"), "{}", layout.horizon_rfc3339());
        assert_eq!(layout.max_sequence(), 4095);
    }

    #[test]
    fn uid_generator_default_lasts_at_least_30_years() {
        let layout = LayoutSpec::uid_generator().validate(NOW_MS).unwrap();
        assert!(layout.years_left(NOW_MS) >= 30.0);
        assert!(layout.horizon_rfc3339().starts_with("2093-"));
    }

    #[test]
    fn baidu_default_is_refused_as_expired() {
        let error = LayoutSpec::baidu_default().validate(NOW_MS).unwrap_err();
        match error {
            LayoutError::Expired { horizon, .. } => {
                assert!(horizon.starts_with("2024-11"), "{horizon}")
            }
            other => panic!("expected expired, got {other:?}"),
        }
    }

    #[test]
    fn bits_not_summing_to_64_are_refused() {
        let spec = LayoutSpec { sequence_bits: 13, ..LayoutSpec::snowflake() };
        assert_eq!(spec.validate(NOW_MS), Err(LayoutError::BitsDoNotSumTo64 { sum: 65 }));
    }

    #[test]
    fn future_epoch_is_refused() {
        let spec = LayoutSpec { epoch_ms: NOW_MS + 1, ..LayoutSpec::snowflake() };
        assert!(matches!(spec.validate(NOW_MS), Err(LayoutError::EpochInFuture { .. })));
    }

    #[test]
    fn zero_sequence_bits_are_refused() {
        let spec = LayoutSpec { sequence_bits: 0, worker_bits: 17, ..LayoutSpec::snowflake() };
        assert_eq!(spec.validate(NOW_MS), Err(LayoutError::ZeroField { field: "sequence_bits" }));
    }

    #[test]
    fn decode_refuses_the_sign_bit() {
        let layout = LayoutSpec::snowflake().validate(NOW_MS).unwrap();
        assert_eq!(layout.decode(1 << 63), Err(DecodeError::SignBitSet { id: 1 << 63 }));
    }

    #[test]
    fn book_example_decodes() {
        // 2^22 sequence..worker bits below a timestamp of 1 ms after the epoch.
        let layout = LayoutSpec::snowflake().validate(NOW_MS).unwrap();
        let id = layout.compose(1, 3, 7, 42);
        let decoded = layout.decode(id).unwrap();
        assert_eq!(
            (decoded.ticks, decoded.datacenter, decoded.worker, decoded.sequence),
            (1, 3, 7, 42)
        );
        assert_eq!(decoded.timestamp, "2010-11-04T01:42:54.658Z");
    }

    fn any_valid_spec() -> impl Strategy<Value = LayoutSpec> {
        // Split 63 bits into timestamp >= 30 (so the horizon is after NOW), sequence >= 1.
        (30u32..=50, 0u32..=10, 1u32..=20, prop::bool::ANY).prop_filter_map(
            "fields fit in 63 bits",
            |(timestamp_bits, datacenter_bits, sequence_bits, seconds)| {
                let worker_bits =
                    63u32.checked_sub(timestamp_bits + datacenter_bits + sequence_bits)?;
                Some(LayoutSpec {
                    timestamp_bits,
                    datacenter_bits,
                    worker_bits,
                    sequence_bits,
                    epoch_ms: NOW_MS - 1000,
                    tick_ms: if seconds { 1000 } else { 1 },
                })
            },
        )
    }

    proptest! {
        #[test]
        fn compose_then_decode_round_trips(spec in any_valid_spec(), raw in any::<[u64; 4]>()) {
            let layout = spec.validate(NOW_MS).unwrap();
            let ticks = raw[0] & layout.max_ticks();
            let datacenter = raw[1] & layout.max_datacenter();
            let worker = raw[2] & layout.max_worker();
            let sequence = raw[3] & layout.max_sequence();
            let id = layout.compose(ticks, datacenter, worker, sequence);
            prop_assert!(id >> 63 == 0);
            let decoded = layout.decode(id).unwrap();
            prop_assert_eq!((decoded.ticks, decoded.datacenter, decoded.worker, decoded.sequence), (ticks, datacenter, worker, sequence));
        }

        #[test]
        fn later_ticks_always_give_larger_ids(spec in any_valid_spec(), a in any::<u64>(), b in any::<u64>(), node in any::<u64>()) {
            let layout = spec.validate(NOW_MS).unwrap();
            let (a, b) = (a & layout.max_ticks(), b & layout.max_ticks());
            let (low, high) = (a.min(b), a.max(b));
            prop_assume!(low < high);
            let worker = node & layout.max_worker();
            prop_assert!(layout.compose(low, 0, worker, layout.max_sequence()) < layout.compose(high, 0, worker, 0));
        }

        #[test]
        fn sums_other_than_64_are_always_refused(t in 1u32..64, d in 0u32..20, w in 0u32..20, s in 1u32..30) {
            prop_assume!(1 + t + d + w + s != 64);
            let spec = LayoutSpec { timestamp_bits: t, datacenter_bits: d, worker_bits: w, sequence_bits: s, epoch_ms: 0, tick_ms: 1 };
            let is_bits_error = matches!(spec.validate(NOW_MS), Err(LayoutError::BitsDoNotSumTo64 { .. }));
            prop_assert!(is_bits_error);
        }
    }
}
