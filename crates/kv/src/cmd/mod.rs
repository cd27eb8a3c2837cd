//! One file per command: each parses its arguments (wrong arity and bad options become the
//! error reply Redis sends) and applies itself to the [`Store`], returning the reply.

mod command;
mod config;
mod del;
mod echo;
mod exists;
mod get;
mod incr;
mod mget;
mod mset;
mod ping;
mod set;

use bytes::Bytes;

use crate::db::Store;
use crate::error::KvError;
use crate::frame::Frame;

pub use command::CommandInfo;
pub use config::ConfigGet;
pub use del::Del;
pub use echo::Echo;
pub use exists::Exists;
pub use get::Get;
pub use incr::Incr;
pub use mget::Mget;
pub use mset::Mset;
pub use ping::Ping;
pub use set::Set;

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
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        let parsed = match lower.as_str() {
            "ping" => Ping::parse(args).map(Command::Ping),
            "echo" => Echo::parse(args).map(Command::Echo),
            "get" => Get::parse(args).map(Command::Get),
            "set" => Set::parse(args).map(Command::Set),
            "del" => Del::parse(args).map(Command::Del),
            "exists" => Exists::parse(args).map(Command::Exists),
            "mget" => Mget::parse(args).map(Command::Mget),
            "mset" => Mset::parse(args).map(Command::Mset),
            "incr" | "incrby" | "decr" | "decrby" => Incr::parse(&lower, args).map(Command::Incr),
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

    /// Runs the command; blocks on the engine, so call it off the async workers.
    pub fn apply(self, store: &Store) -> Frame {
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
            Command::Command(command) => Ok(command.apply()),
            Command::ConfigGet(command) => Ok(command.apply()),
            Command::Quit => Ok(Frame::ok()),
            Command::Reply(frame) => Ok(frame),
        };
        outcome.unwrap_or_else(|error: KvError| Frame::error(error.resp_message()))
    }
}

/// Most key and value bytes written as one coalesced batch of `SET`s: 1 MiB, so a run of
/// large values never approaches the engine's batch limit and one commit stays short.
pub const MAX_COALESCED_BYTES: usize = 1024 * 1024;

/// Runs a pipeline's commands in order and returns their replies in order. A run of
/// consecutive plain `SET`s is written as one engine batch (one WAL record, one `fsync`
/// with `always`): the same outcome as one by one, since nothing else of this connection
/// runs in between, at a fraction of the commits when a client pipelines writes.
pub fn apply_all(commands: Vec<Command>, store: &Store) -> Vec<Frame> {
    let mut replies = Vec::with_capacity(commands.len());
    let mut commands = commands.into_iter().peekable();
    while let Some(command) = commands.next() {
        let Command::Set(first) = command else {
            replies.push(command.apply(store));
            continue;
        };
        if first.plain_pair().is_none() {
            replies.push(Command::Set(first).apply(store));
            continue;
        }
        let mut run_bytes = first.plain_pair().map_or(0, |(key, value)| key.len() + value.len());
        let mut run = vec![first];
        while let Some(Command::Set(next)) = commands.peek() {
            let Some((key, value)) = next.plain_pair() else { break };
            run_bytes += key.len() + value.len();
            if run_bytes > MAX_COALESCED_BYTES {
                break;
            }
            if let Some(Command::Set(next)) = commands.next() {
                run.push(next);
            }
        }
        let pairs: Vec<(&[u8], &[u8])> = run.iter().filter_map(Set::plain_pair).collect();
        let reply = match store.set_many(&pairs) {
            Ok(()) => Frame::ok(),
            Err(error) => Frame::error(error.resp_message()),
        };
        replies.extend(std::iter::repeat_n(reply, run.len()));
    }
    replies
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
        Command::from_frame(request(words)).apply(store)
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
        let replies = apply_all(commands, &store);
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
}
