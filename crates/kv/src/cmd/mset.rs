//! `MSET key value [key value …]`: sets every pair in one atomic batch.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `MSET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mset {
    pairs: Vec<(Bytes, Bytes)>,
}

impl Mset {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Mset, Frame> {
        if args.is_empty() || !args.len().is_multiple_of(2) {
            return Err(wrong_arity("mset"));
        }
        let pairs = args.chunks_exact(2).map(|pair| (pair[0].clone(), pair[1].clone())).collect();
        Ok(Mset { pairs })
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let pairs: Vec<(&[u8], &[u8])> =
            self.pairs.iter().map(|(key, value)| (key.as_ref(), value.as_ref())).collect();
        store.set_many(&pairs)?;
        Ok(Frame::ok())
    }
}
