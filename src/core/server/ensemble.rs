//! The server's side of replication that is not about one learner's
//! clients: its mode, zxid allocation in the leader's epoch, requests
//! forwarded by learners, and whole-state images for SNAP.

use super::{parse_write, Mode, Server};
use crate::core::acl::AuthInfo;
use crate::core::forward::Forward;
use crate::core::image::{self, Image};
use crate::core::sessions::SessionTracker;
use crate::core::tree::{AclRef, DataTree, StoredNode};
use crate::core::txn::TxnOp;
use crate::core::zab::{epoch_of, make_zxid};
use crate::core::{SessionId, Zxid};
use jute::codes::{op, Code};
use tracing::{debug, info, warn};

impl Server {
    /// The mode in force.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// True where sessions expire and containers are reaped: only one
    /// server of an ensemble may decide that.
    pub(super) fn decides(&self) -> bool {
        matches!(self.mode, Mode::Standalone | Mode::Leader { .. })
    }

    /// The zxid the next txn gets: a new leader starts its epoch's counter
    /// at 1, exactly as its Zab replica numbers proposals.
    pub(super) fn next_zxid(&self) -> Zxid {
        let last = self.tree.last_zxid;
        match self.mode {
            Mode::Leader { epoch } if epoch_of(last) < epoch => make_zxid(epoch, 1),
            _ => last + 1,
        }
    }

    /// Switches mode. Leaving service drops every client, as ZooKeeper
    /// does: replies still waiting may reflect txns the next leader never
    /// commits, so they are discarded with the connections; the sessions
    /// live on in the ensemble and the clients reconnect. A new leader
    /// gives every session a full timeout from `now`, since it cannot know
    /// when other servers last heard from their clients.
    pub fn set_mode(&mut self, mode: Mode, now: i64) {
        if mode == self.mode {
            return;
        }
        info!(from = ?self.mode, to = ?mode, "server mode");
        self.mode = mode;
        match mode {
            Mode::Down => {
                self.outbox.clear();
                self.forwards.clear();
                self.answers.clear();
                self.touched.clear();
                self.syncing.clear();
                let conns: Vec<_> = self.conns.keys().copied().collect();
                for conn in conns {
                    self.unbind(conn);
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.waiting.clear();
                        c.held.clear();
                    }
                    self.close_now(conn);
                }
            }
            Mode::Leader { .. } => {
                for (id, _) in self.sessions.list() {
                    self.sessions.touch(id, now);
                }
            }
            Mode::Learner | Mode::Standalone => {}
        }
    }

    /// Learner → leader messages to send now.
    pub fn take_forwards(&mut self) -> Vec<Forward> {
        std::mem::take(&mut self.forwards)
    }

    /// Leader → learner answers to send now: (learner id, message).
    pub fn take_answers(&mut self) -> Vec<(u64, Forward)> {
        std::mem::take(&mut self.answers)
    }

    /// Sessions this learner's clients were heard from since the last call.
    pub fn take_touched(&mut self) -> Vec<SessionId> {
        std::mem::take(&mut self.touched).into_iter().collect()
    }

    /// A learner's message, on the leader.
    pub fn on_forward(&mut self, from: u64, f: Forward, now: i64) {
        if !matches!(self.mode, Mode::Leader { .. }) {
            debug!(from, "forwarded request while not leading; dropping it");
            return;
        }
        match f {
            Forward::Request {
                session,
                cxid,
                op: opc,
                body,
                auth,
            } => self.forwarded_request(session, cxid, opc, &body, AuthInfo { ids: auth }, now),
            Forward::CreateSession {
                session,
                timeout_ms,
            } => {
                if self.sessions.get(session).is_some() {
                    warn!(
                        session = format_args!("{session:#x}"),
                        "learner asked for a session id that exists; ignoring"
                    );
                    return;
                }
                self.log_txn(session, 0, TxnOp::CreateSession { timeout_ms }, now);
            }
            Forward::Touch { sessions } => {
                for s in sessions {
                    self.sessions.touch(s, now);
                }
            }
            Forward::Sync { session, cxid } => {
                let zxid = self.tree.last_zxid;
                self.answers.push((
                    from,
                    Forward::Synced {
                        session,
                        cxid,
                        zxid,
                    },
                ));
            }
            Forward::Synced { .. } => {
                warn!(from, "a learner sent a leader's message; dropping it");
            }
        }
    }

    /// Preps a learner's write as if its client were connected here. Every
    /// forwarded request becomes exactly one txn, failures included, so the
    /// learner's queue of waiting requests always drains.
    fn forwarded_request(
        &mut self,
        session: SessionId,
        cxid: i32,
        opc: i32,
        body: &[u8],
        auth: AuthInfo,
        now: i64,
    ) {
        let live = self.sessions.get(session).is_some_and(|s| !s.closing);
        if opc == op::CLOSE_SESSION {
            if live {
                self.close_session(session, cxid, None, now, false);
            } else {
                self.log_txn(session, cxid, TxnOp::Error(Code::SessionExpired), now);
            }
            return;
        }
        let op = if !live {
            TxnOp::Error(Code::SessionExpired)
        } else {
            match parse_write(opc, body) {
                Some(Ok((req, _))) => self.prep_op(session, &auth, &req),
                Some(Err(code)) => TxnOp::Error(code),
                None => TxnOp::Error(Code::Unimplemented),
            }
        };
        self.log_txn(session, cxid, op, now);
    }

    /// The whole state, encoded for a follower's SNAP.
    pub fn image(&self) -> Vec<u8> {
        image::encode(&self.tree, &self.sessions.list())
    }

    /// Replaces the whole state with a leader's image. Only done while out
    /// of service, so no client is connected.
    pub fn install_image(&mut self, img: &Image, now: i64) -> Result<(), String> {
        let mut tree = DataTree::with_hash_seed(now as u64);
        tree.reserve(img.nodes.len());
        let mut r = tree.restorer();
        for (path, n) in &img.nodes {
            r.node(
                path,
                StoredNode {
                    stat: &n.stat,
                    data: n.data.as_deref(),
                    acl: AclRef::List(&n.acl),
                },
            )?;
        }
        tree.last_zxid = img.zxid;
        tree.take_changed();
        let mut sessions = SessionTracker::new(self.settings.server_id, self.settings.tick_ms, now);
        for &(id, timeout) in &img.sessions {
            sessions.add(id, timeout, now);
        }
        self.tree = tree;
        self.sessions = sessions;
        self.watches = Default::default();
        self.bound.clear();
        self.log.clear();
        self.session_changes.clear();
        self.mark_durable(img.zxid);
        Ok(())
    }

    /// Sets `/zookeeper/config` (the ensemble membership clients such as
    /// Curator read). Local to each server, as in ZooKeeper: not a txn.
    pub fn set_config_node(&mut self, text: &str) {
        self.tree.set_config_data(text.as_bytes().to_vec());
    }
}
