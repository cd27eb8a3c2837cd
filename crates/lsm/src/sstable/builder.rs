//! Writes an SSTable from entries given in internal order.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::block::{BlockBuilder, frame};
use super::bloom::{Bloom, hash_key};
use super::footer::{BlockHandle, Footer, TABLE_FORMAT_VERSION};
use super::{IndexEntry, Properties, encode_index};
use crate::entry::{Entry, Kind, compare_internal};
use crate::error::{IoContext, Result};
use crate::options::Compression;

/// Write buffer for table files: large sequential writes.
const TABLE_WRITE_BUFFER_BYTES: usize = 256 * 1024;

/// How tables are built; copied from [`crate::Options`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableSettings {
    pub block_bytes: usize,
    pub compression: Compression,
    pub bloom_bits_per_key: usize,
}

pub(crate) struct TableBuilder {
    path: PathBuf,
    out: BufWriter<File>,
    offset: u64,
    settings: TableSettings,
    block: BlockBuilder,
    block_last: Option<(Vec<u8>, u64)>,
    index: Vec<IndexEntry>,
    key_hashes: Vec<u64>,
    properties: Properties,
}

impl TableBuilder {
    pub(crate) fn create(path: &Path, settings: TableSettings) -> Result<Self> {
        let file = OpenOptions::new().create_new(true).write(true).open(path).at(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(TABLE_WRITE_BUFFER_BYTES, file),
            offset: 0,
            settings,
            block: BlockBuilder::default(),
            block_last: None,
            index: Vec::new(),
            key_hashes: Vec::new(),
            properties: Properties { min_seq: u64::MAX, ..Properties::default() },
        })
    }

    /// Adds the next entry; entries must arrive in strictly increasing internal order.
    pub(crate) fn add(&mut self, entry: &Entry) -> Result<()> {
        match &self.block_last {
            Some((last_key, last_seq)) => {
                assert_eq!(
                    compare_internal(last_key, *last_seq, &entry.key, entry.seq),
                    std::cmp::Ordering::Less,
                    "table entries out of order"
                );
                if *last_key != entry.key {
                    self.key_hashes.push(hash_key(&entry.key));
                }
            }
            None => {
                self.key_hashes.push(hash_key(&entry.key));
                self.properties.first_key = entry.key.clone();
            }
        }
        self.block.add(entry);
        self.properties.entry_count += 1;
        if entry.kind == Kind::Tombstone {
            self.properties.tombstone_count += 1;
        }
        self.properties.min_seq = self.properties.min_seq.min(entry.seq);
        self.properties.max_seq = self.properties.max_seq.max(entry.seq);
        self.block_last = Some((entry.key.clone(), entry.seq));
        if self.block.estimated_bytes() >= self.settings.block_bytes {
            self.finish_block()?;
        }
        Ok(())
    }

    pub(crate) fn entry_count(&self) -> u64 {
        self.properties.entry_count
    }

    fn write_framed(&mut self, framed: &[u8]) -> Result<BlockHandle> {
        self.out.write_all(framed).at(&self.path)?;
        let handle = BlockHandle { offset: self.offset, len: framed.len() as u64 };
        self.offset += framed.len() as u64;
        Ok(handle)
    }

    fn finish_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let raw = self.block.finish();
        let framed = frame(&raw, self.settings.compression);
        let handle = self.write_framed(&framed)?;
        let (last_key, last_seq) = self.block_last.clone().unwrap_or_default();
        self.index.push(IndexEntry { last_key, last_seq, handle });
        Ok(())
    }

    /// Writes the remaining blocks and the footer, then `fsync`s the file.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.finish_block()?;
        if let Some((last_key, _)) = &self.block_last {
            self.properties.last_key = last_key.clone();
        }
        if self.properties.entry_count == 0 {
            self.properties.min_seq = 0;
        }
        let bloom = Bloom::build(&self.key_hashes, self.settings.bloom_bits_per_key);
        let bloom = self.write_framed(&frame(&bloom.encode(), Compression::None))?;
        let index = self.write_framed(&frame(&encode_index(&self.index), Compression::None))?;
        let properties = self.write_framed(&frame(&self.properties.encode(), Compression::None))?;
        let footer = Footer { index, bloom, properties, version: TABLE_FORMAT_VERSION };
        self.write_framed(&footer.encode())?;
        self.out.flush().at(&self.path)?;
        self.out.get_ref().sync_all().at(&self.path)
    }
}
