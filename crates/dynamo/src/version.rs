//! Versioning (book 6.3.5): dotted version vectors, siblings, the opaque causal context,
//! and the last-write-wins alternative.
//!
//! **What it is:** a pure value type, [`Object`], holding every concurrent version
//! ("sibling") of one key, each tagged with the [`Dot`] that minted it and the causal
//! context the writer had seen. Replicas merge objects with [`Object::merge`] (a join:
//! commutative, associative, idempotent); a coordinator writes with [`Object::update`].
//! **What it is not:** no I/O, no clock (timestamps are passed in), no knowledge of the
//! ring.
//!
//! # Why dotted version vectors
//!
//! A plain vector clock per sibling grows a sibling for every write a client retries with
//! a stale clock ("sibling explosion", riak_kv). A dot names exactly one write event
//! `(actor, counter)`; a sibling is dropped only when some context *covers its dot*, so a
//! write supersedes exactly what its writer saw. Dots are minted by a replica that holds
//! the key, one more than the largest counter of its actor in the local object, under a
//! per-key lock; replication ships whole objects, so any replica holding dot `(a, n)` also
//! knows every earlier dot of `a` for that key and the joined context ([`Object::context`])
//! is exact.
//!
//! Actors are `(node id, epoch)`: a node that starts with a lost data directory takes a new
//! epoch, so it never mints a dot it minted before (riak_kv #679).
//!
//! # Laws (checked by the property tests below)
//!
//! - `merge` is commutative, associative and idempotent (up to sibling order, which is
//!   canonical: sorted by dot).
//! - After `update(ctx, ..)`, no sibling whose dot `ctx` covers survives, and every
//!   sibling the context did not cover survives.
//! - In [`Mode::Lww`], an object holds at most one sibling: the greatest
//!   `(timestamp, actor, counter)`.

use std::collections::BTreeMap;

use base64::Engine;
use bytes::Bytes;

use crate::codec::{DecodeError, Reader, Writer};

/// Most entries in a context: one per actor that ever wrote the key. Bounds decoding of
/// a hostile context.
pub const MAX_CONTEXT_ENTRIES: usize = 4096;

/// Largest encoded context accepted from a client, in bytes (before base64).
pub const MAX_CONTEXT_BYTES: usize = 64 * 1024;

/// A writer identity: a node in one life of its data directory.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Actor {
    /// The node id.
    pub node: String,
    /// Bumped whenever the node starts without its old data, so counters never repeat.
    pub epoch: u64,
}

/// One write event: the `counter`-th write of `actor` to a key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dot {
    /// Who wrote.
    pub actor: Actor,
    /// The actor's write number for this key, from 1.
    pub counter: u64,
}

/// A causal context: for each actor, the highest counter seen. It covers a dot when the
/// dot's counter is at most the actor's entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    entries: BTreeMap<Actor, u64>,
}

/// Why a client's context could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContextError {
    /// Not base64.
    #[error("context is not base64")]
    NotBase64,
    /// Base64 of bytes that are not a context.
    #[error("context is malformed: {reason}")]
    Malformed {
        /// What was wrong.
        reason: DecodeError,
    },
    /// Longer than [`MAX_CONTEXT_BYTES`].
    #[error("context of {len} bytes exceeds {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

impl Context {
    /// The empty context: a blind write that supersedes nothing.
    pub fn new() -> Context {
        Context::default()
    }

    /// True when this context has seen `dot`.
    pub fn covers(&self, dot: &Dot) -> bool {
        self.entries.get(&dot.actor).is_some_and(|&seen| seen >= dot.counter)
    }

    /// Adds `dot` (and, by the contiguity invariant, every earlier dot of its actor).
    pub fn add(&mut self, dot: &Dot) {
        let entry = self.entries.entry(dot.actor.clone()).or_insert(0);
        *entry = (*entry).max(dot.counter);
    }

    /// The pointwise maximum of two contexts.
    pub fn join(&mut self, other: &Context) {
        for (actor, &counter) in &other.entries {
            let entry = self.entries.entry(actor.clone()).or_insert(0);
            *entry = (*entry).max(counter);
        }
    }

    /// The highest counter seen for `actor` (0 if none).
    pub fn counter(&self, actor: &Actor) -> u64 {
        self.entries.get(actor).copied().unwrap_or(0)
    }

    /// True when nothing has been seen.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of actors.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Binary encoding (used inside objects and on the wire).
    pub fn encode_into(&self, out: &mut Writer) {
        out.varint(self.entries.len() as u64);
        for (actor, &counter) in &self.entries {
            out.str(&actor.node);
            out.varint(actor.epoch);
            out.varint(counter);
        }
    }

    /// Decodes what [`Context::encode_into`] wrote.
    pub fn decode_from(input: &mut Reader<'_>) -> Result<Context, DecodeError> {
        let count = input.len_prefix(MAX_CONTEXT_ENTRIES)?;
        let mut entries = BTreeMap::new();
        for _ in 0..count {
            let node = input.string()?;
            let epoch = input.varint()?;
            let counter = input.varint()?;
            entries.insert(Actor { node, epoch }, counter);
        }
        Ok(Context { entries })
    }

    /// The opaque form handed to clients: base64 (URL-safe, no padding) of the binary
    /// encoding. The empty context encodes as the empty string.
    pub fn to_opaque(&self) -> String {
        if self.entries.is_empty() {
            return String::new();
        }
        let mut out = Writer::new();
        self.encode_into(&mut out);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out.into_bytes())
    }

    /// Parses what [`Context::to_opaque`] produced; the empty string is the empty context.
    pub fn from_opaque(text: &str) -> Result<Context, ContextError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Context::new());
        }
        if text.len() > MAX_CONTEXT_BYTES * 4 / 3 + 4 {
            return Err(ContextError::TooLarge { len: text.len(), max: MAX_CONTEXT_BYTES });
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| ContextError::NotBase64)?;
        let mut input = Reader::new(&bytes);
        let context = Context::decode_from(&mut input)
            .map_err(|reason| ContextError::Malformed { reason })?;
        input.finish().map_err(|reason| ContextError::Malformed { reason })?;
        Ok(context)
    }
}

/// How concurrent writes are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Keep concurrent writes as siblings (the default, and the only mode that never
    /// loses an acknowledged write).
    #[default]
    Siblings,
    /// Last write wins by wall-clock timestamp: concurrent writes silently overwrite each
    /// other. Offered as Cassandra does, and used as the negative control in tests.
    Lww,
}

/// One concurrent version of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sibling {
    /// The write that made it.
    pub dot: Dot,
    /// What the writer had seen (its dot is not included).
    pub context: Context,
    /// The value; `None` is a tombstone (a delete).
    pub value: Option<Bytes>,
    /// The coordinator's wall clock at the write, in ms since the Unix epoch: used by LWW
    /// and by plain `GET`'s resolution, never for causality.
    pub timestamp_ms: u64,
}

impl Sibling {
    /// The order plain reads and LWW resolve by: timestamp, then actor, then counter.
    fn rank(&self) -> (u64, &Actor, u64) {
        (self.timestamp_ms, &self.dot.actor, self.dot.counter)
    }
}

/// Every version of one key a replica knows: the stored and replicated unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Object {
    /// Concurrent versions, sorted by dot (canonical, so equal objects encode equally).
    siblings: Vec<Sibling>,
}

/// What [`Object::cap`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapOutcome {
    /// Siblings removed to respect the cap.
    pub dropped: usize,
}

impl Object {
    /// The object of a key never written.
    pub fn empty() -> Object {
        Object::default()
    }

    /// The siblings, sorted by dot.
    pub fn siblings(&self) -> &[Sibling] {
        &self.siblings
    }

    /// True when there is no version at all.
    pub fn is_empty(&self) -> bool {
        self.siblings.is_empty()
    }

    /// True when every sibling is a tombstone (and there is at least one).
    pub fn is_tombstone(&self) -> bool {
        !self.siblings.is_empty() && self.siblings.iter().all(|s| s.value.is_none())
    }

    /// The context to hand a reader: every dot here and everything their writers saw.
    pub fn context(&self) -> Context {
        let mut context = Context::new();
        for sibling in &self.siblings {
            context.join(&sibling.context);
            context.add(&sibling.dot);
        }
        context
    }

    /// The live values (tombstones left out), in sibling order.
    pub fn values(&self) -> Vec<Bytes> {
        self.siblings.iter().filter_map(|s| s.value.clone()).collect()
    }

    /// Plain `GET`'s resolution: the value of the sibling with the greatest
    /// `(timestamp, actor, counter)`; `None` when that sibling is a tombstone or there is
    /// none.
    pub fn resolved(&self) -> Option<Bytes> {
        self.siblings.iter().max_by(|a, b| a.rank().cmp(&b.rank())).and_then(|s| s.value.clone())
    }

    /// The largest timestamp of any sibling (0 when empty).
    pub fn latest_timestamp_ms(&self) -> u64 {
        self.siblings.iter().map(|s| s.timestamp_ms).max().unwrap_or(0)
    }

    /// The next dot `actor` should mint for this key, given the client's `context`.
    pub fn next_dot(&self, actor: &Actor, context: &Context) -> Dot {
        let local = self.counter_of(actor);
        Dot { actor: actor.clone(), counter: local.max(context.counter(actor)) + 1 }
    }

    /// A coordinator's write: mints the next dot of `actor`, drops the siblings `context`
    /// covers and adds the new one. In LWW mode the result is the single newest sibling.
    /// Returns the new sibling's dot.
    pub fn update(
        &mut self,
        mode: Mode,
        actor: &Actor,
        context: &Context,
        value: Option<Bytes>,
        timestamp_ms: u64,
    ) -> Dot {
        let dot = self.next_dot(actor, context);
        let fresh = Sibling { dot: dot.clone(), context: context.clone(), value, timestamp_ms };
        match mode {
            Mode::Siblings => {
                self.siblings.retain(|s| !context.covers(&s.dot));
                self.siblings.push(fresh);
                self.siblings.sort_by(|a, b| a.dot.cmp(&b.dot));
            }
            Mode::Lww => {
                let mut other = Object { siblings: vec![fresh] };
                // The new sibling keeps the whole history, so it can supersede later.
                let seen = self.context();
                if let Some(s) = other.siblings.first_mut() {
                    s.context.join(&seen);
                }
                self.merge_lww(&mut other);
            }
        }
        dot
    }

    /// Joins what another replica knows into this object.
    pub fn merge(&mut self, other: &Object, mode: Mode) {
        match mode {
            Mode::Siblings => self.merge_siblings(other),
            Mode::Lww => {
                let mut other = other.clone();
                self.merge_lww(&mut other);
            }
        }
    }

    /// True when this object has seen `dot` (`self.context().covers(dot)` without
    /// building the context: merges run on every replica write).
    pub fn has_seen(&self, dot: &Dot) -> bool {
        self.siblings.iter().any(|s| {
            (s.dot.actor == dot.actor && s.dot.counter >= dot.counter) || s.context.covers(dot)
        })
    }

    /// The largest counter of `actor` this object has seen (0 if none).
    fn counter_of(&self, actor: &Actor) -> u64 {
        self.siblings
            .iter()
            .map(|s| {
                let own = if &s.dot.actor == actor { s.dot.counter } else { 0 };
                own.max(s.context.counter(actor))
            })
            .max()
            .unwrap_or(0)
    }

    fn merge_siblings(&mut self, other: &Object) {
        if self == other {
            return;
        }
        // A dot one side has seen but no longer holds was superseded there.
        let mine = &*self;
        let theirs = other;
        let mut kept: Vec<Sibling> = Vec::with_capacity(self.siblings.len() + other.siblings.len());
        for sibling in &self.siblings {
            // Dropped when the other side has seen it and no longer holds it.
            let held_there = other.siblings.iter().any(|s| s.dot == sibling.dot);
            if held_there || !theirs.has_seen(&sibling.dot) {
                kept.push(sibling.clone());
            }
        }
        for sibling in &other.siblings {
            let held_here = self.siblings.iter().any(|s| s.dot == sibling.dot);
            if !held_here && !mine.has_seen(&sibling.dot) {
                kept.push(sibling.clone());
            }
        }
        kept.sort_by(|a, b| a.dot.cmp(&b.dot));
        self.siblings = kept;
    }

    fn merge_lww(&mut self, other: &mut Object) {
        let mut all: Vec<Sibling> =
            self.siblings.drain(..).chain(other.siblings.drain(..)).collect();
        let mut history = Context::new();
        for sibling in &all {
            history.join(&sibling.context);
            history.add(&sibling.dot);
        }
        all.sort_by(|a, b| a.rank().cmp(&b.rank()));
        if let Some(mut winner) = all.pop() {
            // The winner absorbs the history (its own dot included, which is harmless:
            // coverage is monotone) so that later merges stay idempotent.
            winner.context = history;
            self.siblings = vec![winner];
        }
    }

    /// Keeps at most `max` siblings, dropping the oldest by `(timestamp, actor, counter)`.
    /// A dropped sibling is lost: the cap trades completeness for bounded size.
    pub fn cap(&mut self, max: usize) -> CapOutcome {
        let max = max.max(1);
        if self.siblings.len() <= max {
            return CapOutcome { dropped: 0 };
        }
        let dropped = self.siblings.len() - max;
        let mut ranked = std::mem::take(&mut self.siblings);
        ranked.sort_by(|a, b| a.rank().cmp(&b.rank()));
        let (gone, kept) = ranked.split_at(dropped);
        let mut kept = kept.to_vec();
        // The survivors' contexts absorb the dropped dots, so a merge with a replica that
        // still holds them does not bring them back.
        if let Some(first) = kept.first_mut() {
            for sibling in gone {
                first.context.add(&sibling.dot);
                first.context.join(&sibling.context);
            }
        }
        kept.sort_by(|a, b| a.dot.cmp(&b.dot));
        self.siblings = kept;
        CapOutcome { dropped }
    }

    /// Binary encoding (storage and RPC).
    pub fn encode_into(&self, out: &mut Writer) {
        out.varint(self.siblings.len() as u64);
        for sibling in &self.siblings {
            out.str(&sibling.dot.actor.node);
            out.varint(sibling.dot.actor.epoch);
            out.varint(sibling.dot.counter);
            sibling.context.encode_into(out);
            out.varint(sibling.timestamp_ms);
            match &sibling.value {
                Some(value) => {
                    out.u8(1);
                    out.bytes(value);
                }
                None => out.u8(0),
            }
        }
    }

    /// The encoding as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Writer::new();
        self.encode_into(&mut out);
        out.into_bytes()
    }

    /// Decodes what [`Object::encode_into`] wrote.
    pub fn decode_from(input: &mut Reader<'_>) -> Result<Object, DecodeError> {
        let count = input.len_prefix(MAX_CONTEXT_ENTRIES)?;
        let mut siblings = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let node = input.string()?;
            let epoch = input.varint()?;
            let counter = input.varint()?;
            let context = Context::decode_from(input)?;
            let timestamp_ms = input.varint()?;
            let value = match input.u8()? {
                0 => None,
                1 => Some(Bytes::copy_from_slice(input.bytes()?)),
                tag => return Err(DecodeError::BadTag { what: "sibling value", tag }),
            };
            siblings.push(Sibling {
                dot: Dot { actor: Actor { node, epoch }, counter },
                context,
                value,
                timestamp_ms,
            });
        }
        siblings.sort_by(|a, b| a.dot.cmp(&b.dot));
        Ok(Object { siblings })
    }

    /// Decodes a whole buffer.
    pub fn decode(bytes: &[u8]) -> Result<Object, DecodeError> {
        let mut input = Reader::new(bytes);
        let object = Object::decode_from(&mut input)?;
        input.finish()?;
        Ok(object)
    }

    /// A digest of the canonical encoding, for Merkle leaves.
    pub fn digest(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn actor(name: &str) -> Actor {
        Actor { node: name.into(), epoch: 1 }
    }

    fn put(object: &mut Object, who: &str, context: &Context, value: &str, ts: u64) {
        object.update(
            Mode::Siblings,
            &actor(who),
            context,
            Some(Bytes::from(value.to_string())),
            ts,
        );
    }

    #[test]
    fn a_write_with_the_read_context_supersedes_what_it_saw() {
        let mut object = Object::empty();
        put(&mut object, "a", &Context::new(), "v1", 1);
        let seen = object.context();
        put(&mut object, "a", &seen, "v2", 2);
        assert_eq!(object.values(), vec![Bytes::from("v2")]);
    }

    #[test]
    fn blind_concurrent_writes_become_siblings_and_a_merge_keeps_both() {
        let mut left = Object::empty();
        let mut right = Object::empty();
        put(&mut left, "a", &Context::new(), "x", 1);
        put(&mut right, "b", &Context::new(), "y", 2);
        left.merge(&right, Mode::Siblings);
        assert_eq!(left.siblings().len(), 2);
        let both = left.context();
        put(&mut left, "a", &both, "z", 3);
        assert_eq!(left.values(), vec![Bytes::from("z")]);
    }

    #[test]
    fn a_replica_holding_a_superseded_sibling_does_not_bring_it_back() {
        let mut old = Object::empty();
        put(&mut old, "a", &Context::new(), "x", 1);
        let mut new = old.clone();
        let seen = new.context();
        put(&mut new, "b", &seen, "y", 2);
        let mut merged = old.clone();
        merged.merge(&new, Mode::Siblings);
        assert_eq!(merged.values(), vec![Bytes::from("y")]);
        let mut other = new.clone();
        other.merge(&old, Mode::Siblings);
        assert_eq!(other, merged);
    }

    #[test]
    fn lww_keeps_only_the_newest_write_and_loses_the_concurrent_one() {
        let mut left = Object::empty();
        left.update(Mode::Lww, &actor("a"), &Context::new(), Some(Bytes::from("x")), 5);
        let mut right = Object::empty();
        right.update(Mode::Lww, &actor("b"), &Context::new(), Some(Bytes::from("y")), 9);
        left.merge(&right, Mode::Lww);
        assert_eq!(left.values(), vec![Bytes::from("y")]);
    }

    #[test]
    fn plain_get_resolves_to_the_greatest_timestamp_then_actor() {
        let mut object = Object::empty();
        put(&mut object, "a", &Context::new(), "early", 1);
        put(&mut object, "b", &Context::new(), "late", 7);
        put(&mut object, "c", &Context::new(), "tie-c", 7);
        assert_eq!(object.resolved(), Some(Bytes::from("tie-c")));
    }

    #[test]
    fn a_tombstone_supersedes_the_value_it_saw() {
        let mut object = Object::empty();
        put(&mut object, "a", &Context::new(), "x", 1);
        let seen = object.context();
        object.update(Mode::Siblings, &actor("a"), &seen, None, 2);
        assert!(object.is_tombstone());
        assert_eq!(object.resolved(), None);
        assert!(object.values().is_empty());
    }

    #[test]
    fn the_cap_drops_the_oldest_siblings_and_they_stay_dropped_after_a_merge() {
        let mut object = Object::empty();
        for (i, who) in ["a", "b", "c", "d"].iter().enumerate() {
            put(&mut object, who, &Context::new(), who, i as u64);
        }
        let before = object.clone();
        assert_eq!(object.cap(2).dropped, 2);
        assert_eq!(object.values(), vec![Bytes::from("c"), Bytes::from("d")]);
        object.merge(&before, Mode::Siblings);
        assert_eq!(object.siblings().len(), 2);
    }

    #[test]
    fn a_new_epoch_never_reuses_a_dot_of_the_old_one() {
        let mut object = Object::empty();
        put(&mut object, "a", &Context::new(), "x", 1);
        let reborn = Actor { node: "a".into(), epoch: 2 };
        let mut lost = Object::empty();
        let dot = lost.update(Mode::Siblings, &reborn, &Context::new(), Some(Bytes::from("y")), 2);
        assert!(!object.context().covers(&dot));
        object.merge(&lost, Mode::Siblings);
        assert_eq!(object.siblings().len(), 2);
    }

    #[test]
    fn malformed_contexts_are_errors_not_panics() {
        assert_eq!(Context::from_opaque("!!!"), Err(ContextError::NotBase64));
        assert!(matches!(Context::from_opaque("AAAA"), Err(ContextError::Malformed { .. })));
        assert!(matches!(Context::from_opaque("_w"), Err(ContextError::Malformed { .. })));
        assert_eq!(Context::from_opaque(""), Ok(Context::new()));
    }

    /// A history of writes by three actors on three replicas, with merges between them.
    #[derive(Debug, Clone)]
    enum Step {
        Write { replica: usize, with_context: bool, value: u8 },
        Sync { from: usize, to: usize },
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..3usize, any::<bool>(), any::<u8>()).prop_map(|(replica, with_context, value)| {
                Step::Write { replica, with_context, value }
            }),
            (0..3usize, 0..3usize).prop_map(|(from, to)| Step::Sync { from, to }),
        ]
    }

    fn objects_from(steps: &[Step]) -> Vec<Object> {
        let mut replicas = vec![Object::empty(); 3];
        for (time, step) in steps.iter().enumerate() {
            match *step {
                Step::Write { replica, with_context, value } => {
                    let context =
                        if with_context { replicas[replica].context() } else { Context::new() };
                    let who = actor(&format!("n{replica}"));
                    replicas[replica].update(
                        Mode::Siblings,
                        &who,
                        &context,
                        Some(Bytes::from(vec![value])),
                        time as u64,
                    );
                }
                Step::Sync { from, to } => {
                    let source = replicas[from].clone();
                    replicas[to].merge(&source, Mode::Siblings);
                }
            }
        }
        replicas
    }

    proptest! {
        #[test]
        fn has_seen_agrees_with_the_built_context(steps in proptest::collection::vec(step(), 0..24)) {
            let r = objects_from(&steps);
            for object in &r {
                let context = object.context();
                for other in &r {
                    for sibling in other.siblings() {
                        prop_assert_eq!(object.has_seen(&sibling.dot), context.covers(&sibling.dot));
                    }
                }
            }
        }

        #[test]
        fn merge_is_commutative_associative_and_idempotent(steps in proptest::collection::vec(step(), 0..24)) {
            let r = objects_from(&steps);
            let mut ab = r[0].clone(); ab.merge(&r[1], Mode::Siblings);
            let mut ba = r[1].clone(); ba.merge(&r[0], Mode::Siblings);
            prop_assert_eq!(&ab, &ba);
            let mut ab_c = ab.clone(); ab_c.merge(&r[2], Mode::Siblings);
            let mut bc = r[1].clone(); bc.merge(&r[2], Mode::Siblings);
            let mut a_bc = r[0].clone(); a_bc.merge(&bc, Mode::Siblings);
            prop_assert_eq!(&ab_c, &a_bc);
            let mut aa = r[0].clone(); aa.merge(&r[0], Mode::Siblings);
            prop_assert_eq!(&aa, &r[0]);
        }

        #[test]
        fn every_write_not_superseded_survives_a_full_merge(steps in proptest::collection::vec(step(), 0..24)) {
            let r = objects_from(&steps);
            let mut all = r[0].clone();
            all.merge(&r[1], Mode::Siblings);
            all.merge(&r[2], Mode::Siblings);
            // A sibling held by some replica and not covered by another replica's history
            // must be in the merge.
            for (i, replica) in r.iter().enumerate() {
                for sibling in replica.siblings() {
                    let superseded = r.iter().enumerate().any(|(j, other)| {
                        j != i && other.context().covers(&sibling.dot)
                            && !other.siblings().iter().any(|s| s.dot == sibling.dot)
                    });
                    let kept = all.siblings().iter().any(|s| s.dot == sibling.dot);
                    prop_assert_eq!(kept, !superseded);
                }
            }
        }

        #[test]
        fn objects_and_contexts_round_trip_through_their_encodings(steps in proptest::collection::vec(step(), 0..16)) {
            for object in objects_from(&steps) {
                prop_assert_eq!(Object::decode(&object.encode()), Ok(object.clone()));
                let context = object.context();
                prop_assert_eq!(Context::from_opaque(&context.to_opaque()), Ok(context));
            }
        }

        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Object::decode(&bytes);
        }
    }
}
