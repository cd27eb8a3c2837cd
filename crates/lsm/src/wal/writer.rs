//! Appends framed records to the current WAL file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{record_crc, wal_file_name};
use crate::error::{IoContext, Result};

/// Userspace buffer in front of the WAL file: records are handed to the OS when it fills
/// (or when the syncer or an `Always` commit flushes it), which turns many small writes
/// into few system calls.
const WAL_BUFFER_BYTES: usize = 64 * 1024;

pub(crate) struct WalWriter {
    id: u64,
    path: PathBuf,
    out: BufWriter<File>,
}

impl WalWriter {
    pub(crate) fn create(dir: &Path, id: u64) -> Result<Self> {
        let path = dir.join(wal_file_name(id));
        let file = OpenOptions::new().create_new(true).append(true).open(&path).at(&path)?;
        Ok(Self { id, path, out: BufWriter::with_capacity(WAL_BUFFER_BYTES, file) })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Frames `payload` as one record and buffers it.
    pub(crate) fn append(&mut self, payload: &[u8]) -> Result<()> {
        let len_bytes = u32::try_from(payload.len()).unwrap_or(u32::MAX).to_le_bytes();
        let crc = record_crc(len_bytes, payload);
        self.out.write_all(&crc.to_le_bytes()).at(&self.path)?;
        self.out.write_all(&len_bytes).at(&self.path)?;
        self.out.write_all(payload).at(&self.path)
    }

    /// Hands buffered records to the OS (survives a process crash, not a power cut).
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.out.flush().at(&self.path)
    }

    /// Flushes and forces the file to stable storage.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.out.get_ref().sync_data().at(&self.path)
    }

    /// A second handle to the file so a background thread can `fsync` it without holding
    /// the writer's lock during the (slow) call.
    pub(crate) fn file_for_sync(&self) -> Result<(File, PathBuf)> {
        let file = self.out.get_ref().try_clone().at(&self.path)?;
        Ok((file, self.path.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::reader::parse_records;

    #[test]
    fn appended_records_read_back_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut writer = WalWriter::create(dir.path(), 7).expect("create");
        writer.append(b"first").expect("append");
        writer.append(b"second").expect("append");
        writer.flush().expect("flush");
        let bytes = std::fs::read(dir.path().join("000007.wal")).expect("read");
        let parsed = parse_records(&bytes, Path::new("x"), true).expect("parse");
        assert_eq!(parsed.records, vec![b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(parsed.torn_tail_at, None);
    }
}
