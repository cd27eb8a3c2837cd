//! The RESP server: accept under a connection semaphore, then per connection parse every
//! command already buffered (a pipeline), run the batch (on the connection's task, on the
//! commit thread or on the blocking pool: see `apply_batch`), and write the replies in
//! order.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::cmd::Command;
use crate::commit::Committer;
use crate::config::KvConfig;
use crate::connection::Connection;
use crate::db::Store;
use crate::frame::{Frame, ParseLimits};
use crate::session::Session;

/// Most commands run per batch (inline, on the commit thread or per blocking-pool hop): a
/// pipeline longer than this is answered in several batches, so one client cannot hold
/// a worker, the commit thread or a blocking thread for long.
pub const MAX_PIPELINE_COMMANDS: usize = 1024;

/// Serves RESP on `listener` until `shutdown` completes, then stops accepting, lets each
/// connection finish the batch it is running, and returns once all have closed.
///
/// Every reply is written after the store returned, so with `durability = "always"` an
/// acknowledged write is on disk.
pub async fn run(
    listener: TcpListener,
    store: Arc<Store>,
    config: &KvConfig,
    shutdown: impl Future,
) {
    let max_connections = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max_connections));
    let limits = ParseLimits { max_request_bytes: config.max_request_bytes };
    let (stop_tx, stop_rx) = watch::channel(false);
    // With `always`, plain `SET`s of all connections share one `fsync` per group.
    let committer = if store.durability() == blueprint_lsm::Durability::Always {
        match Committer::start(Arc::clone(&store)) {
            Ok(committer) => Some(Arc::new(committer)),
            Err(error) => {
                // Still correct without it (each batch commits on the blocking pool).
                tracing::error!(%error, "commit thread not started");
                None
            }
        }
    } else {
        None
    };
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
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // EMFILE and friends: back off briefly rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let store = Arc::clone(&store);
        let committer = committer.clone();
        let mut stop = stop_rx.clone();
        let counters = store.counters();
        counters.connections_received.fetch_add(1, Ordering::Relaxed);
        counters.connected_clients.fetch_add(1, Ordering::Relaxed);
        let session = Session::new(counters.next_client_id.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            let connection = Connection::new(stream, limits);
            let engine = Engine { store: &store, committer: committer.as_deref() };
            if let Err(error) = serve_connection(connection, engine, session, &mut stop).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            store.counters().connected_clients.fetch_sub(1, Ordering::Relaxed);
            // Before the permit: once `run` holds every permit, its handle is the last.
            drop(committer);
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    let max_permits = u32::try_from(max_connections).unwrap_or(u32::MAX);
    // Every connection holds a permit until it closes: holding all means all are done.
    let _all = permits.acquire_many(max_permits).await;
    // The last connection is gone, so the queue is empty: joining is immediate, and the
    // thread's handle on the store is released before `run` returns.
    if let Some(committer) = committer {
        let joined = tokio::task::spawn_blocking(move || drop(committer)).await;
        if joined.is_err() {
            tracing::error!("stopping the commit thread panicked");
        }
    }
}

/// Where a connection's batches run: the store, and the commit thread with `always`.
#[derive(Clone, Copy)]
struct Engine<'a> {
    store: &'a Arc<Store>,
    committer: Option<&'a Committer>,
}

async fn serve_connection(
    mut connection: Connection,
    engine: Engine<'_>,
    mut session: Session,
    stop: &mut watch::Receiver<bool>,
) -> std::io::Result<()> {
    loop {
        let (commands, protocol_error) = buffered_commands(&mut connection);
        if commands.is_empty() && protocol_error.is_none() {
            tokio::select! {
                more = connection.read_more() => if !more? { return Ok(()) },
                _ = stop.changed() => return Ok(()),
            }
            continue;
        }
        let quits = commands.iter().any(Command::is_quit);
        let replies;
        (replies, session) = apply_batch(engine, commands, session).await;
        connection.write_frames(&replies, session.protocol).await?;
        if quits {
            return Ok(());
        }
        if let Some(error) = protocol_error {
            let reply = Frame::error(format!("ERR Protocol error: {error}"));
            return connection.write_frames(&[reply], session.protocol).await;
        }
    }
}

/// Parses the commands already buffered, up to [`MAX_PIPELINE_COMMANDS`] and up to a
/// `QUIT`; a protocol error ends the batch (the commands before it still run).
fn buffered_commands(
    connection: &mut Connection,
) -> (Vec<Command>, Option<crate::frame::ProtocolError>) {
    let mut commands = Vec::new();
    while commands.len() < MAX_PIPELINE_COMMANDS {
        match connection.next_frame() {
            // Redis ignores empty requests (a blank inline line, `*0`).
            Ok(Some(Frame::Array(items))) if items.is_empty() => {}
            Ok(Some(frame)) => {
                let command = Command::from_frame(frame);
                let quit = command.is_quit();
                commands.push(command);
                if quit {
                    break;
                }
            }
            Ok(None) => break,
            Err(error) => return (commands, Some(error)),
        }
    }
    (commands, None)
}

/// Runs a batch where it costs least:
///
/// - on this task when no command of it waits for an `fsync` (durability `everysec` or
///   `no`, or reads only): the engine's work is a WAL `write` into the page cache and the
///   memtable, or lookups, microseconds. The hop to the blocking pool and back was the
///   largest cost of a pipelined `SET` (a quarter of the server's CPU in the scheduler's
///   task switches, perf). Inline, a stalled engine (the write throttle while compaction
///   lags, a full memtable waiting for its flush) stalls this worker's other connections
///   too: every writer waits for it either way.
/// - on the commit thread with `always` when its writes are plain `SET`s: one `fsync` for
///   the `SET`s of every connection queued meanwhile ([`crate::commit`]).
/// - on the blocking pool with `always` otherwise (`INCR`, `SET NX`, `DEL`, …), where the
///   engine's group commit shares `fsync`s between concurrent batches.
async fn apply_batch(
    engine: Engine<'_>,
    commands: Vec<Command>,
    mut session: Session,
) -> (Vec<Frame>, Session) {
    let store = engine.store;
    if store.durability() != blueprint_lsm::Durability::Always
        || !commands.iter().any(Command::writes)
    {
        let replies = crate::cmd::apply_all(commands, store, &mut session);
        return (replies, session);
    }
    let count = commands.len();
    let kept = session.clone();
    if let Some(committer) = engine.committer
        && Committer::takes(&commands)
    {
        return match committer.submit(commands, session).await {
            Ok(outcome) => outcome,
            Err(error) => {
                tracing::error!(%error, "a command batch was not committed");
                (vec![Frame::error("ERR internal error"); count], kept)
            }
        };
    }
    let store = Arc::clone(store);
    let batch = tokio::task::spawn_blocking(move || {
        let mut session = session;
        let replies = crate::cmd::apply_all(commands, &store, &mut session);
        (replies, session)
    });
    match batch.await {
        Ok(outcome) => outcome,
        Err(error) => {
            tracing::error!(%error, "a command batch panicked");
            (vec![Frame::error("ERR internal error"); count], kept)
        }
    }
}
