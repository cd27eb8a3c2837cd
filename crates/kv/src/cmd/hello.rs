//! `HELLO [protover [AUTH username password] [SETNAME name]]`: switches the connection
//! to RESP3 (or back to RESP2) and describes the server.
//!
//! There is no authentication here (the listener is on loopback by default), so `AUTH`
//! is accepted for the `default` user with any password, as Redis does for a user
//! without a password, and refused for any other user.

use bytes::Bytes;

use super::{syntax_error, wrong_arity};
use crate::frame::{Frame, Protocol};
use crate::session::{Session, valid_name};

/// The Redis version this server's command set follows, reported where clients look for
/// one (`HELLO`, `INFO`): they enable features by it.
pub const REDIS_COMPATIBLE_VERSION: &str = "7.2.0";

/// `HELLO`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hello {
    protocol: Option<Protocol>,
    name: Option<Bytes>,
}

impl Hello {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Hello, Frame> {
        let Some((version, mut options)) = args.split_first() else {
            return Ok(Hello { protocol: None, name: None });
        };
        let protocol = match version.as_ref() {
            b"2" => Protocol::Resp2,
            b"3" => Protocol::Resp3,
            _ if std::str::from_utf8(version).is_ok_and(|text| text.parse::<i64>().is_ok()) => {
                return Err(Frame::error("NOPROTO unsupported protocol version"));
            }
            _ => {
                return Err(Frame::error("ERR Protocol version is not an integer or out of range"));
            }
        };
        let mut name = None;
        while let Some((option, rest)) = options.split_first() {
            match (String::from_utf8_lossy(option).to_ascii_uppercase().as_str(), rest) {
                ("AUTH", [user, _password, rest @ ..]) => {
                    if !user.eq_ignore_ascii_case(b"default") {
                        return Err(Frame::error(
                            "WRONGPASS invalid username-password pair or user is disabled.",
                        ));
                    }
                    options = rest;
                }
                ("SETNAME", [client_name, rest @ ..]) => {
                    if !valid_name(client_name) {
                        return Err(Frame::error(
                            "ERR Client names cannot contain spaces, newlines or special characters.",
                        ));
                    }
                    name = Some(client_name.clone());
                    options = rest;
                }
                ("AUTH" | "SETNAME", _) => return Err(wrong_arity("hello")),
                _ => return Err(syntax_error()),
            }
        }
        Ok(Hello { protocol: Some(protocol), name })
    }

    pub(crate) fn apply(self, session: &mut Session) -> Frame {
        if let Some(protocol) = self.protocol {
            session.protocol = protocol;
        }
        if let Some(name) = self.name {
            session.name = (!name.is_empty()).then_some(name);
        }
        let text = |value: &str| Frame::bulk(value.to_owned());
        Frame::Map(vec![
            (text("server"), text("blueprint-kv")),
            (text("version"), text(REDIS_COMPATIBLE_VERSION)),
            (text("proto"), Frame::Integer(session.protocol.version())),
            (text("id"), Frame::Integer(i64::try_from(session.id).unwrap_or(i64::MAX))),
            (text("mode"), text("standalone")),
            (text("role"), text("master")),
            (text("modules"), Frame::Array(Vec::new())),
        ])
    }
}
