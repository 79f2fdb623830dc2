//! The data tree: znodes, their stats and ACLs, and the indexes the server
//! needs (ephemerals by session, containers, TTL nodes).
//!
//! `apply` is the only way state changes. It takes a resolved [`Txn`] and
//! reports what happened plus the watch triggers it caused; it never reads a
//! clock and never decides anything a txn has not already decided.

mod acls;
mod arena;

pub use acls::AclList;
use acls::AclTable;
use arena::{Arena, Meta, NodeId, Parts, ROOT};

use super::path;
use super::txn::{Txn, TxnOp};
use super::{SessionId, Zxid};
use jute::codes::{event, Code};
use jute::{Acl, Id, Jute, Reader, Stat, StatPersisted};
use std::collections::{BTreeMap, BTreeSet};

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

/// A read-only view of one znode, borrowed from the tree.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    pub data: Option<&'a [u8]>,
    pub acl: &'a AclList,
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
    pub num_children: usize,
    id: NodeId,
    arena: &'a Arena,
}

impl<'a> Node<'a> {
    fn new(tree: &'a DataTree, id: NodeId) -> Node<'a> {
        let s = tree.arena.slot(id);
        let Parts { meta: m, data, .. } = s.parts();
        Node {
            data,
            acl: tree.acls.get(m.acl),
            czxid: m.czxid,
            mzxid: m.mzxid,
            pzxid: s.pzxid,
            ctime: m.ctime,
            mtime: m.mtime,
            version: m.version,
            cversion: s.cversion,
            aversion: m.aversion,
            owner: m.owner,
            num_children: s.num_children as usize,
            id,
            arena: &tree.arena,
        }
    }

    /// The Stat a client sees. cversion counts creations and deletions
    /// (stored creations × 2 − children); container and TTL owners read 0.
    pub fn stat(&self) -> Stat {
        let n = self.num_children as i32;
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
            data_length: self.data.map_or(0, |d| d.len() as i32),
            num_children: n,
            pzxid: self.pzxid,
        }
    }

    /// The children's names, sorted.
    pub fn children(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .arena
            .children(self.id)
            .map(|c| self.arena.slot(c).name().to_string())
            .collect();
        v.sort_unstable();
        v
    }

    /// The stat fields as stored (what the snapshot store and images keep).
    pub fn persisted(&self) -> StatPersisted {
        StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.owner,
            pzxid: self.pzxid,
        }
    }

    /// This node's stored state, owned.
    pub fn image(&self) -> NodeImage {
        NodeImage {
            stat: self.persisted(),
            data: self.data.map(<[u8]>::to_vec),
            acl: self.acl.to_vec(),
        }
    }
}

/// A znode's stored state without its children, owned: what a SNAP image
/// carries per path (children follow from the paths themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImage {
    pub stat: StatPersisted,
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
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
    arena: Arena,
    acls: AclTable,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    data_bytes: u64,
    /// Paths changed since the last `take_changed` (may repeat).
    changed: Vec<String>,
    /// The zxid of the last applied txn.
    pub last_zxid: Zxid,
}

fn world(perms: i32) -> Vec<Acl> {
    vec![Acl {
        perms,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
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
        Self::with_hash_seed(0)
    }

    /// [`DataTree::new`] with the seed of the path index's hash (see the
    /// arena); servers pass an unpredictable one.
    pub fn with_hash_seed(seed: u64) -> DataTree {
        let mut t = DataTree {
            arena: Arena::new(seed),
            acls: AclTable::default(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_bytes: 0,
            changed: Vec::new(),
            last_zxid: 0,
        };
        let open = world(jute::codes::perms::ALL);
        let open_meta = |acl| Meta {
            acl,
            ..Meta::default()
        };
        let m = open_meta(t.acls.intern(&open));
        t.arena.slot_mut(ROOT).rewrite(&m, Some(&[]));
        let m = open_meta(t.acls.intern(&open));
        let zk = t.arena.insert(ROOT, "zookeeper", &m, Some(&[]));
        let m = open_meta(t.acls.intern(&open));
        t.arena.insert(zk, "quota", &m, Some(&[]));
        let config = Meta {
            acl: t.acls.intern(&world(jute::codes::perms::READ)),
            // ZooKeeper sets this ACL with a setACL at startup, which
            // leaves aversion at -1.
            aversion: -1,
            ..Meta::default()
        };
        t.arena.insert(zk, "config", &config, Some(&[]));
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
    /// loads a whole snapshot does not rehash the index again and again.
    pub fn reserve(&mut self, additional: usize) {
        self.arena.reserve(additional);
    }

    /// Starts putting back nodes read from a snapshot store or an image.
    pub fn restorer(&mut self) -> Restorer<'_> {
        Restorer {
            tree: self,
            acl_cache: None,
            parent_cache: None,
        }
    }

    /// Puts back one node from an owned image (see [`Restorer`]).
    #[cfg(test)]
    pub fn restore_node(&mut self, path: &str, img: &NodeImage) -> Result<(), String> {
        self.restorer().node(
            path,
            StoredNode {
                stat: &img.stat,
                data: img.data.as_deref(),
                acl: AclRef::List(&img.acl),
            },
        )
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

    /// Undoes [`DataTree::index_owner`] for a deleted node.
    fn unindex_owner(&mut self, path: &str, owner: i64) {
        if owner == CONTAINER_OWNER {
            self.containers.remove(path);
        } else if ttl_of(owner).is_some() {
            self.ttls.remove(path);
        } else if owner != 0 {
            if let Some(set) = self.ephemerals.get_mut(&owner) {
                set.remove(path);
                if set.is_empty() {
                    self.ephemerals.remove(&owner);
                }
            }
        }
    }

    /// Calls `f` on every node, each parent before its children (for
    /// whole-state images), without copying the tree.
    pub fn for_each_node(&self, mut f: impl FnMut(&str, Node<'_>)) {
        f("/", Node::new(self, ROOT));
        let mut path = String::new();
        let mut stack: Vec<(NodeId, usize)> = self.arena.children(ROOT).map(|c| (c, 0)).collect();
        while let Some((id, parent_len)) = stack.pop() {
            path.truncate(parent_len);
            path.push('/');
            path.push_str(self.arena.slot(id).name());
            f(&path, Node::new(self, id));
            stack.extend(self.arena.children(id).map(|c| (c, path.len())));
        }
    }

    /// Sets `/zookeeper/config`'s data in place: server-local state that no
    /// txn, zxid or snapshot records.
    pub fn set_config_data(&mut self, data: Vec<u8>) {
        if let Some(id) = self.arena.lookup("/zookeeper/config") {
            let s = self.arena.slot_mut(id);
            let old = s.data().map_or(0, <[u8]>::len) as u64;
            let meta = s.meta();
            s.rewrite(&meta, Some(&data));
            self.data_bytes = self.data_bytes - old + data.len() as u64;
        }
    }

    /// Looks a znode up by its full path.
    pub fn get(&self, path: &str) -> Option<Node<'_>> {
        self.arena.lookup(path).map(|id| Node::new(self, id))
    }

    /// Number of znodes, system nodes included.
    pub fn node_count(&self) -> usize {
        self.arena.len()
    }

    /// Number of distinct ACL lists in use.
    pub fn acl_count(&self) -> usize {
        self.acls.len()
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
            let Some(n) = self.get(p) else { continue };
            if n.num_children > 0 {
                continue;
            }
            let used = n.cversion > 0;
            if used || (never_used_ms > 0 && now_ms - n.mtime > never_used_ms) {
                out.push(p.clone());
            }
        }
        for p in &self.ttls {
            let Some(n) = self.get(p) else { continue };
            let Some(ttl) = ttl_of(n.owner) else { continue };
            if n.num_children == 0 && now_ms - n.mtime > ttl {
                out.push(p.clone());
            }
        }
        out.sort();
        out.truncate(limit);
        out
    }

    /// Counts every node below `path` (not itself).
    pub fn descendant_count(&self, path: &str) -> usize {
        let Some(id) = self.arena.lookup(path) else {
            return 0;
        };
        let mut stack = vec![id];
        let mut count = 0;
        while let Some(id) = stack.pop() {
            count += self.arena.slot(id).num_children as usize;
            stack.extend(self.arena.children(id));
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
            } => match self.arena.lookup(path) {
                None => Applied::Failed(Code::NoNode),
                Some(id) => {
                    let s = self.arena.slot_mut(id);
                    let old = s.data().map_or(0, <[u8]>::len) as u64;
                    let meta = Meta {
                        version: *version,
                        mzxid: txn.zxid,
                        mtime: txn.time,
                        ..s.meta()
                    };
                    s.rewrite(&meta, data.as_deref());
                    let new = data.as_ref().map_or(0, Vec::len) as u64;
                    self.data_bytes = self.data_bytes - old + new;
                    self.changed.push(path.clone());
                    triggers.push(Trigger {
                        path: path.clone(),
                        event_type: event::NODE_DATA_CHANGED,
                    });
                    Applied::DataSet {
                        stat: Node::new(self, id).stat(),
                    }
                }
            },
            TxnOp::SetAcl { path, acl, version } => match self.arena.lookup(path) {
                None => Applied::Failed(Code::NoNode),
                Some(id) => {
                    let new = self.acls.intern(acl);
                    let s = self.arena.slot_mut(id);
                    let old = s.meta();
                    s.set_meta(&Meta {
                        acl: new,
                        aversion: *version,
                        ..old
                    });
                    self.acls.release(old.acl);
                    self.changed.push(path.clone());
                    Applied::AclSet {
                        stat: Node::new(self, id).stat(),
                    }
                }
            },
            TxnOp::Check { path, .. } => {
                if self.arena.lookup(path).is_some() {
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
        let parent_path = path::parent(path);
        let name = path::name(path);
        let parent = self.arena.lookup(parent_path).ok_or(Code::NoNode)?;
        if path == "/" || self.arena.child(parent, name).is_some() {
            return Err(Code::NodeExists);
        }
        let meta = Meta {
            acl: self.acls.intern(acl),
            czxid: txn.zxid,
            mzxid: txn.zxid,
            ctime: txn.time,
            mtime: txn.time,
            version: 0,
            aversion: 0,
            owner,
        };
        let id = self.arena.insert(parent, name, &meta, data.as_deref());
        self.arena.slot_mut(id).pzxid = txn.zxid;
        let p = self.arena.slot_mut(parent);
        if parent_cversion > p.cversion {
            p.cversion = parent_cversion;
        }
        if txn.zxid > p.pzxid {
            p.pzxid = txn.zxid;
        }
        self.data_bytes += (path.len() + data.as_ref().map_or(0, Vec::len)) as u64;
        self.index_owner(path, owner);
        self.linked(path, event::NODE_CREATED, triggers);
        Ok(Node::new(self, id).stat())
    }

    fn delete(&mut self, path: &str, zxid: Zxid, triggers: &mut Vec<Trigger>) -> Result<(), Code> {
        if path == "/" {
            return Err(Code::BadArguments);
        }
        let id = self.arena.lookup(path).ok_or(Code::NoNode)?;
        let s = self.arena.slot(id);
        if s.num_children > 0 {
            return Err(Code::NotEmpty);
        }
        let Parts { meta, data, .. } = s.parts();
        let (parent, owner, acl) = (s.parent(), meta.owner, meta.acl);
        let size = path.len() + data.map_or(0, <[u8]>::len);
        self.arena.remove(id);
        self.acls.release(acl);
        self.data_bytes = self.data_bytes.saturating_sub(size as u64);
        let p = self.arena.slot_mut(parent);
        if zxid > p.pzxid {
            p.pzxid = zxid;
        }
        self.unindex_owner(path, owner);
        self.linked(path, event::NODE_DELETED, triggers);
        Ok(())
    }

    /// Records a node's creation or deletion: it and its parent changed,
    /// and watchers of both hear of it.
    fn linked(&mut self, path: &str, event_type: i32, triggers: &mut Vec<Trigger>) {
        let parent_path = path::parent(path);
        self.changed.push(path.to_string());
        self.changed.push(parent_path.to_string());
        triggers.push(Trigger {
            path: path.to_string(),
            event_type,
        });
        triggers.push(Trigger {
            path: parent_path.to_string(),
            event_type: event::NODE_CHILDREN_CHANGED,
        });
    }
}

/// Where a restored node's ACL comes from.
#[derive(Debug, Clone, Copy)]
pub enum AclRef<'a> {
    List(&'a [Acl]),
    /// A Jute-encoded ACL vector, decoded only when it differs from the
    /// previous node's.
    Encoded(&'a [u8]),
}

/// A node's stored state, borrowed, for bulk loads.
#[derive(Debug, Clone, Copy)]
pub struct StoredNode<'a> {
    pub stat: &'a StatPersisted,
    pub data: Option<&'a [u8]>,
    pub acl: AclRef<'a>,
}

/// Puts back nodes read from a snapshot store or an image, parents before
/// children; the system nodes are overwritten in place. Remembers the last
/// parent and the last ACL, which consecutive nodes of a store scan
/// usually share, so a restart of a million nodes does little more than
/// allocate them.
pub struct Restorer<'t> {
    tree: &'t mut DataTree,
    acl_cache: Option<(Vec<u8>, u32)>,
    parent_cache: Option<(String, NodeId)>,
}

impl Restorer<'_> {
    fn acl_id(&mut self, acl: AclRef<'_>) -> Result<u32, String> {
        let bytes = match acl {
            AclRef::List(l) => return Ok(self.tree.acls.intern(l)),
            AclRef::Encoded(b) => b,
        };
        if let Some((cached, id)) = &self.acl_cache {
            if cached.as_slice() == bytes {
                self.tree.acls.retain(*id);
                return Ok(*id);
            }
        }
        let mut r = Reader::new(bytes);
        let list = Vec::<Acl>::read(&mut r)
            .and_then(|l| r.finish().map(|()| l))
            .map_err(|e| format!("bad ACL: {e}"))?;
        let id = self.tree.acls.intern(&list);
        self.acl_cache = Some((bytes.to_vec(), id));
        Ok(id)
    }

    fn parent_id(&mut self, parent_path: &str) -> Option<NodeId> {
        if let Some((p, id)) = &self.parent_cache {
            if p == parent_path {
                return Some(*id);
            }
        }
        let id = self.tree.arena.lookup(parent_path)?;
        self.parent_cache = Some((parent_path.to_string(), id));
        Some(id)
    }

    /// Puts back one node.
    pub fn node(&mut self, path: &str, n: StoredNode<'_>) -> Result<(), String> {
        let meta = meta_of(n.stat, self.acl_id(n.acl)?);
        let new_bytes = n.data.map_or(0, <[u8]>::len) as u64;
        let (parent, existing) = if path == "/" {
            (ROOT, Some(ROOT))
        } else {
            let parent = self
                .parent_id(path::parent(path))
                .ok_or_else(|| format!("node {path} has no parent"))?;
            // Only the system nodes exist before a load: a store or image
            // holds each path once.
            let existing = is_system_path(path)
                .then(|| self.tree.arena.child(parent, path::name(path)))
                .flatten();
            (parent, existing)
        };
        let tree = &mut *self.tree;
        let id = match existing {
            Some(id) => {
                let s = tree.arena.slot_mut(id);
                let old = s.data().map_or(0, <[u8]>::len) as u64;
                let old_acl = s.meta().acl;
                s.rewrite(&meta, n.data);
                tree.acls.release(old_acl);
                tree.data_bytes = tree.data_bytes - old + new_bytes;
                id
            }
            None => {
                tree.data_bytes += path.len() as u64 + new_bytes;
                tree.index_owner(path, meta.owner);
                tree.arena.insert(parent, path::name(path), &meta, n.data)
            }
        };
        let s = tree.arena.slot_mut(id);
        s.pzxid = n.stat.pzxid;
        s.cversion = n.stat.cversion;
        Ok(())
    }
}

fn meta_of(st: &StatPersisted, acl: u32) -> Meta {
    Meta {
        acl,
        czxid: st.czxid,
        mzxid: st.mzxid,
        ctime: st.ctime,
        mtime: st.mtime,
        version: st.version,
        aversion: st.aversion,
        owner: st.ephemeral_owner,
    }
}
