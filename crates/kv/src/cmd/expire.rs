//! `EXPIRE`/`PEXPIRE key amount`, `EXPIREAT`/`PEXPIREAT key time`, each with Redis 7's
//! `NX`, `XX`, `GT`, `LT`; and `PERSIST key`. Reply 1 if the expiry was set (or removed),
//! 0 if the key is absent or the condition refused. A time not in the future deletes.

use bytes::Bytes;

use super::wrong_arity;
use crate::db::{ExpireCondition, Store, parse_integer};
use crate::error::KvError;
use crate::frame::Frame;

/// How the command's number is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// `EXPIRE`: seconds from now.
    SecondsFromNow,
    /// `PEXPIRE`: milliseconds from now.
    MillisFromNow,
    /// `EXPIREAT`: a Unix time in seconds.
    UnixSeconds,
    /// `PEXPIREAT`: a Unix time in milliseconds.
    UnixMillis,
}

/// The `EXPIRE` family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expire {
    name: &'static str,
    key: Bytes,
    amount: i64,
    unit: Unit,
    condition: ExpireCondition,
}

impl Expire {
    /// `lower` is the command name in lowercase.
    pub(crate) fn parse(lower: &str, args: &[Bytes]) -> Result<Expire, Frame> {
        let (name, unit) = match lower {
            "expire" => ("expire", Unit::SecondsFromNow),
            "pexpire" => ("pexpire", Unit::MillisFromNow),
            "expireat" => ("expireat", Unit::UnixSeconds),
            _ => ("pexpireat", Unit::UnixMillis),
        };
        let [key, amount, options @ ..] = args else { return Err(wrong_arity(name)) };
        let amount = parse_integer(amount)
            .ok_or_else(|| Frame::error(KvError::NotAnInteger.resp_message()))?;
        let mut condition = ExpireCondition::Always;
        for option in options {
            let upper = String::from_utf8_lossy(option).to_ascii_uppercase();
            let next = match upper.as_str() {
                "NX" => ExpireCondition::IfNone,
                "XX" => ExpireCondition::IfSome,
                "GT" => ExpireCondition::IfLater,
                "LT" => ExpireCondition::IfEarlier,
                _ => return Err(Frame::error(format!("ERR Unsupported option {upper}"))),
            };
            condition = combine(condition, next)?;
        }
        Ok(Expire { name, key: key.clone(), amount, unit, condition })
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let Some(deadline_ms) = self.deadline_ms(store.now_ms()) else {
            return Ok(Frame::error(format!("ERR invalid expire time in '{}' command", self.name)));
        };
        Ok(Frame::Integer(i64::from(store.expire(&self.key, deadline_ms, self.condition)?)))
    }

    /// The absolute deadline in ms (0 for any time in the past), or `None` on overflow.
    fn deadline_ms(&self, now_ms: u64) -> Option<u64> {
        let now_ms = i64::try_from(now_ms).ok()?;
        let deadline = match self.unit {
            Unit::SecondsFromNow => self.amount.checked_mul(1000)?.checked_add(now_ms)?,
            Unit::MillisFromNow => self.amount.checked_add(now_ms)?,
            Unit::UnixSeconds => self.amount.checked_mul(1000)?,
            Unit::UnixMillis => self.amount,
        };
        Some(u64::try_from(deadline).unwrap_or(0))
    }
}

/// Redis allows `GT`/`LT` with `XX` but no other pair.
fn combine(current: ExpireCondition, next: ExpireCondition) -> Result<ExpireCondition, Frame> {
    use ExpireCondition::{Always, IfEarlier, IfLater, IfSome};
    match (current, next) {
        (Always, next) => Ok(next),
        (same, next) if same == next => Ok(same),
        (IfLater, IfEarlier) | (IfEarlier, IfLater) => {
            Err(Frame::error("ERR GT and LT options at the same time are not compatible"))
        }
        (IfSome, IfLater | IfEarlier) => Ok(next),
        (IfLater | IfEarlier, IfSome) => Ok(current),
        _ => {
            Err(Frame::error("ERR NX and XX, GT or LT options at the same time are not compatible"))
        }
    }
}

/// `PERSIST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persist {
    key: Bytes,
}

impl Persist {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Persist, Frame> {
        match args {
            [key] => Ok(Persist { key: key.clone() }),
            _ => Err(wrong_arity("persist")),
        }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        Ok(Frame::Integer(i64::from(store.persist(&self.key)?)))
    }
}
