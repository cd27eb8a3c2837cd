//! Atomic write batches: every operation in a batch gets consecutive sequence numbers and
//! lands in one WAL record, so after a crash either all of it is there or none.

use std::time::Duration;

use crate::entry::{Entry, Kind, put_varint};
use crate::error::{Error, Result};
use crate::options::{MAX_BATCH_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES};

#[derive(Debug, Clone, Copy)]
enum Expiry {
    /// Relative to the commit's clock reading.
    After(Duration),
    /// Absolute, ms since the Unix epoch.
    AtMs(u64),
}

#[derive(Debug, Clone)]
enum Operation {
    Put { key: Vec<u8>, value: Vec<u8>, ttl: Option<Expiry> },
    Delete { key: Vec<u8> },
}

/// A group of puts and deletes applied atomically by [`crate::Db::write`].
///
/// ```
/// let mut batch = blueprint_lsm::WriteBatch::new();
/// batch.put(b"from", b"90");
/// batch.put(b"to", b"110");
/// batch.delete(b"pending");
/// assert_eq!(batch.len(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    operations: Vec<Operation>,
    encoded_bytes: usize,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> &mut Self {
        self.push(Operation::Put {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
            ttl: None,
        })
    }

    /// Sets `key` to `value` until `ttl` from the moment the batch is committed.
    pub fn put_with_ttl(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: Duration,
    ) -> &mut Self {
        self.push(Operation::Put {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
            ttl: Some(Expiry::After(ttl)),
        })
    }

    /// Sets `key` to `value` until `expires_at_ms` (ms since the Unix epoch on the
    /// database's clock): how a TTL is kept across a rewrite (`EXPIRE`, `APPEND`,
    /// `SET … KEEPTTL`). A time already past makes the key absent at once.
    pub fn put_expiring_at(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expires_at_ms: u64,
    ) -> &mut Self {
        self.push(Operation::Put {
            key: key.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
            ttl: Some(Expiry::AtMs(expires_at_ms)),
        })
    }

    /// Deletes `key`.
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> &mut Self {
        self.push(Operation::Delete { key: key.as_ref().to_vec() })
    }

    /// Operations in the batch.
    pub fn len(&self) -> usize {
        self.operations.len()
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }

    fn push(&mut self, operation: Operation) -> &mut Self {
        self.encoded_bytes += match &operation {
            Operation::Put { key, value, .. } => key.len() + value.len() + 30,
            Operation::Delete { key } => key.len() + 10,
        };
        self.operations.push(operation);
        self
    }

    /// Checks every limit, so a bad batch is refused before anything is written.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.encoded_bytes > MAX_BATCH_BYTES {
            return Err(Error::BatchTooLarge { len: self.encoded_bytes, max: MAX_BATCH_BYTES });
        }
        for operation in &self.operations {
            let (key, value) = match operation {
                Operation::Put { key, value, .. } => (key, Some(value)),
                Operation::Delete { key } => (key, None),
            };
            validate_key(key)?;
            if let Some(value) = value
                && value.len() > MAX_VALUE_BYTES
            {
                return Err(Error::ValueTooLarge { len: value.len(), max: MAX_VALUE_BYTES });
            }
        }
        Ok(())
    }

    pub(crate) fn encoded_bytes(&self) -> usize {
        self.encoded_bytes
    }

    /// Turns the batch into entries numbered from `first_seq`, with TTLs made absolute.
    pub(crate) fn into_entries(self, first_seq: u64, now_ms: u64) -> Result<Vec<Entry>> {
        let mut entries = Vec::with_capacity(self.operations.len());
        for (seq, operation) in (first_seq..).zip(self.operations) {
            entries.push(match operation {
                Operation::Put { key, value, ttl: None } => {
                    Entry { key, seq, kind: Kind::Put, expires_at_ms: 0, value }
                }
                Operation::Put { key, value, ttl: Some(ttl) } => Entry {
                    key,
                    seq,
                    kind: Kind::PutExpiring,
                    expires_at_ms: match ttl {
                        Expiry::After(ttl) => expiry_ms(now_ms, ttl)?,
                        Expiry::AtMs(at_ms) => at_ms,
                    },
                    value,
                },
                Operation::Delete { key } => {
                    Entry { key, seq, kind: Kind::Tombstone, expires_at_ms: 0, value: Vec::new() }
                }
            });
        }
        Ok(entries)
    }

    pub(crate) fn validate_ttls(&self, now_ms: u64) -> Result<()> {
        for operation in &self.operations {
            if let Operation::Put { ttl: Some(Expiry::After(ttl)), .. } = operation {
                expiry_ms(now_ms, *ttl)?;
            }
        }
        Ok(())
    }
}

pub(crate) fn validate_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::KeyTooLarge { len: key.len(), max: MAX_KEY_BYTES });
    }
    Ok(())
}

fn expiry_ms(now_ms: u64, ttl: Duration) -> Result<u64> {
    u64::try_from(ttl.as_millis())
        .ok()
        .and_then(|ttl_ms| now_ms.checked_add(ttl_ms))
        .ok_or(Error::TtlOverflow { ttl_ms: ttl.as_millis() })
}

/// Encodes entries with consecutive sequence numbers as one WAL payload:
/// `first_seq u64, count u32, then per entry: kind u8, key, [value], [expires_at u64]`.
pub(crate) fn encode_wal_payload(entries: &[Entry], out: &mut Vec<u8>) {
    let first_seq = entries.first().map_or(0, |entry| entry.seq);
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    for entry in entries {
        out.push(entry.kind as u8);
        put_varint(out, entry.key.len() as u64);
        out.extend_from_slice(&entry.key);
        if entry.kind != Kind::Tombstone {
            put_varint(out, entry.value.len() as u64);
            out.extend_from_slice(&entry.value);
        }
        if entry.kind == Kind::PutExpiring {
            out.extend_from_slice(&entry.expires_at_ms.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oversized_key_is_refused_with_its_length() {
        let mut batch = WriteBatch::new();
        batch.put(vec![0u8; MAX_KEY_BYTES + 1], b"v");
        match batch.validate() {
            Err(Error::KeyTooLarge { len, max }) => {
                assert_eq!(len, MAX_KEY_BYTES + 1);
                assert_eq!(max, MAX_KEY_BYTES);
            }
            other => panic!("expected KeyTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn entries_get_consecutive_sequence_numbers_and_absolute_expiry() {
        let mut batch = WriteBatch::new();
        batch.put(b"a", b"1").put_with_ttl(b"b", b"2", Duration::from_secs(2)).delete(b"c");
        let entries = batch.into_entries(10, 1_000).expect("valid batch");
        let seqs: Vec<u64> = entries.iter().map(|entry| entry.seq).collect();
        assert_eq!(seqs, vec![10, 11, 12]);
        assert_eq!(entries[1].expires_at_ms, 3_000);
        assert_eq!(entries[2].kind, Kind::Tombstone);
    }

    #[test]
    fn a_ttl_that_overflows_the_clock_is_refused() {
        let mut batch = WriteBatch::new();
        batch.put_with_ttl(b"k", b"v", Duration::MAX);
        assert!(matches!(batch.validate_ttls(1), Err(Error::TtlOverflow { .. })));
    }
}
