//! A follower's or observer's clients: reads are answered from the local
//! tree, changes go to the leader, and replies leave in request order.
//!
//! Each connection keeps the requests sent to the leader (`waiting`, in
//! order) and the requests that may not run yet (`held`): a read that
//! arrives while the session's own writes are out must not be answered
//! before them, or the client would read a state older than its writes.
//! Writes may be pipelined: the link to the leader is FIFO, so their txns
//! come back in the order they were sent.

use super::{Body, Conn, Origin, Server, Shape};
use crate::core::forward::Forward;
use crate::core::sessions::password_for;
use crate::core::tree::Applied;
use crate::core::txn::{Txn, TxnOp};
use crate::core::{ConnId, SessionId, Zxid};
use jute::codes::{op, Code};
use jute::{Jute, SyncRequest, SyncResponse};
use tracing::{debug, warn};

/// A request sent to the leader, waiting for its outcome.
#[derive(Debug, Clone)]
pub(super) enum Awaited {
    /// A write: answered when its txn is delivered.
    Write { at: Origin, shape: Shape },
    /// A new session's handshake: answered when its createSession is.
    Session {
        timeout: i32,
        read_only: Option<bool>,
    },
    /// A close: answered, then the connection closed.
    Close { at: Origin },
    /// A sync: answered once the leader's barrier zxid is applied here.
    Sync {
        at: Origin,
        path: String,
        target: Option<Zxid>,
    },
}

/// A request parked until the session's earlier changes are answered.
#[derive(Debug, Clone)]
pub(super) struct Held {
    at: Origin,
    body: Vec<u8>,
}

/// Requests a learner sends to the leader (everything else is local).
fn goes_to_leader(opc: i32) -> bool {
    matches!(
        opc,
        op::CREATE
            | op::CREATE2
            | op::CREATE_CONTAINER
            | op::CREATE_TTL
            | op::DELETE
            | op::SET_DATA
            | op::SET_ACL
            | op::CHECK
            | op::MULTI
            | op::RECONFIG
            | op::CLOSE_SESSION
            | op::SYNC
    )
}

/// True when a request of type `opc` must wait its turn on `c`.
fn must_wait_on(c: &Conn, opc: i32) -> bool {
    !c.held.is_empty() || (!c.waiting.is_empty() && !goes_to_leader(opc))
}

impl Server {
    pub(super) fn must_wait(&self, conn: ConnId, opc: i32) -> bool {
        self.conns.get(&conn).is_some_and(|c| must_wait_on(c, opc))
    }

    pub(super) fn hold(&mut self, conn: ConnId, at: Origin, body: &[u8]) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.held.push_back(Held {
                at,
                body: body.to_vec(),
            });
        }
    }

    fn await_leader(&mut self, conn: ConnId, a: Awaited) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.waiting.push_back(a);
        }
    }

    pub(super) fn forward_new_session(
        &mut self,
        conn: ConnId,
        session: SessionId,
        timeout: i32,
        read_only: Option<bool>,
    ) {
        self.await_leader(conn, Awaited::Session { timeout, read_only });
        self.forwards.push(Forward::CreateSession {
            session,
            timeout_ms: timeout,
        });
    }

    pub(super) fn forward_write(
        &mut self,
        at: Origin,
        session: SessionId,
        body: &[u8],
        shape: Shape,
    ) {
        let Some(c) = self.conns.get(&at.conn) else {
            return;
        };
        let auth = c.auth.ids.clone();
        self.await_leader(at.conn, Awaited::Write { at, shape });
        self.forwards.push(Forward::Request {
            session,
            cxid: at.xid,
            op: at.op,
            body: body.to_vec(),
            auth,
        });
    }

    pub(super) fn forward_close(&mut self, at: Origin, session: SessionId) {
        self.await_leader(at.conn, Awaited::Close { at });
        self.forwards.push(Forward::Request {
            session,
            cxid: at.xid,
            op: op::CLOSE_SESSION,
            body: Vec::new(),
            auth: Vec::new(),
        });
    }

    pub(super) fn forward_sync(&mut self, at: Origin, session: SessionId, body: &[u8]) {
        let path = match SyncRequest::read(&mut jute::Reader::new(body)) {
            Ok(r) => r.path,
            Err(_) => {
                self.reply(
                    at,
                    self.tree.last_zxid,
                    Code::MarshallingError,
                    Body::empty(),
                );
                return;
            }
        };
        self.await_leader(
            at.conn,
            Awaited::Sync {
                at,
                path,
                target: None,
            },
        );
        self.syncing.insert(at.conn);
        self.forwards.push(Forward::Sync {
            session,
            cxid: at.xid,
        });
    }

    /// The leader's answer to a sync: it may complete once `zxid` is here.
    pub fn synced(&mut self, session: SessionId, cxid: i32, zxid: Zxid) {
        let Some(&conn) = self.bound.get(&session) else {
            return;
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            for a in c.waiting.iter_mut() {
                if let Awaited::Sync { at, target, .. } = a {
                    if at.xid == cxid && target.is_none() {
                        *target = Some(zxid);
                        break;
                    }
                }
            }
        }
        self.settle(conn, None);
    }

    /// Applies a txn the leader committed, answering the local request it
    /// came from, if any.
    pub fn deliver(&mut self, txn: &Txn) {
        let applied = self.apply_txn(txn);
        self.mark_durable(txn.zxid);
        if self.mode != super::Mode::Learner {
            return;
        }
        let mut mine = None;
        if let Some(&conn) = self.bound.get(&txn.session) {
            if self.settle(conn, Some((txn, applied))) {
                mine = Some(conn);
            } else if matches!(txn.op, TxnOp::CloseSession { .. }) {
                // The leader expired (or another server closed) a session
                // whose client is connected here.
                debug!(
                    session = format_args!("{:#x}", txn.session),
                    "session closed by the leader; closing its connection"
                );
                self.unbind(conn);
                self.close(conn);
            }
        }
        let waiting: Vec<ConnId> = self.syncing.iter().copied().collect();
        for conn in waiting {
            if Some(conn) != mine {
                self.settle(conn, None);
            }
        }
    }

    /// Answers what is ready at the head of `conn`'s waiting queue (with
    /// `txn`, if it is the head's outcome), then runs held requests whose
    /// turn has come. Returns whether `txn` answered something.
    fn settle(&mut self, conn: ConnId, mut txn: Option<(&Txn, Applied)>) -> bool {
        let mut used = false;
        loop {
            let last = self.tree.last_zxid;
            let Some(c) = self.conns.get_mut(&conn) else {
                return used;
            };
            let ready = match (c.waiting.front(), &txn) {
                (
                    Some(Awaited::Sync {
                        target: Some(t), ..
                    }),
                    _,
                ) => *t <= last,
                (Some(Awaited::Write { at, .. }), Some((t, _))) => {
                    at.xid == t.cxid && !matches!(t.op, TxnOp::CreateSession { .. })
                }
                (Some(Awaited::Close { at }), Some((t, _))) => at.xid == t.cxid,
                (Some(Awaited::Session { .. }), Some((t, _))) => {
                    matches!(t.op, TxnOp::CreateSession { .. })
                }
                _ => false,
            };
            if !ready {
                break;
            }
            let Some(head) = c.waiting.pop_front() else {
                break;
            };
            if !c.waiting.iter().any(|a| matches!(a, Awaited::Sync { .. })) {
                self.syncing.remove(&conn);
            }
            match head {
                Awaited::Sync { at, path, .. } => {
                    self.reply(at, last, Code::Ok, Body::of(&SyncResponse { path }));
                }
                Awaited::Write { at, shape } => {
                    let Some((t, applied)) = txn.take() else {
                        break;
                    };
                    used = true;
                    let (err, body) = self.write_reply(&shape, applied);
                    self.reply(at, t.zxid, err, body);
                }
                Awaited::Close { at } => {
                    txn.take();
                    used = true;
                    self.reply(at, last, Code::Ok, Body::empty());
                    self.unbind(conn);
                    self.close(conn);
                    return used;
                }
                Awaited::Session { timeout, read_only } => {
                    let Some((t, _)) = txn.take() else {
                        break;
                    };
                    used = true;
                    let id = t.session;
                    self.connect_response(conn, timeout, id, password_for(id), read_only);
                }
            }
        }
        self.run_held(conn);
        used
    }

    /// Runs held requests in order until one has to wait again.
    fn run_held(&mut self, conn: ConnId) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(h) = c.held.front() else {
                return;
            };
            if !c.waiting.is_empty() && !goes_to_leader(h.at.op) {
                return;
            }
            let Some(h) = c.held.pop_front() else {
                return;
            };
            let Some(session) = c.session else {
                warn!(conn, "held request on a connection without a session");
                return;
            };
            self.dispatch(h.at, session, &h.body);
        }
    }
}
