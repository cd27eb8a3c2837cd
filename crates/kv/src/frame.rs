//! RESP2 frames: parsing what clients send (arrays of bulk strings, or inline commands as
//! typed into `telnet`) and encoding what the server answers.
//!
//! The parser never panics and never allocates more than the bytes it has been given:
//! every length is checked against a named limit before anything is reserved.

use std::borrow::Cow;

use bytes::{BufMut, Bytes, BytesMut};

/// Largest bulk string: 512 MiB, Redis's `proto-max-bulk-len` default. The configured
/// `max_request_bytes` usually bounds a request well below this.
pub const MAX_BULK_BYTES: usize = 512 * 1024 * 1024;
/// Most elements in one array: 1 Mi, so a hostile `*999999999` header cannot make the
/// server reserve a huge vector before a single element arrived.
pub const MAX_ARRAY_ELEMENTS: usize = 1024 * 1024;
/// Deepest nesting of arrays: clients only send flat arrays; a bound keeps a hostile
/// `*1\r\n*1\r\n…` from recursing without end.
pub const MAX_NESTING_DEPTH: usize = 8;
/// Longest header or inline-command line (`*3`, `$5`, `+OK`, `GET key`): 64 KiB, as
/// Redis's inline limit.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One RESP2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+OK`: a short status without CR or LF.
    Simple(Cow<'static, str>),
    /// `-ERR message`: an error reply, without CR or LF.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`: binary-safe bytes.
    Bulk(Bytes),
    /// `$-1`: the null bulk string (a missing key).
    Null,
    /// `*2\r\n…`: an ordered list of frames.
    Array(Vec<Frame>),
    /// `%1\r\n…` in RESP3 (`HELLO`, `CONFIG GET`); a flat array of key, value, … in RESP2.
    Map(Vec<(Frame, Frame)>),
}

/// The protocol a connection speaks: RESP2 until the client says `HELLO 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, every client's default.
    #[default]
    Resp2,
    /// RESP3: typed nulls and maps.
    Resp3,
}

impl Protocol {
    /// The number `HELLO` names it by.
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// Why bytes are not a valid frame. The server answers `-ERR Protocol error: …` and
/// closes the connection, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A type byte that RESP2 does not define.
    #[error("invalid frame type byte {byte:#04x}")]
    InvalidType {
        /// The byte found.
        byte: u8,
    },
    /// A length or integer line that is not a decimal number.
    #[error("invalid {what} `{line}`")]
    InvalidNumber {
        /// What was expected (`bulk length`, `array length`, `integer`).
        what: &'static str,
        /// The line found, lossily decoded.
        line: String,
    },
    /// A length beyond a limit.
    #[error("{what} of {len} exceeds the limit of {max}")]
    TooLarge {
        /// What is too large.
        what: &'static str,
        /// Its declared size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A bulk string not followed by CRLF.
    #[error("bulk string not terminated by CRLF")]
    MissingCrlf,
    /// A simple string or error line that is not UTF-8.
    #[error("line is not UTF-8")]
    NotUtf8,
    /// An inline command with an unbalanced quote.
    #[error("unbalanced quotes in inline command")]
    UnbalancedQuotes,
}

/// Limits for one parse, from the server's configuration.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// Largest request in bytes: a bulk string or a whole frame larger than this is refused.
    pub max_request_bytes: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        Self { max_request_bytes: MAX_BULK_BYTES }
    }
}

impl Frame {
    /// Parses one frame from the start of `buffer`: `Ok(Some((frame, consumed)))` if a whole
    /// frame is there, `Ok(None)` if more bytes are needed, an error if the bytes can never
    /// become a frame. A line not starting with a type byte is an inline command.
    pub fn parse(
        buffer: &[u8],
        limits: ParseLimits,
    ) -> Result<Option<(Frame, usize)>, ProtocolError> {
        let mut cursor = Cursor { buffer, position: 0, limits };
        match buffer.first() {
            None => Ok(None),
            Some(b'+' | b'-' | b':' | b'$' | b'*') => match cursor.frame(0)? {
                Some(frame) => Ok(Some((frame, cursor.position))),
                None => {
                    check_buffered(buffer.len(), limits)?;
                    Ok(None)
                }
            },
            Some(_) => match cursor.line(true)? {
                Some(line) => Ok(Some((inline(line)?, cursor.position))),
                None => Ok(None),
            },
        }
    }

    /// Appends the RESP2 encoding of this frame to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        self.encode_as(out, Protocol::Resp2);
    }

    /// Appends the encoding of this frame in `protocol` to `out`.
    pub fn encode_as(&self, out: &mut BytesMut, protocol: Protocol) {
        match self {
            Frame::Simple(text) => line(out, b'+', text.as_bytes()),
            Frame::Error(text) => line(out, b'-', text.as_bytes()),
            Frame::Integer(value) => number_line(out, b':', *value),
            Frame::Bulk(bytes) => {
                length_line(out, b'$', bytes.len());
                out.put_slice(bytes);
                out.put_slice(b"\r\n");
            }
            Frame::Null => match protocol {
                Protocol::Resp2 => out.put_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.put_slice(b"_\r\n"),
            },
            Frame::Array(items) => {
                length_line(out, b'*', items.len());
                for item in items {
                    item.encode_as(out, protocol);
                }
            }
            Frame::Map(pairs) => {
                match protocol {
                    Protocol::Resp2 => length_line(out, b'*', pairs.len() * 2),
                    Protocol::Resp3 => length_line(out, b'%', pairs.len()),
                }
                for (key, value) in pairs {
                    key.encode_as(out, protocol);
                    value.encode_as(out, protocol);
                }
            }
        }
    }

    /// `+OK`.
    pub fn ok() -> Frame {
        Frame::Simple(Cow::Borrowed("OK"))
    }

    /// A bulk string from anything byte-like.
    pub fn bulk(bytes: impl Into<Bytes>) -> Frame {
        Frame::Bulk(bytes.into())
    }

    /// An error reply; CR and LF are replaced so the reply stays one line.
    pub fn error(message: impl Into<String>) -> Frame {
        Frame::Error(message.into().replace(['\r', '\n'], " "))
    }
}

fn line(out: &mut BytesMut, kind: u8, body: &[u8]) {
    out.reserve(body.len() + 3);
    out.put_u8(kind);
    out.put_slice(body);
    out.put_slice(b"\r\n");
}

/// `kind`, then `value` in decimal, then CRLF, without a `String` in between (a length
/// line precedes every bulk reply: one allocation per `GET` before).
fn number_line(out: &mut BytesMut, kind: u8, value: i64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.reserve(digits.len() - start + 4);
    out.put_u8(kind);
    if value < 0 {
        out.put_u8(b'-');
    }
    out.put_slice(&digits[start..]);
    out.put_slice(b"\r\n");
}

/// [`number_line`] for a length (a length never exceeds `i64::MAX` bytes or items).
fn length_line(out: &mut BytesMut, kind: u8, len: usize) {
    number_line(out, kind, i64::try_from(len).unwrap_or(i64::MAX));
}

fn check_buffered(len: usize, limits: ParseLimits) -> Result<(), ProtocolError> {
    if len > limits.max_request_bytes {
        return Err(ProtocolError::TooLarge {
            what: "request",
            len,
            max: limits.max_request_bytes,
        });
    }
    Ok(())
}

struct Cursor<'a> {
    buffer: &'a [u8],
    position: usize,
    limits: ParseLimits,
}

impl<'a> Cursor<'a> {
    /// The next CRLF-terminated line (without CRLF), or `None` if it has not all arrived.
    /// `bare_lf` accepts a lone LF as the terminator, as inline commands from `telnet` end.
    fn line(&mut self, bare_lf: bool) -> Result<Option<&'a [u8]>, ProtocolError> {
        let rest = &self.buffer[self.position..];
        let searched = &rest[..rest.len().min(MAX_LINE_BYTES + 2)];
        let found = if bare_lf {
            // The inline parser strips the CR of a CRLF.
            searched.iter().position(|&byte| byte == b'\n').map(|end| (end, end + 1))
        } else {
            searched.windows(2).position(|pair| pair == b"\r\n").map(|end| (end, end + 2))
        };
        match found {
            Some((end, next)) => {
                self.position += next;
                Ok(Some(&rest[..end]))
            }
            None => self.unterminated(rest.len()),
        }
    }

    fn unterminated(&self, len: usize) -> Result<Option<&'a [u8]>, ProtocolError> {
        if len > MAX_LINE_BYTES {
            return Err(ProtocolError::TooLarge { what: "line", len, max: MAX_LINE_BYTES });
        }
        Ok(None)
    }

    fn frame(&mut self, depth: usize) -> Result<Option<Frame>, ProtocolError> {
        let Some(&kind) = self.buffer.get(self.position) else { return Ok(None) };
        self.position += 1;
        let Some(body) = self.line(false)? else { return Ok(None) };
        match kind {
            b'+' => Ok(Some(Frame::Simple(utf8(body)?.into()))),
            b'-' => Ok(Some(Frame::Error(utf8(body)?))),
            b':' => Ok(Some(Frame::Integer(number(body, "integer")?))),
            b'$' => self.bulk(body),
            b'*' => self.array(body, depth),
            byte => Err(ProtocolError::InvalidType { byte }),
        }
    }

    fn bulk(&mut self, header: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        let len = number(header, "bulk length")?;
        if len == -1 {
            return Ok(Some(Frame::Null));
        }
        let len = length(len, "bulk length")?;
        let max = MAX_BULK_BYTES.min(self.limits.max_request_bytes);
        if len > max {
            return Err(ProtocolError::TooLarge { what: "bulk length", len, max });
        }
        let start = self.position;
        let Some(end) = start.checked_add(len) else { return Ok(None) };
        if self.buffer.len() < end + 2 {
            return Ok(None);
        }
        if &self.buffer[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::MissingCrlf);
        }
        self.position = end + 2;
        Ok(Some(Frame::Bulk(Bytes::copy_from_slice(&self.buffer[start..end]))))
    }

    fn array(&mut self, header: &[u8], depth: usize) -> Result<Option<Frame>, ProtocolError> {
        let len = number(header, "array length")?;
        if len == -1 {
            return Ok(Some(Frame::Null));
        }
        let len = length(len, "array length")?;
        if len > MAX_ARRAY_ELEMENTS {
            return Err(ProtocolError::TooLarge {
                what: "array length",
                len,
                max: MAX_ARRAY_ELEMENTS,
            });
        }
        if depth + 1 > MAX_NESTING_DEPTH {
            return Err(ProtocolError::TooLarge {
                what: "nesting depth",
                len: depth + 1,
                max: MAX_NESTING_DEPTH,
            });
        }
        // Reserve no more than the bytes present could hold (each element is ≥ 3 bytes).
        let mut items = Vec::with_capacity(len.min((self.buffer.len() - self.position) / 3));
        for _ in 0..len {
            match self.frame(depth + 1)? {
                Some(item) => items.push(item),
                None => return Ok(None),
            }
        }
        Ok(Some(Frame::Array(items)))
    }
}

fn utf8(bytes: &[u8]) -> Result<String, ProtocolError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ProtocolError::NotUtf8)
}

fn number(line: &[u8], what: &'static str) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line).ok().and_then(|text| text.parse::<i64>().ok()).ok_or_else(|| {
        ProtocolError::InvalidNumber { what, line: String::from_utf8_lossy(line).into_owned() }
    })
}

fn length(value: i64, what: &'static str) -> Result<usize, ProtocolError> {
    usize::try_from(value)
        .map_err(|_| ProtocolError::InvalidNumber { what, line: value.to_string() })
}

/// An inline command: words separated by spaces; double or single quotes group words.
fn inline(line: &[u8]) -> Result<Frame, ProtocolError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut words = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut quote: Option<u8> = None;
    for &byte in line {
        match (quote, byte) {
            (Some(open), _) if byte == open => quote = None,
            (Some(_), _) => current.get_or_insert_with(Vec::new).push(byte),
            (None, b'"' | b'\'') => {
                quote = Some(byte);
                current.get_or_insert_with(Vec::new);
            }
            (None, b' ' | b'\t') => {
                if let Some(word) = current.take() {
                    words.push(Frame::Bulk(word.into()));
                }
            }
            (None, _) => current.get_or_insert_with(Vec::new).push(byte),
        }
    }
    if quote.is_some() {
        return Err(ProtocolError::UnbalancedQuotes);
    }
    if let Some(word) = current {
        words.push(Frame::Bulk(word.into()));
    }
    Ok(Frame::Array(words))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn encoded(frame: &Frame) -> BytesMut {
        let mut out = BytesMut::new();
        frame.encode(&mut out);
        out
    }

    fn parse(bytes: &[u8]) -> Result<Option<(Frame, usize)>, ProtocolError> {
        Frame::parse(bytes, ParseLimits::default())
    }

    fn any_frame() -> impl Strategy<Value = Frame> {
        let line = "[a-zA-Z0-9 :_.-]{0,20}";
        let leaf = prop_oneof![
            line.prop_map(|text| Frame::Simple(text.into())),
            line.prop_map(Frame::Error),
            any::<i64>().prop_map(Frame::Integer),
            proptest::collection::vec(any::<u8>(), 0..64).prop_map(|v| Frame::Bulk(v.into())),
            Just(Frame::Null),
        ];
        leaf.prop_recursive(3, 32, 8, |inner| {
            proptest::collection::vec(inner, 0..8).prop_map(Frame::Array)
        })
    }

    #[test]
    fn integers_and_lengths_are_written_in_decimal_at_the_extremes() {
        for (value, text) in [(0, "0"), (-1, "-1"), (42, "42"), (i64::MIN, "-9223372036854775808")]
        {
            assert_eq!(&encoded(&Frame::Integer(value))[..], format!(":{text}\r\n").as_bytes());
        }
        let max = Frame::Integer(i64::MAX);
        assert_eq!(&encoded(&max)[..], b":9223372036854775807\r\n");
        let bulk = Frame::bulk(vec![b'x'; 1234]);
        assert!(encoded(&bulk).starts_with(b"$1234\r\nxx"));
    }

    proptest! {
        #[test]
        fn every_encoded_frame_parses_back_to_itself(frame in any_frame()) {
            let bytes = encoded(&frame);
            let (parsed, consumed) = parse(&bytes).unwrap().unwrap();
            prop_assert_eq!(parsed, frame);
            prop_assert_eq!(consumed, bytes.len());
        }

        #[test]
        fn every_strict_prefix_of_a_frame_asks_for_more_bytes(frame in any_frame()) {
            let bytes = encoded(&frame);
            for cut in 1..bytes.len() {
                prop_assert_eq!(parse(&bytes[..cut]).unwrap(), None);
            }
        }

        #[test]
        fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn random_bytes_after_a_type_byte_never_panic_the_parser(
            kind in prop::sample::select(vec![b'+', b'-', b':', b'$', b'*']),
            bytes in proptest::collection::vec(prop::sample::select(b"0123456789-*$\r\n:+x".to_vec()), 0..64),
        ) {
            let mut input = vec![kind];
            input.extend(bytes);
            let _ = parse(&input);
        }
    }

    #[test]
    fn an_inline_command_splits_on_spaces_and_honours_quotes() {
        let (frame, consumed) = parse(b"SET k \"hello world\"\r\nGET").unwrap().unwrap();
        let expected =
            Frame::Array(vec![Frame::bulk("SET"), Frame::bulk("k"), Frame::bulk("hello world")]);
        assert_eq!(frame, expected);
        assert_eq!(consumed, 21);
    }

    #[test]
    fn a_bulk_length_beyond_the_request_limit_is_refused_before_it_arrives() {
        let limits = ParseLimits { max_request_bytes: 1024 };
        let error = Frame::parse(b"*1\r\n$2048\r\n", limits).unwrap_err();
        assert!(matches!(error, ProtocolError::TooLarge { what: "bulk length", .. }));
    }

    #[test]
    fn a_huge_array_header_is_refused_without_reserving_memory() {
        let error = parse(b"*999999999999\r\n").unwrap_err();
        assert!(matches!(error, ProtocolError::TooLarge { what: "array length", .. }));
    }

    #[test]
    fn a_bulk_string_without_its_crlf_is_a_protocol_error() {
        assert_eq!(parse(b"$3\r\nfooXY").unwrap_err(), ProtocolError::MissingCrlf);
    }

    #[test]
    fn a_non_numeric_length_is_a_protocol_error() {
        assert!(matches!(parse(b"*x\r\n"), Err(ProtocolError::InvalidNumber { .. })));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let input = "*1\r\n".repeat(MAX_NESTING_DEPTH + 1);
        assert!(matches!(parse(input.as_bytes()), Err(ProtocolError::TooLarge { .. })));
    }

    #[test]
    fn resp3_has_a_typed_null_and_maps_while_resp2_flattens_them() {
        let map = Frame::Map(vec![(Frame::bulk("a"), Frame::Null)]);
        let mut resp2 = BytesMut::new();
        map.encode_as(&mut resp2, Protocol::Resp2);
        assert_eq!(&resp2[..], b"*2\r\n$1\r\na\r\n$-1\r\n");
        let mut resp3 = BytesMut::new();
        map.encode_as(&mut resp3, Protocol::Resp3);
        assert_eq!(&resp3[..], b"%1\r\n$1\r\na\r\n_\r\n");
    }
}
