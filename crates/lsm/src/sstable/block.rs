//! Data blocks: sorted entries plus an offset array for binary search, compressed and
//! framed with a checksum that is verified on every read.
//!
//! Uncompressed layout: `entries | offset u32 * n | n u32`, each entry
//! `key_len varint | value_len varint | seq varint | kind u8 | [expires_at varint] | key | value`.
//!
//! On disk every block (data, index, bloom, properties) is framed as
//! `payload | compression u8 | crc32 u32`, the CRC covering payload and compression byte;
//! a compressed payload starts with its uncompressed length (`u32`), so a damaged block
//! can never make the reader allocate more than the limit.

use std::cmp::Ordering;

use crate::entry::{Cursor, Entry, Found, Kind, compare_internal, put_varint};
use crate::options::{Compression, MAX_KEY_BYTES, MAX_VALUE_BYTES};

/// No uncompressed block can be larger than one maximal entry plus slack, so a claimed
/// size above this is corruption, not a reason to allocate.
const MAX_UNCOMPRESSED_BLOCK_BYTES: usize = MAX_VALUE_BYTES + MAX_KEY_BYTES + (1 << 20);

const COMPRESSION_NONE: u8 = 0;
const COMPRESSION_LZ4: u8 = 1;
const COMPRESSION_ZSTD: u8 = 2;

/// Accumulates entries for one data block.
#[derive(Default)]
pub(crate) struct BlockBuilder {
    buffer: Vec<u8>,
    offsets: Vec<u32>,
}

impl BlockBuilder {
    pub(crate) fn add(&mut self, entry: &Entry) {
        self.offsets.push(self.buffer.len() as u32);
        put_varint(&mut self.buffer, entry.key.len() as u64);
        put_varint(&mut self.buffer, entry.value.len() as u64);
        put_varint(&mut self.buffer, entry.seq);
        self.buffer.push(entry.kind as u8);
        if entry.kind == Kind::PutExpiring {
            put_varint(&mut self.buffer, entry.expires_at_ms);
        }
        self.buffer.extend_from_slice(&entry.key);
        self.buffer.extend_from_slice(&entry.value);
    }

    pub(crate) fn estimated_bytes(&self) -> usize {
        self.buffer.len() + self.offsets.len() * 4 + 4
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The uncompressed block; the builder is left empty for the next block.
    pub(crate) fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buffer);
        for offset in &self.offsets {
            out.extend_from_slice(&offset.to_le_bytes());
        }
        out.extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        self.offsets.clear();
        out
    }
}

/// A decoded, verified data block, shared through the block cache.
#[derive(Debug)]
pub(crate) struct Block {
    data: Vec<u8>,
    offsets: Vec<u32>,
}

impl Block {
    /// Parses an uncompressed block, checking the offset array against the data.
    pub(crate) fn decode(mut raw: Vec<u8>) -> Result<Self, &'static str> {
        let count_at = raw.len().checked_sub(4).ok_or("block too short")?;
        let count = u32::from_le_bytes([
            raw[count_at],
            raw[count_at + 1],
            raw[count_at + 2],
            raw[count_at + 3],
        ]) as usize;
        let offsets_at = count
            .checked_mul(4)
            .and_then(|bytes| count_at.checked_sub(bytes))
            .ok_or("block offset array overruns the block")?;
        let offsets: Vec<u32> = raw[offsets_at..count_at]
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect();
        if offsets.windows(2).any(|pair| pair[0] >= pair[1])
            || offsets.last().is_some_and(|&last| last as usize >= offsets_at)
        {
            return Err("block offsets out of order or out of range");
        }
        raw.truncate(offsets_at);
        Ok(Self { data: raw, offsets })
    }

    pub(crate) fn len(&self) -> usize {
        self.offsets.len()
    }

    /// Bytes the block occupies in the cache.
    pub(crate) fn charge(&self) -> usize {
        self.data.len() + self.offsets.len() * 4 + 64
    }

    fn header(&self, index: usize) -> Result<(Cursor<'_>, usize, usize, u64, Kind), &'static str> {
        let start = *self.offsets.get(index).ok_or("entry index out of range")? as usize;
        let end = self.offsets.get(index + 1).map_or(self.data.len(), |&next| next as usize);
        let bytes = self.data.get(start..end).ok_or("entry out of range")?;
        let mut cursor = Cursor::new(bytes);
        let malformed = "malformed entry header";
        let key_len = usize::try_from(cursor.varint().ok_or(malformed)?).map_err(|_| malformed)?;
        let value_len =
            usize::try_from(cursor.varint().ok_or(malformed)?).map_err(|_| malformed)?;
        let seq = cursor.varint().ok_or(malformed)?;
        let kind = Kind::from_byte(cursor.u8().ok_or(malformed)?).ok_or("unknown entry kind")?;
        Ok((cursor, key_len, value_len, seq, kind))
    }

    /// The key and sequence number of entry `index`, without copying the value.
    pub(crate) fn key_at(&self, index: usize) -> Result<(&[u8], u64), &'static str> {
        let (mut cursor, key_len, _, seq, kind) = self.header(index)?;
        if kind == Kind::PutExpiring {
            cursor.varint().ok_or("malformed expiry")?;
        }
        let key = cursor.take(key_len).ok_or("key overruns entry")?;
        Ok((key, seq))
    }

    pub(crate) fn entry(&self, index: usize) -> Result<Entry, &'static str> {
        let (mut cursor, key_len, value_len, seq, kind) = self.header(index)?;
        let expires_at_ms =
            if kind == Kind::PutExpiring { cursor.varint().ok_or("malformed expiry")? } else { 0 };
        let key = cursor.take(key_len).ok_or("key overruns entry")?.to_vec();
        let value = cursor.take(value_len).ok_or("value overruns entry")?.to_vec();
        if !cursor.is_empty() {
            return Err("trailing bytes after entry");
        }
        Ok(Entry { key, seq, kind, expires_at_ms, value })
    }

    /// The newest version of `key` with a sequence number `<= seq` in this block, copying
    /// only its value (a point read needs neither the key back nor an [`Entry`]).
    pub(crate) fn get(&self, key: &[u8], seq: u64) -> Result<Option<Found>, &'static str> {
        let position = self.seek(key, seq)?;
        if position >= self.len() {
            return Ok(None);
        }
        let (mut cursor, key_len, value_len, found_seq, kind) = self.header(position)?;
        let expires_at_ms =
            if kind == Kind::PutExpiring { cursor.varint().ok_or("malformed expiry")? } else { 0 };
        if cursor.take(key_len).ok_or("key overruns entry")? != key {
            return Ok(None);
        }
        let value = cursor.take(value_len).ok_or("value overruns entry")?.to_vec();
        if !cursor.is_empty() {
            return Err("trailing bytes after entry");
        }
        Ok(Some(Found { seq: found_seq, kind, expires_at_ms, value }))
    }

    /// Index of the first entry at or after `(key, seq)` in internal order (`len()` if none).
    pub(crate) fn seek(&self, key: &[u8], seq: u64) -> Result<usize, &'static str> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = low + (high - low) / 2;
            let (middle_key, middle_seq) = self.key_at(middle)?;
            if compare_internal(middle_key, middle_seq, key, seq) == Ordering::Less {
                low = middle + 1;
            } else {
                high = middle;
            }
        }
        Ok(low)
    }
}

/// Compresses (per `compression`) and frames a block for disk.
pub(crate) fn frame(raw: &[u8], compression: Compression) -> Vec<u8> {
    let (kind, mut out) = match compression {
        Compression::None => (COMPRESSION_NONE, raw.to_vec()),
        Compression::Lz4 => {
            let mut out = (raw.len() as u32).to_le_bytes().to_vec();
            out.extend_from_slice(&lz4_flex::block::compress(raw));
            (COMPRESSION_LZ4, out)
        }
        Compression::Zstd(level) => match zstd::bulk::compress(raw, level) {
            Ok(compressed) => {
                let mut out = (raw.len() as u32).to_le_bytes().to_vec();
                out.extend_from_slice(&compressed);
                (COMPRESSION_ZSTD, out)
            }
            // zstd only fails on invalid parameters, which Options::validate rules out;
            // storing the block uncompressed is still correct.
            Err(_) => (COMPRESSION_NONE, raw.to_vec()),
        },
    };
    // Keep whichever is smaller: incompressible blocks are stored as they are.
    if kind != COMPRESSION_NONE && out.len() >= raw.len() {
        out = raw.to_vec();
        return with_trailer(out, COMPRESSION_NONE);
    }
    with_trailer(out, kind)
}

fn with_trailer(mut payload: Vec<u8>, kind: u8) -> Vec<u8> {
    payload.push(kind);
    let crc = crc32fast::hash(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload
}

/// Verifies a framed block's checksum and decompresses it.
pub(crate) fn unframe(framed: &[u8]) -> Result<Vec<u8>, &'static str> {
    let crc_at = framed.len().checked_sub(4).ok_or("block shorter than its trailer")?;
    let (body, crc) = framed.split_at(crc_at);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != stored {
        return Err("block checksum mismatch");
    }
    let (&kind, payload) = body.split_last().ok_or("block shorter than its trailer")?;
    if kind == COMPRESSION_NONE {
        return Ok(payload.to_vec());
    }
    if payload.len() < 4 {
        return Err("compressed block missing its length");
    }
    let (len_bytes, compressed) = payload.split_at(4);
    let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]) as usize;
    if len > MAX_UNCOMPRESSED_BLOCK_BYTES {
        return Err("block claims an impossible uncompressed size");
    }
    let raw = match kind {
        COMPRESSION_LZ4 => {
            lz4_flex::block::decompress(compressed, len).map_err(|_| "lz4 decompression failed")?
        }
        COMPRESSION_ZSTD => {
            zstd::bulk::decompress(compressed, len).map_err(|_| "zstd decompression failed")?
        }
        _ => return Err("unknown compression type"),
    };
    if raw.len() != len {
        return Err("decompressed size differs from the recorded size");
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(key: &str, seq: u64, kind: Kind) -> Entry {
        Entry {
            key: key.as_bytes().to_vec(),
            seq,
            kind,
            expires_at_ms: if kind == Kind::PutExpiring { 77 } else { 0 },
            value: if kind == Kind::Tombstone {
                Vec::new()
            } else {
                format!("value-of-{key}").into_bytes()
            },
        }
    }

    fn sample() -> Vec<Entry> {
        vec![
            entry("apple", 9, Kind::Put),
            entry("apple", 3, Kind::Tombstone),
            entry("banana", 4, Kind::PutExpiring),
            entry("cherry", 1, Kind::Put),
        ]
    }

    fn built(entries: &[Entry]) -> Block {
        let mut builder = BlockBuilder::default();
        entries.iter().for_each(|entry| builder.add(entry));
        Block::decode(builder.finish()).expect("valid block")
    }

    #[test]
    fn entries_round_trip_through_a_block() {
        let block = built(&sample());
        let decoded: Vec<Entry> =
            (0..block.len()).map(|i| block.entry(i).expect("entry")).collect();
        assert_eq!(decoded, sample());
    }

    #[test]
    fn seek_finds_the_newest_version_visible_at_a_sequence_number() {
        let block = built(&sample());
        assert_eq!(block.seek(b"apple", u64::MAX), Ok(0));
        assert_eq!(block.seek(b"apple", 5), Ok(1));
        assert_eq!(block.seek(b"avocado", u64::MAX), Ok(2));
        assert_eq!(block.seek(b"zebra", u64::MAX), Ok(4));
    }

    #[test]
    fn get_returns_the_visible_version_of_exactly_the_key_asked_for() {
        let block = built(&sample());
        let found = block.get(b"apple", u64::MAX).expect("read").expect("found");
        assert_eq!(
            (found.seq, found.kind, found.value),
            (9, Kind::Put, b"value-of-apple".to_vec())
        );
        let older = block.get(b"apple", 5).expect("read").expect("found");
        assert_eq!((older.seq, older.kind), (3, Kind::Tombstone));
        let expiring = block.get(b"banana", u64::MAX).expect("read").expect("found");
        assert_eq!(expiring.expires_at_ms, 77);
        assert_eq!(block.get(b"apple", 2), Ok(None), "apple is not visible at 2");
        assert_eq!(block.get(b"avocado", u64::MAX), Ok(None), "next key is not the key");
        assert_eq!(block.get(b"zebra", u64::MAX), Ok(None));
    }

    #[test]
    fn every_compression_round_trips_through_the_frame() {
        let raw = b"hello hello hello hello hello hello hello hello".repeat(20);
        for compression in [Compression::None, Compression::Lz4, Compression::Zstd(3)] {
            assert_eq!(unframe(&frame(&raw, compression)), Ok(raw.clone()), "{compression:?}");
        }
    }

    #[test]
    fn a_flipped_byte_in_a_framed_block_fails_the_checksum() {
        let mut framed = frame(&b"some block bytes".repeat(10), Compression::Lz4);
        framed[2] ^= 0x40;
        assert_eq!(unframe(&framed), Err("block checksum mismatch"));
    }

    proptest! {
        // Fuzz harness: arbitrary bytes never panic the block reader.
        #[test]
        fn arbitrary_bytes_never_panic_the_block_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = unframe(&bytes);
            if let Ok(block) = Block::decode(bytes) {
                for index in 0..block.len() {
                    let _ = block.entry(index);
                    let _ = block.key_at(index);
                    let _ = block.get(b"k", u64::MAX);
                }
                let _ = block.seek(b"key", 5);
            }
        }

        #[test]
        fn arbitrary_payloads_with_a_valid_checksum_never_panic_the_decompressor(payload in proptest::collection::vec(any::<u8>(), 0..256), kind in 0u8..4) {
            let framed = with_trailer(payload, kind);
            let _ = unframe(&framed);
        }
    }
}
