//! Sorted string tables: immutable files of sorted entries.
//!
//! File layout: `data blocks | bloom block | index block | properties block | footer`.
//! The index holds each data block's last key and handle; the footer (fixed size, at the
//! end) locates the rest and carries a magic number and format version. Every block is
//! checksummed and verified when read.

pub(crate) mod block;
pub(crate) mod bloom;
pub(crate) mod builder;
pub(crate) mod footer;
pub(crate) mod index;
pub(crate) mod reader;

use crate::entry::{Cursor, put_varint};
use footer::BlockHandle;

pub(crate) fn table_file_name(id: u64) -> String {
    format!("{id:06}.sst")
}

/// One index entry: the last internal key of a data block and where the block is.
#[derive(Debug, Clone)]
pub(crate) struct IndexEntry {
    pub last_key: Vec<u8>,
    pub last_seq: u64,
    pub handle: BlockHandle,
}

pub(crate) fn encode_index(index: &[IndexEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, index.len() as u64);
    for entry in index {
        put_varint(&mut out, entry.last_key.len() as u64);
        out.extend_from_slice(&entry.last_key);
        put_varint(&mut out, entry.last_seq);
        put_varint(&mut out, entry.handle.offset);
        put_varint(&mut out, entry.handle.len);
    }
    out
}

pub(crate) fn decode_index(bytes: &[u8]) -> Option<Vec<IndexEntry>> {
    let mut cursor = Cursor::new(bytes);
    let count = usize::try_from(cursor.varint()?).ok()?;
    if count > bytes.len() {
        return None;
    }
    let mut index = Vec::with_capacity(count);
    for _ in 0..count {
        index.push(IndexEntry {
            last_key: cursor.length_prefixed()?.to_vec(),
            last_seq: cursor.varint()?,
            handle: BlockHandle { offset: cursor.varint()?, len: cursor.varint()? },
        });
    }
    cursor.is_empty().then_some(index)
}

/// Facts about a table kept in memory while it is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Properties {
    pub entry_count: u64,
    pub tombstone_count: u64,
    pub min_seq: u64,
    pub max_seq: u64,
    pub first_key: Vec<u8>,
    pub last_key: Vec<u8>,
}

impl Properties {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for number in [self.entry_count, self.tombstone_count, self.min_seq, self.max_seq] {
            put_varint(&mut out, number);
        }
        for key in [&self.first_key, &self.last_key] {
            put_varint(&mut out, key.len() as u64);
            out.extend_from_slice(key);
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let mut cursor = Cursor::new(bytes);
        let properties = Self {
            entry_count: cursor.varint()?,
            tombstone_count: cursor.varint()?,
            min_seq: cursor.varint()?,
            max_seq: cursor.varint()?,
            first_key: cursor.length_prefixed()?.to_vec(),
            last_key: cursor.length_prefixed()?.to_vec(),
        };
        cursor.is_empty().then_some(properties)
    }
}
