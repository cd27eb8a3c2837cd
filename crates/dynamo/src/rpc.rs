//! Node-to-node RPC: length-prefixed binary frames over one multiplexed connection per
//! peer.
//!
//! Frame: `u32 big-endian length of what follows | u8 protocol version | u8 kind |
//! varint request id | payload`. Requests and responses carry the same id, so one
//! connection carries many concurrent calls; a writer task coalesces queued frames into
//! one write. Every call has a timeout; a connection that fails is dropped and redialled
//! by the next call.
//!
//! **What it is not:** authenticated or encrypted (a cluster runs on a private network),
//! or versioned beyond refusing a frame of another [`PROTOCOL_VERSION`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{DecodeError, Reader, Writer};
use crate::membership::MemberInfo;
use crate::net::{BoxStream, Network};
use crate::version::{Context, Object};

/// The protocol version byte; a peer sending another is refused.
pub const PROTOCOL_VERSION: u8 = 1;
/// Largest frame accepted: bounds the buffer a peer can make us reserve.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;
/// Frames queued for one connection's writer before callers wait.
pub const WRITE_QUEUE_FRAMES: usize = 4096;
/// Requests one inbound connection may have in flight before reading pauses.
pub const MAX_INFLIGHT_PER_CONNECTION: usize = 1024;
/// Most requests one [`Request::Batch`] carries.
pub const MAX_BATCH_REQUESTS: usize = 256;
/// Most objects one anti-entropy bucket reply carries.
pub const MAX_BUCKET_OBJECTS: usize = 100_000;

const KIND_REQUEST_BASE: u8 = 0x10;
const KIND_RESPONSE_BASE: u8 = 0x80;

/// A coordinator's write forwarded to a node that can mint the dot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardedWrite {
    /// The key.
    pub key: Bytes,
    /// The new value, `None` for a delete.
    pub value: Option<Bytes>,
    /// The client's context (`None`: the coordinating replica's own).
    pub context: Option<Context>,
    /// W override.
    pub w: Option<usize>,
}

/// A request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Read the local object of a key.
    Get {
        /// The key.
        key: Bytes,
    },
    /// Merge an object into the local replica; `hint_for` when stored for another node.
    Put {
        /// The key.
        key: Bytes,
        /// What the sender knows.
        object: Object,
        /// The primary this node stands in for.
        hint_for: Option<String>,
    },
    /// Coordinate a write (sent when the receiving node is not a write target).
    Coordinate(ForwardedWrite),
    /// Push-pull gossip.
    Gossip {
        /// The sender's table.
        members: Vec<MemberInfo>,
    },
    /// The leaves of the Merkle tree over the keys both nodes replicate.
    MerkleLeaves {
        /// The asking node.
        peer: String,
    },
    /// Several `Get`/`Put` requests in one frame (never nested), answered by one
    /// [`Response::Batch`] in the same order: how concurrent replica traffic to one peer
    /// shares frames, syscalls and handler tasks.
    Batch(Vec<Request>),
    /// Every shared object in some buckets (at most [`crate::merkle::LEAVES`]).
    Buckets {
        /// The asking node.
        peer: String,
        /// The buckets.
        buckets: Vec<u16>,
    },
}

/// A response.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// A local object (`None`: never written here).
    Object(Option<Object>),
    /// Done.
    Ack,
    /// The receiver's table.
    Gossip(Vec<MemberInfo>),
    /// Merkle leaves.
    Leaves(Vec<u64>),
    /// A bucket's objects.
    Bucket(Vec<(Bytes, Object)>),
    /// The answers to a [`Request::Batch`], in order.
    Batch(Vec<Response>),
    /// A failure, as `(code, message)` of [`crate::DynamoError`].
    Error {
        /// Stable code.
        code: String,
        /// Message.
        message: String,
    },
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// No answer in time.
    #[error("timed out after {timeout_ms} ms")]
    Timeout {
        /// The timeout.
        timeout_ms: u64,
    },
    /// No connection could be made: the request was certainly not sent, so it is safe
    /// to send it elsewhere.
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// The peer.
        addr: String,
        /// What happened.
        message: String,
    },
    /// The connection broke: the request may or may not have been applied.
    #[error("connection to {addr}: {message}")]
    Connection {
        /// The peer.
        addr: String,
        /// What happened.
        message: String,
    },
    /// A frame that does not decode.
    #[error("bad frame: {source}")]
    Frame {
        /// Why.
        #[from]
        source: FrameError,
    },
}

/// Why a frame is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Another protocol version.
    #[error("protocol version {found}, expected {PROTOCOL_VERSION}")]
    Version {
        /// The byte found.
        found: u8,
    },
    /// Declared length beyond [`MAX_FRAME_BYTES`] or below the header.
    #[error("frame length {len} out of bounds")]
    Length {
        /// The length.
        len: usize,
    },
    /// A kind byte with no message.
    #[error("unknown message kind {kind:#04x}")]
    Kind {
        /// The byte.
        kind: u8,
    },
    /// The payload does not decode.
    #[error("payload: {source}")]
    Payload {
        /// Why.
        #[from]
        source: DecodeError,
    },
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A request with its id.
    Request(u64, Request),
    /// A response with the id of its request.
    Response(u64, Response),
}

fn opt_str(out: &mut Writer, value: Option<&str>) {
    match value {
        Some(value) => {
            out.u8(1);
            out.str(value);
        }
        None => out.u8(0),
    }
}

fn read_opt_str(input: &mut Reader<'_>) -> Result<Option<String>, DecodeError> {
    match input.u8()? {
        0 => Ok(None),
        1 => Ok(Some(input.string()?)),
        tag => Err(DecodeError::BadTag { what: "option", tag }),
    }
}

fn opt_usize(out: &mut Writer, value: Option<usize>) {
    out.varint(value.map_or(0, |v| v as u64 + 1));
}

fn read_opt_usize(input: &mut Reader<'_>) -> Result<Option<usize>, DecodeError> {
    Ok(match input.varint()? {
        0 => None,
        v => Some((v - 1).min(u32::MAX as u64) as usize),
    })
}

fn members(out: &mut Writer, members: &[MemberInfo]) {
    out.varint(members.len() as u64);
    for member in members {
        member.encode_into(out);
    }
}

fn read_members(input: &mut Reader<'_>) -> Result<Vec<MemberInfo>, DecodeError> {
    let count = input.len_prefix(crate::membership::MAX_MEMBERS)?;
    (0..count).map(|_| MemberInfo::decode_from(input)).collect()
}

impl Message {
    /// Appends the whole frame (length prefix included) to `out`.
    pub fn encode(&self, out: Vec<u8>) -> Vec<u8> {
        let start = out.len();
        let mut w = Writer::from_vec(out);
        w.u64_fixed(0); // placeholder: 4 length bytes + version + kind + 2 spare, fixed below
        let (kind, id) = match self {
            Message::Request(id, request) => (KIND_REQUEST_BASE + request_kind(request), *id),
            Message::Response(id, response) => (KIND_RESPONSE_BASE + response_kind(response), *id),
        };
        w.varint(id);
        match self {
            Message::Request(_, request) => encode_request(&mut w, request),
            Message::Response(_, response) => encode_response(&mut w, response),
        }
        let mut bytes = w.into_bytes();
        // Header: [len u32][version][kind]; the 2 spare placeholder bytes are removed.
        let body_len = bytes.len() - start - 4 - 2;
        bytes[start..start + 4].copy_from_slice(&(body_len as u32).to_be_bytes());
        bytes[start + 4] = PROTOCOL_VERSION;
        bytes[start + 5] = kind;
        bytes.drain(start + 6..start + 8);
        bytes
    }

    /// Decodes one frame body (after the length prefix).
    pub fn decode(body: &[u8]) -> Result<Message, FrameError> {
        if body.len() < 2 {
            return Err(FrameError::Length { len: body.len() });
        }
        if body[0] != PROTOCOL_VERSION {
            return Err(FrameError::Version { found: body[0] });
        }
        let kind = body[1];
        let mut input = Reader::new(&body[2..]);
        let id = input.varint()?;
        let message = if (KIND_RESPONSE_BASE..KIND_RESPONSE_BASE + 7).contains(&kind) {
            Message::Response(id, decode_response(kind - KIND_RESPONSE_BASE, &mut input)?)
        } else if (KIND_REQUEST_BASE..KIND_REQUEST_BASE + 7).contains(&kind) {
            Message::Request(id, decode_request(kind - KIND_REQUEST_BASE, &mut input)?)
        } else {
            return Err(FrameError::Kind { kind });
        };
        input.finish()?;
        Ok(message)
    }

    /// Takes one whole frame off the front of `buffer`, if there is one.
    pub fn take(buffer: &mut BytesMut) -> Result<Option<Message>, FrameError> {
        if buffer.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
        if !(2..=MAX_FRAME_BYTES).contains(&len) {
            return Err(FrameError::Length { len });
        }
        if buffer.len() < 4 + len {
            buffer.reserve(4 + len - buffer.len());
            return Ok(None);
        }
        let message = Message::decode(&buffer[4..4 + len]);
        buffer.advance(4 + len);
        message.map(Some)
    }
}

fn request_kind(request: &Request) -> u8 {
    match request {
        Request::Get { .. } => 0,
        Request::Put { .. } => 1,
        Request::Coordinate(_) => 2,
        Request::Gossip { .. } => 3,
        Request::MerkleLeaves { .. } => 4,
        Request::Buckets { .. } => 5,
        Request::Batch(_) => 6,
    }
}

fn response_kind(response: &Response) -> u8 {
    match response {
        Response::Object(_) => 0,
        Response::Ack => 1,
        Response::Gossip(_) => 2,
        Response::Leaves(_) => 3,
        Response::Bucket(_) => 4,
        Response::Error { .. } => 5,
        Response::Batch(_) => 6,
    }
}

fn encode_request(w: &mut Writer, request: &Request) {
    match request {
        Request::Batch(requests) => {
            w.varint(requests.len() as u64);
            for inner in requests {
                w.u8(request_kind(inner));
                encode_request(w, inner);
            }
        }
        Request::Get { key } => w.bytes(key),
        Request::Put { key, object, hint_for } => {
            w.bytes(key);
            object.encode_into(w);
            opt_str(w, hint_for.as_deref());
        }
        Request::Coordinate(write) => {
            w.bytes(&write.key);
            match &write.value {
                Some(value) => {
                    w.u8(1);
                    w.bytes(value);
                }
                None => w.u8(0),
            }
            match &write.context {
                Some(context) => {
                    w.u8(1);
                    context.encode_into(w);
                }
                None => w.u8(0),
            }
            opt_usize(w, write.w);
        }
        Request::Gossip { members: list } => members(w, list),
        Request::MerkleLeaves { peer } => w.str(peer),
        Request::Buckets { peer, buckets } => {
            w.str(peer);
            w.varint(buckets.len() as u64);
            for bucket in buckets {
                w.varint(u64::from(*bucket));
            }
        }
    }
}

fn decode_request(kind: u8, input: &mut Reader<'_>) -> Result<Request, DecodeError> {
    Ok(match kind {
        0 => Request::Get { key: Bytes::copy_from_slice(input.bytes()?) },
        1 => Request::Put {
            key: Bytes::copy_from_slice(input.bytes()?),
            object: Object::decode_from(input)?,
            hint_for: read_opt_str(input)?,
        },
        2 => {
            let key = Bytes::copy_from_slice(input.bytes()?);
            let value = match input.u8()? {
                0 => None,
                1 => Some(Bytes::copy_from_slice(input.bytes()?)),
                tag => return Err(DecodeError::BadTag { what: "value", tag }),
            };
            let context = match input.u8()? {
                0 => None,
                1 => Some(Context::decode_from(input)?),
                tag => return Err(DecodeError::BadTag { what: "context", tag }),
            };
            let w = read_opt_usize(input)?;
            Request::Coordinate(ForwardedWrite { key, value, context, w })
        }
        3 => Request::Gossip { members: read_members(input)? },
        4 => Request::MerkleLeaves { peer: input.string()? },
        5 => {
            let peer = input.string()?;
            let count = input.len_prefix(crate::merkle::LEAVES)?;
            let mut buckets = Vec::with_capacity(count);
            for _ in 0..count {
                let bucket = input.varint()?;
                if bucket >= crate::merkle::LEAVES as u64 {
                    return Err(DecodeError::TooMany {
                        what: "bucket",
                        count: bucket,
                        max: crate::merkle::LEAVES,
                    });
                }
                buckets.push(bucket as u16);
            }
            Request::Buckets { peer, buckets }
        }
        6 => {
            let count = input.len_prefix(MAX_BATCH_REQUESTS)?;
            let mut requests = Vec::with_capacity(count);
            for _ in 0..count {
                match input.u8()? {
                    kind @ (0 | 1) => requests.push(decode_request(kind, input)?),
                    tag => return Err(DecodeError::BadTag { what: "batched request", tag }),
                }
            }
            Request::Batch(requests)
        }
        tag => return Err(DecodeError::BadTag { what: "request", tag }),
    })
}

fn encode_response(w: &mut Writer, response: &Response) {
    match response {
        Response::Batch(responses) => {
            w.varint(responses.len() as u64);
            for inner in responses {
                w.u8(response_kind(inner));
                encode_response(w, inner);
            }
        }
        Response::Object(object) => match object {
            Some(object) => {
                w.u8(1);
                object.encode_into(w);
            }
            None => w.u8(0),
        },
        Response::Ack => {}
        Response::Gossip(list) => members(w, list),
        Response::Leaves(leaves) => {
            w.varint(leaves.len() as u64);
            for leaf in leaves {
                w.u64_fixed(*leaf);
            }
        }
        Response::Bucket(objects) => {
            w.varint(objects.len() as u64);
            for (key, object) in objects {
                w.bytes(key);
                object.encode_into(w);
            }
        }
        Response::Error { code, message } => {
            w.str(code);
            w.str(message);
        }
    }
}

fn decode_response(kind: u8, input: &mut Reader<'_>) -> Result<Response, DecodeError> {
    Ok(match kind {
        0 => match input.u8()? {
            0 => Response::Object(None),
            1 => Response::Object(Some(Object::decode_from(input)?)),
            tag => return Err(DecodeError::BadTag { what: "object", tag }),
        },
        1 => Response::Ack,
        2 => Response::Gossip(read_members(input)?),
        3 => {
            let count = input.len_prefix(crate::merkle::LEAVES)?;
            Response::Leaves((0..count).map(|_| input.u64_fixed()).collect::<Result<_, _>>()?)
        }
        4 => {
            let count = input.len_prefix(MAX_BUCKET_OBJECTS)?;
            let mut objects = Vec::with_capacity(count.min(1024));
            for _ in 0..count {
                let key = Bytes::copy_from_slice(input.bytes()?);
                objects.push((key, Object::decode_from(input)?));
            }
            Response::Bucket(objects)
        }
        5 => Response::Error { code: input.string()?, message: input.string()? },
        6 => {
            let count = input.len_prefix(MAX_BATCH_REQUESTS)?;
            let mut responses = Vec::with_capacity(count);
            for _ in 0..count {
                match input.u8()? {
                    kind @ (0 | 1 | 5) => responses.push(decode_response(kind, input)?),
                    tag => return Err(DecodeError::BadTag { what: "batched response", tag }),
                }
            }
            Response::Batch(responses)
        }
        tag => return Err(DecodeError::BadTag { what: "response", tag }),
    })
}

/// Reads frames from `stream` until it closes or sends garbage.
async fn read_frames(
    mut reader: tokio::io::ReadHalf<BoxStream>,
    mut on_message: impl FnMut(Message) -> bool,
) -> Result<(), FrameError> {
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    loop {
        while let Some(message) = Message::take(&mut buffer)? {
            if !on_message(message) {
                return Ok(());
            }
        }
        match reader.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
    }
}

/// Writes queued frames, coalescing whatever is already queued into one write.
async fn write_frames(
    mut writer: tokio::io::WriteHalf<BoxStream>,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    let mut batch: Vec<u8> = Vec::with_capacity(64 * 1024);
    while let Some(first) = queue.recv().await {
        batch.clear();
        batch.extend_from_slice(&first);
        while batch.len() < 1024 * 1024 {
            match queue.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Response>>>>;

/// One outbound connection.
struct Connection {
    queue: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    closed: Arc<AtomicBool>,
}

/// Outbound calls to peers, one multiplexed connection each.
pub struct RpcClient {
    network: Arc<dyn Network>,
    connections: Mutex<HashMap<String, Arc<Connection>>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for RpcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcClient").finish_non_exhaustive()
    }
}

impl RpcClient {
    /// A client dialling through `network`.
    pub fn new(network: Arc<dyn Network>) -> RpcClient {
        RpcClient { network, connections: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) }
    }

    async fn connection(&self, addr: &str) -> Result<Arc<Connection>, RpcError> {
        if let Some(existing) = self.connections.lock().get(addr)
            && !existing.closed.load(Ordering::Acquire)
        {
            return Ok(Arc::clone(existing));
        }
        let stream = self.network.connect(addr).await.map_err(|error| RpcError::Connect {
            addr: addr.to_owned(),
            message: error.to_string(),
        })?;
        let (reader, writer) = tokio::io::split(stream);
        let (queue, receiver) = mpsc::channel(WRITE_QUEUE_FRAMES);
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(write_frames(writer, receiver));
        let reader_pending = Arc::clone(&pending);
        let reader_closed = Arc::clone(&closed);
        tokio::spawn(async move {
            let outcome = read_frames(reader, |message| {
                if let Message::Response(id, response) = message {
                    if let Some(waiter) = reader_pending.lock().remove(&id) {
                        let _ = waiter.send(response);
                    }
                    true
                } else {
                    false
                }
            })
            .await;
            if let Err(error) = outcome {
                tracing::debug!(%error, "rpc connection dropped");
            }
            reader_closed.store(true, Ordering::Release);
            // Dropping the senders fails every waiting call at once.
            reader_pending.lock().clear();
        });
        let connection = Arc::new(Connection { queue, pending, closed });
        self.connections.lock().insert(addr.to_owned(), Arc::clone(&connection));
        Ok(connection)
    }

    /// Calls `addr` with `request`, failing after `timeout`.
    pub async fn call(
        &self,
        addr: &str,
        request: Request,
        timeout: Duration,
    ) -> Result<Response, RpcError> {
        let timeout_ms = timeout.as_millis() as u64;
        let deadline = tokio::time::Instant::now() + timeout;
        let connection = match tokio::time::timeout_at(deadline, self.connection(addr)).await {
            Ok(connection) => connection?,
            Err(_) => {
                return Err(RpcError::Connect {
                    addr: addr.to_owned(),
                    message: "connect timed out".into(),
                });
            }
        };
        match tokio::time::timeout_at(deadline, self.call_inner(connection, addr, request)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // A connection that let a call time out may have lost bytes mid-frame (a
                // partition); later calls dial afresh instead of queueing behind it.
                if let Some(stale) = self.connections.lock().remove(addr) {
                    stale.closed.store(true, Ordering::Release);
                }
                Err(RpcError::Timeout { timeout_ms })
            }
        }
    }

    async fn call_inner(
        &self,
        connection: Arc<Connection>,
        addr: &str,
        request: Request,
    ) -> Result<Response, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        connection.pending.lock().insert(id, sender);
        let frame = Message::Request(id, request).encode(Vec::new());
        let broken = |message: &str| RpcError::Connection {
            addr: addr.to_owned(),
            message: message.to_owned(),
        };
        if connection.queue.send(frame).await.is_err() {
            connection.closed.store(true, Ordering::Release);
            connection.pending.lock().remove(&id);
            return Err(broken("writer stopped"));
        }
        let outcome = receiver.await.map_err(|_| broken("connection closed"));
        if outcome.is_err() {
            self.connections.lock().remove(addr);
        }
        outcome
    }

    /// Drops every connection (on shutdown or after a simulated crash).
    pub fn close_all(&self) {
        self.connections.lock().clear();
    }
}

/// Serves one inbound connection: decode requests, run `handle` concurrently for each
/// (at most [`MAX_INFLIGHT_PER_CONNECTION`] at once), write responses as they finish;
/// stops reading when `stop` turns true.
pub async fn serve_connection<H, F>(
    stream: BoxStream,
    handle: H,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    H: Fn(Request) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let (reader, writer) = tokio::io::split(stream);
    let (queue, receiver) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE_FRAMES);
    tokio::spawn(write_frames(writer, receiver));
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_INFLIGHT_PER_CONNECTION));
    let handle = Arc::new(handle);
    let mut buffer = BytesMut::with_capacity(64 * 1024);
    let mut reader = reader;
    loop {
        loop {
            let message = match Message::take(&mut buffer) {
                Ok(Some(message)) => message,
                Ok(None) => break,
                Err(error) => {
                    tracing::debug!(%error, "malformed rpc frame; closing");
                    return;
                }
            };
            let Message::Request(id, request) = message else {
                return;
            };
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
                return;
            };
            // Replica gets and puts finish at their first poll: answered here, without a
            // task each. Anything that waits (a forwarded write) continues in a task.
            let mut future = Box::pin(handle(request));
            if let std::task::Poll::Ready(response) = futures::poll!(&mut future) {
                let frame = Message::Response(id, response).encode(Vec::new());
                match queue.try_send(frame) {
                    Ok(()) => drop(permit),
                    Err(mpsc::error::TrySendError::Full(frame)) => {
                        let queue = queue.clone();
                        tokio::spawn(async move {
                            let _ = queue.send(frame).await;
                            drop(permit);
                        });
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => return,
                }
                continue;
            }
            let queue = queue.clone();
            tokio::spawn(async move {
                let response = future.await;
                let _ = queue.send(Message::Response(id, response).encode(Vec::new())).await;
                drop(permit);
            });
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            read = reader.read_buf(&mut buffer) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
            _ = stop.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::{Actor, Mode};
    use proptest::prelude::*;

    fn object() -> Object {
        let mut object = Object::empty();
        object.update(
            Mode::Siblings,
            &Actor { node: "a".into(), epoch: 3 },
            &Context::new(),
            Some(Bytes::from("v")),
            17,
        );
        object
    }

    fn round_trip(message: Message) {
        let mut buffer = BytesMut::from(&message.encode(Vec::new())[..]);
        assert_eq!(Message::take(&mut buffer), Ok(Some(message)));
        assert!(buffer.is_empty());
    }

    #[test]
    fn every_message_round_trips() {
        let member = MemberInfo {
            id: "a".into(),
            rpc_addr: "a:1".into(),
            datacenter: Some("eu".into()),
            capacity: 2.0,
            incarnation: 4,
            heartbeat: 99,
            left: false,
        };
        round_trip(Message::Request(1, Request::Get { key: Bytes::from("k") }));
        round_trip(Message::Request(
            u64::MAX,
            Request::Put { key: Bytes::from("k"), object: object(), hint_for: Some("b".into()) },
        ));
        round_trip(Message::Request(
            2,
            Request::Coordinate(ForwardedWrite {
                key: Bytes::from("k"),
                value: None,
                context: Some(object().context()),
                w: Some(3),
            }),
        ));
        round_trip(Message::Request(3, Request::Gossip { members: vec![member.clone()] }));
        round_trip(Message::Request(4, Request::MerkleLeaves { peer: "a".into() }));
        round_trip(Message::Request(
            5,
            Request::Buckets { peer: "a".into(), buckets: vec![0, 255] },
        ));
        round_trip(Message::Response(6, Response::Object(Some(object()))));
        round_trip(Message::Response(7, Response::Object(None)));
        round_trip(Message::Response(8, Response::Ack));
        round_trip(Message::Request(
            13,
            Request::Batch(vec![
                Request::Get { key: Bytes::from("a") },
                Request::Put { key: Bytes::from("b"), object: object(), hint_for: None },
            ]),
        ));
        round_trip(Message::Response(
            14,
            Response::Batch(vec![
                Response::Ack,
                Response::Object(None),
                Response::Error { code: "STORAGE".into(), message: "disk".into() },
            ]),
        ));
        round_trip(Message::Response(9, Response::Gossip(vec![member])));
        round_trip(Message::Response(10, Response::Leaves(vec![1, 2, 3])));
        round_trip(Message::Response(11, Response::Bucket(vec![(Bytes::from("k"), object())])));
        round_trip(Message::Response(
            12,
            Response::Error { code: "UNAVAILABLE".into(), message: "write needs 2".into() },
        ));
    }

    #[test]
    fn a_nested_batch_is_refused() {
        let nested = Request::Batch(vec![Request::Batch(Vec::new())]);
        let frame = Message::Request(1, nested).encode(Vec::new());
        assert!(matches!(
            Message::take(&mut BytesMut::from(&frame[..])),
            Err(FrameError::Payload { .. })
        ));
    }

    #[test]
    fn a_partial_frame_waits_for_more_bytes() {
        let frame =
            Message::Request(1, Request::Get { key: Bytes::from("key") }).encode(Vec::new());
        let mut buffer = BytesMut::from(&frame[..frame.len() - 1]);
        assert_eq!(Message::take(&mut buffer), Ok(None));
    }

    #[test]
    fn malformed_frames_are_errors() {
        let good = Message::Request(1, Request::Get { key: Bytes::from("key") }).encode(Vec::new());
        let mut wrong_version = good.clone();
        wrong_version[4] = 9;
        assert_eq!(
            Message::take(&mut BytesMut::from(&wrong_version[..])),
            Err(FrameError::Version { found: 9 })
        );
        let mut wrong_kind = good.clone();
        wrong_kind[5] = 0x7f;
        assert_eq!(
            Message::take(&mut BytesMut::from(&wrong_kind[..])),
            Err(FrameError::Kind { kind: 0x7f })
        );
        let huge = [0xffu8, 0xff, 0xff, 0xff, 1, 0x10];
        assert!(matches!(
            Message::take(&mut BytesMut::from(&huge[..])),
            Err(FrameError::Length { .. })
        ));
        let mut trailing = good.clone();
        trailing.push(0);
        let len = (trailing.len() - 4) as u32;
        trailing[..4].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            Message::take(&mut BytesMut::from(&trailing[..])),
            Err(FrameError::Payload { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = Message::decode(&body);
        }

        #[test]
        fn puts_of_any_key_and_value_round_trip(key in proptest::collection::vec(any::<u8>(), 0..64), id in any::<u64>()) {
            let message = Message::Request(id, Request::Put { key: Bytes::from(key), object: object(), hint_for: None });
            let mut buffer = BytesMut::from(&message.encode(Vec::new())[..]);
            prop_assert_eq!(Message::take(&mut buffer), Ok(Some(message)));
        }
    }
}
