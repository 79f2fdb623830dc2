//! The pipelined request engine: every session keeps up to `outstanding`
//! requests in flight, a writer and a reader running side by side on its
//! socket. What to send comes from a [`Source`]; when to stop from
//! [`Limits`]. Replies arrive in request order per session (a guarantee
//! of the protocol), so the reader matches them to send times with a FIFO.

use super::histogram::Latency;
use super::session::{push_request, Session};
use super::workload::Rng;
use jute::codes::xid;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, Semaphore};

/// One request to send: opcode and encoded body. `tag` comes back with the
/// reply, for sources that care which reply is which.
pub struct Request {
    pub op: i32,
    pub body: Vec<u8>,
    pub tag: u64,
}

/// Produces the requests of a phase.
pub trait Source: Send + Sync {
    /// The `seq`-th request of `session` in this phase, or None when this
    /// session has nothing more to send.
    fn next(&self, session: usize, seq: u64, rng: &mut Rng) -> Option<Request>;

    /// Sees every reply (error code and body). The default ignores them.
    fn on_reply(&self, _tag: u64, _err: i32, _body: &[u8]) {}
}

/// When a phase stops issuing requests.
#[derive(Clone)]
pub struct Limits {
    /// Requests still allowed across all sessions (None: unbounded).
    pub budget: Option<Arc<AtomicU64>>,
    /// No request is sent after this instant.
    pub deadline: Option<Instant>,
    /// Requests in flight per session.
    pub outstanding: usize,
    /// Silence (with requests in flight) that counts as a lost connection.
    pub reply_timeout: Duration,
}

/// Counters shared by all sessions, read by the progress line.
#[derive(Default)]
pub struct Shared {
    /// Replies received.
    pub done: AtomicU64,
    /// Replies with a non-zero error.
    pub errors: AtomicU64,
    /// Set when a connection is lost: every session stops sending.
    pub stop: AtomicBool,
}

/// What one phase did.
#[derive(Default)]
pub struct PhaseOutcome {
    pub ops: u64,
    pub errors: u64,
    pub latency: Latency,
    /// Wall time from the first send to the last reply.
    pub elapsed: Duration,
    /// The first few distinct failures (error code and op), for the user.
    pub error_samples: Vec<String>,
    /// Why connections were lost, one line each.
    pub lost: Vec<String>,
}

#[derive(Default)]
struct SessionOutcome {
    ops: u64,
    errors: u64,
    latency: Latency,
    error_samples: Vec<String>,
    lost: Option<String>,
}

/// Requests encoded into one write at most: enough to fill a window in one
/// syscall, small enough not to starve the reader.
const MAX_BATCH: usize = 256;

/// Runs one phase on every session; returns the sessions still connected
/// (lost ones are dropped) and the merged outcome.
pub async fn run_phase(
    sessions: Vec<Session>,
    source: Arc<dyn Source>,
    limits: Limits,
    shared: Arc<Shared>,
    seed: u64,
) -> (Vec<Session>, PhaseOutcome) {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(sessions.len());
    for mut s in sessions {
        let (source, limits, shared) = (source.clone(), limits.clone(), shared.clone());
        let rng = Rng::new(seed ^ (s.index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        tasks.push(tokio::spawn(async move {
            let outcome = drive(&mut s, &*source, &limits, &shared, rng).await;
            (s, outcome)
        }));
    }
    let mut alive = Vec::new();
    let mut total = PhaseOutcome::default();
    for t in tasks {
        match t.await {
            Ok((s, o)) => {
                total.ops += o.ops;
                total.errors += o.errors;
                total.latency.merge(&o.latency);
                for e in o.error_samples {
                    if total.error_samples.len() < 5 && !total.error_samples.contains(&e) {
                        total.error_samples.push(e);
                    }
                }
                match o.lost {
                    Some(why) => total
                        .lost
                        .push(format!("session {} ({}): {why}", s.index, s.server)),
                    None => alive.push(s),
                }
            }
            Err(e) => total.lost.push(format!("session task failed: {e}")),
        }
    }
    total.elapsed = start.elapsed();
    (alive, total)
}

/// One in-flight request as the reader sees it.
struct InFlight {
    xid: i32,
    op: i32,
    tag: u64,
    sent: Instant,
}

/// Runs the writer and the reader of one session until the source, the
/// budget or the deadline ends it, and all replies are in.
async fn drive(
    s: &mut Session,
    source: &dyn Source,
    limits: &Limits,
    shared: &Shared,
    mut rng: Rng,
) -> SessionOutcome {
    let window = Semaphore::new(limits.outstanding);
    let (tx, rx) = mpsc::unbounded_channel::<InFlight>();
    let Session {
        index,
        reader,
        writer: sock,
        xids,
        ..
    } = s;
    let index = *index;
    let lost = Mutex::new(None::<String>);
    let writer = async {
        let mut seq = 0u64;
        let mut buf = Vec::new();
        let mut batch = Vec::new();
        loop {
            if shared.stop.load(Ordering::Relaxed)
                || limits.deadline.is_some_and(|d| Instant::now() >= d)
            {
                break;
            }
            let Ok(permit) = window.acquire().await else {
                break;
            };
            permit.forget();
            let mut permits = 1;
            while permits < MAX_BATCH {
                match window.try_acquire() {
                    Ok(p) => {
                        p.forget();
                        permits += 1;
                    }
                    Err(_) => break,
                }
            }
            buf.clear();
            batch.clear();
            let mut exhausted = false;
            for _ in 0..permits {
                if !claim(limits.budget.as_deref()) {
                    exhausted = true;
                    break;
                }
                let Some(req) = source.next(index, seq, &mut rng) else {
                    exhausted = true;
                    break;
                };
                seq += 1;
                let x = xids.alloc();
                push_request(&mut buf, x, req.op, &req.body);
                batch.push((x, req.op, req.tag));
            }
            window.add_permits(permits - batch.len());
            let sent = Instant::now();
            for &(xid, op, tag) in &batch {
                // The reader outlives the writer, so the channel is open.
                let _ = tx.send(InFlight { xid, op, tag, sent });
            }
            if !buf.is_empty() {
                if let Err(e) = sock.write_all(&buf).await {
                    note_lost(&lost, shared, &window, format!("write failed: {e}"));
                    break;
                }
            }
            if exhausted {
                break;
            }
        }
        drop(tx);
    };
    let reader = async {
        let mut out = SessionOutcome::default();
        let mut rx = rx;
        while let Some(f) = rx.recv().await {
            let reply = loop {
                match tokio::time::timeout(limits.reply_timeout, reader.reply()).await {
                    Err(_) => break Err("no reply within the reply timeout".to_string()),
                    Ok(Err(e)) => break Err(format!("connection lost: {e}")),
                    // Notifications and ping replies are not ours.
                    Ok(Ok(r)) if r.header.xid == xid::NOTIFICATION || r.header.xid == xid::PING => {
                    }
                    Ok(Ok(r)) => break Ok(r),
                }
            };
            let reply = match reply {
                Ok(r) if r.header.xid == f.xid => r,
                Ok(r) => {
                    note_lost(
                        &lost,
                        shared,
                        &window,
                        format!("reply xid {} where {} was due", r.header.xid, f.xid),
                    );
                    break;
                }
                Err(why) => {
                    note_lost(&lost, shared, &window, why);
                    break;
                }
            };
            out.latency.record(f.sent.elapsed());
            out.ops += 1;
            let err = reply.header.err;
            if err != 0 {
                out.errors += 1;
                shared.errors.fetch_add(1, Ordering::Relaxed);
                let e = format!("op {} -> error {err}", f.op);
                if out.error_samples.len() < 5 && !out.error_samples.contains(&e) {
                    out.error_samples.push(e);
                }
            }
            source.on_reply(f.tag, err, &reply.body);
            shared.done.fetch_add(1, Ordering::Relaxed);
            window.add_permits(1);
        }
        out
    };
    let ((), mut out) = tokio::join!(writer, reader);
    out.lost = lost.lock().map(|mut l| l.take()).unwrap_or(None);
    if out.lost.is_some() {
        // Requests that never got a reply count as failed.
        out.errors += 1;
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }
    out
}

/// Takes one request from the budget; false when it is spent.
fn claim(budget: Option<&AtomicU64>) -> bool {
    match budget {
        None => true,
        Some(b) => b
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
            .is_ok(),
    }
}

/// Records why the connection is lost (first reason wins), stops every
/// session and wakes this session's writer.
fn note_lost(lost: &Mutex<Option<String>>, shared: &Shared, window: &Semaphore, why: String) {
    if let Ok(mut l) = lost.lock() {
        l.get_or_insert(why);
    }
    shared.stop.store(true, Ordering::Relaxed);
    window.close();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_claimed_exactly() {
        let b = AtomicU64::new(2);
        assert!(claim(Some(&b)));
        assert!(claim(Some(&b)));
        assert!(!claim(Some(&b)));
        assert!(claim(None));
    }
}
