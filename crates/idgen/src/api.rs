//! The HTTP surface's types and pure parsing; the lead's router maps them to routes:
//!
//! - `GET /api/v1/ids?count=N&kind=snowflake|segment:<tag>|uuid7|ulid` → [`IdsResponse`]
//!   (`count` defaults to 1, at most [`MAX_COUNT`]; `kind` defaults to `snowflake`).
//! - `GET /api/v1/ids/{id}/decode` → [`DecodeResponse`] (Snowflake IDs).
//! - Errors: [`ErrorBody`], `{"error":{"code":"...","message":"..."}}` with
//!   [`ApiError::status`].
//!
//! IDs travel as decimal strings: JavaScript numbers lose precision above 2^53.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::layout::{Decoded, Layout};

/// The console page (`web/index.html`), for the binary to serve at `/ids/`.
pub const CONSOLE_HTML: &str = include_str!("../web/index.html");

/// Most IDs one request may ask for.
pub const MAX_COUNT: usize = 10_000;

/// A bad request, with a stable machine-readable code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `count` is not an integer in `1..=MAX_COUNT`.
    #[error("count must be an integer from 1 to {MAX_COUNT}, got {count:?}")]
    InvalidCount {
        /// The value sent.
        count: String,
    },
    /// `kind` is none of the known kinds.
    #[error("unknown kind {kind:?}: expected snowflake, segment:<biz_tag>, uuid7 or ulid")]
    UnknownKind {
        /// The value sent.
        kind: String,
    },
    /// No segment row for this biz tag.
    #[error("unknown biz tag {biz_tag:?}")]
    UnknownBizTag {
        /// The tag sent.
        biz_tag: String,
    },
    /// The ID to decode is not a non-negative 63-bit decimal integer.
    #[error("{id:?} is not a Snowflake ID (a decimal integer below 2^63)")]
    InvalidId {
        /// The value sent.
        id: String,
    },
}

impl ApiError {
    /// The stable code in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidCount { .. } => "invalid_count",
            ApiError::UnknownKind { .. } => "unknown_kind",
            ApiError::UnknownBizTag { .. } => "unknown_biz_tag",
            ApiError::InvalidId { .. } => "invalid_id",
        }
    }

    /// The HTTP status: 404 for a biz tag that does not exist, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::UnknownBizTag { .. } => 404,
            _ => 400,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code().to_owned(), message: self.to_string() } }
    }
}

/// `{"error":{"code":"...","message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// For people.
    pub message: String,
}

/// Which generator to draw from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdKind {
    /// The Snowflake generator.
    Snowflake,
    /// Leaf segment mode for a biz tag.
    Segment {
        /// The tag after `segment:`.
        biz_tag: String,
    },
    /// UUIDv7.
    Uuid7,
    /// ULID.
    Ulid,
}

/// Longest biz tag accepted (the column is unbounded; requests are not).
pub const MAX_BIZ_TAG_LEN: usize = 128;

impl FromStr for IdKind {
    type Err = ApiError;

    fn from_str(kind: &str) -> Result<Self, Self::Err> {
        match kind {
            "snowflake" => Ok(IdKind::Snowflake),
            "uuid7" => Ok(IdKind::Uuid7),
            "ulid" => Ok(IdKind::Ulid),
            _ => match kind.strip_prefix("segment:") {
                Some(tag)
                    if !tag.is_empty()
                        && tag.len() <= MAX_BIZ_TAG_LEN
                        && tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
                {
                    Ok(IdKind::Segment { biz_tag: tag.to_owned() })
                }
                Some(tag) => Err(ApiError::UnknownBizTag {
                    biz_tag: tag.chars().take(MAX_BIZ_TAG_LEN).collect(),
                }),
                None => Err(ApiError::UnknownKind { kind: kind.chars().take(64).collect() }),
            },
        }
    }
}

impl std::fmt::Display for IdKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdKind::Snowflake => formatter.write_str("snowflake"),
            IdKind::Segment { biz_tag } => write!(formatter, "segment:{biz_tag}"),
            IdKind::Uuid7 => formatter.write_str("uuid7"),
            IdKind::Ulid => formatter.write_str("ulid"),
        }
    }
}

/// The query string of `GET /api/v1/ids`, as sent (strings, so that bad values get our
/// error codes rather than the framework's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdsQuery {
    /// How many IDs, `1..=MAX_COUNT` (default 1).
    pub count: Option<String>,
    /// Which generator (default `snowflake`).
    pub kind: Option<String>,
}

/// A parsed, valid `GET /api/v1/ids` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdsRequest {
    /// Which generator.
    pub kind: IdKind,
    /// How many IDs, `1..=MAX_COUNT`.
    pub count: usize,
}

impl IdsRequest {
    /// Parse the query.
    pub fn parse(query: &IdsQuery) -> Result<Self, ApiError> {
        let count = match query.count.as_deref() {
            None => 1,
            Some(text) => parse_count(text)?,
        };
        let kind = query.kind.as_deref().unwrap_or("snowflake").parse()?;
        Ok(Self { kind, count })
    }
}

/// `count` as `1..=MAX_COUNT`.
pub fn parse_count(text: &str) -> Result<usize, ApiError> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|count| (1..=MAX_COUNT).contains(count))
        .ok_or_else(|| ApiError::InvalidCount { count: text.chars().take(32).collect() })
}

/// The `{id}` of the decode route as a Snowflake ID.
pub fn parse_id(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| id >> 63 == 0)
        .ok_or_else(|| ApiError::InvalidId { id: text.chars().take(32).collect() })
}

/// Body of `GET /api/v1/ids`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IdsResponse {
    /// The kind served, e.g. `segment:order`.
    pub kind: String,
    /// Number of IDs.
    pub count: usize,
    /// The IDs: decimal for 64-bit kinds, canonical text for UUIDv7 and ULID.
    pub ids: Vec<String>,
}

/// One field of an ID, for drawing the bit strip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BitField {
    /// `sign`, `timestamp`, `datacenter`, `worker` or `sequence`.
    pub name: String,
    /// Width in bits.
    pub bits: u32,
    /// The field's value.
    pub value: u64,
    /// The field's bits, most significant first, `bits` characters long.
    pub binary: String,
}

/// Body of `GET /api/v1/ids/{id}/decode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecodeResponse {
    /// The ID as a decimal string.
    pub id: String,
    /// Timestamp, ms since the Unix epoch.
    pub timestamp_ms: u64,
    /// Timestamp, RFC 3339 UTC.
    pub timestamp: String,
    /// Datacenter field.
    pub datacenter: u64,
    /// Worker field.
    pub worker: u64,
    /// Sequence field.
    pub sequence: u64,
    /// The layout's epoch, ms since the Unix epoch.
    pub epoch_ms: u64,
    /// The fields most significant first (they sum to 64 bits).
    pub fields: Vec<BitField>,
}

impl DecodeResponse {
    /// Build the body from a decoded ID and its layout.
    pub fn new(layout: &Layout, decoded: &Decoded) -> Self {
        let spec = layout.spec();
        let field = |name: &str, bits: u32, value: u64| BitField {
            name: name.to_owned(),
            bits,
            value,
            binary: if bits == 0 {
                String::new()
            } else {
                format!("{value:0width$b}", width = bits as usize)
            },
        };
        Self {
            id: decoded.id.to_string(),
            timestamp_ms: decoded.timestamp_ms,
            timestamp: decoded.timestamp.clone(),
            datacenter: decoded.datacenter,
            worker: decoded.worker,
            sequence: decoded.sequence,
            epoch_ms: spec.epoch_ms,
            fields: vec![
                field("sign", 1, 0),
                field("timestamp", spec.timestamp_bits, decoded.ticks),
                field("datacenter", spec.datacenter_bits, decoded.datacenter),
                field("worker", spec.worker_bits, decoded.worker),
                field("sequence", spec.sequence_bits, decoded.sequence),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::layout::LayoutSpec;

    fn query(count: Option<&str>, kind: Option<&str>) -> IdsQuery {
        IdsQuery { count: count.map(str::to_owned), kind: kind.map(str::to_owned) }
    }

    #[test]
    fn defaults_are_one_snowflake() {
        let request = IdsRequest::parse(&IdsQuery::default()).unwrap();
        assert_eq!(request, IdsRequest { kind: IdKind::Snowflake, count: 1 });
    }

    #[test]
    fn every_kind_parses_and_prints_back() {
        for kind in ["snowflake", "segment:order", "uuid7", "ulid"] {
            assert_eq!(kind.parse::<IdKind>().unwrap().to_string(), kind);
        }
    }

    #[test]
    fn bad_counts_are_invalid_count() {
        for count in ["0", "10001", "-1", "ten", ""] {
            let error = IdsRequest::parse(&query(Some(count), None)).unwrap_err();
            assert_eq!((error.code(), error.status()), ("invalid_count", 400), "{count}");
        }
        assert_eq!(IdsRequest::parse(&query(Some("10000"), None)).unwrap().count, 10_000);
    }

    #[test]
    fn unknown_kinds_and_tags_have_their_codes() {
        assert_eq!("uuid4".parse::<IdKind>().unwrap_err().code(), "unknown_kind");
        let error = "segment:".parse::<IdKind>().unwrap_err();
        assert_eq!((error.code(), error.status()), ("unknown_biz_tag", 404));
        assert_eq!("segment:a b".parse::<IdKind>().unwrap_err().code(), "unknown_biz_tag");
    }

    #[test]
    fn non_numeric_or_signed_ids_are_invalid_id() {
        assert_eq!(parse_id("abc").unwrap_err().code(), "invalid_id");
        assert_eq!(parse_id("9223372036854775808").unwrap_err().code(), "invalid_id");
        assert_eq!(parse_id("42").unwrap(), 42);
    }

    #[test]
    fn the_error_body_has_the_house_shape() {
        let body = serde_json::to_value(ApiError::InvalidId { id: "x".into() }.body()).unwrap();
        assert_eq!(body["error"]["code"], "invalid_id");
    }

    #[test]
    fn decode_response_fields_cover_64_bits() {
        let layout = LayoutSpec::snowflake().validate(1_767_225_600_000).unwrap();
        let id = layout.compose(5, 1, 2, 3);
        let body = DecodeResponse::new(&layout, &layout.decode(id).unwrap());
        assert_eq!(body.fields.iter().map(|field| field.bits).sum::<u32>(), 64);
        let bits: String = body.fields.iter().map(|field| field.binary.as_str()).collect();
        assert_eq!(u64::from_str_radix(&bits, 2).unwrap(), id);
    }
}
