//! The once-a-second progress line on stderr, so a long run shows it is
//! alive and whether the rate is steady.

use super::pipeline::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// A running progress printer; stops when dropped.
pub struct Progress {
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Prints `label` progress from `shared` every second (nothing when
    /// `quiet`).
    pub fn start(label: String, shared: Arc<Shared>, quiet: bool) -> Progress {
        if quiet {
            return Progress { task: None };
        }
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0u64;
            loop {
                tick.tick().await;
                let done = shared.done.load(Ordering::Relaxed);
                let secs = start.elapsed().as_secs_f64();
                eprintln!(
                    "bench: {label} {secs:5.1}s {:>9.0} ops/s (avg {:.0}), {done} ops, {} errors",
                    done.saturating_sub(last) as f64,
                    done as f64 / secs,
                    shared.errors.load(Ordering::Relaxed)
                );
                last = done;
            }
        });
        Progress { task: Some(task) }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
