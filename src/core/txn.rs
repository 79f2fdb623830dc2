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

/// Encoding of txns as ZooKeeper's own txn records (`TxnHeader` followed by
/// `CreateTxn`, `MultiTxn`, ...), so logs can be read with ZooKeeper's
/// definitions and, later, ZooKeeper's logs imported.
pub mod codec {
    use super::{Txn, TxnOp};
    use crate::core::tree::{self, CONTAINER_OWNER};
    use jute::codes::{op, Code};
    use jute::{
        CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
        CreateTxn, DecodeError, DeleteTxn, ErrorTxn, Jute, MultiTxn, Reader, SetAclTxn, SetDataTxn,
        TxnHeader,
    };

    fn body(op: &TxnOp, session: i64, out: &mut Vec<u8>) -> i32 {
        match op {
            TxnOp::CreateSession { timeout_ms } => {
                CreateSessionTxn {
                    time_out: *timeout_ms,
                }
                .write(out);
                op::CREATE_SESSION
            }
            TxnOp::CloseSession { ephemerals } => {
                CloseSessionTxn {
                    paths_to_delete: ephemerals.clone(),
                }
                .write(out);
                op::CLOSE_SESSION
            }
            TxnOp::Create {
                path,
                data,
                acl,
                owner,
                parent_cversion,
            } => {
                if *owner == CONTAINER_OWNER {
                    CreateContainerTxn {
                        path: path.clone(),
                        data: data.clone(),
                        acl: acl.clone(),
                        parent_cversion: *parent_cversion,
                    }
                    .write(out);
                    op::CREATE_CONTAINER
                } else if let Some(ttl) = tree::ttl_of(*owner) {
                    CreateTtlTxn {
                        path: path.clone(),
                        data: data.clone(),
                        acl: acl.clone(),
                        parent_cversion: *parent_cversion,
                        ttl,
                    }
                    .write(out);
                    op::CREATE_TTL
                } else {
                    // ZooKeeper records only "ephemeral"; the owner is the
                    // txn's session. corral's prep guarantees the same.
                    debug_assert!(*owner == 0 || *owner == session);
                    CreateTxn {
                        path: path.clone(),
                        data: data.clone(),
                        acl: acl.clone(),
                        ephemeral: *owner != 0,
                        parent_cversion: *parent_cversion,
                    }
                    .write(out);
                    op::CREATE
                }
            }
            TxnOp::Delete { path } => {
                DeleteTxn { path: path.clone() }.write(out);
                op::DELETE
            }
            TxnOp::SetData {
                path,
                data,
                version,
            } => {
                SetDataTxn {
                    path: path.clone(),
                    data: data.clone(),
                    version: *version,
                }
                .write(out);
                op::SET_DATA
            }
            TxnOp::SetAcl { path, acl, version } => {
                SetAclTxn {
                    path: path.clone(),
                    acl: acl.clone(),
                    version: *version,
                }
                .write(out);
                op::SET_ACL
            }
            TxnOp::Check { path, version } => {
                CheckVersionTxn {
                    path: path.clone(),
                    version: *version,
                }
                .write(out);
                op::CHECK
            }
            TxnOp::Error(c) => {
                ErrorTxn { err: c.as_i32() }.write(out);
                op::ERROR
            }
            TxnOp::Multi(ops) => {
                let txns = ops
                    .iter()
                    .map(|o| {
                        let mut data = Vec::new();
                        let txn_type = body(o, session, &mut data);
                        jute::Txn {
                            txn_type,
                            data: Some(data),
                        }
                    })
                    .collect();
                MultiTxn { txns }.write(out);
                op::MULTI
            }
        }
    }

    /// Appends the encoding of `txn` (header + record) to `out`.
    pub fn encode(txn: &Txn, out: &mut Vec<u8>) {
        let at = out.len();
        TxnHeader {
            client_id: txn.session,
            cxid: txn.cxid,
            zxid: txn.zxid,
            time: txn.time,
            txn_type: 0,
        }
        .write(out);
        let t = body(&txn.op, txn.session, out);
        // Patch the type now that the body has decided it.
        out[at + 28..at + 32].copy_from_slice(&t.to_be_bytes());
    }

    fn op_of(t: i32, r: &mut Reader<'_>, session: i64) -> Result<TxnOp, DecodeError> {
        Ok(match t {
            op::CREATE_SESSION => TxnOp::CreateSession {
                timeout_ms: CreateSessionTxn::read(r)?.time_out,
            },
            op::CLOSE_SESSION => TxnOp::CloseSession {
                ephemerals: CloseSessionTxn::read(r)?.paths_to_delete,
            },
            op::CREATE | op::CREATE2 => {
                let c = CreateTxn::read(r)?;
                TxnOp::Create {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    owner: if c.ephemeral { session } else { 0 },
                    parent_cversion: c.parent_cversion,
                }
            }
            op::CREATE_CONTAINER => {
                let c = CreateContainerTxn::read(r)?;
                TxnOp::Create {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    owner: CONTAINER_OWNER,
                    parent_cversion: c.parent_cversion,
                }
            }
            op::CREATE_TTL => {
                let c = CreateTtlTxn::read(r)?;
                TxnOp::Create {
                    path: c.path,
                    data: c.data,
                    acl: c.acl,
                    owner: tree::ttl_owner(c.ttl),
                    parent_cversion: c.parent_cversion,
                }
            }
            op::DELETE | op::DELETE_CONTAINER => TxnOp::Delete {
                path: DeleteTxn::read(r)?.path,
            },
            op::SET_DATA => {
                let s = SetDataTxn::read(r)?;
                TxnOp::SetData {
                    path: s.path,
                    data: s.data,
                    version: s.version,
                }
            }
            op::SET_ACL => {
                let s = SetAclTxn::read(r)?;
                TxnOp::SetAcl {
                    path: s.path,
                    acl: s.acl,
                    version: s.version,
                }
            }
            op::CHECK => {
                let c = CheckVersionTxn::read(r)?;
                TxnOp::Check {
                    path: c.path,
                    version: c.version,
                }
            }
            op::ERROR => TxnOp::Error(Code::from_i32(ErrorTxn::read(r)?.err)),
            op::MULTI => {
                let m = MultiTxn::read(r)?;
                let mut ops = Vec::with_capacity(m.txns.len());
                for t in m.txns {
                    let data = t.data.unwrap_or_default();
                    let mut sub = Reader::new(&data);
                    ops.push(op_of(t.txn_type, &mut sub, session)?);
                }
                TxnOp::Multi(ops)
            }
            other => return Err(DecodeError::Invalid(format!("txn type {other}"))),
        })
    }

    /// Decodes one txn from exactly `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<Txn, DecodeError> {
        let mut r = Reader::new(bytes);
        let h = TxnHeader::read(&mut r)?;
        let op = op_of(h.txn_type, &mut r, h.client_id)?;
        r.finish()?;
        Ok(Txn {
            session: h.client_id,
            cxid: h.cxid,
            zxid: h.zxid,
            time: h.time,
            op,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use jute::{Acl, Id};

        #[test]
        fn every_txn_kind_round_trips() {
            let acl = vec![Acl {
                perms: 31,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }];
            let create = |owner: i64| TxnOp::Create {
                path: "/a".into(),
                data: None,
                acl: acl.clone(),
                owner,
                parent_cversion: 3,
            };
            let ops = vec![
                TxnOp::CreateSession { timeout_ms: 4000 },
                TxnOp::CloseSession {
                    ephemerals: vec!["/e".into()],
                },
                create(0),
                create(77),
                create(CONTAINER_OWNER),
                create(tree::ttl_owner(5000)),
                TxnOp::Delete { path: "/a".into() },
                TxnOp::SetData {
                    path: "/a".into(),
                    data: Some(vec![1, 2]),
                    version: 4,
                },
                TxnOp::SetAcl {
                    path: "/a".into(),
                    acl: acl.clone(),
                    version: 1,
                },
                TxnOp::Check {
                    path: "/a".into(),
                    version: 2,
                },
                TxnOp::Error(Code::NoNode),
                TxnOp::Multi(vec![create(77), TxnOp::Delete { path: "/b".into() }]),
                TxnOp::Multi(vec![TxnOp::Error(Code::Ok), TxnOp::Error(Code::BadVersion)]),
            ];
            for (i, op) in ops.into_iter().enumerate() {
                let t = Txn {
                    session: 77,
                    cxid: i as i32,
                    zxid: 100 + i as i64,
                    time: 1_700_000_000_000,
                    op,
                };
                let mut out = Vec::new();
                encode(&t, &mut out);
                assert_eq!(decode(&out).unwrap(), t);
                assert!(decode(&out[..out.len() - 1]).is_err());
            }
        }
    }
}
