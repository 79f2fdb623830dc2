//! A seeded simulator of whole ensembles in one process, in plain Rust over
//! the deterministic core: servers running [`Zab`], a network that delays,
//! drops, duplicates and reorders votes and breaks FIFO peer links (losing
//! what was in flight), partitions that come and heal, crashes that lose
//! unsynced log writes, restarts from the simulated disk, and clients
//! writing through whoever leads. Everything random comes from one seed,
//! so any failure replays exactly with `CORRAL_SIM_SEED=<seed> cargo test
//! --release --test zab_sim`.
//!
//! Invariants checked after every step:
//! - no two servers establish leadership in the same epoch;
//! - every server's committed prefix equals one global chain (same entries,
//!   same order, zxids increasing): nothing committed is lost or reordered;
//! - at the end, after healing: one leader, every server's state equals the
//!   chain, and every write acknowledged to a client is in it, each client's
//!   in the order it wrote them.

mod rng;

pub use rng::Rng;

use crate::core::zab::{Action, Config, Entry, Msg, PlantedBug, Recovered, Role, Sid, Zab};
use crate::core::Zxid;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Options {
    pub voters: usize,
    pub observers: usize,
    /// Simulated milliseconds with faults and client writes.
    pub fault_ms: i64,
    /// Simulated milliseconds after healing everything.
    pub quiet_ms: i64,
    pub crashes: bool,
    pub partitions: bool,
    pub link_breaks: bool,
    /// Crashes keep a random part of the unsynced log tail (a torn tail is
    /// dropped by recovery, so it looks the same as a shorter log).
    pub torn_writes: bool,
    pub planted: PlantedBug,
    pub history_cap: usize,
    pub max_counter: u32,
}

impl Options {
    /// Every fault on, for `voters` voting servers.
    pub fn with_faults(voters: usize) -> Options {
        Options {
            voters,
            observers: 0,
            fault_ms: 12_000,
            quiet_ms: 6_000,
            crashes: true,
            partitions: true,
            link_breaks: true,
            torn_writes: true,
            planted: PlantedBug::None,
            history_cap: 64,
            max_counter: 500,
        }
    }
}

/// Figures from a passing run.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub committed: usize,
    pub acked: usize,
    pub crashes: usize,
    pub partitions: usize,
    pub epochs: usize,
    /// Followers synchronised by TRUNC and by SNAP.
    pub truncs: usize,
    pub snaps: usize,
}

const STEP_MS: i64 = 5;
const TICK_MS: i64 = 100;

#[derive(Debug, Default, Clone)]
struct Disk {
    accepted: u32,
    accepted_from: Sid,
    current: u32,
    snap_zxid: Zxid,
    snap: Vec<(Zxid, u64)>,
    log: Vec<Entry>,
    synced: usize,
}

struct Node {
    sid: Sid,
    zab: Option<Zab>,
    disk: Disk,
    /// The state machine: every applied entry as (zxid, hash of data).
    sm: Vec<(Zxid, u64)>,
    /// How much of `sm` has been checked against the chain.
    verified: usize,
    /// An fsync in progress: when it completes and how much log it covers.
    fsync: Option<(i64, usize)>,
    /// Client writes proposed here, not yet committed: (zxid, client, seq).
    pending: Vec<(Zxid, u32, u32)>,
    restart_at: i64,
}

fn hash(data: &[u8]) -> u64 {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn encode_image(sm: &[(Zxid, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(sm.len() * 16);
    for (z, h) in sm {
        out.extend_from_slice(&z.to_be_bytes());
        out.extend_from_slice(&h.to_be_bytes());
    }
    out
}

fn decode_image(b: &[u8]) -> Vec<(Zxid, u64)> {
    b.chunks_exact(16)
        .map(|c| {
            let mut z = [0u8; 8];
            let mut h = [0u8; 8];
            z.copy_from_slice(&c[..8]);
            h.copy_from_slice(&c[8..]);
            (i64::from_be_bytes(z), u64::from_be_bytes(h))
        })
        .collect()
}

/// The simulated world.
struct World {
    rng: Rng,
    now: i64,
    opts: Options,
    nodes: Vec<Node>,
    configs: Vec<Config>,
    links: BTreeMap<(Sid, Sid), VecDeque<(i64, Msg)>>,
    /// Links whose break the sender has not noticed yet: sends are lost.
    muted: BTreeSet<(Sid, Sid)>,
    /// (when, who notices, which peer).
    downs: Vec<(i64, Sid, Sid)>,
    datagrams: Vec<(i64, Sid, Sid, Msg)>,
    cut: BTreeSet<(Sid, Sid)>,
    heal_at: i64,
    chain: Vec<(Zxid, u64)>,
    leaders: BTreeMap<u32, Sid>,
    acked: Vec<(Zxid, u32, u32, u64)>,
    next_seq: Vec<u32>,
    trace: VecDeque<String>,
    failure: Option<String>,
    report: Report,
}

impl World {
    fn new(seed: u64, opts: Options) -> World {
        let voters: Vec<Sid> = (1..=opts.voters as Sid).collect();
        let observers: Vec<Sid> =
            (opts.voters as Sid + 1..=(opts.voters + opts.observers) as Sid).collect();
        let mut w = World {
            rng: Rng::new(seed),
            now: 0,
            nodes: Vec::new(),
            configs: Vec::new(),
            links: BTreeMap::new(),
            muted: BTreeSet::new(),
            downs: Vec::new(),
            datagrams: Vec::new(),
            cut: BTreeSet::new(),
            heal_at: 0,
            chain: Vec::new(),
            leaders: BTreeMap::new(),
            acked: Vec::new(),
            next_seq: vec![0; 4],
            trace: VecDeque::new(),
            failure: None,
            report: Report::default(),
            opts,
        };
        for sid in voters.iter().chain(observers.iter()) {
            let mut cfg = Config::new(*sid, voters.clone(), observers.clone(), TICK_MS);
            cfg.history_cap = w.opts.history_cap;
            cfg.max_counter = w.opts.max_counter;
            cfg.planted = w.opts.planted;
            w.configs.push(cfg);
            w.nodes.push(Node {
                sid: *sid,
                zab: None,
                disk: Disk::default(),
                sm: Vec::new(),
                verified: 0,
                fsync: None,
                pending: Vec::new(),
                restart_at: 0,
            });
        }
        for i in 0..w.nodes.len() {
            w.start(i);
        }
        w
    }

    fn note(&mut self, s: String) {
        if self.trace.len() >= 60 {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("t={} {}", self.now, s));
    }

    fn fail(&mut self, s: String) {
        if self.failure.is_none() {
            self.note(format!("FAILED: {s}"));
            self.failure = Some(s);
        }
    }

    fn idx(&self, sid: Sid) -> usize {
        (sid - 1) as usize
    }

    /// Boots node `i` from its disk, as recovery does. The state machine
    /// comes back at a random point between the snapshot and the end of the
    /// log (a real server's snapshot store may lag its log); Zab delivers
    /// the rest once it knows what is committed.
    fn start(&mut self, i: usize) {
        let k = self.rng.range(0, self.nodes[i].disk.log.len() as u64) as usize;
        let n = &mut self.nodes[i];
        let mut sm = n.disk.snap.clone();
        sm.extend(n.disk.log[..k].iter().map(|e| (e.zxid, hash(&e.data))));
        let applied = sm.last().map_or(n.disk.snap_zxid, |x| x.0);
        let rec = Recovered {
            accepted_epoch: n.disk.accepted,
            accepted_from: n.disk.accepted_from,
            current_epoch: n.disk.current,
            base: n.disk.snap_zxid,
            entries: n.disk.log.clone(),
            applied,
        };
        n.sm = sm;
        n.verified = 0;
        n.fsync = None;
        n.pending.clear();
        n.disk.synced = n.disk.log.len();
        let sid = n.sid;
        self.muted.retain(|(a, _)| *a != sid);
        let zab = Zab::new(self.configs[i].clone(), rec, self.now);
        self.nodes[i].zab = Some(zab);
        self.drain(i);
    }

    fn crash(&mut self, i: usize) {
        let sid = self.nodes[i].sid;
        if self.nodes[i].zab.is_none() {
            return;
        }
        self.report.crashes += 1;
        let keep_extra = {
            let d = &self.nodes[i].disk;
            let unsynced = d.log.len() - d.synced.min(d.log.len());
            if self.opts.torn_writes {
                self.rng.range(0, unsynced as u64) as usize
            } else {
                0
            }
        };
        let n = &mut self.nodes[i];
        n.zab = None;
        let keep = n.disk.synced + keep_extra;
        n.disk.log.truncate(keep);
        n.fsync = None;
        n.pending.clear();
        n.restart_at = self.now + self.rng.range(200, 3_000) as i64;
        self.note(format!("crash s{sid} (log keeps {keep})"));
        let peers: Vec<Sid> = self.nodes.iter().map(|n| n.sid).collect();
        for p in peers {
            if p != sid {
                self.break_link(sid, p);
            }
        }
    }

    fn break_link(&mut self, a: Sid, b: Sid) {
        if self.muted.contains(&(a, b)) && self.muted.contains(&(b, a)) {
            return;
        }
        self.links.remove(&(a, b));
        self.links.remove(&(b, a));
        for (x, y) in [(a, b), (b, a)] {
            if self.muted.insert((x, y)) {
                let at = self.now + self.rng.range(1, 30) as i64;
                self.downs.push((at, x, y));
            }
        }
    }

    fn send(&mut self, from: Sid, to: Sid, msg: Msg) {
        let cut = self.cut.contains(&(from, to));
        if let Msg::Vote { .. } = msg {
            if cut || self.rng.chance(0.05) {
                return;
            }
            let copies = if self.rng.chance(0.05) { 2 } else { 1 };
            for _ in 0..copies {
                let at = self.now + self.rng.range(1, 40) as i64;
                self.datagrams.push((at, from, to, msg.clone()));
            }
            return;
        }
        if cut {
            self.break_link(from, to);
            return;
        }
        if self.muted.contains(&(from, to)) {
            return;
        }
        let delay = self.rng.range(1, 20) as i64;
        let q = self.links.entry((from, to)).or_default();
        let at = q.back().map_or(0, |x| x.0).max(self.now + delay);
        q.push_back((at, msg));
    }

    /// Performs node `i`'s pending actions.
    fn drain(&mut self, i: usize) {
        let Some(actions) = self.nodes[i].zab.as_mut().map(|z| z.take_actions()) else {
            return;
        };
        let sid = self.nodes[i].sid;
        for a in actions {
            match a {
                Action::Send { to, msg } => self.send(sid, to, msg),
                Action::Append(e) => {
                    let n = &mut self.nodes[i];
                    n.disk.log.push(e);
                    if n.fsync.is_none() {
                        self.start_fsync(i);
                    }
                }
                Action::Truncate { zxid } => {
                    self.report.truncs += 1;
                    let n = &mut self.nodes[i];
                    n.disk.log.retain(|e| e.zxid <= zxid);
                    n.disk.synced = n.disk.synced.min(n.disk.log.len());
                    if let Some((_, c)) = &mut n.fsync {
                        *c = (*c).min(n.disk.log.len());
                    }
                }
                Action::InstallSnapshot { zxid, image } => {
                    self.report.snaps += 1;
                    let n = &mut self.nodes[i];
                    n.disk.snap_zxid = zxid;
                    n.disk.snap = decode_image(&image);
                    n.disk.log.clear();
                    n.disk.synced = 0;
                    n.fsync = None;
                    n.sm = n.disk.snap.clone();
                    n.verified = 0;
                }
                Action::SendSnapshot { to } => {
                    let n = &self.nodes[i];
                    let zxid = n.sm.last().map_or(n.disk.snap_zxid, |x| x.0);
                    let image = std::sync::Arc::new(encode_image(&n.sm));
                    self.send(sid, to, Msg::Snap { zxid, image });
                }
                Action::SaveEpochs {
                    accepted,
                    accepted_from,
                    current,
                } => {
                    let d = &mut self.nodes[i].disk;
                    d.accepted = accepted;
                    d.accepted_from = accepted_from;
                    d.current = current;
                }
                Action::Deliver(e) => {
                    let n = &mut self.nodes[i];
                    if n.sm.last().is_some_and(|x| x.0 >= e.zxid) {
                        self.fail(format!("s{sid} delivered {:#x} out of order", e.zxid));
                    }
                    self.nodes[i].sm.push((e.zxid, hash(&e.data)));
                }
                Action::Committed(z) => self.committed(i, z),
                Action::Role(r) => {
                    self.note(format!("s{sid} {r:?}"));
                    match r {
                        Role::Leading { epoch } => {
                            if let Some(other) = self.leaders.insert(epoch, sid) {
                                if other != sid {
                                    self.fail(format!(
                                        "two leaders in epoch {epoch}: s{other} and s{sid}"
                                    ));
                                }
                            }
                        }
                        Role::Looking => self.nodes[i].pending.clear(),
                        _ => {}
                    }
                }
            }
        }
    }

    fn committed(&mut self, i: usize, z: Zxid) {
        let sid = self.nodes[i].sid;
        loop {
            let n = &self.nodes[i];
            let Some(&entry) = n.sm.get(n.verified) else {
                break;
            };
            if entry.0 > z {
                break;
            }
            let k = n.verified;
            match self.chain.get(k) {
                Some(&c) if c != entry => {
                    return self.fail(format!(
                        "s{sid} committed {:#x} at position {k}, the chain has {:#x} there",
                        entry.0, c.0
                    ));
                }
                Some(_) => {}
                None => {
                    if self.chain.last().is_some_and(|l| l.0 >= entry.0) {
                        return self.fail(format!("chain zxids not increasing at {:#x}", entry.0));
                    }
                    self.chain.push(entry);
                }
            }
            self.nodes[i].verified += 1;
        }
        let n = &mut self.nodes[i];
        let (done, rest): (Vec<_>, Vec<_>) = n.pending.drain(..).partition(|p| p.0 <= z);
        n.pending = rest;
        for (zx, client, seq) in done {
            let h = self.nodes[i]
                .sm
                .iter()
                .rev()
                .find(|x| x.0 == zx)
                .map(|x| x.1)
                .unwrap_or(0);
            self.acked.push((zx, client, seq, h));
        }
    }

    /// Starts an fsync covering everything appended so far; what arrives
    /// while it runs waits for the next one (group commit).
    fn start_fsync(&mut self, i: usize) {
        let at = self.now + self.rng.range(1, 15) as i64;
        let n = &mut self.nodes[i];
        n.fsync = Some((at, n.disk.log.len()));
    }

    fn fsyncs(&mut self) {
        for i in 0..self.nodes.len() {
            let Some((at, covers)) = self.nodes[i].fsync else {
                continue;
            };
            if at > self.now || self.nodes[i].zab.is_none() {
                continue;
            }
            let n = &mut self.nodes[i];
            n.disk.synced = n.disk.synced.max(covers.min(n.disk.log.len()));
            let durable = if n.disk.synced == 0 {
                n.disk.snap_zxid
            } else {
                n.disk.log[n.disk.synced - 1].zxid
            };
            n.fsync = None;
            if n.disk.log.len() > n.disk.synced {
                self.start_fsync(i);
            }
            let now = self.now;
            if let Some(z) = self.nodes[i].zab.as_mut() {
                z.durable(durable, now);
            }
            self.drain(i);
        }
    }

    fn deliver(&mut self) {
        let now = self.now;
        let mut downs = Vec::new();
        self.downs.retain(|d| {
            if d.0 <= now {
                downs.push(*d);
                false
            } else {
                true
            }
        });
        for (_, who, peer) in downs {
            self.muted.remove(&(who, peer));
            let i = self.idx(who);
            if let Some(z) = self.nodes[i].zab.as_mut() {
                z.link_down(peer, now);
            }
            self.drain(i);
        }
        let mut due = Vec::new();
        self.datagrams.retain(|d| {
            if d.0 <= now {
                due.push(d.clone());
                false
            } else {
                true
            }
        });
        for (_, from, to, msg) in due {
            self.hand_to(from, to, msg);
        }
        let keys: Vec<(Sid, Sid)> = self.links.keys().copied().collect();
        for k in keys {
            while let Some(q) = self.links.get_mut(&k) {
                if !q.front().is_some_and(|x| x.0 <= now) {
                    break;
                }
                let Some((_, msg)) = q.pop_front() else {
                    break;
                };
                self.hand_to(k.0, k.1, msg);
            }
        }
    }

    fn hand_to(&mut self, from: Sid, to: Sid, msg: Msg) {
        let i = self.idx(to);
        let now = self.now;
        if let Some(z) = self.nodes[i].zab.as_mut() {
            z.on_message(from, msg, now);
        }
        self.drain(i);
    }

    fn faults(&mut self) {
        let n = self.nodes.len();
        if self.opts.crashes && self.rng.chance(0.002) {
            let i = self.rng.range(0, n as u64 - 1) as usize;
            self.crash(i);
        }
        for i in 0..n {
            if self.nodes[i].zab.is_none() && self.now >= self.nodes[i].restart_at {
                self.note(format!("restart s{}", self.nodes[i].sid));
                self.start(i);
            }
        }
        if self.opts.partitions {
            if self.cut.is_empty() && self.rng.chance(0.001) {
                self.report.partitions += 1;
                let side: Vec<Sid> = (1..=n as Sid).filter(|_| self.rng.chance(0.4)).collect();
                for a in 1..=n as Sid {
                    for b in 1..=n as Sid {
                        if side.contains(&a) != side.contains(&b) {
                            self.cut.insert((a, b));
                        }
                    }
                }
                self.heal_at = self.now + self.rng.range(300, 4_000) as i64;
                self.note(format!("partition {side:?} from the rest"));
            } else if !self.cut.is_empty() && self.now >= self.heal_at {
                self.cut.clear();
                self.note("heal".into());
            }
        }
        if self.opts.link_breaks && self.rng.chance(0.002) {
            let a = self.rng.range(1, n as u64) as Sid;
            let b = self.rng.range(1, n as u64) as Sid;
            if a != b {
                self.note(format!("break link s{a}-s{b}"));
                self.break_link(a, b);
            }
        }
    }

    fn client_write(&mut self) {
        let leaders: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .zab
                    .as_ref()
                    .is_some_and(|z| matches!(z.role(), Role::Leading { .. }))
            })
            .collect();
        let Some(i) = self.rng.pick(&leaders) else {
            return;
        };
        let client = self.rng.range(0, 3) as u32;
        let seq = self.next_seq[client as usize];
        let mut data = Vec::with_capacity(16);
        data.extend_from_slice(&client.to_be_bytes());
        data.extend_from_slice(&seq.to_be_bytes());
        data.extend_from_slice(&self.rng.next_u64().to_be_bytes());
        let h = hash(&data);
        let now = self.now;
        let Some(z) = self.nodes[i].zab.as_mut() else {
            return;
        };
        if let Some(zxid) = z.propose(data, now) {
            self.next_seq[client as usize] += 1;
            let n = &mut self.nodes[i];
            n.sm.push((zxid, h));
            n.pending.push((zxid, client, seq));
        }
        self.drain(i);
    }

    fn step(&mut self, faults: bool, writes: bool) {
        self.now += STEP_MS;
        if faults {
            self.faults();
        }
        self.deliver();
        self.fsyncs();
        let now = self.now;
        for i in 0..self.nodes.len() {
            if let Some(z) = self.nodes[i].zab.as_mut() {
                z.tick(now);
            }
            self.drain(i);
        }
        if writes && self.rng.chance(0.3) {
            self.client_write();
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
        self.note("heal all, restart all".into());
        for i in 0..self.nodes.len() {
            if self.nodes[i].zab.is_none() {
                self.start(i);
            }
        }
    }

    /// Every server's replication state, one per line, for failure reports.
    fn states(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let st = n.zab.as_ref().map_or("down".into(), |z| z.describe());
                format!("\n  {st}")
            })
            .collect()
    }

    fn final_checks(&mut self) -> Result<(), String> {
        let leaders: Vec<Sid> = self
            .nodes
            .iter()
            .filter(|n| {
                n.zab
                    .as_ref()
                    .is_some_and(|z| matches!(z.role(), Role::Leading { .. }))
            })
            .map(|n| n.sid)
            .collect();
        let [leader] = leaders[..] else {
            return Err(format!(
                "after healing, leaders are {leaders:?}{}",
                self.states()
            ));
        };
        for n in &self.nodes {
            let role = n.zab.as_ref().map(|z| z.role());
            let ok = match role {
                Some(Role::Leading { .. }) => true,
                Some(Role::Following { leader: l }) | Some(Role::Observing { leader: l }) => {
                    l == leader
                }
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "after healing, s{} is {role:?}{}",
                    n.sid,
                    self.states()
                ));
            }
            if n.sm != self.chain {
                return Err(format!(
                    "s{} holds {} entries, the committed chain {} (first difference at {:?})",
                    n.sid,
                    n.sm.len(),
                    self.chain.len(),
                    n.sm.iter().zip(&self.chain).position(|(a, b)| a != b)
                ));
            }
        }
        let mut last_seq: BTreeMap<u32, u32> = BTreeMap::new();
        let mut acked = self.acked.clone();
        acked.sort();
        for (zxid, client, seq, h) in acked {
            match self.chain.binary_search_by_key(&zxid, |x| x.0) {
                Ok(k) if self.chain[k].1 == h => {}
                _ => {
                    return Err(format!(
                        "acknowledged write {zxid:#x} (client {client} seq {seq}) lost"
                    ))
                }
            }
            if let Some(prev) = last_seq.insert(client, seq) {
                if prev >= seq {
                    return Err(format!(
                        "client {client}'s writes out of order at seq {seq}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Runs one seeded simulation; on failure, the message ends with the last
/// events before it.
pub fn run(seed: u64, opts: &Options) -> Result<Report, String> {
    let mut w = World::new(seed, opts.clone());
    let fault_end = opts.fault_ms;
    let writes_end = opts.fault_ms + opts.quiet_ms / 2;
    let end = opts.fault_ms + opts.quiet_ms;
    while w.now < end {
        if w.now < fault_end && w.now + STEP_MS >= fault_end {
            w.heal();
        }
        let (faults, writes) = (w.now + STEP_MS < fault_end, w.now < writes_end);
        w.step(faults, writes);
        if w.failure.is_some() {
            break;
        }
    }
    let result = match w.failure.take() {
        Some(f) => Err(f),
        None => w.final_checks(),
    };
    match result {
        Ok(()) => {
            w.report.committed = w.chain.len();
            w.report.acked = w.acked.len();
            w.report.epochs = w.leaders.len();
            Ok(w.report)
        }
        Err(e) => {
            let trace: Vec<String> = w.trace.into_iter().collect();
            Err(format!(
                "seed {seed}: {e}\nlast events:\n  {}",
                trace.join("\n  ")
            ))
        }
    }
}
