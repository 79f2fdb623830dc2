//! The snapshot store: a RocksDB copy of the tree and the session table,
//! kept current from committed txns in batches, off the request path.
//!
//! Every batch writes its node and session changes together with the zxid
//! they bring the copy to, in one atomic RocksDB write batch, so the store
//! always holds the exact state at some zxid: restart is "load the store,
//! replay the log after its zxid". Cost follows the change rate, not the
//! tree size. Only changes already durable in the txn log reach it.
//!
//! Layout: column family `nodes` (key: path, value: format byte + Jute
//! `StatPersisted`, data buffer, ACL vector), `sessions` (key: session id,
//! big-endian; value: timeout ms), and `meta` (`format`, `zxid`).

use crate::core::image;
use crate::core::server::{Changes, Server};
use crate::core::tree::{AclRef, StoredNode};
use crate::core::{SessionId, Zxid};
use jute::Reader;
use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, IteratorMode, Options, ReadOptions, WriteBatch,
    WriteOptions, DB,
};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// On-disk format version of the snapshot store.
pub const FORMAT_VERSION: u32 = 1;
const CF_NODES: &str = "nodes";
const CF_SESSIONS: &str = "sessions";
const CF_META: &str = "meta";

/// Why the store cannot be used.
#[derive(Debug)]
pub enum SnapError {
    Db(PathBuf, rocksdb::Error),
    Corrupt(PathBuf, String),
}

impl std::fmt::Display for SnapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapError::Db(p, e) => write!(f, "snapshot store {}: {e}", p.display()),
            SnapError::Corrupt(p, why) => write!(
                f,
                "corrupt snapshot store {}: {why}; refusing to start (restore the data dir from a backup, or move the snapshot dir away to rebuild from a complete txn log)",
                p.display()
            ),
        }
    }
}

impl std::error::Error for SnapError {}

/// Changes waiting for the store, merged by path and by session: each
/// change is a whole node's (or session's) state after it, so only the last
/// one matters. A hot node updated thousands of times between two writes
/// is written once.
#[derive(Debug, Default)]
pub struct Coalesced {
    nodes: HashMap<String, Option<Vec<u8>>, foldhash::fast::RandomState>,
    sessions: HashMap<SessionId, Option<i32>, foldhash::fast::RandomState>,
    /// The zxid the merged changes bring the store to.
    zxid: Option<Zxid>,
    /// Path and record bytes currently held (a replaced record no longer
    /// counts, so a hot set of nodes never forces an early write).
    bytes: usize,
}

fn record_len(r: &Option<Vec<u8>>) -> usize {
    r.as_ref().map_or(0, Vec::len)
}

impl Coalesced {
    /// Merges the changes of the next durable batch.
    pub fn add(&mut self, c: Changes) {
        for (path, record) in c.nodes {
            self.bytes += record_len(&record);
            match self.nodes.entry(path) {
                Entry::Occupied(mut e) => self.bytes -= record_len(&e.insert(record)),
                Entry::Vacant(e) => {
                    self.bytes += e.key().len();
                    e.insert(record);
                }
            }
        }
        self.sessions.extend(c.sessions);
        self.zxid = Some(c.zxid);
    }

    /// Nothing waiting.
    pub fn is_empty(&self) -> bool {
        self.zxid.is_none()
    }

    /// Roughly how much memory the merged changes hold: a bound for when
    /// to write.
    pub fn bytes(&self) -> usize {
        self.bytes + 64 * (self.nodes.len() + self.sessions.len())
    }

    /// The merged node changes in key order: RocksDB's memtable inserts a
    /// sorted run by extending where the previous key went instead of
    /// searching its skip list from the top for each.
    fn sorted_nodes(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        let mut v: Vec<_> = self.nodes.drain().collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// What the store held at open, but its nodes: those stream through
/// [`SnapStore::for_each_node`] straight into the tree.
pub struct Loaded {
    pub zxid: Zxid,
    pub sessions: Vec<(SessionId, i32)>,
}

/// The open store.
pub struct SnapStore {
    db: DB,
    path: PathBuf,
    zxid: Zxid,
}

/// Decodes a stored node in place and hands it to `f`.
fn with_node<T>(
    bytes: &[u8],
    f: impl FnOnce(StoredNode<'_>) -> Result<T, String>,
) -> Result<T, String> {
    let (&fmt, rest) = bytes
        .split_first()
        .ok_or_else(|| "empty node record".to_string())?;
    if fmt != image::NODE_RECORD_FORMAT {
        return Err(format!("node format {fmt}"));
    }
    let mut r = Reader::new(rest);
    let (stat, data, acl) = image::read_node_parts(&mut r).map_err(|e| e.to_string())?;
    r.finish().map_err(|e| e.to_string())?;
    f(StoredNode {
        stat: &stat,
        data,
        acl: AclRef::Encoded(acl),
    })
}

const SCAN_BATCH_BYTES: usize = 256 << 10;

/// Raw key/value records handed from the scanning thread to the loader.
#[derive(Default)]
struct ScanBatch {
    bytes: Vec<u8>,
    /// Per record: where its key ends and where its value ends in `bytes`.
    ends: Vec<(usize, usize)>,
}

impl ScanBatch {
    fn push(&mut self, k: &[u8], v: &[u8]) {
        self.bytes.extend_from_slice(k);
        let key_end = self.bytes.len();
        self.bytes.extend_from_slice(v);
        self.ends.push((key_end, self.bytes.len()));
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    fn records(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0;
        self.ends.iter().map(move |&(k, v)| {
            let r = (&self.bytes[start..k], &self.bytes[k..v]);
            start = v;
            r
        })
    }
}

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_paranoid_checks(true);
    o.set_compression_type(rocksdb::DBCompressionType::Lz4);
    // Memtables are memory the 1M-znode budget pays for (active plus one
    // flushing): 4 MiB instead of 8 took ~10 MiB off the RSS after loading
    // 1M znodes (253/250 -> 243/243 MiB) for ~3% more CPU per create.
    o.set_write_buffer_size(4 << 20);
    o.set_max_open_files(256);
    o.set_keep_log_file_num(2);
    // The sessions and meta column families never fill a memtable, so
    // without a cap no RocksDB WAL file could ever be freed (measured: 26
    // files, ~360 MiB after 1M creates). Past this size RocksDB flushes the
    // column families holding the oldest WAL and recycles it.
    o.set_max_total_wal_size(64 << 20);
    // The store is only read whole, at start-up, so L0 files cost no
    // lookups; what costs is compaction, which with new keys spread over
    // the whole key space rewrites the entire last level each time it
    // runs. Merging 16 flushed files per run instead of 4 cut the server
    // CPU of create from 8.4 to 6.5 us/op (RocksDB's compaction thread
    // was 39% of it) and left restart with 1M znodes at 0.5-0.65 s.
    o.set_level_zero_file_num_compaction_trigger(16);
    o.set_level_zero_slowdown_writes_trigger(40);
    o.set_level_zero_stop_writes_trigger(60);
    o
}

impl SnapStore {
    /// Opens (creating if needed) the store at `path` and loads it.
    pub fn open(path: &Path) -> Result<(SnapStore, Loaded), SnapError> {
        let db_err = |e| SnapError::Db(path.to_path_buf(), e);
        let corrupt = |why: String| SnapError::Corrupt(path.to_path_buf(), why);
        let cfs = [CF_NODES, CF_SESSIONS, CF_META]
            .into_iter()
            .map(|n| ColumnFamilyDescriptor::new(n, db_options()));
        let db = DB::open_cf_descriptors(&db_options(), path, cfs).map_err(db_err)?;
        let meta = db
            .cf_handle(CF_META)
            .ok_or_else(|| corrupt("no meta".into()))?;
        match db.get_cf(meta, b"format").map_err(db_err)? {
            None => {
                db.put_cf(meta, b"format", FORMAT_VERSION.to_be_bytes())
                    .map_err(db_err)?;
            }
            Some(v) if v.as_slice() == FORMAT_VERSION.to_be_bytes() => {}
            Some(v) => return Err(corrupt(format!("unsupported format {v:?}"))),
        }
        let zxid = match db.get_cf(meta, b"zxid").map_err(db_err)? {
            None => 0,
            Some(v) => {
                let b: [u8; 8] = v
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt("bad zxid record".into()))?;
                i64::from_be_bytes(b)
            }
        };
        let mut sessions = Vec::new();
        let cf = db
            .cf_handle(CF_SESSIONS)
            .ok_or_else(|| corrupt("no sessions".into()))?;
        for item in db.iterator_cf(cf, IteratorMode::Start) {
            let (k, v) = item.map_err(db_err)?;
            let (Ok(id), Ok(to)) = (<[u8; 8]>::try_from(&*k), <[u8; 4]>::try_from(&*v)) else {
                return Err(corrupt("bad session record".into()));
            };
            sessions.push((i64::from_be_bytes(id), i32::from_be_bytes(to)));
        }
        Ok((
            SnapStore {
                db,
                path: path.to_path_buf(),
                zxid,
            },
            Loaded { zxid, sessions },
        ))
    }

    /// Loads what the store holds into a fresh server core.
    pub fn restore_into(
        &self,
        server: &mut Server,
        loaded: &Loaded,
        now: i64,
    ) -> Result<(), String> {
        server.restore_snapshot(
            loaded.zxid,
            self.estimated_nodes(),
            |r| {
                self.for_each_node(|p, n| r.node(p, n))
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
            &loaded.sessions,
            now,
        )
    }

    /// RocksDB's estimate of the number of stored nodes (to size the tree
    /// before a load).
    pub fn estimated_nodes(&self) -> usize {
        self.db
            .cf_handle(CF_NODES)
            .and_then(|cf| {
                self.db
                    .property_int_value_cf(cf, "rocksdb.estimate-num-keys")
                    .ok()
                    .flatten()
            })
            .map_or(0, |n| n as usize)
    }

    /// Scans every stored node in path order (parents first), decoding
    /// each in place; stops at the first error `f` or the store reports.
    /// A second thread reads RocksDB (block reads, LZ4, iteration: about
    /// half of a restart) while this one hands nodes to `f`.
    pub fn for_each_node(
        &self,
        mut f: impl FnMut(&str, StoredNode<'_>) -> Result<(), String>,
    ) -> Result<usize, SnapError> {
        let corrupt = |why: String| SnapError::Corrupt(self.path.clone(), why);
        let (cf, _, _) = self.families()?;
        std::thread::scope(|scope| {
            let (full_tx, full_rx) = mpsc::sync_channel::<ScanBatch>(4);
            let (empty_tx, empty_rx) = mpsc::channel::<ScanBatch>();
            let reader = scope.spawn(move || self.scan_nodes(cf, &full_tx, &empty_rx));
            let mut count = 0;
            let mut outcome = Ok(());
            'batches: for batch in full_rx {
                for (k, v) in batch.records() {
                    let step = std::str::from_utf8(k)
                        .map_err(|_| corrupt("non-UTF-8 path".into()))
                        .and_then(|path| {
                            with_node(v, |n| f(path, n))
                                .map_err(|e| corrupt(format!("node {path}: {e}")))
                        });
                    if let Err(e) = step {
                        outcome = Err(e);
                        break 'batches;
                    }
                    count += 1;
                }
                // The reader may be gone already; then the batch just drops.
                let _ = empty_tx.send(batch);
            }
            // Leaving the loop dropped the receiver, so a reader still
            // sending stops at its next batch.
            let scanned = reader
                .join()
                .map_err(|_| corrupt("snapshot reader thread panicked".into()))?;
            outcome?;
            scanned.map_err(|e| SnapError::Db(self.path.clone(), e))?;
            Ok(count)
        })
    }

    /// The reading half of [`SnapStore::for_each_node`]: fills batches of
    /// raw records until the store ends or the consumer hangs up.
    fn scan_nodes(
        &self,
        cf: &ColumnFamily,
        full: &mpsc::SyncSender<ScanBatch>,
        empty: &mpsc::Receiver<ScanBatch>,
    ) -> Result<(), rocksdb::Error> {
        let mut ro = ReadOptions::default();
        // A one-off scan: keep it out of the block cache, read ahead.
        ro.fill_cache(false);
        ro.set_readahead_size(256 << 10);
        let mut it = self.db.raw_iterator_cf_opt(cf, ro);
        it.seek_to_first();
        let mut batch = ScanBatch::default();
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            batch.push(k, v);
            if batch.bytes.len() >= SCAN_BATCH_BYTES {
                if full.send(batch).is_err() {
                    return Ok(());
                }
                batch = empty.try_recv().unwrap_or_default();
                batch.clear();
            }
            it.next();
        }
        it.status()?;
        let _ = full.send(batch);
        Ok(())
    }

    /// The nodes, sessions and meta column families.
    fn families(&self) -> Result<(&ColumnFamily, &ColumnFamily, &ColumnFamily), SnapError> {
        let missing = || SnapError::Corrupt(self.path.clone(), "column family missing".into());
        Ok((
            self.db.cf_handle(CF_NODES).ok_or_else(missing)?,
            self.db.cf_handle(CF_SESSIONS).ok_or_else(missing)?,
            self.db.cf_handle(CF_META).ok_or_else(missing)?,
        ))
    }

    /// The zxid the store's contents correspond to.
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    /// Writes what `pending` holds in one atomic batch and empties it (not
    /// synced: see [`SnapStore::sync`]).
    pub fn write(&mut self, pending: &mut Coalesced) -> Result<(), SnapError> {
        let Some(zxid) = pending.zxid else {
            return Ok(());
        };
        let db_err = |e| SnapError::Db(self.path.clone(), e);
        let (nodes, sessions, meta) = self.families()?;
        let mut b = WriteBatch::default();
        for (path, record) in pending.sorted_nodes() {
            match record {
                Some(r) => b.put_cf(nodes, path.as_bytes(), r),
                None => b.delete_cf(nodes, path.as_bytes()),
            }
        }
        for (id, to) in pending.sessions.drain() {
            match to {
                Some(t) => b.put_cf(sessions, id.to_be_bytes(), t.to_be_bytes()),
                None => b.delete_cf(sessions, id.to_be_bytes()),
            }
        }
        b.put_cf(meta, b"zxid", zxid.to_be_bytes());
        *pending = Coalesced::default();
        let mut wo = WriteOptions::default();
        wo.set_sync(false);
        self.db.write_opt(b, &wo).map_err(db_err)?;
        self.zxid = zxid;
        Ok(())
    }

    /// Replaces the whole contents with `img` and syncs: a follower that
    /// installs a leader's image must not come back with a mix of both.
    pub fn replace_all(&mut self, img: &image::Image) -> Result<(), SnapError> {
        let db_err = |e| SnapError::Db(self.path.clone(), e);
        let (nodes, sessions, meta) = self.families()?;
        let mut b = WriteBatch::default();
        // Paths are UTF-8 and session keys 8 bytes: 0xff... sorts above both.
        b.delete_range_cf(nodes, &[][..], &[0xffu8; 9][..]);
        b.delete_range_cf(sessions, &[][..], &[0xffu8; 9][..]);
        for (path, n) in &img.nodes {
            b.put_cf(nodes, path.as_bytes(), image::image_record(n));
        }
        for (id, t) in &img.sessions {
            b.put_cf(sessions, id.to_be_bytes(), t.to_be_bytes());
        }
        b.put_cf(meta, b"zxid", img.zxid.to_be_bytes());
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(b, &wo).map_err(db_err)?;
        self.zxid = img.zxid;
        Ok(())
    }

    /// Moves everything into table files (on clean shutdown, so the next
    /// start reads tables rather than replaying RocksDB's own log).
    pub fn flush(&self) -> Result<(), SnapError> {
        for cf in [CF_NODES, CF_SESSIONS, CF_META] {
            if let Some(h) = self.db.cf_handle(cf) {
                self.db
                    .flush_cf(h)
                    .map_err(|e| SnapError::Db(self.path.clone(), e))?;
            }
        }
        Ok(())
    }

    /// Makes everything written durable; returns the zxid now durable.
    pub fn sync(&mut self) -> Result<Zxid, SnapError> {
        self.db
            .flush_wal(true)
            .map_err(|e| SnapError::Db(self.path.clone(), e))?;
        Ok(self.zxid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(version: i32) -> Vec<u8> {
        image::image_record(&crate::core::tree::NodeImage {
            stat: jute::StatPersisted {
                czxid: 1,
                mzxid: version as i64,
                pzxid: 1,
                version,
                ..Default::default()
            },
            data: Some(vec![version as u8]),
            acl: Vec::new(),
        })
    }

    #[test]
    fn the_last_change_of_a_path_in_a_batch_wins() {
        let d = tempfile::tempdir().unwrap();
        let (mut store, _) = SnapStore::open(d.path()).unwrap();
        let changes = vec![
            Changes {
                zxid: 1,
                nodes: vec![("/a".into(), Some(node(1))), ("/b".into(), Some(node(1)))],
                sessions: vec![(7, Some(4000))],
            },
            Changes {
                zxid: 2,
                nodes: vec![("/a".into(), None), ("/b".into(), Some(node(2)))],
                sessions: vec![(7, None), (8, Some(5000))],
            },
            Changes {
                zxid: 3,
                nodes: vec![("/a".into(), Some(node(3))), ("/b".into(), None)],
                sessions: vec![(8, Some(6000))],
            },
        ];
        let mut pending = Coalesced::default();
        for c in changes {
            pending.add(c);
        }
        store.write(&mut pending).unwrap();
        assert!(pending.is_empty());
        store.sync().unwrap();
        drop(store);
        let (store, loaded) = SnapStore::open(d.path()).unwrap();
        assert_eq!(loaded.zxid, 3);
        let mut nodes = Vec::new();
        store
            .for_each_node(|p, n| {
                nodes.push((p.to_string(), n.stat.mzxid, n.data.map(<[u8]>::to_vec)));
                Ok(())
            })
            .unwrap();
        assert_eq!(nodes, vec![("/a".to_string(), 3, Some(vec![3]))]);
        assert_eq!(loaded.sessions, vec![(8, 6000)]);
    }
}
