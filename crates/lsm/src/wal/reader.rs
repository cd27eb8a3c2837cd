//! Reads WAL records back, verifying each CRC, and tells a torn tail (the last record
//! cut short by a crash: ignored) from corruption in the middle (an error naming the
//! file and offset).

use std::path::Path;

use super::{RECORD_HEADER_BYTES, record_crc};
use crate::batch::validate_key;
use crate::entry::{Cursor, Entry, Kind};
use crate::error::{Error, Result};

#[derive(Debug)]
pub(crate) struct ParsedWal {
    pub records: Vec<Vec<u8>>,
    /// Where the torn tail starts, when there was one.
    pub torn_tail_at: Option<u64>,
}

/// Splits `bytes` into record payloads. With `tolerate_torn_tail`, a last record that is
/// incomplete or fails its CRC (and a zero-filled tail) ends the log; any other bad
/// record is corruption.
pub(crate) fn parse_records(
    bytes: &[u8],
    path: &Path,
    tolerate_torn_tail: bool,
) -> Result<ParsedWal> {
    let mut records = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        match check_record(bytes, offset) {
            RecordCheck::Valid { payload, next } => {
                records.push(payload.to_vec());
                offset = next;
            }
            RecordCheck::Torn(reason) => {
                if tolerate_torn_tail {
                    return Ok(ParsedWal { records, torn_tail_at: Some(offset as u64) });
                }
                return Err(Error::corruption(path, offset as u64, reason));
            }
            RecordCheck::Corrupt(reason) => {
                return Err(Error::corruption(path, offset as u64, reason));
            }
        }
    }
    Ok(ParsedWal { records, torn_tail_at: None })
}

enum RecordCheck<'a> {
    Valid { payload: &'a [u8], next: usize },
    Torn(&'static str),
    Corrupt(&'static str),
}

fn check_record(bytes: &[u8], offset: usize) -> RecordCheck<'_> {
    let rest = &bytes[offset..];
    if rest.len() < RECORD_HEADER_BYTES {
        return RecordCheck::Torn("truncated record header");
    }
    let crc = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
    let len_bytes = [rest[4], rest[5], rest[6], rest[7]];
    let len = u32::from_le_bytes(len_bytes) as usize;
    let Some(payload) = rest.get(RECORD_HEADER_BYTES..RECORD_HEADER_BYTES + len) else {
        return RecordCheck::Torn("truncated record payload");
    };
    let next = offset + RECORD_HEADER_BYTES + len;
    if record_crc(len_bytes, payload) != crc {
        if next == bytes.len() {
            return RecordCheck::Torn("last record fails its checksum");
        }
        // Some file systems leave a zero-filled tail after a crash.
        if rest.iter().all(|&byte| byte == 0) {
            return RecordCheck::Torn("zero-filled tail");
        }
        return RecordCheck::Corrupt("record checksum mismatch");
    }
    RecordCheck::Valid { payload, next }
}

/// Decodes one record payload (see [`crate::batch::encode_wal_payload`]).
pub(crate) fn decode_payload(payload: &[u8]) -> Option<Vec<Entry>> {
    let mut cursor = Cursor::new(payload);
    let first_seq = cursor.u64()?;
    let count = cursor.u32()? as usize;
    // Each entry takes at least two bytes, so a count larger than that is a lie.
    if count > payload.len() / 2 {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    for index in 0..count as u64 {
        let kind = Kind::from_byte(cursor.u8()?)?;
        let key = cursor.length_prefixed()?.to_vec();
        validate_key(&key).ok()?;
        let value =
            if kind == Kind::Tombstone { Vec::new() } else { cursor.length_prefixed()?.to_vec() };
        let expires_at_ms = if kind == Kind::PutExpiring { cursor.u64()? } else { 0 };
        entries.push(Entry { key, seq: first_seq.checked_add(index)?, kind, expires_at_ms, value });
    }
    cursor.is_empty().then_some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::encode_wal_payload;
    use proptest::prelude::*;

    fn framed(payload: &[u8]) -> Vec<u8> {
        let len_bytes = (payload.len() as u32).to_le_bytes();
        let mut out = record_crc(len_bytes, payload).to_le_bytes().to_vec();
        out.extend_from_slice(&len_bytes);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_cut_short_last_record_is_a_torn_tail() {
        let mut bytes = framed(b"complete");
        let second = framed(b"cut short by the crash");
        bytes.extend_from_slice(&second[..second.len() - 3]);
        let parsed = parse_records(&bytes, Path::new("w"), true).expect("torn tail tolerated");
        assert_eq!(parsed.records, vec![b"complete".to_vec()]);
        assert_eq!(parsed.torn_tail_at, Some(framed(b"complete").len() as u64));
    }

    #[test]
    fn a_flipped_byte_in_a_middle_record_is_corruption_with_its_offset() {
        let mut bytes = framed(b"first");
        let second_at = bytes.len();
        bytes.extend_from_slice(&framed(b"second"));
        bytes.extend_from_slice(&framed(b"third"));
        bytes[second_at + 9] ^= 0x01;
        match parse_records(&bytes, Path::new("w.wal"), true) {
            Err(Error::Corruption { offset, file, .. }) => {
                assert_eq!(offset, second_at as u64);
                assert_eq!(file, Path::new("w.wal"));
            }
            other => panic!("expected corruption, got {other:?}"),
        }
    }

    #[test]
    fn a_torn_tail_in_an_older_log_is_corruption() {
        let bytes = framed(b"record");
        let result = parse_records(&bytes[..bytes.len() - 1], Path::new("w"), false);
        assert!(matches!(result, Err(Error::Corruption { .. })));
    }

    #[test]
    fn payloads_round_trip_through_the_encoder() {
        let entries = vec![
            Entry {
                key: b"a".to_vec(),
                seq: 5,
                kind: Kind::Put,
                expires_at_ms: 0,
                value: b"1".to_vec(),
            },
            Entry {
                key: b"b".to_vec(),
                seq: 6,
                kind: Kind::PutExpiring,
                expires_at_ms: 99,
                value: b"2".to_vec(),
            },
            Entry {
                key: b"c".to_vec(),
                seq: 7,
                kind: Kind::Tombstone,
                expires_at_ms: 0,
                value: Vec::new(),
            },
        ];
        let mut payload = Vec::new();
        encode_wal_payload(&entries, &mut payload);
        assert_eq!(decode_payload(&payload), Some(entries));
    }

    proptest! {
        // Fuzz harness: arbitrary bytes never panic the WAL reader or payload decoder.
        #[test]
        fn arbitrary_bytes_never_panic_the_wal_reader(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(parsed) = parse_records(&bytes, Path::new("fuzz"), true) {
                for record in parsed.records {
                    let _ = decode_payload(&record);
                }
            }
            let _ = decode_payload(&bytes);
        }

        #[test]
        fn valid_records_with_arbitrary_payloads_survive_framing(payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut bytes = Vec::new();
            for payload in &payloads {
                bytes.extend_from_slice(&framed(payload));
            }
            let parsed = parse_records(&bytes, Path::new("w"), false).expect("valid log");
            prop_assert_eq!(parsed.records, payloads);
        }
    }
}
