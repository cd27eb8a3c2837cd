//! `DEL key [key …]`: deletes the keys atomically; replies how many existed.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `DEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Del {
    keys: Vec<Bytes>,
}

impl Del {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Del, Frame> {
        if args.is_empty() {
            return Err(wrong_arity("del"));
        }
        Ok(Del { keys: args.to_vec() })
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let keys: Vec<&[u8]> = self.keys.iter().map(|key| key.as_ref()).collect();
        Ok(Frame::Integer(count(store.delete(&keys)?)))
    }
}

pub(crate) fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
