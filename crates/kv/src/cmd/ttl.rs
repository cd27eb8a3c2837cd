//! `TTL`/`PTTL key` (time left) and `EXPIRETIME`/`PEXPIRETIME key` (the deadline as a Unix
//! time): -2 when the key is absent, -1 when it has no expiry, as in Redis.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

/// Which number the command reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Report {
    SecondsLeft,
    MillisLeft,
    UnixSeconds,
    UnixMillis,
}

/// The `TTL` family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ttl {
    key: Bytes,
    report: Report,
}

impl Ttl {
    /// `lower` is the command name in lowercase.
    pub(crate) fn parse(lower: &str, args: &[Bytes]) -> Result<Ttl, Frame> {
        let (name, report) = match lower {
            "ttl" => ("ttl", Report::SecondsLeft),
            "pttl" => ("pttl", Report::MillisLeft),
            "expiretime" => ("expiretime", Report::UnixSeconds),
            _ => ("pexpiretime", Report::UnixMillis),
        };
        match args {
            [key] => Ok(Ttl { key: key.clone(), report }),
            _ => Err(wrong_arity(name)),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let Some(live) = store.get_with_expiry(&self.key)? else {
            return Ok(Frame::Integer(-2));
        };
        let Some(deadline_ms) = live.expires_at_ms else { return Ok(Frame::Integer(-1)) };
        let left_ms = deadline_ms.saturating_sub(store.now_ms());
        let number = match self.report {
            // Redis rounds to the nearest second.
            Report::SecondsLeft => left_ms.saturating_add(500) / 1000,
            Report::MillisLeft => left_ms,
            Report::UnixSeconds => deadline_ms / 1000,
            Report::UnixMillis => deadline_ms,
        };
        Ok(Frame::Integer(i64::try_from(number).unwrap_or(i64::MAX)))
    }
}
