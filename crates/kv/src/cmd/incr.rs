//! `INCR key`, `INCRBY key n`, `DECR key`, `DECRBY key n`: atomic integer arithmetic on a
//! decimal string value (absent counts as 0), through the store's compare-and-swap loop.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::{Store, parse_integer};
use crate::error::KvError;
use crate::frame::Frame;

/// `INCR` and its relatives, reduced to a key and a signed delta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incr {
    key: Bytes,
    delta: i64,
}

impl Incr {
    pub(crate) fn parse(name: &str, args: &[Bytes]) -> Result<Incr, Frame> {
        let not_integer = || Frame::error(KvError::NotAnInteger.resp_message());
        let by = |raw: &Bytes| parse_integer(raw).ok_or_else(not_integer);
        let (key, delta) = match (name, args) {
            ("incr", [key]) => (key, 1),
            ("decr", [key]) => (key, -1),
            ("incrby", [key, delta]) => (key, by(delta)?),
            ("decrby", [key, delta]) => (
                key,
                by(delta)?
                    .checked_neg()
                    .ok_or_else(|| Frame::error(KvError::Overflow.resp_message()))?,
            ),
            _ => return Err(wrong_arity(name)),
        };
        Ok(Incr { key: key.clone(), delta })
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        Ok(Frame::Integer(store.increment(&self.key, self.delta)?))
    }
}
