//! Latency numbers every programmer should know (book figure 2-2): Jeff Dean's reference
//! table, and a harness that measures the same operations on *this* machine so the two
//! columns print side by side.
//!
//! # The reference
//!
//! [`Operation`] is one row of the book's table with its value ([`Operation::ALL`], in the
//! book's order). They are numbers from around 2010 hardware: the point is their ratios
//! (memory is fast, disk is slow, a datacenter round trip costs a thousand memory
//! references), not their absolute values.
//!
//! # The measurement
//!
//! [`measure`] runs every [`Probe`] once, in one to two seconds (each probe's
//! timed phase stops at [`PROBE_TIME_BUDGET`] or its [`Probe::iterations_max`], whichever
//! comes first) and returns a [`LatencyReport`]: per probe, the mean time of one
//! operation and the book row it stands for. What each probe does, and why it is (or is
//! not) the book's operation:
//!
//! - Cache and memory references: dependent loads chasing pointers through a random
//!   cyclic permutation (one pointer per 64-byte line) of buffers of 16 KiB (fits L1),
//!   256 KiB (L2), 8 MiB (the last-level cache, which the book's table has no row for) and
//!   256 MiB (main memory, with TLB misses included as a real program sees them). Each
//!   load's address is the previous load's value, so neither the CPU's out-of-order engine
//!   nor its prefetchers can hide the latency.
//! - Mutex lock/unlock: an uncontended `std::sync::Mutex` (one thread: the book's number
//!   is the uncontended fast path too).
//! - Compress 1 KB: `lz4_flex` block compression of 1 KiB of text-like bytes. The book's
//!   "Zippy" is Google's internal name for Snappy; LZ4 is the same class of compressor
//!   (byte-oriented LZ77, no entropy coding, gigabytes a second), not the same code.
//! - Read 1 MB sequentially from memory: summing every byte of a 1 MiB window (eight at a
//!   time, as words, so the additions keep up with memory), each read the next window of
//!   a 64 MiB buffer (larger than most last-level caches), so the bytes come from DRAM
//!   rather than from the cache the last read filled.
//! - Network: TCP over loopback (127.0.0.1, Nagle off): a 1-byte round trip stands for the
//!   datacenter round trip, sending 2 KiB (and reading a 1-byte acknowledgement) for
//!   "send 2K bytes over 1 Gbps", and reading 1 MiB for "read 1 MB from the network".
//!   Loopback has no wire and no switch: it measures the kernel's network stack, a lower
//!   bound for any real network.
//! - Disk: reading 1 MiB sequentially and 4 KiB at random offsets (seek + read) from a
//!   scratch file of [`FILE_BYTES`] just written. The file is in the page cache, so these
//!   are memory numbers through the file system's system calls, **not** a disk seek or a
//!   disk's transfer rate: that the page cache makes "disk" as fast as this is itself a
//!   lesson of the table.
//!
//! What it is not: a benchmark suite (one run, means only, no statistics beyond the
//! iteration count), nor a check of the machine (no number is asserted anywhere).
//!
//! # Limits
//!
//! At most [`MEMORY_CHASE_BYTES`] plus a sixteenth of it for the permutation is allocated
//! at once (272 MiB, freed before the next probe); the scratch file is [`FILE_BYTES`] and
//! removed afterwards; every probe's timed phase ends after [`PROBE_TIME_BUDGET`] plus at
//! most one batch; every socket read and write times out after [`SOCKET_TIMEOUT`].

mod chase;
mod file;
mod measure;
mod net;
mod rng;

use std::time::Duration;

pub use measure::{MeasureError, measure};

/// How long each probe's timed phase runs at most (plus one batch): twelve probes keep a
/// whole [`measure`] within one to two seconds, setup included.
pub const PROBE_TIME_BUDGET: Duration = Duration::from_millis(80);

/// Bytes of one cache line, the stride of the pointer chase: one pointer per line, so each
/// step touches a new line.
pub const CACHE_LINE_BYTES: usize = 64;

/// The pointer chase that stays in the L1 data cache (32–64 KiB on current cores).
pub const L1_CHASE_BYTES: usize = 16 * 1024;
/// The pointer chase that stays in L2 (256 KiB–2 MiB on current cores), out of L1.
pub const L2_CHASE_BYTES: usize = 256 * 1024;
/// The pointer chase in the last-level cache (8–64 MiB on current servers), out of L2.
pub const LAST_LEVEL_CHASE_BYTES: usize = 8 * 1024 * 1024;
/// The pointer chase in main memory: far larger than any last-level cache.
pub const MEMORY_CHASE_BYTES: usize = 256 * 1024 * 1024;

/// Bytes compressed per operation: the book's "1K bytes".
pub const COMPRESS_INPUT_BYTES: usize = 1024;

/// Bytes read per sequential read, from memory, the network or a file: the book's 1 MB.
pub const SEQUENTIAL_READ_BYTES: usize = 1024 * 1024;
/// The buffer the sequential memory reads walk through, a window at a time: larger than
/// the last-level cache, so each window comes from DRAM.
pub const SEQUENTIAL_SPAN_BYTES: usize = 64 * 1024 * 1024;

/// Bytes sent per operation for "send 2K bytes over 1 Gbps network".
pub const SEND_BYTES: usize = 2 * 1024;

/// Size of the scratch file the file probes read.
pub const FILE_BYTES: usize = 8 * 1024 * 1024;
/// Bytes read per random file read: one page.
pub const RANDOM_READ_BYTES: usize = 4 * 1024;

/// Longest any socket read or write may block, so a stuck peer fails the probe instead of
/// hanging it.
pub const SOCKET_TIMEOUT: Duration = Duration::from_secs(2);

/// What to keep in mind reading a measured table, printed under it.
pub const NOTES: [&str; 4] = [
    "The book's numbers are from about 2010 hardware: compare the ratios between rows, not \
     the absolute values.",
    "lz4 stands in for Zippy (Snappy): the same class of fast LZ77 compressor, not the same \
     code.",
    "Network rows use loopback TCP: the kernel's network stack without a wire or a switch, \
     a lower bound for any real network.",
    "File rows read a file just written, so it is in the page cache: a memory number \
     through system calls, not a disk seek or a disk's transfer rate.",
];

/// One row of the book's latency table (figure 2-2), in its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// L1 cache reference: 0.5 ns.
    L1CacheReference,
    /// Branch mispredict: 5 ns.
    BranchMispredict,
    /// L2 cache reference: 7 ns.
    L2CacheReference,
    /// Mutex lock/unlock: 100 ns.
    MutexLockUnlock,
    /// Main memory reference: 100 ns.
    MainMemoryReference,
    /// Compress 1K bytes with Zippy: 10 µs.
    Compress1KBytes,
    /// Send 2K bytes over 1 Gbps network: 20 µs.
    Send2KBytesOverNetwork,
    /// Read 1 MB sequentially from memory: 250 µs.
    ReadMemory1MB,
    /// Round trip within the same datacenter: 500 µs.
    DatacenterRoundTrip,
    /// Disk seek: 10 ms.
    DiskSeek,
    /// Read 1 MB sequentially from the network: 10 ms.
    ReadNetwork1MB,
    /// Read 1 MB sequentially from disk: 30 ms.
    ReadDisk1MB,
    /// Send packet CA → Netherlands → CA: 150 ms.
    CaliforniaNetherlandsRoundTrip,
}

impl Operation {
    /// Every row, in the book's order.
    pub const ALL: [Operation; 13] = [
        Operation::L1CacheReference,
        Operation::BranchMispredict,
        Operation::L2CacheReference,
        Operation::MutexLockUnlock,
        Operation::MainMemoryReference,
        Operation::Compress1KBytes,
        Operation::Send2KBytesOverNetwork,
        Operation::ReadMemory1MB,
        Operation::DatacenterRoundTrip,
        Operation::DiskSeek,
        Operation::ReadNetwork1MB,
        Operation::ReadDisk1MB,
        Operation::CaliforniaNetherlandsRoundTrip,
    ];

    /// A stable snake_case id.
    pub const fn id(self) -> &'static str {
        match self {
            Operation::L1CacheReference => "l1_cache_reference",
            Operation::BranchMispredict => "branch_mispredict",
            Operation::L2CacheReference => "l2_cache_reference",
            Operation::MutexLockUnlock => "mutex_lock_unlock",
            Operation::MainMemoryReference => "main_memory_reference",
            Operation::Compress1KBytes => "compress_1k_bytes",
            Operation::Send2KBytesOverNetwork => "send_2k_bytes_over_network",
            Operation::ReadMemory1MB => "read_1mb_from_memory",
            Operation::DatacenterRoundTrip => "datacenter_round_trip",
            Operation::DiskSeek => "disk_seek",
            Operation::ReadNetwork1MB => "read_1mb_from_network",
            Operation::ReadDisk1MB => "read_1mb_from_disk",
            Operation::CaliforniaNetherlandsRoundTrip => "california_netherlands_round_trip",
        }
    }

    /// The row as the book words it.
    pub const fn label(self) -> &'static str {
        match self {
            Operation::L1CacheReference => "L1 cache reference",
            Operation::BranchMispredict => "Branch mispredict",
            Operation::L2CacheReference => "L2 cache reference",
            Operation::MutexLockUnlock => "Mutex lock/unlock",
            Operation::MainMemoryReference => "Main memory reference",
            Operation::Compress1KBytes => "Compress 1K bytes with Zippy",
            Operation::Send2KBytesOverNetwork => "Send 2K bytes over 1 Gbps network",
            Operation::ReadMemory1MB => "Read 1 MB sequentially from memory",
            Operation::DatacenterRoundTrip => "Round trip within the same datacenter",
            Operation::DiskSeek => "Disk seek",
            Operation::ReadNetwork1MB => "Read 1 MB sequentially from the network",
            Operation::ReadDisk1MB => "Read 1 MB sequentially from disk",
            Operation::CaliforniaNetherlandsRoundTrip => "Send packet CA → Netherlands → CA",
        }
    }

    /// The book's value, in nanoseconds.
    pub const fn book_nanoseconds(self) -> f64 {
        match self {
            Operation::L1CacheReference => 0.5,
            Operation::BranchMispredict => 5.0,
            Operation::L2CacheReference => 7.0,
            Operation::MutexLockUnlock => 100.0,
            Operation::MainMemoryReference => 100.0,
            Operation::Compress1KBytes => 10_000.0,
            Operation::Send2KBytesOverNetwork => 20_000.0,
            Operation::ReadMemory1MB => 250_000.0,
            Operation::DatacenterRoundTrip => 500_000.0,
            Operation::DiskSeek => 10_000_000.0,
            Operation::ReadNetwork1MB => 10_000_000.0,
            Operation::ReadDisk1MB => 30_000_000.0,
            Operation::CaliforniaNetherlandsRoundTrip => 150_000_000.0,
        }
    }

    /// Whether some [`Probe`] measures (a stand-in for) this row here.
    pub fn is_measured(self) -> bool {
        Probe::ALL.iter().any(|probe| probe.book() == Some(self))
    }
}

/// One measurement [`measure`] makes on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Probe {
    /// Pointer chase in [`L1_CHASE_BYTES`].
    L1Chase,
    /// Pointer chase in [`L2_CHASE_BYTES`].
    L2Chase,
    /// Pointer chase in [`LAST_LEVEL_CHASE_BYTES`].
    LastLevelChase,
    /// Uncontended `std::sync::Mutex` lock and unlock.
    MutexLockUnlock,
    /// Pointer chase in [`MEMORY_CHASE_BYTES`].
    MemoryChase,
    /// `lz4_flex` block compression of [`COMPRESS_INPUT_BYTES`].
    Lz4Compress,
    /// Send [`SEND_BYTES`] over loopback TCP and read a 1-byte acknowledgement.
    LoopbackSend2K,
    /// Sum the bytes of [`SEQUENTIAL_READ_BYTES`] of memory.
    MemoryRead1MiB,
    /// 1-byte round trip over loopback TCP.
    LoopbackRoundTrip,
    /// Seek to a random page of the scratch file and read [`RANDOM_READ_BYTES`].
    FileRandomRead4K,
    /// Read [`SEQUENTIAL_READ_BYTES`] from loopback TCP (after a 1-byte request).
    LoopbackRead1MiB,
    /// Read [`SEQUENTIAL_READ_BYTES`] sequentially from the scratch file.
    FileRead1MiB,
}

impl Probe {
    /// Every probe, in the order of the book rows they stand for.
    pub const ALL: [Probe; 12] = [
        Probe::L1Chase,
        Probe::L2Chase,
        Probe::LastLevelChase,
        Probe::MutexLockUnlock,
        Probe::MemoryChase,
        Probe::Lz4Compress,
        Probe::LoopbackSend2K,
        Probe::MemoryRead1MiB,
        Probe::LoopbackRoundTrip,
        Probe::FileRandomRead4K,
        Probe::LoopbackRead1MiB,
        Probe::FileRead1MiB,
    ];

    /// A stable snake_case id.
    pub const fn id(self) -> &'static str {
        match self {
            Probe::L1Chase => "l1_chase",
            Probe::L2Chase => "l2_chase",
            Probe::LastLevelChase => "last_level_chase",
            Probe::MutexLockUnlock => "mutex_lock_unlock",
            Probe::MemoryChase => "memory_chase",
            Probe::Lz4Compress => "lz4_compress_1k",
            Probe::LoopbackSend2K => "loopback_send_2k",
            Probe::MemoryRead1MiB => "memory_read_1mib",
            Probe::LoopbackRoundTrip => "loopback_round_trip",
            Probe::FileRandomRead4K => "file_random_read_4k",
            Probe::LoopbackRead1MiB => "loopback_read_1mib",
            Probe::FileRead1MiB => "file_read_1mib",
        }
    }

    /// What is measured, in words.
    pub const fn label(self) -> &'static str {
        match self {
            Probe::L1Chase => "L1: pointer chase, 16 KiB",
            Probe::L2Chase => "L2: pointer chase, 256 KiB",
            Probe::LastLevelChase => "L3: pointer chase, 8 MiB",
            Probe::MutexLockUnlock => "std Mutex lock/unlock, uncontended",
            Probe::MemoryChase => "memory: pointer chase, 256 MiB",
            Probe::Lz4Compress => "compress 1 KiB with lz4 (≈ Zippy)",
            Probe::LoopbackSend2K => "send 2 KiB over loopback TCP (+ack)",
            Probe::MemoryRead1MiB => "read 1 MiB sequentially from memory",
            Probe::LoopbackRoundTrip => "loopback TCP round trip, 1 byte",
            Probe::FileRandomRead4K => "file: seek + read 4 KiB (page cache)",
            Probe::LoopbackRead1MiB => "read 1 MiB from loopback TCP",
            Probe::FileRead1MiB => "file: read 1 MiB sequentially (page cache)",
        }
    }

    /// The book row it stands for; `None` for the last-level cache, which the book's
    /// table does not have.
    pub const fn book(self) -> Option<Operation> {
        match self {
            Probe::L1Chase => Some(Operation::L1CacheReference),
            Probe::L2Chase => Some(Operation::L2CacheReference),
            Probe::LastLevelChase => None,
            Probe::MutexLockUnlock => Some(Operation::MutexLockUnlock),
            Probe::MemoryChase => Some(Operation::MainMemoryReference),
            Probe::Lz4Compress => Some(Operation::Compress1KBytes),
            Probe::LoopbackSend2K => Some(Operation::Send2KBytesOverNetwork),
            Probe::MemoryRead1MiB => Some(Operation::ReadMemory1MB),
            Probe::LoopbackRoundTrip => Some(Operation::DatacenterRoundTrip),
            Probe::FileRandomRead4K => Some(Operation::DiskSeek),
            Probe::LoopbackRead1MiB => Some(Operation::ReadNetwork1MB),
            Probe::FileRead1MiB => Some(Operation::ReadDisk1MB),
        }
    }

    /// Bytes the probe works on: the chased buffer, the input compressed, the bytes moved
    /// per operation.
    pub const fn working_set_bytes(self) -> usize {
        match self {
            Probe::L1Chase => L1_CHASE_BYTES,
            Probe::L2Chase => L2_CHASE_BYTES,
            Probe::LastLevelChase => LAST_LEVEL_CHASE_BYTES,
            Probe::MutexLockUnlock => std::mem::size_of::<std::sync::Mutex<u64>>(),
            Probe::MemoryChase => MEMORY_CHASE_BYTES,
            Probe::Lz4Compress => COMPRESS_INPUT_BYTES,
            Probe::LoopbackSend2K => SEND_BYTES,
            Probe::MemoryRead1MiB => SEQUENTIAL_SPAN_BYTES,
            Probe::LoopbackRoundTrip => 1,
            Probe::FileRandomRead4K => FILE_BYTES,
            Probe::LoopbackRead1MiB => SEQUENTIAL_READ_BYTES,
            Probe::FileRead1MiB => FILE_BYTES,
        }
    }

    /// Most operations its timed phase runs, whatever the time budget: a fast machine
    /// stops here, a slow one at [`PROBE_TIME_BUDGET`].
    pub const fn iterations_max(self) -> u64 {
        match self {
            Probe::L1Chase | Probe::L2Chase | Probe::LastLevelChase | Probe::MemoryChase => {
                20_000_000
            }
            Probe::MutexLockUnlock => 10_000_000,
            Probe::Lz4Compress => 1_000_000,
            Probe::LoopbackSend2K | Probe::LoopbackRoundTrip => 20_000,
            Probe::FileRandomRead4K => 100_000,
            Probe::MemoryRead1MiB | Probe::LoopbackRead1MiB | Probe::FileRead1MiB => 2_000,
        }
    }

    /// Operations between two looks at the clock: enough that reading the clock costs
    /// under 1 % of a batch, few enough that a batch is a small part of the budget.
    pub const fn batch(self) -> u64 {
        match self {
            Probe::L1Chase | Probe::L2Chase | Probe::LastLevelChase | Probe::MemoryChase => 10_000,
            Probe::MutexLockUnlock => 10_000,
            Probe::Lz4Compress => 100,
            Probe::LoopbackSend2K | Probe::LoopbackRoundTrip => 10,
            Probe::FileRandomRead4K => 100,
            Probe::MemoryRead1MiB | Probe::LoopbackRead1MiB | Probe::FileRead1MiB => 1,
        }
    }
}

/// One probe's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// What was measured.
    pub probe: Probe,
    /// Mean time of one operation, in nanoseconds: finite and greater than 0.
    pub nanoseconds: f64,
    /// Operations timed: 1..=[`Probe::iterations_max`].
    pub iterations: u64,
    /// How long the timed phase took.
    pub elapsed: Duration,
}

impl Measurement {
    /// The book row this stands for.
    pub fn book(&self) -> Option<Operation> {
        self.probe.book()
    }

    /// This machine over the book: 2.0 means twice as slow as the book's number, 0.01 a
    /// hundred times faster.
    pub fn ratio(&self) -> Option<f64> {
        self.book().map(|operation| self.nanoseconds / operation.book_nanoseconds())
    }
}

/// Every probe's result, in [`Probe::ALL`] order.
#[derive(Debug, Clone, PartialEq)]
pub struct LatencyReport {
    /// One per probe.
    pub measurements: Vec<Measurement>,
    /// How long the whole run took, setup included.
    pub elapsed: Duration,
}

impl LatencyReport {
    /// The book rows no probe stands for (branch mispredict; the intercontinental round
    /// trip), for printing after the measured ones.
    pub fn unmeasured() -> Vec<Operation> {
        Operation::ALL.into_iter().filter(|operation| !operation.is_measured()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_table_holds_the_books_thirteen_rows_in_order() {
        let nanoseconds: Vec<f64> = Operation::ALL.iter().map(|op| op.book_nanoseconds()).collect();
        assert_eq!(
            nanoseconds,
            [0.5, 5.0, 7.0, 100.0, 100.0, 1e4, 2e4, 2.5e5, 5e5, 1e7, 1e7, 3e7, 1.5e8]
        );
        assert_eq!(Operation::ALL[5].label(), "Compress 1K bytes with Zippy");
    }

    #[test]
    fn every_probe_stands_for_a_distinct_book_row_except_the_last_level_cache() {
        let rows: Vec<Operation> = Probe::ALL.iter().filter_map(|probe| probe.book()).collect();
        let mut distinct = rows.clone();
        distinct.dedup();
        assert_eq!(rows, distinct);
        assert_eq!(rows.len(), Probe::ALL.len() - 1);
        assert_eq!(
            LatencyReport::unmeasured(),
            [Operation::BranchMispredict, Operation::CaliforniaNetherlandsRoundTrip]
        );
    }

    #[test]
    fn probes_follow_the_book_order_and_their_batches_fit_their_caps() {
        let positions: Vec<usize> = Probe::ALL
            .iter()
            .filter_map(|probe| probe.book())
            .filter_map(|row| Operation::ALL.iter().position(|op| *op == row))
            .collect();
        assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{positions:?}");
        for probe in Probe::ALL {
            assert!(probe.batch() >= 1 && probe.batch() <= probe.iterations_max(), "{probe:?}");
        }
    }

    #[test]
    fn ratios_compare_with_the_book_row() {
        let measurement = Measurement {
            probe: Probe::MemoryChase,
            nanoseconds: 80.0,
            iterations: 1,
            elapsed: Duration::from_nanos(80),
        };
        assert_eq!(measurement.ratio(), Some(0.8));
        let l3 = Measurement { probe: Probe::LastLevelChase, ..measurement };
        assert_eq!(l3.ratio(), None);
    }
}
