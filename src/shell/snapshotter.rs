//! Keeps the RocksDB snapshot store current: takes the node and session
//! changes of each durable batch from the committer, merges them by path
//! (last state wins), writes the merged set in one atomic batch about once
//! a second or when it grows past a bound, syncs, and then deletes txn log
//! segments the store has made redundant. Merging first means an
//! update-heavy load costs the store one write per distinct node per
//! second, not one per txn; the txn log keeps everything until then.

use crate::core::image::Image;
use crate::core::server::Changes;
use crate::storage::snapshot::{Coalesced, SnapStore};
use crate::storage::txlog;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tracing::{debug, error};

const SYNC_EVERY: Duration = Duration::from_secs(1);
/// Write early past this much merged state (bounds the memory held).
const MAX_PENDING_BYTES: usize = 4 << 20;

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
                let mut last_write = Instant::now();
                let mut pending = Coalesced::default();
                let mut open = true;
                while open {
                    let wait = SYNC_EVERY.saturating_sub(last_write.elapsed());
                    let mut replace = None;
                    match rx.recv_timeout(wait) {
                        Ok(Job::Changes(c)) => pending.add(c),
                        Ok(Job::Replace(img, done)) => replace = Some((img, done)),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => open = false,
                    }
                    while replace.is_none() && pending.bytes() < MAX_PENDING_BYTES {
                        match rx.try_recv() {
                            Ok(Job::Changes(c)) => pending.add(c),
                            Ok(Job::Replace(img, done)) => replace = Some((img, done)),
                            Err(_) => break,
                        }
                    }
                    if let Some((img, done)) = replace {
                        // The image holds the state after every change
                        // merged so far.
                        pending = Coalesced::default();
                        if let Err(e) = store.replace_all(&img) {
                            error!(error = %e, "replacing the snapshot store with the leader's image failed; exiting");
                            std::process::exit(2);
                        }
                        let _ = done.send(());
                        continue;
                    }
                    let due = !open
                        || last_write.elapsed() >= SYNC_EVERY
                        || pending.bytes() >= MAX_PENDING_BYTES;
                    if !due || pending.is_empty() {
                        if due {
                            last_write = Instant::now();
                        }
                        continue;
                    }
                    last_write = Instant::now();
                    if let Err(e) = store.write(&mut pending) {
                        error!(error = %e, "snapshot store write failed; the txn log keeps everything, stopping snapshots");
                        return;
                    }
                    match store.sync() {
                        Ok(z) => match txlog::purge_below(&log_dir, z) {
                            Ok(0) => {}
                            Ok(n) => debug!(segments = n, zxid = format_args!("{z:#x}"), "purged txn log segments covered by the snapshot"),
                            Err(e) => error!(error = %e, "purging txn log segments failed"),
                        },
                        Err(e) => {
                            error!(error = %e, "snapshot store sync failed; stopping snapshots");
                            return;
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
