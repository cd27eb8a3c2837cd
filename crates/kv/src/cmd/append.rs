//! `APPEND key value` and `STRLEN key`: the new length, and a value's length (0 if absent).

use bytes::Bytes;

use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `APPEND`: keeps the key's expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Append {
    key: Bytes,
    suffix: Bytes,
}

impl Append {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Append, Frame> {
        match args {
            [key, suffix] => Ok(Append { key: key.clone(), suffix: suffix.clone() }),
            _ => Err(wrong_arity("append")),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let length = store.append(&self.key, &self.suffix)?;
        Ok(Frame::Integer(i64::try_from(length).unwrap_or(i64::MAX)))
    }
}

/// `STRLEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strlen {
    key: Bytes,
}

impl Strlen {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Strlen, Frame> {
        match args {
            [key] => Ok(Strlen { key: key.clone() }),
            _ => Err(wrong_arity("strlen")),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let length = store.get(&self.key)?.map_or(0, |value| value.len());
        Ok(Frame::Integer(i64::try_from(length).unwrap_or(i64::MAX)))
    }
}
