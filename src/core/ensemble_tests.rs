//! A leader and a learner wired by hand (forwards in, txns out, "commit"
//! by delivering): what a learner's clients see and in what order, with no
//! network and no Zab.

use super::forward::Forward;
use super::server::{Mode, Out, Server, Settings};
use super::server_tests::{create, drain, handshake, header, request};
use super::zab::make_zxid;
use jute::codes::{op, Code};
use jute::*;

const LEARNER_SID: u64 = 2;

struct Pair {
    leader: Server,
    learner: Server,
}

impl Pair {
    fn new() -> Pair {
        let mut leader = Server::new(Settings::with_tick(100), 0);
        leader.set_mode(Mode::Leader { epoch: 1 }, 0);
        let mut s = Settings::with_tick(100);
        s.server_id = 2;
        let mut learner = Server::new(s, 0);
        learner.set_mode(Mode::Learner, 0);
        Pair { leader, learner }
    }

    /// Carries the learner's forwards to the leader, and the leader's
    /// answers and txns (as if committed) back; returns the learner's
    /// released outputs.
    fn round_trip(&mut self) -> Vec<Out> {
        for f in self.learner.take_forwards() {
            self.leader.on_forward(LEARNER_SID, f, 1);
        }
        let txns = self.leader.take_txns();
        if let Some(t) = txns.last() {
            self.leader.mark_durable(t.zxid);
        }
        self.carry_answers();
        for t in &txns {
            self.learner.deliver(t);
        }
        drain(&mut self.learner)
    }

    /// Carries the leader's sync barriers to the learner.
    fn carry_answers(&mut self) {
        for (to, f) in self.leader.take_answers() {
            assert_eq!(to, LEARNER_SID);
            if let Forward::Synced {
                session,
                cxid,
                zxid,
            } = f
            {
                self.learner.synced(session, cxid, zxid);
            }
        }
    }

    /// A client session through the learner; returns its id.
    fn session(&mut self, conn: u64) -> i64 {
        self.learner
            .connect(conn, "127.0.0.1", &handshake(0, None, 0), 1);
        assert!(
            drain(&mut self.learner).is_empty(),
            "no handshake answer before the leader created the session"
        );
        let outs = self.round_trip();
        let Some(Out::Send { frame, .. }) = outs.first() else {
            panic!("no connect response: {outs:?}")
        };
        let resp = from_bytes::<ConnectResponse>(&frame[4..]).unwrap();
        assert_ne!(resp.session_id, 0);
        assert!(self.leader.sessions().get(resp.session_id).is_some());
        resp.session_id
    }
}

#[test]
fn a_leaders_first_txn_of_an_epoch_starts_its_counter_at_one() {
    let mut p = Pair::new();
    p.session(1);
    let z = p.leader.last_zxid();
    assert_eq!(z, make_zxid(1, 1));
    p.leader.set_mode(Mode::Down, 2);
    p.leader.set_mode(Mode::Leader { epoch: 3 }, 2);
    p.learner
        .request(1, &request(1, op::CREATE, &create("/a")), 2);
    p.round_trip();
    assert_eq!(p.leader.last_zxid(), make_zxid(3, 1));
    assert_eq!(p.learner.last_zxid(), make_zxid(3, 1));
}

#[test]
fn a_learner_answers_a_write_only_when_its_txn_comes_back() {
    let mut p = Pair::new();
    p.session(1);
    p.learner
        .request(1, &request(5, op::CREATE, &create("/a")), 2);
    assert!(drain(&mut p.learner).is_empty());
    assert!(p.learner.tree().get("/a").is_none(), "learners never prep");
    let outs = p.round_trip();
    assert_eq!(outs.len(), 1, "{outs:?}");
    let (xid, err, body) = header(&outs[0]);
    assert_eq!((xid, err), (5, 0));
    assert_eq!(from_bytes::<CreateResponse>(&body).unwrap().path, "/a");
    assert!(p.learner.tree().get("/a").is_some());
    let image = |s: &Server| s.tree().get("/a").map(|n| n.image());
    assert_eq!(image(&p.learner), image(&p.leader));
}

#[test]
fn reads_wait_behind_the_sessions_own_writes_and_see_them() {
    let mut p = Pair::new();
    p.session(1);
    p.learner
        .request(1, &request(1, op::CREATE, &create("/k")), 2);
    let set = SetDataRequest {
        path: "/k".into(),
        data: Some(b"new".to_vec()),
        version: -1,
    };
    p.learner.request(1, &request(2, op::SET_DATA, &set), 2);
    let get = GetDataRequest {
        path: "/k".into(),
        watch: false,
    };
    p.learner.request(1, &request(3, op::GET_DATA, &get), 2);
    // A later write overtakes nothing: it is forwarded but answered last.
    p.learner.request(
        1,
        &request(
            4,
            op::DELETE,
            &DeleteRequest {
                path: "/gone".into(),
                version: -1,
            },
        ),
        2,
    );
    assert!(
        drain(&mut p.learner).is_empty(),
        "the read must not jump ahead"
    );
    // The delete waited behind the read, so it reaches the leader on the
    // second trip.
    let mut outs = p.round_trip();
    outs.extend(p.round_trip());
    let got: Vec<(i32, i32)> = outs.iter().map(|o| (header(o).0, header(o).1)).collect();
    assert_eq!(
        got,
        vec![(1, 0), (2, 0), (3, 0), (4, Code::NoNode.as_i32())],
        "replies in request order"
    );
    let data = from_bytes::<GetDataResponse>(&header(&outs[2]).2).unwrap();
    assert_eq!(data.data.as_deref(), Some(&b"new"[..]), "read-your-writes");
}

#[test]
fn sync_on_a_learner_waits_for_the_leaders_barrier() {
    let mut p = Pair::new();
    let me = p.session(1);
    // Another session's write reaches the leader but not yet the learner.
    let other = p.session(2);
    assert_ne!(me, other);
    p.learner
        .request(2, &request(1, op::CREATE, &create("/w")), 2);
    for f in p.learner.take_forwards() {
        p.leader.on_forward(LEARNER_SID, f, 2);
    }
    let pending = p.leader.take_txns();
    p.learner.request(
        1,
        &request(9, op::SYNC, &SyncRequest { path: "/w".into() }),
        3,
    );
    for f in p.learner.take_forwards() {
        p.leader.on_forward(LEARNER_SID, f, 3);
    }
    p.carry_answers();
    assert!(
        drain(&mut p.learner).is_empty(),
        "sync answered before the write it must cover was applied"
    );
    for t in &pending {
        p.learner.deliver(t);
    }
    let outs = drain(&mut p.learner);
    let xids: Vec<i32> = outs.iter().map(|o| header(o).0).collect();
    assert_eq!(xids, vec![1, 9]);
    assert!(p.learner.tree().get("/w").is_some());
}

#[test]
fn only_the_leader_expires_sessions_and_the_learner_closes_the_client() {
    let mut p = Pair::new();
    let id = p.session(1);
    p.learner.tick(1_000_000);
    assert!(drain(&mut p.learner).is_empty(), "a learner never expires");
    p.leader.tick(1_000_000);
    let outs = p.round_trip();
    assert!(p.learner.sessions().get(id).is_none());
    assert!(
        outs.iter().any(|o| matches!(o, Out::Close { conn: 1 })),
        "{outs:?}"
    );
}

#[test]
fn touches_reported_by_a_learner_keep_its_sessions_alive_on_the_leader() {
    let mut p = Pair::new();
    let id = p.session(1);
    let timeout = 10_000;
    let ping = to_bytes(&RequestHeader {
        xid: -2,
        op: op::PING,
    });
    p.learner.request(1, &ping, timeout - 10);
    assert_eq!(p.learner.take_touched(), vec![id]);
    p.leader.on_forward(
        LEARNER_SID,
        Forward::Touch { sessions: vec![id] },
        timeout - 10,
    );
    p.leader.tick(timeout + 50);
    assert!(p.leader.sessions().get(id).is_some());
}

#[test]
fn leaving_service_drops_clients_and_unreleased_replies() {
    let mut p = Pair::new();
    p.session(1);
    p.leader.connect(7, "127.0.0.1", &handshake(0, None, 0), 1);
    p.leader.set_mode(Mode::Down, 2);
    let outs = drain(&mut p.leader);
    assert_eq!(
        outs,
        vec![Out::Close { conn: 7 }],
        "no uncommitted reply leaks"
    );
    p.leader.connect(8, "127.0.0.1", &handshake(0, None, 0), 3);
    assert_eq!(drain(&mut p.leader), vec![Out::Close { conn: 8 }]);
}
