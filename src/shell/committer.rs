//! Group commit: one thread owns the txn log. It writes every batch queued
//! while the previous fdatasync ran, syncs once, and reports the highest
//! durable zxid. Throughput therefore follows the disk's bandwidth, not its
//! fsync rate.

use super::snapshotter::Snapshotter;
use crate::core::image::Image;
use crate::core::server::Changes;
use crate::core::txn::Txn;
use crate::core::Zxid;
use crate::storage::txlog::TxLog;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use tracing::{error, warn};

/// Counters the committer keeps for `mntr`.
#[derive(Debug, Default)]
pub struct FsyncStats {
    pub count: AtomicU64,
    pub total_us: AtomicU64,
    pub max_us: AtomicU64,
    pub slow: AtomicU64,
    pub txns: AtomicU64,
}

/// Work for the committer thread, done in the order queued.
pub enum Job {
    /// Txns to log, with their snapshot changes when already known (a
    /// standalone server's txns are final once durable).
    Append(Vec<Txn>, Option<Changes>),
    /// Changes of txns queued earlier, for the snapshot store once those
    /// are durable (an ensemble's, released when committed).
    Changes(Changes),
    /// Durably drop log records above the zxid, then signal.
    Truncate(Zxid, mpsc::Sender<()>),
    /// Durably replace log and snapshot store with a leader's image, then
    /// signal.
    Install(Arc<Image>, mpsc::Sender<()>),
}

/// Handle to the committer thread.
pub struct Committer {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
    pub stats: Arc<FsyncStats>,
}

/// Nothing unlogged may be acknowledged, and the log's state is unknown
/// after a failed write: stop the process.
fn fatal(what: &str, e: impl std::fmt::Display) -> ! {
    error!(error = %e, "{what} failed; exiting");
    std::process::exit(2);
}

struct Worker<F> {
    log: TxLog,
    snapshotter: Snapshotter,
    warn_ms: u64,
    on_durable: F,
    stats: Arc<FsyncStats>,
    batch: Vec<Txn>,
    changes: Vec<Changes>,
}

impl<F: Fn(Zxid)> Worker<F> {
    /// Logs and syncs the gathered txns, reports them durable, then passes
    /// the gathered changes on.
    fn flush(&mut self) {
        if let Some(last) = self.batch.last().map(|t| t.zxid) {
            let took = self
                .log
                .append(&self.batch)
                .and_then(|()| self.log.sync())
                .unwrap_or_else(|e| fatal("txn log write", e));
            let us = took.as_micros() as u64;
            let st = &self.stats;
            st.count.fetch_add(1, Ordering::Relaxed);
            st.total_us.fetch_add(us, Ordering::Relaxed);
            st.max_us.fetch_max(us, Ordering::Relaxed);
            st.txns
                .fetch_add(self.batch.len() as u64, Ordering::Relaxed);
            if us / 1000 >= self.warn_ms {
                st.slow.fetch_add(1, Ordering::Relaxed);
                warn!(
                    took_ms = us / 1000,
                    txns = self.batch.len(),
                    "fsync-ing the txn log took {}ms which will adversely affect operation latency",
                    us / 1000
                );
            }
            (self.on_durable)(last);
            self.batch.clear();
        }
        for c in self.changes.drain(..) {
            self.snapshotter.submit(c);
        }
    }

    fn run(&mut self, job: Job) {
        match job {
            Job::Append(txns, changes) => {
                self.batch.extend(txns);
                self.changes.extend(changes);
            }
            Job::Changes(c) => self.changes.push(c),
            Job::Truncate(zxid, done) => {
                self.flush();
                if let Err(e) = self.log.truncate_after(zxid) {
                    fatal("txn log truncation", e);
                }
                let _ = done.send(());
            }
            Job::Install(img, done) => {
                self.flush();
                if let Err(e) = self.log.reset(img.zxid) {
                    fatal("txn log reset", e);
                }
                self.snapshotter.replace(img);
                let _ = done.send(());
            }
        }
    }
}

impl Committer {
    /// Starts the thread; `on_durable` is called with each durable zxid,
    /// and the batch's changes then go to the snapshotter.
    pub fn spawn(
        log: TxLog,
        snapshotter: Snapshotter,
        warn_ms: u64,
        on_durable: impl Fn(Zxid) + Send + 'static,
    ) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let stats = Arc::new(FsyncStats::default());
        let mut w = Worker {
            log,
            snapshotter,
            warn_ms,
            on_durable,
            stats: stats.clone(),
            batch: Vec::new(),
            changes: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("txlog-commit".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    w.run(job);
                    // Everything queued while the last fsync ran joins
                    // this one.
                    while let Ok(more) = rx.try_recv() {
                        w.run(more);
                    }
                    w.flush();
                }
                w.snapshotter.finish();
            })?;
        Ok(Committer {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        })
    }

    /// Queues a job.
    pub fn submit(&self, job: Job) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(job);
        }
    }

    /// Runs a job that signals completion and waits for it: the caller
    /// may not go on until it is durable.
    pub fn run_and_wait(&self, job: impl FnOnce(mpsc::Sender<()>) -> Job) {
        let (done_tx, done_rx) = mpsc::channel();
        self.submit(job(done_tx));
        let _ = done_rx.recv();
    }

    /// Writes and syncs everything queued, then stops the thread.
    pub fn finish(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
