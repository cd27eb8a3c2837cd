//! Click analytics off the request path: a redirect adds its click, in place, to the
//! batch in memory (count, per day, referrer host, user-agent family: a map lookup under
//! a lock held for that long, no allocation for a link already in the batch, no task
//! woken); a writer thread of its own takes the batch every `flush_interval` and writes
//! it in one transaction while the next batch fills.
//!
//! Counts are exact once written: a full batch (its rows or its clicks at their bound)
//! while the previous one is still being written makes redirects wait for the writer
//! (backpressure) rather than drop clicks, and [`Analytics::flush`] is a barrier that
//! returns once every click recorded before it is written.
//!
//! A batch is written in parts of at most [`ROWS_PER_WRITE`] rows, one transaction each,
//! with a pause after each part of [`PAUSE_PER_WRITE`] times what the part took: the
//! writer and the database's thread then take at most about a quarter of a core, in
//! short pieces, instead of most of it for a second or more, on a core they may share
//! with the request thread. Measured at 10 M links, 70 k redirects/s, before the pauses
//! and the one-row schema: a batch of ~84 k links (three rows each then) took about
//! 1.4 s of CPU in one transaction, the request thread got 45 % of the core meanwhile,
//! and the p99 went from 0.9-1.5 ms without analytics to 4-5.5 ms.
//! The pauses are skipped when anything waits for the writer: a flush barrier, a full
//! batch, the last handle gone.
//!
//! Why a thread, not a task: turning a batch into rows (sorted, so the upserts walk the
//! B-trees in order), building its statements and freeing it take tens of milliseconds
//! at a hundred thousand rows. Inside a task that is one poll, and every connection the
//! worker thread serves waited behind it (p99 18-32 ms in a profile at 1 M links). On a
//! thread of its own the scheduler interleaves it with the request threads.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

use crate::core::{agent_family, agent_family_index, day_number, referrer_host};
use crate::store::{ClickBatch, LinkStore};

/// Default bound on the rows (a link's day or a referrer host) one batch holds before
/// redirects wait for the writer: bounds the batch's memory (a link clicked on one day
/// without a referrer takes about 200 bytes: a map entry with its per-family counts, its
/// code and its day). Large, because a write costs per row, and under long-tailed
/// traffic a small batch writes about one row per click.
pub const DEFAULT_MAX_BATCH_ROWS: usize = 200_000;
/// Most clicks aggregated into one write.
pub const MAX_BATCH_CLICKS: usize = 1_000_000;
/// The default of how often a batch is written while clicks arrive. Long, because a write
/// costs per distinct row, not per click: under Zipf-distributed traffic ten seconds of
/// clicks touch barely more rows than one second's (measured: per-second batches took
/// most of the server's core at 25k redirects/s). Stats requests flush first, so they
/// stay exact; a crash loses at most this much of the analytics (never a link).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// Rows per transaction of a batch's write (see the module's documentation).
pub const ROWS_PER_WRITE: usize = 512;
/// The pause after each part of a batch's write, in multiples of the time the part took.
pub const PAUSE_PER_WRITE: u32 = 3;
/// Wait before retrying a failed write (times the attempt number).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// Attempts to write one batch before its clicks are dropped (and logged).
pub const MAX_WRITE_ATTEMPTS: u32 = 3;
/// Longest `Referer` parsed for its host.
const MAX_HEADER_LEN: usize = 512;

/// One redirect served, classified on the request path (the batch holds no headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click<'a> {
    /// The link.
    pub code: &'a str,
    /// Unix ms.
    pub at_ms: i64,
    /// The referrer host; `None` when the request had no `Referer` (host `direct`).
    pub referrer: Option<String>,
    /// The user-agent family, as its index in [`crate::core::AGENT_FAMILIES`].
    pub agent: u8,
}

impl<'a> Click<'a> {
    /// A click of `code` with the `Referer` and `User-Agent` it came with.
    pub fn new(code: &'a str, at_ms: i64, referer: Option<&str>, user_agent: Option<&str>) -> Self {
        let referer = referer.filter(|text| !text.is_empty()).map(|text| {
            let mut end = text.len().min(MAX_HEADER_LEN);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        });
        Self {
            code,
            at_ms,
            referrer: referer.map(|text| referrer_host(Some(text))),
            agent: agent_family_index(agent_family(user_agent)) as u8,
        }
    }
}

/// Add `click` to `batch`.
pub fn aggregate(batch: &mut ClickBatch, click: &Click<'_>) {
    batch.add(
        click.code,
        day_number(click.at_ms),
        click.referrer.as_deref(),
        usize::from(click.agent),
    );
}

/// The handle redirects record clicks through. Cheap to clone; the writer stops (after
/// writing what it holds) once the last clone is dropped.
#[derive(Clone, Debug)]
pub struct Analytics {
    handle: Arc<Handle>,
}

/// Owned by the [`Analytics`] clones only: its drop tells the writer to finish.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the writer: a batch's first click, a full batch, a flush, the end.
    wake_writer: Condvar,
    /// Wakes redirects waiting for room: the writer took the full batch.
    room: Notify,
    max_rows: usize,
    flush_interval: Duration,
}

/// The batch being filled, with what waits for it.
#[derive(Debug, Default)]
struct State {
    batch: ClickBatch,
    clicks: usize,
    /// When the batch's first click came (the writer takes it `flush_interval` later).
    first_at: Option<Instant>,
    /// Flush barriers: each is answered once this batch is written.
    waiting: Vec<oneshot::Sender<()>>,
    /// The last handle is gone: write what is here and stop.
    closed: bool,
}

impl State {
    fn full(&self, max_rows: usize) -> bool {
        self.batch.rows >= max_rows || self.clicks >= MAX_BATCH_CLICKS
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts, not broken invariants: go on.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Something waits for the writer: a flush barrier, a full batch, the end.
    fn urgent(&self) -> bool {
        let state = self.lock();
        state.closed || !state.waiting.is_empty() || state.full(self.max_rows)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake_writer.notify_one();
    }
}

impl Analytics {
    /// Start the writer thread, writing to `store` every `flush_interval`, with batches
    /// of at most `max_rows` rows. Call inside a tokio runtime: the writer runs the
    /// store's futures on it.
    pub fn start(store: Arc<dyn LinkStore>, max_rows: usize, flush_interval: Duration) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake_writer: Condvar::new(),
            room: Notify::new(),
            max_rows: max_rows.max(1),
            flush_interval,
        });
        let runtime = tokio::runtime::Handle::current();
        let writer = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("shortener-clicks".into())
            .spawn(move || write_batches(&writer, &store, &runtime));
        if let Err(error) = spawned {
            // Without a writer nothing would drain: say so loudly; redirects still work,
            // and once the batch is full `try_record` declines and `record` waits.
            tracing::error!(%error, "shortener: the click writer thread did not start");
        }
        Self { handle: Arc::new(Handle { shared }) }
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// Add `click` to the batch if it has room now; false when it is full (the caller
    /// may then [`Analytics::record`] it, waiting).
    pub fn try_record(&self, click: &Click<'_>) -> bool {
        let shared = self.shared();
        let mut state = shared.lock();
        if state.full(shared.max_rows) {
            return false;
        }
        aggregate(&mut state.batch, click);
        state.clicks += 1;
        let first = state.first_at.is_none();
        if first {
            state.first_at = Some(Instant::now());
        }
        let full = state.full(shared.max_rows);
        drop(state);
        if first || full {
            shared.wake_writer.notify_one();
        }
        true
    }

    /// Add `click` to the batch, waiting for room when it is full.
    pub async fn record(&self, click: &Click<'_>) {
        loop {
            let room = self.shared().room.notified();
            tokio::pin!(room);
            // Registered before the check: a batch taken in between still wakes us.
            room.as_mut().enable();
            if self.try_record(click) {
                return;
            }
            room.await;
        }
    }

    /// Wait until every click recorded before this call is written (at most `timeout`);
    /// false when it took longer or the writer stopped.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let shared = self.shared();
        shared.lock().waiting.push(done);
        shared.wake_writer.notify_one();
        tokio::time::timeout(timeout, wait).await.is_ok_and(|answer| answer.is_ok())
    }
}

/// The writer thread: take a batch when it is due, write it, answer its barriers; until
/// the last handle is gone and what it left is written.
fn write_batches(shared: &Shared, store: &Arc<dyn LinkStore>, runtime: &tokio::runtime::Handle) {
    let mut state = shared.lock();
    loop {
        let due = state.closed
            || !state.waiting.is_empty()
            || state.full(shared.max_rows)
            || state.first_at.is_some_and(|first| first.elapsed() >= shared.flush_interval);
        if !due {
            state = match state.first_at {
                Some(first) => {
                    let left = shared.flush_interval.saturating_sub(first.elapsed());
                    shared
                        .wake_writer
                        .wait_timeout(state, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => shared.wake_writer.wait(state).unwrap_or_else(PoisonError::into_inner),
            };
            continue;
        }
        let closed = state.closed;
        let batch = std::mem::take(&mut state.batch);
        state.clicks = 0;
        let waiting = std::mem::take(&mut state.waiting);
        state.first_at = None;
        drop(state);
        shared.room.notify_waiters();
        // Freed here, part by part, not on a request thread.
        for part in batch.into_parts(ROWS_PER_WRITE) {
            let started = Instant::now();
            write(store, &part, runtime);
            drop(part);
            if waiting.is_empty() && !shared.urgent() {
                std::thread::sleep(started.elapsed() * PAUSE_PER_WRITE);
            }
        }
        for done in waiting {
            let _ = done.send(());
        }
        state = shared.lock();
        if closed && state.clicks == 0 && state.waiting.is_empty() {
            return;
        }
    }
}

/// Write `batch` (one part of a batch), retrying; on the writer thread (its waits are the
/// thread's own).
fn write(store: &Arc<dyn LinkStore>, batch: &ClickBatch, runtime: &tokio::runtime::Handle) {
    if batch.is_empty() {
        return;
    }
    let clicks = batch.clicks();
    let mut attempt = 1;
    loop {
        match runtime.block_on(store.record_clicks(batch)) {
            Ok(()) => {
                metrics::counter!("shortener_clicks_recorded_total")
                    .increment(u64::try_from(clicks).unwrap_or(0));
                return;
            }
            Err(error) if attempt < MAX_WRITE_ATTEMPTS => {
                tracing::warn!(%error, attempt, "shortener: writing clicks failed; retrying");
                std::thread::sleep(RETRY_BACKOFF * attempt);
                attempt += 1;
            }
            Err(error) => {
                tracing::error!(%error, clicks, "shortener: clicks dropped");
                metrics::counter!("shortener_clicks_dropped_total")
                    .increment(u64::try_from(clicks).unwrap_or(0));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::AGENT_FAMILIES;
    use crate::store::DayRow;

    fn day(
        code: &str,
        day: &str,
        clicks: i64,
        direct: i64,
        agents: &[(&str, i64)],
    ) -> DayRow<'static> {
        let mut counts = [0; AGENT_FAMILIES.len()];
        for &(family, n) in agents {
            counts[AGENT_FAMILIES.iter().position(|known| *known == family).unwrap()] = n;
        }
        DayRow { code: code.to_owned().leak(), day: day.to_owned(), clicks, direct, agents: counts }
    }

    #[test]
    fn clicks_aggregate_per_link_day_referrer_and_agent() {
        let mut batch = ClickBatch::default();
        let one_day = 86_400_000;
        aggregate(&mut batch, &Click::new("abc", 0, Some("https://a.example/x"), Some("curl/8")));
        aggregate(&mut batch, &Click::new("abc", 1, None, Some("curl/8")));
        aggregate(&mut batch, &Click::new("abc", one_day, Some(""), None));
        aggregate(&mut batch, &Click::new("xyz", one_day, Some("https://b.example/"), None));
        // A link's clicks without a referrer and its families go with its first day.
        assert_eq!(
            batch.daily_rows(),
            [
                day("abc", "1970-01-01", 2, 2, &[("curl", 2), ("unknown", 1)]),
                day("abc", "1970-01-02", 1, 0, &[]),
                day("xyz", "1970-01-02", 1, 0, &[("unknown", 1)]),
            ]
        );
        assert_eq!(batch.referrer_rows(), [("abc", "a.example", 1), ("xyz", "b.example", 1)]);
        // The size bound counts rows written (days and referrer hosts), not clicks.
        assert_eq!(batch.rows, 3 + 2);
        assert_eq!(batch.clicks(), 4);
    }

    #[test]
    fn a_repeated_click_adds_no_row() {
        let mut batch = ClickBatch::default();
        for _ in 0..1_000 {
            aggregate(
                &mut batch,
                &Click::new("abc", 5, Some("https://a.example/"), Some("curl/8")),
            );
        }
        assert_eq!(batch.rows, 2);
        assert_eq!(batch.daily_rows(), [day("abc", "1970-01-01", 1_000, 0, &[("curl", 1_000)])]);
    }

    #[test]
    fn a_batch_splits_into_parts_in_code_order_keeping_each_link_whole() {
        let mut batch = ClickBatch::default();
        for n in (0..10).rev() {
            let code = format!("c{n}");
            aggregate(&mut batch, &Click::new(&code, 0, None, None));
            // Every other link has a referrer too: two rows.
            if n % 2 == 0 {
                aggregate(&mut batch, &Click::new(&code, 0, Some("https://r.example/"), None));
            }
        }
        assert_eq!(batch.rows, 15);
        let parts = batch.into_parts(4);
        let codes: Vec<Vec<&str>> = parts
            .iter()
            .map(|part| {
                let mut codes: Vec<&str> = part.links.keys().map(|code| &**code).collect();
                codes.sort_unstable();
                codes
            })
            .collect();
        assert_eq!(
            codes,
            [
                vec!["c0", "c1"],
                vec!["c2", "c3"],
                vec!["c4", "c5"],
                vec!["c6", "c7"],
                vec!["c8", "c9"]
            ]
        );
        assert!(parts.iter().all(|part| part.rows <= 4 && part.rows == 3));
        assert_eq!(parts.iter().map(ClickBatch::clicks).sum::<i64>(), 15);
        // A link with more rows than a part holds is a part of its own.
        let mut big = ClickBatch::default();
        for host in ["a", "b", "c"] {
            aggregate(
                &mut big,
                &Click::new("big", 0, Some(&format!("https://{host}.example/")), None),
            );
        }
        aggregate(&mut big, &Click::new("small", 0, None, None));
        let parts = big.into_parts(2);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].rows, 4);
        assert_eq!(parts[1].rows, 1);
    }

    #[test]
    fn long_referers_are_cut_before_parsing_even_inside_a_character() {
        let long = format!("https://{}.example/{}", "h".repeat(200), "\u{e9}".repeat(400));
        let click = Click::new("abc", 0, Some(&long), Some(&long));
        assert_eq!(click.referrer.as_deref().map(str::len), Some(200 + ".example".len()));
        assert_eq!(AGENT_FAMILIES[usize::from(click.agent)], "other");
    }
}
