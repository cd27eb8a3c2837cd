//! The fixed-size footer at the end of every SSTable: where the index, bloom filter and
//! properties blocks are, the format version and a magic number, under a CRC.

use crate::entry::Cursor;

/// "BPLSMSST" in ASCII: identifies a Blueprint SSTable.
pub(crate) const TABLE_MAGIC: u64 = u64::from_le_bytes(*b"BPLSMSST");
/// Bumped on any incompatible change of the table format. Version 2 (the one written)
/// has blocked bloom filters; version 1 tables (standard filters) are still read.
pub(crate) const TABLE_FORMAT_VERSION: u32 = 2;
/// The oldest format version still read.
pub(crate) const OLDEST_READABLE_FORMAT_VERSION: u32 = 1;
/// Three handles of 16 bytes, version, magic, CRC.
pub(crate) const FOOTER_BYTES: usize = 3 * 16 + 4 + 8 + 4;

/// Where a block lives in the file (including its trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BlockHandle {
    pub offset: u64,
    pub len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub index: BlockHandle,
    pub bloom: BlockHandle,
    pub properties: BlockHandle,
    /// The table's format version (decides the bloom filter's layout).
    pub version: u32,
}

impl Footer {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_BYTES);
        for handle in [self.index, self.bloom, self.properties] {
            out.extend_from_slice(&handle.offset.to_le_bytes());
            out.extend_from_slice(&handle.len.to_le_bytes());
        }
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&TABLE_MAGIC.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a footer; the error says which check failed.
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        if bytes.len() != FOOTER_BYTES {
            return Err("file too short for a footer");
        }
        let (body, crc) = bytes.split_at(FOOTER_BYTES - 4);
        let mut cursor = Cursor::new(body);
        let mut handle = || -> Option<BlockHandle> {
            Some(BlockHandle { offset: cursor.u64()?, len: cursor.u64()? })
        };
        let (Some(index), Some(bloom), Some(properties)) = (handle(), handle(), handle()) else {
            return Err("truncated footer");
        };
        let mut cursor = Cursor::new(&body[48..]);
        let version = cursor.u32().ok_or("truncated footer")?;
        let magic = cursor.u64().ok_or("truncated footer")?;
        if magic != TABLE_MAGIC {
            return Err("bad magic number: not an SSTable");
        }
        let stored_crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32fast::hash(body) != stored_crc {
            return Err("footer checksum mismatch");
        }
        if !(OLDEST_READABLE_FORMAT_VERSION..=TABLE_FORMAT_VERSION).contains(&version) {
            return Err("unsupported table format version");
        }
        Ok(Self { index, bloom, properties, version })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Footer {
        Footer {
            index: BlockHandle { offset: 100, len: 20 },
            bloom: BlockHandle { offset: 120, len: 30 },
            properties: BlockHandle { offset: 150, len: 40 },
            version: TABLE_FORMAT_VERSION,
        }
    }

    #[test]
    fn a_version_from_the_future_is_refused_and_version_one_is_read() {
        let future = Footer { version: TABLE_FORMAT_VERSION + 1, ..sample() };
        assert_eq!(Footer::decode(&future.encode()), Err("unsupported table format version"));
        let old = Footer { version: 1, ..sample() };
        assert_eq!(Footer::decode(&old.encode()), Ok(old));
    }

    #[test]
    fn a_footer_round_trips() {
        assert_eq!(Footer::decode(&sample().encode()), Ok(sample()));
    }

    #[test]
    fn a_wrong_magic_number_is_named_in_the_error() {
        let mut bytes = sample().encode();
        bytes[FOOTER_BYTES - 8] ^= 0xff;
        assert_eq!(Footer::decode(&bytes), Err("bad magic number: not an SSTable"));
    }

    #[test]
    fn a_flipped_handle_byte_fails_the_checksum() {
        let mut bytes = sample().encode();
        bytes[3] ^= 0x01;
        assert_eq!(Footer::decode(&bytes), Err("footer checksum mismatch"));
    }
}
