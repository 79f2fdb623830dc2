//! Crash safety: a client pipelines creates, sets and multis and records
//! every acknowledged one; the server is SIGKILLed at a random moment and
//! restarted on the same data dir; every acknowledged write must be there,
//! no multi may be half-applied, and zxids must continue.
//!
//! `CORRAL_CRASH_CYCLES` sets the number of kill/restart cycles (default
//! 20); `CORRAL_CRASH_SEED` replays a run. Only meaningful against corral.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jute::codes::op;
use jute::multi::{MultiOp, MultiRequest};
use jute::*;
use std::process::Command;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A tiny deterministic generator so a failing run can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

enum Sent {
    Create(String),
    Set(u64),
    Multi(String, String),
}

fn frame_of<T: Jute>(xid: i32, opc: i32, body: &T) -> Vec<u8> {
    let mut v = to_bytes(&RequestHeader { xid, op: opc });
    body.write(&mut v);
    let mut f = (v.len() as i32).to_be_bytes().to_vec();
    f.extend(v);
    f
}

fn create_req(path: &str, data: &[u8]) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        acl: open_acl(),
        flags: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    if target() != Target::Corral {
        return;
    }
    let cycles: u64 = std::env::var("CORRAL_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CORRAL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("crash test: {cycles} cycles, CORRAL_CRASH_SEED={seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked_creates: Vec<String> = Vec::new();
    let mut all_multis: Vec<(String, String, bool)> = Vec::new();
    let mut last_acked_set: Option<u64> = None;
    let mut max_sent_set: Option<u64> = None;
    let mut max_acked_zxid = 0i64;
    let mut total_acked = 0usize;

    for cycle in 0..cycles {
        let mut p = CorralProc::start(dir.path());
        // Check everything acknowledged so far.
        {
            let mut c = RawConn::connect(&p.addr).await;
            for path in &acked_creates {
                assert!(
                    c.exists(path, false).await.is_ok(),
                    "cycle {cycle}: acknowledged create {path} lost (seed {seed})"
                );
            }
            for (a, b, acked) in &all_multis {
                let ea = c.exists(a, false).await.is_ok();
                let eb = c.exists(b, false).await.is_ok();
                assert_eq!(
                    ea, eb,
                    "cycle {cycle}: multi half-applied: {a} {b} (seed {seed})"
                );
                if *acked {
                    assert!(
                        ea,
                        "cycle {cycle}: acknowledged multi {a} lost (seed {seed})"
                    );
                }
            }
            if let Some(last) = last_acked_set {
                let d = c.get_data("/counter", false).await.unwrap();
                let v: u64 = String::from_utf8(d.data.unwrap_or_default())
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!(
                    v >= last,
                    "cycle {cycle}: /counter went back to {v} < acked {last}"
                );
                assert!(
                    Some(v) <= max_sent_set,
                    "cycle {cycle}: /counter {v} was never sent"
                );
            }
            let h = c.ping().await;
            assert!(
                h.zxid >= max_acked_zxid,
                "cycle {cycle}: zxid {:#x} went back from {max_acked_zxid:#x}",
                h.zxid
            );
            if cycle == 0 {
                c.create("/counter", Some(b"0"), 0).await.unwrap();
            }
        }
        // Pipeline writes and kill the server at a random moment.
        let conn = RawConn::connect(&p.addr).await;
        let (mut rd, mut wr) = conn.stream.into_split();
        let n = 10_000usize;
        let mut sent: Vec<Sent> = Vec::with_capacity(n);
        let mut bytes = Vec::new();
        for i in 0..n {
            let xid = i as i32 + 1;
            let tag = format!("{cycle}-{i}");
            match i % 7 {
                3 => {
                    let v = cycle * 100_000 + i as u64;
                    bytes.extend(frame_of(
                        xid,
                        op::SET_DATA,
                        &SetDataRequest {
                            path: "/counter".into(),
                            data: Some(v.to_string().into_bytes()),
                            version: -1,
                        },
                    ));
                    sent.push(Sent::Set(v));
                }
                5 => {
                    let (a, b) = (format!("/m{tag}-a"), format!("/m{tag}-b"));
                    let m = MultiRequest {
                        ops: vec![
                            MultiOp::Create {
                                op: op::CREATE,
                                req: create_req(&a, b"m"),
                            },
                            MultiOp::Create {
                                op: op::CREATE,
                                req: create_req(&b, b"m"),
                            },
                        ],
                    };
                    bytes.extend(frame_of(xid, op::MULTI, &m));
                    sent.push(Sent::Multi(a, b));
                }
                _ => {
                    let path = format!("/c{tag}");
                    bytes.extend(frame_of(xid, op::CREATE, &create_req(&path, b"c")));
                    sent.push(Sent::Create(path));
                }
            }
        }
        let kill_after = Duration::from_millis(2 + rng.next() % 60);
        let writer = tokio::spawn(async move {
            for chunk in bytes.chunks(8192) {
                if wr.write_all(chunk).await.is_err() {
                    break;
                }
                tokio::task::yield_now().await;
            }
            wr
        });
        let pid = p.child.id();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(kill_after).await;
            // SIGKILL: no chance to flush anything.
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        });
        // Read replies until the connection dies.
        let mut acked = vec![false; n];
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 65536];
        loop {
            let r = tokio::time::timeout(Duration::from_secs(20), rd.read(&mut chunk)).await;
            let Ok(Ok(k)) = r else { break };
            if k == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..k]);
            let mut at = 0;
            while buf.len() - at >= 4 {
                let len =
                    i32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
                if buf.len() - at - 4 < len {
                    break;
                }
                let h: ReplyHeader =
                    ReplyHeader::read(&mut Reader::new(&buf[at + 4..at + 4 + len])).unwrap();
                at += 4 + len;
                if h.xid >= 1 && (h.xid as usize) <= n && h.err == 0 {
                    acked[h.xid as usize - 1] = true;
                    max_acked_zxid = max_acked_zxid.max(h.zxid);
                }
            }
            buf.drain(..at);
        }
        killer.await.unwrap();
        let _ = writer.await;
        let _ = p.child.wait();
        let mut count = 0;
        for (s, ok) in sent.into_iter().zip(acked) {
            count += usize::from(ok);
            match s {
                Sent::Create(path) if ok => acked_creates.push(path),
                Sent::Create(_) => {}
                Sent::Set(v) => {
                    max_sent_set = max_sent_set.max(Some(v));
                    if ok {
                        last_acked_set = Some(v);
                    }
                }
                Sent::Multi(a, b) => all_multis.push((a, b, ok)),
            }
        }
        total_acked += count;
        eprintln!("cycle {cycle}: killed after {kill_after:?}, {count} of {n} writes acknowledged");
    }
    assert!(
        total_acked > 0,
        "no write was ever acknowledged: the test proved nothing"
    );
    // One last restart to check the final cycle's writes.
    let mut p = CorralProc::start(dir.path());
    let mut c = RawConn::connect(&p.addr).await;
    for path in &acked_creates {
        assert!(
            c.exists(path, false).await.is_ok(),
            "final: {path} lost (seed {seed})"
        );
    }
    let _ = p.child.kill();
    let _ = p.child.wait();
}
