//! A TCP proxy that injects network faults between two ensemble members.
//!
//! Ensemble fault tests put one proxy on each peer link (the dialing server's
//! config lists the other server at the proxy's address), so cutting a link
//! needs no root, no firewall and no change to the server. A proxy forwards
//! bytes both ways until it is told to cut the link:
//!
//! * [`Cut::Refuse`]: live connections are dropped and new ones are accepted
//!   and closed at once, like a peer whose host answers with a reset.
//! * [`Cut::Blackhole`]: live connections are dropped and new ones are
//!   accepted and then held open without forwarding anything, like a network
//!   that silently loses every packet: the dialer believes it is connected
//!   and has to notice the silence by itself.
//! * [`Cut::Freeze`]: nothing passes, but nothing is closed either: live
//!   connections stall with their bytes held, new ones wait before reaching
//!   the target. Neither side sees an error, so only its own timeouts can
//!   tell it the peer is gone, and on heal everything held is delivered late,
//!   as TCP does after a short outage.
//!
//! [`FaultProxy::heal`] forwards again. Connections held by a blackhole are
//! closed on heal, as a real peer would reset a connection it never saw, so
//! the dialer redials instead of waiting forever on a dead connection.
//!
//! The proxy runs on the test's tokio runtime and uses only `std` and `tokio`
//! so integration tests can include it with
//! `#[path = "support/proxy.rs"] mod proxy;`.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

/// How a cut link treats connections, see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// New connections are closed at once.
    Refuse,
    /// New connections are held open and nothing is forwarded.
    Blackhole,
    /// Live connections stall, new ones wait; nothing is closed.
    Freeze,
}

/// Whether the proxy forwards, guarded together with the connections it
/// owns so that cutting the link and admitting a connection cannot
/// interleave (no connection slips through a partition).
struct State {
    cut: Option<Cut>,
    /// Tasks forwarding live connections.
    live: Vec<AbortHandle>,
    /// Tasks holding blackholed connections.
    held: Vec<AbortHandle>,
    /// True while frozen: forwarding tasks wait for it to turn false.
    gate: watch::Sender<bool>,
}

/// Counters a test reads to prove the proxies were really on the path.
#[derive(Default)]
struct Counters {
    forwarded: AtomicU64,
    cut: AtomicU64,
}

/// One proxied link: listens on an ephemeral loopback port and forwards to
/// `target`. Dropping it stops the proxy and closes all its connections.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
    accept: JoinHandle<()>,
}

/// Locks the state even if a proxy task panicked while holding it: the
/// state is a flag and a list of handles, always consistent.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl FaultProxy {
    /// Starts a forwarding proxy for `target` on `127.0.0.1:0`.
    pub async fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            cut: None,
            live: Vec::new(),
            held: Vec::new(),
            gate: watch::Sender::new(false),
        }));
        let counters = Arc::new(Counters::default());
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            state.clone(),
            counters.clone(),
        ));
        Ok(FaultProxy {
            addr,
            state,
            counters,
            accept,
        })
    }

    /// The address servers dial instead of `target`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Cuts the link: drops every live connection and treats new ones as
    /// `how` says until [`FaultProxy::heal`].
    pub fn cut(&self, how: Cut) {
        let mut s = lock(&self.state);
        s.cut = Some(how);
        if how == Cut::Freeze {
            s.gate.send_replace(true);
        } else {
            for h in s.live.drain(..) {
                h.abort();
            }
        }
    }

    /// Forwards again: frozen connections deliver what they held, and the
    /// ones a blackhole held are closed.
    pub fn heal(&self) {
        let mut s = lock(&self.state);
        s.cut = None;
        s.gate.send_replace(false);
        for h in s.held.drain(..) {
            h.abort();
        }
    }

    /// Connections forwarded to the target so far.
    pub fn forwarded(&self) -> u64 {
        self.counters.forwarded.load(Ordering::Relaxed)
    }

    /// Connections refused or blackholed so far.
    pub fn refused(&self) -> u64 {
        self.counters.cut.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        let mut s = lock(&self.state);
        let State { live, held, .. } = &mut *s;
        for h in live.drain(..).chain(held.drain(..)) {
            h.abort();
        }
    }
}

/// Accepts connections and, under the state lock, forwards, refuses or
/// holds each one according to the current mode.
async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
) {
    loop {
        let inbound = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors or similar: back off rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = inbound.set_nodelay(true);
        let mut s = lock(&state);
        // Drop finished tasks so long tests do not accumulate handles.
        s.live.retain(|h| !h.is_finished());
        s.held.retain(|h| !h.is_finished());
        match s.cut {
            None | Some(Cut::Freeze) => {
                let counter = match s.cut {
                    None => &counters.forwarded,
                    Some(_) => &counters.cut,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(forward(inbound, target, s.gate.subscribe()));
                s.live.push(task.abort_handle());
            }
            Some(Cut::Refuse) => {
                counters.cut.fetch_add(1, Ordering::Relaxed);
                drop(inbound);
            }
            Some(Cut::Blackhole) => {
                counters.cut.fetch_add(1, Ordering::Relaxed);
                let task = tokio::spawn(swallow(inbound));
                s.held.push(task.abort_handle());
            }
        }
    }
}

/// Copies bytes both ways until either side closes, pausing while the
/// gate says frozen (a connection accepted while frozen reaches the target
/// only on heal); dropping both streams then closes the other side too.
async fn forward(inbound: TcpStream, target: SocketAddr, mut gate: watch::Receiver<bool>) {
    if gate.wait_for(|frozen| !*frozen).await.is_err() {
        return;
    }
    let Ok(outbound) = TcpStream::connect(target).await else {
        return;
    };
    let _ = outbound.set_nodelay(true);
    let (in_rd, in_wr) = inbound.into_split();
    let (out_rd, out_wr) = outbound.into_split();
    tokio::select! {
        _ = pump(in_rd, out_wr, gate.clone()) => {}
        _ = pump(out_rd, in_wr, gate) => {}
    }
}

/// One direction of a forwarded connection: bytes read while frozen are
/// held until the gate opens.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut gate: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if gate.wait_for(|frozen| !*frozen).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if gate.wait_for(|frozen| !*frozen).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Reads and discards everything, so the sender never sees back-pressure
/// or an error: the connection just goes nowhere.
async fn swallow(mut inbound: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match inbound.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
