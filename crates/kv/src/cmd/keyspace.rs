//! `DBSIZE` (a full count: O(keys), where Redis keeps a counter) and `FLUSHDB`/`FLUSHALL`
//! (`ASYNC`/`SYNC` accepted; both delete before replying).

use bytes::Bytes;

use super::{syntax_error, wrong_arity};
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// `DBSIZE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbSize;

impl DbSize {
    pub(crate) fn parse(args: &[Bytes]) -> Result<DbSize, Frame> {
        if args.is_empty() { Ok(DbSize) } else { Err(wrong_arity("dbsize")) }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        Ok(Frame::Integer(i64::try_from(store.count_keys()?).unwrap_or(i64::MAX)))
    }
}

/// `FLUSHDB` and `FLUSHALL` (one database, so the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushDb;

impl FlushDb {
    /// `lower` is the command name in lowercase.
    pub(crate) fn parse(lower: &str, args: &[Bytes]) -> Result<FlushDb, Frame> {
        match args {
            [] => Ok(FlushDb),
            [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {
                Ok(FlushDb)
            }
            [_] => Err(syntax_error()),
            _ => Err(wrong_arity(if lower == "flushall" { "flushall" } else { "flushdb" })),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let deleted = store.flush_all()?;
        tracing::info!(deleted, "FLUSHDB");
        Ok(Frame::ok())
    }
}
