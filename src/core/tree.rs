//! The data tree: znodes, their stats and ACLs, and the indexes the server
//! needs (ephemerals by session, containers, TTL nodes).
//!
//! `apply` is the only way state changes. It takes a resolved [`Txn`] and
//! reports what happened plus the watch triggers it caused; it never reads a
//! clock and never decides anything a txn has not already decided.

use super::path;
use super::txn::{Txn, TxnOp};
use super::{SessionId, Zxid};
use jute::codes::{event, Code};
use jute::{Acl, Id, Stat};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// ephemeralOwner of a container znode (`Long.MIN_VALUE`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
const TTL_MASK: i64 = 0xff << 56;
/// The largest TTL ZooKeeper's 40-bit encoding holds.
pub const MAX_TTL_MS: i64 = 0xff_ffff_ffff;

/// ZooKeeper's ephemeralOwner encoding of a TTL: top byte 0xff, 40-bit ms.
pub fn ttl_owner(ttl_ms: i64) -> i64 {
    TTL_MASK | (ttl_ms & MAX_TTL_MS)
}

/// The TTL in an ephemeralOwner, if it encodes one.
pub fn ttl_of(owner: i64) -> Option<i64> {
    (owner != CONTAINER_OWNER && owner & TTL_MASK == TTL_MASK).then_some(owner & MAX_TTL_MS)
}

/// True when `owner` names a session (a normal ephemeral).
pub fn is_session_owner(owner: i64) -> bool {
    owner != 0 && owner != CONTAINER_OWNER && ttl_of(owner).is_none()
}

/// The nodes every server has from birth; clients cannot delete them.
pub fn is_system_path(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// The stored form of an ACL list; nodes share identical lists.
pub type AclList = Arc<Vec<Acl>>;

/// One znode.
#[derive(Debug, Clone)]
pub struct Node {
    pub data: Option<Vec<u8>>,
    pub acl: AclList,
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    /// Number of children ever created (ZooKeeper's stored cversion).
    pub cversion: i32,
    pub aversion: i32,
    /// Raw ephemeralOwner (session id, container or TTL encoding, or 0).
    pub owner: i64,
    pub children: BTreeSet<String>,
}

impl Node {
    fn new(data: Option<Vec<u8>>, acl: AclList, zxid: Zxid, time: i64, owner: i64) -> Node {
        Node {
            data,
            acl,
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            owner,
            children: BTreeSet::new(),
        }
    }

    /// The Stat a client sees. cversion counts creations and deletions
    /// (stored creations × 2 − children); container and TTL owners read 0.
    pub fn stat(&self) -> Stat {
        let n = self.children.len() as i32;
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion.wrapping_mul(2).wrapping_sub(n),
            aversion: self.aversion,
            ephemeral_owner: if is_session_owner(self.owner) {
                self.owner
            } else {
                0
            },
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: self.pzxid,
        }
    }
}

/// A znode's stored state without its children: what the snapshot store
/// keeps per path (children follow from the paths themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImage {
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub pzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub owner: i64,
}

impl Node {
    /// A childless node from its stored state.
    fn from_image(img: NodeImage) -> Node {
        Node {
            data: img.data,
            acl: Arc::new(img.acl),
            czxid: img.czxid,
            mzxid: img.mzxid,
            pzxid: img.pzxid,
            ctime: img.ctime,
            mtime: img.mtime,
            version: img.version,
            cversion: img.cversion,
            aversion: img.aversion,
            owner: img.owner,
            children: BTreeSet::new(),
        }
    }

    /// This node's stored state, for the snapshot store.
    pub fn image(&self) -> NodeImage {
        NodeImage {
            data: self.data.clone(),
            acl: self.acl.as_ref().clone(),
            czxid: self.czxid,
            mzxid: self.mzxid,
            pzxid: self.pzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            owner: self.owner,
        }
    }
}

/// What one applied op did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created { path: String, stat: Stat },
    Deleted,
    DataSet { stat: Stat },
    AclSet { stat: Stat },
    Checked,
    SessionCreated,
    SessionClosed,
    Failed(Code),
    Multi(Vec<Applied>),
}

/// A change a watcher may be waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    pub path: String,
    pub event_type: i32,
}

/// The znode tree.
#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: HashMap<String, Node>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    data_bytes: u64,
    /// Paths changed since the last `take_changed` (may repeat).
    changed: Vec<String>,
    /// The zxid of the last applied txn.
    pub last_zxid: Zxid,
}

fn open_acl() -> AclList {
    Arc::new(vec![Acl {
        perms: jute::codes::perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }])
}

impl Default for DataTree {
    fn default() -> Self {
        Self::new()
    }
}

impl DataTree {
    /// A tree with ZooKeeper's system nodes: `/`, `/zookeeper`,
    /// `/zookeeper/quota` and `/zookeeper/config` (read-only to clients).
    pub fn new() -> DataTree {
        let mut t = DataTree {
            nodes: HashMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_bytes: 0,
            changed: Vec::new(),
            last_zxid: 0,
        };
        let open = open_acl();
        let read_only = Arc::new(vec![Acl {
            perms: jute::codes::perms::READ,
            id: Id {
                scheme: "world".into(),
                id: "anyone".into(),
            },
        }]);
        for (p, acl) in [
            ("/", open.clone()),
            ("/zookeeper", open.clone()),
            ("/zookeeper/quota", open),
            ("/zookeeper/config", read_only),
        ] {
            let mut node = Node::new(Some(Vec::new()), acl, 0, 0, 0);
            if p == "/zookeeper/config" {
                // ZooKeeper sets this ACL with a setACL at startup, which
                // leaves aversion at -1.
                node.aversion = -1;
            }
            t.nodes.insert(p.into(), node);
            if p != "/" {
                if let Some(parent) = t.nodes.get_mut(path::parent(p)) {
                    parent.children.insert(path::name(p).into());
                }
            }
        }
        t
    }

    /// Paths changed since the last call, each once, sorted.
    pub fn take_changed(&mut self) -> Vec<String> {
        let mut v = std::mem::take(&mut self.changed);
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Makes room for `additional` more nodes at once, so a restart that
    /// loads a whole snapshot does not rehash the table again and again.
    pub fn reserve(&mut self, additional: usize) {
        self.nodes.reserve(additional);
    }

    /// Puts back a node read from the snapshot store. Parents must come
    /// before their children (lexicographic path order guarantees it); the
    /// system nodes are overwritten in place.
    pub fn restore_node(&mut self, path: &str, img: NodeImage) -> Result<(), String> {
        let node = Node::from_image(img);
        let new_bytes = node.data.as_ref().map_or(0, Vec::len) as u64;
        if let Some(n) = self.nodes.get_mut(path) {
            let old = n.data.as_ref().map_or(0, Vec::len) as u64;
            let children = std::mem::take(&mut n.children);
            *n = Node { children, ..node };
            self.data_bytes = self.data_bytes - old + new_bytes;
            return Ok(());
        }
        let parent = self
            .nodes
            .get_mut(path::parent(path))
            .ok_or_else(|| format!("node {path} has no parent"))?;
        parent.children.insert(path::name(path).to_string());
        self.data_bytes += path.len() as u64 + new_bytes;
        self.index_owner(path, node.owner);
        self.nodes.insert(path.to_string(), node);
        Ok(())
    }

    /// Records a new node in the ephemeral, container or TTL index its
    /// owner puts it in.
    fn index_owner(&mut self, path: &str, owner: i64) {
        if owner == CONTAINER_OWNER {
            self.containers.insert(path.to_string());
        } else if ttl_of(owner).is_some() {
            self.ttls.insert(path.to_string());
        } else if owner != 0 {
            self.ephemerals
                .entry(owner)
                .or_default()
                .insert(path.to_string());
        }
    }

    /// Every node, parents before children (for whole-state images).
    pub fn nodes_in_path_order(&self) -> Vec<(&str, &Node)> {
        let mut v: Vec<(&str, &Node)> = self.nodes.iter().map(|(p, n)| (p.as_str(), n)).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(b.0));
        v
    }

    /// Sets `/zookeeper/config`'s data in place: server-local state that no
    /// txn, zxid or snapshot records.
    pub fn set_config_data(&mut self, data: Vec<u8>) {
        if let Some(n) = self.nodes.get_mut("/zookeeper/config") {
            let old = n.data.as_ref().map_or(0, Vec::len) as u64;
            self.data_bytes = self.data_bytes - old + data.len() as u64;
            n.data = Some(data);
        }
    }

    /// Looks a znode up by its full path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Number of znodes, system nodes included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Total bytes of data and paths (ZooKeeper's approximate_data_size).
    pub fn approximate_data_size(&self) -> u64 {
        self.data_bytes
    }

    /// Ephemerals of one session, sorted.
    pub fn ephemerals_of(&self, session: SessionId) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// All sessions that own ephemerals, with their paths (for `dump`).
    pub fn all_ephemerals(&self) -> &BTreeMap<SessionId, BTreeSet<String>> {
        &self.ephemerals
    }

    /// Total ephemeral count.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// Containers and TTL nodes due for deletion at `now_ms`: containers that
    /// had children and have none (or never had any for longer than
    /// `never_used_ms`, when that is non-zero), TTL nodes without children
    /// unchanged for longer than their TTL. Sorted, at most `limit`.
    pub fn reapable(&self, now_ms: i64, never_used_ms: i64, limit: usize) -> Vec<String> {
        let mut out = Vec::new();
        for p in &self.containers {
            let Some(n) = self.nodes.get(p) else { continue };
            if !n.children.is_empty() {
                continue;
            }
            let used = n.cversion > 0;
            if used || (never_used_ms > 0 && now_ms - n.mtime > never_used_ms) {
                out.push(p.clone());
            }
        }
        for p in &self.ttls {
            let Some(n) = self.nodes.get(p) else { continue };
            let Some(ttl) = ttl_of(n.owner) else { continue };
            if n.children.is_empty() && now_ms - n.mtime > ttl {
                out.push(p.clone());
            }
        }
        out.sort();
        out.truncate(limit);
        out
    }

    /// Counts every node below `path` (not itself).
    pub fn descendant_count(&self, path: &str) -> usize {
        let mut stack = vec![path.to_string()];
        let mut count = 0;
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(&p) {
                for c in &n.children {
                    count += 1;
                    stack.push(path::join(&p, c));
                }
            }
        }
        count
    }

    /// Applies a txn, appending the watch triggers it causes to `triggers`.
    pub fn apply(&mut self, txn: &Txn, triggers: &mut Vec<Trigger>) -> Applied {
        if txn.zxid > self.last_zxid {
            self.last_zxid = txn.zxid;
        }
        self.apply_op(&txn.op, txn, triggers)
    }

    fn apply_op(&mut self, op: &TxnOp, txn: &Txn, triggers: &mut Vec<Trigger>) -> Applied {
        match op {
            TxnOp::CreateSession { .. } => Applied::SessionCreated,
            TxnOp::CloseSession { ephemerals } => {
                for p in ephemerals {
                    let _ = self.delete(p, txn.zxid, triggers);
                }
                self.ephemerals.remove(&txn.session);
                Applied::SessionClosed
            }
            TxnOp::Create {
                path,
                data,
                acl,
                owner,
                parent_cversion,
            } => match self.create(path, data, acl, *owner, *parent_cversion, txn, triggers) {
                Ok(stat) => Applied::Created {
                    path: path.clone(),
                    stat,
                },
                Err(c) => Applied::Failed(c),
            },
            TxnOp::Delete { path } => match self.delete(path, txn.zxid, triggers) {
                Ok(()) => Applied::Deleted,
                Err(c) => Applied::Failed(c),
            },
            TxnOp::SetData {
                path,
                data,
                version,
            } => match self.nodes.get_mut(path.as_str()) {
                None => Applied::Failed(Code::NoNode),
                Some(n) => {
                    let old = n.data.as_ref().map_or(0, Vec::len) as u64;
                    let new = data.as_ref().map_or(0, Vec::len) as u64;
                    n.data = data.clone();
                    n.version = *version;
                    n.mzxid = txn.zxid;
                    n.mtime = txn.time;
                    let stat = n.stat();
                    self.data_bytes = self.data_bytes - old + new;
                    self.changed.push(path.clone());
                    triggers.push(Trigger {
                        path: path.clone(),
                        event_type: event::NODE_DATA_CHANGED,
                    });
                    Applied::DataSet { stat }
                }
            },
            TxnOp::SetAcl { path, acl, version } => match self.nodes.get_mut(path.as_str()) {
                None => Applied::Failed(Code::NoNode),
                Some(n) => {
                    n.acl = Arc::new(acl.clone());
                    n.aversion = *version;
                    let stat = n.stat();
                    self.changed.push(path.clone());
                    Applied::AclSet { stat }
                }
            },
            TxnOp::Check { path, .. } => {
                if self.nodes.contains_key(path.as_str()) {
                    Applied::Checked
                } else {
                    Applied::Failed(Code::NoNode)
                }
            }
            TxnOp::Error(c) => Applied::Failed(*c),
            TxnOp::Multi(ops) => Applied::Multi(
                ops.iter()
                    .map(|o| self.apply_op(o, txn, triggers))
                    .collect(),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        owner: i64,
        parent_cversion: i32,
        txn: &Txn,
        triggers: &mut Vec<Trigger>,
    ) -> Result<Stat, Code> {
        if self.nodes.contains_key(path) {
            return Err(Code::NodeExists);
        }
        let parent_path = path::parent(path);
        let parent = self.nodes.get_mut(parent_path).ok_or(Code::NoNode)?;
        parent.children.insert(path::name(path).to_string());
        if parent_cversion > parent.cversion {
            parent.cversion = parent_cversion;
        }
        if txn.zxid > parent.pzxid {
            parent.pzxid = txn.zxid;
        }
        let acl = self.intern_acl(parent_path, acl);
        let node = Node::new(data.clone(), acl, txn.zxid, txn.time, owner);
        let stat = node.stat();
        self.data_bytes += (path.len() + data.as_ref().map_or(0, Vec::len)) as u64;
        self.nodes.insert(path.to_string(), node);
        self.index_owner(path, owner);
        self.changed.push(path.to_string());
        self.changed.push(parent_path.to_string());
        triggers.push(Trigger {
            path: path.to_string(),
            event_type: event::NODE_CREATED,
        });
        triggers.push(Trigger {
            path: parent_path.to_string(),
            event_type: event::NODE_CHILDREN_CHANGED,
        });
        Ok(stat)
    }

    /// Shares the parent's ACL list when it is identical (most trees use a
    /// handful of ACLs).
    fn intern_acl(&self, parent_path: &str, acl: &[Acl]) -> AclList {
        match self.nodes.get(parent_path) {
            Some(p) if p.acl.as_slice() == acl => p.acl.clone(),
            _ => Arc::new(acl.to_vec()),
        }
    }

    fn delete(&mut self, path: &str, zxid: Zxid, triggers: &mut Vec<Trigger>) -> Result<(), Code> {
        if path == "/" {
            return Err(Code::BadArguments);
        }
        match self.nodes.get(path) {
            None => return Err(Code::NoNode),
            Some(n) if !n.children.is_empty() => return Err(Code::NotEmpty),
            Some(_) => {}
        }
        let node = self.nodes.remove(path).ok_or(Code::NoNode)?;
        self.data_bytes = self
            .data_bytes
            .saturating_sub((path.len() + node.data.as_ref().map_or(0, Vec::len)) as u64);
        let parent_path = path::parent(path);
        if let Some(parent) = self.nodes.get_mut(parent_path) {
            parent.children.remove(path::name(path));
            if zxid > parent.pzxid {
                parent.pzxid = zxid;
            }
        }
        if node.owner == CONTAINER_OWNER {
            self.containers.remove(path);
        } else if ttl_of(node.owner).is_some() {
            self.ttls.remove(path);
        } else if node.owner != 0 {
            if let Some(set) = self.ephemerals.get_mut(&node.owner) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&node.owner);
                }
            }
        }
        self.changed.push(path.to_string());
        self.changed.push(parent_path.to_string());
        triggers.push(Trigger {
            path: path.to_string(),
            event_type: event::NODE_DELETED,
        });
        triggers.push(Trigger {
            path: parent_path.to_string(),
            event_type: event::NODE_CHILDREN_CHANGED,
        });
        Ok(())
    }
}
