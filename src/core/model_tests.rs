//! Random op sequences run through prep + apply and through a deliberately
//! simple model of ZooKeeper's rules; results and final state must agree.

use super::acl::AuthInfo;
use super::prep::{prep, Ctx, WriteRequest};
use super::tree::{DataTree, Trigger};
use super::txn::{Txn, TxnOp};
use jute::codes::{create_mode, op, perms, Code};
use jute::multi::MultiOp;
use jute::*;
use proptest::prelude::*;
use std::collections::BTreeMap;

const SESSION: i64 = 0x42;

#[derive(Debug, Clone)]
enum Op {
    Create {
        path: String,
        data: Vec<u8>,
        mode: i32,
    },
    Delete {
        path: String,
        version: i32,
    },
    Set {
        path: String,
        data: Vec<u8>,
        version: i32,
    },
    Multi(Vec<Op>),
}

#[derive(Debug, Clone, PartialEq)]
struct MNode {
    data: Vec<u8>,
    version: i32,
    creations: i32,
    deletions: i32,
    ephemeral: bool,
}

/// The model: a flat map of path → node, children found by prefix.
#[derive(Debug, Clone)]
struct Model {
    nodes: BTreeMap<String, MNode>,
}

fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].into(),
        None => "/".into(),
    }
}

impl Model {
    fn new() -> Model {
        let mut nodes = BTreeMap::new();
        let root = MNode {
            data: vec![],
            version: 0,
            creations: 0,
            deletions: 0,
            ephemeral: false,
        };
        nodes.insert("/".to_string(), root.clone());
        Model { nodes }
    }

    fn children(&self, p: &str) -> usize {
        self.nodes
            .keys()
            .filter(|k| k.as_str() != "/" && parent(k) == p)
            .count()
    }

    fn apply(&mut self, op: &Op) -> Result<String, Code> {
        match op {
            Op::Create { path, data, mode } => {
                let par = parent(path);
                let pn = self.nodes.get(&par).ok_or(Code::NoNode)?;
                let name = if *mode == create_mode::PERSISTENT_SEQUENTIAL
                    || *mode == create_mode::EPHEMERAL_SEQUENTIAL
                {
                    format!("{path}{:010}", pn.creations)
                } else {
                    path.clone()
                };
                if self.nodes.contains_key(&name) {
                    return Err(Code::NodeExists);
                }
                if pn.ephemeral {
                    return Err(Code::NoChildrenForEphemerals);
                }
                if let Some(pn) = self.nodes.get_mut(&par) {
                    pn.creations += 1;
                }
                let ephemeral =
                    *mode == create_mode::EPHEMERAL || *mode == create_mode::EPHEMERAL_SEQUENTIAL;
                self.nodes.insert(
                    name.clone(),
                    MNode {
                        data: data.clone(),
                        version: 0,
                        creations: 0,
                        deletions: 0,
                        ephemeral,
                    },
                );
                Ok(name)
            }
            Op::Delete { path, version } => {
                let n = self.nodes.get(path).ok_or(Code::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(Code::BadVersion);
                }
                if self.children(path) > 0 {
                    return Err(Code::NotEmpty);
                }
                self.nodes.remove(path);
                if let Some(pn) = self.nodes.get_mut(&parent(path)) {
                    pn.deletions += 1;
                }
                Ok(String::new())
            }
            Op::Set {
                path,
                data,
                version,
            } => {
                let n = self.nodes.get_mut(path).ok_or(Code::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(Code::BadVersion);
                }
                n.data = data.clone();
                n.version += 1;
                Ok(String::new())
            }
            Op::Multi(ops) => {
                let saved = self.nodes.clone();
                for o in ops {
                    if let Err(c) = self.apply(o) {
                        self.nodes = saved;
                        return Err(c);
                    }
                }
                Ok(String::new())
            }
        }
    }
}

fn open() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

fn to_multi_op(o: &Op) -> MultiOp {
    match o {
        Op::Create { path, data, mode } => MultiOp::Create {
            op: op::CREATE2,
            req: CreateRequest {
                path: path.clone(),
                data: Some(data.clone()),
                acl: open(),
                flags: *mode,
            },
        },
        Op::Delete { path, version } => MultiOp::Delete(DeleteRequest {
            path: path.clone(),
            version: *version,
        }),
        Op::Set {
            path,
            data,
            version,
        } => MultiOp::SetData(SetDataRequest {
            path: path.clone(),
            data: Some(data.clone()),
            version: *version,
        }),
        Op::Multi(_) => MultiOp::Check(CheckVersionRequest {
            path: "/".into(),
            version: -1,
        }),
    }
}

fn to_request(o: &Op) -> WriteRequest {
    match o {
        Op::Multi(ops) => WriteRequest::Multi(ops.iter().map(to_multi_op).collect()),
        other => match to_multi_op(other) {
            MultiOp::Create { op, req } => WriteRequest::Create { op, req },
            MultiOp::Delete(r) => WriteRequest::Delete(r),
            MultiOp::SetData(r) => WriteRequest::SetData(r),
            _ => WriteRequest::Reconfig,
        },
    }
}

/// Outcome as the real path reports it: Ok(name of created node or "") or
/// the first error.
fn outcome(t: &TxnOp) -> Result<String, Code> {
    match t {
        TxnOp::Error(c) => Err(*c),
        TxnOp::Create { path, .. } => Ok(path.clone()),
        TxnOp::Multi(ops) if t.is_failed_multi() => Err(ops
            .iter()
            .find_map(|o| match o {
                TxnOp::Error(c) if *c != Code::Ok => Some(*c),
                _ => None,
            })
            .unwrap_or(Code::SystemError)),
        _ => Ok(String::new()),
    }
}

fn path_strategy() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/s-", "/a/s-",
    ])
    .prop_map(str::to_string)
}

fn simple_op() -> impl Strategy<Value = Op> {
    let data = prop::collection::vec(any::<u8>(), 0..4);
    prop_oneof![
        (
            path_strategy(),
            data.clone(),
            prop::sample::select(vec![0, 1, 2, 3])
        )
            .prop_map(|(path, data, mode)| Op::Create { path, data, mode }),
        (path_strategy(), -1..3i32).prop_map(|(path, version)| Op::Delete { path, version }),
        (path_strategy(), data, -1..3i32).prop_map(|(path, data, version)| Op::Set {
            path,
            data,
            version
        }),
    ]
}

fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => simple_op(),
        1 => prop::collection::vec(simple_op(), 1..4).prop_map(Op::Multi),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn tree_agrees_with_model(ops in prop::collection::vec(any_op(), 1..40)) {
        let mut tree = DataTree::new();
        let mut model = Model::new();
        let auth = AuthInfo::default();
        let ctx = Ctx { session: SESSION, auth: &auth, extended_types: true };
        for (i, o) in ops.iter().enumerate() {
            let t = prep(&tree, &ctx, &to_request(o));
            let got = outcome(&t);
            let want = model.apply(o);
            prop_assert_eq!(&got, &want, "op {} {:?}", i, o);
            let mut trig: Vec<Trigger> = Vec::new();
            tree.apply(&Txn { session: SESSION, cxid: i as i32, zxid: i as i64 + 1, time: 0, op: t }, &mut trig);
        }
        for (p, m) in &model.nodes {
            let n = tree.get(p);
            prop_assert!(n.is_some(), "missing {}", p);
            let Some(n) = n else { continue };
            let st = n.stat();
            prop_assert_eq!(n.data.unwrap_or_default().to_vec(), m.data.clone());
            prop_assert_eq!(st.version, m.version);
            prop_assert_eq!(st.num_children as usize, model.children(p) + usize::from(p == "/"));
            if p != "/" {
                prop_assert_eq!(st.cversion, m.creations + m.deletions, "cversion of {}", p);
                prop_assert_eq!(st.ephemeral_owner, if m.ephemeral { SESSION } else { 0 });
            }
        }
        // +3 for /zookeeper, /zookeeper/quota and /zookeeper/config.
        prop_assert_eq!(tree.node_count(), model.nodes.len() + 3);
    }
}
