//! Where the bench puts its znodes. Everything lives under one root so a
//! run never touches anything else and cleanup is one subtree:
//!
//! ```text
//! /corral-bench-<pid>/k/<p>/k<i>   pre-created keys (set/get/... workloads)
//! /corral-bench-<pid>/w/<p>/n<g>   znodes created by create/populate
//! /corral-bench-<pid>/w/<p>/s-NNN  znodes created by create-seq
//! ```
//!
//! `<p>` is one of `fanout` parent directories, so no directory gets
//! millions of children (ZooKeeper lists such a directory slowly).

/// The tree shape of one run.
#[derive(Debug, Clone)]
pub struct Layout {
    root: String,
    fanout: u64,
    keys: u64,
}

impl Layout {
    /// A layout rooted at `/corral-bench-<tag>`.
    pub fn new(tag: &str, fanout: u64, keys: u64) -> Layout {
        Layout {
            root: format!("/corral-bench-{tag}"),
            fanout: fanout.max(1),
            keys,
        }
    }

    /// The bench root.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The two area directories under the root.
    pub fn areas(&self) -> [String; 2] {
        [format!("{}/k", self.root), format!("{}/w", self.root)]
    }

    /// Parent directories of keys: no more than there are keys.
    pub fn key_parent_count(&self) -> u64 {
        self.fanout.min(self.keys).max(1)
    }

    /// The `j`-th key parent.
    pub fn key_parent(&self, j: u64) -> String {
        format!("{}/k/{j}", self.root)
    }

    /// The path of key `i`.
    pub fn key(&self, i: u64) -> String {
        format!("{}/k/{}/k{i}", self.root, i % self.key_parent_count())
    }

    /// Parent directories of created znodes.
    pub fn write_parent_count(&self) -> u64 {
        self.fanout
    }

    /// The `j`-th write parent.
    pub fn write_parent(&self, j: u64) -> String {
        format!("{}/w/{j}", self.root)
    }

    /// The path of the `g`-th created znode.
    pub fn created(&self, g: u64) -> String {
        format!("{}/w/{}/n{g}", self.root, g % self.fanout)
    }

    /// The path prefix of the `g`-th sequential znode (the server appends
    /// the counter).
    pub fn sequential(&self, g: u64) -> String {
        format!("{}/w/{}/s-", self.root, g % self.fanout)
    }

    /// Every directory setup creates, parents before children.
    pub fn directories(&self) -> Vec<Vec<String>> {
        let mut parents: Vec<String> = (0..self.write_parent_count())
            .map(|j| self.write_parent(j))
            .collect();
        if self.keys > 0 {
            parents.extend((0..self.key_parent_count()).map(|j| self.key_parent(j)));
        }
        vec![vec![self.root.clone()], self.areas().to_vec(), parents]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_creates_spread_over_parents() {
        let l = Layout::new("7", 3, 2);
        assert_eq!(l.key(5), "/corral-bench-7/k/1/k5");
        assert_eq!(l.created(5), "/corral-bench-7/w/2/n5");
        assert_eq!(l.sequential(4), "/corral-bench-7/w/1/s-");
        let dirs = l.directories();
        assert_eq!(dirs[0], vec!["/corral-bench-7"]);
        assert_eq!(dirs[1], vec!["/corral-bench-7/k", "/corral-bench-7/w"]);
        assert_eq!(dirs[2].len(), 3 + 2);
    }

    #[test]
    fn no_key_parents_without_keys() {
        let l = Layout::new("x", 4, 0);
        assert_eq!(l.directories()[2].len(), 4);
    }
}
