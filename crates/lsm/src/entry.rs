//! The unit every layer stores: one version of one key, ordered by key ascending then
//! sequence number descending (newest version first), plus the varint coding shared by
//! the WAL and SSTable formats.

use std::cmp::Ordering;

/// What a version says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The key was deleted at this sequence number.
    Tombstone = 0,
    /// The key holds a value with no expiry.
    Put = 1,
    /// The key holds a value until `expires_at_ms`.
    PutExpiring = 2,
}

impl Kind {
    pub(crate) fn from_byte(byte: u8) -> Option<Kind> {
        match byte {
            0 => Some(Kind::Tombstone),
            1 => Some(Kind::Put),
            2 => Some(Kind::PutExpiring),
            _ => None,
        }
    }
}

/// One version of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: Vec<u8>,
    pub seq: u64,
    pub kind: Kind,
    /// Absolute expiry in milliseconds since the epoch; meaningful for `PutExpiring` only.
    pub expires_at_ms: u64,
    pub value: Vec<u8>,
}

impl Entry {
    /// The value a reader sees at time `now_ms`: `None` for a tombstone or an expired put.
    pub(crate) fn live_value(&self, now_ms: u64) -> Option<&[u8]> {
        match self.kind {
            Kind::Tombstone => None,
            Kind::Put => Some(&self.value),
            Kind::PutExpiring if self.expires_at_ms > now_ms => Some(&self.value),
            Kind::PutExpiring => None,
        }
    }

    /// Bytes this entry costs in a memtable, for the flush threshold: payload plus a
    /// fixed allowance for the map node and vector headers.
    pub(crate) fn charge(&self) -> usize {
        self.key.len() + self.value.len() + 64
    }
}

/// A point read's answer: one version of the key asked for (the key itself is the
/// caller's, so it is not copied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub seq: u64,
    pub kind: Kind,
    /// Meaningful for `PutExpiring` only.
    pub expires_at_ms: u64,
    pub value: Vec<u8>,
}

/// Orders `(key, seq)` pairs: keys ascending, then newer (higher) sequence numbers first.
pub(crate) fn compare_internal(a_key: &[u8], a_seq: u64, b_key: &[u8], b_seq: u64) -> Ordering {
    a_key.cmp(b_key).then(b_seq.cmp(&a_seq))
}

/// Appends `value` as an LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// A bounds-checked cursor over encoded bytes: every read returns `None` instead of
/// panicking when the input is short or malformed, so readers of damaged files and
/// fuzzers never crash.
pub(crate) struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub position: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    pub(crate) fn varint(&mut self) -> Option<u64> {
        let mut result: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = *self.bytes.get(self.position)?;
            self.position += 1;
            result |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(result);
            }
        }
        None
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        let byte = *self.bytes.get(self.position)?;
        self.position += 1;
        Some(byte)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        let bytes = self.take(4)?;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        let bytes = self.take(8)?;
        Some(u64::from_le_bytes(bytes.try_into().ok()?))
    }

    pub(crate) fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.position.checked_add(len)?;
        let slice = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(slice)
    }

    /// A varint length followed by that many bytes.
    pub(crate) fn length_prefixed(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        self.take(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        for value in [0, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(Cursor::new(&out).varint(), Some(value));
        }
    }

    #[test]
    fn a_truncated_varint_reads_as_none() {
        assert_eq!(Cursor::new(&[0x80, 0x80]).varint(), None);
    }

    #[test]
    fn newer_versions_of_a_key_sort_first() {
        assert_eq!(compare_internal(b"a", 9, b"a", 3), Ordering::Less);
        assert_eq!(compare_internal(b"a", 1, b"b", 9), Ordering::Less);
    }

    #[test]
    fn an_expired_put_has_no_live_value() {
        let entry = Entry {
            key: b"k".to_vec(),
            seq: 1,
            kind: Kind::PutExpiring,
            expires_at_ms: 100,
            value: b"v".to_vec(),
        };
        assert_eq!(entry.live_value(99), Some(&b"v"[..]));
        assert_eq!(entry.live_value(100), None);
    }
}
