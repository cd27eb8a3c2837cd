//! `GET key`: the value as a bulk string, or null.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Get {
    key: Bytes,
}

impl Get {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Get, Frame> {
        match args {
            [key] => Ok(Get { key: key.clone() }),
            _ => Err(wrong_arity("get")),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        Ok(store.get(&self.key)?.map_or(Frame::Null, Frame::bulk))
    }
}
