//! Operator commands that read a data dir offline: `corral log dump`,
//! `corral snapshot info` and `corral verify`. Only the snapshot store is
//! opened read-write (RocksDB requires it); nothing is changed.

use crate::core::server::{Server, Settings};
use crate::core::txn::{Txn, TxnOp};
use crate::storage::snapshot::SnapStore;
use crate::storage::txlog::{self, SegmentReport};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Accepts a data dir or its `txlog` folder.
fn log_dir(dir: &Path) -> PathBuf {
    let inner = dir.join("txlog");
    if inner.is_dir() {
        inner
    } else {
        dir.to_path_buf()
    }
}

fn summary(op: &TxnOp) -> String {
    let data = |d: &Option<Vec<u8>>| {
        d.as_ref()
            .map_or("null".to_string(), |d| format!("{}B", d.len()))
    };
    match op {
        TxnOp::CreateSession { timeout_ms } => format!("createSession timeout={timeout_ms}"),
        TxnOp::CloseSession { ephemerals } => {
            format!("closeSession ephemerals={}", ephemerals.len())
        }
        TxnOp::Create {
            path,
            data: d,
            owner,
            parent_cversion,
            ..
        } => format!(
            "create {path} data={} owner={owner:#x} parentCversion={parent_cversion}",
            data(d)
        ),
        TxnOp::Delete { path } => format!("delete {path}"),
        TxnOp::SetData {
            path,
            data: d,
            version,
        } => format!("setData {path} data={} version={version}", data(d)),
        TxnOp::SetAcl { path, acl, version } => {
            format!("setACL {path} entries={} aversion={version}", acl.len())
        }
        TxnOp::Check { path, version } => format!("check {path} version={version}"),
        TxnOp::Error(c) => format!("error {c:?}"),
        TxnOp::Multi(ops) => {
            let parts: Vec<String> = ops.iter().map(summary).collect();
            format!("multi [{}]", parts.join("; "))
        }
    }
}

fn line(t: &Txn) -> String {
    format!(
        "{:#018x} session={:#x} cxid={} time={} {}",
        t.zxid,
        t.session,
        t.cxid,
        t.time,
        summary(&t.op)
    )
}

fn reports(dir: &Path) -> anyhow::Result<Vec<SegmentReport>> {
    let d = log_dir(dir);
    txlog::inspect(&d).with_context(|| format!("reading txn log in {}", d.display()))
}

/// Prints every txn of the log, one per line, then a summary.
pub fn log_dump(dir: &Path, out: &mut impl Write) -> anyhow::Result<()> {
    let mut n = 0usize;
    for seg in reports(dir)? {
        writeln!(out, "# segment {}", seg.path.display())?;
        for t in &seg.txns {
            writeln!(out, "{}", line(t))?;
            n += 1;
        }
        if let Some(why) = &seg.bad {
            writeln!(
                out,
                "# torn tail at offset {} ({why}): recovery truncates it",
                seg.good_end
            )?;
        }
    }
    writeln!(out, "# {n} txns")?;
    Ok(())
}

fn snap_dir(dir: &Path) -> PathBuf {
    let inner = dir.join("snapshot");
    if inner.is_dir() {
        inner
    } else {
        dir.to_path_buf()
    }
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    })
}

/// Summarises the snapshot store of a data dir.
pub fn snapshot_info(dir: &Path) -> anyhow::Result<String> {
    let d = snap_dir(dir);
    anyhow::ensure!(
        d.join("CURRENT").is_file(),
        "no snapshot store in {}",
        d.display()
    );
    let (store, loaded) = SnapStore::open(&d)?;
    let (mut data, mut ephemerals) = (0usize, 0usize);
    // System nodes live in every tree; the store holds them once changed.
    let mut system_missing = 4;
    let stored = store.for_each_node(|p, n| {
        data += n.data.map_or(0, <[u8]>::len);
        if crate::core::tree::is_session_owner(n.stat.ephemeral_owner) {
            ephemerals += 1;
        }
        if crate::core::tree::is_system_path(p) {
            system_missing -= 1;
        }
        Ok(())
    })?;
    Ok(format!(
        "snapshot store {}
format version: {}
zxid: {:#x}
znodes: {}
data bytes: {data}
ephemerals: {ephemerals}
sessions: {}
size on disk: {} bytes",
        d.display(),
        crate::storage::snapshot::FORMAT_VERSION,
        loaded.zxid,
        stored + system_missing,
        loaded.sessions.len(),
        dir_bytes(&d)
    ))
}

/// Checks the snapshot store and the log as start-up would and replays
/// them into a fresh core; returns a one-paragraph report.
pub fn verify(dir: &Path) -> anyhow::Result<String> {
    let segs = reports(dir)?;
    let mut server = Server::new(Settings::with_tick(2000), 0);
    let d = snap_dir(dir);
    let mut last = 0i64;
    if d.join("CURRENT").is_file() {
        let (store, loaded) = SnapStore::open(&d)?;
        last = loaded.zxid;
        store
            .restore_into(&mut server, &loaded, 0)
            .map_err(|e| anyhow::anyhow!("snapshot store: {e}"))?;
    }
    let snap_zxid = last;
    let mut count = 0usize;
    let mut torn = None;
    for seg in &segs {
        let txns: Vec<Txn> = seg
            .txns
            .iter()
            .filter(|t| t.zxid > snap_zxid)
            .cloned()
            .collect();
        if let (Some(t), 0) = (txns.first(), count) {
            anyhow::ensure!(
                t.zxid == snap_zxid + 1,
                "txns {:#x}..{:#x} are missing between the snapshot store and the log",
                snap_zxid + 1,
                t.zxid - 1
            );
        }
        for t in &txns {
            anyhow::ensure!(
                t.zxid > last,
                "{}: zxid {:#x} does not follow {:#x}",
                seg.path.display(),
                t.zxid,
                last
            );
            last = t.zxid;
            count += 1;
        }
        server.restore(&txns, 0);
        if seg.torn_tail {
            torn = Some(format!(
                "; torn tail in {} at offset {} would be truncated",
                seg.path.display(),
                seg.good_end
            ));
        }
    }
    Ok(format!(
        "ok: snapshot at {snap_zxid:#x}, {} log segments, {count} txns replayed, last zxid {last:#x}, {} znodes, {} sessions{}",
        segs.len(),
        server.tree().node_count(),
        server.sessions().len(),
        torn.unwrap_or_default()
    ))
}
