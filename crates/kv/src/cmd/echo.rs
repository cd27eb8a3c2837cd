//! `ECHO message`: the message back as a bulk string.

use bytes::Bytes;

use super::wrong_arity;
use crate::frame::Frame;

/// `ECHO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Echo {
    message: Bytes,
}

impl Echo {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Echo, Frame> {
        match args {
            [message] => Ok(Echo { message: message.clone() }),
            _ => Err(wrong_arity("echo")),
        }
    }

    pub(crate) fn apply(self) -> Frame {
        Frame::Bulk(self.message)
    }
}
