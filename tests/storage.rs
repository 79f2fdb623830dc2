//! Durable storage through the real binary: restarts keep everything, a torn
//! or bit-flipped newest log record is dropped and the server starts, a
//! corrupt record in the middle of the log or a corrupt snapshot table stops
//! it with a message naming what is wrong. Only meaningful against corral.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Starts the server expecting it to refuse; returns its stderr.
fn start_refused(dir: &Path) -> String {
    let mut child = CorralProc::spawn(dir);
    let status = child.wait().expect("wait");
    assert!(!status.success(), "server started on a corrupt data dir");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

/// SIGTERM and wait: a clean stop.
fn stop(mut p: CorralProc) {
    let _ = Command::new("kill")
        .args(["-TERM", &p.child.id().to_string()])
        .status();
    let status = p.child.wait().unwrap();
    assert!(status.success(), "SIGTERM must exit 0, got {status:?}");
}

fn newest_segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir.join("txlog"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    segs.sort();
    segs.pop().expect("a log segment")
}

/// Offsets of every record in a segment: (start, end).
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 16;
    while at + 16 <= bytes.len() {
        let len =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        if len == 0 {
            break;
        }
        out.push((at, at + 16 + len));
        at += 16 + len;
    }
    out
}

async fn fill(addr: &str, prefix: &str, n: usize) {
    let mut c = RawConn::connect(addr).await;
    for i in 0..n {
        c.create(&format!("/{prefix}{i}"), Some(b"v"), 0)
            .await
            .unwrap();
    }
}

async fn count(addr: &str, prefix: &str, n: usize) -> usize {
    let mut c = RawConn::connect(addr).await;
    let mut k = 0;
    for i in 0..n {
        k += usize::from(c.exists(&format!("/{prefix}{i}"), false).await.is_ok());
    }
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_everything_and_tools_read_the_dir() {
    if target() != Target::Corral {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = CorralProc::start(dir.path());
    fill(&p.addr, "a", 50).await;
    stop(p);
    let p = CorralProc::start(dir.path());
    assert_eq!(count(&p.addr, "a", 50).await, 50);
    fill(&p.addr, "b", 10).await;
    stop(p);
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("verify")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "verify failed: {text}");
    assert!(text.starts_with("ok:"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["snapshot", "info"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    // 60 created + 4 system nodes.
    assert!(text.contains("znodes: 64"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_or_flipped_newest_log_record_is_dropped() {
    if target() != Target::Corral {
        return;
    }
    for flip in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let p = CorralProc::start(dir.path());
        fill(&p.addr, "t", 20).await;
        // SIGKILL: the snapshot store may lag, the log has everything.
        drop(p);
        let seg = newest_segment(dir.path());
        let mut bytes = std::fs::read(&seg).unwrap();
        let recs = records(&bytes);
        let (start_at, end) = *recs.last().unwrap();
        if flip {
            bytes[end - 3] ^= 0x40;
        } else {
            for b in &mut bytes[start_at + 20..end] {
                *b = 0;
            }
        }
        std::fs::write(&seg, &bytes).unwrap();
        let p = CorralProc::start(dir.path());
        // Every node but possibly the last one is there; the server serves.
        let n = count(&p.addr, "t", 20).await;
        assert!(n >= 19, "lost more than the damaged record: {n}");
        let mut c = RawConn::connect(&p.addr).await;
        c.create("/after", None, 0).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_in_the_middle_of_the_log_refuses_to_start() {
    if target() != Target::Corral {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = CorralProc::start(dir.path());
    fill(&p.addr, "m", 20).await;
    drop(p);
    let seg = newest_segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    let (_, end) = records(&bytes)[3];
    bytes[end - 2] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();
    let err = start_refused(dir.path());
    assert!(err.contains("corrupt txn log"), "{err}");
    assert!(err.contains(&seg.display().to_string()), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_snapshot_table_refuses_to_start() {
    if target() != Target::Corral {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let p = CorralProc::start(dir.path());
    fill(&p.addr, "s", 200).await;
    stop(p);
    let tables: Vec<PathBuf> = std::fs::read_dir(dir.path().join("snapshot"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    assert!(!tables.is_empty(), "clean stop left no table files");
    for t in &tables {
        let mut bytes = std::fs::read(t).unwrap();
        let mid = bytes.len() / 3;
        bytes[mid] ^= 0xff;
        std::fs::write(t, &bytes).unwrap();
    }
    let err = start_refused(dir.path());
    assert!(err.contains("snapshot"), "{err}");
    std::thread::sleep(Duration::from_millis(10));
}
