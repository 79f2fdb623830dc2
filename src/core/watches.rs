//! Watch tables: one-shot data/exist and child watches, persistent and
//! persistent-recursive watches, and the rules for which change fires which.
//!
//! Watches belong to a session while one connection serves it; when that
//! connection goes away they are dropped and the client re-arms them with
//! setWatches on its next connection, as with ZooKeeper.

use super::path;
use super::tree::Trigger;
use super::SessionId;
use jute::codes::event;
use std::collections::{BTreeMap, BTreeSet};

/// The kinds of watch a session can hold on a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Set by getData or exists; fires on create, delete, data change.
    Data,
    /// Set by getChildren; fires on delete and child changes.
    Child,
    /// addWatch PERSISTENT: like Data + Child, never removed by firing.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE: create/delete/data of the path and
    /// every descendant; never child events.
    Recursive,
}

const KINDS: [Kind; 4] = [Kind::Data, Kind::Child, Kind::Persistent, Kind::Recursive];

/// All watches of all sessions.
#[derive(Debug, Clone, Default)]
pub struct WatchManager {
    tables: [BTreeMap<String, BTreeSet<SessionId>>; 4],
    by_session: BTreeMap<SessionId, BTreeSet<(Kind, String)>>,
}

impl WatchManager {
    fn table(&mut self, k: Kind) -> &mut BTreeMap<String, BTreeSet<SessionId>> {
        &mut self.tables[k as usize]
    }

    /// Registers a watch.
    pub fn add(&mut self, session: SessionId, path: &str, kind: Kind) {
        self.table(kind)
            .entry(path.to_string())
            .or_default()
            .insert(session);
        self.by_session
            .entry(session)
            .or_default()
            .insert((kind, path.to_string()));
    }

    /// True if the session holds a watch of `kind` on `path`.
    pub fn has(&self, session: SessionId, path: &str, kind: Kind) -> bool {
        self.tables[kind as usize]
            .get(path)
            .is_some_and(|s| s.contains(&session))
    }

    /// Removes one watch; true if it existed.
    pub fn remove(&mut self, session: SessionId, path: &str, kind: Kind) -> bool {
        let t = self.table(kind);
        let Some(set) = t.get_mut(path) else {
            return false;
        };
        let found = set.remove(&session);
        if set.is_empty() {
            t.remove(path);
        }
        if let Some(s) = self.by_session.get_mut(&session) {
            s.remove(&(kind, path.to_string()));
            if s.is_empty() {
                self.by_session.remove(&session);
            }
        }
        found
    }

    /// Drops every watch of a session.
    pub fn remove_session(&mut self, session: SessionId) {
        let Some(all) = self.by_session.remove(&session) else {
            return;
        };
        for (kind, p) in all {
            let t = self.table(kind);
            if let Some(set) = t.get_mut(&p) {
                set.remove(&session);
                if set.is_empty() {
                    t.remove(&p);
                }
            }
        }
    }

    /// Which sessions a change notifies, each once, in session order. One-shot
    /// watches that fire are removed.
    pub fn fire(&mut self, trig: &Trigger) -> Vec<SessionId> {
        let mut hit = BTreeSet::new();
        let one_shot: &[Kind] = match trig.event_type {
            event::NODE_CREATED | event::NODE_DATA_CHANGED => &[Kind::Data],
            event::NODE_DELETED => &[Kind::Data, Kind::Child],
            event::NODE_CHILDREN_CHANGED => &[Kind::Child],
            _ => &[],
        };
        for &k in one_shot {
            if let Some(set) = self.table(k).remove(&trig.path) {
                for s in set {
                    if let Some(idx) = self.by_session.get_mut(&s) {
                        idx.remove(&(k, trig.path.clone()));
                        if idx.is_empty() {
                            self.by_session.remove(&s);
                        }
                    }
                    hit.insert(s);
                }
            }
        }
        if let Some(set) = self.tables[Kind::Persistent as usize].get(&trig.path) {
            hit.extend(set.iter().copied());
        }
        let recursive = &self.tables[Kind::Recursive as usize];
        if trig.event_type != event::NODE_CHILDREN_CHANGED && !recursive.is_empty() {
            let mut p = trig.path.as_str();
            loop {
                if let Some(set) = recursive.get(p) {
                    hit.extend(set.iter().copied());
                }
                if p == "/" {
                    break;
                }
                p = path::parent(p);
            }
        }
        hit.into_iter().collect()
    }

    /// Total number of (session, path, kind) watches.
    pub fn count(&self) -> usize {
        self.by_session.values().map(BTreeSet::len).sum()
    }

    /// Number of distinct watched paths.
    pub fn path_count(&self) -> usize {
        let mut paths = BTreeSet::new();
        for t in &self.tables {
            paths.extend(t.keys());
        }
        paths.len()
    }

    /// Number of sessions holding watches.
    pub fn session_count(&self) -> usize {
        self.by_session.len()
    }

    /// Watched paths per session (for `wchc`).
    pub fn by_session(&self) -> BTreeMap<SessionId, BTreeSet<String>> {
        self.by_session
            .iter()
            .map(|(s, set)| (*s, set.iter().map(|(_, p)| p.clone()).collect()))
            .collect()
    }

    /// Watching sessions per path (for `wchp`).
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<SessionId>> {
        let mut out: BTreeMap<String, BTreeSet<SessionId>> = BTreeMap::new();
        for k in KINDS {
            for (p, set) in &self.tables[k as usize] {
                out.entry(p.clone()).or_default().extend(set);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(path: &str, e: i32) -> Trigger {
        Trigger {
            path: path.into(),
            event_type: e,
        }
    }

    #[test]
    fn one_shot_fires_once_persistent_keeps_firing() {
        let mut w = WatchManager::default();
        w.add(1, "/a", Kind::Data);
        w.add(2, "/a", Kind::Persistent);
        assert_eq!(w.fire(&t("/a", event::NODE_DATA_CHANGED)), vec![1, 2]);
        assert_eq!(w.fire(&t("/a", event::NODE_DATA_CHANGED)), vec![2]);
        assert_eq!(w.fire(&t("/a", event::NODE_CHILDREN_CHANGED)), vec![2]);
    }

    #[test]
    fn recursive_covers_descendants_but_not_child_events() {
        let mut w = WatchManager::default();
        w.add(1, "/a", Kind::Recursive);
        assert_eq!(w.fire(&t("/a/b/c", event::NODE_CREATED)), vec![1]);
        assert!(w.fire(&t("/a", event::NODE_CHILDREN_CHANGED)).is_empty());
        assert!(w.fire(&t("/ab", event::NODE_CREATED)).is_empty());
        w.remove_session(1);
        assert_eq!(w.count(), 0);
        assert!(w.fire(&t("/a/b", event::NODE_CREATED)).is_empty());
    }
}
