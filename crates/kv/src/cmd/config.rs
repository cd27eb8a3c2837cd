//! `CONFIG GET pattern`: an empty array. `redis-benchmark` asks for `save` and
//! `appendonly` before it starts and only needs a well-formed reply; this server's settings
//! live in `[kv]`, not in Redis's parameter names.

use bytes::Bytes;

use super::{syntax_error, wrong_arity};
use crate::frame::Frame;

/// `CONFIG GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigGet;

impl ConfigGet {
    pub(crate) fn parse(args: &[Bytes]) -> Result<ConfigGet, Frame> {
        match args {
            [] => Err(wrong_arity("config")),
            [sub, patterns @ ..] if sub.eq_ignore_ascii_case(b"get") => {
                if patterns.is_empty() {
                    Err(wrong_arity("config|get"))
                } else {
                    Ok(ConfigGet)
                }
            }
            _ => Err(syntax_error()),
        }
    }

    pub(crate) fn apply(self) -> Frame {
        Frame::Array(Vec::new())
    }
}
