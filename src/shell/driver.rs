//! The single task that owns the core server: it feeds inputs in arrival
//! order, runs the log stage, and routes released outputs to connections.

use super::committer::{Committer, Job};
use super::fourlw;
use super::now_ms;
use super::peer::PeerEvent;
use super::replication::Replication;
use super::snapshotter::Snapshotter;
use crate::config::Config;
use crate::core::server::{Out, Server, Settings};
use crate::core::txn::Txn;
use crate::core::zab::{counter_of, epoch_of};
use crate::core::{ConnId, Zxid};
use crate::storage::snapshot::{Loaded, SnapStore};
use crate::storage::txlog::TxLog;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What connection tasks tell the driver.
pub enum Input {
    /// A connection sent its handshake.
    Handshake {
        conn: ConnId,
        peer: SocketAddr,
        body: Vec<u8>,
        to_conn: mpsc::UnboundedSender<ToConn>,
    },
    /// Later frames, whole and length-prefixed, as many as one read
    /// brought: one message per read instead of one per request.
    Frames { conn: ConnId, frames: Vec<u8> },
    /// The socket is gone.
    Closed { conn: ConnId },
    /// A four-letter word to answer.
    FourLetter {
        cmd: String,
        reply: oneshot::Sender<String>,
    },
    /// Close every connection and stop.
    Shutdown { done: oneshot::Sender<()> },
}

/// What the driver tells a connection task.
#[derive(Debug)]
pub enum ToConn {
    /// One or more whole frames: every reply a flush released for the
    /// connection, in order.
    Frames(Vec<u8>),
    Close,
}

/// A connection as the shell knows it.
pub struct ConnHandle {
    pub peer: SocketAddr,
    pub tx: mpsc::UnboundedSender<ToConn>,
}

fn settings(config: &Config) -> Settings {
    let mut s = Settings::with_tick(config.tick_time_ms as i64);
    s.server_id = config.server_id.min(254) as u8;
    s.min_session_timeout_ms = config.min_session_timeout_ms.min(i32::MAX as u64) as i32;
    s.max_session_timeout_ms = config
        .max_session_timeout_ms
        .max(config.min_session_timeout_ms)
        .min(i32::MAX as u64) as i32;
    s.super_digest = config.super_digest.clone();
    s.extended_types = config.extended_types_enabled;
    s.container_check_interval_ms = config.container_check_interval_ms as i64;
    s.container_max_per_minute = config.container_max_per_minute;
    s.container_never_used_ms = config.container_max_never_used_interval_ms as i64;
    s
}

/// Driver state shared with the four-letter-word formatter.
pub struct Driver {
    pub server: Server,
    pub conns: HashMap<ConnId, ConnHandle>,
    pub config: Arc<Config>,
    pub started_ms: i64,
    pub client_port: u16,
    pub committer: Committer,
    /// Present in ensemble mode.
    pub repl: Option<Replication>,
    /// Replies released in the current flush, gathered per connection so
    /// each gets one message (and one socket write) per flush.
    pub outgoing: HashMap<ConnId, Vec<u8>>,
}

impl Driver {
    /// True for an ensemble member configured as an observer.
    pub fn is_observer(&self) -> bool {
        self.config
            .local_server()
            .is_some_and(|s| s.role == crate::config::Role::Observer)
    }

    fn flush(&mut self) {
        let now = now_ms();
        if let Some(r) = &mut self.repl {
            r.after_server(&mut self.server, &self.committer, now);
        } else {
            let txns = self.server.take_txns();
            if !txns.is_empty() {
                let changes = self.server.take_changes();
                self.committer.submit(Job::Append(txns, Some(changes)));
            }
        }
        while let Some(out) = self.server.pop_out(now) {
            match out {
                Out::Send { conn, frame } => match self.outgoing.entry(conn) {
                    Entry::Occupied(mut e) => e.get_mut().extend_from_slice(&frame),
                    Entry::Vacant(e) => {
                        e.insert(frame);
                    }
                },
                Out::Close { conn } => {
                    // What was released before the close goes first.
                    let pending = self.outgoing.remove(&conn);
                    if let Some(h) = self.conns.remove(&conn) {
                        if let Some(bytes) = pending {
                            let _ = h.tx.send(ToConn::Frames(bytes));
                        }
                        let _ = h.tx.send(ToConn::Close);
                    }
                    self.server.disconnected(conn);
                }
            }
        }
        for (conn, bytes) in self.outgoing.drain() {
            if let Some(h) = self.conns.get(&conn) {
                let _ = h.tx.send(ToConn::Frames(bytes));
            }
        }
    }

    fn handle(&mut self, input: Input) -> Option<oneshot::Sender<()>> {
        let now = now_ms();
        match input {
            Input::Handshake {
                conn,
                peer,
                body,
                to_conn,
            } => {
                self.conns.insert(conn, ConnHandle { peer, tx: to_conn });
                self.server
                    .connect(conn, &peer.ip().to_string(), &body, now);
            }
            Input::Frames { conn, frames } => {
                for body in split_frames(&frames) {
                    self.server.request(conn, body, now);
                }
            }
            Input::Closed { conn } => {
                self.conns.remove(&conn);
                self.server.disconnected(conn);
            }
            Input::FourLetter { cmd, reply } => {
                let _ = reply.send(fourlw::answer(self, &cmd, now));
            }
            Input::Shutdown { done } => return Some(done),
        }
        None
    }
}

/// The bodies of the whole length-prefixed frames in `buf`; stops at a
/// truncated one (the connection task only sends whole frames).
fn split_frames(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let (head, tail) = rest.split_first_chunk::<4>()?;
        let len = usize::try_from(i32::from_be_bytes(*head)).ok()?;
        let body = tail.get(..len)?;
        rest = &tail[len..];
        Some(body)
    })
}

/// What start-up recovered from disk, ready to be served.
pub struct Recovered {
    pub server: Server,
    pub log: TxLog,
    pub snapshotter: Snapshotter,
    /// The snapshot store's zxid: the log continues after it.
    pub base: Zxid,
    /// The log's txns after `base` (an ensemble's replica serves DIFFs
    /// from them).
    pub tail: Vec<Txn>,
}

/// True when `next` may follow `prev` in a log: the next counter of the
/// same epoch, or the first txn of a later epoch.
fn follows(prev: Zxid, next: Zxid) -> bool {
    next == prev + 1 || (epoch_of(next) > epoch_of(prev) && counter_of(next) == 1)
}

/// Rebuilds the server from the snapshot store and the log tail after it.
pub fn recover(
    config: &Config,
    log: TxLog,
    log_txns: Vec<Txn>,
    store: SnapStore,
    loaded: Loaded,
    log_dir: PathBuf,
) -> anyhow::Result<Recovered> {
    let now = now_ms();
    let mut server = Server::new(settings(config), now);
    let snap_zxid = loaded.zxid;
    store
        .restore_into(&mut server, &loaded, now)
        .map_err(|e| anyhow::anyhow!("corrupt snapshot store: {e}"))?;
    let tail: Vec<Txn> = log_txns
        .into_iter()
        .filter(|t| t.zxid > snap_zxid)
        .collect();
    if let Some(first) = tail.first() {
        anyhow::ensure!(
            follows(snap_zxid, first.zxid),
            "txns {:#x}..{:#x} are in neither the snapshot store nor the txn log in {}: refusing to start",
            snap_zxid + 1,
            first.zxid - 1,
            log_dir.display()
        );
    }
    server.restore(&tail, now);
    let snapshotter = Snapshotter::spawn(store, log_dir)?;
    // The tail is durable in the log but not yet in the store.
    snapshotter.submit(server.take_changes());
    tracing::info!(
        snapshot_zxid = format_args!("{snap_zxid:#x}"),
        replayed = tail.len(),
        znodes = server.tree().node_count(),
        sessions = server.sessions().len(),
        "state recovered"
    );
    Ok(Recovered {
        server,
        log,
        snapshotter,
        base: snap_zxid,
        tail,
    })
}

/// The next peer event, or never in standalone mode.
async fn recv_peer(rx: &mut Option<mpsc::UnboundedReceiver<PeerEvent>>) -> Option<PeerEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Runs until the input channel closes or a shutdown arrives.
pub async fn run(
    config: Arc<Config>,
    mut rx: mpsc::Receiver<Input>,
    client_port: u16,
    recovered: Recovered,
    ensemble: Option<(Replication, mpsc::UnboundedReceiver<PeerEvent>)>,
) -> std::io::Result<()> {
    let started_ms = now_ms();
    let Recovered {
        server,
        log,
        snapshotter,
        ..
    } = recovered;
    let (repl, mut peer_rx) = match ensemble {
        Some((r, rx)) => (Some(r), Some(rx)),
        None => (None, None),
    };
    let (durable_tx, mut durable_rx) = mpsc::unbounded_channel();
    let committer = Committer::spawn(
        log,
        snapshotter,
        config.fsync_warning_threshold_ms,
        move |z| {
            let _ = durable_tx.send(z);
        },
    )?;
    let mut d = Driver {
        server,
        conns: HashMap::new(),
        config,
        started_ms,
        client_port,
        committer,
        repl,
        outgoing: HashMap::new(),
    };
    // Replication's timers (heartbeats, election resends) need a finer
    // grain than session expiry.
    let tick_ms = if d.repl.is_some() {
        (d.config.tick_time_ms / 10).clamp(10, 100)
    } else {
        100
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(tick_ms));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        let done = tokio::select! {
            biased;
            Some(z) = durable_rx.recv() => {
                let mut z = z;
                while let Ok(more) = durable_rx.try_recv() {
                    z = z.max(more);
                }
                match &mut d.repl {
                    Some(r) => r.durable(z, &mut d.server, &d.committer, now_ms()),
                    None => d.server.mark_durable(z),
                }
                None
            }
            Some(ev) = recv_peer(&mut peer_rx) => {
                if let Some(r) = &mut d.repl {
                    let now = now_ms();
                    r.on_peer(ev, &mut d.server, &d.committer, now);
                    // Take what else arrived so one flush covers it.
                    let mut n = 0;
                    while n < 1024 {
                        let Some(ev) = peer_rx.as_mut().and_then(|rx| rx.try_recv().ok()) else {
                            break;
                        };
                        r.on_peer(ev, &mut d.server, &d.committer, now);
                        n += 1;
                    }
                }
                None
            }
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                let mut done = d.handle(msg);
                // Take whatever else is already queued so one log append and
                // one write per connection cover the whole batch.
                let mut n = 0;
                while done.is_none() && n < 1024 {
                    match rx.try_recv() {
                        Ok(m) => done = d.handle(m),
                        Err(_) => break,
                    }
                    n += 1;
                }
                done
            }
            _ = ticker.tick() => {
                let now = now_ms();
                d.server.tick(now);
                if let Some(r) = &mut d.repl {
                    r.tick(&mut d.server, &d.committer, now);
                }
                None
            }
        };
        d.flush();
        if let Some(done) = done {
            // Let what was queued reach the disk, answer what it covers,
            // then close every connection.
            d.committer.finish();
            while let Ok(z) = durable_rx.try_recv() {
                if d.repl.is_none() {
                    d.server.mark_durable(z);
                }
            }
            d.flush();
            for (_, h) in d.conns.drain() {
                let _ = h.tx.send(ToConn::Close);
            }
            let _ = done.send(());
            break;
        }
    }
    Ok(())
}
