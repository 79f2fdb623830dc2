//! Where znodes live: fixed-size slots in chunks, addressed by a `u32` id,
//! one hash index from (parent id, name) to id, and each node's children
//! as an intrusive doubly linked list through the slots.
//!
//! The point is memory: a node costs one slot (48 bytes), one heap block
//! holding its varint-coded stat fields, ACL id, name and data together,
//! and a 4-byte index entry. Full
//! paths are never stored; a lookup walks the path's components, one probe
//! each. Chunks never move, so growing the tree never copies it.

use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::cell::RefCell;
use std::hash::{BuildHasher, Hasher};

/// A slot's address.
pub type NodeId = u32;
/// "No node" in the links.
pub const NIL: NodeId = u32::MAX;
/// The root's id, fixed.
pub const ROOT: NodeId = 0;

const CHUNK_BITS: u32 = 12;
const CHUNK: usize = 1 << CHUNK_BITS;

/// The fields a node's own txns change (setData, setACL), kept varint-coded
/// at the head of its heap block. The fields its children's creates and
/// deletes change (pzxid, cversion, the child count) stay in the slot, so a
/// busy parent is never re-encoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    /// The node's ACL list, an id in the tree's table.
    pub acl: u32,
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub aversion: i32,
    /// Raw ephemeralOwner (session id, container or TTL encoding, or 0).
    pub owner: i64,
}

/// One znode: the fields its children change, its links, and one heap
/// block holding its [`Meta`], name and data.
#[derive(Debug, Clone)]
pub struct Slot {
    /// Varint `name length << 1 | data is null`, the name, varint [`Meta`]
    /// (mzxid and mtime as deltas from czxid and ctime), the data. For a
    /// typical node the header is about 20 bytes where plain fields would
    /// take 56.
    payload: Box<[u8]>,
    pub pzxid: i64,
    /// Number of children ever created (ZooKeeper's stored cversion).
    pub cversion: i32,
    pub num_children: u32,
    parent: NodeId,
    first_child: NodeId,
    next: NodeId,
    prev: NodeId,
}

/// Reads a varint written by `Head::varint` at `*at`, advancing it.
fn get_varint(b: &[u8], at: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    while let Some(&byte) = b.get(*at) {
        *at += 1;
        if shift < 64 {
            v |= u64::from(byte & 0x7f) << shift;
        }
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    v
}

fn get_signed(b: &[u8], at: &mut usize) -> i64 {
    let v = get_varint(b, at);
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn payload(m: &Meta, name: &[u8], data: Option<&[u8]>) -> Box<[u8]> {
    let mut head = [0u8; 96];
    let mut h = Head {
        buf: &mut head,
        len: 0,
    };
    h.varint(u64::from(m.acl));
    h.signed(m.czxid);
    h.signed(m.mzxid.wrapping_sub(m.czxid));
    h.signed(m.ctime);
    h.signed(m.mtime.wrapping_sub(m.ctime));
    h.signed(i64::from(m.version));
    h.signed(i64::from(m.aversion));
    h.signed(m.owner);
    let meta_len = h.len;
    h.varint((name.len() as u64) << 1 | u64::from(data.is_none()));
    let head_len = h.len;
    let data = data.unwrap_or_default();
    // Exactly sized: a larger capacity would keep its bigger block after
    // `into_boxed_slice`, and this block is most of a node's memory.
    let mut v = Vec::with_capacity(head_len + name.len() + data.len());
    // The name first: index probes compare names, and should not decode
    // the meta to find it.
    v.extend_from_slice(&head[meta_len..head_len]);
    v.extend_from_slice(name);
    v.extend_from_slice(&head[..meta_len]);
    v.extend_from_slice(data);
    v.into_boxed_slice()
}

/// Varint writer over a stack buffer (nine varints take at most 90 bytes).
struct Head<'a> {
    buf: &'a mut [u8; 96],
    len: usize,
}

impl Head<'_> {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf[self.len] = v as u8 | 0x80;
            self.len += 1;
            v >>= 7;
        }
        self.buf[self.len] = v as u8;
        self.len += 1;
    }

    fn signed(&mut self, v: i64) {
        self.varint(((v << 1) ^ (v >> 63)) as u64);
    }
}

/// A payload decoded: meta, name, data.
pub struct Parts<'a> {
    pub meta: Meta,
    pub name: &'a [u8],
    pub data: Option<&'a [u8]>,
}

impl Slot {
    fn vacant(next: NodeId) -> Slot {
        Slot {
            payload: Box::default(),
            pzxid: 0,
            cversion: 0,
            num_children: 0,
            parent: NIL,
            first_child: NIL,
            next,
            prev: NIL,
        }
    }

    /// Where the name ends, and whether the data is null.
    fn name_span(&self) -> (usize, usize, bool) {
        let b = &self.payload[..];
        let mut at = 0;
        let n = get_varint(b, &mut at);
        let at = at.min(b.len());
        (
            at,
            at.saturating_add((n >> 1) as usize).min(b.len()),
            n & 1 == 1,
        )
    }

    fn name_bytes(&self) -> &[u8] {
        let (start, end, _) = self.name_span();
        &self.payload[start..end]
    }

    /// Decodes the heap block.
    pub fn parts(&self) -> Parts<'_> {
        let (start, name_end, null) = self.name_span();
        let b = &self.payload[..];
        let mut at = name_end;
        let acl = get_varint(b, &mut at) as u32;
        let czxid = get_signed(b, &mut at);
        let mzxid = czxid.wrapping_add(get_signed(b, &mut at));
        let ctime = get_signed(b, &mut at);
        let mtime = ctime.wrapping_add(get_signed(b, &mut at));
        let version = get_signed(b, &mut at) as i32;
        let aversion = get_signed(b, &mut at) as i32;
        let owner = get_signed(b, &mut at);
        let at = at.min(b.len());
        Parts {
            meta: Meta {
                acl,
                czxid,
                mzxid,
                ctime,
                mtime,
                version,
                aversion,
                owner,
            },
            name: &b[start..name_end],
            data: (!null).then(|| &b[at..]),
        }
    }

    /// The last component of the node's path ("" for the root).
    pub fn name(&self) -> &str {
        // Names enter as `&str` and are stored unchanged.
        std::str::from_utf8(self.name_bytes()).unwrap_or_default()
    }

    /// The data; `None` when it is null.
    pub fn data(&self) -> Option<&[u8]> {
        self.parts().data
    }

    /// The fields the node's own txns change.
    pub fn meta(&self) -> Meta {
        self.parts().meta
    }

    /// Rewrites the meta and the data, keeping the name.
    pub fn rewrite(&mut self, meta: &Meta, data: Option<&[u8]>) {
        let p = self.parts();
        self.payload = payload(meta, p.name, data);
    }

    /// Rewrites the meta, keeping the name and data.
    pub fn set_meta(&mut self, meta: &Meta) {
        let p = self.parts();
        self.payload = payload(meta, p.name, p.data);
    }

    /// The parent's id (`NIL` for the root).
    pub fn parent(&self) -> NodeId {
        self.parent
    }
}

/// The slots and the index over them.
#[derive(Debug, Clone)]
pub struct Arena {
    chunks: Vec<Vec<Slot>>,
    /// Head of the vacant slots, linked through `next`.
    vacant: NodeId,
    live: usize,
    index: HashTable<NodeId>,
    hasher: FixedState,
    parents: RefCell<ParentCache>,
}

const PARENT_CACHE: usize = 64;

/// Directories resolved recently. Requests in a burst mostly share their
/// parent (a queue, a lock directory, one service's znodes), so with this a
/// path costs one probe here and one in the index rather than one index
/// probe, with its cache misses, per component. Entries stay valid until a
/// node is removed (ids are reused), which bumps the generation.
#[derive(Debug, Clone, Default)]
struct ParentCache {
    entries: Vec<Option<(Box<str>, NodeId, u64)>>,
    generation: u64,
}

impl ParentCache {
    fn get(&self, hash: u64, path: &str) -> Option<NodeId> {
        match self.entries.get(hash as usize % PARENT_CACHE) {
            Some(Some((p, id, g))) if *g == self.generation && &**p == path => Some(*id),
            _ => None,
        }
    }

    fn put(&mut self, hash: u64, path: &str, id: NodeId) {
        if self.entries.is_empty() {
            self.entries.resize(PARENT_CACHE, None);
        }
        let g = self.generation;
        if let Some(e) = self.entries.get_mut(hash as usize % PARENT_CACHE) {
            *e = Some((path.into(), id, g));
        }
    }
}

fn key_hash(hasher: &FixedState, parent: NodeId, name: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u32(parent);
    h.write(name);
    h.finish()
}

fn slot_of(chunks: &[Vec<Slot>], id: NodeId) -> &Slot {
    &chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
}

impl Arena {
    /// An arena holding only the root. The index hashes with `seed`: the
    /// shell passes an unpredictable one so clients cannot aim names at one
    /// bucket; it never changes what the tree answers.
    pub fn new(seed: u64) -> Arena {
        let mut a = Arena {
            chunks: Vec::new(),
            vacant: NIL,
            live: 0,
            index: HashTable::new(),
            hasher: FixedState::with_seed(seed),
            parents: RefCell::default(),
        };
        let root = a.alloc();
        debug_assert_eq!(root, ROOT);
        a
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Makes room for `additional` more nodes.
    pub fn reserve(&mut self, additional: usize) {
        let Arena {
            index,
            chunks,
            hasher,
            ..
        } = self;
        index.reserve(additional, |&id| {
            let s = slot_of(chunks, id);
            key_hash(hasher, s.parent, s.name_bytes())
        });
        self.chunks.reserve(additional / CHUNK + 1);
    }

    /// The slot of a live id.
    pub fn slot(&self, id: NodeId) -> &Slot {
        slot_of(&self.chunks, id)
    }

    /// The slot of a live id, to change its stat fields.
    pub fn slot_mut(&mut self, id: NodeId) -> &mut Slot {
        &mut self.chunks[(id >> CHUNK_BITS) as usize][id as usize & (CHUNK - 1)]
    }

    /// The child of `parent` called `name`.
    pub fn child(&self, parent: NodeId, name: &str) -> Option<NodeId> {
        let name = name.as_bytes();
        let h = key_hash(&self.hasher, parent, name);
        self.index
            .find(h, |&id| {
                let s = slot_of(&self.chunks, id);
                s.parent == parent && s.name_bytes() == name
            })
            .copied()
    }

    /// The node at an absolute path: its parent from the recent-parents
    /// cache or a walk, then one probe for its name.
    pub fn lookup(&self, path: &str) -> Option<NodeId> {
        let rest = path.strip_prefix('/')?;
        if rest.is_empty() {
            return Some(ROOT);
        }
        let (parent, name) = match rest.rfind('/') {
            None => return self.child(ROOT, rest),
            Some(i) => (&path[..=i], &rest[i + 1..]),
        };
        let h = self.hasher.hash_one(parent);
        let pid = match self
            .parents
            .try_borrow()
            .ok()
            .and_then(|c| c.get(h, parent))
        {
            Some(pid) => pid,
            None => {
                let pid = self.walk(parent)?;
                if let Ok(mut c) = self.parents.try_borrow_mut() {
                    c.put(h, parent, pid);
                }
                pid
            }
        };
        self.child(pid, name)
    }

    /// Resolves a path one component at a time.
    fn walk(&self, path: &str) -> Option<NodeId> {
        let rest = path.strip_prefix('/')?;
        if rest.is_empty() {
            return Some(ROOT);
        }
        rest.split('/')
            .try_fold(ROOT, |id, name| self.child(id, name))
    }

    /// Adds a node called `name` under `parent` (which must not already
    /// have one) with zeroed stat fields.
    pub fn insert(
        &mut self,
        parent: NodeId,
        name: &str,
        meta: &Meta,
        data: Option<&[u8]>,
    ) -> NodeId {
        let id = self.alloc();
        let first = self.slot(parent).first_child;
        let s = self.slot_mut(id);
        s.payload = payload(meta, name.as_bytes(), data);
        s.parent = parent;
        s.next = first;
        s.prev = NIL;
        if first != NIL {
            self.slot_mut(first).prev = id;
        }
        let p = self.slot_mut(parent);
        p.first_child = id;
        p.num_children += 1;
        let Arena {
            index,
            chunks,
            hasher,
            ..
        } = self;
        let h = key_hash(hasher, parent, name.as_bytes());
        index.insert_unique(h, id, |&x| {
            let s = slot_of(chunks, x);
            key_hash(hasher, s.parent, s.name_bytes())
        });
        id
    }

    /// Removes a childless node (never the root).
    pub fn remove(&mut self, id: NodeId) {
        let s = self.slot(id);
        let (parent, prev, next) = (s.parent, s.prev, s.next);
        let h = key_hash(&self.hasher, parent, s.name_bytes());
        if let Ok(e) = self.index.find_entry(h, |&x| x == id) {
            e.remove();
        }
        if prev != NIL {
            self.slot_mut(prev).next = next;
        } else {
            self.slot_mut(parent).first_child = next;
        }
        if next != NIL {
            self.slot_mut(next).prev = prev;
        }
        let p = self.slot_mut(parent);
        p.num_children = p.num_children.saturating_sub(1);
        self.parents.get_mut().generation += 1;
        let vacant = self.vacant;
        *self.slot_mut(id) = Slot::vacant(vacant);
        self.vacant = id;
        self.live -= 1;
    }

    /// The ids of a node's children, newest first.
    pub fn children(&self, id: NodeId) -> Children<'_> {
        Children {
            arena: self,
            next: self.slot(id).first_child,
        }
    }

    fn alloc(&mut self) -> NodeId {
        self.live += 1;
        if self.vacant != NIL {
            let id = self.vacant;
            self.vacant = self.slot(id).next;
            return id;
        }
        let full = self.chunks.last().map_or(true, |c| c.len() == CHUNK);
        if full {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        chunk.push(Slot::vacant(NIL));
        ((n << CHUNK_BITS) + chunk.len() - 1) as NodeId
    }
}

/// Iterator over a node's children ids.
pub struct Children<'a> {
    arena: &'a Arena,
    next: NodeId,
}

impl Iterator for Children<'_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next == NIL {
            return None;
        }
        let id = self.next;
        self.next = self.arena.slot(id).next;
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(acl: u32) -> Meta {
        Meta {
            acl,
            czxid: 0x1_0000_0007,
            mzxid: 0x1_0000_0009,
            ctime: 1_700_000_000_000,
            mtime: 1_700_000_000_500,
            version: 2,
            aversion: -1,
            owner: i64::MIN,
        }
    }

    #[test]
    fn meta_round_trips_through_the_payload() {
        let mut a = Arena::new(7);
        for m in [
            Meta::default(),
            meta(7),
            Meta {
                acl: u32::MAX,
                czxid: i64::MAX,
                mzxid: i64::MIN,
                ctime: -1,
                mtime: i64::MAX,
                version: i32::MIN,
                aversion: i32::MAX,
                owner: -0x00ff_0000_0000_0001,
            },
        ] {
            let id = a.insert(ROOT, "n", &m, Some(b"data"));
            assert_eq!(a.slot(id).meta(), m);
            assert_eq!(a.slot(id).data(), Some(&b"data"[..]));
            assert_eq!(a.slot(id).name(), "n");
            a.remove(id);
        }
    }

    #[test]
    fn slots_are_small() {
        // The memory goal (1M znodes of 100 B in 250 MiB) budgets 48 bytes.
        assert!(std::mem::size_of::<Slot>() <= 48);
    }

    #[test]
    fn insert_lookup_remove_and_reuse() {
        let mut a = Arena::new(7);
        let x = a.insert(ROOT, "x", &meta(0), Some(b"1"));
        let y = a.insert(x, "y", &meta(300), None);
        let z = a.insert(x, "z", &meta(1), Some(b""));
        assert_eq!(a.lookup("/"), Some(ROOT));
        assert_eq!(a.lookup("/x/y"), Some(y));
        assert_eq!(a.lookup("/x/z"), Some(z));
        assert_eq!(a.lookup("/x/q"), None);
        assert_eq!(a.lookup("/x/"), None);
        assert_eq!(a.lookup("x"), None);
        assert_eq!(a.slot(y).data(), None);
        assert_eq!((a.slot(y).name(), a.slot(y).meta()), ("y", meta(300)));
        assert_eq!(a.slot(z).data(), Some(&b""[..]));
        assert_eq!(a.slot(x).num_children, 2);
        assert_eq!(a.children(x).collect::<Vec<_>>(), vec![z, y]);
        a.remove(z);
        assert_eq!(a.children(x).collect::<Vec<_>>(), vec![y]);
        assert_eq!(a.lookup("/x/z"), None);
        let w = a.insert(x, "w", &meta(2), Some(b"abc"));
        assert_eq!(w, z, "vacant slots are reused");
        assert_eq!(a.slot(w).name(), "w");
        a.slot_mut(w).rewrite(&meta(2), None);
        assert_eq!(a.slot(w).data(), None);
        a.slot_mut(w).rewrite(&meta(2), Some(b"q"));
        assert_eq!((a.slot(w).name(), a.slot(w).data()), ("w", Some(&b"q"[..])));
        a.slot_mut(w).set_meta(&meta(1 << 20));
        assert_eq!(a.slot(w).meta(), meta(1 << 20));
        assert_eq!((a.slot(w).name(), a.slot(w).data()), ("w", Some(&b"q"[..])));
        a.remove(y);
        a.remove(w);
        assert_eq!(a.children(x).count(), 0);
        assert_eq!(a.len(), 2);
    }

    #[test]
    fn a_removed_parent_is_not_found_through_the_cache() {
        let mut a = Arena::new(3);
        let d = a.insert(ROOT, "d", &meta(0), None);
        let x = a.insert(d, "x", &meta(0), None);
        assert_eq!(a.lookup("/d/x"), Some(x));
        a.remove(x);
        a.remove(d);
        assert_eq!(a.lookup("/d/x"), None);
        // The freed ids come back for other paths; the old ones must not
        // resolve through them.
        let e = a.insert(ROOT, "e", &meta(0), None);
        let y = a.insert(e, "x", &meta(0), None);
        assert_eq!(a.lookup("/d/x"), None);
        assert_eq!(a.lookup("/e/x"), Some(y));
        assert_eq!(a.lookup("/e//x"), None);
        assert_eq!(a.lookup("/e/x/"), None);
    }

    #[test]
    fn many_nodes_across_chunks() {
        let mut a = Arena::new(7);
        let mut ids = Vec::new();
        for i in 0..3 * CHUNK {
            ids.push(a.insert(ROOT, &format!("n{i}"), &meta(0), Some(b"v")));
        }
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(a.lookup(&format!("/n{i}")), Some(*id));
        }
        for id in ids.iter().step_by(2) {
            a.remove(*id);
        }
        assert_eq!(a.slot(ROOT).num_children as usize, 3 * CHUNK / 2);
        assert_eq!(a.children(ROOT).count(), 3 * CHUNK / 2);
        assert_eq!(a.lookup("/n0"), None);
        assert_eq!(a.lookup("/n1"), Some(ids[1]));
    }
}
