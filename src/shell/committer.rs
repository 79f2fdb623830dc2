//! Group commit: one thread owns the txn log. It writes every batch queued
//! while the previous fdatasync ran, syncs once, and reports the highest
//! durable zxid. Throughput therefore follows the disk's bandwidth, not its
//! fsync rate.

use super::snapshotter::Snapshotter;
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

/// Handle to the committer thread.
pub struct Committer {
    tx: Option<mpsc::Sender<(Vec<Txn>, Changes)>>,
    thread: Option<JoinHandle<()>>,
    pub stats: Arc<FsyncStats>,
}

impl Committer {
    /// Starts the thread; `on_durable` is called with each durable zxid,
    /// and the batch's changes then go to the snapshotter.
    pub fn spawn(
        mut log: TxLog,
        mut snapshotter: Snapshotter,
        warn_ms: u64,
        on_durable: impl Fn(Zxid) + Send + 'static,
    ) -> std::io::Result<Committer> {
        let (tx, rx) = mpsc::channel::<(Vec<Txn>, Changes)>();
        let stats = Arc::new(FsyncStats::default());
        let st = stats.clone();
        let thread = std::thread::Builder::new()
            .name("txlog-commit".into())
            .spawn(move || {
                while let Ok((mut batch, first)) = rx.recv() {
                    let mut changes = vec![first];
                    while let Ok((more, ch)) = rx.try_recv() {
                        batch.extend(more);
                        changes.push(ch);
                    }
                    let Some(last) = batch.last().map(|t| t.zxid) else {
                        continue;
                    };
                    let synced = log.append(&batch).and_then(|()| log.sync());
                    match synced {
                        Ok(took) => {
                            let us = took.as_micros() as u64;
                            st.count.fetch_add(1, Ordering::Relaxed);
                            st.total_us.fetch_add(us, Ordering::Relaxed);
                            st.max_us.fetch_max(us, Ordering::Relaxed);
                            st.txns.fetch_add(batch.len() as u64, Ordering::Relaxed);
                            if us / 1000 >= warn_ms {
                                st.slow.fetch_add(1, Ordering::Relaxed);
                                warn!(
                                    took_ms = us / 1000,
                                    txns = batch.len(),
                                    "fsync-ing the txn log took {}ms which will adversely affect operation latency",
                                    us / 1000
                                );
                            }
                            on_durable(last);
                            for c in changes {
                                snapshotter.submit(c);
                            }
                        }
                        Err(e) => {
                            // Nothing unlogged may be acknowledged, and the
                            // log's state is unknown: stop the process.
                            error!(error = %e, "txn log write failed; exiting");
                            std::process::exit(2);
                        }
                    }
                }
                snapshotter.finish();
            })?;
        Ok(Committer {
            tx: Some(tx),
            thread: Some(thread),
            stats,
        })
    }

    /// Queues a batch (and its snapshot changes) for the next group commit.
    pub fn submit(&self, txns: Vec<Txn>, changes: Changes) {
        if let Some(tx) = &self.tx {
            let _ = tx.send((txns, changes));
        }
    }

    /// Writes and syncs everything queued, then stops the thread.
    pub fn finish(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
