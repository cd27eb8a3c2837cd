//! `CLIENT ID|SETNAME|GETNAME|SETINFO|INFO`: the subcommands client libraries send on
//! connect (redis-py and the Rust `redis` crate send `SETINFO`; pools send `SETNAME`).

use bytes::Bytes;

use super::wrong_arity;
use crate::frame::Frame;
use crate::session::{Session, valid_name};

/// `CLIENT` and its subcommand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Client {
    /// `CLIENT ID`.
    Id,
    /// `CLIENT SETNAME name` (empty clears it).
    SetName(Bytes),
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT SETINFO LIB-NAME|LIB-VER value`.
    SetInfo {
        /// `LIB-VER` rather than `LIB-NAME`.
        version: bool,
        /// The value.
        value: Bytes,
    },
    /// `CLIENT INFO`.
    Info,
}

impl Client {
    pub(crate) fn parse(args: &[Bytes]) -> Result<Client, Frame> {
        let Some((sub, rest)) = args.split_first() else { return Err(wrong_arity("client")) };
        let sub = String::from_utf8_lossy(sub).to_ascii_lowercase();
        match (sub.as_str(), rest) {
            ("id", []) => Ok(Client::Id),
            ("getname", []) => Ok(Client::GetName),
            ("info", []) => Ok(Client::Info),
            ("setname", [name]) => {
                if !valid_name(name) {
                    return Err(Frame::error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    ));
                }
                Ok(Client::SetName(name.clone()))
            }
            ("setinfo", [attribute, value]) => {
                let version = if attribute.eq_ignore_ascii_case(b"lib-ver") {
                    true
                } else if attribute.eq_ignore_ascii_case(b"lib-name") {
                    false
                } else {
                    let attribute = String::from_utf8_lossy(attribute);
                    return Err(Frame::error(format!("ERR Unrecognized option '{attribute}'")));
                };
                if !valid_name(value) {
                    return Err(Frame::error(
                        "ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.",
                    ));
                }
                Ok(Client::SetInfo { version, value: value.clone() })
            }
            ("id" | "getname" | "info" | "setname" | "setinfo", _) => {
                Err(wrong_arity(&format!("client|{sub}")))
            }
            _ => Err(Frame::error(format!("ERR unknown subcommand '{sub}'. Try CLIENT HELP."))),
        }
    }

    pub(crate) fn apply(self, session: &mut Session) -> Frame {
        match self {
            Client::Id => Frame::Integer(i64::try_from(session.id).unwrap_or(i64::MAX)),
            Client::SetName(name) => {
                session.name = (!name.is_empty()).then_some(name);
                Frame::ok()
            }
            Client::GetName => session.name.clone().map_or(Frame::Null, Frame::Bulk),
            Client::SetInfo { version: false, value } => {
                session.library_name = Some(value);
                Frame::ok()
            }
            Client::SetInfo { version: true, value } => {
                session.library_version = Some(value);
                Frame::ok()
            }
            Client::Info => Frame::bulk(info_line(session)),
        }
    }
}

/// `CLIENT INFO`'s one line, with the fields this server knows.
fn info_line(session: &Session) -> String {
    let text = |bytes: &Option<Bytes>| {
        bytes.as_ref().map(|bytes| String::from_utf8_lossy(bytes).into_owned()).unwrap_or_default()
    };
    format!(
        "id={} name={} db=0 resp={} lib-name={} lib-ver={}\n",
        session.id,
        text(&session.name),
        session.protocol.version(),
        text(&session.library_name),
        text(&session.library_version),
    )
}
