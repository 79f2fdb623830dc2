//! Runs a corral ensemble as real processes on loopback for fault tests.
//!
//! Each member gets a zoo.cfg and a `<dataDir>/myid` in one temp dir, exactly
//! as Apache ZooKeeper is configured, and is started as
//! `corral serve --config zoo.cfg`. Every port is ephemeral: the harness
//! binds `127.0.0.1:0` to pick free ports, and starts the whole ensemble
//! again on fresh ports if one was taken before a member could bind it, so
//! tests can run in parallel with the rest of the suite.
//!
//! With [`EnsembleOpts::proxied`], every peer link goes through a
//! [`FaultProxy`]: members dial lower ids, so for each pair `hi > lo` the
//! config of `hi` lists `lo` at the proxy's address, and the proxy forwards
//! to `lo`'s real quorum port. [`Ensemble::partition`] cuts the links that
//! cross a partition; [`Ensemble::heal`] restores them.
//!
//! Members can be killed (SIGKILL), restarted on the same data dir, stopped
//! (SIGSTOP) and continued (SIGCONT). Dropping the [`Ensemble`] kills every
//! member, also when the test panics, and then prints the end of each
//! member's log.
//!
//! Include it beside the proxy, which it uses through `crate::proxy`:
//! `#[path = "support/proxy.rs"] mod proxy;` and
//! `#[path = "support/ensemble.rs"] mod ensemble;`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use zookeeper_client as zk;

use crate::proxy::{Cut, FaultProxy};

/// Server ids are `1..=size`, as in `server.N` lines.
pub type Id = usize;

/// How long a member may take to print its ready line after it is spawned.
const READY_WAIT: Duration = Duration::from_secs(20);

/// Attempts at starting an ensemble before a port race counts as a failure.
const START_ATTEMPTS: usize = 4;

/// The ensemble's shape and zoo.cfg timing.
#[derive(Clone, Debug)]
pub struct EnsembleOpts {
    /// Number of voting members (3 or 5 in the tests).
    pub size: usize,
    /// `tickTime` in milliseconds.
    pub tick_ms: u64,
    /// `initLimit` in ticks.
    pub init_limit: u64,
    /// `syncLimit` in ticks.
    pub sync_limit: u64,
    /// `maxSessionTimeout` in milliseconds (`None`: the default 20 ticks).
    pub max_session_timeout_ms: Option<u64>,
    /// Route every peer link through a [`FaultProxy`] so links can be cut.
    pub proxied: bool,
}

impl EnsembleOpts {
    /// `size` members with quick timing (tickTime 200 ms, initLimit 10,
    /// syncLimit 5), peer links proxied.
    pub fn quick(size: usize) -> EnsembleOpts {
        EnsembleOpts {
            size,
            tick_ms: 200,
            init_limit: 10,
            sync_limit: 5,
            max_session_timeout_ms: None,
            proxied: true,
        }
    }

    /// ZooKeeper's election timeout: initLimit × tickTime, the time a new
    /// leader has to gather and sync a quorum.
    pub fn election_timeout(&self) -> Duration {
        Duration::from_millis(self.init_limit * self.tick_ms)
    }
}

/// What `srvr` says about a member's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `Mode: leader`.
    Leader,
    /// `Mode: follower`.
    Follower,
    /// `Mode: observer`.
    Observer,
    /// Any other `Mode:` line (standalone would be a harness bug).
    Other,
    /// "This ZooKeeper instance is not currently serving requests".
    NotServing,
    /// No answer: dead, stopped, or too slow.
    Unreachable,
}

impl Mode {
    /// Whether the member serves clients in the ensemble.
    pub fn is_serving(self) -> bool {
        matches!(self, Mode::Leader | Mode::Follower | Mode::Observer)
    }
}

/// A member's `srvr` answer, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The role it reports.
    pub mode: Mode,
    /// The last zxid it applied (`Zxid:` line).
    pub zxid: Option<i64>,
    /// Its znode count (`Node count:` line).
    pub node_count: Option<u64>,
}

impl Status {
    fn unreachable() -> Status {
        Status {
            mode: Mode::Unreachable,
            zxid: None,
            node_count: None,
        }
    }

    /// Parses the text of a `srvr` answer.
    pub fn parse(text: &str) -> Status {
        if text.contains("not currently serving requests") {
            return Status {
                mode: Mode::NotServing,
                zxid: None,
                node_count: None,
            };
        }
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .map(|v| v.trim().to_string())
        };
        let mode = match field("Mode:").as_deref() {
            Some("leader") => Mode::Leader,
            Some("follower") => Mode::Follower,
            Some("observer") => Mode::Observer,
            Some(_) => Mode::Other,
            None => Mode::Unreachable,
        };
        let zxid = field("Zxid:").and_then(|z| {
            let hex = z.trim_start_matches("0x");
            i64::from_str_radix(hex, 16).ok()
        });
        let node_count = field("Node count:").and_then(|n| n.parse().ok());
        Status {
            mode,
            zxid,
            node_count,
        }
    }
}

/// One member: its addresses, files and (while running) its process.
pub struct Node {
    /// `server.N` id.
    pub id: Id,
    /// Where clients connect.
    pub client: SocketAddr,
    /// Where it listens for peers (its own `server.N` line).
    pub quorum: SocketAddr,
    /// Its data dir (holds `myid`).
    pub data_dir: PathBuf,
    cfg_path: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    paused: bool,
}

impl Node {
    /// Whether a process is running (possibly stopped by SIGSTOP).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether it is stopped by SIGSTOP.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Its log (stderr of every run, appended).
    pub fn log(&self) -> String {
        read_lossy(&self.log_path)
    }
}

/// A running ensemble; every member is killed on drop.
pub struct Ensemble {
    /// The shape and timing it was started with.
    pub opts: EnsembleOpts,
    nodes: Vec<Node>,
    /// Proxies keyed by (dialer, listener): dialer > listener.
    proxies: BTreeMap<(Id, Id), FaultProxy>,
    /// Holds every member's files; declared last so it is removed after
    /// the members are killed.
    _dir: tempfile::TempDir,
}

fn read_lossy(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Free loopback ports: all listeners are held at once so the ports are
/// distinct, then released for the members to bind.
fn free_ports(n: usize) -> std::io::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect()
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

impl Ensemble {
    /// Starts an ensemble and waits until every member has printed its
    /// ready line (not until a leader is elected: see
    /// [`Ensemble::wait_converged`]). Retries on fresh ports when a member
    /// fails to start, which is how a port race shows.
    pub async fn start(opts: EnsembleOpts) -> Ensemble {
        let mut errors = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            match Ensemble::try_start(&opts).await {
                Ok(e) => return e,
                Err(err) => {
                    eprintln!("ensemble start attempt {attempt} failed: {err}");
                    errors.push(err);
                }
            }
        }
        panic!(
            "the ensemble did not start in {START_ATTEMPTS} attempts:\n{}",
            errors.join("\n---\n")
        );
    }

    async fn try_start(opts: &EnsembleOpts) -> Result<Ensemble, String> {
        let n = opts.size;
        let dir = tempfile::Builder::new()
            .prefix("corral-ensemble-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        // Three ports per member: client, quorum, election (the election
        // port is parsed but unused; it only has to differ from the quorum
        // port).
        let ports = free_ports(3 * n).map_err(|e| format!("picking ports: {e}"))?;
        let mut nodes = Vec::with_capacity(n);
        let mut election = Vec::with_capacity(n);
        for i in 0..n {
            let id = i + 1;
            let home = dir.path().join(format!("n{id}"));
            let data_dir = home.join("data");
            std::fs::create_dir_all(&data_dir).map_err(|e| format!("creating dirs: {e}"))?;
            std::fs::write(data_dir.join("myid"), format!("{id}\n"))
                .map_err(|e| format!("writing myid: {e}"))?;
            nodes.push(Node {
                id,
                client: loopback(ports[3 * i]),
                quorum: loopback(ports[3 * i + 1]),
                data_dir,
                cfg_path: home.join("zoo.cfg"),
                log_path: home.join("corral.log"),
                child: None,
                paused: false,
            });
            election.push(ports[3 * i + 2]);
        }
        let mut proxies = BTreeMap::new();
        if opts.proxied {
            for hi in 1..=n {
                for lo in 1..hi {
                    let p = FaultProxy::start(nodes[lo - 1].quorum)
                        .await
                        .map_err(|e| format!("starting a proxy: {e}"))?;
                    proxies.insert((hi, lo), p);
                }
            }
        }
        for node in &nodes {
            let mut cfg = format!(
                "tickTime={}\ninitLimit={}\nsyncLimit={}\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
                opts.tick_ms,
                opts.init_limit,
                opts.sync_limit,
                node.data_dir.display(),
                node.client.port(),
            );
            if let Some(max) = opts.max_session_timeout_ms {
                cfg.push_str(&format!("maxSessionTimeout={max}\n"));
            }
            for other in &nodes {
                // This member dials `other` (a lower id) through the proxy
                // of that pair; every other line is as the member itself
                // sees it.
                let quorum = match proxies.get(&(node.id, other.id)) {
                    Some(p) => p.addr(),
                    None => other.quorum,
                };
                cfg.push_str(&format!(
                    "server.{}={}:{}:{};{}\n",
                    other.id,
                    quorum.ip(),
                    quorum.port(),
                    election[other.id - 1],
                    other.client
                ));
            }
            std::fs::write(&node.cfg_path, cfg).map_err(|e| format!("writing zoo.cfg: {e}"))?;
        }
        let mut ens = Ensemble {
            opts: opts.clone(),
            nodes,
            proxies,
            _dir: dir,
        };
        // Spawn all first so the members find each other while the others
        // start; then wait for each.
        let mut pending = Vec::new();
        for id in ens.ids() {
            pending.push((id, ens.spawn(id)?));
        }
        for (id, ready) in pending {
            ens.await_ready(id, ready).await?;
        }
        Ok(ens)
    }

    /// Every member's id.
    pub fn ids(&self) -> Vec<Id> {
        (1..=self.nodes.len()).collect()
    }

    /// A member.
    pub fn node(&self, id: Id) -> &Node {
        &self.nodes[id - 1]
    }

    /// A member's client address as `host:port`.
    pub fn client_addr(&self, id: Id) -> String {
        self.node(id).client.to_string()
    }

    /// The connect string listing every member.
    pub fn connect_string(&self) -> String {
        self.nodes
            .iter()
            .map(|n| n.client.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every member's client address, in id order.
    pub fn client_addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.client).collect()
    }

    /// Spawns a member's process; returns the channel its ready line's
    /// port arrives on.
    fn spawn(&mut self, id: Id) -> Result<mpsc::Receiver<u16>, String> {
        let node = &mut self.nodes[id - 1];
        assert!(node.child.is_none(), "server {id} is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&node.log_path)
            .map_err(|e| format!("opening {}: {e}", node.log_path.display()))?;
        let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
            .arg("serve")
            .arg("--config")
            .arg(&node.cfg_path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| format!("spawning corral: {e}"))?;
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            // Keeps draining stdout after the ready line so the member
            // never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.strip_prefix("corral: serving clients on ") {
                        let port = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok());
                        if let (Some(port), Some(tx)) = (port, tx.take()) {
                            let _ = tx.send(port);
                        }
                    }
                }
            });
        }
        node.child = Some(child);
        node.paused = false;
        Ok(rx)
    }

    /// Waits for a member's ready line; fails (with its log) if it exits
    /// first, which is what a port taken by someone else looks like.
    async fn await_ready(&mut self, id: Id, ready: mpsc::Receiver<u16>) -> Result<(), String> {
        let deadline = Instant::now() + READY_WAIT;
        loop {
            match ready.try_recv() {
                Ok(port) if port == self.node(id).client.port() => return Ok(()),
                Ok(port) => {
                    return Err(format!(
                        "server {id} serves on port {port}, expected {}",
                        self.node(id).client.port()
                    ))
                }
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => {}
            }
            let node = &mut self.nodes[id - 1];
            let exited = match node.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(format!("wait failed: {e}")),
                Some(Ok(None)) => None,
                None => Some("not running".to_string()),
            };
            if let Some(status) = exited {
                node.child = None;
                return Err(format!(
                    "server {id} exited before serving ({status}); log:\n{}",
                    tail(&node.log(), 20)
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "server {id} did not print its ready line within {READY_WAIT:?}; log:\n{}",
                    tail(&node.log(), 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Panics if a member the test did not kill has exited on its own (a
    /// crash or a fatal error), with its log: otherwise it would only show
    /// as a member that never answers.
    pub fn assert_alive(&mut self) {
        for node in &mut self.nodes {
            let exited = match node.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(format!("wait failed: {e}")),
                _ => None,
            };
            if let Some(status) = exited {
                node.child = None;
                panic!(
                    "server {} exited on its own ({status}); log:\n{}",
                    node.id,
                    tail(&node.log(), 30)
                );
            }
        }
    }

    /// SIGKILLs a member (also when it is stopped) and reaps it; panics if
    /// it had already exited on its own.
    pub fn kill(&mut self, id: Id) {
        self.assert_alive();
        let node = &mut self.nodes[id - 1];
        let mut child = node
            .child
            .take()
            .unwrap_or_else(|| panic!("kill: server {id} is not running"));
        child.kill().expect("SIGKILL a member");
        child.wait().expect("reap a killed member");
        node.paused = false;
    }

    /// Starts a killed member again on its data dir and ports, and waits
    /// for its ready line (it still has to rejoin: see
    /// [`Ensemble::wait_serving`]).
    pub async fn restart(&mut self, id: Id) {
        let ready = self
            .spawn(id)
            .unwrap_or_else(|e| panic!("restarting server {id}: {e}"));
        if let Err(e) = self.await_ready(id, ready).await {
            panic!("restarting server {id}: {e}");
        }
    }

    /// Sends a signal with the system's `kill`, since std only sends SIGKILL.
    fn signal(&self, id: Id, sig: &str) {
        let pid = self
            .node(id)
            .child
            .as_ref()
            .unwrap_or_else(|| panic!("signal {sig}: server {id} is not running"))
            .id();
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -{sig} {pid} failed: {status}");
    }

    /// SIGSTOPs a member: it keeps its sockets but answers nothing.
    pub fn pause(&mut self, id: Id) {
        self.signal(id, "STOP");
        self.nodes[id - 1].paused = true;
    }

    /// SIGCONTs a stopped member.
    pub fn resume(&mut self, id: Id) {
        self.signal(id, "CONT");
        self.nodes[id - 1].paused = false;
    }

    /// Cuts every proxied link between `side` and the other members; links
    /// inside each side stay up.
    pub fn partition(&self, side: &[Id], how: Cut) {
        assert!(self.opts.proxied, "partition needs a proxied ensemble");
        for (&(a, b), p) in &self.proxies {
            if side.contains(&a) != side.contains(&b) {
                p.cut(how);
            }
        }
    }

    /// Restores every cut link.
    pub fn heal(&self) {
        for p in self.proxies.values() {
            p.heal();
        }
    }

    /// Per link (dialer, listener): connections the proxy forwarded and
    /// refused. Tests assert the proxies were really on the path.
    pub fn proxy_counts(&self) -> Vec<((Id, Id), u64, u64)> {
        self.proxies
            .iter()
            .map(|(&k, p)| (k, p.forwarded(), p.refused()))
            .collect()
    }

    /// A member's `srvr` status; `Unreachable` when it does not answer.
    pub async fn status(&self, id: Id) -> Status {
        match four_letter_word(self.node(id).client, "srvr").await {
            Some(text) => Status::parse(&text),
            None => Status::unreachable(),
        }
    }

    /// Every member's status, in id order (dead members are `Unreachable`
    /// without being asked).
    pub async fn statuses(&self) -> Vec<(Id, Status)> {
        let mut out = Vec::new();
        for id in self.ids() {
            let node = self.node(id);
            let s = if node.is_running() && !node.is_paused() {
                self.status(id).await
            } else {
                Status::unreachable()
            };
            out.push((id, s));
        }
        out
    }

    /// Members among `among` reporting `Mode: leader` right now.
    pub async fn leaders_among(&self, among: &[Id]) -> Vec<Id> {
        let mut out = Vec::new();
        for &id in among {
            if self.status(id).await.mode == Mode::Leader {
                out.push(id);
            }
        }
        out
    }

    /// Polls the members in `among` until one reports `Mode: leader`;
    /// returns it and when it was seen. `None` after `within`.
    pub async fn wait_leader_among(&self, among: &[Id], within: Duration) -> Option<(Id, Instant)> {
        let deadline = Instant::now() + within;
        loop {
            for &id in among {
                if self.status(id).await.mode == Mode::Leader {
                    return Some((id, Instant::now()));
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a member reports that it serves clients.
    pub async fn wait_serving(&self, id: Id, within: Duration) -> Mode {
        let deadline = Instant::now() + within;
        loop {
            let s = self.status(id).await;
            if s.mode.is_serving() {
                return s.mode;
            }
            assert!(
                Instant::now() < deadline,
                "server {id} is not serving after {within:?}: {s:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until every running member serves, exactly one leads, and all
    /// report the same last zxid twice in a row; returns (leader, zxid).
    /// Panics with every member's status after `within`.
    pub async fn wait_converged(&self, within: Duration) -> (Id, i64) {
        let mut previous: Option<(Id, i64)> = None;
        let every = Duration::from_millis(150);
        let what = "the ensemble did not converge";
        self.poll_roles(within, every, what, |roles| {
            let zxids: Vec<Option<i64>> = roles.running.iter().map(|s| s.zxid).collect();
            let agreed = match (roles.settled(), zxids.first()) {
                (Some(leader), Some(Some(z))) if zxids.iter().all(|x| *x == Some(*z)) => {
                    Some((leader, *z))
                }
                _ => None,
            };
            let done = agreed.is_some() && agreed == previous;
            previous = agreed;
            agreed.filter(|_| done)
        })
        .await
    }

    /// Which member the session is connected to, from `cons` (`None`: not
    /// connected to a running member right now).
    pub async fn where_is(&self, session: zk::SessionId) -> Option<Id> {
        let live: Vec<SocketAddr> = self
            .nodes
            .iter()
            .filter(|n| n.is_running() && !n.is_paused())
            .map(|n| n.client)
            .collect();
        let at = session_location(&live, session).await?;
        self.nodes.iter().find(|n| n.client == at).map(|n| n.id)
    }

    /// Waits until every running member serves and exactly one of them
    /// leads (zxids may still differ, e.g. under load); returns the leader.
    /// Panics with every member's status after `within`.
    pub async fn wait_roles_settled(&self, within: Duration) -> Id {
        let every = Duration::from_millis(25);
        self.poll_roles(within, every, "roles did not settle", Roles::settled)
            .await
    }

    /// Polls every member's status every `every` until `done` returns
    /// something for the running members' roles, and returns that. Panics
    /// with `what` and every member's status after `within`.
    async fn poll_roles<T>(
        &self,
        within: Duration,
        every: Duration,
        what: &str,
        mut done: impl FnMut(&Roles) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + within;
        loop {
            let statuses = self.statuses().await;
            let running: Vec<(Id, &Status)> = statuses
                .iter()
                .filter(|(id, _)| self.node(*id).is_running())
                .map(|(id, s)| (*id, s))
                .collect();
            let roles = Roles {
                leaders: running
                    .iter()
                    .filter(|(_, s)| s.mode == Mode::Leader)
                    .map(|(id, _)| *id)
                    .collect(),
                running: running.into_iter().map(|(_, s)| s.clone()).collect(),
            };
            if let Some(out) = done(&roles) {
                return out;
            }
            if Instant::now() > deadline {
                panic!("{what} within {within:?}: {statuses:?}");
            }
            tokio::time::sleep(every).await;
        }
    }
}

/// One poll of the running members' statuses, for the waits above.
struct Roles {
    /// The running members' statuses, in id order.
    running: Vec<Status>,
    /// The running members that report `Mode: leader`.
    leaders: Vec<Id>,
}

impl Roles {
    /// The leader, when every running member serves and exactly one leads.
    fn settled(&self) -> Option<Id> {
        match self.leaders[..] {
            [leader] if self.running.iter().all(|s| s.mode.is_serving()) => Some(leader),
            _ => None,
        }
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                // SIGKILL also ends a stopped process.
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!(
                    "--- last lines of server {}'s log ({}) ---\n{}",
                    node.id,
                    node.log_path.display(),
                    tail(&node.log(), 40)
                );
            }
        }
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sends a four-letter word and reads the answer until the server closes;
/// `None` if it does not answer within a second (dead or stopped member).
pub async fn four_letter_word(addr: SocketAddr, word: &str) -> Option<String> {
    let exchange = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(word.as_bytes()).await.ok()?;
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.ok()?;
        Some(String::from_utf8_lossy(&out).into_owned())
    };
    tokio::time::timeout(Duration::from_secs(1), exchange)
        .await
        .ok()
        .flatten()
}

/// The client address (one of `servers`) whose `cons` lists `session`.
pub async fn session_location(
    servers: &[SocketAddr],
    session: zk::SessionId,
) -> Option<SocketAddr> {
    let needle = format!("sid={:#x},", session.0);
    for &addr in servers {
        if let Some(text) = four_letter_word(addr, "cons").await {
            if text.contains(&needle) {
                return Some(addr);
            }
        }
    }
    None
}

/// Connects a `zookeeper-client` session to `servers` (a connect string);
/// `Err` with the reason if no session is established within `within`.
pub async fn connect(
    servers: &str,
    session_timeout: Duration,
    within: Duration,
) -> Result<zk::Client, String> {
    let fut = zk::Client::connector()
        .with_session_timeout(session_timeout)
        .connect(servers);
    match tokio::time::timeout(within, fut).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(format!("connecting to {servers}: {e}")),
        Err(_) => Err(format!(
            "connecting to {servers}: no session within {within:?}"
        )),
    }
}
