//! Keeps the RocksDB snapshot store current: takes the node and session
//! changes of each durable batch from the committer, writes them in atomic
//! batches, syncs about once a second, and then deletes txn log segments
//! the store has made redundant.

use crate::core::server::Changes;
use crate::storage::snapshot::SnapStore;
use crate::storage::txlog;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{debug, error};

const SYNC_EVERY: Duration = Duration::from_secs(1);
const MAX_BATCH: usize = 4096;

/// Handle to the snapshot thread.
pub struct Snapshotter {
    tx: Option<mpsc::Sender<Changes>>,
    thread: Option<JoinHandle<()>>,
}

impl Snapshotter {
    /// Starts the thread; `log_dir` is where redundant segments are purged.
    pub fn spawn(mut store: SnapStore, log_dir: PathBuf) -> std::io::Result<Snapshotter> {
        let (tx, rx) = mpsc::channel::<Changes>();
        let thread = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let mut last_sync = Instant::now();
                let mut unsynced = false;
                let mut open = true;
                while open {
                    let mut batch = Vec::new();
                    match rx.recv_timeout(SYNC_EVERY) {
                        Ok(c) => batch.push(c),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(c) => batch.push(c),
                            Err(_) => break,
                        }
                    }
                    if !batch.is_empty() {
                        if let Err(e) = store.write(&batch) {
                            error!(error = %e, "snapshot store write failed; the txn log keeps everything, stopping snapshots");
                            return;
                        }
                        unsynced = true;
                    }
                    if unsynced && (!open || last_sync.elapsed() >= SYNC_EVERY) {
                        match store.sync() {
                            Ok(z) => {
                                unsynced = false;
                                last_sync = Instant::now();
                                match txlog::purge_below(&log_dir, z) {
                                    Ok(0) => {}
                                    Ok(n) => debug!(segments = n, zxid = format_args!("{z:#x}"), "purged txn log segments covered by the snapshot"),
                                    Err(e) => error!(error = %e, "purging txn log segments failed"),
                                }
                            }
                            Err(e) => {
                                error!(error = %e, "snapshot store sync failed; stopping snapshots");
                                return;
                            }
                        }
                    }
                }
                if let Err(e) = store.flush() {
                    error!(error = %e, "flushing the snapshot store at shutdown failed");
                }
            })?;
        Ok(Snapshotter {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queues the changes of a durable batch.
    pub fn submit(&self, c: Changes) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(c);
        }
    }

    /// Writes and syncs what is queued, then stops.
    pub fn finish(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
