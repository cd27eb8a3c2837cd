//! `COMMAND …`: `redis-cli` asks for `COMMAND DOCS` on start for its hints; an empty array
//! is a valid answer that makes it carry on without them.

use bytes::Bytes;

use crate::frame::Frame;

/// `COMMAND` with any subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInfo {
    count: bool,
}

impl CommandInfo {
    pub(crate) fn parse(args: &[Bytes]) -> CommandInfo {
        let count = args.first().is_some_and(|sub| sub.eq_ignore_ascii_case(b"count"));
        CommandInfo { count }
    }

    pub(crate) fn apply(self) -> Frame {
        if self.count { Frame::Integer(0) } else { Frame::Array(Vec::new()) }
    }
}
