//! Keeps the RocksDB snapshot store current: takes the node and session
//! changes of each durable batch from the committer, writes them in atomic
//! batches, syncs about once a second, and then deletes txn log segments
//! the store has made redundant.

use crate::core::image::Image;
use crate::core::server::Changes;
use crate::storage::snapshot::SnapStore;
use crate::storage::txlog;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{debug, error};

const SYNC_EVERY: Duration = Duration::from_secs(1);
const MAX_BATCH: usize = 4096;

enum Job {
    Changes(Changes),
    Replace(Arc<Image>, mpsc::Sender<()>),
}

/// Handle to the snapshot thread.
pub struct Snapshotter {
    tx: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Snapshotter {
    /// Starts the thread; `log_dir` is where redundant segments are purged.
    pub fn spawn(mut store: SnapStore, log_dir: PathBuf) -> std::io::Result<Snapshotter> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || {
                let mut last_sync = Instant::now();
                let mut unsynced = false;
                let mut open = true;
                while open {
                    let mut batch = Vec::new();
                    let mut replace = None;
                    match rx.recv_timeout(SYNC_EVERY) {
                        Ok(Job::Changes(c)) => batch.push(c),
                        Ok(Job::Replace(img, done)) => replace = Some((img, done)),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                    while batch.len() < MAX_BATCH && replace.is_none() {
                        match rx.try_recv() {
                            Ok(Job::Changes(c)) => batch.push(c),
                            Ok(Job::Replace(img, done)) => replace = Some((img, done)),
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
                    if let Some((img, done)) = replace {
                        if let Err(e) = store.replace_all(&img) {
                            error!(error = %e, "replacing the snapshot store with the leader's image failed; exiting");
                            std::process::exit(2);
                        }
                        unsynced = false;
                        let _ = done.send(());
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
            let _ = tx.send(Job::Changes(c));
        }
    }

    /// Replaces the store's contents with `img` (a SNAP from the leader)
    /// and waits until that is durable.
    pub fn replace(&self, img: Arc<Image>) {
        let Some(tx) = &self.tx else {
            return;
        };
        let (done_tx, done_rx) = mpsc::channel();
        if tx.send(Job::Replace(img, done_tx)).is_ok() {
            let _ = done_rx.recv();
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
