//! What the server knows about one connection: its ID, the protocol it asked for with
//! `HELLO`, and the name and library it gave with `CLIENT SETNAME`/`SETINFO`.

use bytes::Bytes;

use crate::frame::Protocol;

/// Longest client name or library string kept: names are for `CLIENT INFO` and logs.
pub const MAX_CLIENT_NAME_BYTES: usize = 256;

/// One connection's state. Commands that change it (`HELLO`, `CLIENT`, `SELECT`) get it
/// by `&mut`; it moves with the batch onto the blocking pool and back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `CLIENT ID`: unique per connection since the server started.
    pub id: u64,
    /// The protocol replies are encoded in.
    pub protocol: Protocol,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// `CLIENT SETINFO LIB-NAME`.
    pub library_name: Option<Bytes>,
    /// `CLIENT SETINFO LIB-VER`.
    pub library_version: Option<Bytes>,
}

impl Session {
    /// A new connection's session: RESP2, unnamed.
    pub fn new(id: u64) -> Session {
        Session {
            id,
            protocol: Protocol::Resp2,
            name: None,
            library_name: None,
            library_version: None,
        }
    }
}

/// Redis's rule for client and library names: printable ASCII without spaces; bounded
/// here by [`MAX_CLIENT_NAME_BYTES`].
pub fn valid_name(bytes: &[u8]) -> bool {
    bytes.len() <= MAX_CLIENT_NAME_BYTES && bytes.iter().all(|&byte| (b'!'..=b'~').contains(&byte))
}
