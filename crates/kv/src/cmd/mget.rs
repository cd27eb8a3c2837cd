//! `MGET key [key …]`: an array of values, null for missing keys.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `MGET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mget {
    keys: Vec<Bytes>,
}

impl Mget {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Mget, Frame> {
        if args.is_empty() {
            return Err(wrong_arity("mget"));
        }
        Ok(Mget { keys: args.to_vec() })
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let mut values = Vec::with_capacity(self.keys.len());
        for key in &self.keys {
            values.push(store.get(key)?.map_or(Frame::Null, Frame::bulk));
        }
        Ok(Frame::Array(values))
    }
}
