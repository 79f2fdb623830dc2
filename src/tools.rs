//! Operator commands that read a data dir offline: `corral log dump` and
//! `corral verify`. They never modify what they read.

use crate::core::server::{Server, Settings};
use crate::core::txn::{Txn, TxnOp};
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

/// Checks the log as start-up would (read-only) and replays it into a
/// fresh core; returns a one-paragraph report.
pub fn verify(dir: &Path) -> anyhow::Result<String> {
    let segs = reports(dir)?;
    let mut server = Server::new(Settings::with_tick(2000), 0);
    let mut count = 0usize;
    let mut last = 0i64;
    let mut torn = None;
    for seg in &segs {
        for t in &seg.txns {
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
        server.restore(&seg.txns, 0);
        if seg.torn_tail {
            torn = Some(format!(
                "; torn tail in {} at offset {} would be truncated",
                seg.path.display(),
                seg.good_end
            ));
        }
    }
    Ok(format!(
        "ok: {} segments, {count} txns, last zxid {last:#x}, {} znodes, {} sessions{}",
        segs.len(),
        server.tree().node_count(),
        server.sessions().len(),
        torn.unwrap_or_default()
    ))
}
