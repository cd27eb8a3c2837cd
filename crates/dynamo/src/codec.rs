//! The compact binary encoding shared by storage records and RPC frames: LEB128 varints,
//! length-prefixed byte strings, single-byte tags. Hand-written because it is small and
//! hot (every replica write encodes an object), and because a new serialization
//! dependency is not worth three primitives.
//!
//! **What it is not:** self-describing; the reader must know the layout it expects.
//! Every length is checked against the bytes present before anything is allocated.

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended inside a value.
    #[error("input ended early")]
    Truncated,
    /// A varint longer than 10 bytes.
    #[error("varint too long")]
    VarintOverflow,
    /// A count larger than allowed.
    #[error("{what} count {count} exceeds {max}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The count found.
        count: u64,
        /// The limit.
        max: usize,
    },
    /// A tag byte with no meaning.
    #[error("unknown {what} tag {tag}")]
    BadTag {
        /// What the tag selects.
        what: &'static str,
        /// The byte found.
        tag: u8,
    },
    /// A string that is not UTF-8.
    #[error("string is not UTF-8")]
    NotUtf8,
    /// Bytes left after the value.
    #[error("{left} trailing bytes")]
    Trailing {
        /// How many.
        left: usize,
    },
}

/// An append-only encoder.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Writer {
        Writer { out: Vec::with_capacity(64) }
    }

    /// Wraps an existing buffer (appending to it).
    pub fn from_vec(out: Vec<u8>) -> Writer {
        Writer { out }
    }

    /// One byte.
    pub fn u8(&mut self, value: u8) {
        self.out.push(value);
    }

    /// An unsigned LEB128 varint.
    pub fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.out.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.out.push(value as u8);
    }

    /// Eight bytes, little-endian (hashes, where a varint would not be shorter).
    pub fn u64_fixed(&mut self, value: u64) {
        self.out.extend_from_slice(&value.to_le_bytes());
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, value: &[u8]) {
        self.varint(value.len() as u64);
        self.out.extend_from_slice(value);
    }

    /// A length-prefixed UTF-8 string.
    pub fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The encoding.
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }
}

/// A decoder over a byte slice.
#[derive(Debug)]
pub struct Reader<'a> {
    input: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    /// Reads `input` from its start.
    pub fn new(input: &'a [u8]) -> Reader<'a> {
        Reader { input, position: 0 }
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        let byte = *self.input.get(self.position).ok_or(DecodeError::Truncated)?;
        self.position += 1;
        Ok(byte)
    }

    /// An unsigned LEB128 varint.
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        for shift in (0..70).step_by(7) {
            let byte = self.u8()?;
            if shift == 63 && byte > 1 {
                return Err(DecodeError::VarintOverflow);
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::VarintOverflow)
    }

    /// Eight little-endian bytes.
    pub fn u64_fixed(&mut self) -> Result<u64, DecodeError> {
        let end = self.position.checked_add(8).ok_or(DecodeError::Truncated)?;
        let slice = self.input.get(self.position..end).ok_or(DecodeError::Truncated)?;
        self.position = end;
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(slice);
        Ok(u64::from_le_bytes(bytes))
    }

    /// A count, refused above `max` and above the bytes left (each item takes ≥ 1 byte).
    pub fn len_prefix(&mut self, max: usize) -> Result<usize, DecodeError> {
        let count = self.varint()?;
        let left = self.input.len() - self.position;
        if count > max as u64 || count > left as u64 {
            return Err(DecodeError::TooMany { what: "item", count, max: max.min(left) });
        }
        Ok(count as usize)
    }

    /// A length-prefixed byte string, borrowed.
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        let left = (self.input.len() - self.position) as u64;
        if len > left {
            return Err(DecodeError::Truncated);
        }
        let end = self.position + len as usize;
        let slice = &self.input[self.position..end];
        self.position = end;
        Ok(slice)
    }

    /// A length-prefixed UTF-8 string.
    pub fn string(&mut self) -> Result<String, DecodeError> {
        let bytes = self.bytes()?;
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| DecodeError::NotUtf8)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.input.len() - self.position
    }

    /// Fails when bytes are left over.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(DecodeError::Trailing { left }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_and_strings_round_trip(values in proptest::collection::vec(any::<u64>(), 0..8), text in ".{0,20}") {
            let mut out = Writer::new();
            for &v in &values { out.varint(v); }
            out.str(&text);
            let bytes = out.into_bytes();
            let mut input = Reader::new(&bytes);
            for &v in &values { prop_assert_eq!(input.varint(), Ok(v)); }
            prop_assert_eq!(input.string(), Ok(text));
            prop_assert_eq!(input.finish(), Ok(()));
        }
    }

    #[test]
    fn an_overlong_varint_is_an_error() {
        let bytes = [0xffu8; 11];
        assert_eq!(Reader::new(&bytes).varint(), Err(DecodeError::VarintOverflow));
    }

    #[test]
    fn a_length_beyond_the_input_is_truncated_not_an_allocation() {
        let mut out = Writer::new();
        out.varint(u64::MAX / 2);
        let bytes = out.into_bytes();
        assert_eq!(Reader::new(&bytes).bytes(), Err(DecodeError::Truncated));
    }
}
