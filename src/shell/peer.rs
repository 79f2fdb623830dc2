//! Peer transport: one TCP connection per pair of ensemble members, carrying
//! length-prefixed [`crate::core::zab::wire`] messages in both directions.
//!
//! The member with the higher id dials (and redials with backoff); the
//! lower one accepts. A connection opens with a hello (magic, protocol
//! version, sender id) so a stray client or a misconfigured server is
//! refused. Each link has a bounded send queue: a peer that cannot keep up
//! is disconnected rather than allowed to grow memory. Whenever a link
//! breaks, the owner of the Zab state machine is told ([`PeerEvent::Down`]),
//! because whatever was in flight is lost.

use crate::core::zab::{wire, Msg, Sid};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Largest peer frame accepted (SNAP images travel in one frame).
pub const MAX_FRAME: usize = 1 << 30;
/// Messages queued for one peer before the link is dropped as too slow.
const QUEUE: usize = 65_536;

/// What the transport reports to the replication driver.
#[derive(Debug)]
pub enum PeerEvent {
    Message {
        from: Sid,
        msg: Msg,
    },
    /// The link to this peer broke; messages to or from it may be lost.
    Down {
        peer: Sid,
    },
}

type Links = Arc<Mutex<BTreeMap<Sid, mpsc::Sender<Arc<Vec<u8>>>>>>;

/// Sends messages to peers over whatever links are up.
#[derive(Clone)]
pub struct PeerSender {
    links: Links,
    events: mpsc::UnboundedSender<PeerEvent>,
}

impl PeerSender {
    /// Queues `msg` for `to`. Without a link the message is dropped (Zab
    /// retries what matters); a full queue drops the link.
    pub fn send(&self, to: Sid, msg: &Msg) {
        let mut frame = vec![0u8; 4];
        wire::encode(msg, &mut frame);
        let len = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        let frame = Arc::new(frame);
        let Ok(mut links) = self.links.lock() else {
            return;
        };
        let Some(tx) = links.get(&to) else {
            return;
        };
        if tx.try_send(frame).is_err() {
            warn!(
                peer = to,
                "peer send queue full or closed; dropping the link"
            );
            links.remove(&to);
            let _ = self.events.send(PeerEvent::Down { peer: to });
        }
    }
}

/// Starts listening on `listen` and dialing every peer with a lower id.
/// Events arrive on `events`.
pub async fn start(
    me: Sid,
    listen: SocketAddr,
    peers: BTreeMap<Sid, SocketAddr>,
    events: mpsc::UnboundedSender<PeerEvent>,
) -> std::io::Result<(PeerSender, SocketAddr)> {
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let links: Links = Arc::new(Mutex::new(BTreeMap::new()));
    let sender = PeerSender {
        links: links.clone(),
        events: events.clone(),
    };
    {
        let (links, events, peers) = (links.clone(), events.clone(), peers.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, addr)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (links, events, peers) = (links.clone(), events.clone(), peers.clone());
                tokio::spawn(async move {
                    match accept_hello(stream, me).await {
                        Ok((peer, stream)) if peers.contains_key(&peer) && peer > me => {
                            run_link(me, peer, stream, links, events).await;
                        }
                        Ok((peer, _)) => {
                            warn!(%addr, peer, "refusing a peer connection from an unexpected server id")
                        }
                        Err(e) => debug!(%addr, error = %e, "bad peer hello"),
                    }
                });
            }
        });
    }
    for (&peer, &addr) in peers.range(..me) {
        let (links, events) = (links.clone(), events.clone());
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(50);
            loop {
                match TcpStream::connect(addr).await {
                    Ok(mut stream) => {
                        backoff = Duration::from_millis(50);
                        tune(&stream);
                        if send_hello(&mut stream, me).await.is_ok() {
                            run_link(me, peer, stream, links.clone(), events.clone()).await;
                        }
                    }
                    Err(e) => debug!(peer, %addr, error = %e, "peer not reachable"),
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
    }
    Ok((sender, local))
}

/// No Nagle delay, and keepalive probes plus a bound on unacknowledged
/// data, so that a link whose peer vanished silently (power loss, a dropped
/// route) breaks within seconds instead of lingering for many minutes: a
/// link that looks up but carries nothing would keep this pair from
/// reconnecting.
fn tune(stream: &TcpStream) {
    let _ = stream.set_nodelay(true);
    let ka = socket2::TcpKeepalive::new()
        .with_time(Duration::from_secs(5))
        .with_interval(Duration::from_secs(1));
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "freebsd"))]
    let ka = ka.with_retries(3);
    let sock = socket2::SockRef::from(stream);
    if let Err(e) = sock.set_tcp_keepalive(&ka) {
        debug!(error = %e, "could not enable TCP keepalive on a peer link");
    }
    // Keepalive is silent while sent data waits for an ack: bound that
    // wait too.
    #[cfg(target_os = "linux")]
    if let Err(e) = sock.set_tcp_user_timeout(Some(Duration::from_secs(10))) {
        debug!(error = %e, "could not set TCP_USER_TIMEOUT on a peer link");
    }
}

async fn send_hello(stream: &mut TcpStream, me: Sid) -> std::io::Result<()> {
    let mut b = Vec::with_capacity(16);
    b.extend_from_slice(&wire::HELLO_MAGIC.to_be_bytes());
    b.extend_from_slice(&wire::PROTOCOL_VERSION.to_be_bytes());
    b.extend_from_slice(&me.to_be_bytes());
    stream.write_all(&b).await
}

async fn accept_hello(mut stream: TcpStream, me: Sid) -> std::io::Result<(Sid, TcpStream)> {
    tune(&stream);
    let mut b = [0u8; 16];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut b))
        .await
        .map_err(|_| std::io::Error::other("hello timed out"))??;
    let magic = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let version = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&b[8..]);
    let peer = u64::from_be_bytes(id);
    if magic != wire::HELLO_MAGIC {
        return Err(std::io::Error::other("not a corral peer"));
    }
    if version != wire::PROTOCOL_VERSION {
        return Err(std::io::Error::other(format!(
            "peer protocol version {version}, ours {}",
            wire::PROTOCOL_VERSION
        )));
    }
    if peer == me {
        return Err(std::io::Error::other("a peer with our own id"));
    }
    Ok((peer, stream))
}

/// Runs one established link until it breaks, then reports it down.
async fn run_link(
    me: Sid,
    peer: Sid,
    stream: TcpStream,
    links: Links,
    events: mpsc::UnboundedSender<PeerEvent>,
) {
    let (tx, mut rx) = mpsc::channel::<Arc<Vec<u8>>>(QUEUE);
    // A newer connection replaces an older one; the old one's loss is
    // reported when its tasks end.
    if let Ok(mut l) = links.lock() {
        l.insert(peer, tx.clone());
    }
    info!(me, peer, "peer link up");
    let (rd, wr) = stream.into_split();
    // Buffered: a batch of proposals or acks arrives in one read instead of
    // two reads per message.
    let mut rd = BufReader::with_capacity(64 * 1024, rd);
    let writer = async move {
        let mut wr = BufWriter::new(wr);
        while let Some(frame) = rx.recv().await {
            wr.write_all(&frame).await?;
            while let Ok(more) = rx.try_recv() {
                wr.write_all(&more).await?;
            }
            wr.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    let ev = events.clone();
    let reader = async move {
        let mut len = [0u8; 4];
        loop {
            rd.read_exact(&mut len).await?;
            let n = u32::from_be_bytes(len) as usize;
            if n > MAX_FRAME {
                return Err(std::io::Error::other(format!("peer frame of {n} bytes")));
            }
            // Grow with the bytes that actually arrive: a bogus length
            // costs nothing until the peer sends that much.
            let mut body = Vec::with_capacity(n.min(1 << 20));
            (&mut rd).take(n as u64).read_to_end(&mut body).await?;
            if body.len() != n {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let msg = wire::decode(&body)
                .map_err(|e| std::io::Error::other(format!("undecodable peer message: {e}")))?;
            if ev.send(PeerEvent::Message { from: peer, msg }).is_err() {
                return Ok(());
            }
        }
    };
    let result = tokio::select! {
        r = writer => r,
        r = reader => r,
    };
    if let Err(e) = result {
        info!(me, peer, error = %e, "peer link down");
    }
    if let Ok(mut l) = links.lock() {
        if l.get(&peer).is_some_and(|t| t.same_channel(&tx)) {
            l.remove(&peer);
        }
    }
    let _ = events.send(PeerEvent::Down { peer });
}

#[cfg(test)]
mod tests {
    //! Three Zab state machines talking over real loopback links.
    use super::*;
    use crate::core::zab::{Action, Config, Recovered, Role, Zab};
    use crate::core::Zxid;
    use tokio::sync::watch;

    /// Runs one Zab with an in-memory log that is durable at once; reports
    /// (role, committed) and accepts payloads to propose while leading.
    async fn node(
        mut zab: Zab,
        sender: PeerSender,
        mut events: mpsc::UnboundedReceiver<PeerEvent>,
        mut proposals: mpsc::UnboundedReceiver<Vec<u8>>,
        status: watch::Sender<(Role, Zxid)>,
    ) {
        let start = std::time::Instant::now();
        let now = || start.elapsed().as_millis() as i64;
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        loop {
            tokio::select! {
                ev = events.recv() => match ev {
                    Some(PeerEvent::Message { from, msg }) => zab.on_message(from, msg, now()),
                    Some(PeerEvent::Down { peer }) => zab.link_down(peer, now()),
                    None => return,
                },
                p = proposals.recv() => {
                    if let Some(p) = p {
                        zab.propose(p, now());
                    }
                }
                _ = tick.tick() => zab.tick(now()),
            }
            loop {
                let actions = zab.take_actions();
                if actions.is_empty() {
                    break;
                }
                for a in actions {
                    match a {
                        Action::Send { to, msg } => sender.send(to, &msg),
                        Action::Append(e) => zab.durable(e.zxid, now()),
                        Action::SendSnapshot { to } => {
                            let zxid = zab.applied();
                            let image = Arc::new(Vec::new());
                            sender.send(to, &Msg::Snap { zxid, image });
                        }
                        _ => {}
                    }
                }
            }
            let _ = status.send((zab.role(), zab.committed()));
        }
    }

    fn free_addr() -> SocketAddr {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }

    async fn wait_for(
        rx: &mut [watch::Receiver<(Role, Zxid)>],
        what: &str,
        pred: impl Fn(&[(Role, Zxid)]) -> bool,
    ) -> Vec<(Role, Zxid)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let now: Vec<(Role, Zxid)> = rx.iter().map(|r| *r.borrow()).collect();
            if pred(&now) {
                return now;
            }
            assert!(tokio::time::Instant::now() < deadline, "{what}: {now:?}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn leader(states: &[(Role, Zxid)]) -> Option<usize> {
        states
            .iter()
            .position(|s| matches!(s.0, Role::Leading { .. }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_servers_elect_replicate_and_fail_over_on_loopback() {
        let addrs: BTreeMap<Sid, SocketAddr> = (1..=3).map(|s| (s, free_addr())).collect();
        let mut props = Vec::new();
        let mut status = Vec::new();
        let mut tasks = Vec::new();
        for (&me, &addr) in &addrs {
            let peers: BTreeMap<Sid, SocketAddr> = addrs
                .iter()
                .filter(|(s, _)| **s != me)
                .map(|(s, a)| (*s, *a))
                .collect();
            let (ev_tx, ev_rx) = mpsc::unbounded_channel();
            let (sender, _) = start(me, addr, peers, ev_tx).await.unwrap();
            let zab = Zab::new(
                Config::new(me, vec![1, 2, 3], vec![], 50),
                Recovered::default(),
                0,
            );
            let (p_tx, p_rx) = mpsc::unbounded_channel();
            let (s_tx, s_rx) = watch::channel((Role::Looking, 0));
            tasks.push(tokio::spawn(node(zab, sender, ev_rx, p_rx, s_tx)));
            props.push(p_tx);
            status.push(s_rx);
        }
        let s = wait_for(&mut status, "one leader, two followers", |s| {
            leader(s).is_some()
                && s.iter()
                    .filter(|x| matches!(x.0, Role::Following { .. }))
                    .count()
                    == 2
        })
        .await;
        let first = leader(&s).unwrap();
        for i in 0..50u8 {
            props[first].send(vec![i]).unwrap();
        }
        let s = wait_for(&mut status, "50 entries committed everywhere", |s| {
            s.iter().all(|x| x.1 & 0xffff_ffff == 50)
        })
        .await;
        let epoch1 = s[first].1 >> 32;

        // The leader dies: the other two elect a new one in a newer epoch and
        // keep committing.
        tasks[first].abort();
        let rest: Vec<usize> = (0..3).filter(|&i| i != first).collect();
        let mut rest_status: Vec<_> = rest.iter().map(|&i| status[i].clone()).collect();
        let s = wait_for(&mut rest_status, "a new leader among the survivors", |s| {
            leader(s).is_some() && s.iter().any(|x| matches!(x.0, Role::Following { .. }))
        })
        .await;
        let second = rest[leader(&s).unwrap()];
        for i in 0..10u8 {
            props[second].send(vec![i]).unwrap();
        }
        let s = wait_for(&mut rest_status, "new epoch's entries committed", |s| {
            s.iter()
                .all(|x| x.1 >> 32 > epoch1 && x.1 & 0xffff_ffff == 10)
        })
        .await;
        assert!(s.iter().all(|x| x.1 >> 32 > epoch1));
    }
}
