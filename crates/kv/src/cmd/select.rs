//! `SELECT index`: there is one database, 0, as in Redis Cluster.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::parse_integer;
use crate::error::KvError;
use crate::frame::Frame;

/// `SELECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    index: i64,
}

impl Select {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Select, Frame> {
        let [index] = args else { return Err(wrong_arity("select")) };
        let index = parse_integer(index)
            .ok_or_else(|| Frame::error(KvError::NotAnInteger.resp_message()))?;
        Ok(Select { index })
    }

    pub(crate) fn apply(self) -> Frame {
        if self.index == 0 { Frame::ok() } else { Frame::error("ERR DB index is out of range") }
    }
}
