//! A scratch file for the "disk" probes, written once and read sequentially and at random
//! offsets. Having just been written, it sits in the page cache: these reads measure the
//! file system's system calls and memory, not a disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::rng::SplitMix64;
use super::{FILE_BYTES, RANDOM_READ_BYTES, SEQUENTIAL_READ_BYTES};

/// Tells apart the scratch files of concurrent measurements in one process.
static NEXT_FILE: AtomicU64 = AtomicU64::new(0);

/// A [`FILE_BYTES`] file in a scratch directory, removed on drop.
pub(crate) struct ScratchFile {
    path: PathBuf,
    file: File,
    next_window: u64,
}

impl ScratchFile {
    /// Creates (never reuses: `create_new`) and fills the file in `dir`.
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        let name = format!(
            "blueprint-estimate-{}-{}.tmp",
            std::process::id(),
            NEXT_FILE.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&path)?;
        // From here on, drop removes the file even if filling it fails.
        let mut scratch = Self { path, file, next_window: 0 };
        let chunk: Vec<u8> = (0..SEQUENTIAL_READ_BYTES).map(|i| (i % 251) as u8).collect();
        for _ in 0..FILE_BYTES / SEQUENTIAL_READ_BYTES {
            scratch.file.write_all(&chunk)?;
        }
        scratch.file.flush()?;
        Ok(scratch)
    }

    /// `times` sequential reads of `buffer.len()` bytes, each the file's next window
    /// (wrapping at the end).
    pub(crate) fn read_sequential(&mut self, buffer: &mut [u8], times: u64) -> io::Result<()> {
        let windows = (FILE_BYTES / buffer.len().max(1)) as u64;
        for _ in 0..times {
            let offset = (self.next_window % windows) * buffer.len() as u64;
            self.next_window += 1;
            self.file.seek(SeekFrom::Start(offset))?;
            self.file.read_exact(buffer)?;
        }
        Ok(())
    }

    /// `times` reads of one page ([`RANDOM_READ_BYTES`]) at a random page of the file.
    pub(crate) fn read_random(
        &mut self,
        buffer: &mut [u8; RANDOM_READ_BYTES],
        rng: &mut SplitMix64,
        times: u64,
    ) -> io::Result<()> {
        let pages = (FILE_BYTES / RANDOM_READ_BYTES) as u64;
        for _ in 0..times {
            let offset = rng.below(pages) * RANDOM_READ_BYTES as u64;
            self.file.seek(SeekFrom::Start(offset))?;
            self.file.read_exact(buffer)?;
        }
        Ok(())
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        // Best effort: a leftover scratch file in a temp directory is harmless.
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::rng::SEED;

    #[test]
    fn the_file_has_its_size_reads_succeed_and_it_is_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let mut scratch = ScratchFile::create(dir.path()).unwrap();
        let path = scratch.path.clone();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_BYTES as u64);
        let mut window = vec![0; SEQUENTIAL_READ_BYTES];
        scratch
            .read_sequential(&mut window, FILE_BYTES as u64 / SEQUENTIAL_READ_BYTES as u64 + 1)
            .unwrap();
        assert_eq!(window[251], 0, "the pattern repeats every 251 bytes");
        let mut page = [0; RANDOM_READ_BYTES];
        scratch.read_random(&mut page, &mut SplitMix64::new(SEED), 10).unwrap();
        drop(scratch);
        assert!(!path.exists());
    }
}
