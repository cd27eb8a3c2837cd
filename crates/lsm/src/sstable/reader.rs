//! Opens an SSTable, answers point reads (key range check, bloom filter, index, one
//! block) and iterates it in order. Every block's checksum is verified when it is read
//! from disk; a mismatch is a `Corruption` error naming the file and the block's offset.

use std::fs::File;
use std::ops::Bound;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::block::{Block, unframe};
use super::bloom::{Bloom, Layout};
use super::footer::{BlockHandle, FOOTER_BYTES, Footer};
use super::index::Index;
use super::{Properties, decode_index};
use crate::cache::BlockCache;
use crate::entry::{Entry, Found};
use crate::error::{Error, IoContext, Result};

pub(crate) struct Table {
    id: u64,
    path: PathBuf,
    file: File,
    file_bytes: u64,
    index: Index,
    bloom: Bloom,
    properties: Properties,
    cache: Arc<BlockCache>,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Table")
            .field("id", &self.id)
            .field("file_bytes", &self.file_bytes)
            .finish()
    }
}

impl Table {
    pub(crate) fn open(path: &Path, id: u64, cache: Arc<BlockCache>) -> Result<Self> {
        let file = File::open(path).at(path)?;
        let file_bytes = file.metadata().at(path)?.len();
        let footer_at = file_bytes
            .checked_sub(FOOTER_BYTES as u64)
            .ok_or_else(|| Error::corruption(path, 0, "file too short for a footer"))?;
        let mut footer = vec![0u8; FOOTER_BYTES];
        file.read_exact_at(&mut footer, footer_at).at(path)?;
        let footer =
            Footer::decode(&footer).map_err(|reason| Error::corruption(path, footer_at, reason))?;
        let read_meta = |handle: BlockHandle| -> Result<Vec<u8>> {
            if handle.offset.saturating_add(handle.len) > footer_at {
                return Err(Error::corruption(path, handle.offset, "block handle past the footer"));
            }
            let mut framed = vec![0u8; handle.len as usize];
            file.read_exact_at(&mut framed, handle.offset).at(path)?;
            unframe(&framed).map_err(|reason| Error::corruption(path, handle.offset, reason))
        };
        let index = decode_index(&read_meta(footer.index)?)
            .ok_or_else(|| Error::corruption(path, footer.index.offset, "malformed index block"))?;
        let layout = if footer.version == 1 { Layout::Standard } else { Layout::Blocked };
        let bloom = Bloom::decode(&read_meta(footer.bloom)?, layout)
            .ok_or_else(|| Error::corruption(path, footer.bloom.offset, "malformed bloom block"))?;
        let properties = Properties::decode(&read_meta(footer.properties)?).ok_or_else(|| {
            Error::corruption(path, footer.properties.offset, "malformed properties block")
        })?;
        if let Some(bad) = index.iter().find(|entry| {
            entry.handle.offset.saturating_add(entry.handle.len) > footer.bloom.offset
        }) {
            return Err(Error::corruption(
                path,
                bad.handle.offset,
                "data block handle out of range",
            ));
        }
        let index = Index::new(&index);
        Ok(Self { id, path: path.to_path_buf(), file, file_bytes, index, bloom, properties, cache })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn file_bytes(&self) -> u64 {
        self.file_bytes
    }

    pub(crate) fn properties(&self) -> &Properties {
        &self.properties
    }

    /// Bytes of index and bloom filter held in memory while the table is open.
    pub(crate) fn resident_bytes(&self) -> usize {
        self.bloom.bytes() + self.index.resident_bytes()
    }

    /// The newest version of `key` with `seq <= snapshot_seq`, if this table has one.
    pub(crate) fn get(
        &self,
        key: &[u8],
        key_hash: u64,
        snapshot_seq: u64,
    ) -> Result<Option<Found>> {
        if self.properties.entry_count == 0
            || key < self.properties.first_key.as_slice()
            || key > self.properties.last_key.as_slice()
            || !self.bloom.may_contain(key_hash)
        {
            return Ok(None);
        }
        let block_index = self.block_for(key, snapshot_seq);
        if block_index >= self.index.len() {
            return Ok(None);
        }
        let block = self.read_block(block_index, true)?;
        block.get(key, snapshot_seq).map_err(|reason| self.block_corruption(block_index, reason))
    }

    /// The first block whose last internal key is at or after `(key, seq)`.
    fn block_for(&self, key: &[u8], seq: u64) -> usize {
        self.index.block_for(key, seq)
    }

    fn block_corruption(&self, block_index: usize, reason: &str) -> Error {
        let offset = self.index.handle(block_index).map_or(0, |handle| handle.offset);
        Error::corruption(&self.path, offset, reason)
    }

    /// Reads, verifies and decodes a data block, through the cache when `fill_cache`.
    fn read_block(&self, block_index: usize, fill_cache: bool) -> Result<Arc<Block>> {
        let handle = self.index.handles()[block_index];
        let cache_key = (self.id, handle.offset);
        if let Some(block) = self.cache.get(cache_key) {
            return Ok(block);
        }
        let len = usize::try_from(handle.len)
            .map_err(|_| self.block_corruption(block_index, "block length overflows"))?;
        let mut framed = vec![0u8; len];
        self.file.read_exact_at(&mut framed, handle.offset).at(&self.path)?;
        let raw = unframe(&framed).map_err(|reason| self.block_corruption(block_index, reason))?;
        let block = Arc::new(
            Block::decode(raw).map_err(|reason| self.block_corruption(block_index, reason))?,
        );
        if fill_cache {
            self.cache.insert(cache_key, Arc::clone(&block));
        }
        Ok(block)
    }
}

/// Walks a table's entries in internal order from a starting key.
pub(crate) struct TableIter {
    table: Arc<Table>,
    seek_to: Option<Vec<u8>>,
    block_index: usize,
    block: Option<Arc<Block>>,
    position: usize,
    fill_cache: bool,
    done: bool,
}

impl TableIter {
    /// Starts at the first version of the first key `>= start` (an excluded start bound
    /// is filtered by the caller).
    pub(crate) fn new(table: Arc<Table>, start: Bound<&[u8]>, fill_cache: bool) -> Self {
        let seek_to = match start {
            Bound::Included(key) | Bound::Excluded(key) => Some(key.to_vec()),
            Bound::Unbounded => None,
        };
        Self { table, seek_to, block_index: 0, block: None, position: 0, fill_cache, done: false }
    }

    fn step(&mut self) -> Result<Option<Entry>> {
        if let Some(key) = self.seek_to.take() {
            self.block_index = self.table.block_for(&key, u64::MAX);
            if self.block_index < self.table.index.len() {
                let block = self.table.read_block(self.block_index, self.fill_cache)?;
                self.position = block
                    .seek(&key, u64::MAX)
                    .map_err(|reason| self.table.block_corruption(self.block_index, reason))?;
                self.block = Some(block);
            }
        }
        loop {
            if let Some(block) = &self.block {
                if self.position < block.len() {
                    let entry = block
                        .entry(self.position)
                        .map_err(|reason| self.table.block_corruption(self.block_index, reason))?;
                    self.position += 1;
                    return Ok(Some(entry));
                }
                self.block_index += 1;
            }
            if self.block_index >= self.table.index.len() {
                return Ok(None);
            }
            self.block = Some(self.table.read_block(self.block_index, self.fill_cache)?);
            self.position = 0;
        }
    }
}

impl Iterator for TableIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if self.done {
            return None;
        }
        let result = self.step().transpose();
        if !matches!(result, Some(Ok(_))) {
            self.done = true;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Kind;
    use crate::options::Compression;
    use crate::sstable::bloom::hash_key;
    use crate::sstable::builder::{TableBuilder, TableSettings};

    fn settings() -> TableSettings {
        TableSettings { block_bytes: 256, compression: Compression::Lz4, bloom_bits_per_key: 10 }
    }

    fn build(dir: &Path, entries: &[Entry]) -> Arc<Table> {
        let path = dir.join("000001.sst");
        let mut builder = TableBuilder::create(&path, settings()).expect("create");
        entries.iter().for_each(|entry| builder.add(entry).expect("add"));
        builder.finish().expect("finish");
        Arc::new(Table::open(&path, 1, Arc::new(BlockCache::new(1 << 20))).expect("open"))
    }

    fn entries(count: usize) -> Vec<Entry> {
        (0..count)
            .map(|index| Entry {
                key: format!("key-{index:06}").into_bytes(),
                seq: index as u64 + 1,
                kind: Kind::Put,
                expires_at_ms: 0,
                value: format!("value-{index}").into_bytes(),
            })
            .collect()
    }

    #[test]
    fn every_key_written_is_found_by_a_point_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let all = entries(500);
        let table = build(dir.path(), &all);
        for entry in &all {
            let found = table.get(&entry.key, hash_key(&entry.key), u64::MAX).expect("read");
            let found = found.expect("found");
            assert_eq!(
                (found.seq, found.kind, &found.value),
                (entry.seq, entry.kind, &entry.value)
            );
        }
        assert_eq!(
            table.get(b"key-999999", hash_key(b"key-999999"), u64::MAX).expect("read"),
            None
        );
    }

    #[test]
    fn a_version_newer_than_the_snapshot_is_invisible() {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = build(dir.path(), &entries(10));
        assert_eq!(table.get(b"key-000005", hash_key(b"key-000005"), 5).expect("read"), None);
    }

    #[test]
    fn iteration_from_a_key_yields_the_rest_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let all = entries(300);
        let table = build(dir.path(), &all);
        let rest: Vec<Entry> = TableIter::new(table, Bound::Included(b"key-000100"), true)
            .collect::<Result<_>>()
            .expect("iterate");
        assert_eq!(rest, all[100..].to_vec());
    }

    #[test]
    fn a_flipped_byte_in_a_data_block_is_reported_with_file_and_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let all = entries(300);
        let path = dir.path().join("000001.sst");
        drop(build(dir.path(), &all));
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[10] ^= 0x01;
        std::fs::write(&path, &bytes).expect("write");
        let table =
            Table::open(&path, 1, Arc::new(BlockCache::new(1 << 20))).expect("footer intact");
        match table.get(&all[0].key, hash_key(&all[0].key), u64::MAX) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, path);
                assert_eq!(offset, 0);
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    /// Rewrites a table as format version 1 wrote it: a standard bloom filter.
    fn rewrite_as_version_one(path: &Path, keys: &[Vec<u8>]) {
        use crate::sstable::block::frame;
        let bytes = std::fs::read(path).expect("read");
        let footer = Footer::decode(&bytes[bytes.len() - FOOTER_BYTES..]).expect("footer");
        let slice = |handle: BlockHandle| {
            bytes[handle.offset as usize..(handle.offset + handle.len) as usize].to_vec()
        };
        let hashes: Vec<u64> = keys.iter().map(|key| hash_key(key)).collect();
        let bloom = Bloom::build_with(&hashes, 10, Layout::Standard);
        let mut out = bytes[..footer.bloom.offset as usize].to_vec();
        let place = |framed: Vec<u8>, out: &mut Vec<u8>| {
            let handle = BlockHandle { offset: out.len() as u64, len: framed.len() as u64 };
            out.extend_from_slice(&framed);
            handle
        };
        let bloom = place(frame(&bloom.encode(), Compression::None), &mut out);
        let index = place(slice(footer.index), &mut out);
        let properties = place(slice(footer.properties), &mut out);
        out.extend_from_slice(&Footer { index, bloom, properties, version: 1 }.encode());
        std::fs::write(path, out).expect("write");
    }

    #[test]
    fn a_version_one_table_with_a_standard_bloom_filter_is_still_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let all = entries(500);
        let path = dir.path().join("000001.sst");
        drop(build(dir.path(), &all));
        let keys: Vec<Vec<u8>> = all.iter().map(|entry| entry.key.clone()).collect();
        rewrite_as_version_one(&path, &keys);
        let table = Table::open(&path, 1, Arc::new(BlockCache::new(1 << 20))).expect("open v1");
        for entry in &all {
            let found = table.get(&entry.key, hash_key(&entry.key), u64::MAX).expect("read");
            assert_eq!(found.map(|found| found.value), Some(entry.value.clone()));
        }
        let absent = (0..1_000).filter(|i| {
            let key = format!("absent-{i}").into_bytes();
            table.get(&key, hash_key(&key), u64::MAX).expect("read").is_none()
        });
        assert_eq!(absent.count(), 1_000);
    }

    #[test]
    fn a_truncated_table_is_refused_at_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("000001.sst");
        drop(build(dir.path(), &entries(50)));
        let bytes = std::fs::read(&path).expect("read");
        std::fs::write(&path, &bytes[..bytes.len() - 10]).expect("write");
        let result = Table::open(&path, 1, Arc::new(BlockCache::new(1 << 20)));
        assert!(matches!(result, Err(Error::Corruption { .. })), "{result:?}");
    }
}
