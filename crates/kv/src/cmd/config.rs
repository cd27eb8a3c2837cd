//! `CONFIG GET pattern [pattern …]`: the Redis parameters that describe this server
//! (`save`, `appendonly`, `appendfsync`, `databases`), as a map (a flat array in RESP2).
//! `redis-benchmark` asks for `save` and `appendonly` before it starts. The server's own
//! settings live in `[kv]`; `CONFIG SET` is not supported.

use blueprint_lsm::Durability;
use bytes::Bytes;

use super::{syntax_error, wrong_arity};
use crate::db::Store;
use crate::frame::Frame;
use crate::glob;

/// `CONFIG GET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigGet {
    patterns: Vec<Bytes>,
}

impl ConfigGet {
    pub(crate) fn parse(args: &[Bytes]) -> Result<ConfigGet, Frame> {
        match args {
            [] => Err(wrong_arity("config")),
            [sub, patterns @ ..] if sub.eq_ignore_ascii_case(b"get") => {
                if patterns.is_empty() {
                    Err(wrong_arity("config|get"))
                } else {
                    Ok(ConfigGet { patterns: patterns.to_vec() })
                }
            }
            _ => Err(syntax_error()),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Frame {
        let parameters = [
            // No RDB snapshots: the WAL and SSTables are the persistence.
            ("save", ""),
            // The WAL is Redis's AOF here, always on.
            ("appendonly", "yes"),
            ("appendfsync", appendfsync(store.durability())),
            ("databases", "1"),
        ];
        let pairs = parameters
            .iter()
            .filter(|(name, _)| {
                self.patterns
                    .iter()
                    .any(|pattern| glob::matches(&pattern.to_ascii_lowercase(), name.as_bytes()))
            })
            .map(|(name, value)| (Frame::bulk(*name), Frame::bulk(*value)))
            .collect();
        Frame::Map(pairs)
    }
}

/// Redis's name for a durability.
pub(crate) fn appendfsync(durability: Durability) -> &'static str {
    match durability {
        Durability::Always => "always",
        Durability::EverySec => "everysec",
        Durability::No => "no",
    }
}
