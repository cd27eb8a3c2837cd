//! A named thread that runs a task on a fixed cadence and stops (and is joined) on drop:
//! the reservation keeper and the ring's scheduled padding.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A background task on a cadence; dropping it stops and joins the thread.
#[derive(Debug)]
pub struct PeriodicThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PeriodicThread {
    /// Run `task` now and then every `cadence` on a thread called `name`.
    pub fn spawn(
        name: &str,
        cadence: Duration,
        mut task: impl FnMut() + Send + 'static,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            while !stop_flag.load(Ordering::Acquire) {
                task();
                std::thread::park_timeout(cadence);
            }
        })?;
        Ok(Self { stop, thread: Some(thread) })
    }
}

impl Drop for PeriodicThread {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _joined = thread.join();
        }
    }
}
