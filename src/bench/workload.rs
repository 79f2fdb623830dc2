//! The request generators: one [`Source`] for the timed workloads and a
//! scripted one (a fixed list of requests) for setup and cleanup.

use super::layout::Layout;
use super::options::Workload;
use super::pipeline::{Request, Source};
use jute::codes::{create_mode, op, perms};
use jute::multi::{MultiOp, MultiRequest};
use jute::{
    Acl, CreateRequest, DeleteRequest, ExistsRequest, GetChildrenRequest, GetDataRequest, Id, Jute,
    SetDataRequest,
};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// xorshift64*: a small seeded generator, so a run's key sequence is
/// reproducible and costs nothing on the hot path.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (any value; 0 is remapped).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x2545_f491_4f6c_dd1d
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `world:anyone` with every permission: what the bench creates with.
pub fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

/// A create request for `path` with `data`.
pub fn create(path: String, data: &[u8], flags: i32) -> (i32, Vec<u8>) {
    let req = CreateRequest {
        path,
        data: Some(data.to_vec()),
        acl: open_acl(),
        flags,
    };
    (op::CREATE, jute::to_bytes(&req))
}

/// A delete request for `path`, any version.
pub fn delete(path: String) -> (i32, Vec<u8>) {
    (
        op::DELETE,
        jute::to_bytes(&DeleteRequest { path, version: -1 }),
    )
}

/// A getChildren request for `path` (no watch).
pub fn get_children(path: String) -> (i32, Vec<u8>) {
    (
        op::GET_CHILDREN,
        jute::to_bytes(&GetChildrenRequest { path, watch: false }),
    )
}

/// The requests of a timed workload.
pub struct Timed {
    pub workload: Workload,
    pub layout: Arc<Layout>,
    pub value: Vec<u8>,
    pub sessions: usize,
    pub read_ratio: f64,
    pub multi_size: usize,
    pub keys: u64,
}

impl Timed {
    fn set(&self, path: String) -> (i32, Vec<u8>) {
        let req = SetDataRequest {
            path,
            data: Some(self.value.clone()),
            version: -1,
        };
        (op::SET_DATA, jute::to_bytes(&req))
    }

    fn get(&self, path: String) -> (i32, Vec<u8>) {
        (
            op::GET_DATA,
            jute::to_bytes(&GetDataRequest { path, watch: false }),
        )
    }

    fn random_key(&self, rng: &mut Rng) -> String {
        self.layout.key(rng.below(self.keys.max(1)))
    }
}

impl Source for Timed {
    fn next(&self, session: usize, seq: u64, rng: &mut Rng) -> Option<Request> {
        // A number unique across sessions names created znodes.
        let g = seq * self.sessions as u64 + session as u64;
        let (op, body) = match self.workload {
            Workload::Create | Workload::Populate => {
                create(self.layout.created(g), &self.value, create_mode::PERSISTENT)
            }
            Workload::CreateSeq => create(
                self.layout.sequential(g),
                &self.value,
                create_mode::PERSISTENT_SEQUENTIAL,
            ),
            Workload::Set => self.set(self.random_key(rng)),
            Workload::Get => self.get(self.random_key(rng)),
            Workload::Exists => {
                let path = self.random_key(rng);
                (
                    op::EXISTS,
                    jute::to_bytes(&ExistsRequest { path, watch: false }),
                )
            }
            Workload::Children => {
                let parents = self.layout.key_parent_count();
                get_children(self.layout.key_parent(rng.below(parents)))
            }
            Workload::Multi => {
                let ops = (0..self.multi_size)
                    .map(|_| {
                        MultiOp::SetData(SetDataRequest {
                            path: self.random_key(rng),
                            data: Some(self.value.clone()),
                            version: -1,
                        })
                    })
                    .collect();
                (op::MULTI, jute::to_bytes(&MultiRequest { ops }))
            }
            Workload::Mix => {
                let key = self.random_key(rng);
                if rng.unit() < self.read_ratio {
                    self.get(key)
                } else {
                    self.set(key)
                }
            }
        };
        Some(Request { op, body, tag: 0 })
    }
}

/// A fixed list of requests, shared by all sessions (each takes the next
/// one not yet taken). Can keep every reply body, for listings.
pub struct Script {
    requests: Vec<(i32, Vec<u8>)>,
    next: AtomicUsize,
    replies: Option<Mutex<Vec<ScriptReply>>>,
}

/// One reply a collecting [`Script`] kept.
#[derive(Debug)]
pub struct ScriptReply {
    /// Index of the request in the script.
    pub index: u64,
    pub err: i32,
    pub body: Vec<u8>,
}

impl Script {
    /// A script whose replies are only counted.
    pub fn new(requests: Vec<(i32, Vec<u8>)>) -> Script {
        Script {
            requests,
            next: AtomicUsize::new(0),
            replies: None,
        }
    }

    /// A script that keeps every reply (see [`Script::take_replies`]).
    pub fn collecting(requests: Vec<(i32, Vec<u8>)>) -> Script {
        Script {
            replies: Some(Mutex::new(Vec::new())),
            ..Script::new(requests)
        }
    }

    /// Replies as (request index, error, body), in request order.
    pub fn take_replies(&self) -> Vec<ScriptReply> {
        let mut v = match &self.replies {
            Some(m) => m
                .lock()
                .map(|mut r| std::mem::take(&mut *r))
                .unwrap_or_default(),
            None => Vec::new(),
        };
        v.sort_by_key(|r| r.index);
        v
    }
}

impl Source for Script {
    fn next(&self, _session: usize, _seq: u64, _rng: &mut Rng) -> Option<Request> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let (op, body) = self.requests.get(i)?.clone();
        Some(Request {
            op,
            body,
            tag: i as u64,
        })
    }

    fn on_reply(&self, tag: u64, err: i32, body: &[u8]) {
        if let Some(m) = &self.replies {
            if let Ok(mut r) = m.lock() {
                r.push(ScriptReply {
                    index: tag,
                    err,
                    body: body.to_vec(),
                });
            }
        }
    }
}

/// Decodes a getChildren reply body (empty on a malformed one).
pub fn children_of(body: &[u8]) -> Vec<String> {
    jute::GetChildrenResponse::read(&mut jute::Reader::new(body))
        .map(|r| r.children)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_stays_in_range_and_repeats_with_the_seed() {
        let (mut a, mut b) = (Rng::new(9), Rng::new(9));
        for _ in 0..1000 {
            let x = a.below(7);
            assert!(x < 7);
            assert_eq!(x, b.below(7));
            let u = a.unit();
            assert!((0.0..1.0).contains(&u));
            b.unit();
        }
    }

    #[test]
    fn created_names_are_unique_across_sessions() {
        let t = Timed {
            workload: Workload::Create,
            layout: Arc::new(Layout::new("t", 4, 0)),
            value: vec![1; 3],
            sessions: 3,
            read_ratio: 0.0,
            multi_size: 1,
            keys: 0,
        };
        let mut rng = Rng::new(1);
        let mut seen = std::collections::HashSet::new();
        for s in 0..3 {
            for seq in 0..10 {
                let r = t.next(s, seq, &mut rng).unwrap();
                assert_eq!(r.op, op::CREATE);
                let req: CreateRequest = jute::from_bytes(&r.body).unwrap();
                assert!(seen.insert(req.path));
            }
        }
    }

    #[test]
    fn script_hands_out_each_request_once() {
        let s = Script::collecting(vec![delete("/a".into()), delete("/b".into())]);
        let mut rng = Rng::new(1);
        assert_eq!(s.next(0, 0, &mut rng).unwrap().tag, 0);
        assert_eq!(s.next(1, 0, &mut rng).unwrap().tag, 1);
        assert!(s.next(0, 1, &mut rng).is_none());
        s.on_reply(1, 0, &[]);
        s.on_reply(0, -101, &[]);
        let r = s.take_replies();
        assert_eq!((r[0].index, r[0].err), (0, -101));
    }
}
