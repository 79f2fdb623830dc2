//! Interned ACL lists: every distinct list is stored once and nodes hold a
//! 4-byte id. Trees use a handful of lists for millions of nodes.

use jute::Acl;
use std::collections::HashMap;
use std::sync::Arc;

/// The stored form of an ACL list; nodes share identical lists.
pub type AclList = Arc<[Acl]>;

/// The distinct ACL lists in use, counted by the nodes holding each.
#[derive(Debug, Clone, Default)]
pub struct AclTable {
    lists: Vec<(AclList, u32)>,
    ids: HashMap<AclList, u32>,
    vacant: Vec<u32>,
}

impl AclTable {
    /// The id for `acl`, counting one more holder.
    pub fn intern(&mut self, acl: &[Acl]) -> u32 {
        if let Some(&id) = self.ids.get(acl) {
            self.lists[id as usize].1 += 1;
            return id;
        }
        let list: AclList = Arc::from(acl);
        let id = match self.vacant.pop() {
            Some(id) => {
                self.lists[id as usize] = (list.clone(), 1);
                id
            }
            None => {
                self.lists.push((list.clone(), 1));
                (self.lists.len() - 1) as u32
            }
        };
        self.ids.insert(list, id);
        id
    }

    /// Counts one more holder of an id already in use.
    pub fn retain(&mut self, id: u32) {
        if let Some(e) = self.lists.get_mut(id as usize) {
            e.1 += 1;
        }
    }

    /// Counts one holder less; the list goes when none is left.
    pub fn release(&mut self, id: u32) {
        let Some(e) = self.lists.get_mut(id as usize) else {
            return;
        };
        e.1 = e.1.saturating_sub(1);
        if e.1 == 0 {
            let list = std::mem::replace(&mut e.0, Arc::from(Vec::new()));
            self.ids.remove(&list);
            self.vacant.push(id);
        }
    }

    /// The list behind an id.
    pub fn get(&self, id: u32) -> &AclList {
        &self.lists[id as usize].0
    }

    /// Number of distinct lists in use.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::Id;

    fn acl(id: &str) -> Vec<Acl> {
        vec![Acl {
            perms: 31,
            id: Id {
                scheme: "digest".into(),
                id: id.into(),
            },
        }]
    }

    #[test]
    fn identical_lists_share_an_id_until_released() {
        let mut t = AclTable::default();
        let a = t.intern(&acl("a"));
        let b = t.intern(&acl("b"));
        assert_ne!(a, b);
        assert_eq!(t.intern(&acl("a")), a);
        assert_eq!(t.len(), 2);
        t.release(a);
        assert_eq!(&t.get(a)[..], acl("a").as_slice());
        t.release(a);
        assert_eq!(t.len(), 1);
        let c = t.intern(&acl("c"));
        assert_eq!(c, a, "a freed id is reused");
        assert_eq!(&t.get(c)[..], acl("c").as_slice());
        t.retain(b);
        t.release(b);
        assert_eq!(&t.get(b)[..], acl("b").as_slice());
    }
}
