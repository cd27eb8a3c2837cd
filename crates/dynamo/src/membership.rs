//! Gossip membership and failure detection (book 6.3.7), as a pure state machine.
//!
//! **What it is:** every node keeps a table of members, each with an incarnation (bumped
//! on every start), a heartbeat counter it increments itself, and whether it has left.
//! Gossip is push-pull: a node sends its table to a few random members, which merge it
//! and answer with theirs. A member whose `(incarnation, heartbeat)` has not grown for
//! `suspect_after_ms` is *suspect* (no longer sent requests), and after `dead_after_ms`
//! *dead*. Failure detection never changes the ring; only joining and leaving do, so a
//! flapping link moves no data. **What it is not:** no timers, sockets or clock: the
//! caller passes `now_ms` (a monotonic clock) and a random number generator.

use std::collections::BTreeMap;

use rand::{Rng, RngExt};

use crate::codec::{DecodeError, Reader, Writer};
use crate::placement::PlacedNode;

/// Most members a gossip message may carry: bounds decoding and the table.
pub const MAX_MEMBERS: usize = 1024;

/// What a node says about itself, spread by gossip.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemberInfo {
    /// Node id.
    pub id: String,
    /// Where its RPC listener is.
    pub rpc_addr: String,
    /// Its datacenter, if configured.
    pub datacenter: Option<String>,
    /// Relative capacity (share of virtual nodes).
    pub capacity: f64,
    /// Bumped on every start, so a restarted node's new heartbeats win over old ones.
    pub incarnation: u64,
    /// Incremented by the node on every gossip round.
    pub heartbeat: u64,
    /// True once the node has announced that it leaves the ring.
    pub left: bool,
}

impl MemberInfo {
    fn version(&self) -> (u64, u64) {
        (self.incarnation, self.heartbeat)
    }

    /// Binary encoding.
    pub fn encode_into(&self, out: &mut Writer) {
        out.str(&self.id);
        out.str(&self.rpc_addr);
        out.str(self.datacenter.as_deref().unwrap_or(""));
        out.u64_fixed(self.capacity.to_bits());
        out.varint(self.incarnation);
        out.varint(self.heartbeat);
        out.u8(u8::from(self.left));
    }

    /// Decodes what [`MemberInfo::encode_into`] wrote.
    pub fn decode_from(input: &mut Reader<'_>) -> Result<MemberInfo, DecodeError> {
        let id = input.string()?;
        let rpc_addr = input.string()?;
        let datacenter = input.string()?;
        let capacity = f64::from_bits(input.u64_fixed()?);
        let incarnation = input.varint()?;
        let heartbeat = input.varint()?;
        let left = match input.u8()? {
            0 => false,
            1 => true,
            tag => return Err(DecodeError::BadTag { what: "left flag", tag }),
        };
        let capacity = if capacity.is_finite() && capacity > 0.0 { capacity } else { 1.0 };
        Ok(MemberInfo {
            id,
            rpc_addr,
            datacenter: if datacenter.is_empty() { None } else { Some(datacenter) },
            capacity,
            incarnation,
            heartbeat,
            left,
        })
    }
}

/// A node's local opinion of a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// Heard from recently.
    Alive,
    /// Silent for longer than the suspect timeout: not sent requests.
    Suspect,
    /// Silent for longer than the dead timeout.
    Dead,
    /// Announced its departure; off the ring.
    Left,
}

/// Failure-detector timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Silence after which a member is suspect.
    pub suspect_after_ms: u64,
    /// Silence after which a member is dead.
    pub dead_after_ms: u64,
    /// When set, a member is suspect once the phi-accrual suspicion level of its silence
    /// exceeds this (8 is Cassandra's default), instead of after `suspect_after_ms`;
    /// death stays a plain timeout.
    pub phi_suspect: Option<f64>,
}

/// Heartbeat inter-arrival times kept per member for phi-accrual.
const PHI_WINDOW: usize = 64;
/// Samples needed before phi is trusted; before that the timeouts decide.
const PHI_MIN_SAMPLES: usize = 4;

/// Phi-accrual (Hayashibara et al.): how unlikely a silence of `silent_ms` is, as
/// `-log10(P(interval > silent))`, with intervals modelled as normal with the observed
/// mean and deviation (Akka's logistic approximation of the normal tail).
pub fn phi(silent_ms: u64, intervals_ms: &[u64]) -> f64 {
    if intervals_ms.is_empty() {
        return 0.0;
    }
    let count = intervals_ms.len() as f64;
    let mean = intervals_ms.iter().sum::<u64>() as f64 / count;
    let variance = intervals_ms.iter().map(|&i| (i as f64 - mean).powi(2)).sum::<f64>() / count;
    // A floor on the deviation: perfectly regular heartbeats must not make one late
    // message look impossible.
    let deviation = variance.sqrt().max(mean / 4.0).max(1.0);
    let y = (silent_ms as f64 - mean) / deviation;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    if silent_ms as f64 > mean {
        -(e / (1.0 + e)).log10()
    } else {
        -(1.0 - 1.0 / (1.0 + e)).log10()
    }
}

#[derive(Debug, Clone)]
struct Entry {
    info: MemberInfo,
    /// When this node last saw the member's version grow.
    last_heard_ms: u64,
    /// Recent gaps between those moments, oldest first (at most [`PHI_WINDOW`]).
    intervals_ms: std::collections::VecDeque<u64>,
}

impl Entry {
    fn new(info: MemberInfo, now_ms: u64) -> Entry {
        Entry { info, last_heard_ms: now_ms, intervals_ms: std::collections::VecDeque::new() }
    }

    fn heard(&mut self, now_ms: u64) {
        if self.intervals_ms.len() == PHI_WINDOW {
            self.intervals_ms.pop_front();
        }
        self.intervals_ms.push_back(now_ms.saturating_sub(self.last_heard_ms));
        self.last_heard_ms = now_ms;
    }
}

/// The membership table of one node.
#[derive(Debug, Clone)]
pub struct Membership {
    me: String,
    entries: BTreeMap<String, Entry>,
    timeouts: Timeouts,
}

/// A member as reported in the status.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemberView {
    /// What the member says about itself.
    #[serde(flatten)]
    pub info: MemberInfo,
    /// This node's opinion of it.
    pub state: Liveness,
    /// Milliseconds since its heartbeat last grew, as seen here.
    pub silent_ms: u64,
}

impl Membership {
    /// A table holding only `me`.
    pub fn new(me: MemberInfo, now_ms: u64, timeouts: Timeouts) -> Membership {
        let id = me.id.clone();
        let mut entries = BTreeMap::new();
        entries.insert(id.clone(), Entry::new(me, now_ms));
        Membership { me: id, entries, timeouts }
    }

    /// This node's id.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// One gossip round's own work: increments this node's heartbeat.
    pub fn tick(&mut self, now_ms: u64) {
        if let Some(entry) = self.entries.get_mut(&self.me) {
            entry.info.heartbeat += 1;
            entry.last_heard_ms = now_ms;
        }
    }

    /// Marks this node as leaving; the flag spreads with the next gossip.
    pub fn leave(&mut self, now_ms: u64) {
        if let Some(entry) = self.entries.get_mut(&self.me) {
            entry.info.left = true;
            entry.info.heartbeat += 1;
            entry.last_heard_ms = now_ms;
        }
    }

    /// The table to send: every member's self-description.
    pub fn digest(&self) -> Vec<MemberInfo> {
        self.entries.values().map(|entry| entry.info.clone()).collect()
    }

    /// Merges a received table; returns true when the ring changed (a member joined or
    /// left, or changed capacity or datacenter).
    pub fn merge(&mut self, remote: &[MemberInfo], now_ms: u64) -> bool {
        let mut ring_changed = false;
        for info in remote.iter().take(MAX_MEMBERS) {
            if info.id == self.me {
                // Nobody knows more about this node than itself; an old incarnation of
                // it gossiped back is ignored.
                continue;
            }
            let room = self.entries.len() < MAX_MEMBERS;
            match self.entries.get_mut(&info.id) {
                Some(entry) if info.version() > entry.info.version() => {
                    ring_changed |= entry.info.left != info.left
                        || entry.info.capacity != info.capacity
                        || entry.info.datacenter != info.datacenter;
                    entry.info = info.clone();
                    entry.heard(now_ms);
                }
                Some(_) => {}
                None if room => {
                    ring_changed |= !info.left;
                    self.entries.insert(info.id.clone(), Entry::new(info.clone(), now_ms));
                }
                None => {}
            }
        }
        ring_changed
    }

    /// This node's opinion of member `id` (`None` if unknown).
    pub fn liveness(&self, id: &str, now_ms: u64) -> Option<Liveness> {
        let entry = self.entries.get(id)?;
        if entry.info.left {
            return Some(Liveness::Left);
        }
        if id == self.me {
            return Some(Liveness::Alive);
        }
        let silent = now_ms.saturating_sub(entry.last_heard_ms);
        let suspect = match self.timeouts.phi_suspect {
            Some(threshold) if entry.intervals_ms.len() >= PHI_MIN_SAMPLES => {
                let (front, back) = entry.intervals_ms.as_slices();
                let samples: Vec<u64> = front.iter().chain(back).copied().collect();
                phi(silent, &samples) > threshold
            }
            _ => silent >= self.timeouts.suspect_after_ms,
        };
        Some(if silent >= self.timeouts.dead_after_ms {
            Liveness::Dead
        } else if suspect {
            Liveness::Suspect
        } else {
            Liveness::Alive
        })
    }

    /// True when requests may be sent to `id`.
    pub fn is_healthy(&self, id: &str, now_ms: u64) -> bool {
        self.liveness(id, now_ms) == Some(Liveness::Alive)
    }

    /// The RPC address of `id`.
    pub fn address_of(&self, id: &str) -> Option<&str> {
        self.entries.get(id).map(|entry| entry.info.rpc_addr.as_str())
    }

    /// The members on the ring: everyone who has not left.
    pub fn ring_members(&self) -> Vec<PlacedNode> {
        self.entries
            .values()
            .filter(|entry| !entry.info.left)
            .map(|entry| PlacedNode {
                id: entry.info.id.clone(),
                capacity: entry.info.capacity,
                datacenter: entry.info.datacenter.clone(),
            })
            .collect()
    }

    /// Up to `fanout` random other members (not left) to gossip with. Dead members are
    /// included, so that a healed node hears from the others again.
    pub fn gossip_targets(&self, fanout: usize, rng: &mut impl Rng) -> Vec<String> {
        let mut others: Vec<&Entry> = self
            .entries
            .values()
            .filter(|entry| entry.info.id != self.me && !entry.info.left)
            .collect();
        let take = fanout.min(others.len());
        for i in 0..take {
            let j = rng.random_range(i..others.len());
            others.swap(i, j);
        }
        others[..take].iter().map(|entry| entry.info.rpc_addr.clone()).collect()
    }

    /// Every member with this node's opinion of it.
    pub fn view(&self, now_ms: u64) -> Vec<MemberView> {
        self.entries
            .values()
            .map(|entry| MemberView {
                info: entry.info.clone(),
                state: self.liveness(&entry.info.id, now_ms).unwrap_or(Liveness::Dead),
                silent_ms: now_ms.saturating_sub(entry.last_heard_ms),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    const TIMEOUTS: Timeouts =
        Timeouts { suspect_after_ms: 1000, dead_after_ms: 3000, phi_suspect: None };

    #[test]
    fn phi_grows_with_silence_and_is_small_for_a_usual_gap() {
        let regular = [100, 110, 90, 100, 105, 95];
        assert!(phi(100, &regular) < 1.0);
        assert!(phi(200, &regular) > phi(150, &regular));
        assert!(phi(400, &regular) > 8.0);
        assert_eq!(phi(1_000, &[]), 0.0);
    }

    #[test]
    fn with_phi_a_member_with_fast_heartbeats_is_suspected_before_the_timeout() {
        let timeouts =
            Timeouts { suspect_after_ms: 10_000, dead_after_ms: 20_000, phi_suspect: Some(8.0) };
        let mut table = Membership::new(info("a"), 0, timeouts);
        let mut b = info("b");
        for beat in 0..10u64 {
            b.heartbeat = beat;
            table.merge(&[b.clone()], beat * 100);
        }
        // Last heard at 900 ms, beats every 100 ms.
        assert_eq!(table.liveness("b", 1_000), Some(Liveness::Alive));
        assert_eq!(table.liveness("b", 1_600), Some(Liveness::Suspect));
        assert_eq!(table.liveness("b", 21_000), Some(Liveness::Dead));
    }

    fn info(id: &str) -> MemberInfo {
        MemberInfo {
            id: id.into(),
            rpc_addr: format!("{id}:7000"),
            datacenter: None,
            capacity: 1.0,
            incarnation: 1,
            heartbeat: 0,
            left: false,
        }
    }

    #[test]
    fn a_silent_member_becomes_suspect_then_dead_and_recovers_when_heard() {
        let mut table = Membership::new(info("a"), 0, TIMEOUTS);
        assert!(table.merge(&[info("b")], 0));
        assert_eq!(table.liveness("b", 999), Some(Liveness::Alive));
        assert_eq!(table.liveness("b", 1000), Some(Liveness::Suspect));
        assert_eq!(table.liveness("b", 3000), Some(Liveness::Dead));
        let mut newer = info("b");
        newer.heartbeat = 5;
        assert!(!table.merge(&[newer], 3500));
        assert_eq!(table.liveness("b", 3600), Some(Liveness::Alive));
    }

    #[test]
    fn an_old_heartbeat_does_not_refresh_a_member() {
        let mut table = Membership::new(info("a"), 0, TIMEOUTS);
        let mut b = info("b");
        b.heartbeat = 9;
        table.merge(&[b.clone()], 0);
        b.heartbeat = 3;
        table.merge(&[b], 2000);
        assert_eq!(table.liveness("b", 2000), Some(Liveness::Suspect));
    }

    #[test]
    fn a_restart_with_a_higher_incarnation_wins_over_a_larger_old_heartbeat() {
        let mut table = Membership::new(info("a"), 0, TIMEOUTS);
        let mut b = info("b");
        b.heartbeat = 100;
        table.merge(&[b.clone()], 0);
        b.incarnation = 2;
        b.heartbeat = 0;
        table.merge(&[b], 5000);
        assert_eq!(table.liveness("b", 5000), Some(Liveness::Alive));
    }

    #[test]
    fn leaving_spreads_and_takes_the_member_off_the_ring() {
        let mut a = Membership::new(info("a"), 0, TIMEOUTS);
        let mut b = Membership::new(info("b"), 0, TIMEOUTS);
        a.merge(&b.digest(), 0);
        b.merge(&a.digest(), 0);
        assert_eq!(a.ring_members().len(), 2);
        b.leave(10);
        assert!(a.merge(&b.digest(), 10));
        assert_eq!(a.ring_members().len(), 1);
        assert_eq!(a.liveness("b", 10), Some(Liveness::Left));
    }

    #[test]
    fn gossip_spreads_a_member_to_everyone_through_intermediaries() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut tables: Vec<Membership> =
            (0..8).map(|i| Membership::new(info(&format!("n{i}")), 0, TIMEOUTS)).collect();
        // A line: each node knows only the next one (its seed).
        for i in 0..7 {
            let next = tables[i + 1].digest();
            tables[i].merge(&next, 0);
        }
        for round in 1..=20u64 {
            for i in 0..tables.len() {
                tables[i].tick(round);
                let targets = tables[i].gossip_targets(2, &mut rng);
                for target in targets {
                    let index: usize = target[1..target.len() - 5].parse().expect("index");
                    let mine = tables[i].digest();
                    tables[index].merge(&mine, round);
                    let theirs = tables[index].digest();
                    tables[i].merge(&theirs, round);
                }
            }
        }
        for table in &tables {
            assert_eq!(table.ring_members().len(), 8, "{}", table.me());
        }
    }

    #[test]
    fn member_info_round_trips() {
        let mut b = info("b");
        b.datacenter = Some("eu".into());
        b.left = true;
        let mut out = Writer::new();
        b.encode_into(&mut out);
        let bytes = out.into_bytes();
        assert_eq!(MemberInfo::decode_from(&mut Reader::new(&bytes)), Ok(b));
    }
}
