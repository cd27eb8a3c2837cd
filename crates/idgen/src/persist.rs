//! The persisted timestamp reservation: a tiny file holding "no ID of this node has a
//! timestamp at or after this millisecond". Written with temp file + fsync + rename +
//! directory fsync, so a crash leaves either the old or the new value, never a torn one.
//!
//! Like Leaf-snowflake's periodic report to ZooKeeper, but the value is reserved *ahead*
//! (now + window), so the generator never issues an ID past what is on disk, whatever the
//! cadence of the writes: a restart with the clock moved back can then refuse or wait
//! instead of repeating IDs.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The file's only line starts with this, so a wrong file is refused rather than parsed.
const MAGIC: &str = "blueprint-idgen reserved-until-ms ";

/// Why the reservation file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing failed.
    #[error("timestamp file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file exists but does not hold a reservation: refuse rather than guess.
    #[error("timestamp file {path} is corrupt: {content:?}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The first bytes found.
        content: String,
    },
}

/// A file holding one reserved timestamp (ms since the Unix epoch).
#[derive(Debug, Clone)]
pub struct TimestampFile {
    path: PathBuf,
}

impl TimestampFile {
    /// The file at `path` (it need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: std::io::Error) -> PersistError {
        PersistError::Io { path: self.path.clone(), source }
    }

    /// The stored value, or `None` when the file does not exist (first start).
    pub fn read(&self) -> Result<Option<u64>, PersistError> {
        let content = match fs::read_to_string(&self.path) {
            Ok(content) => content,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io_error(error)),
        };
        content
            .strip_prefix(MAGIC)
            .and_then(|rest| rest.trim_end().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| PersistError::Corrupt {
                path: self.path.clone(),
                content: content.chars().take(80).collect(),
            })
    }

    /// Replace the stored value durably.
    pub fn write(&self, value_ms: u64) -> Result<(), PersistError> {
        let temporary = self.path.with_extension("tmp");
        let mut file = File::create(&temporary).map_err(|e| self.io_error(e))?;
        writeln!(file, "{MAGIC}{value_ms}").map_err(|e| self.io_error(e))?;
        file.sync_all().map_err(|e| self.io_error(e))?;
        drop(file);
        fs::rename(&temporary, &self.path).map_err(|e| self.io_error(e))?;
        // The rename is durable only once the directory entry is.
        let directory = match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(directory).and_then(|dir| dir.sync_all()).map_err(|e| self.io_error(e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn missing_file_reads_as_none_and_written_value_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = TimestampFile::new(dir.path().join("node.ts"));
        assert_eq!(file.read().unwrap(), None);
        file.write(1_767_225_600_123).unwrap();
        assert_eq!(file.read().unwrap(), Some(1_767_225_600_123));
        file.write(7).unwrap();
        assert_eq!(file.read().unwrap(), Some(7));
    }

    #[test]
    fn a_foreign_file_is_refused_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.ts");
        fs::write(&path, "12345\n").unwrap();
        assert!(matches!(TimestampFile::new(path).read(), Err(PersistError::Corrupt { .. })));
    }
}
