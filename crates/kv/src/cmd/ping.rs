//! `PING [message]`: `+PONG`, or the message as a bulk string.

use bytes::Bytes;

use super::wrong_arity;
use crate::frame::Frame;

/// `PING`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    message: Option<Bytes>,
}

impl Ping {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Ping, Frame> {
        match args {
            [] => Ok(Ping { message: None }),
            [message] => Ok(Ping { message: Some(message.clone()) }),
            _ => Err(wrong_arity("ping")),
        }
    }

    pub(crate) fn apply(self) -> Frame {
        match self.message {
            None => Frame::Simple("PONG".into()),
            Some(message) => Frame::Bulk(message),
        }
    }
}
