//! Model-based property test: random operation sequences (puts, deletes, batches, TTLs,
//! compare-and-swap, scans, snapshots, flushes, compactions, reopen) must leave the
//! engine observably equal to a `BTreeMap`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use blueprint_lsm::{
    CompactionOptions, Db, Durability, ManualClock, Options, Snapshot, WriteBatch,
};
use proptest::prelude::*;

/// The model: key → (value, absolute expiry in ms).
type Model = BTreeMap<Vec<u8>, (Vec<u8>, Option<u64>)>;

#[derive(Debug, Clone)]
enum Write {
    Put(u8, Vec<u8>),
    PutTtl(u8, Vec<u8>, u64),
    Delete(u8),
}

#[derive(Debug, Clone)]
enum Operation {
    Write(Write),
    Batch(Vec<Write>),
    CompareAndSwap { key: u8, expect_current: bool, new: Option<Vec<u8>> },
    AdvanceClock(u64),
    Get(u8),
    Range(u8, u8),
    Prefix(u8),
    TakeSnapshot,
    CheckSnapshot(usize),
    DropSnapshot(usize),
    Flush,
    Compact,
    Reopen,
}

fn key(index: u8) -> Vec<u8> {
    format!("key{:02}", index % 40).into_bytes()
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..24),
        1 => proptest::collection::vec(any::<u8>(), 200..400),
    ]
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        6 => (any::<u8>(), value()).prop_map(|(k, v)| Write::Put(k, v)),
        2 => (any::<u8>(), value(), 1u64..3_000).prop_map(|(k, v, t)| Write::PutTtl(k, v, t)),
        3 => any::<u8>().prop_map(Write::Delete),
    ]
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        20 => write().prop_map(Operation::Write),
        3 => proptest::collection::vec(write(), 1..6).prop_map(Operation::Batch),
        2 => (any::<u8>(), any::<bool>(), proptest::option::of(value()))
            .prop_map(|(key, expect_current, new)| Operation::CompareAndSwap { key, expect_current, new }),
        2 => (1u64..2_000).prop_map(Operation::AdvanceClock),
        8 => any::<u8>().prop_map(Operation::Get),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Operation::Range(a, b)),
        1 => (0u8..5).prop_map(Operation::Prefix),
        1 => Just(Operation::TakeSnapshot),
        2 => any::<usize>().prop_map(Operation::CheckSnapshot),
        1 => any::<usize>().prop_map(Operation::DropSnapshot),
        1 => Just(Operation::Flush),
        1 => Just(Operation::Compact),
        1 => Just(Operation::Reopen),
    ]
}

fn live(model: &Model, now_ms: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    model
        .iter()
        .filter(|(_, (_, expiry))| expiry.is_none_or(|expiry| expiry > now_ms))
        .map(|(k, (v, _))| (k.clone(), v.clone()))
        .collect()
}

struct Harness {
    dir: tempfile::TempDir,
    options: Options,
    clock: Arc<ManualClock>,
    db: Option<Db>,
    model: Model,
    snapshots: Vec<(Snapshot, Model)>,
}

impl Harness {
    fn new(auto_compaction: bool, row_cache_bytes: usize) -> Self {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let options = Options {
            memtable_bytes: 2048,
            max_immutable_memtables: 2,
            block_bytes: 128,
            block_cache_bytes: 64 * 1024,
            durability: Durability::No,
            auto_compaction,
            compaction: CompactionOptions { min_merge_width: 2, ..CompactionOptions::default() },
            clock: clock.clone(),
            row_cache_bytes,
            ..Options::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), options.clone()).unwrap();
        Self { dir, options, clock, db: Some(db), model: Model::new(), snapshots: Vec::new() }
    }

    fn db(&self) -> &Db {
        self.db.as_ref().unwrap()
    }

    fn now(&self) -> u64 {
        use blueprint_lsm::Clock;
        self.clock.now_ms()
    }

    fn apply_to_model(&mut self, write: &Write) {
        let now = self.now();
        match write {
            Write::Put(k, v) => self.model.insert(key(*k), (v.clone(), None)),
            Write::PutTtl(k, v, ttl) => self.model.insert(key(*k), (v.clone(), Some(now + ttl))),
            Write::Delete(k) => self.model.remove(&key(*k)),
        };
    }

    fn add_to_batch(batch: &mut WriteBatch, write: &Write) {
        match write {
            Write::Put(k, v) => batch.put(key(*k), v),
            Write::PutTtl(k, v, ttl) => batch.put_with_ttl(key(*k), v, Duration::from_millis(*ttl)),
            Write::Delete(k) => batch.delete(key(*k)),
        };
    }

    fn check_scan(
        &self,
        actual: blueprint_lsm::Iter,
        expected: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> Result<(), TestCaseError> {
        let actual: Vec<(Vec<u8>, Vec<u8>)> = actual.collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(actual, expected);
        Ok(())
    }

    fn run(&mut self, operation: Operation) -> Result<(), TestCaseError> {
        match operation {
            Operation::Write(write) => {
                let mut batch = WriteBatch::new();
                Self::add_to_batch(&mut batch, &write);
                self.db().write(batch).unwrap();
                self.apply_to_model(&write);
            }
            Operation::Batch(writes) => {
                let mut batch = WriteBatch::new();
                writes.iter().for_each(|write| Self::add_to_batch(&mut batch, write));
                self.db().write(batch).unwrap();
                writes.iter().for_each(|write| self.apply_to_model(write));
            }
            Operation::CompareAndSwap { key: k, expect_current, new } => {
                let current = live(&self.model, self.now()).get(&key(k)).cloned();
                let expected =
                    if expect_current { current.clone() } else { Some(b"never-stored".to_vec()) };
                let swapped = self
                    .db()
                    .compare_and_swap(key(k), expected.as_deref(), new.as_deref())
                    .unwrap();
                prop_assert_eq!(swapped, expected == current);
                if swapped {
                    match new {
                        Some(value) => self.model.insert(key(k), (value, None)),
                        None => self.model.remove(&key(k)),
                    };
                }
            }
            Operation::AdvanceClock(ms) => self.clock.advance_ms(ms),
            Operation::Get(k) => {
                let expected = live(&self.model, self.now()).get(&key(k)).cloned();
                prop_assert_eq!(self.db().get(key(k)).unwrap(), expected);
            }
            Operation::Range(a, b) => {
                let (low, high) = (key(a).min(key(b)), key(a).max(key(b)));
                let expected = live(&self.model, self.now())
                    .range::<Vec<u8>, _>((Bound::Excluded(&low), Bound::Included(&high)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                self.check_scan(
                    self.db().range((Bound::Excluded(low.clone()), Bound::Included(high.clone()))),
                    expected,
                )?;
            }
            Operation::Prefix(digit) => {
                let prefix = format!("key{digit}").into_bytes();
                let expected = live(&self.model, self.now())
                    .into_iter()
                    .filter(|(k, _)| k.starts_with(&prefix))
                    .collect();
                self.check_scan(self.db().prefix(&prefix), expected)?;
            }
            Operation::TakeSnapshot => {
                let snapshot = self.db().snapshot();
                self.snapshots.push((snapshot, self.model.clone()));
            }
            Operation::CheckSnapshot(index) => {
                if !self.snapshots.is_empty() {
                    let (snapshot, model) = &self.snapshots[index % self.snapshots.len()];
                    let expected: Vec<(Vec<u8>, Vec<u8>)> =
                        live(model, self.now()).into_iter().collect();
                    for (k, v) in &expected {
                        prop_assert_eq!(snapshot.get(k).unwrap(), Some(v.clone()));
                    }
                    let all: Vec<(Vec<u8>, Vec<u8>)> =
                        snapshot.range::<&[u8]>(..).collect::<Result<_, _>>().unwrap();
                    prop_assert_eq!(all, expected);
                }
            }
            Operation::DropSnapshot(index) => {
                if !self.snapshots.is_empty() {
                    let len = self.snapshots.len();
                    self.snapshots.remove(index % len);
                }
            }
            Operation::Flush => self.db().flush().unwrap(),
            Operation::Compact => self.db().compact().unwrap(),
            Operation::Reopen => {
                self.snapshots.clear();
                self.db = None;
                self.db = Some(Db::open(self.dir.path(), self.options.clone()).unwrap());
            }
        }
        Ok(())
    }

    fn check_everything(&self) -> Result<(), TestCaseError> {
        let expected: Vec<(Vec<u8>, Vec<u8>)> = live(&self.model, self.now()).into_iter().collect();
        let actual: Vec<(Vec<u8>, Vec<u8>)> =
            self.db().range::<&[u8]>(..).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(actual, expected);
        Ok(())
    }
}

fn run_sequence(
    operations: Vec<Operation>,
    auto_compaction: bool,
    row_cache_bytes: usize,
) -> Result<(), TestCaseError> {
    let mut harness = Harness::new(auto_compaction, row_cache_bytes);
    for operation in operations {
        harness.run(operation)?;
    }
    harness.check_everything()?;
    harness.run(Operation::Reopen)?;
    harness.check_everything()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_matches_a_btreemap_under_random_operations(
        operations in proptest::collection::vec(operation(), 1..80),
        auto_compaction in any::<bool>(),
        // Off; so small that nearly every fill evicts (2 KiB over 16 shards: about one
        // row each), which exercises the marks; large enough to keep every key.
        row_cache_bytes in prop_oneof![Just(0usize), Just(2048), Just(1 << 20)],
    ) {
        run_sequence(operations, auto_compaction, row_cache_bytes)?;
    }
}
