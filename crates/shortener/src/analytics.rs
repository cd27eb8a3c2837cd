//! Click analytics off the request path: a redirect hands a [`Click`] to a bounded queue
//! and returns; one worker drains it, aggregates clicks into a [`ClickBatch`] (count,
//! per day, referrer host, user-agent family) and hands each batch to a writer task that
//! writes it in one transaction while the next batch fills.
//!
//! Counts are exact once the queue drained: a full queue makes redirects wait for room
//! (backpressure) rather than drop clicks, and [`Analytics::flush`] is a barrier that
//! returns once every click queued before it is written.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::core::{agent_family, agent_family_index, day_number, referrer_host};
use crate::store::{ClickBatch, LinkStore};

/// Default queue length: about a second of redirects at full speed.
pub const DEFAULT_QUEUE_LEN: usize = 65_536;
/// Most clicks aggregated into one write.
pub const MAX_BATCH_CLICKS: usize = 1_000_000;
/// Most rows (a link's day, referrer host or user-agent family) in one batch: bounds the
/// batch's memory (a link with one of each takes about 200 bytes: a map entry, its code
/// and its day) and the length of its transaction. Large, because a write costs per row,
/// and under long-tailed traffic a small batch writes about one row per click.
pub const MAX_BATCH_ROWS: usize = 600_000;
/// The default of how often a batch is written while clicks arrive. Long, because a write
/// costs per distinct row, not per click: under Zipf-distributed traffic ten seconds of
/// clicks touch barely more rows than one second's (measured: per-second batches took
/// most of the server's core at 25k redirects/s). Stats requests flush first, so they
/// stay exact; a crash loses at most this much of the analytics (never a link).
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// Wait before retrying a failed write (times the attempt number).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(200);
/// Attempts to write one batch before its clicks are dropped (and logged).
pub const MAX_WRITE_ATTEMPTS: u32 = 3;
/// Longest `Referer` parsed for its host.
const MAX_HEADER_LEN: usize = 512;

/// One redirect served, classified on the request path (the queue holds no headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    /// The link.
    pub code: String,
    /// Unix ms.
    pub at_ms: i64,
    /// The referrer host; `None` when the request had no `Referer` (host `direct`).
    pub referrer: Option<String>,
    /// The user-agent family, as its index in [`crate::core::AGENT_FAMILIES`].
    pub agent: u8,
}

impl Click {
    /// A click of `code` with the `Referer` and `User-Agent` it came with.
    pub fn new(code: &str, at_ms: i64, referer: Option<&str>, user_agent: Option<&str>) -> Self {
        let referer = referer.filter(|text| !text.is_empty()).map(|text| {
            let mut end = text.len().min(MAX_HEADER_LEN);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        });
        Self {
            code: code.to_owned(),
            at_ms,
            referrer: referer.map(|text| referrer_host(Some(text))),
            agent: agent_family_index(agent_family(user_agent)) as u8,
        }
    }
}

/// Add `click` to `batch`.
pub fn aggregate(batch: &mut ClickBatch, click: &Click) {
    batch.add(
        &click.code,
        day_number(click.at_ms),
        click.referrer.as_deref(),
        usize::from(click.agent),
    );
}

enum Message {
    Click(Click),
    Flush(oneshot::Sender<()>),
}

/// The handle redirects record clicks through. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Analytics {
    sender: mpsc::Sender<Message>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Message::Click(click) => click.fmt(f),
            Message::Flush(_) => f.write_str("Flush"),
        }
    }
}

impl Analytics {
    /// Start the worker writing to `store` every `flush_interval`, with a queue of
    /// `queue_len` clicks.
    pub fn start(store: Arc<dyn LinkStore>, queue_len: usize, flush_interval: Duration) -> Self {
        let (sender, receiver) = mpsc::channel(queue_len.max(1));
        tokio::spawn(worker(store, receiver, flush_interval));
        Self { sender }
    }

    /// Queue `click`, waiting for room when the queue is full.
    pub async fn record(&self, click: Click) {
        if self.sender.send(Message::Click(click)).await.is_err() {
            tracing::warn!("shortener: the analytics worker stopped; a click was not counted");
            metrics::counter!("shortener_clicks_dropped_total").increment(1);
        }
    }

    /// Queue `click` if there is room now; the click back when the queue is full (the
    /// caller may then [`Analytics::record`] it, waiting).
    pub fn try_record(&self, click: Click) -> Result<(), Click> {
        match self.sender.try_send(Message::Click(click)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(Message::Click(click))) => Err(click),
            Err(mpsc::error::TrySendError::Full(Message::Flush(_))) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::warn!("shortener: the analytics worker stopped; a click was not counted");
                metrics::counter!("shortener_clicks_dropped_total").increment(1);
                Ok(())
            }
        }
    }

    /// Wait until every click queued before this call is written (at most `timeout`);
    /// false when it took longer or the worker stopped.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (done, wait) = oneshot::channel();
        let barrier =
            async { self.sender.send(Message::Flush(done)).await.is_ok() && wait.await.is_ok() };
        tokio::time::timeout(timeout, barrier).await.unwrap_or(false)
    }
}

async fn worker(
    store: Arc<dyn LinkStore>,
    mut receiver: mpsc::Receiver<Message>,
    flush_interval: Duration,
) {
    let mut pending = Pending::default();
    // The batch being written, by its own task, while the next one fills.
    let mut in_flight: Option<JoinHandle<()>> = None;
    // When the batch in hand must be written: `flush_interval` after its first click.
    let mut deadline = tokio::time::Instant::now();
    loop {
        let message = if pending.clicks == 0 {
            let message = receiver.recv().await;
            deadline = tokio::time::Instant::now() + flush_interval;
            message
        } else {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(message) => message,
                Err(_elapsed) => {
                    hand_off(&store, &mut pending, &mut in_flight).await;
                    continue;
                }
            }
        };
        match message {
            Some(Message::Click(click)) => {
                aggregate(&mut pending.batch, &click);
                pending.clicks += 1;
                if pending.clicks >= MAX_BATCH_CLICKS || pending.batch.rows >= MAX_BATCH_ROWS {
                    hand_off(&store, &mut pending, &mut in_flight).await;
                }
            }
            Some(Message::Flush(done)) => {
                pending.waiting.push(done);
                hand_off(&store, &mut pending, &mut in_flight).await;
            }
            None => {
                hand_off(&store, &mut pending, &mut in_flight).await;
                if let Some(last) = in_flight.take() {
                    let _ = last.await;
                }
                return;
            }
        }
    }
}

/// The batch being filled, with the flush barriers waiting for it.
#[derive(Default)]
struct Pending {
    batch: ClickBatch,
    clicks: usize,
    waiting: Vec<oneshot::Sender<()>>,
}

/// Give the batch in hand to a writer task, once the previous batch is written: so writes
/// stay in order, at most two batches are in memory, and the queue keeps draining while a
/// batch is written. (Written inline, a slow write — a cold database, thousands of rows —
/// let the queue fill and held every redirect behind it: p99 400 ms in
/// `bench/shortener.sh` at 10 M links.)
async fn hand_off(
    store: &Arc<dyn LinkStore>,
    pending: &mut Pending,
    in_flight: &mut Option<JoinHandle<()>>,
) {
    if let Some(previous) = in_flight.take() {
        let _ = previous.await;
    }
    let Pending { batch, clicks, waiting } = std::mem::take(pending);
    let store = Arc::clone(store);
    *in_flight = Some(tokio::spawn(async move { write(&store, batch, clicks, waiting).await }));
}

async fn write(
    store: &Arc<dyn LinkStore>,
    batch: ClickBatch,
    clicks: usize,
    waiting: Vec<oneshot::Sender<()>>,
) {
    if !batch.is_empty() {
        let mut attempt = 1;
        loop {
            match store.record_clicks(&batch).await {
                Ok(()) => {
                    metrics::counter!("shortener_clicks_recorded_total").increment(clicks as u64);
                    break;
                }
                Err(error) if attempt < MAX_WRITE_ATTEMPTS => {
                    tracing::warn!(%error, attempt, "shortener: writing clicks failed; retrying");
                    tokio::time::sleep(RETRY_BACKOFF * attempt).await;
                    attempt += 1;
                }
                Err(error) => {
                    tracing::error!(%error, clicks, "shortener: clicks dropped");
                    metrics::counter!("shortener_clicks_dropped_total").increment(clicks as u64);
                    break;
                }
            }
        }
    }
    for done in waiting {
        let _ = done.send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::AGENT_FAMILIES;

    fn rows(rows: Vec<(&str, String, i64)>) -> Vec<(String, String, i64)> {
        let mut rows: Vec<_> =
            rows.into_iter().map(|(code, key, clicks)| (code.to_owned(), key, clicks)).collect();
        rows.sort();
        rows
    }

    fn row(code: &str, key: &str, clicks: i64) -> (String, String, i64) {
        (code.to_owned(), key.to_owned(), clicks)
    }

    #[test]
    fn clicks_aggregate_per_link_day_referrer_and_agent() {
        let mut batch = ClickBatch::default();
        let day = 86_400_000;
        aggregate(&mut batch, &Click::new("abc", 0, Some("https://a.example/x"), Some("curl/8")));
        aggregate(&mut batch, &Click::new("abc", 1, None, Some("curl/8")));
        aggregate(&mut batch, &Click::new("abc", day, Some(""), None));
        aggregate(&mut batch, &Click::new("xyz", day, Some("https://b.example/"), None));
        assert_eq!(
            rows(batch.daily_rows()),
            [row("abc", "1970-01-01", 2), row("abc", "1970-01-02", 1), row("xyz", "1970-01-02", 1)]
        );
        assert_eq!(
            rows(batch.referrer_rows()),
            [row("abc", "a.example", 1), row("abc", "direct", 2), row("xyz", "b.example", 1)]
        );
        assert_eq!(
            rows(batch.agent_rows()),
            [row("abc", "curl", 2), row("abc", "unknown", 1), row("xyz", "unknown", 1)]
        );
        // The size bound counts rows written, not clicks.
        assert_eq!(batch.rows, 3 + 3 + 3);
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
        assert_eq!(batch.rows, 3);
        assert_eq!(rows(batch.daily_rows()), [row("abc", "1970-01-01", 1_000)]);
    }

    #[test]
    fn long_referers_are_cut_before_parsing_even_inside_a_character() {
        let long = format!("https://{}.example/{}", "h".repeat(200), "\u{e9}".repeat(400));
        let click = Click::new("abc", 0, Some(&long), Some(&long));
        assert_eq!(click.referrer.as_deref().map(str::len), Some(200 + ".example".len()));
        assert_eq!(AGENT_FAMILIES[usize::from(click.agent)], "other");
    }
}
