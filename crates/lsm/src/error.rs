//! The engine's error type: one enum with named fields, so a caller can tell bad input
//! (a typed, recoverable error) from corruption (the engine refuses to serve the data)
//! from an I/O failure.

use std::path::PathBuf;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O call failed on `path`.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A checksum, magic number or structural check failed: the bytes at `offset` of
    /// `file` are not what the engine wrote. The engine never returns data from such a
    /// region.
    #[error("corruption in {} at offset {offset}: {reason}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset of the damaged record or block within `file`.
        offset: u64,
        /// What check failed.
        reason: String,
    },
    /// A key longer than [`crate::MAX_KEY_BYTES`].
    #[error("key is {len} bytes, the limit is {max}")]
    KeyTooLarge {
        /// The key's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A value longer than [`crate::MAX_VALUE_BYTES`].
    #[error("value is {len} bytes, the limit is {max}")]
    ValueTooLarge {
        /// The value's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A write batch whose encoded size exceeds [`crate::MAX_BATCH_BYTES`].
    #[error("write batch is {len} bytes, the limit is {max}")]
    BatchTooLarge {
        /// The batch's encoded size in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A TTL so large that the absolute expiry time overflows.
    #[error("ttl of {ttl_ms} ms overflows the clock")]
    TtlOverflow {
        /// The requested TTL in milliseconds.
        ttl_ms: u128,
    },
    /// An [`crate::Options`] field is out of its documented range.
    #[error("invalid option {field}: {reason}")]
    InvalidOptions {
        /// The offending field.
        field: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Another process (or another `Db` in this process) has the directory open.
    #[error("database directory {} is locked by another instance", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// A background flush or compaction failed earlier; the engine stopped accepting
    /// writes so that nothing is acknowledged that could not be persisted.
    #[error("engine stopped after a background failure: {reason}")]
    BackgroundFailed {
        /// The first background error.
        reason: String,
    },
    /// The commit group this write was part of failed; the leader saw the original error.
    #[error("write group failed: {reason}")]
    GroupCommitFailed {
        /// The leader's error, rendered.
        reason: String,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn corruption(
        file: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption { file: file.into(), offset, reason: reason.into() }
    }
}

/// Attaches a path to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::io(path, source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corruption_message_names_the_file_and_offset() {
        let error = Error::corruption("/data/000001.sst", 4096, "block checksum mismatch");
        let text = error.to_string();
        assert!(text.contains("/data/000001.sst"), "{text}");
        assert!(text.contains("4096"), "{text}");
        assert!(text.contains("checksum"), "{text}");
    }
}
