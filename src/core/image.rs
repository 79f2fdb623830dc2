//! A whole-state image: every znode and session as of one zxid.
//!
//! Two users share the node encoding here: the snapshot store keeps one
//! node per RocksDB value, and a leader sends the whole image to a follower
//! that a DIFF cannot bring up to date (Zab's SNAP). One encoding means a
//! node read back from either place is the node that was written.

use super::tree::NodeImage;
use super::{SessionId, Zxid};
use jute::{write_i32, write_i64, Acl, DecodeError, Jute, Reader, StatPersisted};

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

/// Appends one node's stored state (stat, data, ACL) in Jute.
pub fn write_node(n: &NodeImage, out: &mut Vec<u8>) {
    StatPersisted {
        czxid: n.czxid,
        mzxid: n.mzxid,
        ctime: n.ctime,
        mtime: n.mtime,
        version: n.version,
        cversion: n.cversion,
        aversion: n.aversion,
        ephemeral_owner: n.owner,
        pzxid: n.pzxid,
    }
    .write(out);
    n.data.write(out);
    n.acl.write(out);
}

/// Reads what [`write_node`] wrote.
pub fn read_node(r: &mut Reader) -> Result<NodeImage, DecodeError> {
    let s = StatPersisted::read(r)?;
    let data = Option::<Vec<u8>>::read(r)?;
    let acl = Vec::<Acl>::read(r)?;
    Ok(NodeImage {
        data,
        acl,
        czxid: s.czxid,
        mzxid: s.mzxid,
        pzxid: s.pzxid,
        ctime: s.ctime,
        mtime: s.mtime,
        version: s.version,
        cversion: s.cversion,
        aversion: s.aversion,
        owner: s.ephemeral_owner,
    })
}

/// Encodes an image from borrowed parts (the tree is too big to copy just
/// to send it).
pub fn encode<'a>(
    zxid: Zxid,
    nodes: impl ExactSizeIterator<Item = (&'a str, NodeImage)>,
    sessions: &[(SessionId, i32)],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * nodes.len() + 16);
    out.extend_from_slice(IMAGE_MAGIC);
    write_i64(&mut out, zxid);
    write_i32(&mut out, sessions.len() as i32);
    for &(id, timeout) in sessions {
        write_i64(&mut out, id);
        write_i32(&mut out, timeout);
    }
    write_i32(&mut out, nodes.len() as i32);
    for (path, n) in nodes {
        path.to_string().write(&mut out);
        write_node(&n, &mut out);
    }
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
            data: Some(vec![v as u8; 3]),
            acl: Vec::new(),
            czxid: 1,
            mzxid: 2,
            pzxid: 3,
            ctime: 4,
            mtime: 5,
            version: v,
            cversion: 0,
            aversion: 0,
            owner: 0,
        }
    }

    #[test]
    fn image_round_trips() {
        let nodes = [("/a".to_string(), node(1)), ("/a/b".to_string(), node(2))];
        let bytes = encode(
            0x1_0000_0005,
            nodes.iter().map(|(p, n)| (p.as_str(), n.clone())),
            &[(7, 4000)],
        );
        let img = decode(&bytes).expect("decodes");
        assert_eq!(img.zxid, 0x1_0000_0005);
        assert_eq!(img.nodes, nodes.to_vec());
        assert_eq!(img.sessions, vec![(7, 4000)]);
    }

    #[test]
    fn truncated_or_garbage_images_are_errors() {
        let bytes = encode(9, [("/x", node(1))].into_iter(), &[]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(b"CRLI\xff\xff\xff\xff\xff\xff\xff\xff\x80\0\0\0").is_err());
    }
}
