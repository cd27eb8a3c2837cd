//! Crash recovery: replays every WAL file left in the directory, oldest first, skipping
//! what the manifest says is already in SSTables, and ignoring a torn tail in the newest.

use std::path::Path;

use super::reader::{decode_payload, parse_records};
use super::wal_file_name;
use crate::entry::Entry;
use crate::error::{Error, IoContext, Result};

/// What replay found.
pub(crate) struct Replayed {
    pub entries: Vec<Entry>,
    pub max_seq: u64,
}

/// Replays `wal_ids` (sorted ascending). Entries with `seq <= flushed_seq` are already
/// in tables and are skipped.
pub(crate) fn replay(dir: &Path, wal_ids: &[u64], flushed_seq: u64) -> Result<Replayed> {
    let mut replayed = Replayed { entries: Vec::new(), max_seq: flushed_seq };
    for (position, &id) in wal_ids.iter().enumerate() {
        let path = dir.join(wal_file_name(id));
        let bytes = std::fs::read(&path).at(&path)?;
        let newest = position + 1 == wal_ids.len();
        let parsed = parse_records(&bytes, &path, newest)?;
        if let Some(offset) = parsed.torn_tail_at {
            tracing::warn!(file = %path.display(), offset, "ignoring torn WAL tail");
        }
        let mut record_offset = 0u64;
        for record in parsed.records {
            let entries = decode_payload(&record).ok_or_else(|| {
                Error::corruption(&path, record_offset, "undecodable WAL record payload")
            })?;
            record_offset += (record.len() + super::RECORD_HEADER_BYTES) as u64;
            for entry in entries {
                if entry.seq > flushed_seq {
                    replayed.max_seq = replayed.max_seq.max(entry.seq);
                    replayed.entries.push(entry);
                }
            }
        }
    }
    Ok(replayed)
}
