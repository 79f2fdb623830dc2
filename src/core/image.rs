//! A whole-state image: every znode and session as of one zxid.
//!
//! Two users share the node encoding here: the snapshot store keeps one
//! node per RocksDB value, and a leader sends the whole image to a follower
//! that a DIFF cannot bring up to date (Zab's SNAP). One encoding means a
//! node read back from either place is the node that was written.

use super::tree::{DataTree, Node, NodeImage};
use super::{SessionId, Zxid};
use jute::{write_buffer, write_i32, write_i64, Acl, DecodeError, Jute, Reader, StatPersisted};

/// The state a follower installs from a SNAP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Image {
    pub zxid: Zxid,
    /// In path order, so parents come before their children.
    pub nodes: Vec<(String, NodeImage)>,
    /// Session id and negotiated timeout.
    pub sessions: Vec<(SessionId, i32)>,
}

const IMAGE_MAGIC: &[u8; 4] = b"CRLI";
/// Leading byte of a stored node record: its format version.
pub const NODE_RECORD_FORMAT: u8 = 1;

/// A node's stored record (format byte, then [`write_node`]'s encoding),
/// made straight from the tree: one allocation per change, where an owned
/// [`NodeImage`] would copy the data and every ACL string first.
pub fn node_record(n: &Node<'_>) -> Vec<u8> {
    let acl_len: usize = n
        .acl
        .iter()
        .map(|a| 12 + a.id.scheme.len() + a.id.id.len())
        .sum();
    let mut out = Vec::with_capacity(1 + 60 + 4 + n.data.map_or(0, <[u8]>::len) + 4 + acl_len);
    out.push(NODE_RECORD_FORMAT);
    write_node_parts(&n.persisted(), n.data, n.acl, &mut out);
    out
}

/// [`node_record`] from an owned image.
pub fn image_record(n: &NodeImage) -> Vec<u8> {
    let mut out = vec![NODE_RECORD_FORMAT];
    write_node(n, &mut out);
    out
}

/// Appends one node's stored state (stat, data, ACL) in Jute.
pub fn write_node(n: &NodeImage, out: &mut Vec<u8>) {
    write_node_parts(&n.stat, n.data.as_deref(), &n.acl, out);
}

/// [`write_node`] from borrowed parts.
pub fn write_node_parts(stat: &StatPersisted, data: Option<&[u8]>, acl: &[Acl], out: &mut Vec<u8>) {
    stat.write(out);
    write_buffer(out, data);
    write_i32(out, acl.len() as i32);
    for a in acl {
        a.write(out);
    }
}

/// A stored node's stat, data, and ACL vector still encoded.
pub type NodeParts<'a> = (StatPersisted, Option<&'a [u8]>, &'a [u8]);

/// Reads what [`write_node`] wrote without copying.
pub fn read_node_parts<'a>(r: &mut Reader<'a>) -> Result<NodeParts<'a>, DecodeError> {
    let s = StatPersisted::read(r)?;
    let data = r.read_buffer_ref()?;
    let at = r.position();
    // Skip the ACL vector (perms, scheme, id per entry) without building
    // it; the tree decodes it only when it differs from the last one.
    let entries = r.read_i32()?;
    for _ in 0..entries.max(0) {
        r.read_i32()?;
        r.read_buffer_ref()?;
        r.read_buffer_ref()?;
    }
    Ok((s, data, r.consumed_since(at)))
}

/// Reads what [`write_node`] wrote.
pub fn read_node(r: &mut Reader) -> Result<NodeImage, DecodeError> {
    Ok(NodeImage {
        stat: StatPersisted::read(r)?,
        data: Option::<Vec<u8>>::read(r)?,
        acl: Vec::<Acl>::read(r)?,
    })
}

/// Encodes the tree's image straight from the tree (it is too big to copy
/// just to send it), parents before children.
pub fn encode(tree: &DataTree, sessions: &[(SessionId, i32)]) -> Vec<u8> {
    let count = tree.node_count();
    let mut out = Vec::with_capacity(64 * count + 16);
    out.extend_from_slice(IMAGE_MAGIC);
    write_i64(&mut out, tree.last_zxid);
    write_i32(&mut out, sessions.len() as i32);
    for &(id, timeout) in sessions {
        write_i64(&mut out, id);
        write_i32(&mut out, timeout);
    }
    write_i32(&mut out, count as i32);
    tree.for_each_node(|path, n| {
        write_i32(&mut out, path.len() as i32);
        out.extend_from_slice(path.as_bytes());
        write_node_parts(&n.persisted(), n.data, n.acl, &mut out);
    });
    out
}

/// Decodes an image; garbage gives an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Image, DecodeError> {
    let rest = bytes
        .strip_prefix(IMAGE_MAGIC.as_slice())
        .ok_or_else(|| DecodeError::Invalid("not a state image".into()))?;
    let mut r = Reader::new(rest);
    let zxid = i64::read(&mut r)?;
    let count = |n: i32| {
        usize::try_from(n).map_err(|_| DecodeError::Invalid(format!("negative count {n}")))
    };
    let n = count(i32::read(&mut r)?)?;
    let mut sessions = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let id = i64::read(&mut r)?;
        let timeout = i32::read(&mut r)?;
        sessions.push((id, timeout));
    }
    let n = count(i32::read(&mut r)?)?;
    let mut nodes = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let path = String::read(&mut r)?;
        nodes.push((path, read_node(&mut r)?));
    }
    r.finish()?;
    Ok(Image {
        zxid,
        nodes,
        sessions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(v: i32) -> NodeImage {
        NodeImage {
            stat: StatPersisted {
                czxid: 1,
                mzxid: 2,
                pzxid: 3,
                ctime: 4,
                mtime: 5,
                version: v,
                ..StatPersisted::default()
            },
            data: Some(vec![v as u8; 3]),
            acl: Vec::new(),
        }
    }

    fn tree(nodes: &[(&str, NodeImage)], zxid: Zxid) -> DataTree {
        let mut t = DataTree::new();
        for (p, n) in nodes {
            t.restore_node(p, n).expect("restores");
        }
        t.last_zxid = zxid;
        t
    }

    #[test]
    fn image_round_trips() {
        let nodes = [("/a", node(1)), ("/a/b", node(2)), ("/c", node(3))];
        let bytes = encode(&tree(&nodes, 0x1_0000_0005), &[(7, 4000)]);
        let img = decode(&bytes).expect("decodes");
        assert_eq!(img.zxid, 0x1_0000_0005);
        assert_eq!(img.sessions, vec![(7, 4000)]);
        // The three nodes plus the four system nodes, parents first.
        assert_eq!(img.nodes.len(), 7);
        for (p, n) in &nodes {
            let at = img.nodes.iter().position(|(q, _)| q == p).expect("present");
            assert_eq!(&img.nodes[at].1, n);
            let parent = crate::core::path::parent(p);
            assert!(img.nodes[..at].iter().any(|(q, _)| q == parent));
        }
        let again = encode(&tree(&[], 0), &[]);
        assert_eq!(decode(&again).expect("decodes").nodes.len(), 4);
    }

    #[test]
    fn truncated_or_garbage_images_are_errors() {
        let bytes = encode(&tree(&[("/x", node(1))], 9), &[]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(b"CRLI\xff\xff\xff\xff\xff\xff\xff\xff\x80\0\0\0").is_err());
    }
}
