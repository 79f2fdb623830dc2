//! The server state machine: connections, sessions, the tree and watches
//! composed behind one deterministic API.
//!
//! Inputs: [`Server::connect`] (a handshake frame), [`Server::request`] (any
//! later frame), [`Server::disconnected`] and [`Server::tick`], each with the
//! current time. Outputs: txns to log ([`Server::take_txns`]) and frames or
//! closes to perform ([`Server::pop_out`]).
//!
//! Writes follow prep → apply → log → reply. A txn is applied to the tree as
//! soon as it is prepped, so the next request is prepped against it (this is
//! ZooKeeper's outstanding-changes view, for free), but every output that
//! reflects it — the reply, watch events, and any later read's reply — waits
//! in one FIFO until the shell reports the txn durable with
//! [`Server::mark_durable`]. Nobody observes a change before it is on disk,
//! and every session's replies leave in request order with watch events
//! ahead of the replies that show their change.

mod ensemble;
mod learner;
mod reply;

use super::acl::{self, AuthInfo};
use super::forward::Forward;
use super::image;
use super::prep::{self, Ctx, WriteRequest};
use super::sessions::{password_for, SessionTracker};
use super::stats::{ConnStats, ServerStats};
use super::tree::{Applied, DataTree, Node, Restorer, Trigger};
use super::txn::{Txn, TxnOp};
use super::watches::{Kind, WatchManager};
use super::{ConnId, SessionId, Zxid};
use jute::codes::{add_watch_mode, event, op, perms, state, watcher_type, xid, Code};
use jute::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use jute::*;
use reply::Body;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use tracing::{debug, info, warn};

/// Server settings the core needs (the shell maps its config onto these).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Top byte of every session id this server creates.
    pub server_id: u8,
    pub tick_ms: i64,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// `user:base64hash` of the super user, if any.
    pub super_digest: Option<String>,
    /// TTL nodes allowed (`zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    pub container_check_interval_ms: i64,
    pub container_max_per_minute: u32,
    pub container_never_used_ms: i64,
}

impl Settings {
    /// ZooKeeper's defaults for a given tick.
    pub fn with_tick(tick_ms: i64) -> Settings {
        Settings {
            server_id: 0,
            tick_ms,
            min_session_timeout_ms: (2 * tick_ms) as i32,
            max_session_timeout_ms: (20 * tick_ms) as i32,
            super_digest: None,
            extended_types: true,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_never_used_ms: 0,
        }
    }
}

/// The node and session changes of the txns taken with the same
/// [`Server::take_txns`] call, as state after them (`None` = gone): what
/// the snapshot store needs to stay current without re-applying txns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The zxid these changes bring a copy of the state to.
    pub zxid: Zxid,
    /// Each changed path with its stored record ([`image::node_record`]).
    pub nodes: Vec<(String, Option<Vec<u8>>)>,
    pub sessions: Vec<(SessionId, Option<i32>)>,
}

/// Something the shell must do on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Write a whole frame (length prefix included).
    Send { conn: ConnId, frame: Vec<u8> },
    /// Close after everything queued before it has been written.
    Close { conn: ConnId },
}

impl Out {
    /// The connection this output is for.
    pub fn conn(&self) -> ConnId {
        match self {
            Out::Send { conn, .. } | Out::Close { conn } => *conn,
        }
    }
}

struct Pending {
    needs: Zxid,
    out: Out,
    /// For replies: when the request arrived, for latency stats.
    arrived: Option<(i64, &'static str, i32)>,
}

/// One client connection as the core sees it.
#[derive(Debug, Clone)]
pub struct Conn {
    pub ip: String,
    pub session: Option<SessionId>,
    pub auth: AuthInfo,
    pub stats: ConnStats,
    /// On a learner: requests sent to the leader, answered in this order.
    waiting: VecDeque<learner::Awaited>,
    /// On a learner: requests that must wait for `waiting` to empty
    /// (reads may not overtake the session's own writes).
    held: VecDeque<learner::Held>,
}

/// Which request a reply answers, and when it arrived.
#[derive(Debug, Clone, Copy)]
struct Origin {
    conn: ConnId,
    xid: i32,
    op: i32,
    now: i64,
}

/// How a write's reply body is shaped.
#[derive(Debug, Clone)]
enum Shape {
    Create,
    Create2,
    Empty,
    SetData,
    SetAcl,
    Check(String),
    Multi(Vec<i32>),
}

/// How this server takes part in replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Alone: every output waits for the local fsync only.
    Standalone,
    /// The established leader of `epoch`: preps every write, its own
    /// clients' and forwarded ones; outputs wait for the quorum commit.
    Leader { epoch: u32 },
    /// A follower or observer: serves reads, forwards changes to the
    /// leader and answers them when they come back committed.
    Learner,
    /// Looking for a leader or syncing with one: no clients are served.
    Down,
}

/// The whole server state.
pub struct Server {
    settings: Settings,
    mode: Mode,
    /// Learner → leader messages waiting to be sent.
    forwards: Vec<Forward>,
    /// Leader → learner answers: (learner id, message).
    answers: Vec<(u64, Forward)>,
    /// Learner: sessions heard from since the last report to the leader.
    touched: BTreeSet<SessionId>,
    /// Learner: connections with a `sync` waiting for the leader.
    syncing: BTreeSet<ConnId>,
    tree: DataTree,
    sessions: SessionTracker,
    watches: WatchManager,
    conns: BTreeMap<ConnId, Conn>,
    bound: HashMap<SessionId, ConnId>,
    log: Vec<Txn>,
    outbox: VecDeque<Pending>,
    durable: Zxid,
    next_reap_ms: i64,
    session_changes: Vec<(SessionId, Option<i32>)>,
    /// Counters for four-letter words and metrics.
    pub stats: ServerStats,
}

/// Builds a length-prefixed frame from whatever `write` appends.
fn frame(write: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut out = vec![0u8; 4];
    write(&mut out);
    let len = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

fn read_body<T: Jute>(body: &[u8]) -> Result<T, Code> {
    T::read(&mut Reader::new(body)).map_err(|_| Code::MarshallingError)
}

fn op_name(op: i32) -> &'static str {
    match op {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER | op::CREATE_TTL => "CREA",
        op::DELETE => "DELE",
        op::EXISTS => "EXIS",
        op::GET_DATA => "GETD",
        op::SET_DATA => "SETD",
        op::GET_ACL => "GETA",
        op::SET_ACL => "SETA",
        op::GET_CHILDREN | op::GET_CHILDREN2 => "GETC",
        op::SYNC => "SYNC",
        op::PING => "PING",
        op::MULTI => "MULT",
        op::MULTI_READ => "MLTR",
        op::CLOSE_SESSION => "CLOS",
        op::SET_WATCHES | op::SET_WATCHES2 => "SETW",
        op::ADD_WATCH => "ADDW",
        op::REMOVE_WATCHES => "REMW",
        op::CHECK_WATCHES => "CHKW",
        op::GET_EPHEMERALS => "GETE",
        op::GET_ALL_CHILDREN_NUMBER => "GETACN",
        op::WHO_AM_I => "HOMI",
        op::AUTH => "AUTH",
        _ => "UNKN",
    }
}

/// Decodes a request that changes state; `None` for every other opcode.
fn parse_write(opc: i32, body: &[u8]) -> Option<Result<(WriteRequest, Shape), Code>> {
    Some(match opc {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => read_body::<CreateRequest>(body)
            .and_then(|req| {
                if opc == op::CREATE_CONTAINER && req.flags != jute::codes::create_mode::CONTAINER {
                    return Err(Code::BadArguments);
                }
                let shape = if opc == op::CREATE {
                    Shape::Create
                } else {
                    Shape::Create2
                };
                Ok((WriteRequest::Create { op: opc, req }, shape))
            }),
        op::CREATE_TTL => read_body(body).map(|r| (WriteRequest::CreateTtl(r), Shape::Create2)),
        op::DELETE => read_body(body).map(|r| (WriteRequest::Delete(r), Shape::Empty)),
        op::SET_DATA => read_body(body).map(|r| (WriteRequest::SetData(r), Shape::SetData)),
        op::SET_ACL => read_body(body).map(|r| (WriteRequest::SetAcl(r), Shape::SetAcl)),
        op::CHECK => read_body::<CheckVersionRequest>(body)
            .map(|r| (Shape::Check(r.path.clone()), r))
            .map(|(s, r)| (WriteRequest::Check(r), s)),
        op::MULTI => read_body::<MultiRequest>(body).and_then(|m| {
            // ZooKeeper cannot deserialize a read inside a write multi.
            if m.ops
                .iter()
                .any(|o| matches!(o, MultiOp::GetData(_) | MultiOp::GetChildren(_)))
            {
                return Err(Code::MarshallingError);
            }
            let ops = m.ops.iter().map(MultiOp::op_code).collect();
            Ok((WriteRequest::Multi(m.ops), Shape::Multi(ops)))
        }),
        op::RECONFIG => Ok((WriteRequest::Reconfig, Shape::Empty)),
        _ => return None,
    })
}

impl Server {
    /// A fresh server with an empty tree. `now_ms` seeds session ids.
    pub fn new(settings: Settings, now_ms: i64) -> Server {
        let sessions = SessionTracker::new(settings.server_id, settings.tick_ms, now_ms);
        Server {
            next_reap_ms: now_ms + settings.container_check_interval_ms,
            settings,
            mode: Mode::Standalone,
            forwards: Vec::new(),
            answers: Vec::new(),
            touched: BTreeSet::new(),
            syncing: BTreeSet::new(),
            tree: DataTree::with_hash_seed(now_ms as u64),
            sessions,
            watches: WatchManager::default(),
            conns: BTreeMap::new(),
            bound: HashMap::new(),
            log: Vec::new(),
            outbox: VecDeque::new(),
            durable: 0,
            session_changes: Vec::new(),
            stats: ServerStats::default(),
        }
    }

    /// The data tree (read-only).
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The session table (read-only).
    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    /// The watch tables (read-only).
    pub fn watches(&self) -> &WatchManager {
        &self.watches
    }

    /// Live connections.
    pub fn conns(&self) -> &BTreeMap<ConnId, Conn> {
        &self.conns
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Last zxid applied (the newest state clients can be shown once durable).
    pub fn last_zxid(&self) -> Zxid {
        self.tree.last_zxid
    }

    /// Rebuilds state from the txns a log recovered, in zxid order. Sessions
    /// come back with a full timeout from `now` (as in ZooKeeper), so their
    /// clients can re-attach; everything replayed is durable by definition.
    /// The changes stay tracked so the snapshot store can catch up on them.
    pub fn restore(&mut self, txns: &[Txn], now: i64) {
        for t in txns {
            self.apply_txn(t);
        }
        for (id, _) in self.sessions.list() {
            self.sessions.touch(id, now);
        }
        self.outbox.clear();
        self.mark_durable(self.tree.last_zxid);
    }

    /// Loads the state a snapshot store held as of `zxid`: `load` feeds
    /// the nodes (parents first) to the restorer, about `node_hint` of
    /// them; log replay continues after it.
    pub fn restore_snapshot(
        &mut self,
        zxid: Zxid,
        node_hint: usize,
        load: impl FnOnce(&mut Restorer<'_>) -> Result<(), String>,
        sessions: &[(SessionId, i32)],
        now: i64,
    ) -> Result<(), String> {
        self.tree.reserve(node_hint);
        load(&mut self.tree.restorer())?;
        for &(id, timeout) in sessions {
            self.sessions.add(id, timeout, now);
        }
        self.tree.last_zxid = zxid;
        self.tree.take_changed();
        self.session_changes.clear();
        self.mark_durable(zxid);
        Ok(())
    }

    /// The changes made by the txns handed out by the last `take_txns`.
    pub fn take_changes(&mut self) -> Changes {
        let nodes = self
            .tree
            .take_changed()
            .into_iter()
            .map(|p| {
                let record = self.tree.get(&p).map(|n| image::node_record(&n));
                (p, record)
            })
            .collect();
        Changes {
            zxid: self.tree.last_zxid,
            nodes,
            sessions: std::mem::take(&mut self.session_changes),
        }
    }

    /// Txns prepped since the last call, in zxid order, for the log.
    pub fn take_txns(&mut self) -> Vec<Txn> {
        std::mem::take(&mut self.log)
    }

    /// Everything up to `zxid` is durable: outputs waiting on it may go.
    pub fn mark_durable(&mut self, zxid: Zxid) {
        self.durable = self.durable.max(zxid);
    }

    /// Next output whose txns are durable, in FIFO order.
    pub fn pop_out(&mut self, now_ms: i64) -> Option<Out> {
        if self.outbox.front()?.needs > self.durable {
            return None;
        }
        let p = self.outbox.pop_front()?;
        if let Out::Send { conn, frame } = &p.out {
            self.stats.packets_sent += 1;
            let size = frame.len() as u64;
            self.stats.last_response_size = size;
            self.stats.max_response_size = self.stats.max_response_size.max(size);
            if self.stats.min_response_size == 0 || size < self.stats.min_response_size {
                self.stats.min_response_size = size;
            }
            if let Some(c) = self.conns.get_mut(conn) {
                c.stats.sent += 1;
                if let Some((arrived, op, cxid)) = p.arrived {
                    let lat = (now_ms - arrived).max(0) as u64;
                    self.stats.latency.add(lat);
                    c.stats.latency.add(lat);
                    c.stats.last_latency = lat;
                    c.stats.last_op = op;
                    c.stats.last_cxid = cxid;
                    c.stats.last_zxid = p.needs;
                    c.stats.last_response_ms = now_ms;
                }
            }
        }
        Some(p.out)
    }

    fn push(&mut self, needs: Zxid, out: Out, arrived: Option<(i64, &'static str, i32)>) {
        self.outbox.push_back(Pending {
            needs,
            out,
            arrived,
        });
    }

    fn reply(&mut self, at: Origin, zxid: Zxid, err: Code, body: Body) {
        let Origin { conn, xid, op, now } = at;
        let f = body.into_frame(xid, zxid, err);
        let needs = self.tree.last_zxid;
        self.push(
            needs,
            Out::Send { conn, frame: f },
            Some((now, op_name(op), xid)),
        );
    }

    fn close(&mut self, conn: ConnId) {
        let needs = self.tree.last_zxid;
        self.push(needs, Out::Close { conn }, None);
    }

    /// Closes without waiting for any txn: for connections dropped while
    /// out of service, which have seen nothing that could be undone.
    fn close_now(&mut self, conn: ConnId) {
        self.push(Zxid::MIN, Out::Close { conn }, None);
    }

    fn notify(&mut self, conn: ConnId, event_type: i32, path: &str, zxid: Zxid) {
        let hdr = ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        };
        let ev = WatcherEvent {
            event_type,
            state: state::SYNC_CONNECTED,
            path: path.to_string(),
        };
        let f = frame(|o| {
            hdr.write(o);
            ev.write(o);
        });
        let needs = self.tree.last_zxid;
        self.push(needs, Out::Send { conn, frame: f }, None);
    }

    // ---- connections -------------------------------------------------

    /// A new connection sent its handshake frame (without length prefix).
    pub fn connect(&mut self, conn: ConnId, ip: &str, body: &[u8], now: i64) {
        self.stats.packets_received += 1;
        self.conns.insert(
            conn,
            Conn {
                ip: ip.to_string(),
                session: None,
                auth: AuthInfo::for_ip(ip),
                stats: ConnStats {
                    established_ms: now,
                    received: 1,
                    last_op: "NA",
                    ..ConnStats::default()
                },
                waiting: VecDeque::new(),
                held: VecDeque::new(),
            },
        );
        if self.mode == Mode::Down {
            debug!(conn, ip, "not serving clients while out of the ensemble");
            self.close_now(conn);
            return;
        }
        let req = match ConnectRequest::read(&mut Reader::new(body)) {
            Ok(r) => r,
            Err(e) => {
                warn!(conn, ip, error = %e, "bad handshake, closing connection");
                self.close(conn);
                return;
            }
        };
        let last = self.tree.last_zxid;
        if req.last_zxid_seen > last {
            info!(
                conn,
                "refusing session request: client has seen zxid {:#x}, ours is {:#x}; client must try another server",
                req.last_zxid_seen,
                last
            );
            self.close(conn);
            return;
        }
        let timeout = req.time_out.clamp(
            self.settings.min_session_timeout_ms,
            self.settings.max_session_timeout_ms,
        );
        let read_only = req.read_only.map(|_| false);
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            self.bind(conn, id);
            if self.mode == Mode::Learner {
                self.forward_new_session(conn, id, timeout, read_only);
                return;
            }
            let zxid = self.next_zxid();
            let txn = Txn {
                session: id,
                cxid: 0,
                zxid,
                time: now,
                op: TxnOp::CreateSession {
                    timeout_ms: timeout,
                },
            };
            self.apply_txn(&txn);
            self.log.push(txn);
            debug!(
                conn,
                session = format_args!("{id:#x}"),
                timeout,
                "session created"
            );
            self.connect_response(conn, timeout, id, password_for(id), read_only);
            return;
        }
        let id = req.session_id;
        // ZooKeeper closes whatever connection serves the session first,
        // whether or not the new one proves its password.
        if let Some(old) = self.bound.get(&id).copied() {
            if old != conn {
                self.unbind(old);
                self.close(old);
            }
        }
        let valid = self
            .sessions
            .get(id)
            .is_some_and(|s| !s.closing && req.passwd.as_deref() == Some(s.password.as_slice()));
        if valid {
            // As in ZooKeeper, the timeout is negotiated again from this
            // request and the session's expiry follows it from now on.
            self.sessions.set_timeout(id, timeout);
            self.sessions.touch(id, now);
            self.touched.insert(id);
            self.bind(conn, id);
            info!(
                conn,
                session = format_args!("{id:#x}"),
                "session re-attached"
            );
            self.connect_response(conn, timeout, id, password_for(id), read_only);
        } else {
            info!(
                conn,
                session = format_args!("{id:#x}"),
                "invalid session or password: answering expired"
            );
            self.connect_response(conn, 0, 0, vec![0; 16], read_only);
            self.close(conn);
        }
    }

    fn connect_response(
        &mut self,
        conn: ConnId,
        timeout: i32,
        id: SessionId,
        passwd: Vec<u8>,
        read_only: Option<bool>,
    ) {
        let resp = ConnectResponse {
            protocol_version: 0,
            time_out: timeout,
            session_id: id,
            passwd: Some(passwd),
            read_only,
        };
        let f = frame(|o| resp.write(o));
        let needs = self.tree.last_zxid;
        self.push(needs, Out::Send { conn, frame: f }, None);
    }

    fn bind(&mut self, conn: ConnId, id: SessionId) {
        // A fresh binding starts without watches: the client re-arms them.
        self.watches.remove_session(id);
        self.bound.insert(id, conn);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(id);
        }
    }

    fn unbind(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if let Some(id) = c.session.take() {
                if self.bound.get(&id) == Some(&conn) {
                    self.bound.remove(&id);
                    self.watches.remove_session(id);
                }
            }
        }
    }

    /// The shell saw the connection end (or finished closing it).
    pub fn disconnected(&mut self, conn: ConnId) {
        self.unbind(conn);
        self.conns.remove(&conn);
    }

    // ---- time ---------------------------------------------------------

    /// Expires sessions and reaps containers and TTL nodes due at `now`.
    pub fn tick(&mut self, now: i64) {
        if !self.decides() {
            return;
        }
        for id in self.sessions.expired(now) {
            info!(session = format_args!("{id:#x}"), "session expired");
            let conn = self.bound.get(&id).copied();
            self.close_session(id, 0, conn.map(|c| (c, 0)), now, false);
            if let Some(c) = conn {
                self.unbind(c);
                self.close(c);
            }
        }
        if now >= self.next_reap_ms {
            self.next_reap_ms = now + self.settings.container_check_interval_ms.max(1);
            let per_run = (self.settings.container_max_per_minute as i64
                * self.settings.container_check_interval_ms
                / 60_000)
                .max(1) as usize;
            let due = self
                .tree
                .reapable(now, self.settings.container_never_used_ms, per_run);
            for path in due {
                let auth = AuthInfo::default();
                let ctx = Ctx {
                    session: 0,
                    auth: &auth,
                    extended_types: true,
                };
                let op = prep::prep(&self.tree, &ctx, &WriteRequest::Reap { path: path.clone() });
                if matches!(op, TxnOp::Error(_)) {
                    continue;
                }
                debug!(path, "reaping container or expired TTL node");
                self.log_txn(0, 0, op, now);
            }
        }
    }

    fn close_session(
        &mut self,
        id: SessionId,
        cxid: i32,
        reply_to: Option<(ConnId, i32)>,
        now: i64,
        reply: bool,
    ) {
        self.sessions.set_closing(id);
        let op = TxnOp::CloseSession {
            ephemerals: self.tree.ephemerals_of(id),
        };
        let zxid = self.log_txn(id, cxid, op, now);
        if let (true, Some((conn, xid))) = (reply, reply_to) {
            let at = Origin {
                conn,
                xid,
                op: op::CLOSE_SESSION,
                now,
            };
            self.reply(at, zxid, Code::Ok, Body::empty());
        }
    }

    /// Assigns the next zxid, applies, and queues the txn for the log.
    fn log_txn(&mut self, session: SessionId, cxid: i32, op: TxnOp, now: i64) -> Zxid {
        self.log_applied(session, cxid, op, now).0
    }

    /// [`Server::log_txn`], also returning what applying it did.
    fn log_applied(
        &mut self,
        session: SessionId,
        cxid: i32,
        op: TxnOp,
        now: i64,
    ) -> (Zxid, Applied) {
        let zxid = self.next_zxid();
        let txn = Txn {
            session,
            cxid,
            zxid,
            time: now,
            op,
        };
        let applied = self.apply_txn(&txn);
        self.log.push(txn);
        (zxid, applied)
    }

    /// Applies a txn to the tree and session table and queues the watch
    /// events it fires. Used for live writes and (later) log replay alike.
    pub fn apply_txn(&mut self, txn: &Txn) -> Applied {
        let mut triggers: Vec<Trigger> = Vec::new();
        let applied = self.tree.apply(txn, &mut triggers);
        match &txn.op {
            TxnOp::CreateSession { timeout_ms } => {
                self.sessions.add(txn.session, *timeout_ms, txn.time);
                self.session_changes.push((txn.session, Some(*timeout_ms)));
            }
            TxnOp::CloseSession { .. } => {
                self.sessions.remove(txn.session);
                self.watches.remove_session(txn.session);
                self.session_changes.push((txn.session, None));
            }
            _ => {}
        }
        for t in triggers {
            for s in self.watches.fire(&t) {
                if let Some(&c) = self.bound.get(&s) {
                    self.notify(c, t.event_type, &t.path, txn.zxid);
                }
            }
        }
        applied
    }

    // ---- requests -----------------------------------------------------

    /// A frame (without length prefix) from an established connection.
    pub fn request(&mut self, conn: ConnId, body: &[u8], now: i64) {
        self.stats.packets_received += 1;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.stats.received += 1;
        let Some(session) = c.session else {
            self.close(conn);
            return;
        };
        let mut r = Reader::new(body);
        let hdr = match RequestHeader::read(&mut r) {
            Ok(h) => h,
            Err(e) => {
                warn!(conn, error = %e, "undecodable request header, closing connection");
                self.close(conn);
                return;
            }
        };
        let body = &body[r.position()..];
        let at = Origin {
            conn,
            xid: hdr.xid,
            op: hdr.op,
            now,
        };
        if !self.sessions.touch(session, now) {
            self.reply(at, self.tree.last_zxid, Code::SessionExpired, Body::empty());
            self.unbind(conn);
            self.close(conn);
            return;
        }
        if self.mode == Mode::Learner {
            // Pings included: a client that only pings keeps its session.
            self.touched.insert(session);
        }
        if hdr.op == op::PING {
            let at = Origin {
                xid: xid::PING,
                ..at
            };
            self.reply(at, self.tree.last_zxid, Code::Ok, Body::empty());
            return;
        }
        if self.mode == Mode::Learner && self.must_wait(conn, hdr.op) {
            self.hold(conn, at, body);
            return;
        }
        self.dispatch(at, session, body);
    }

    /// Answers (or on a learner, forwards) one request whose turn has come.
    fn dispatch(&mut self, at: Origin, session: SessionId, body: &[u8]) {
        let (conn, xid, opc, now) = (at.conn, at.xid, at.op, at.now);
        let learner = self.mode == Mode::Learner;
        match opc {
            op::AUTH => return self.auth(at, body),
            op::CLOSE_SESSION if learner => return self.forward_close(at, session),
            op::CLOSE_SESSION => {
                self.close_session(session, xid, Some((conn, xid)), now, true);
                self.unbind(conn);
                self.close(conn);
                return;
            }
            op::SYNC if learner => return self.forward_sync(at, session, body),
            _ => {}
        }
        match parse_write(opc, body) {
            Some(Ok((_, shape))) if learner => self.forward_write(at, session, body, shape),
            Some(Ok((req, shape))) => self.write(at, session, req, shape),
            Some(Err(code)) => {
                warn!(conn, op = opc, "undecodable request body");
                self.reply(at, self.tree.last_zxid, code, Body::empty());
            }
            None => {
                let (err, out) = self.read(conn, session, opc, body);
                let zxid = self.tree.last_zxid;
                self.reply(at, zxid, err, out);
            }
        }
    }

    fn auth(&mut self, at: Origin, body: &[u8]) {
        let conn = at.conn;
        let result = read_body::<AuthPacket>(body).and_then(|p| {
            let c = self.conns.get_mut(&conn).ok_or(Code::SystemError)?;
            acl::authenticate(
                &mut c.auth,
                &p.scheme,
                p.auth.as_deref().unwrap_or(&[]),
                self.settings.super_digest.as_deref(),
            )
        });
        match result {
            Ok(()) => self.reply(at, 0, Code::Ok, Body::empty()),
            Err(_) => {
                self.stats.auth_failed += 1;
                self.reply(at, 0, Code::AuthFailed, Body::empty());
                self.unbind(conn);
                self.close(conn);
            }
        }
    }

    fn write(&mut self, at: Origin, session: SessionId, req: WriteRequest, shape: Shape) {
        let Origin { conn, xid, now, .. } = at;
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let txn_op = self.prep_op(session, &c.auth, &req);
        let (zxid, applied) = self.log_applied(session, xid, txn_op, now);
        let (err, body) = self.write_reply(&shape, applied);
        self.reply(at, zxid, err, body);
    }

    /// Turns a write into its txn against the newest state.
    fn prep_op(&self, session: SessionId, auth: &AuthInfo, req: &WriteRequest) -> TxnOp {
        let ctx = Ctx {
            session,
            auth,
            extended_types: self.settings.extended_types,
        };
        prep::prep(&self.tree, &ctx, req)
    }

    fn write_reply(&self, shape: &Shape, applied: Applied) -> (Code, Body) {
        match (shape, applied) {
            (Shape::Multi(ops), Applied::Multi(results)) => {
                let results = ops
                    .iter()
                    .zip(results)
                    .map(|(o, a)| match a {
                        Applied::Created { path, .. } if *o == op::CREATE => {
                            MultiResult::Create(CreateResponse { path })
                        }
                        Applied::Created { path, stat } => {
                            MultiResult::Create2(Create2Response { path, stat })
                        }
                        Applied::Deleted => MultiResult::Delete,
                        Applied::DataSet { stat } => MultiResult::SetData(SetDataResponse { stat }),
                        Applied::Checked => MultiResult::Check,
                        Applied::Failed(c) => MultiResult::Error(c.as_i32()),
                        _ => MultiResult::Error(Code::RuntimeInconsistency.as_i32()),
                    })
                    .collect();
                (Code::Ok, Body::of(&MultiResponse { results }))
            }
            (_, Applied::Failed(c)) => (c, Body::empty()),
            (Shape::Create, Applied::Created { path, .. }) => {
                (Code::Ok, Body::of(&CreateResponse { path }))
            }
            (Shape::Create2, Applied::Created { path, stat }) => {
                (Code::Ok, Body::of(&Create2Response { path, stat }))
            }
            (Shape::SetData, Applied::DataSet { stat }) => {
                (Code::Ok, Body::of(&SetDataResponse { stat }))
            }
            (Shape::SetAcl, Applied::AclSet { stat }) => {
                (Code::Ok, Body::of(&SetAclResponse { stat }))
            }
            (Shape::Check(p), Applied::Checked) => {
                let stat = self.tree.get(p).map(|n| n.stat()).unwrap_or_default();
                (Code::Ok, Body::of(&SetDataResponse { stat }))
            }
            (Shape::Empty, _) => (Code::Ok, Body::empty()),
            _ => (Code::SystemError, Body::empty()),
        }
    }

    // ---- reads --------------------------------------------------------

    /// Serves a non-write request; returns the reply's error and body.
    fn read(&mut self, conn: ConnId, session: SessionId, opc: i32, body: &[u8]) -> (Code, Body) {
        let result = match opc {
            op::EXISTS => read_body::<ExistsRequest>(body).and_then(|r| self.exists(session, &r)),
            op::GET_DATA => read_body::<GetDataRequest>(body)
                .and_then(|r| self.get_data_body(conn, session, &r.path, r.watch)),
            op::GET_ACL => {
                read_body::<GetAclRequest>(body).and_then(|r| self.get_acl(conn, &r.path))
            }
            op::GET_CHILDREN => read_body::<GetChildrenRequest>(body).and_then(|r| {
                self.get_children(conn, session, &r.path, r.watch)
                    .map(|(children, _)| Body::of(&GetChildrenResponse { children }))
            }),
            op::GET_CHILDREN2 => read_body::<GetChildren2Request>(body).and_then(|r| {
                self.get_children(conn, session, &r.path, r.watch)
                    .map(|(children, stat)| Body::of(&GetChildren2Response { children, stat }))
            }),
            op::GET_ALL_CHILDREN_NUMBER => {
                read_body::<GetAllChildrenNumberRequest>(body).and_then(|r| {
                    self.readable(conn, &r.path)?;
                    let total_number = self.tree.descendant_count(&r.path) as i32;
                    Ok(Body::of(&GetAllChildrenNumberResponse { total_number }))
                })
            }
            op::GET_EPHEMERALS => read_body::<GetEphemeralsRequest>(body).map(|r| {
                let prefix = r.prefix_path.trim();
                let ephemerals = self
                    .tree
                    .ephemerals_of(session)
                    .into_iter()
                    .filter(|p| prefix.is_empty() || prefix == "/" || p.starts_with(&r.prefix_path))
                    .collect();
                Body::of(&GetEphemeralsResponse { ephemerals })
            }),
            op::SYNC => {
                read_body::<SyncRequest>(body).map(|r| Body::of(&SyncResponse { path: r.path }))
            }
            op::SET_WATCHES => read_body::<SetWatches>(body).map(|w| {
                self.set_watches(
                    session,
                    w.relative_zxid,
                    &w.data_watches,
                    &w.exist_watches,
                    &w.child_watches,
                    &[],
                    &[],
                );
                Body::empty()
            }),
            op::SET_WATCHES2 => read_body::<SetWatches2>(body).map(|w| {
                self.set_watches(
                    session,
                    w.relative_zxid,
                    &w.data_watches,
                    &w.exist_watches,
                    &w.child_watches,
                    &w.persistent_watches,
                    &w.persistent_recursive_watches,
                );
                Body::empty()
            }),
            op::ADD_WATCH => read_body::<AddWatchRequest>(body).and_then(|r| {
                let kind = match r.mode {
                    add_watch_mode::PERSISTENT => Kind::Persistent,
                    add_watch_mode::PERSISTENT_RECURSIVE => Kind::Recursive,
                    _ => return Err(Code::MarshallingError),
                };
                self.watches.add(session, &r.path, kind);
                // ZooKeeper answers addWatch with an ErrorResponse of 0.
                Ok(Body::of(&ErrorResponse { err: 0 }))
            }),
            op::CHECK_WATCHES => read_body::<CheckWatchesRequest>(body)
                .and_then(|r| self.watch_op(session, &r.path, r.watcher_type, false)),
            op::REMOVE_WATCHES => read_body::<RemoveWatchesRequest>(body)
                .and_then(|r| self.watch_op(session, &r.path, r.watcher_type, true)),
            op::WHO_AM_I => {
                let client_info = self
                    .conns
                    .get(&conn)
                    .map(|c| {
                        c.auth
                            .ids
                            .iter()
                            .map(|id| ClientInfo {
                                auth_scheme: id.scheme.clone(),
                                user: acl::user_name(id),
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Body::of(&WhoAmIResponse { client_info }))
            }
            op::MULTI_READ => read_body::<MultiRequest>(body).and_then(|m| {
                if m.ops
                    .iter()
                    .any(|o| !matches!(o, MultiOp::GetData(_) | MultiOp::GetChildren(_)))
                {
                    return Err(Code::MarshallingError);
                }
                let results = m
                    .ops
                    .iter()
                    .map(|o| match o {
                        MultiOp::GetData(r) => match self.get_data(conn, session, &r.path, r.watch)
                        {
                            Ok(v) => MultiResult::GetData(v),
                            Err(c) => MultiResult::Error(c.as_i32()),
                        },
                        MultiOp::GetChildren(r) => {
                            match self.get_children(conn, session, &r.path, r.watch) {
                                Ok((children, _)) => {
                                    MultiResult::GetChildren(GetChildrenResponse { children })
                                }
                                Err(c) => MultiResult::Error(c.as_i32()),
                            }
                        }
                        _ => MultiResult::Error(Code::MarshallingError.as_i32()),
                    })
                    .collect();
                Ok(Body::of(&MultiResponse { results }))
            }),
            other => {
                warn!(conn, op = other, "unimplemented opcode");
                Err(Code::Unimplemented)
            }
        };
        match result {
            Ok(b) => (Code::Ok, b),
            Err(c) => (c, Body::empty()),
        }
    }

    fn auth_of(&self, conn: ConnId) -> AuthInfo {
        self.conns
            .get(&conn)
            .map(|c| c.auth.clone())
            .unwrap_or_default()
    }

    /// Checks the node exists and READ is granted.
    /// The node at `path`, if it exists and READ is granted.
    fn readable(&self, conn: ConnId, path: &str) -> Result<Node<'_>, Code> {
        let n = self.tree.get(path).ok_or(Code::NoNode)?;
        let auth = self.conns.get(&conn).map(|c| &c.auth).ok_or(Code::NoAuth)?;
        acl::check(n.acl, perms::READ, auth)?;
        Ok(n)
    }

    fn exists(&mut self, session: SessionId, r: &ExistsRequest) -> Result<Body, Code> {
        if r.path.contains('\0') {
            return Err(Code::BadArguments);
        }
        if r.watch {
            self.watches.add(session, &r.path, Kind::Data);
        }
        let n = self.tree.get(&r.path).ok_or(Code::NoNode)?;
        Ok(Body::of(&ExistsResponse { stat: n.stat() }))
    }

    /// getData's reply, encoded from the node in place (no copy of its
    /// data); the watch is set only when the read succeeds, as in
    /// ZooKeeper.
    fn get_data_body(
        &mut self,
        conn: ConnId,
        session: SessionId,
        path: &str,
        watch: bool,
    ) -> Result<Body, Code> {
        let n = self.readable(conn, path)?;
        let body = Body::with(|o| {
            write_buffer(o, n.data);
            n.stat().write(o);
        });
        if watch {
            self.watches.add(session, path, Kind::Data);
        }
        Ok(body)
    }

    fn get_data(
        &mut self,
        conn: ConnId,
        session: SessionId,
        path: &str,
        watch: bool,
    ) -> Result<GetDataResponse, Code> {
        let n = self.readable(conn, path)?;
        let got = GetDataResponse {
            data: n.data.map(<[u8]>::to_vec),
            stat: n.stat(),
        };
        if watch {
            self.watches.add(session, path, Kind::Data);
        }
        Ok(got)
    }

    fn get_children(
        &mut self,
        conn: ConnId,
        session: SessionId,
        path: &str,
        watch: bool,
    ) -> Result<(Vec<String>, Stat), Code> {
        let n = self.readable(conn, path)?;
        let got = (n.children(), n.stat());
        if watch {
            self.watches.add(session, path, Kind::Child);
        }
        Ok(got)
    }

    fn get_acl(&self, conn: ConnId, path: &str) -> Result<Body, Code> {
        let n = self.tree.get(path).ok_or(Code::NoNode)?;
        let auth = self.auth_of(conn);
        acl::check(n.acl, perms::READ | perms::ADMIN, &auth)?;
        let mut list = n.acl.to_vec();
        if acl::check(n.acl, perms::ADMIN, &auth).is_err() {
            // Without ADMIN, digests are hidden as ZooKeeper hides them.
            for a in &mut list {
                if a.id.scheme == "digest" {
                    let user = a.id.id.split(':').next().unwrap_or("").to_string();
                    a.id.id = format!("{user}:x");
                }
            }
        }
        Ok(Body::of(&GetAclResponse {
            acl: list,
            stat: n.stat(),
        }))
    }

    #[allow(clippy::too_many_arguments)]
    fn set_watches(
        &mut self,
        session: SessionId,
        rel: Zxid,
        data: &[String],
        exist: &[String],
        child: &[String],
        persistent: &[String],
        recursive: &[String],
    ) {
        let Some(conn) = self.bound.get(&session).copied() else {
            return;
        };
        let mut events: Vec<(i32, String)> = Vec::new();
        for p in data {
            match self.tree.get(p) {
                None => events.push((event::NODE_DELETED, p.clone())),
                Some(n) if n.mzxid > rel => events.push((event::NODE_DATA_CHANGED, p.clone())),
                Some(_) => self.watches.add(session, p, Kind::Data),
            }
        }
        for p in exist {
            match self.tree.get(p) {
                Some(_) => events.push((event::NODE_CREATED, p.clone())),
                None => self.watches.add(session, p, Kind::Data),
            }
        }
        for p in child {
            match self.tree.get(p) {
                None => events.push((event::NODE_DELETED, p.clone())),
                Some(n) if n.pzxid > rel => events.push((event::NODE_CHILDREN_CHANGED, p.clone())),
                Some(_) => self.watches.add(session, p, Kind::Child),
            }
        }
        for p in persistent {
            self.watches.add(session, p, Kind::Persistent);
        }
        for p in recursive {
            self.watches.add(session, p, Kind::Recursive);
        }
        for (e, p) in events {
            self.notify(conn, e, &p, -1);
        }
    }

    fn watch_op(
        &mut self,
        session: SessionId,
        path: &str,
        wtype: i32,
        remove: bool,
    ) -> Result<Body, Code> {
        // checkWatches counts persistent watches as data and child watches
        // (ZooKeeper keeps them in both tables); removal by type does not.
        let kinds: &[Kind] = match wtype {
            watcher_type::CHILDREN if !remove => &[Kind::Child, Kind::Persistent, Kind::Recursive],
            watcher_type::DATA if !remove => &[Kind::Data, Kind::Persistent, Kind::Recursive],
            watcher_type::CHILDREN => &[Kind::Child],
            watcher_type::DATA => &[Kind::Data],
            watcher_type::ANY => &[Kind::Data, Kind::Child, Kind::Persistent, Kind::Recursive],
            watcher_type::PERSISTENT => &[Kind::Persistent],
            watcher_type::PERSISTENT_RECURSIVE => &[Kind::Recursive],
            _ => return Err(Code::BadArguments),
        };
        let mut found = false;
        for &k in kinds {
            if remove {
                found |= self.watches.remove(session, path, k);
            } else {
                found |= self.watches.has(session, path, k);
            }
        }
        if found {
            Ok(Body::empty())
        } else {
            Err(Code::NoWatcher)
        }
    }
}
