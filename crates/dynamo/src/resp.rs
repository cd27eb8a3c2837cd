//! The RESP front end every node serves: enough of Redis for `redis-cli`,
//! `redis-benchmark -t set,get` and client libraries, plus commands that carry the causal
//! context. Frames are parsed and encoded by [`blueprint_kv::frame`], the single-node
//! server's parser (with its limits), not a second parser.
//!
//! # Commands
//!
//! | command | reply |
//! |---|---|
//! | `GET key` | the value of the sibling with the greatest `(timestamp, actor)`, nil when that is a tombstone or there is none |
//! | `SET key value` | `+OK` once W replicas stored it; supersedes what the coordinating replica holds, so writes at other replicas meanwhile become siblings |
//! | `DEL key [key ...]` | how many keys had a value; each is read, then deleted with that read's context |
//! | `EXISTS key [key ...]` | how many keys have a live value |
//! | `GETV key [R n]` | an array: the opaque context, then every sibling's value |
//! | `SETV key context value [W n]` | `+OK`; supersedes exactly what `context` (from `GETV`) saw; `""` is a blind write |
//! | `DELV key context [W n]` | `+OK`; a tombstone superseding what `context` saw |
//! | `PING`, `ECHO`, `HELLO [2|3]`, `COMMAND ...`, `CONFIG GET p`, `INFO`, `SELECT 0`, `CLIENT ...`, `QUIT` | as Redis, minimal |
//!
//! Errors: `-UNAVAILABLE <why>` when the quorum cannot be met (nothing was acknowledged),
//! `-BAD_CONTEXT <why>` for a context that does not decode, `-ERR <why>` otherwise.
//!
//! Pipelines: requests keep being read while replies are written (a client may write a
//! whole pipeline before reading), and the commands already buffered run concurrently in groups where no key
//! repeats, so a pipeline keeps Redis's per-key order while distinct keys go to their
//! replicas in parallel; replies are written in order, one write per batch. Consecutive
//! plain `SET`s of one key run as the last of them, and consecutive `GET`s of one key as
//! one read (see `coalesces`): the same observable history, fewer quorum rounds.

use std::future::Future;
use std::sync::Arc;

use blueprint_kv::frame::{Frame, ParseLimits, Protocol};
use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{Semaphore, watch};

use crate::config::RequestOptions;
use crate::error::DynamoError;
use crate::net::{BoxStream, Listener};
use crate::node::NodeHandle;

/// Most client connections at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 1024;
/// Most commands parsed from one read before they run.
pub const MAX_PIPELINE_COMMANDS: usize = 1024;
/// Largest request accepted (a value is at most [`crate::node::MAX_VALUE_BYTES`]).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// Most request bytes read ahead while replies are being written; past it, the
/// connection waits for the client to read its replies.
pub const MAX_READ_AHEAD_BYTES: usize = MAX_REQUEST_BYTES;

/// Serves RESP on `listener` until `shutdown` completes; then stops accepting and lets
/// open connections finish the batch they are running.
pub async fn serve_resp<L: Listener>(mut listener: L, handle: NodeHandle, shutdown: impl Future) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "resp accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            if let Err(error) = serve_connection(stream, &handle, &mut stop).await {
                tracing::debug!(%error, "resp connection ended with an error");
            }
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
}

async fn serve_connection(
    stream: BoxStream,
    handle: &NodeHandle,
    stop: &mut watch::Receiver<bool>,
) -> std::io::Result<()> {
    let limits = ParseLimits { max_request_bytes: MAX_REQUEST_BYTES };
    let (mut reader, mut writer) = tokio::io::split(stream);
    let mut buffer = BytesMut::with_capacity(16 * 1024);
    let mut output = BytesMut::with_capacity(16 * 1024);
    let mut protocol = Protocol::Resp2;
    // The client closed its side: answer what it sent, then stop.
    let mut closed = false;
    loop {
        let mut commands: Vec<Vec<Bytes>> = Vec::new();
        let mut protocol_error = None;
        while commands.len() < MAX_PIPELINE_COMMANDS {
            match Frame::parse(&buffer, limits) {
                Ok(Some((frame, used))) => {
                    buffer.advance(used);
                    match arguments(frame) {
                        Some(args) if args.is_empty() => {}
                        Some(args) => commands.push(args),
                        None => commands.push(vec![Bytes::from_static(b"\0invalid")]),
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    protocol_error = Some(error);
                    break;
                }
            }
        }
        if commands.is_empty() && protocol_error.is_none() {
            if closed {
                return Ok(());
            }
            tokio::select! {
                read = reader.read_buf(&mut buffer) => if read? == 0 { return Ok(()) },
                _ = stop.changed() => return Ok(()),
            }
            continue;
        }
        let quit = commands.iter().position(|args| is_command(args, "QUIT"));
        if let Some(at) = quit {
            commands.truncate(at + 1);
        }
        let replies = run_batch(handle, commands, &mut protocol).await;
        output.clear();
        for reply in &replies {
            reply.encode_as(&mut output, protocol);
        }
        if let Some(error) = &protocol_error {
            Frame::error(format!("ERR Protocol error: {error}")).encode_as(&mut output, protocol);
        }
        write_replies(&mut writer, &output, &mut reader, &mut buffer, &mut closed).await?;
        if quit.is_some() || protocol_error.is_some() {
            return Ok(());
        }
    }
}

/// Writes `output`, reading more requests into `buffer` meanwhile (up to
/// [`MAX_READ_AHEAD_BYTES`]): a client that writes its whole pipeline before it reads a
/// reply would otherwise fill both directions' socket buffers and leave each side blocked
/// in `write`. Sets `closed` when the client closes its side.
async fn write_replies(
    writer: &mut WriteHalf<BoxStream>,
    output: &[u8],
    reader: &mut ReadHalf<BoxStream>,
    buffer: &mut BytesMut,
    closed: &mut bool,
) -> std::io::Result<()> {
    let mut written = 0;
    while written < output.len() {
        let room = !*closed && buffer.len() < MAX_READ_AHEAD_BYTES;
        tokio::select! {
            wrote = writer.write(&output[written..]) => match wrote? {
                0 => return Err(std::io::ErrorKind::WriteZero.into()),
                n => written += n,
            },
            read = reader.read_buf(buffer), if room => *closed |= read? == 0,
        }
    }
    writer.flush().await
}

fn arguments(frame: Frame) -> Option<Vec<Bytes>> {
    match frame {
        Frame::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Frame::Bulk(bytes) => Some(bytes),
                Frame::Simple(text) => Some(Bytes::from(text.into_owned())),
                Frame::Integer(n) => Some(Bytes::from(n.to_string())),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn is_command(args: &[Bytes], name: &str) -> bool {
    args.first().is_some_and(|first| first.eq_ignore_ascii_case(name.as_bytes()))
}

/// The key a command touches, for grouping a pipeline.
fn key_of(args: &[Bytes]) -> Option<&Bytes> {
    let name = args.first()?;
    let keyed = ["GET", "SET", "DEL", "EXISTS", "GETV", "SETV", "DELV"];
    keyed.iter().any(|k| name.eq_ignore_ascii_case(k.as_bytes())).then(|| args.get(1)).flatten()
}

/// True when `later` may share `earlier`'s execution: two plain `SET`s of one key in a
/// row (the first is immediately overwritten, so writing only the second is the same
/// history with the first taking no time) or two `GET`s of one key in a row (both are
/// pending at once, so one read at one instant answers both).
fn coalesces(earlier: &[Bytes], later: &[Bytes]) -> bool {
    let same_key = earlier.get(1) == later.get(1);
    let both = |name: &str, len: usize| {
        is_command(earlier, name)
            && is_command(later, name)
            && earlier.len() == len
            && later.len() == len
    };
    same_key && (both("SET", 3) || both("GET", 2))
}

async fn run_batch(
    handle: &NodeHandle,
    commands: Vec<Vec<Bytes>>,
    protocol: &mut Protocol,
) -> Vec<Frame> {
    // Each entry: the command to run and how many replies it stands for.
    let mut ops: Vec<(Vec<Bytes>, usize)> = Vec::with_capacity(commands.len());
    for args in commands {
        if let Some((last, count)) = ops.last_mut()
            && coalesces(last, &args)
        {
            *last = args;
            *count += 1;
            continue;
        }
        ops.push((args, 1));
    }
    let mut replies = Vec::with_capacity(ops.len());
    let mut group: Vec<(Vec<Bytes>, usize)> = Vec::new();
    let mut keys: std::collections::HashSet<Bytes> =
        std::collections::HashSet::with_capacity(ops.len());
    for (args, count) in ops {
        let multi_key = (is_command(&args, "DEL") || is_command(&args, "EXISTS")) && args.len() > 2;
        let stateful = is_command(&args, "HELLO");
        let conflict = key_of(&args).is_some_and(|k| keys.contains(k)) || multi_key || stateful;
        if conflict && !group.is_empty() {
            replies.extend(run_group(handle, std::mem::take(&mut group)).await);
            keys.clear();
        }
        if stateful {
            replies.push(hello(&args, protocol));
            continue;
        }
        if let Some(key) = key_of(&args) {
            keys.insert(key.clone());
        }
        group.push((args, count));
    }
    if !group.is_empty() {
        replies.extend(run_group(handle, group).await);
    }
    replies
}

async fn run_group(handle: &NodeHandle, group: Vec<(Vec<Bytes>, usize)>) -> Vec<Frame> {
    let mut replies = Vec::with_capacity(group.iter().map(|(_, count)| count).sum());
    // Joined in this task rather than spawned: a task per command cost more to schedule
    // than most commands take (they wait on their replicas, not on this CPU).
    let counts: Vec<usize> = group.iter().map(|(_, count)| *count).collect();
    let runs = group.into_iter().map(|(args, _)| execute(handle, args));
    for (reply, count) in futures::future::join_all(runs).await.into_iter().zip(counts) {
        replies.extend(std::iter::repeat_n(reply, count));
    }
    replies
}

fn error_frame(error: &DynamoError) -> Frame {
    match error {
        DynamoError::BadRequest { message } => Frame::error(format!("ERR {message}")),
        other => Frame::error(format!("{} {other}", other.code())),
    }
}

fn wrong_args(name: &str) -> Frame {
    Frame::error(format!(
        "ERR wrong number of arguments for '{}' command",
        name.to_ascii_lowercase()
    ))
}

/// Parses trailing `R n` / `W n` options.
fn quorum_options(options: &[Bytes]) -> Result<RequestOptions, Frame> {
    let mut opts = RequestOptions::default();
    let mut rest = options.iter();
    while let Some(name) = rest.next() {
        let value = rest
            .next()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<usize>().ok())
            .ok_or_else(|| Frame::error("ERR syntax error: expected R <n> or W <n>"))?;
        if name.eq_ignore_ascii_case(b"R") {
            opts.r = Some(value);
        } else if name.eq_ignore_ascii_case(b"W") {
            opts.w = Some(value);
        } else {
            return Err(Frame::error("ERR syntax error: expected R <n> or W <n>"));
        }
    }
    Ok(opts)
}

fn text(bytes: &Bytes) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

/// The commands [`execute`] knows, most frequent first: their names are matched without
/// allocating an upper-cased copy.
const COMMANDS: [&str; 15] = [
    "GET", "SET", "PING", "DEL", "EXISTS", "GETV", "SETV", "DELV", "ECHO", "QUIT", "SELECT",
    "CLIENT", "COMMAND", "CONFIG", "INFO",
];

/// A command's name in upper case (borrowed for every known command).
fn command_name(raw: &[u8]) -> std::borrow::Cow<'static, str> {
    match COMMANDS.iter().find(|name| raw.eq_ignore_ascii_case(name.as_bytes())) {
        Some(name) => std::borrow::Cow::Borrowed(name),
        None => std::borrow::Cow::Owned(String::from_utf8_lossy(raw).to_ascii_uppercase()),
    }
}

async fn execute(handle: &NodeHandle, args: Vec<Bytes>) -> Frame {
    let name = args.first().map(|n| command_name(n)).unwrap_or_default();
    let opts = RequestOptions::default();
    match (name.as_ref(), args.len()) {
        ("PING", 1) => Frame::Simple("PONG".into()),
        ("PING", 2) => Frame::Bulk(args[1].clone()),
        ("ECHO", 2) => Frame::Bulk(args[1].clone()),
        ("QUIT", _) | ("SELECT", 2) => Frame::ok(),
        ("CLIENT", _) => Frame::ok(),
        ("COMMAND", _) => Frame::Array(Vec::new()),
        ("CONFIG", 3) if args[1].eq_ignore_ascii_case(b"GET") => config_get(&args[2]),
        ("INFO", _) => info(handle),
        ("GET", 2) => match handle.get_resolved(&args[1], opts).await {
            Ok(resolved) => resolved.map_or(Frame::Null, Frame::Bulk),
            Err(error) => error_frame(&error),
        },
        ("SET", 3) => match handle.put(&args[1], args[2].clone(), None, opts).await {
            Ok(()) => Frame::ok(),
            Err(error) => error_frame(&error),
        },
        ("SET", _) if args.len() > 3 => {
            Frame::error("ERR SET options are not supported by the cluster")
        }
        ("DEL", n) if n >= 2 => del(handle, &args[1..]).await,
        ("EXISTS", n) if n >= 2 => {
            let mut count = 0;
            for key in &args[1..] {
                match handle.get(key, opts).await {
                    Ok(read) if !read.values.is_empty() => count += 1,
                    Ok(_) => {}
                    Err(error) => return error_frame(&error),
                }
            }
            Frame::Integer(count)
        }
        ("GETV", n) if n >= 2 => {
            let opts = match quorum_options(&args[2..]) {
                Ok(opts) => opts,
                Err(reply) => return reply,
            };
            match handle.get(&args[1], opts).await {
                Ok(read) => {
                    let mut items = vec![Frame::Bulk(Bytes::from(read.context))];
                    items.extend(read.values.into_iter().map(Frame::Bulk));
                    Frame::Array(items)
                }
                Err(error) => error_frame(&error),
            }
        }
        ("SETV", n) if n >= 4 => {
            let opts = match quorum_options(&args[4..]) {
                Ok(opts) => opts,
                Err(reply) => return reply,
            };
            match handle.put(&args[1], args[3].clone(), Some(text(&args[2])), opts).await {
                Ok(()) => Frame::ok(),
                Err(error) => error_frame(&error),
            }
        }
        ("DELV", n) if n >= 3 => {
            let opts = match quorum_options(&args[3..]) {
                Ok(opts) => opts,
                Err(reply) => return reply,
            };
            match handle.delete(&args[1], Some(text(&args[2])), opts).await {
                Ok(()) => Frame::ok(),
                Err(error) => error_frame(&error),
            }
        }
        (
            "PING" | "ECHO" | "GET" | "SET" | "DEL" | "EXISTS" | "GETV" | "SETV" | "DELV"
            | "SELECT" | "CONFIG",
            _,
        ) => wrong_args(&name),
        _ => Frame::error(format!("ERR unknown command '{}'", name.to_ascii_lowercase())),
    }
}

async fn del(handle: &NodeHandle, keys: &[Bytes]) -> Frame {
    let opts = RequestOptions::default();
    let mut count = 0;
    for key in keys {
        let read = match handle.get(key, opts).await {
            Ok(read) => read,
            Err(error) => return error_frame(&error),
        };
        if read.values.is_empty() {
            continue;
        }
        if let Err(error) = handle.delete(key, Some(&read.context), opts).await {
            return error_frame(&error);
        }
        count += 1;
    }
    Frame::Integer(count)
}

fn hello(args: &[Bytes], protocol: &mut Protocol) -> Frame {
    match args.get(1).map(text) {
        None => {}
        Some("2") => *protocol = Protocol::Resp2,
        Some("3") => *protocol = Protocol::Resp3,
        Some(_) => return Frame::error("NOPROTO unsupported protocol version"),
    }
    Frame::Map(vec![
        (Frame::bulk("server"), Frame::bulk("blueprint-dynamo")),
        (Frame::bulk("version"), Frame::bulk(env!("CARGO_PKG_VERSION"))),
        (Frame::bulk("proto"), Frame::Integer(protocol.version())),
        (Frame::bulk("id"), Frame::Integer(1)),
        (Frame::bulk("mode"), Frame::bulk("cluster")),
        (Frame::bulk("role"), Frame::bulk("master")),
        (Frame::bulk("modules"), Frame::Array(Vec::new())),
    ])
}

fn config_get(parameter: &Bytes) -> Frame {
    let name = text(parameter).to_ascii_lowercase();
    // redis-benchmark asks for these two; the answers say "no RDB, no AOF", which is
    // what a client should assume of the cluster's own durability settings.
    match name.as_str() {
        "save" => Frame::Map(vec![(Frame::bulk("save"), Frame::bulk(""))]),
        "appendonly" => Frame::Map(vec![(Frame::bulk("appendonly"), Frame::bulk("no"))]),
        _ => Frame::Map(Vec::new()),
    }
}

fn info(handle: &NodeHandle) -> Frame {
    let status = handle.status();
    let mut out = String::new();
    out.push_str("# Server\r\nredis_version:7.0.0\r\nblueprint_mode:dynamo\r\n");
    out.push_str(&format!("# Cluster\r\nnode_id:{}\r\nepoch:{}\r\n", status.node_id, status.epoch));
    out.push_str(&format!(
        "n:{}\r\nr:{}\r\nw:{}\r\nmembers:{}\r\n",
        status.n,
        status.r,
        status.w,
        status.members.len()
    ));
    out.push_str(&format!(
        "hints_pending:{}\r\nsibling_cap_hits:{}\r\n",
        status.hints_pending.values().sum::<u64>(),
        status.sibling_cap_hits
    ));
    Frame::Bulk(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quorum_options_parse_r_and_w_and_refuse_anything_else() {
        let opts = quorum_options(&[
            Bytes::from("R"),
            Bytes::from("3"),
            Bytes::from("w"),
            Bytes::from("1"),
        ]);
        assert_eq!(opts.ok(), Some(RequestOptions { r: Some(3), w: Some(1) }));
        assert!(quorum_options(&[Bytes::from("R")]).is_err());
        assert!(quorum_options(&[Bytes::from("X"), Bytes::from("1")]).is_err());
    }

    #[test]
    fn only_consecutive_plain_sets_or_gets_of_one_key_coalesce() {
        let cmd =
            |words: &[&str]| words.iter().map(|w| Bytes::from(w.to_string())).collect::<Vec<_>>();
        assert!(coalesces(&cmd(&["SET", "k", "1"]), &cmd(&["set", "k", "2"])));
        assert!(coalesces(&cmd(&["GET", "k"]), &cmd(&["GET", "k"])));
        assert!(!coalesces(&cmd(&["SET", "k", "1"]), &cmd(&["SET", "j", "2"])));
        assert!(!coalesces(&cmd(&["SET", "k", "1"]), &cmd(&["GET", "k"])));
        assert!(!coalesces(&cmd(&["GETV", "k"]), &cmd(&["GETV", "k"])));
        assert!(!coalesces(&cmd(&["SETV", "k", "", "1"]), &cmd(&["SETV", "k", "", "2"])));
    }

    #[test]
    fn command_names_match_in_any_case_and_unknown_ones_are_upper_cased() {
        for name in COMMANDS {
            assert_eq!(command_name(name.to_ascii_lowercase().as_bytes()), name);
        }
        assert_eq!(command_name(b"sEtV"), "SETV");
        assert_eq!(command_name(b"flushall"), "FLUSHALL");
    }

    #[test]
    fn unavailable_errors_carry_their_code() {
        let error = DynamoError::Unavailable { op: "write", required: 2, available: 1 };
        assert_eq!(
            error_frame(&error),
            Frame::Error("UNAVAILABLE write needs 2 replicas, 1 answered".into())
        );
    }
}
