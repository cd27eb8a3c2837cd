//! Group commit for `durability = "always"`: one thread, the committer, writes the plain
//! `SET`s of every connection that queued a batch since its last `fsync` as one engine
//! batch (one WAL record, one `fsync`), and only then answers them all.
//!
//! This is what Redis's `appendfsync always` does: it `fsync`s once per event-loop
//! iteration, for the writes of every client served in it. While the committer waits
//! for one `fsync`, the next group accumulates in its queue, so under load a group holds
//! one batch from nearly every connection. Before, each connection's batch hopped to the
//! blocking pool and committed on its own; the hops (pool wake-up, condition variables,
//! task wake-up) made groups of one or two batches (about 20 `SET`s per `fsync`, strace).
//!
//! The guarantee is unchanged: a reply leaves only after [`Store::set_many`] returned,
//! and under `Durability::Always` that is after the engine's `fsync`. A read in a group
//! runs after the pending `SET`s of its own connection were written (read your writes);
//! it may run before another connection's pending `SET`s, which is a valid order since
//! neither was answered yet. Other writes (`INCR`, `SET NX`, `DEL`, …) do not come here
//! (the server runs them on the blocking pool, where the engine's own group commit
//! shares `fsync`s between them); if one does, the pending `SET`s are written first.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::cmd::Command;
use crate::db::Store;
use crate::frame::Frame;
use crate::session::Session;

/// Most key and value bytes of `SET`s written as one engine batch: 4 MiB (the engine's
/// own group limit), so one `fsync` never waits behind an unbounded write and a group's
/// encoding buffer stays small. A larger group is written in several batches.
pub const MAX_GROUP_BYTES: usize = 4 * 1024 * 1024;

/// Most connection batches in one group: the queue holds at most one batch per
/// connection (each waits for its replies), so this only bounds a group's latency when
/// very many connections write at once.
pub const MAX_GROUP_BATCHES: usize = 1024;

/// A connection's batch with its replies in place once it has run.
struct Work {
    commands: Vec<Command>,
    session: Session,
    replies: Vec<Frame>,
}

/// A queued batch and where its replies go.
struct Job {
    work: Work,
    done: oneshot::Sender<(Vec<Frame>, Session)>,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    queued: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent between operations; a panic elsewhere cannot tear it.
        self.queue.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The committer thread and its queue. Dropping it lets the thread finish the queued
/// batches, then joins it.
pub struct Committer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Committer").finish_non_exhaustive()
    }
}

/// The committer stopped (shut down, or a batch panicked): the batch was not answered.
#[derive(Debug, thiserror::Error)]
#[error("the commit thread dropped the batch")]
pub struct CommitDropped;

impl Committer {
    /// Starts the committer thread for `store`.
    pub fn start(store: Arc<Store>) -> std::io::Result<Committer> {
        let shared = Arc::new(Shared { queue: Mutex::default(), queued: Condvar::new() });
        let thread = std::thread::Builder::new().name("kv-commit".to_owned()).spawn({
            let shared = Arc::clone(&shared);
            move || commit_loop(&shared, &store)
        })?;
        Ok(Committer { shared, thread: Some(thread) })
    }

    /// Whether a batch belongs here: it writes, and every write in it is a plain `SET`
    /// (so it can share the group's engine batch); reads may be mixed in.
    pub fn takes(commands: &[Command]) -> bool {
        commands.iter().any(Command::writes)
            && commands.iter().all(|command| command.is_plain_set() || !command.writes())
    }

    /// Queues a connection's batch and waits until its group is written (and, under
    /// `Durability::Always`, `fsync`ed); returns the replies in order and the session.
    pub async fn submit(
        &self,
        commands: Vec<Command>,
        session: Session,
    ) -> Result<(Vec<Frame>, Session), CommitDropped> {
        let (done, replies) = oneshot::channel();
        let replies_len = commands.len();
        {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(CommitDropped);
            }
            let work = Work { commands, session, replies: Vec::with_capacity(replies_len) };
            queue.jobs.push_back(Job { work, done });
        }
        self.shared.queued.notify_one();
        replies.await.map_err(|_| CommitDropped)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.queued.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the commit thread panicked");
        }
    }
}

/// Takes every queued batch (up to [`MAX_GROUP_BATCHES`]), runs them as one group,
/// answers them; until closed and drained.
fn commit_loop(shared: &Shared, store: &Store) {
    loop {
        let jobs: Vec<Job> = {
            let mut queue = shared.lock();
            while queue.jobs.is_empty() && !queue.closed {
                queue = shared.queued.wait(queue).unwrap_or_else(|poison| poison.into_inner());
            }
            if queue.jobs.is_empty() {
                return;
            }
            let take = queue.jobs.len().min(MAX_GROUP_BATCHES);
            queue.jobs.drain(..take).collect()
        };
        let (mut works, senders): (Vec<Work>, Vec<_>) =
            jobs.into_iter().map(|job| (job.work, job.done)).unzip();
        // A panicking command must not take the thread (and every later write) with it:
        // its group's connections get an error instead (their senders are dropped).
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            run_group(store, &mut works, MAX_GROUP_BYTES);
        }));
        if ran.is_err() {
            tracing::error!("a commit group panicked");
            continue;
        }
        for (work, sender) in works.into_iter().zip(senders) {
            // A connection that went away meanwhile no longer wants its replies.
            let _ = sender.send((work.replies, work.session));
        }
    }
}

/// Plain `SET`s waiting to be written as one engine batch, and the reply slots
/// (`(batch index, reply index)`) that answer them.
#[derive(Default)]
struct PendingSets {
    pairs: Vec<(Bytes, Bytes)>,
    slots: Vec<(usize, usize)>,
    bytes: usize,
}

impl PendingSets {
    /// Adds a `SET`. A `SET` of the same key as the one just before replaces it: no read
    /// can run between them (a read flushes its own batch's `SET`s first, and another
    /// batch's `SET`s are not answered yet), so the overwritten value is never seen and
    /// needs no WAL bytes or memtable version. A hot key written by every connection
    /// costs one version per group, not one per `SET`.
    fn push(&mut self, key: Bytes, value: Bytes) {
        if let Some((last_key, last_value)) = self.pairs.last_mut()
            && *last_key == key
        {
            self.bytes = self.bytes - last_value.len() + value.len();
            *last_value = value;
            return;
        }
        self.bytes += key.len() + value.len();
        self.pairs.push((key, value));
    }

    /// Writes the pending `SET`s as one batch; on failure every one of them is answered
    /// with the error instead of `+OK`.
    fn write(&mut self, store: &Store, works: &mut [Work]) {
        if self.pairs.is_empty() {
            return;
        }
        let pairs: Vec<(&[u8], &[u8])> =
            self.pairs.iter().map(|(key, value)| (key.as_ref(), value.as_ref())).collect();
        if let Err(error) = store.set_many(&pairs) {
            let reply = Frame::error(error.resp_message());
            for &(work, slot) in &self.slots {
                works[work].replies[slot] = reply.clone();
            }
        }
        self.pairs.clear();
        self.slots.clear();
        self.bytes = 0;
    }
}

/// One connection's batch run on its own (inline or on the blocking pool), by the same
/// rules as a group: runs of plain `SET`s become engine batches of at most `max_bytes`.
pub(crate) fn run_batch(
    store: &Store,
    commands: Vec<Command>,
    session: &mut Session,
    max_bytes: usize,
) -> Vec<Frame> {
    let replies = Vec::with_capacity(commands.len());
    let taken = std::mem::replace(session, Session::new(session.id));
    let mut works = [Work { commands, session: taken, replies }];
    run_group(store, &mut works, max_bytes);
    let [Work { session: ran, replies, .. }] = works;
    *session = ran;
    replies
}

/// Runs every batch of a group in queue order; each batch's commands in its order. Runs
/// of plain `SET`s are written as engine batches of at most `max_bytes` of keys and values.
fn run_group(store: &Store, works: &mut [Work], max_bytes: usize) {
    let mut pending = PendingSets::default();
    for index in 0..works.len() {
        let commands = std::mem::take(&mut works[index].commands);
        let count = u64::try_from(commands.len()).unwrap_or(u64::MAX);
        store.counters().commands_processed.fetch_add(count, Ordering::Relaxed);
        // Whether this batch has a `SET` in `pending`: its later reads must see it.
        let mut own_pending = false;
        for command in commands {
            let command = match command.into_plain_set() {
                Ok((key, value)) => {
                    let bytes = key.len() + value.len();
                    if pending.bytes + bytes > max_bytes {
                        pending.write(store, works);
                    }
                    let work = &mut works[index];
                    pending.slots.push((index, work.replies.len()));
                    pending.push(key, value);
                    work.replies.push(Frame::ok());
                    own_pending = true;
                    continue;
                }
                Err(command) => command,
            };
            if own_pending || command.writes() {
                pending.write(store, works);
                own_pending = false;
            }
            let work = &mut works[index];
            let reply = command.apply(store, &mut work.session);
            work.replies.push(reply);
        }
    }
    pending.write(store, works);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use super::*;

    fn command(words: &[&str]) -> Command {
        Command::from_frame(Frame::Array(
            words.iter().map(|word| Frame::bulk(word.as_bytes().to_vec())).collect(),
        ))
    }

    fn always_store() -> (tempfile::TempDir, Arc<Store>) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), blueprint_lsm::Durability::Always).unwrap();
        (dir, Arc::new(store))
    }

    #[test]
    fn only_batches_whose_writes_are_all_plain_sets_are_taken() {
        assert!(Committer::takes(&[command(&["SET", "k", "v"]), command(&["GET", "k"])]));
        assert!(!Committer::takes(&[command(&["GET", "k"])]), "reads alone run inline");
        assert!(!Committer::takes(&[command(&["SET", "k", "v"]), command(&["INCR", "n"])]));
        assert!(!Committer::takes(&[command(&["SET", "k", "v", "NX"])]));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_reply_leaves_before_the_group_is_written() {
        let (_dir, store) = always_store();
        let committer = Arc::new(Committer::start(Arc::clone(&store)).unwrap());
        // Holding the key's stripe lock stalls the committer inside `set_many`, before
        // the engine write and its `fsync`.
        let guard = store.lock_keys(&[b"k"]);
        let submitted = tokio::spawn({
            let committer = Arc::clone(&committer);
            async move { committer.submit(vec![command(&["SET", "k", "v"])], Session::new(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!submitted.is_finished(), "answered before the write");
        assert_eq!(store.get(b"k").unwrap(), None);
        drop(guard);
        let (replies, _) = submitted.await.unwrap().unwrap();
        assert_eq!(replies, vec![Frame::ok()]);
        assert_eq!(store.get(b"k").unwrap(), Some(b"v".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_queued_during_a_write_share_the_next_group_and_each_reads_its_own_writes() {
        let (_dir, store) = always_store();
        let committer = Arc::new(Committer::start(Arc::clone(&store)).unwrap());
        let guard = store.lock_keys(&[b"first"]);
        let first = tokio::spawn({
            let committer = Arc::clone(&committer);
            async move { committer.submit(vec![command(&["SET", "first", "1"])], Session::new(1)).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let seq_before = store.stats().last_seq;
        let others: Vec<_> = (0..50)
            .map(|client| {
                let committer = Arc::clone(&committer);
                tokio::spawn(async move {
                    let key = format!("key:{client}");
                    let commands = vec![
                        command(&["SET", &key, "a"]),
                        command(&["SET", &key, &format!("value:{client}")]),
                        command(&["GET", &key]),
                        command(&["SET", "shared", &client.to_string()]),
                    ];
                    committer.submit(commands, Session::new(client)).await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(others.iter().all(|other| !other.is_finished()), "answered before the write");
        drop(guard);
        assert_eq!(first.await.unwrap().unwrap().0, vec![Frame::ok()]);
        for (client, other) in others.into_iter().enumerate() {
            let (replies, session) = other.await.unwrap().unwrap();
            let value = Frame::bulk(format!("value:{client}"));
            assert_eq!(replies, vec![Frame::ok(), Frame::ok(), value, Frame::ok()]);
            assert_eq!(session.id, client as u64, "each batch gets its own session back");
        }
        // 1 (first) + 50 x 2 versions: the first of each batch's two SETs of its key is
        // overwritten before anything reads it, so only the second is written.
        assert_eq!(store.stats().last_seq, seq_before + 1 + 100);
        let shared = String::from_utf8(store.get(b"shared").unwrap().unwrap()).unwrap();
        assert!(shared.parse::<u64>().is_ok_and(|client| client < 50), "{shared}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_is_not_a_plain_set_runs_after_the_pending_sets() {
        let (_dir, store) = always_store();
        let committer = Committer::start(Arc::clone(&store)).unwrap();
        let commands = vec![
            command(&["SET", "n", "41"]),
            command(&["INCR", "n"]),
            command(&["SET", "m", "x"]),
            command(&["SET", "n", "7", "GET"]),
        ];
        let (replies, _) = committer.submit(commands, Session::new(1)).await.unwrap();
        let expected = vec![Frame::ok(), Frame::Integer(42), Frame::ok(), Frame::bulk("42")];
        assert_eq!(replies, expected);
        assert_eq!(store.get(b"n").unwrap(), Some(b"7".to_vec()));
        assert_eq!(store.get(b"m").unwrap(), Some(b"x".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consecutive_sets_of_one_key_write_only_the_last_version() {
        let (_dir, store) = always_store();
        let committer = Committer::start(Arc::clone(&store)).unwrap();
        let seq_before = store.stats().last_seq;
        let commands = vec![
            command(&["SET", "k", "1"]),
            command(&["SET", "k", "22"]),
            command(&["SET", "j", "x"]),
            command(&["SET", "k", "333"]),
            command(&["SET", "k", "4444"]),
            command(&["GET", "k"]),
        ];
        let (replies, _) = committer.submit(commands, Session::new(1)).await.unwrap();
        let ok = Frame::ok();
        let expected =
            vec![ok.clone(), ok.clone(), ok.clone(), ok.clone(), ok, Frame::bulk("4444")];
        assert_eq!(replies, expected);
        assert_eq!(store.stats().last_seq, seq_before + 3, "k=22, j=x, k=4444");
        assert_eq!(store.get(b"j").unwrap(), Some(b"x".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_committer_refuses_instead_of_hanging() {
        let (_dir, store) = always_store();
        let committer = Committer::start(Arc::clone(&store)).unwrap();
        committer.shared.lock().closed = true;
        let refused = committer.submit(vec![command(&["SET", "k", "v"])], Session::new(1)).await;
        assert!(refused.is_err());
    }
}
