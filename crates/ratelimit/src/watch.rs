//! The rules worker (book figure 4-14): reloads rules from disk when they change.
//!
//! A tokio task reads the rule files every [`POLL_INTERVAL`] and hashes their content
//! (mtime alone misses edits within the same second); on a change it parses them and,
//! if they are valid, swaps the new [`RuleSet`] in atomically (`arc-swap`: requests in
//! flight keep the old set, the next ones see the new one). A broken file keeps the old
//! rules and logs the error with its file and line, once per distinct content.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::task::JoinHandle;

use crate::rules::{RuleSet, RulesError, rule_files};

/// How often the files are re-read: an edit applies within this (plus parse time).
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// Loads `path` now and returns the handle the engine shares.
///
/// # Errors
/// [`RulesError`] when the initial rules are invalid: a service must not start without.
pub fn load_initial(path: &std::path::Path) -> Result<Arc<ArcSwap<RuleSet>>, RulesError> {
    Ok(Arc::new(ArcSwap::from_pointee(RuleSet::load(path)?)))
}

/// Content fingerprint of the rule files (names and bytes), or `None` if unreadable.
fn fingerprint(path: &std::path::Path) -> Option<u64> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for file in rule_files(path).ok()? {
        h.update(file.to_string_lossy().as_bytes());
        h.update(&std::fs::read(&file).ok()?);
    }
    Some(h.digest())
}

/// Spawns the watcher on the current tokio runtime. Abort the handle to stop it.
pub fn spawn(path: PathBuf, rules: Arc<ArcSwap<RuleSet>>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        // `None`: the first tick re-reads the files, so an edit made between the initial
        // load and this task's start is not missed.
        let mut seen = None;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let current = fingerprint(&path);
            if current == seen || current.is_none() {
                continue;
            }
            seen = current;
            let p = path.clone();
            match tokio::task::spawn_blocking(move || RuleSet::load(&p)).await {
                Ok(Ok(set)) => {
                    rules.store(Arc::new(set));
                    metrics::counter!("ratelimit_rules_reloads_total", "result" => "ok")
                        .increment(1);
                    tracing::info!(path = %path.display(), "rate limit rules reloaded");
                }
                Ok(Err(error)) => report(&error),
                Err(join) => tracing::error!(%join, "rules reload task failed"),
            }
        }
    })
}

fn report(error: &RulesError) {
    metrics::counter!("ratelimit_rules_reloads_total", "result" => "error").increment(1);
    tracing::error!(%error, "rate limit rules invalid; keeping the previous rules");
}
