//! `EXISTS key [key …]`: how many of the keys exist (repeats count again, as in Redis).

use bytes::Bytes;

use super::del::count;
use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `EXISTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exists {
    keys: Vec<Bytes>,
}

impl Exists {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Exists, Frame> {
        if args.is_empty() {
            return Err(wrong_arity("exists"));
        }
        Ok(Exists { keys: args.to_vec() })
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let keys: Vec<&[u8]> = self.keys.iter().map(|key| key.as_ref()).collect();
        Ok(Frame::Integer(count(store.count_existing(&keys)?)))
    }
}
