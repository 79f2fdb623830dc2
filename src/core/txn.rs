//! Transactions: fully resolved, idempotent descriptions of a state change.
//!
//! `prep` turns a request into a `Txn` once, against the latest state; every
//! replica (and log replay) then only applies it. Nothing in a txn depends on
//! the applying server's view: sequential names, versions, ephemeral owners
//! and times are all decided in advance.

use super::{SessionId, Zxid};
use jute::codes::Code;
use jute::Acl;

/// One logged state change with the header ZooKeeper gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    /// The session that asked for it (0 for the server's own txns).
    pub session: SessionId,
    /// The client's xid for the request.
    pub cxid: i32,
    pub zxid: Zxid,
    /// Wall-clock milliseconds chosen by the server that prepped it.
    pub time: i64,
    pub op: TxnOp,
}

/// The change itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnOp {
    CreateSession {
        timeout_ms: i32,
    },
    CloseSession {
        /// Ephemerals the session owned when it was prepped.
        ephemerals: Vec<String>,
    },
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        /// The raw ephemeralOwner: a session id, `CONTAINER_OWNER`, a TTL
        /// encoding (see `tree::ttl_owner`) or 0.
        owner: i64,
        /// The parent's creation counter after this create.
        parent_cversion: i32,
    },
    Delete {
        path: String,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        /// The node's version after the change.
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        /// The node's aversion after the change.
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    /// A failed request: logged so it consumes a zxid, as in ZooKeeper.
    Error(Code),
    /// Sub-ops applied atomically. A failed multi holds only `Error`s.
    Multi(Vec<TxnOp>),
}

impl TxnOp {
    /// True for a multi whose ops failed (nothing of it applies).
    pub fn is_failed_multi(&self) -> bool {
        matches!(self, TxnOp::Multi(ops) if ops.iter().any(|o| matches!(o, TxnOp::Error(_))))
    }
}
