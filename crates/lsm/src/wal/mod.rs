//! The write-ahead log (the book's commit log): every write is appended here before it
//! reaches the memtable, so a crash loses nothing that was acknowledged under
//! [`crate::Durability::Always`].
//!
//! One WAL file per memtable (`NNNNNN.wal`); it is deleted once that memtable is flushed
//! to an SSTable recorded in the manifest.
//!
//! Record format: `crc32 u32 | len u32 | payload`, little-endian; the CRC covers the
//! length and the payload, so a torn or flipped length is caught too.

pub(crate) mod reader;
pub(crate) mod recovery;
pub(crate) mod writer;

/// Bytes in a record header: CRC then length.
pub(crate) const RECORD_HEADER_BYTES: usize = 8;

pub(crate) fn record_crc(len_bytes: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len_bytes);
    hasher.update(payload);
    hasher.finalize()
}

pub(crate) fn wal_file_name(id: u64) -> String {
    format!("{id:06}.wal")
}
