//! One file per command: each parses its arguments (wrong arity and bad options become the
//! error reply Redis sends) and applies itself to the [`Store`], returning the reply.

mod append;
mod client;
mod command;
mod config;
mod del;
mod echo;
mod exists;
mod expire;
mod get;
mod hello;
mod incr;
mod info;
mod keyspace;
mod mget;
mod mset;
mod ping;
mod scan;
mod select;
mod set;
mod ttl;

use bytes::Bytes;

use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;
use crate::session::Session;

pub use append::{Append, Strlen};
pub use client::Client;
pub use command::CommandInfo;
pub use config::ConfigGet;
pub use del::Del;
pub use echo::Echo;
pub use exists::Exists;
pub use expire::{Expire, Persist};
pub use get::Get;
pub use hello::{Hello, REDIS_COMPATIBLE_VERSION};
pub use incr::Incr;
pub use info::Info;
pub use keyspace::{DbSize, FlushDb};
pub use mget::Mget;
pub use mset::Mset;
pub use ping::Ping;
pub use scan::{Keys, MAX_KEYS_REPLY, MAX_SCAN_COUNT, Scan};
pub use select::Select;
pub use set::Set;
pub use ttl::Ttl;

/// A parsed command, ready to run against the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `PING [message]`.
    Ping(Ping),
    /// `ECHO message`.
    Echo(Echo),
    /// `GET key`.
    Get(Get),
    /// `SET key value [NX|XX] [GET] [EX s|PX ms]`.
    Set(Set),
    /// `DEL key [key …]`.
    Del(Del),
    /// `EXISTS key [key …]`.
    Exists(Exists),
    /// `MGET key [key …]`.
    Mget(Mget),
    /// `MSET key value [key value …]`.
    Mset(Mset),
    /// `INCR`, `INCRBY`, `DECR`, `DECRBY`.
    Incr(Incr),
    /// `APPEND key value`.
    Append(Append),
    /// `STRLEN key`.
    Strlen(Strlen),
    /// `EXPIRE`, `PEXPIRE`, `EXPIREAT`, `PEXPIREAT`.
    Expire(Expire),
    /// `TTL`, `PTTL`, `EXPIRETIME`, `PEXPIRETIME`.
    Ttl(Ttl),
    /// `PERSIST key`.
    Persist(Persist),
    /// `SCAN cursor [MATCH p] [COUNT n] [TYPE t]`.
    Scan(Scan),
    /// `KEYS pattern`.
    Keys(Keys),
    /// `DBSIZE`.
    DbSize(DbSize),
    /// `FLUSHDB`, `FLUSHALL`.
    FlushDb(FlushDb),
    /// `INFO [section …]`.
    Info(Info),
    /// `SELECT index`.
    Select(Select),
    /// `CLIENT …`.
    Client(Client),
    /// `HELLO [protover …]`.
    Hello(Hello),
    /// `COMMAND …`: the minimal reply `redis-cli` needs.
    Command(CommandInfo),
    /// `CONFIG GET pattern`.
    ConfigGet(ConfigGet),
    /// `QUIT`: reply `+OK`, then close.
    Quit,
    /// Anything else: a reply that is already decided (an unknown command, wrong arity).
    Reply(Frame),
}

impl Command {
    /// Parses a request frame (an array of bulk strings) into a command. A request of
    /// another shape, an unknown command or wrong arguments yield [`Command::Reply`]
    /// with the error Redis sends, so the connection keeps serving.
    pub fn from_frame(frame: Frame) -> Command {
        let Frame::Array(items) = frame else {
            return Command::Reply(Frame::error(
                "ERR Protocol error: expected an array of bulk strings",
            ));
        };
        let mut args = Vec::with_capacity(items.len());
        for item in items {
            match item {
                Frame::Bulk(bytes) => args.push(bytes),
                _ => {
                    return Command::Reply(Frame::error(
                        "ERR Protocol error: expected bulk strings",
                    ));
                }
            }
        }
        let Some((name, args)) = args.split_first() else {
            return Command::Reply(Frame::error("ERR empty command"));
        };
        // Lowercased on the stack: no allocation per command on the hot path. A longer
        // or non-UTF-8 name is no command of ours: it becomes "" and `unknown_command`.
        let mut buffer = [0u8; MAX_COMMAND_NAME_BYTES];
        let lower = match buffer.get_mut(..name.len()) {
            Some(slot) => {
                slot.copy_from_slice(name);
                slot.make_ascii_lowercase();
                std::str::from_utf8(slot).unwrap_or("")
            }
            None => "",
        };
        let parsed = match lower {
            "ping" => Ping::parse(args).map(Command::Ping),
            "echo" => Echo::parse(args).map(Command::Echo),
            "get" => Get::parse(args).map(Command::Get),
            "set" => Set::parse(args).map(Command::Set),
            "del" => Del::parse(args).map(Command::Del),
            "exists" => Exists::parse(args).map(Command::Exists),
            "mget" => Mget::parse(args).map(Command::Mget),
            "mset" => Mset::parse(args).map(Command::Mset),
            "incr" | "incrby" | "decr" | "decrby" => Incr::parse(lower, args).map(Command::Incr),
            "append" => Append::parse(args).map(Command::Append),
            "strlen" => Strlen::parse(args).map(Command::Strlen),
            "expire" | "pexpire" | "expireat" | "pexpireat" => {
                Expire::parse(lower, args).map(Command::Expire)
            }
            "ttl" | "pttl" | "expiretime" | "pexpiretime" => {
                Ttl::parse(lower, args).map(Command::Ttl)
            }
            "persist" => Persist::parse(args).map(Command::Persist),
            "scan" => Scan::parse(args).map(Command::Scan),
            "keys" => Keys::parse(args).map(Command::Keys),
            "dbsize" => DbSize::parse(args).map(Command::DbSize),
            "flushdb" | "flushall" => FlushDb::parse(lower, args).map(Command::FlushDb),
            "info" => Ok(Command::Info(Info::parse(args))),
            "select" => Select::parse(args).map(Command::Select),
            "client" => Client::parse(args).map(Command::Client),
            "hello" => Hello::parse(args).map(Command::Hello),
            "command" => Ok(Command::Command(CommandInfo::parse(args))),
            "config" => ConfigGet::parse(args).map(Command::ConfigGet),
            "quit" => Ok(Command::Quit),
            _ => Err(unknown_command(name, args)),
        };
        parsed.unwrap_or_else(Command::Reply)
    }

    /// Whether this is `QUIT`, after whose reply the connection closes.
    pub fn is_quit(&self) -> bool {
        matches!(self, Command::Quit)
    }

    /// Whether the command may change the store (so, under `durability = "always"`,
    /// waits for an `fsync` before its reply).
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Command::Set(_)
                | Command::Del(_)
                | Command::Mset(_)
                | Command::Incr(_)
                | Command::Append(_)
                | Command::Expire(_)
                | Command::Persist(_)
                | Command::FlushDb(_)
        )
    }

    /// Whether this is a plain `SET key value` that may share an engine batch with
    /// other plain `SET`s (see [`Set`]'s `plain_pair`).
    pub fn is_plain_set(&self) -> bool {
        matches!(self, Command::Set(set) if set.plain_pair().is_some())
    }

    /// The key and value of a plain `SET`, or the command back.
    pub(crate) fn into_plain_set(self) -> Result<(Bytes, Bytes), Command> {
        match self {
            Command::Set(set) => set.into_plain_pair().map_err(Command::Set),
            other => Err(other),
        }
    }

    /// Runs the command for the connection whose state is `session`; blocks on the
    /// engine, so call it off the async workers.
    pub fn apply(self, store: &Store, session: &mut Session) -> Frame {
        let outcome = match self {
            Command::Ping(command) => Ok(command.apply()),
            Command::Echo(command) => Ok(command.apply()),
            Command::Get(command) => command.apply(store),
            Command::Set(command) => command.apply(store),
            Command::Del(command) => command.apply(store),
            Command::Exists(command) => command.apply(store),
            Command::Mget(command) => command.apply(store),
            Command::Mset(command) => command.apply(store),
            Command::Incr(command) => command.apply(store),
            Command::Append(command) => command.apply(store),
            Command::Strlen(command) => command.apply(store),
            Command::Expire(command) => command.apply(store),
            Command::Ttl(command) => command.apply(store),
            Command::Persist(command) => command.apply(store),
            Command::Scan(command) => command.apply(store),
            Command::Keys(command) => command.apply(store),
            Command::DbSize(command) => command.apply(store),
            Command::FlushDb(command) => command.apply(store),
            Command::Info(command) => command.apply(store),
            Command::Select(command) => Ok(command.apply()),
            Command::Client(command) => Ok(command.apply(session)),
            Command::Hello(command) => Ok(command.apply(session)),
            Command::Command(command) => Ok(command.apply()),
            Command::ConfigGet(command) => Ok(command.apply(store)),
            Command::Quit => Ok(Frame::ok()),
            Command::Reply(frame) => Ok(frame),
        };
        outcome.unwrap_or_else(|error: KvError| Frame::error(error.resp_message()))
    }
}

/// Longest command name recognised (`PEXPIRETIME` has 11 bytes).
const MAX_COMMAND_NAME_BYTES: usize = 16;

/// Most key and value bytes written as one coalesced batch of `SET`s: 1 MiB, so a run of
/// large values never approaches the engine's batch limit and one commit stays short.
pub const MAX_COALESCED_BYTES: usize = 1024 * 1024;

/// Runs a pipeline's commands in order and returns their replies in order. A run of
/// consecutive plain `SET`s is written as one engine batch (one WAL record, one `fsync`
/// with `always`): the same outcome as one by one, since nothing else of this connection
/// runs in between, at a fraction of the commits when a client pipelines writes.
pub fn apply_all(commands: Vec<Command>, store: &Store, session: &mut Session) -> Vec<Frame> {
    crate::commit::run_batch(store, commands, session, MAX_COALESCED_BYTES)
}

/// `ERR wrong number of arguments for 'get' command`, Redis's text.
pub(crate) fn wrong_arity(name: &str) -> Frame {
    Frame::error(format!("ERR wrong number of arguments for '{name}' command"))
}

/// `ERR syntax error`, Redis's text for a bad option.
pub(crate) fn syntax_error() -> Frame {
    Frame::error("ERR syntax error")
}

/// Redis's text: `ERR unknown command 'FOO', with args beginning with: 'a' 'b' `.
fn unknown_command(name: &[u8], args: &[Bytes]) -> Frame {
    /// Arguments quoted back, as Redis does, and no more.
    const QUOTED_ARGS_MAX: usize = 8;
    /// Bytes of each quoted name or argument, so the error stays short.
    const QUOTED_BYTES_MAX: usize = 128;
    let quote = |bytes: &[u8]| {
        let text =
            String::from_utf8_lossy(&bytes[..bytes.len().min(QUOTED_BYTES_MAX)]).into_owned();
        format!("'{text}'")
    };
    let quoted: Vec<String> = args.iter().take(QUOTED_ARGS_MAX).map(|arg| quote(arg)).collect();
    let mut message = format!("ERR unknown command {}, with args beginning with: ", quote(name));
    for arg in quoted {
        message.push_str(&arg);
        message.push(' ');
    }
    Frame::error(message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(words: &[&str]) -> Frame {
        Frame::Array(words.iter().map(|word| Frame::bulk(word.as_bytes().to_vec())).collect())
    }

    fn run(store: &Store, words: &[&str]) -> Frame {
        Command::from_frame(request(words)).apply(store, &mut Session::new(1))
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), blueprint_lsm::Durability::No).unwrap();
        (dir, store)
    }

    #[test]
    fn a_pipeline_of_plain_sets_is_batched_but_answered_and_ordered_one_by_one() {
        let (_dir, store) = store();
        let commands = [
            &["SET", "k", "1"][..],
            &["SET", "k", "2"],
            &["GET", "k"],
            &["SET", "k", "3"],
            &["SET", "k", "4", "NX"],
            &["SET", "j", "5"],
            &["GET", "k"],
        ]
        .iter()
        .map(|words| Command::from_frame(request(words)))
        .collect();
        let replies = apply_all(commands, &store, &mut Session::new(1));
        let ok = Frame::ok();
        let expected = vec![
            ok.clone(),
            ok.clone(),
            Frame::bulk("2"),
            ok.clone(),
            Frame::Null,
            ok,
            Frame::bulk("3"),
        ];
        assert_eq!(replies, expected);
    }

    #[test]
    fn command_names_are_case_insensitive() {
        let (_dir, store) = store();
        assert_eq!(run(&store, &["pInG"]), Frame::Simple("PONG".into()));
    }

    #[test]
    fn wrong_arity_gets_redis_text_with_the_lowercase_name() {
        let (_dir, store) = store();
        let expected = Frame::Error("ERR wrong number of arguments for 'get' command".into());
        assert_eq!(run(&store, &["GET"]), expected);
        assert_eq!(run(&store, &["GET", "a", "b"]), expected);
    }

    #[test]
    fn an_unknown_command_quotes_its_name_and_first_arguments() {
        let (_dir, store) = store();
        let reply = run(&store, &["FLY", "me", "there"]);
        let expected = "ERR unknown command 'FLY', with args beginning with: 'me' 'there' ";
        assert_eq!(reply, Frame::Error(expected.into()));
    }

    #[test]
    fn set_get_del_exists_mget_mset_and_incr_behave_as_redis() {
        let (_dir, store) = store();
        assert_eq!(run(&store, &["SET", "a", "1"]), Frame::ok());
        assert_eq!(run(&store, &["GET", "a"]), Frame::bulk("1"));
        assert_eq!(run(&store, &["INCRBY", "a", "41"]), Frame::Integer(42));
        assert_eq!(run(&store, &["DECR", "a"]), Frame::Integer(41));
        assert_eq!(run(&store, &["MSET", "b", "2", "c", "3"]), Frame::ok());
        let values = run(&store, &["MGET", "a", "zz", "c"]);
        assert_eq!(values, Frame::Array(vec![Frame::bulk("41"), Frame::Null, Frame::bulk("3")]));
        assert_eq!(run(&store, &["EXISTS", "a", "a", "zz"]), Frame::Integer(2));
        assert_eq!(run(&store, &["DEL", "a", "b", "zz"]), Frame::Integer(2));
        assert_eq!(run(&store, &["GET", "a"]), Frame::Null);
        assert_eq!(run(&store, &["MSET", "a"]), wrong_arity("mset"));
    }

    #[test]
    fn incr_on_text_gets_the_redis_error() {
        let (_dir, store) = store();
        run(&store, &["SET", "a", "x"]);
        let expected = Frame::Error("ERR value is not an integer or out of range".into());
        assert_eq!(run(&store, &["INCR", "a"]), expected);
        assert_eq!(run(&store, &["INCRBY", "b", "x"]), expected);
    }

    #[test]
    fn set_options_nx_xx_get_and_ttl_parse_and_apply() {
        let (_dir, store) = store();
        assert_eq!(run(&store, &["SET", "k", "1", "XX"]), Frame::Null);
        assert_eq!(run(&store, &["SET", "k", "1", "NX"]), Frame::ok());
        assert_eq!(run(&store, &["SET", "k", "2", "NX"]), Frame::Null);
        assert_eq!(run(&store, &["SET", "k", "3", "XX", "GET"]), Frame::bulk("1"));
        assert_eq!(run(&store, &["SET", "k", "4", "EX", "100"]), Frame::ok());
        assert_eq!(run(&store, &["SET", "k", "4", "NX", "XX"]), syntax_error());
        assert_eq!(
            run(&store, &["SET", "k", "4", "EX", "0"]),
            Frame::Error("ERR invalid expire time in 'set' command".into())
        );
        assert_eq!(run(&store, &["SET", "k", "4", "EX"]), syntax_error());
    }

    fn clocked_store() -> (tempfile::TempDir, Store, std::sync::Arc<blueprint_lsm::ManualClock>) {
        let dir = tempfile::tempdir().unwrap();
        let clock = std::sync::Arc::new(blueprint_lsm::ManualClock::new(1_000_000));
        let options = blueprint_lsm::Options {
            durability: blueprint_lsm::Durability::No,
            clock: clock.clone(),
            ..blueprint_lsm::Options::default()
        };
        let store = Store::open_with(dir.path(), options).unwrap();
        (dir, store, clock)
    }

    #[test]
    fn ttl_pttl_expire_persist_and_keepttl_follow_redis() {
        let (_dir, store, clock) = clocked_store();
        assert_eq!(run(&store, &["TTL", "k"]), Frame::Integer(-2));
        run(&store, &["SET", "k", "v"]);
        assert_eq!(run(&store, &["TTL", "k"]), Frame::Integer(-1));
        assert_eq!(run(&store, &["EXPIRE", "k", "100"]), Frame::Integer(1));
        assert_eq!(run(&store, &["PTTL", "k"]), Frame::Integer(100_000));
        clock.advance_ms(1_400);
        assert_eq!(run(&store, &["TTL", "k"]), Frame::Integer(99), "rounded to the nearest second");
        assert_eq!(run(&store, &["PEXPIRETIME", "k"]), Frame::Integer(1_100_000));
        assert_eq!(run(&store, &["EXPIRETIME", "k"]), Frame::Integer(1_100));
        run(&store, &["SET", "k", "w", "KEEPTTL"]);
        assert_eq!(run(&store, &["PTTL", "k"]), Frame::Integer(98_600));
        run(&store, &["APPEND", "k", "x"]);
        run(&store, &["SET", "n", "1", "EX", "10"]);
        run(&store, &["INCR", "n"]);
        assert_eq!(run(&store, &["PTTL", "n"]), Frame::Integer(10_000), "INCR keeps the TTL");
        assert_eq!(run(&store, &["PTTL", "k"]), Frame::Integer(98_600), "APPEND keeps the TTL");
        assert_eq!(run(&store, &["PERSIST", "k"]), Frame::Integer(1));
        assert_eq!(run(&store, &["PERSIST", "k"]), Frame::Integer(0));
        assert_eq!(run(&store, &["TTL", "k"]), Frame::Integer(-1));
        run(&store, &["SET", "k", "v", "PX", "50"]);
        run(&store, &["SET", "k", "v2"]);
        assert_eq!(run(&store, &["TTL", "k"]), Frame::Integer(-1), "a plain SET clears the TTL");
        run(&store, &["SET", "k", "v", "PXAT", "1001500"]);
        assert_eq!(run(&store, &["PTTL", "k"]), Frame::Integer(100));
        clock.advance_ms(100);
        assert_eq!(run(&store, &["GET", "k"]), Frame::Null);
        assert_eq!(run(&store, &["EXPIRE", "k", "10"]), Frame::Integer(0), "absent key");
    }

    #[test]
    fn expire_conditions_and_past_deadlines_behave_as_redis_7() {
        let (_dir, store, _clock) = clocked_store();
        run(&store, &["SET", "k", "v"]);
        assert_eq!(run(&store, &["EXPIRE", "k", "100", "XX"]), Frame::Integer(0));
        assert_eq!(
            run(&store, &["EXPIRE", "k", "100", "GT"]),
            Frame::Integer(0),
            "no TTL is infinite"
        );
        assert_eq!(run(&store, &["EXPIRE", "k", "100", "NX"]), Frame::Integer(1));
        assert_eq!(run(&store, &["EXPIRE", "k", "200", "NX"]), Frame::Integer(0));
        assert_eq!(run(&store, &["EXPIRE", "k", "50", "GT"]), Frame::Integer(0));
        assert_eq!(run(&store, &["EXPIRE", "k", "50", "XX", "LT"]), Frame::Integer(1));
        assert_eq!(run(&store, &["TTL", "k"]), Frame::Integer(50));
        let incompatible = run(&store, &["EXPIRE", "k", "5", "NX", "GT"]);
        assert!(matches!(incompatible, Frame::Error(text) if text.contains("not compatible")));
        assert_eq!(
            run(&store, &["EXPIRE", "k", "5", "SOON"]),
            Frame::Error("ERR Unsupported option SOON".into())
        );
        assert_eq!(run(&store, &["EXPIRE", "k", "-1"]), Frame::Integer(1));
        assert_eq!(run(&store, &["EXISTS", "k"]), Frame::Integer(0), "a past deadline deletes");
        let overflow = run(&store, &["EXPIRE", "k", "9223372036854775807"]);
        assert_eq!(overflow, Frame::Error("ERR invalid expire time in 'expire' command".into()));
    }

    #[test]
    fn append_and_strlen_grow_and_measure_a_value() {
        let (_dir, store) = store();
        assert_eq!(run(&store, &["APPEND", "k", "Hello"]), Frame::Integer(5));
        assert_eq!(run(&store, &["APPEND", "k", " World"]), Frame::Integer(11));
        assert_eq!(run(&store, &["GET", "k"]), Frame::bulk("Hello World"));
        assert_eq!(run(&store, &["STRLEN", "k"]), Frame::Integer(11));
        assert_eq!(run(&store, &["STRLEN", "absent"]), Frame::Integer(0));
    }

    fn scan_page(store: &Store, words: &[&str]) -> (String, Vec<String>) {
        let Frame::Array(parts) = run(store, words) else { panic!("not an array") };
        let [Frame::Bulk(cursor), Frame::Array(keys)] = parts.as_slice() else {
            panic!("{parts:?}")
        };
        let keys = keys
            .iter()
            .map(|key| match key {
                Frame::Bulk(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        (String::from_utf8(cursor.to_vec()).unwrap(), keys)
    }

    #[test]
    fn scan_returns_every_key_once_in_pages_and_match_filters_them() {
        let (_dir, store) = store();
        for index in 0..25 {
            run(&store, &["SET", &format!("user:{index:02}"), "v"]);
            run(&store, &["SET", &format!("item:{index:02}"), "v"]);
        }
        let (mut seen, mut cursor, mut calls) = (Vec::new(), "0".to_owned(), 0);
        loop {
            let (next, keys) =
                scan_page(&store, &["SCAN", &cursor, "MATCH", "user:*", "COUNT", "7"]);
            assert!(keys.len() <= 7);
            seen.extend(keys);
            calls += 1;
            if next == "0" {
                break;
            }
            cursor = next;
        }
        seen.sort();
        let expected: Vec<String> = (0..25).map(|index| format!("user:{index:02}")).collect();
        assert_eq!(seen, expected);
        assert_eq!(calls, 8, "50 keys, 7 per call");
        let (_, none) = scan_page(&store, &["SCAN", "0", "TYPE", "hash", "COUNT", "100"]);
        assert!(none.is_empty(), "every key is a string");
        assert_eq!(run(&store, &["SCAN", "12345"]), Frame::Error("ERR invalid cursor".into()));
        assert_eq!(run(&store, &["SCAN", "x"]), Frame::Error("ERR invalid cursor".into()));
        assert_eq!(run(&store, &["SCAN", "0", "COUNT", "0"]), syntax_error());
    }

    #[test]
    fn keys_dbsize_and_flushdb_cover_the_whole_keyspace() {
        let (_dir, store) = store();
        run(&store, &["MSET", "a1", "v", "a2", "v", "b1", "v"]);
        assert_eq!(
            run(&store, &["KEYS", "a?"]),
            Frame::Array(vec![Frame::bulk("a1"), Frame::bulk("a2")])
        );
        assert_eq!(
            run(&store, &["KEYS", "[ab]1"]),
            Frame::Array(vec![Frame::bulk("a1"), Frame::bulk("b1")])
        );
        assert_eq!(run(&store, &["DBSIZE"]), Frame::Integer(3));
        assert_eq!(run(&store, &["FLUSHDB", "ASYNC"]), Frame::ok());
        assert_eq!(run(&store, &["DBSIZE"]), Frame::Integer(0));
        assert_eq!(run(&store, &["FLUSHALL", "LATER"]), syntax_error());
    }

    #[test]
    fn hello_switches_the_session_to_resp3_and_describes_the_server() {
        let (_dir, store) = store();
        let mut session = Session::new(7);
        let reply = Command::from_frame(request(&["HELLO", "3", "SETNAME", "app"]))
            .apply(&store, &mut session);
        assert_eq!(session.protocol, crate::frame::Protocol::Resp3);
        assert_eq!(session.name.as_deref(), Some(&b"app"[..]));
        let Frame::Map(pairs) = reply else { panic!("HELLO replies a map") };
        assert!(pairs.contains(&(Frame::bulk("proto"), Frame::Integer(3))));
        assert!(pairs.contains(&(Frame::bulk("id"), Frame::Integer(7))));
        let unsupported = Command::from_frame(request(&["HELLO", "4"])).apply(&store, &mut session);
        assert_eq!(unsupported, Frame::Error("NOPROTO unsupported protocol version".into()));
        assert_eq!(
            session.protocol,
            crate::frame::Protocol::Resp3,
            "a refused HELLO changes nothing"
        );
        let wrong_user = Command::from_frame(request(&["HELLO", "2", "AUTH", "admin", "pw"]))
            .apply(&store, &mut session);
        assert!(matches!(wrong_user, Frame::Error(text) if text.starts_with("WRONGPASS")));
        Command::from_frame(request(&["HELLO", "2", "AUTH", "default", "pw"]))
            .apply(&store, &mut session);
        assert_eq!(session.protocol, crate::frame::Protocol::Resp2);
    }

    #[test]
    fn client_select_config_and_info_answer_what_client_libraries_ask() {
        let (_dir, store) = store();
        let mut session = Session::new(42);
        let mut call =
            |words: &[&str]| Command::from_frame(request(words)).apply(&store, &mut session);
        assert_eq!(call(&["CLIENT", "ID"]), Frame::Integer(42));
        assert_eq!(call(&["CLIENT", "GETNAME"]), Frame::Null);
        assert_eq!(call(&["CLIENT", "SETNAME", "worker-1"]), Frame::ok());
        assert_eq!(call(&["CLIENT", "GETNAME"]), Frame::bulk("worker-1"));
        assert!(matches!(call(&["CLIENT", "SETNAME", "has space"]), Frame::Error(_)));
        assert_eq!(call(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]), Frame::ok());
        assert!(
            matches!(call(&["CLIENT", "KILL"]), Frame::Error(text) if text.contains("unknown subcommand"))
        );
        assert_eq!(call(&["SELECT", "0"]), Frame::ok());
        assert_eq!(call(&["SELECT", "1"]), Frame::Error("ERR DB index is out of range".into()));
        let config = call(&["CONFIG", "GET", "append*"]);
        let expected = Frame::Map(vec![
            (Frame::bulk("appendonly"), Frame::bulk("yes")),
            (Frame::bulk("appendfsync"), Frame::bulk("no")),
        ]);
        assert_eq!(config, expected);
        call(&["SET", "k", "v"]);
        let Frame::Bulk(info) = call(&["INFO"]) else { panic!("INFO replies a bulk string") };
        let info = String::from_utf8(info.to_vec()).unwrap();
        assert!(info.contains("redis_version:7.2.0\r\n"), "{info}");
        assert!(info.contains("# Keyspace\r\ndb0:keys=1\r\n"), "{info}");
        let Frame::Bulk(only) = call(&["INFO", "clients"]) else { panic!() };
        assert!(only.starts_with(b"# Clients\r\n") && !only.windows(8).any(|w| w == b"# Server"));
    }
}
