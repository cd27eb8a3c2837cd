//! Group commit. Writers queue their batches; whoever finds no leader becomes the leader,
//! takes a group of queued batches, writes them as one WAL record (one `fsync` for the
//! group under `Durability::Always`), applies them to the memtable, publishes their
//! sequence numbers and wakes the others. Concurrent writers thus share system calls and
//! `fsync`s, and sequence numbers, WAL order and memtable order always agree.
//!
//! Without `fsync`s to share (durability `everysec` or `no`) there are no groups: each
//! write commits alone under the writer lock, which orders sequence numbers, WAL and
//! memtable the same way.
//!
//! Compare-and-swap runs as a group of one, checked by the leader against the state all
//! earlier groups produced, so no other write can slip between its read and its write.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;

use parking_lot::MutexGuard;

use crate::batch::{WriteBatch, encode_wal_payload};
use crate::db::Inner;
use crate::error::{Error, Result};
use crate::options::Durability;
use crate::sstable::bloom::hash_key;

/// Most batch bytes one leader commits as one WAL record: bounds the latency a follower
/// waits behind a huge group and the size of the leader's encoding buffer.
const MAX_GROUP_BYTES: usize = 4 * 1024 * 1024;

/// The current value `key` must have for a conditional write to apply.
#[derive(Debug)]
pub(crate) struct Condition {
    pub key: Vec<u8>,
    pub expected: Option<Vec<u8>>,
}

struct PendingWrite {
    ticket: u64,
    batch: WriteBatch,
    condition: Option<Condition>,
}

#[derive(Default)]
pub(crate) struct CommitQueue {
    pending: VecDeque<PendingWrite>,
    leader_active: bool,
    next_ticket: u64,
    /// Outcomes for followers: whether the write applied, or the leader's error.
    finished: HashMap<u64, std::result::Result<bool, String>>,
}

impl CommitQueue {
    /// The next group: a conditional write alone, or unconditional writes up to
    /// `MAX_GROUP_BYTES`.
    fn take_group(&mut self) -> Vec<PendingWrite> {
        let mut group: Vec<PendingWrite> = Vec::new();
        let mut group_bytes = 0;
        while let Some(next) = self.pending.front() {
            let conditional = next.condition.is_some();
            let fits = group_bytes + next.batch.encoded_bytes() <= MAX_GROUP_BYTES;
            if !group.is_empty() && (conditional || !fits) {
                break;
            }
            group_bytes += next.batch.encoded_bytes();
            group.extend(self.pending.pop_front());
            if conditional {
                break;
            }
        }
        group
    }
}

impl Inner {
    /// Commits `batch` (if `condition` holds); returns whether it was applied.
    pub(crate) fn commit(&self, batch: WriteBatch, condition: Option<Condition>) -> Result<bool> {
        self.check_healthy()?;
        batch.validate()?;
        batch.validate_ttls(self.options.clock.now_ms())?;
        self.throttle_if_compaction_lags();
        if self.options.durability != Durability::Always {
            return self.commit_alone(PendingWrite { ticket: 0, batch, condition });
        }
        let mut queue = self.commit.lock();
        let ticket = queue.next_ticket;
        queue.next_ticket += 1;
        queue.pending.push_back(PendingWrite { ticket, batch, condition });
        loop {
            if let Some(outcome) = queue.finished.remove(&ticket) {
                return outcome.map_err(|reason| Error::GroupCommitFailed { reason });
            }
            if queue.leader_active {
                self.commit_done.wait(&mut queue);
                continue;
            }
            if let Some(own) = self.lead_one_group(&mut queue, ticket) {
                return own;
            }
        }
    }

    /// Commits one write under the writer lock, without a queue: with no `fsync` on the
    /// commit path (`everysec`, `no`) a group shares nothing worth the hand-offs. A writer
    /// that finds the lock taken waits for one write of a few microseconds (the lock spins
    /// before it parks) instead of queueing a ticket and sleeping on the condition
    /// variable until a leader wakes it: what `SET` without pipelining paid per request.
    fn commit_alone(&self, write: PendingWrite) -> Result<bool> {
        let _writer = self.writer.lock();
        match self.apply_group(vec![write]) {
            Ok(applied) => Ok(applied.first().copied().unwrap_or(false)),
            Err(error) => {
                // As for a group: a failed WAL append may have left a partial record.
                self.record_background_error(&error.to_string());
                Err(error)
            }
        }
    }

    /// Leads one group; returns the caller's own outcome if it was in the group.
    fn lead_one_group(
        &self,
        queue: &mut MutexGuard<'_, CommitQueue>,
        own_ticket: u64,
    ) -> Option<Result<bool>> {
        queue.leader_active = true;
        let group = queue.take_group();
        let tickets: Vec<u64> = group.iter().map(|write| write.ticket).collect();
        let outcome = MutexGuard::unlocked(queue, || self.apply_group(group));
        queue.leader_active = false;
        let mut own = None;
        match outcome {
            Ok(applied) => {
                for (ticket, applied) in tickets.into_iter().zip(applied) {
                    if ticket == own_ticket {
                        own = Some(Ok(applied));
                    } else {
                        queue.finished.insert(ticket, Ok(applied));
                    }
                }
            }
            Err(error) => {
                // A failed WAL append may have left a partial record behind: stop
                // accepting writes rather than acknowledge anything after it.
                let reason = error.to_string();
                self.record_background_error(&reason);
                for &ticket in &tickets {
                    if ticket != own_ticket {
                        queue.finished.insert(ticket, Err(reason.clone()));
                    }
                }
                if !tickets.contains(&own_ticket) {
                    queue.pending.retain(|write| write.ticket != own_ticket);
                }
                own = Some(Err(error));
            }
        }
        self.commit_done.notify_all();
        own
    }

    /// Writes a group to the WAL and the memtable; returns per-write "applied" flags.
    fn apply_group(&self, group: Vec<PendingWrite>) -> Result<Vec<bool>> {
        self.check_healthy()?;
        self.make_room_for_write(false)?;
        let now_ms = self.options.clock.now_ms();
        let mut next_seq = self.last_seq.load(Ordering::Acquire) + 1;
        let mut entries = Vec::new();
        let mut applied = Vec::with_capacity(group.len());
        for write in group {
            if let Some(condition) = &write.condition {
                let visible = self.visible_seq.load(Ordering::Acquire);
                let current = self.get_at(&self.current.load_full(), &condition.key, visible)?;
                if current != condition.expected {
                    applied.push(false);
                    continue;
                }
            }
            let batch_entries = write.batch.into_entries(next_seq, now_ms)?;
            next_seq += batch_entries.len() as u64;
            entries.extend(batch_entries);
            applied.push(true);
        }
        let Some(last_seq) = entries.last().map(|entry| entry.seq) else {
            return Ok(applied);
        };
        let mut payload = Vec::new();
        encode_wal_payload(&entries, &mut payload);
        let user_bytes: usize =
            entries.iter().map(|entry| entry.key.len() + entry.value.len()).sum();
        self.written.user_bytes.fetch_add(user_bytes as u64, Ordering::Relaxed);
        self.written.wal_bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
        {
            let mut wal = self.wal.lock();
            wal.append(&payload)?;
            if self.options.durability == Durability::Always {
                wal.sync()?;
            }
        }
        self.last_seq.store(last_seq, Ordering::Release);
        // Before the writes are visible: a reader that can see them finds their rows
        // current or their buckets marked (row_cache's rule 1).
        if let Some(rows) = &self.rows {
            rows.write(&entries, hash_key);
        }
        self.current.load().active.insert(entries);
        self.visible_seq.store(last_seq, Ordering::Release);
        Ok(applied)
    }

    /// Runs `work` as the commit leader, so no write is in flight meanwhile (used to
    /// freeze the memtable on demand).
    pub(crate) fn with_leadership<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        // Writers without a group (`commit_alone`) first, then the queue's leader.
        let _writer = self.writer.lock();
        let mut queue = self.commit.lock();
        while queue.leader_active {
            self.commit_done.wait(&mut queue);
        }
        queue.leader_active = true;
        let outcome = MutexGuard::unlocked(&mut queue, work);
        queue.leader_active = false;
        self.commit_done.notify_all();
        outcome
    }
}
