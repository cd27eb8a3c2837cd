//! Work a system must finish when the server stops: drain a queue, flush a batch.
//!
//! A system registers a hook while it mounts ([`ShutdownHooks::register`]); once the HTTP
//! server has stopped accepting and its in-flight requests are done, the binary calls
//! [`ShutdownHooks::run`], which runs every hook, all at once, for at most a deadline. A
//! hook that overruns it is abandoned with a warning naming it: a stop is never held up
//! forever, and what the hook did not finish is what a `kill -9` would have lost anyway.
//!
//! What it is not: not a crash handler. `kill -9` runs nothing; durability against it is
//! each system's own (write-ahead logs, transactions).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;

/// One hook: called once, at shutdown.
pub type Hook = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// The hooks registered so far. Cheap to clone; clones share the list.
#[derive(Clone, Default)]
pub struct ShutdownHooks {
    hooks: Arc<Mutex<Vec<(String, Hook)>>>,
}

impl std::fmt::Debug for ShutdownHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.list().iter().map(|(name, _)| name.clone()).collect();
        f.debug_struct("ShutdownHooks").field("hooks", &names).finish()
    }
}

impl ShutdownHooks {
    fn list(&self) -> MutexGuard<'_, Vec<(String, Hook)>> {
        // A hook never runs under the lock, so a poisoned lock still holds a valid list.
        self.hooks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Run `hook` at shutdown; `name` is what a warning calls it.
    pub fn register(&self, name: impl Into<String>, hook: Hook) {
        self.list().push((name.into(), hook));
    }

    /// How many hooks are registered and not yet run.
    pub fn len(&self) -> usize {
        self.list().len()
    }

    /// No hook registered (or all have run).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Run every registered hook concurrently, for at most `deadline` in all; the names
    /// of those that did not finish in time. Each hook runs once: a second call runs only
    /// hooks registered since.
    pub async fn run(&self, deadline: Duration) -> Vec<String> {
        let hooks: Vec<(String, Hook)> = std::mem::take(&mut *self.list());
        let mut tasks = Vec::with_capacity(hooks.len());
        for (name, hook) in hooks {
            tasks.push((name, tokio::spawn(hook())));
        }
        let started = tokio::time::Instant::now();
        let mut unfinished = Vec::new();
        for (name, task) in tasks {
            let left = deadline.saturating_sub(started.elapsed());
            match tokio::time::timeout(left, task).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::warn!(hook = %name, %error, "a shutdown hook failed");
                    unfinished.push(name);
                }
                Err(_elapsed) => {
                    tracing::warn!(hook = %name, deadline_ms = deadline.as_millis() as u64,
                        "a shutdown hook did not finish in time; abandoned");
                    unfinished.push(name);
                }
            }
        }
        unfinished
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn every_hook_runs_once_and_a_slow_one_is_named() {
        let hooks = ShutdownHooks::default();
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            let ran = ran.clone();
            hooks.register(
                "quick",
                Box::new(move || {
                    Box::pin(async move {
                        ran.fetch_add(1, Ordering::SeqCst);
                    })
                }),
            );
        }
        hooks.register(
            "slow",
            Box::new(|| Box::pin(async { tokio::time::sleep(Duration::from_secs(60)).await })),
        );
        assert_eq!(hooks.len(), 4);
        let unfinished = hooks.run(Duration::from_millis(50)).await;
        assert_eq!(unfinished, vec!["slow".to_owned()]);
        assert_eq!(ran.load(Ordering::SeqCst), 3);
        assert!(hooks.is_empty());
        assert!(hooks.run(Duration::from_millis(50)).await.is_empty(), "nothing runs twice");
        assert_eq!(ran.load(Ordering::SeqCst), 3);
    }
}
