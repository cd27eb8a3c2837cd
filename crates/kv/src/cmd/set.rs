//! `SET key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-seconds|PXAT
//! unix-milliseconds|KEEPTTL]`.
//!
//! Replies `+OK`, or null when `NX`/`XX` refused; with `GET`, the previous value (or
//! null) instead. Without an expiry option the key loses any TTL it had, as in Redis.

use std::time::Duration;

use blueprint_lsm::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
use bytes::Bytes;

use super::{syntax_error, wrong_arity};
use crate::db::{Expiration, SetCondition, Store, parse_integer};
use crate::error::KvError;
use crate::frame::Frame;

/// `SET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Set {
    key: Bytes,
    value: Bytes,
    expiration: Expiration,
    condition: SetCondition,
    get: bool,
}

impl Set {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Set, Frame> {
        let [key, value, options @ ..] = args else { return Err(wrong_arity("set")) };
        let mut set = Set {
            key: key.clone(),
            value: value.clone(),
            expiration: Expiration::Clear,
            condition: SetCondition::Always,
            get: false,
        };
        let mut options = options.iter();
        while let Some(option) = options.next() {
            let option = String::from_utf8_lossy(option).to_ascii_uppercase();
            match option.as_str() {
                "NX" if set.condition == SetCondition::Always => {
                    set.condition = SetCondition::IfAbsent
                }
                "XX" if set.condition == SetCondition::Always => {
                    set.condition = SetCondition::IfPresent
                }
                "GET" => set.get = true,
                "EX" | "PX" | "EXAT" | "PXAT" if set.expiration == Expiration::Clear => {
                    let amount = options.next().ok_or_else(syntax_error)?;
                    let millis = positive_millis(amount, option.starts_with("EX"))?;
                    set.expiration = if option.ends_with("AT") {
                        Expiration::AtMs(millis)
                    } else {
                        Expiration::After(Duration::from_millis(millis))
                    };
                }
                "KEEPTTL" if set.expiration == Expiration::Clear => {
                    set.expiration = Expiration::Keep;
                }
                _ => return Err(syntax_error()),
            }
        }
        Ok(set)
    }

    /// The key and value of a plain `SET key value` (no options) whose sizes the engine
    /// accepts: such writes may share one engine batch with their neighbours.
    pub(crate) fn plain_pair(&self) -> Option<(&[u8], &[u8])> {
        let plain = self.expiration == Expiration::Clear
            && self.condition == SetCondition::Always
            && !self.get;
        let fits = self.key.len() <= MAX_KEY_BYTES && self.value.len() <= MAX_VALUE_BYTES;
        (plain && fits).then_some((self.key.as_ref(), self.value.as_ref()))
    }

    /// [`Set::plain_pair`], owned (the bytes are shared with the request, not copied);
    /// the command back when it is not plain.
    pub(crate) fn into_plain_pair(self) -> Result<(Bytes, Bytes), Set> {
        if self.plain_pair().is_some() { Ok((self.key, self.value)) } else { Err(self) }
    }

    pub(crate) fn apply(self, store: &Store) -> Result<Frame, KvError> {
        let outcome =
            store.set(&self.key, &self.value, self.expiration, self.condition, self.get)?;
        Ok(match (self.get, outcome.written) {
            (true, _) => outcome.previous.map_or(Frame::Null, Frame::bulk),
            (false, true) => Frame::ok(),
            (false, false) => Frame::Null,
        })
    }
}

/// A positive amount of seconds or milliseconds, in milliseconds.
fn positive_millis(amount: &[u8], seconds: bool) -> Result<u64, Frame> {
    let amount =
        parse_integer(amount).ok_or_else(|| Frame::error(KvError::NotAnInteger.resp_message()))?;
    let invalid = || Frame::error("ERR invalid expire time in 'set' command");
    let amount = u64::try_from(amount).ok().filter(|&amount| amount > 0).ok_or_else(invalid)?;
    if seconds { amount.checked_mul(1000).ok_or_else(invalid) } else { Ok(amount) }
}
