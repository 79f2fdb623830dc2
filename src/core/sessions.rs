//! Session table with expiry buckets (ZooKeeper's `SessionTrackerImpl` +
//! `ExpiryQueue`): expiry times are rounded up to the next tick so that one
//! check per tick finds every session due.

use super::SessionId;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub timeout_ms: i32,
    pub password: Vec<u8>,
    /// Bucket time at which it expires unless touched.
    pub expires_at: i64,
    /// Set once expiry or close has been decided; no further touches count.
    pub closing: bool,
}

/// The session tracker.
#[derive(Debug, Clone)]
pub struct SessionTracker {
    sessions: HashMap<SessionId, Session>,
    buckets: BTreeMap<i64, BTreeSet<SessionId>>,
    tick_ms: i64,
    next_id: SessionId,
}

/// ZooKeeper's fixed password seed (`ZooKeeperServer.superSecret`), kept so
/// passwords match what a ZooKeeper server would hand out.
const SUPER_SECRET: i64 = 0xB341_5C00;

/// java.util.Random's LCG, enough to reproduce `nextBytes`.
struct JavaRandom(i64);

impl JavaRandom {
    fn new(seed: i64) -> Self {
        JavaRandom((seed ^ 0x5_DEEC_E66D) & ((1 << 48) - 1))
    }
    fn next_int(&mut self) -> i32 {
        self.0 = (self.0.wrapping_mul(0x5_DEEC_E66D).wrapping_add(0xB)) & ((1 << 48) - 1);
        (self.0 >> 16) as i32
    }
    fn next_bytes(&mut self, out: &mut [u8]) {
        let mut i = 0;
        while i < out.len() {
            let mut rnd = self.next_int();
            let n = (out.len() - i).min(4);
            for _ in 0..n {
                out[i] = rnd as u8;
                rnd >>= 8;
                i += 1;
            }
        }
    }
}

/// The password of a session, derived from its id as ZooKeeper does.
pub fn password_for(id: SessionId) -> Vec<u8> {
    let mut p = vec![0u8; 16];
    JavaRandom::new(id ^ SUPER_SECRET).next_bytes(&mut p);
    p
}

impl SessionTracker {
    /// `now_ms` seeds the id counter the way ZooKeeper does, so ids from
    /// different runs rarely collide; `server_id` fills the top byte.
    pub fn new(server_id: u8, tick_ms: i64, now_ms: i64) -> Self {
        let base = ((now_ms << 24) as u64 >> 8) as i64;
        SessionTracker {
            sessions: HashMap::new(),
            buckets: BTreeMap::new(),
            tick_ms: tick_ms.max(1),
            next_id: base | ((server_id as i64) << 56),
        }
    }

    /// Picks the id for a new session (not yet in the table).
    pub fn next_session_id(&mut self) -> SessionId {
        if self.next_id == 0 {
            // 0 means "no session" on the wire and "not ephemeral" in stats.
            self.next_id = 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn bucket(&self, t: i64) -> i64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Adds a session (when its createSession txn applies).
    pub fn add(&mut self, id: SessionId, timeout_ms: i32, now_ms: i64) {
        if id >= self.next_id && (id >> 56) == (self.next_id >> 56) {
            self.next_id = id + 1;
        }
        let expires_at = self.bucket(now_ms + timeout_ms as i64);
        self.buckets.entry(expires_at).or_default().insert(id);
        self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                password: password_for(id),
                expires_at,
                closing: false,
            },
        );
    }

    /// Looks a session up.
    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    /// True when the session exists and is not closing.
    pub fn is_live(&self, id: SessionId) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    /// Pushes the session's expiry out by its timeout. False if it is gone.
    pub fn touch(&mut self, id: SessionId, now_ms: i64) -> bool {
        let tick = self.tick_ms;
        let Some(s) = self.sessions.get_mut(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let new = (((now_ms + s.timeout_ms as i64) / tick) + 1) * tick;
        if new > s.expires_at {
            if let Some(b) = self.buckets.get_mut(&s.expires_at) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&s.expires_at);
                }
            }
            s.expires_at = new;
            self.buckets.entry(new).or_default().insert(id);
        }
        true
    }

    /// Changes the timeout future touches use (a re-attach renegotiates it).
    pub fn set_timeout(&mut self, id: SessionId, timeout_ms: i32) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
    }

    /// Marks a session as closing so it is not expired twice.
    pub fn set_closing(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    /// Sessions whose expiry time has passed, marked closing.
    pub fn expired(&mut self, now_ms: i64) -> Vec<SessionId> {
        let mut out = Vec::new();
        while let Some((&t, _)) = self.buckets.first_key_value() {
            if t > now_ms {
                break;
            }
            if let Some(ids) = self.buckets.remove(&t) {
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        if !s.closing {
                            s.closing = true;
                            out.push(id);
                        }
                    }
                }
            }
        }
        out
    }

    /// Drops a session (when its closeSession txn applies).
    pub fn remove(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.remove(&id) {
            if let Some(b) = self.buckets.get_mut(&s.expires_at) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&s.expires_at);
                }
            }
        }
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// True when there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Session ids sorted, with their timeouts (for `dump` and `cons`).
    pub fn list(&self) -> Vec<(SessionId, i32)> {
        let mut v: Vec<_> = self
            .sessions
            .values()
            .map(|s| (s.id, s.timeout_ms))
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_bucketed_and_touch_extends() {
        let mut t = SessionTracker::new(1, 100, 0);
        let id = t.next_session_id();
        assert_eq!(id >> 56, 1);
        t.add(id, 1000, 0);
        assert!(t.expired(1000).is_empty());
        assert!(t.touch(id, 900));
        assert!(t.expired(1100).is_empty());
        assert_eq!(t.expired(2000), vec![id]);
        assert!(!t.touch(id, 2000));
    }

    #[test]
    fn password_matches_java_random() {
        // new java.util.Random(42).nextBytes(new byte[4]) = [0, -29, -54, -7]... the
        // first int of Random(42) is -1170105035 (0xba419d35), little-endian bytes.
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next_int(), -1170105035);
        assert_eq!(password_for(5).len(), 16);
    }
}
