//! The manifest: the crash-safe record of which SSTables are live (newest first), the
//! highest sequence number they contain and the next file id.
//!
//! Replaced atomically on every flush and compaction: written to `MANIFEST.tmp`,
//! `fsync`ed, renamed over `MANIFEST`, then the directory is `fsync`ed so the rename
//! itself is durable. A crash leaves either the old or the new manifest, never a mix.
//!
//! Format: `magic u64 | version u32 | next_file_id u64 | flushed_seq u64 | count u32 |
//! table_id u64 * count | crc32 u32`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::entry::Cursor;
use crate::error::{Error, IoContext, Result};

pub(crate) const MANIFEST_FILE: &str = "MANIFEST";
const MANIFEST_TEMP_FILE: &str = "MANIFEST.tmp";
const MANIFEST_MAGIC: u64 = u64::from_le_bytes(*b"BPLSMMAN");
const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub next_file_id: u64,
    /// Every entry with a sequence number up to this is in a live table.
    pub flushed_seq: u64,
    /// Live tables, newest first.
    pub tables: Vec<u64>,
}

impl Manifest {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + self.tables.len() * 8);
        out.extend_from_slice(&MANIFEST_MAGIC.to_le_bytes());
        out.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        out.extend_from_slice(&self.next_file_id.to_le_bytes());
        out.extend_from_slice(&self.flushed_seq.to_le_bytes());
        out.extend_from_slice(&(self.tables.len() as u32).to_le_bytes());
        for id in &self.tables {
            out.extend_from_slice(&id.to_le_bytes());
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let crc_at = bytes.len().checked_sub(4).ok_or("manifest too short")?;
        let (body, crc) = bytes.split_at(crc_at);
        if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err("manifest checksum mismatch");
        }
        let mut cursor = Cursor::new(body);
        let truncated = "truncated manifest";
        if cursor.u64().ok_or(truncated)? != MANIFEST_MAGIC {
            return Err("bad manifest magic number");
        }
        if cursor.u32().ok_or(truncated)? != MANIFEST_VERSION {
            return Err("unsupported manifest version");
        }
        let next_file_id = cursor.u64().ok_or(truncated)?;
        let flushed_seq = cursor.u64().ok_or(truncated)?;
        let count = cursor.u32().ok_or(truncated)? as usize;
        let tables =
            (0..count).map(|_| cursor.u64().ok_or(truncated)).collect::<Result<Vec<u64>, _>>()?;
        if !cursor.is_empty() {
            return Err("trailing bytes in manifest");
        }
        Ok(Self { next_file_id, flushed_seq, tables })
    }

    /// Reads the manifest, or `None` for a fresh directory.
    pub(crate) fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(MANIFEST_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => Manifest::decode(&bytes)
                .map(Some)
                .map_err(|reason| Error::corruption(&path, 0, reason)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(Error::io(path, error)),
        }
    }

    /// Atomically replaces the manifest (temp file, fsync, rename, fsync directory).
    pub(crate) fn store(&self, dir: &Path) -> Result<()> {
        let temp = dir.join(MANIFEST_TEMP_FILE);
        let mut file =
            OpenOptions::new().create(true).write(true).truncate(true).open(&temp).at(&temp)?;
        file.write_all(&self.encode()).at(&temp)?;
        file.sync_all().at(&temp)?;
        drop(file);
        let path = dir.join(MANIFEST_FILE);
        std::fs::rename(&temp, &path).at(&path)?;
        sync_dir(dir)
    }
}

/// Makes renames, creations and deletions in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|handle| handle.sync_all()).at(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_manifest_loads_back_identical() {
        let dir = tempfile::tempdir().expect("tempdir");
        let manifest = Manifest { next_file_id: 42, flushed_seq: 1_000, tables: vec![40, 12, 3] };
        manifest.store(dir.path()).expect("store");
        assert_eq!(Manifest::load(dir.path()).expect("load"), Some(manifest));
    }

    #[test]
    fn a_fresh_directory_has_no_manifest() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(Manifest::load(dir.path()).expect("load"), None);
    }

    #[test]
    fn a_damaged_manifest_is_corruption() {
        let dir = tempfile::tempdir().expect("tempdir");
        Manifest::default().store(dir.path()).expect("store");
        let path = dir.path().join(MANIFEST_FILE);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[9] ^= 0xff;
        std::fs::write(&path, bytes).expect("write");
        assert!(matches!(Manifest::load(dir.path()), Err(Error::Corruption { .. })));
    }
}
