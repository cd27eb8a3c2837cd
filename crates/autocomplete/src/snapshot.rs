//! The Trie DB as a serialized snapshot (book figure 13-10, the document-store form).
//!
//! The file is the trie's arrays as they are in memory, little-endian:
//!
//! ```text
//! magic "BPACTRIE" | version u32 | cached_k u32 | max_prefix_chars u32
//! then 11 sections, each: length u64 (elements) | elements (u8 or u32 LE)
//!   key_text, key_ends, weights, display_ids, display_ends, display_text,
//!   node_lo, node_first_child, node_byte, big_bits (u64 LE), top
//! CRC-32 (IEEE) of every byte before it, u32
//! ```
//!
//! [`write()`] goes to a temporary file beside the target, syncs it, renames it over the
//! target and syncs the folder, so a crash leaves the previous snapshot or the new one,
//! never half of one. [`read()`] checks the magic, the version, the checksum and then every
//! structural invariant the lookups index by, so a damaged file is a typed error, never a
//! panic or a wrong answer served.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::SnapshotError;
use crate::trie::Trie;

/// The first eight bytes of every snapshot.
pub const MAGIC: &[u8; 8] = b"BPACTRIE";

/// The format version written and read.
pub const FORMAT_VERSION: u32 = 1;

/// Writes `trie` to `path` atomically (temporary file, fsync, rename, fsync folder).
pub fn write(trie: &Trie, path: &Path) -> Result<(), SnapshotError> {
    let temporary = temporary_path(path);
    let io = |source| SnapshotError::Io { path: temporary.clone(), source };
    let file = File::create(&temporary).map_err(io)?;
    let mut out = Crc32Writer {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: crc32fast::Hasher::new(),
    };
    write_body(trie, &mut out).map_err(io)?;
    let checksum = out.hasher.clone().finalize();
    out.inner.write_all(&checksum.to_le_bytes()).map_err(io)?;
    let file = out.inner.into_inner().map_err(|error| io(error.into_error()))?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&temporary, path)
        .map_err(|source| SnapshotError::Io { path: path.to_owned(), source })?;
    if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        File::open(folder)
            .and_then(|folder| folder.sync_all())
            .map_err(|source| SnapshotError::Io { path: folder.to_owned(), source })?;
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|name| name.to_os_string()).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

struct Crc32Writer<W: Write> {
    inner: W,
    hasher: crc32fast::Hasher,
}

impl<W: Write> Crc32Writer<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hasher.update(bytes);
        self.inner.write_all(bytes)
    }

    fn put_bytes_section(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.put(&(bytes.len() as u64).to_le_bytes())?;
        self.put(bytes)
    }

    fn put_u32_section(&mut self, values: &[u32]) -> std::io::Result<()> {
        self.put(&(values.len() as u64).to_le_bytes())?;
        for chunk in values.chunks(4096) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|value| value.to_le_bytes()).collect();
            self.put(&bytes)?;
        }
        Ok(())
    }
}

fn write_body<W: Write>(trie: &Trie, out: &mut Crc32Writer<W>) -> std::io::Result<()> {
    out.put(MAGIC)?;
    out.put(&FORMAT_VERSION.to_le_bytes())?;
    out.put(&u32::from(trie.cached_k).to_le_bytes())?;
    out.put(&u32::from(trie.max_prefix_chars).to_le_bytes())?;
    out.put_bytes_section(trie.key_text.as_bytes())?;
    out.put_u32_section(&trie.key_ends)?;
    out.put_u32_section(&trie.weights)?;
    out.put_u32_section(&trie.display_ids)?;
    out.put_u32_section(&trie.display_ends)?;
    out.put_bytes_section(trie.display_text.as_bytes())?;
    out.put_u32_section(&trie.node_lo)?;
    out.put_u32_section(&trie.node_first_child)?;
    out.put_bytes_section(&trie.node_byte)?;
    out.put(&(trie.big_bits.len() as u64).to_le_bytes())?;
    let bits: Vec<u8> = trie.big_bits.iter().flat_map(|word| word.to_le_bytes()).collect();
    out.put(&bits)?;
    out.put_u32_section(&trie.top)
}

/// Reads and fully checks the snapshot at `path`.
pub fn read(path: &Path) -> Result<Trie, SnapshotError> {
    let bytes =
        fs::read(path).map_err(|source| SnapshotError::Io { path: path.to_owned(), source })?;
    decode(&bytes, path)
}

/// Decodes snapshot bytes (`path` is only named in errors).
pub fn decode(bytes: &[u8], path: &Path) -> Result<Trie, SnapshotError> {
    let path_buf = || path.to_owned();
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(SnapshotError::BadMagic { path: path_buf() });
    }
    let (body, trailer) = bytes.split_at(bytes.len() - 4);
    let mut reader = Reader { bytes: body, offset: MAGIC.len(), path };
    let version = reader.u32()?;
    if version != FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion {
            path: path_buf(),
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    let expected = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let found = crc32fast::hash(body);
    if found != expected {
        return Err(SnapshotError::ChecksumMismatch { path: path_buf(), found, expected });
    }
    let invalid = |reason: String| SnapshotError::Invalid { path: path.to_owned(), reason };
    let cached_k = u8::try_from(reader.u32()?).map_err(|_| invalid("cached k".into()))?;
    let max_prefix_chars =
        u8::try_from(reader.u32()?).map_err(|_| invalid("max prefix chars".into()))?;
    let key_text = reader.text()?;
    let key_ends = reader.u32s()?;
    let weights = reader.u32s()?;
    let display_ids = reader.u32s()?;
    let display_ends = reader.u32s()?;
    let display_text = reader.text()?;
    let node_lo = reader.u32s()?;
    let node_first_child = reader.u32s()?;
    let node_byte = reader.bytes_section()?.to_vec();
    let big_words = reader.length(8)?;
    let big_bits = reader
        .take(big_words * 8)?
        .chunks_exact(8)
        .map(|chunk| {
            u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ])
        })
        .collect();
    let top = reader.u32s()?;
    if reader.offset != body.len() {
        return Err(invalid(format!(
            "{} bytes after the last section",
            body.len() - reader.offset
        )));
    }
    let mut trie = Trie {
        cached_k,
        max_prefix_chars,
        key_text,
        key_ends,
        weights,
        display_ids,
        display_ends,
        display_text,
        node_lo,
        node_first_child,
        node_byte,
        big_bits,
        big_rank: Vec::new(),
        top,
    };
    if trie.key_ends.len() != trie.weights.len() + 1 {
        return Err(invalid("key offsets and weights disagree".into()));
    }
    trie.index_big();
    trie.validate().map_err(invalid)?;
    Ok(trie)
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.offset.checked_add(len).filter(|end| *end <= self.bytes.len());
        let Some(end) = end else {
            return Err(SnapshotError::Truncated { path: self.path.to_owned() });
        };
        let slice = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// A section length in elements of `width` bytes, refused if the file is shorter.
    fn length(&mut self, width: usize) -> Result<usize, SnapshotError> {
        let bytes = self.take(8)?;
        let len = u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ]);
        let remaining = (self.bytes.len() - self.offset) as u64;
        if len.saturating_mul(width as u64) > remaining {
            return Err(SnapshotError::Truncated { path: self.path.to_owned() });
        }
        Ok(len as usize)
    }

    fn bytes_section(&mut self) -> Result<&'a [u8], SnapshotError> {
        let len = self.length(1)?;
        self.take(len)
    }

    fn text(&mut self) -> Result<String, SnapshotError> {
        let start = self.offset;
        let bytes = self.bytes_section()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| SnapshotError::Invalid {
            path: self.path.to_owned(),
            reason: format!("text section at byte {start} is not UTF-8"),
        })
    }

    fn u32s(&mut self) -> Result<Vec<u32>, SnapshotError> {
        let len = self.length(4)?;
        Ok(self
            .take(len * 4)?
            .chunks_exact(4)
            .map(|chunk| u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie::TrieBuilder;

    fn sample() -> Trie {
        let mut builder = TrieBuilder::new(3, 50).expect("valid parameters");
        for (query, weight) in
            [("apple", 9), ("Apple Pie", 7), ("app", 5), ("banana", 4), ("band", 4), ("東京", 3)]
        {
            let query = crate::normalize::Query::parse(query).expect("valid query");
            builder.push(&query, weight).expect("fits");
        }
        builder.build()
    }

    #[test]
    fn a_written_snapshot_reads_back_equal() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("trie.snap");
        let trie = sample();
        write(&trie, &path).expect("written");
        assert_eq!(read(&path).expect("read"), trie);
        assert!(!temporary_path(&path).exists());
    }

    #[test]
    fn every_flipped_byte_is_a_typed_error() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("trie.snap");
        write(&sample(), &path).expect("written");
        let good = fs::read(&path).expect("read back");
        for index in 0..good.len() {
            let mut bad = good.clone();
            bad[index] ^= 0x40;
            assert!(decode(&bad, &path).is_err(), "flipping byte {index} went unnoticed");
        }
    }

    #[test]
    fn a_truncated_snapshot_is_refused() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("trie.snap");
        write(&sample(), &path).expect("written");
        let good = fs::read(&path).expect("read back");
        for len in [0, 5, 12, good.len() / 2, good.len() - 1] {
            assert!(decode(&good[..len], &path).is_err(), "{len} bytes accepted");
        }
    }

    #[test]
    fn a_file_that_is_not_a_snapshot_says_bad_magic() {
        let path = Path::new("not-a-snapshot");
        assert!(matches!(
            decode(b"hello world, not a trie", path),
            Err(SnapshotError::BadMagic { .. })
        ));
    }

    #[test]
    fn a_valid_checksum_over_impossible_arrays_is_still_refused() {
        let mut trie = sample();
        trie.node_first_child[1] = 0; // a child before its parent
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("trie.snap");
        write(&trie, &path).expect("written");
        assert!(matches!(read(&path), Err(SnapshotError::Invalid { .. })));
    }
}
