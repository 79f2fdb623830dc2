//! Real-process ensemble tests: 3- and 5-server corral ensembles started
//! from zoo.cfg files on loopback, driven by `zookeeper-client` sessions
//! while servers are killed, stopped and partitioned, then checked for
//! agreement and against the recorded client history (issue 4).
//!
//! * `three_servers_stay_consistent_under_faults` and
//!   `five_servers_stay_consistent_under_faults`: concurrent writers and
//!   readers record every operation in a [`History`] while the leader is
//!   SIGKILLed (and restarted), a follower and then the leader are
//!   SIGSTOPped (and continued), and a minority holding the leader is cut off
//!   by the peer-link proxies (connections dropped, then frozen), then a
//!   follower alone. Afterwards every server must hold the same
//!   values and znode stats, and the history must be linearizable per key
//!   with per-session monotonic reads.
//! * `leader_is_reelected_within_two_election_timeouts`: time from the
//!   leader's SIGKILL until a survivor reports `Mode: leader`.
//! * `sessions_are_global`: ephemerals, close, session moves, `sync` and
//!   expiry across servers.
//! * `the_checks_catch_writes_lost_with_a_wiped_disk`: the final reads and
//!   the history checks do fail when acknowledged writes are lost.
//!
//! Every wait is bounded; servers are killed on drop, also on panic.

#[path = "support/ensemble.rs"]
mod ensemble;
#[path = "support/history.rs"]
mod history;
#[path = "support/proxy.rs"]
mod proxy;

// Links the tokio spawner that zookeeper-client finds through `spawns`.
use spawns as _;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ensemble::{connect, session_location, Ensemble, EnsembleOpts, Id, Mode};
use history::{check_all, summary, History, Kind, Op, OpId, Outcome};
use proxy::Cut;
use zookeeper_client as zk;

/// Bound on anything a healthy ensemble should do in well under a second
/// (electing, rejoining, catching up), generous for a loaded 2-core machine.
const SETTLE: Duration = Duration::from_secs(20);

/// Session timeout the workload asks for: the default maximum of 20 ticks,
/// so expiry is quick enough to happen during the faults.
const WORKLOAD_SESSION: Duration = Duration::from_millis(4000);

/// A workload request not answered by then is recorded as `Unknown`.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// The registers the workload writes and reads.
const KEYS: usize = 4;

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

fn ephemeral() -> zk::CreateOptions<'static> {
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all())
}

/// A session of the checks and setup steps (10 s timeout) on `servers`,
/// established within 15 s.
async fn session(servers: &str) -> Result<zk::Client, String> {
    connect(servers, Duration::from_secs(10), Duration::from_secs(15)).await
}

/// Milliseconds since `t0`, for the test's progress log.
fn ms(t0: Instant) -> u128 {
    t0.elapsed().as_millis()
}

// ---------------------------------------------------------------------------
// Workload
// ---------------------------------------------------------------------------

/// A small xorshift generator: deterministic per worker, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What every worker shares.
struct Shared {
    history: Arc<History>,
    stop: AtomicBool,
    /// Values are unique across all keys (the checker needs them unique
    /// per key).
    next_value: AtomicU64,
    /// One history client id per session.
    next_client: AtomicU32,
    keys: Vec<String>,
    /// The connect string listing every server.
    servers: String,
    addrs: Vec<SocketAddr>,
}

/// Concurrent clients recording every operation until stopped.
struct Workload {
    shared: Arc<Shared>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// How a request ended, for the worker's loop.
enum Next {
    /// Go on with the same session.
    Continue,
    /// Something failed: pause briefly before the next request.
    Backoff,
    /// The session is gone (expired or closed): start a new one.
    NewSession,
}

impl Workload {
    /// Starts `workers` clients; worker `k` first tries to get a session on
    /// server `k % n`, so every server has clients.
    fn start(ens: &Ensemble, keys: &[String], workers: usize) -> Workload {
        let shared = Arc::new(Shared {
            history: Arc::new(History::new()),
            stop: AtomicBool::new(false),
            next_value: AtomicU64::new(1),
            next_client: AtomicU32::new(1),
            keys: keys.to_vec(),
            servers: ens.connect_string(),
            addrs: ens.client_addrs(),
        });
        let tasks = (0..workers)
            .map(|k| tokio::spawn(worker(k, shared.clone())))
            .collect();
        Workload { shared, tasks }
    }

    fn history(&self) -> &History {
        &self.shared.history
    }

    /// Acknowledged writes so far.
    fn ok_writes(&self) -> usize {
        self.history()
            .ops()
            .iter()
            .filter(|op| op.outcome == Outcome::Ok && matches!(op.kind, Kind::Write { .. }))
            .count()
    }

    /// Waits until `more` writes beyond `since` were acknowledged: the
    /// ensemble makes progress. Panics after `within`.
    async fn wait_progress(&self, since: usize, more: usize, within: Duration, what: &str) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.ok_writes();
            if now >= since + more {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no progress {what}: {} acknowledged writes in {within:?}, wanted {more}; {}",
                now - since,
                summary(&self.history().ops())
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the workers and waits for them (each ends after its current
    /// request, which is bounded by [`OP_TIMEOUT`]); their sessions close
    /// as their clients drop. Returns the history.
    async fn stop(self) -> Vec<Op> {
        self.shared.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            tokio::time::timeout(OP_TIMEOUT + Duration::from_secs(15), t)
                .await
                .expect("a workload task did not stop")
                .expect("a workload task panicked");
        }
        self.shared.history.ops()
    }
}

/// Connects a session, trying a few times to land on `preferred` (the
/// client shuffles the connect string), then takes whatever it got.
async fn connect_preferring(sh: &Shared, preferred: SocketAddr) -> Option<zk::Client> {
    for attempt in 0..6 {
        let client = connect(&sh.servers, WORKLOAD_SESSION, Duration::from_secs(8))
            .await
            .ok()?;
        if attempt == 5 || session_location(&sh.addrs, client.session_id()).await == Some(preferred)
        {
            return Some(client);
        }
    }
    None
}

/// One client: random reads and writes on the keys, each recorded in the
/// history, with a new history client id for every new session.
async fn worker(k: usize, sh: Arc<Shared>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((k as u64 + 1) * 0x0100_0000_01b3));
    let mut first = true;
    while !sh.stop.load(Ordering::SeqCst) {
        let client = if first {
            first = false;
            connect_preferring(&sh, sh.addrs[k % sh.addrs.len()]).await
        } else {
            connect(&sh.servers, WORKLOAD_SESSION, Duration::from_secs(8))
                .await
                .ok()
        };
        let Some(client) = client else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let cid = sh.next_client.fetch_add(1, Ordering::SeqCst);
        while !sh.stop.load(Ordering::SeqCst) {
            let key = &sh.keys[rng.below(sh.keys.len() as u64) as usize];
            let next = if rng.below(100) < 60 {
                write_once(&sh, &client, cid, key).await
            } else {
                read_once(&sh, &client, cid, key).await
            };
            match next {
                Next::Continue => tokio::time::sleep(Duration::from_millis(3)).await,
                Next::Backoff => tokio::time::sleep(Duration::from_millis(50)).await,
                Next::NewSession => break,
            }
        }
    }
}

/// Whether an error ends the session (every later request would fail).
fn ends_session(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::SessionExpired | zk::Error::ClientClosed | zk::Error::AuthFailed
    )
}

/// Errors that guarantee the request had no effect: the server (or the
/// client, before sending) rejected it.
fn certainly_failed(e: &zk::Error) -> bool {
    matches!(
        e,
        zk::Error::NoNode
            | zk::Error::BadVersion
            | zk::Error::NoAuth
            | zk::Error::BadArguments(_)
            | zk::Error::InvalidAcl
    )
}

/// Awaits the request recorded as `id` for at most [`OP_TIMEOUT`] and
/// completes its history entry: through `ok` when it succeeds, as failed
/// when `no_effect` holds for its error, as unknown after any other error
/// or the timeout. Says how the worker goes on.
async fn settle<T>(
    h: &History,
    id: OpId,
    request: impl Future<Output = Result<T, zk::Error>>,
    no_effect: fn(&zk::Error) -> bool,
    ok: impl FnOnce(T),
) -> Next {
    match tokio::time::timeout(OP_TIMEOUT, request).await {
        Ok(Ok(reply)) => {
            ok(reply);
            Next::Continue
        }
        Ok(Err(e)) if no_effect(&e) => {
            h.complete_failed(id);
            Next::Backoff
        }
        Ok(Err(e)) => {
            h.complete_unknown(id);
            if ends_session(&e) {
                Next::NewSession
            } else {
                Next::Backoff
            }
        }
        Err(_) => {
            h.complete_unknown(id);
            Next::Backoff
        }
    }
}

async fn write_once(sh: &Shared, client: &zk::Client, cid: u32, key: &str) -> Next {
    let value = sh.next_value.fetch_add(1, Ordering::SeqCst);
    let h = &sh.history;
    let id = h.invoke_write(cid, key, value);
    let data = value.to_string();
    let request = client.set_data(key, data.as_bytes(), None);
    settle(h, id, request, certainly_failed, |stat| {
        h.complete_write(id, Outcome::Ok, Some(stat.version))
    })
    .await
}

/// Parses a register's data: empty is the initial state; anything that is
/// not a number gets a value no write used, so the checker reports it.
fn parse_value(data: &[u8]) -> Option<u64> {
    if data.is_empty() {
        return None;
    }
    Some(
        std::str::from_utf8(data)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX),
    )
}

async fn read_once(sh: &Shared, client: &zk::Client, cid: u32, key: &str) -> Next {
    let h = &sh.history;
    let id = h.invoke_read(cid, key);
    // A read's error is never taken as proof that it had no effect.
    settle(
        h,
        id,
        client.get_data(key),
        |_| false,
        |(data, _)| h.complete_read(id, Outcome::Ok, parse_value(&data)),
    )
    .await
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// Reads every key through every server (after a `sync`, on a session
/// bound to that server alone), asserts that all servers hold identical
/// data and stats and the same children under `parent`, and returns the
/// agreed values for the history checker.
async fn read_everywhere(
    ens: &Ensemble,
    servers: &[Id],
    parent: &str,
    keys: &[String],
) -> HashMap<String, Option<u64>> {
    type View = (Vec<String>, BTreeMap<String, (Vec<u8>, zk::Stat)>);
    let mut views: Vec<(Id, View)> = Vec::new();
    for &id in servers {
        let c = session(&ens.client_addr(id))
            .await
            .unwrap_or_else(|e| panic!("final read: no session on server {id}: {e}"));
        c.sync(parent)
            .await
            .unwrap_or_else(|e| panic!("final read: sync on server {id}: {e}"));
        let mut children = c
            .list_children(parent)
            .await
            .unwrap_or_else(|e| panic!("final read: children of {parent} on server {id}: {e}"));
        children.sort();
        let mut values = BTreeMap::new();
        for key in keys {
            c.sync(key)
                .await
                .unwrap_or_else(|e| panic!("final read: sync {key} on server {id}: {e}"));
            let got = c
                .get_data(key)
                .await
                .unwrap_or_else(|e| panic!("final read: {key} on server {id}: {e}"));
            values.insert(key.clone(), got);
        }
        views.push((id, (children, values)));
    }
    let (first_id, first) = &views[0];
    for (id, view) in &views[1..] {
        assert_eq!(
            view.0, first.0,
            "servers {first_id} and {id} disagree on the children of {parent}"
        );
        for key in keys {
            let (a, b) = (&first.1[key], &view.1[key]);
            assert_eq!(
                (parse_value(&a.0), a.1),
                (parse_value(&b.0), b.1),
                "servers {first_id} and {id} disagree on {key} (value, stat)"
            );
        }
    }
    first
        .1
        .iter()
        .map(|(k, (data, _))| (k.clone(), parse_value(data)))
        .collect()
}

/// Kills the current leader and measures how long until a survivor
/// reports `Mode: leader`; asserts it is under two election timeouts.
/// Returns (old leader, new leader, time).
async fn kill_leader_and_time(ens: &mut Ensemble, leader: Id) -> (Id, Id, Duration) {
    let bound = 2 * ens.opts.election_timeout();
    let survivors: Vec<Id> = ens.ids().into_iter().filter(|&i| i != leader).collect();
    let t0 = Instant::now();
    ens.kill(leader);
    let (new, seen) = ens
        .wait_leader_among(&survivors, bound + SETTLE)
        .await
        .unwrap_or_else(|| panic!("no new leader among {survivors:?} after killing {leader}"));
    let took = seen - t0;
    assert!(
        took < bound,
        "electing a new leader after SIGKILL of leader {leader} took {took:?}, \
         over two election timeouts ({bound:?} = 2 x initLimit {} x tickTime {} ms)",
        ens.opts.init_limit,
        ens.opts.tick_ms
    );
    (leader, new, took)
}

/// Waits (up to [`SETTLE`]) until one of `among` leads and returns it;
/// panics saying `why` the others should have elected one.
async fn new_leader_among(ens: &Ensemble, among: &[Id], why: &str) -> Id {
    ens.wait_leader_among(among, SETTLE)
        .await
        .unwrap_or_else(|| panic!("no leader among {among:?} {why}"))
        .0
}

/// Creates the workload's registers (empty data: the initial state).
async fn create_keys(ens: &Ensemble, parent: &str) -> Vec<String> {
    let c = session(&ens.connect_string()).await.expect("setup session");
    c.create(parent, b"", &persistent())
        .await
        .expect("create the registers' parent");
    let mut keys = Vec::new();
    for i in 0..KEYS {
        let key = format!("{parent}/k{i}");
        c.create(&key, b"", &persistent())
            .await
            .expect("create a register");
        keys.push(key);
    }
    keys
}

/// Cuts a minority holding the leader off the others (`how`), checks that
/// the majority elects a leader and goes on while the old leader steps
/// down, then heals and waits until everyone serves again.
async fn partition_leader_minority(ens: &Ensemble, wl: &Workload, how: Cut, t0: Instant) {
    let size = ens.ids().len();
    let leader = ens.wait_roles_settled(SETTLE).await;
    let mut minority = vec![leader];
    minority.extend(
        ens.ids()
            .into_iter()
            .filter(|&i| i != leader)
            .take((size - 1) / 2 - 1),
    );
    let majority: Vec<Id> = ens
        .ids()
        .into_iter()
        .filter(|i| !minority.contains(i))
        .collect();
    ens.partition(&minority, how);
    let cut_at = Instant::now();
    eprintln!(
        "[{:>6}ms] partitioned {minority:?} from {majority:?} ({how:?})",
        ms(t0)
    );
    let why = format!("in the majority partition ({how:?})");
    let new = new_leader_among(ens, &majority, &why).await;
    eprintln!(
        "[{:>6}ms] majority leader {new} after {:?}",
        ms(t0),
        cut_at.elapsed()
    );
    let deadline = Instant::now() + SETTLE;
    loop {
        let stale = ens.leaders_among(&minority).await;
        if stale.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{stale:?} still claim leadership {SETTLE:?} after losing the quorum ({how:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "[{:>6}ms] minority stepped down after {:?}",
        ms(t0),
        cut_at.elapsed()
    );
    let before = wl.ok_writes();
    wl.wait_progress(
        before,
        20,
        SETTLE,
        &format!("in the majority partition ({how:?})"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ens.heal();
    ens.wait_roles_settled(SETTLE).await;
    eprintln!("[{:>6}ms] healed; all serving", ms(t0));
}

/// The fault scenario shared by the 3- and 5-server tests.
async fn consistent_under_faults(size: usize) {
    let t0 = Instant::now();
    let opts = EnsembleOpts::quick(size);
    let mut ens = Ensemble::start(opts.clone()).await;
    let leader = ens.wait_converged(SETTLE).await.0;
    eprintln!("[{:>6}ms] {size} servers up, leader {leader}", ms(t0));
    let parent = "/registers";
    let keys = create_keys(&ens, parent).await;
    let wl = Workload::start(&ens, &keys, 2 * size);
    wl.wait_progress(0, 30, SETTLE, "before any fault").await;

    // 1. SIGKILL the leader; the rest elect a new one and go on.
    let leader = ens.wait_roles_settled(SETTLE).await;
    let before = wl.ok_writes();
    let (old, new, took) = kill_leader_and_time(&mut ens, leader).await;
    eprintln!(
        "[{:>6}ms] killed leader {old}; {new} leads after {took:?}",
        ms(t0)
    );
    wl.wait_progress(before, 20, SETTLE, "with the old leader dead")
        .await;
    ens.restart(old).await;
    let mode = ens.wait_serving(old, SETTLE).await;
    eprintln!("[{:>6}ms] restarted {old}: {mode:?}", ms(t0));

    // 2. SIGSTOP a follower for a few seconds.
    let leader = ens.wait_roles_settled(SETTLE).await;
    let follower = ens
        .ids()
        .into_iter()
        .find(|&i| i != leader)
        .expect("a follower");
    ens.pause(follower);
    eprintln!("[{:>6}ms] stopped follower {follower}", ms(t0));
    let before = wl.ok_writes();
    tokio::time::sleep(Duration::from_secs(3)).await;
    wl.wait_progress(before, 10, SETTLE, "with a follower stopped")
        .await;
    ens.resume(follower);
    ens.wait_serving(follower, SETTLE).await;
    eprintln!("[{:>6}ms] continued follower {follower}", ms(t0));

    // 2b. SIGSTOP the leader for longer than syncLimit: the others elect a
    //     new leader and go on; continued, the old leader must not act as
    //     one (the history would show its writes) and rejoins.
    let leader = ens.wait_roles_settled(SETTLE).await;
    let others: Vec<Id> = ens.ids().into_iter().filter(|&i| i != leader).collect();
    ens.pause(leader);
    let stopped_at = Instant::now();
    let why = format!("while leader {leader} is stopped");
    let new = new_leader_among(&ens, &others, &why).await;
    eprintln!(
        "[{:>6}ms] stopped leader {leader}; {new} leads after {:?}",
        ms(t0),
        stopped_at.elapsed()
    );
    let before = wl.ok_writes();
    wl.wait_progress(before, 20, SETTLE, "with the leader stopped")
        .await;
    ens.resume(leader);
    let settled = ens.wait_roles_settled(SETTLE).await;
    eprintln!(
        "[{:>6}ms] continued old leader {leader}; {settled} leads",
        ms(t0)
    );

    // 3. Cut a minority holding the leader off the others, first dropping
    //    its connections (blackhole), then freezing them (no connection
    //    breaks; stale messages arrive on heal): each time the majority
    //    elects a new leader, the old one steps down, and all rejoin.
    partition_leader_minority(&ens, &wl, Cut::Blackhole, t0).await;
    partition_leader_minority(&ens, &wl, Cut::Freeze, t0).await;

    // 4. Refuse every connection of one follower for a while.
    let leader = ens.wait_roles_settled(SETTLE).await;
    let lone = *ens
        .ids()
        .iter()
        .rev()
        .find(|&&i| i != leader)
        .expect("a follower");
    ens.partition(&[lone], Cut::Refuse);
    eprintln!("[{:>6}ms] cut follower {lone} off (refuse)", ms(t0));
    let before = wl.ok_writes();
    tokio::time::sleep(Duration::from_secs(2)).await;
    wl.wait_progress(before, 10, SETTLE, "with a follower cut off")
        .await;
    ens.heal();
    ens.wait_roles_settled(SETTLE).await;
    eprintln!("[{:>6}ms] healed; all serving", ms(t0));

    // 5. Quiesce and check.
    let before = wl.ok_writes();
    wl.wait_progress(before, 20, SETTLE, "after healing").await;
    let ops = wl.stop().await;
    ens.assert_alive();
    let (leader, zxid) = ens.wait_converged(SETTLE).await;
    eprintln!(
        "[{:>6}ms] converged: leader {leader}, zxid {zxid:#x}; {}",
        ms(t0),
        summary(&ops)
    );
    let counts: Vec<Option<u64>> = ens
        .statuses()
        .await
        .into_iter()
        .map(|(_, s)| s.node_count)
        .collect();
    assert!(
        counts.iter().all(|c| c.is_some() && *c == counts[0]),
        "servers report different node counts: {counts:?}"
    );
    for ((dialer, listener), forwarded, _refused) in ens.proxy_counts() {
        assert!(
            forwarded > 0,
            "the proxy from {dialer} to {listener} never forwarded a connection: \
             the peer links bypass the proxies"
        );
    }
    let final_values = read_everywhere(&ens, &ens.ids(), parent, &keys).await;
    let ok = |read: bool| {
        ops.iter()
            .filter(|op| op.outcome == Outcome::Ok && matches!(op.kind, Kind::Read { .. }) == read)
            .count()
    };
    assert!(
        ok(false) > 50,
        "too few acknowledged writes: {}",
        summary(&ops)
    );
    assert!(
        ok(true) > 50,
        "too few acknowledged reads: {}",
        summary(&ops)
    );
    if let Err(e) = check_all(&ops, &final_values) {
        panic!(
            "the history is not consistent with ZooKeeper's guarantees ({}):\n{e}",
            summary(&ops)
        );
    }
    eprintln!("[{:>6}ms] history checks passed", ms(t0));
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_stay_consistent_under_faults() {
    consistent_under_faults(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_servers_stay_consistent_under_faults() {
    consistent_under_faults(5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_is_reelected_within_two_election_timeouts() {
    for size in [3, 5] {
        let mut opts = EnsembleOpts::quick(size);
        opts.proxied = false;
        let mut ens = Ensemble::start(opts).await;
        let mut leader = ens.wait_converged(SETTLE).await.0;
        let c = session(&ens.connect_string()).await.expect("setup session");
        let mut times = Vec::new();
        for round in 0..3 {
            // Some state to carry over, so the election compares real logs.
            for i in 0..20 {
                c.create(
                    &format!("/round{round}-{i}"),
                    b"x",
                    &zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all()),
                )
                .await
                .expect("create before the election");
            }
            let (old, new, took) = kill_leader_and_time(&mut ens, leader).await;
            times.push(took);
            ens.restart(old).await;
            leader = ens.wait_converged(SETTLE).await.0;
            eprintln!("{size} servers, round {round}: killed {old}, {new} led after {took:?}");
        }
        eprintln!(
            "{size} servers: election times {times:?} (bound {:?})",
            2 * ens.opts.election_timeout()
        );
    }
}

/// The session owning the ephemeral `path` as `c` (a session on `server`)
/// sees it; panics if `path` is not there.
async fn ephemeral_owner(c: &zk::Client, path: &str, server: &str) -> i64 {
    c.check_stat(path)
        .await
        .unwrap_or_else(|e| panic!("exists {path} on {server}: {e}"))
        .unwrap_or_else(|| panic!("the ephemeral {path} is not on {server}"))
        .ephemeral_owner
}

/// Polls through each (server, session) pair, after a `sync`, until
/// `path` is gone there; panics naming `what` and the server if it is
/// still there `within` after `since`.
async fn wait_gone(
    sessions: &[(&str, &zk::Client)],
    path: &str,
    since: Instant,
    within: Duration,
    what: &str,
) {
    for (who, c) in sessions {
        loop {
            c.sync(path).await.expect("sync");
            if c.check_stat(path).await.expect("exists").is_none() {
                break;
            }
            assert!(
                since.elapsed() < within,
                "{what} ({path}) is still on {who} after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_global() {
    let mut opts = EnsembleOpts::quick(3);
    opts.proxied = false;
    // Long sessions, so that only a close (not an expiry) can explain an
    // ephemeral disappearing within the waits below.
    opts.max_session_timeout_ms = Some(30_000);
    let session = Duration::from_secs(20);
    let gone_within = Duration::from_secs(8);
    let mut ens = Ensemble::start(opts).await;
    let leader = ens.wait_converged(SETTLE).await.0;
    let followers: Vec<Id> = ens.ids().into_iter().filter(|&i| i != leader).collect();
    let (f1, f2) = (followers[0], followers[1]);
    let addrs: Vec<String> = ens.ids().iter().map(|&i| ens.client_addr(i)).collect();
    let on = |id: Id| addrs[id - 1].clone();
    let wait = Duration::from_secs(15);

    // An ephemeral created through a follower is the leader's too.
    let a = connect(&on(f1), session, wait)
        .await
        .expect("session on f1");
    assert_eq!(ens.where_is(a.session_id()).await, Some(f1));
    a.create("/eph-a", b"a", &ephemeral())
        .await
        .expect("create an ephemeral through a follower");
    let at_leader = connect(&on(leader), session, wait)
        .await
        .expect("session on the leader");
    let owner = ephemeral_owner(&at_leader, "/eph-a", "the leader").await;
    assert_eq!(owner, a.session_id().0);
    let at_f2 = connect(&on(f2), session, wait)
        .await
        .expect("session on f2");
    at_f2.sync("/eph-a").await.expect("sync on f2");
    let owner = ephemeral_owner(&at_f2, "/eph-a", "the other follower").await;
    assert_eq!(owner, a.session_id().0);

    // Closing the session (dropping its only client) removes it everywhere,
    // well before the session could have expired.
    drop(a);
    let closed_at = Instant::now();
    let everywhere = [("the leader", &at_leader), ("follower f2", &at_f2)];
    let what = "the closed session's ephemeral";
    wait_gone(&everywhere, "/eph-a", closed_at, gone_within, what).await;
    let at_f1 = connect(&on(f1), session, wait)
        .await
        .expect("session on f1");
    at_f1.sync("/eph-a").await.expect("sync on f1");
    assert!(
        at_f1
            .check_stat("/eph-a")
            .await
            .expect("exists on f1")
            .is_none(),
        "the closed session's ephemeral is still on f1"
    );
    drop(at_f1);
    eprintln!(
        "closed session's ephemeral gone after {:?}",
        closed_at.elapsed()
    );

    // A session created on one server resumes on another when its server
    // dies: same id, its ephemeral kept, usable.
    let all = ens.connect_string();
    let mut moved = None;
    for _ in 0..40 {
        let c = connect(&all, session, wait).await.expect("session");
        if ens.where_is(c.session_id()).await == Some(f1) {
            moved = Some(c);
            break;
        }
    }
    let c = moved.expect("no session landed on follower f1 in 40 tries");
    let sid = c.session_id();
    c.create("/eph-c", b"c", &ephemeral())
        .await
        .expect("create an ephemeral through f1");
    ens.kill(f1);
    let killed_at = Instant::now();
    let stat = loop {
        match c.check_stat("/eph-c").await {
            Ok(stat) => break stat,
            Err(e) => {
                assert!(
                    !ends_session(&e),
                    "the session ended when its server died: {e}"
                );
                assert!(
                    killed_at.elapsed() < wait,
                    "the session did not resume within {wait:?}: {e}"
                );
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    };
    let stat = stat.expect("the moved session's ephemeral survives the move");
    assert_eq!(stat.ephemeral_owner, sid.0);
    assert_eq!(c.session_id(), sid, "the client got a new session");
    let now_on = ens.where_is(sid).await;
    assert!(
        now_on.is_some() && now_on != Some(f1),
        "the session should be on a surviving server, cons says {now_on:?}"
    );
    c.set_data("/eph-c", b"moved", None)
        .await
        .expect("write through the resumed session");
    at_leader.sync("/eph-c").await.expect("sync on the leader");
    let (data, stat) = at_leader
        .get_data("/eph-c")
        .await
        .expect("the moved session's ephemeral on the leader");
    assert_eq!(
        (data.as_slice(), stat.ephemeral_owner),
        (&b"moved"[..], sid.0)
    );
    eprintln!(
        "session {sid} moved from {f1} to {now_on:?} in {:?}",
        killed_at.elapsed()
    );

    // The killed follower comes back; `sync` through it, then a read, sees
    // writes just made through the other servers.
    ens.restart(f1).await;
    ens.wait_serving(f1, SETTLE).await;
    let reader = connect(&on(f1), session, wait)
        .await
        .expect("session on f1");
    assert_eq!(
        ens.status(f1).await.mode,
        Mode::Follower,
        "f1 rejoined as a follower"
    );
    let writers = [(leader, &at_leader), (f2, &at_f2)];
    at_leader
        .create("/sync-key", b"0", &persistent())
        .await
        .expect("create /sync-key");
    for i in 1..=40u32 {
        let (via, w) = writers[i as usize % 2];
        let value = i.to_string();
        let stat = w
            .set_data("/sync-key", value.as_bytes(), None)
            .await
            .unwrap_or_else(|e| panic!("write {i} through server {via}: {e}"));
        reader.sync("/sync-key").await.expect("sync through f1");
        let (data, seen) = reader.get_data("/sync-key").await.expect("read through f1");
        assert_eq!(
            (String::from_utf8_lossy(&data).into_owned(), seen.version),
            (value, stat.version),
            "sync + read through follower {f1} missed write {i} made through server {via}"
        );
    }
    assert_eq!(
        ens.status(f1).await.mode,
        Mode::Follower,
        "f1 must still be a follower, or the reads above were not through one"
    );

    // A session whose server dies and whose client can reach no other one
    // is expired by the leader after its timeout (not at once: it could
    // have moved), and its ephemeral goes everywhere.
    let tick = Duration::from_millis(ens.opts.tick_ms);
    let short = Duration::from_secs(2);
    let lone = connect(&on(f2), short, wait).await.expect("session on f2");
    assert_eq!(lone.session_timeout(), short, "negotiated session timeout");
    lone.create("/eph-lone", b"l", &ephemeral())
        .await
        .expect("create an ephemeral through f2");
    ens.kill(f2);
    let killed_at = Instant::now();
    let everywhere = [("the leader", &at_leader), ("follower f1", &reader)];
    let expiry_wait = short + SETTLE;
    let what = "the dead server's session did not expire: its ephemeral";
    wait_gone(&everywhere, "/eph-lone", killed_at, expiry_wait, what).await;
    let expired_after = killed_at.elapsed();
    assert!(
        expired_after + 3 * tick >= short,
        "the session of a dead server's client ended after {expired_after:?}, \
         before its {short:?} timeout: it could not have moved to another server"
    );
    eprintln!("session of dead server {f2} expired after {expired_after:?} (timeout {short:?})");
    drop(lone);
}

/// The harness itself can fail: writes acknowledged by a quorum are lost
/// when a member of that quorum loses its disk (an operator error ZooKeeper
/// does not survive either), and the final reads plus the history checker
/// must report it. Server 3 is down while servers 1 and 2 acknowledge the
/// writes; then 1 and 2 die, 2 comes back with an empty data dir, and 2 and
/// 3 form a quorum that never saw the writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checks_catch_writes_lost_with_a_wiped_disk() {
    let mut opts = EnsembleOpts::quick(3);
    opts.proxied = false;
    let mut ens = Ensemble::start(opts).await;
    ens.wait_converged(SETTLE).await;
    let parent = "/lost";
    let keys = create_keys(&ens, parent).await;
    let history = History::new();
    let c = session(&ens.connect_string()).await.expect("session");
    // Writes everyone has, then writes only servers 1 and 2 have.
    let mut value = 0;
    let mut write_all = |c: zk::Client, rounds: u64| {
        let keys = keys.clone();
        let history = &history;
        let start = value;
        value += rounds * keys.len() as u64;
        async move {
            for v in start..start + rounds * keys.len() as u64 {
                let key = &keys[(v % keys.len() as u64) as usize];
                let id = history.invoke_write(1, key.as_str(), v + 1);
                let stat = c
                    .set_data(key, (v + 1).to_string().as_bytes(), None)
                    .await
                    .expect("write");
                history.complete_write(id, Outcome::Ok, Some(stat.version));
            }
            c
        }
    };
    let c = write_all(c, 3).await;
    ens.kill(3);
    ens.wait_leader_among(&[1, 2], SETTLE)
        .await
        .expect("servers 1 and 2 keep a leader");
    let c = write_all(c, 3).await;
    drop(c);
    ens.kill(1);
    ens.kill(2);
    let data = &ens.node(2).data_dir;
    for entry in std::fs::read_dir(data).expect("list server 2's data dir") {
        let path = entry.expect("a data dir entry").path();
        if path.file_name().is_some_and(|n| n != "myid") {
            if path.is_dir() {
                std::fs::remove_dir_all(&path).expect("wipe server 2's data");
            } else {
                std::fs::remove_file(&path).expect("wipe server 2's data");
            }
        }
    }
    ens.restart(2).await;
    ens.restart(3).await;
    ens.wait_converged(SETTLE).await;
    let final_values = read_everywhere(&ens, &[2, 3], parent, &keys).await;
    let ops = history.ops();
    let err = check_all(&ops, &final_values)
        .expect_err("the checks must report acknowledged writes that were lost");
    eprintln!(
        "as expected, the checks report:\n{}",
        err.lines().take(6).collect::<Vec<_>>().join("\n")
    );
    assert!(
        err.contains("write order") && keys.iter().all(|k| err.contains(k.as_str())),
        "expected every key's lost writes reported, got:\n{err}"
    );
}
