//! Request → txn: every check ZooKeeper's `PrepRequestProcessor` makes, in
//! the same order so the same error wins, against a view of the latest state.
//!
//! A multi is prepped op by op against an overlay holding the effects of its
//! earlier ops (ZooKeeper's outstanding change records); the first failure
//! turns the whole multi into error results.

use super::acl::{self, AuthInfo};
use super::path;
use super::tree::{self, AclList, DataTree, CONTAINER_OWNER, MAX_TTL_MS};
use super::txn::TxnOp;
use super::SessionId;
use jute::codes::{create_mode, op, perms, Code};
use jute::multi::MultiOp;
use jute::{Acl, CreateRequest};
use std::collections::HashMap;
use std::sync::Arc;

/// What prep needs to know about a node.
#[derive(Debug, Clone)]
pub struct NodeView {
    pub acl: AclList,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub owner: i64,
    pub num_children: usize,
}

/// Read access to the latest state, committed or only prepped.
pub trait View {
    fn node(&self, path: &str) -> Option<NodeView>;
}

impl View for DataTree {
    fn node(&self, path: &str) -> Option<NodeView> {
        self.get(path).map(|n| NodeView {
            acl: n.acl.clone(),
            version: n.version,
            cversion: n.cversion,
            aversion: n.aversion,
            owner: n.owner,
            num_children: n.num_children,
        })
    }
}

/// The tree plus the effects of a multi's earlier ops.
struct Overlay<'a> {
    base: &'a dyn View,
    changed: HashMap<String, Option<NodeView>>,
}

impl View for Overlay<'_> {
    fn node(&self, path: &str) -> Option<NodeView> {
        match self.changed.get(path) {
            Some(v) => v.clone(),
            None => self.base.node(path),
        }
    }
}

impl Overlay<'_> {
    fn record(&mut self, op: &TxnOp) {
        match op {
            TxnOp::Create {
                path,
                acl,
                owner,
                parent_cversion,
                ..
            } => {
                let parent = path::parent(path).to_string();
                if let Some(mut p) = self.node(&parent) {
                    p.cversion = *parent_cversion;
                    p.num_children += 1;
                    self.changed.insert(parent, Some(p));
                }
                let n = NodeView {
                    acl: Arc::from(acl.as_slice()),
                    version: 0,
                    cversion: 0,
                    aversion: 0,
                    owner: *owner,
                    num_children: 0,
                };
                self.changed.insert(path.clone(), Some(n));
            }
            TxnOp::Delete { path } => {
                let parent = path::parent(path).to_string();
                if let Some(mut p) = self.node(&parent) {
                    p.num_children = p.num_children.saturating_sub(1);
                    self.changed.insert(parent, Some(p));
                }
                self.changed.insert(path.clone(), None);
            }
            TxnOp::SetData { path, version, .. } => {
                if let Some(mut n) = self.node(path) {
                    n.version = *version;
                    self.changed.insert(path.clone(), Some(n));
                }
            }
            TxnOp::SetAcl { path, acl, version } => {
                if let Some(mut n) = self.node(path) {
                    n.aversion = *version;
                    n.acl = Arc::from(acl.as_slice());
                    self.changed.insert(path.clone(), Some(n));
                }
            }
            _ => {}
        }
    }
}

/// Who is asking and under which server settings.
pub struct Ctx<'a> {
    pub session: SessionId,
    pub auth: &'a AuthInfo,
    pub extended_types: bool,
}

/// A write request, decoded.
#[derive(Debug, Clone)]
pub enum WriteRequest {
    /// create (1), create2 (15) or createContainer (19).
    Create {
        op: i32,
        req: CreateRequest,
    },
    CreateTtl(jute::CreateTtlRequest),
    Delete(jute::DeleteRequest),
    SetData(jute::SetDataRequest),
    SetAcl(jute::SetAclRequest),
    Check(jute::CheckVersionRequest),
    Multi(Vec<MultiOp>),
    /// A delete the server issues for an emptied container or expired TTL
    /// node; it only goes ahead if the node is still reapable.
    Reap {
        path: String,
    },
    Reconfig,
}

fn bad_path(p: &str, sequential: bool) -> Result<(), Code> {
    path::validate(p, sequential).map_err(|_| Code::BadArguments)
}

fn get(view: &dyn View, p: &str) -> Result<NodeView, Code> {
    view.node(p).ok_or(Code::NoNode)
}

/// Version check: -1 matches any; returns the next version.
fn next_version(current: i32, expected: i32) -> Result<i32, Code> {
    if expected != -1 && expected != current {
        return Err(Code::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn create(
    view: &dyn View,
    ctx: &Ctx,
    path_in: &str,
    data: &Option<Vec<u8>>,
    acl_in: &[Acl],
    flags: i32,
    ttl: i64,
) -> Result<TxnOp, Code> {
    if !(0..=6).contains(&flags) {
        return Err(Code::BadArguments);
    }
    let is_ttl = matches!(
        flags,
        create_mode::PERSISTENT_WITH_TTL | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL
    );
    if is_ttl && !ctx.extended_types {
        return Err(Code::Unimplemented);
    }
    if is_ttl {
        if ttl <= 0 || ttl > MAX_TTL_MS {
            return Err(Code::BadArguments);
        }
    } else if ttl >= 0 {
        return Err(Code::BadArguments);
    }
    let sequential = matches!(
        flags,
        create_mode::PERSISTENT_SEQUENTIAL
            | create_mode::EPHEMERAL_SEQUENTIAL
            | create_mode::PERSISTENT_SEQUENTIAL_WITH_TTL
    );
    let ephemeral = matches!(
        flags,
        create_mode::EPHEMERAL | create_mode::EPHEMERAL_SEQUENTIAL
    );
    bad_path(path_in, sequential)?;
    if path_in == "/" && !sequential {
        // The root always exists; ZooKeeper reports it as such.
        return Err(Code::NodeExists);
    }
    let acl = acl::fixup(acl_in, ctx.auth)?;
    let parent_path = path::parent(path_in);
    let parent = get(view, parent_path)?;
    acl::check(&parent.acl, perms::CREATE, ctx.auth)?;
    let path = if sequential {
        format!("{path_in}{:010}", parent.cversion)
    } else {
        path_in.to_string()
    };
    bad_path(&path, false)?;
    if view.node(&path).is_some() {
        return Err(Code::NodeExists);
    }
    if tree::is_session_owner(parent.owner) {
        return Err(Code::NoChildrenForEphemerals);
    }
    let owner = if ephemeral {
        ctx.session
    } else if flags == create_mode::CONTAINER {
        CONTAINER_OWNER
    } else if is_ttl {
        tree::ttl_owner(ttl)
    } else {
        0
    };
    Ok(TxnOp::Create {
        path,
        data: data.clone(),
        acl,
        owner,
        parent_cversion: parent.cversion.wrapping_add(1),
    })
}

fn delete(view: &dyn View, ctx: &Ctx, p: &str, version: i32) -> Result<TxnOp, Code> {
    bad_path(p, false)?;
    if tree::is_system_path(p) {
        return Err(Code::BadArguments);
    }
    let parent = get(view, path::parent(p))?;
    acl::check(&parent.acl, perms::DELETE, ctx.auth)?;
    let node = get(view, p)?;
    next_version(node.version, version)?;
    if node.num_children > 0 {
        return Err(Code::NotEmpty);
    }
    Ok(TxnOp::Delete {
        path: p.to_string(),
    })
}

fn set_data(
    view: &dyn View,
    ctx: &Ctx,
    p: &str,
    data: &Option<Vec<u8>>,
    version: i32,
) -> Result<TxnOp, Code> {
    bad_path(p, false)?;
    let node = get(view, p)?;
    acl::check(&node.acl, perms::WRITE, ctx.auth)?;
    Ok(TxnOp::SetData {
        path: p.to_string(),
        data: data.clone(),
        version: next_version(node.version, version)?,
    })
}

fn set_acl(
    view: &dyn View,
    ctx: &Ctx,
    p: &str,
    acl_in: &[Acl],
    version: i32,
) -> Result<TxnOp, Code> {
    bad_path(p, false)?;
    let acl = acl::fixup(acl_in, ctx.auth)?;
    let node = get(view, p)?;
    acl::check(&node.acl, perms::ADMIN, ctx.auth)?;
    Ok(TxnOp::SetAcl {
        path: p.to_string(),
        acl,
        version: next_version(node.aversion, version)?,
    })
}

fn check(view: &dyn View, ctx: &Ctx, p: &str, version: i32) -> Result<TxnOp, Code> {
    bad_path(p, false)?;
    let node = get(view, p)?;
    acl::check(&node.acl, perms::READ, ctx.auth)?;
    next_version(node.version, version)?;
    Ok(TxnOp::Check {
        path: p.to_string(),
        version,
    })
}

fn reap(view: &dyn View, p: &str) -> Result<TxnOp, Code> {
    let node = get(view, p)?;
    if node.num_children > 0 {
        return Err(Code::NotEmpty);
    }
    if node.owner != CONTAINER_OWNER && tree::ttl_of(node.owner).is_none() {
        return Err(Code::BadArguments);
    }
    Ok(TxnOp::Delete {
        path: p.to_string(),
    })
}

fn single(view: &dyn View, ctx: &Ctx, req: &WriteRequest) -> Result<TxnOp, Code> {
    match req {
        WriteRequest::Create { op: o, req } => {
            // Only the createContainer opcode makes containers; ZooKeeper
            // turns the container flag on create/create2 into a plain node.
            let flags = if req.flags == create_mode::CONTAINER && *o != op::CREATE_CONTAINER {
                create_mode::PERSISTENT
            } else {
                req.flags
            };
            create(view, ctx, &req.path, &req.data, &req.acl, flags, -1)
        }
        WriteRequest::CreateTtl(r) => create(view, ctx, &r.path, &r.data, &r.acl, r.flags, r.ttl),
        WriteRequest::Delete(r) => delete(view, ctx, &r.path, r.version),
        WriteRequest::SetData(r) => set_data(view, ctx, &r.path, &r.data, r.version),
        WriteRequest::SetAcl(r) => set_acl(view, ctx, &r.path, &r.acl, r.version),
        WriteRequest::Check(r) => check(view, ctx, &r.path, r.version),
        WriteRequest::Reap { path } => reap(view, path),
        WriteRequest::Reconfig => Err(Code::ReconfigDisabled),
        WriteRequest::Multi(_) => Err(Code::BadArguments),
    }
}

fn multi_op(op: &MultiOp) -> Result<WriteRequest, Code> {
    Ok(match op {
        MultiOp::Create { op: o, req } => {
            if *o == op::CREATE_CONTAINER && req.flags != create_mode::CONTAINER {
                return Err(Code::BadArguments);
            }
            WriteRequest::Create {
                op: *o,
                req: req.clone(),
            }
        }
        MultiOp::CreateTtl(r) => WriteRequest::CreateTtl(r.clone()),
        MultiOp::Delete(r) => WriteRequest::Delete(r.clone()),
        MultiOp::SetData(r) => WriteRequest::SetData(r.clone()),
        MultiOp::Check(r) => WriteRequest::Check(r.clone()),
        MultiOp::GetData(_) | MultiOp::GetChildren(_) => return Err(Code::BadArguments),
    })
}

/// Preps a write. Errors come back as `TxnOp::Error` (or a multi of
/// errors): a failed write is still a txn, as in ZooKeeper.
pub fn prep(view: &dyn View, ctx: &Ctx, req: &WriteRequest) -> TxnOp {
    match req {
        WriteRequest::Multi(ops) => {
            let mut overlay = Overlay {
                base: view,
                changed: HashMap::new(),
            };
            let mut out = Vec::with_capacity(ops.len());
            for (i, o) in ops.iter().enumerate() {
                match multi_op(o).and_then(|w| single(&overlay, ctx, &w)) {
                    Ok(t) => {
                        overlay.record(&t);
                        out.push(t);
                    }
                    Err(code) => {
                        let mut failed: Vec<TxnOp> = vec![TxnOp::Error(Code::Ok); i];
                        failed.push(TxnOp::Error(code));
                        failed.resize(ops.len(), TxnOp::Error(Code::RuntimeInconsistency));
                        return TxnOp::Multi(failed);
                    }
                }
            }
            TxnOp::Multi(out)
        }
        other => single(view, ctx, other).unwrap_or_else(TxnOp::Error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::{DeleteRequest, Id};

    fn open() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]
    }

    fn create_req(path: &str, flags: i32) -> MultiOp {
        MultiOp::Create {
            op: op::CREATE,
            req: CreateRequest {
                path: path.into(),
                data: None,
                acl: open(),
                flags,
            },
        }
    }

    #[test]
    fn multi_sees_its_own_earlier_ops_and_fails_atomically() {
        let tree = DataTree::new();
        let auth = AuthInfo::default();
        let ctx = Ctx {
            session: 7,
            auth: &auth,
            extended_types: true,
        };
        let ok = prep(
            &tree,
            &ctx,
            &WriteRequest::Multi(vec![create_req("/a", 0), create_req("/a/b", 0)]),
        );
        assert!(matches!(&ok, TxnOp::Multi(v) if v.len() == 2 && !ok.is_failed_multi()));

        let failed = prep(
            &tree,
            &ctx,
            &WriteRequest::Multi(vec![
                create_req("/a", 0),
                MultiOp::Delete(DeleteRequest {
                    path: "/missing".into(),
                    version: -1,
                }),
                create_req("/c", 0),
            ]),
        );
        assert_eq!(
            failed,
            TxnOp::Multi(vec![
                TxnOp::Error(Code::Ok),
                TxnOp::Error(Code::NoNode),
                TxnOp::Error(Code::RuntimeInconsistency)
            ])
        );
    }

    #[test]
    fn sequential_names_use_the_parent_creation_counter() {
        let tree = DataTree::new();
        let auth = AuthInfo::default();
        let ctx = Ctx {
            session: 7,
            auth: &auth,
            extended_types: true,
        };
        let t = prep(
            &tree,
            &ctx,
            &WriteRequest::Multi(vec![
                create_req("/q-", create_mode::PERSISTENT_SEQUENTIAL),
                create_req("/q-", create_mode::PERSISTENT_SEQUENTIAL),
            ]),
        );
        let TxnOp::Multi(ops) = t else {
            panic!("not a multi")
        };
        let names: Vec<_> = ops
            .iter()
            .map(|o| match o {
                TxnOp::Create { path, .. } => path.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        // The root already has one child (/zookeeper) created outside txns,
        // so its stored counter starts at 0.
        assert_eq!(names, vec!["/q-0000000000", "/q-0000000001"]);
    }
}
