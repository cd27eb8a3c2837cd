//! The RESP server: accept under a connection semaphore, then per connection parse every
//! command already buffered (a pipeline), run the batch on the blocking pool (the engine
//! is synchronous), and write the replies in order.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::cmd::Command;
use crate::config::KvConfig;
use crate::connection::Connection;
use crate::db::Store;
use crate::frame::{Frame, ParseLimits};
use crate::session::Session;

/// Most commands run per blocking-pool hop: a pipeline longer than this is answered in
/// several batches, so one client cannot hold a blocking thread for long.
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
        let mut stop = stop_rx.clone();
        let counters = store.counters();
        counters.connections_received.fetch_add(1, Ordering::Relaxed);
        counters.connected_clients.fetch_add(1, Ordering::Relaxed);
        let session = Session::new(counters.next_client_id.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(async move {
            let connection = Connection::new(stream, limits);
            if let Err(error) = serve_connection(connection, &store, session, &mut stop).await {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
            store.counters().connected_clients.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    let _ = stop_tx.send(true);
    let max_permits = u32::try_from(max_connections).unwrap_or(u32::MAX);
    // Every connection holds a permit until it closes: holding all means all are done.
    let _all = permits.acquire_many(max_permits).await;
}

async fn serve_connection(
    mut connection: Connection,
    store: &Arc<Store>,
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
        (replies, session) = apply_batch(store, commands, session).await;
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

/// Runs a batch: on this task when no command of it waits for an `fsync` (durability
/// `everysec` or `no`: the engine's work is a WAL `write` into the page cache and memtable
/// or cache lookups, microseconds), on the blocking pool when it may (`always`). The hop
/// to the pool and back was the largest cost of a pipelined `SET` (a quarter of the
/// server's CPU in the scheduler's task switches, perf). Inline, a stalled engine (the
/// write throttle while compaction lags, a full memtable waiting for its flush) stalls
/// this worker's other connections too: every writer waits for it either way.
async fn apply_batch(
    store: &Arc<Store>,
    commands: Vec<Command>,
    mut session: Session,
) -> (Vec<Frame>, Session) {
    if store.durability() != blueprint_lsm::Durability::Always {
        let replies = crate::cmd::apply_all(commands, store, &mut session);
        return (replies, session);
    }
    let count = commands.len();
    let store = Arc::clone(store);
    let kept = session.clone();
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
