//! The server state machine driven directly with frames: ordering of
//! outputs, durability gating and the handshake rules, with no network.

use super::server::{Out, Server, Settings};
use jute::codes::{event, op, perms, Code};
use jute::*;

pub(super) fn handshake(session: i64, passwd: Option<Vec<u8>>, last_zxid: i64) -> Vec<u8> {
    to_bytes(&ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: last_zxid,
        time_out: 10_000,
        session_id: session,
        passwd,
        read_only: Some(false),
    })
}

pub(super) fn request<T: Jute>(xid: i32, opc: i32, body: &T) -> Vec<u8> {
    let mut v = to_bytes(&RequestHeader { xid, op: opc });
    body.write(&mut v);
    v
}

pub(super) fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

/// Drains every released output.
pub(super) fn drain(s: &mut Server) -> Vec<Out> {
    let mut v = Vec::new();
    while let Some(o) = s.pop_out(0) {
        v.push(o);
    }
    v
}

pub(super) fn flush(s: &mut Server) -> Vec<Out> {
    if let Some(t) = s.take_txns().last() {
        s.mark_durable(t.zxid);
    }
    drain(s)
}

/// (xid, err) of a reply frame, or the event type for a notification.
pub(super) fn header(out: &Out) -> (i32, i32, Vec<u8>) {
    let Out::Send { frame, .. } = out else {
        panic!("expected a frame, got {out:?}")
    };
    let mut r = Reader::new(&frame[4..]);
    let h = ReplyHeader::read(&mut r).unwrap();
    (h.xid, h.err, frame[4 + r.position()..].to_vec())
}

pub(super) fn connect(s: &mut Server, conn: u64) -> ConnectResponse {
    s.connect(conn, "127.0.0.1", &handshake(0, None, 0), 0);
    let outs = flush(s);
    let Some(Out::Send { frame, .. }) = outs.first() else {
        panic!("no connect response: {outs:?}")
    };
    from_bytes::<ConnectResponse>(&frame[4..]).unwrap()
}

pub(super) fn create(path: &str) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(b"x".to_vec()),
        acl: open_acl(),
        flags: 0,
    }
}

#[test]
fn nothing_leaves_before_the_log_says_durable() {
    let mut s = Server::new(Settings::with_tick(2000), 0);
    connect(&mut s, 1);
    s.request(1, &request(1, op::CREATE, &create("/a")), 0);
    assert!(drain(&mut s).is_empty(), "reply released before durable");
    // A read of another kind queued behind the write waits too.
    s.request(
        1,
        &request(
            2,
            op::EXISTS,
            &ExistsRequest {
                path: "/a".into(),
                watch: false,
            },
        ),
        0,
    );
    assert!(drain(&mut s).is_empty());
    let outs = flush(&mut s);
    let xids: Vec<i32> = outs.iter().map(|o| header(o).0).collect();
    assert_eq!(xids, vec![1, 2]);
}

#[test]
fn watch_event_precedes_the_reply_that_shows_the_change() {
    let mut s = Server::new(Settings::with_tick(2000), 0);
    connect(&mut s, 1);
    s.request(1, &request(1, op::CREATE, &create("/a")), 0);
    s.request(
        1,
        &request(
            2,
            op::GET_DATA,
            &GetDataRequest {
                path: "/a".into(),
                watch: true,
            },
        ),
        0,
    );
    flush(&mut s);
    let set = SetDataRequest {
        path: "/a".into(),
        data: Some(b"y".to_vec()),
        version: -1,
    };
    s.request(1, &request(3, op::SET_DATA, &set), 0);
    let outs = flush(&mut s);
    assert_eq!(outs.len(), 2, "{outs:?}");
    let (xid, _, body) = header(&outs[0]);
    assert_eq!(xid, -1);
    let ev = from_bytes::<WatcherEvent>(&body).unwrap();
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (event::NODE_DATA_CHANGED, "/a")
    );
    assert_eq!(header(&outs[1]).0, 3);
    // One-shot: a second change fires nothing.
    s.request(1, &request(4, op::SET_DATA, &set), 0);
    assert_eq!(flush(&mut s).len(), 1);
}

#[test]
fn reattach_needs_the_password_and_client_zxid_must_not_be_ahead() {
    let mut s = Server::new(Settings::with_tick(2000), 0);
    let resp = connect(&mut s, 1);
    assert_eq!(resp.time_out, 10_000);
    // Wrong password: expired-style answer, then close.
    s.connect(
        2,
        "127.0.0.1",
        &handshake(resp.session_id, Some(vec![0; 16]), 0),
        0,
    );
    let outs = flush(&mut s);
    let Some(Out::Send { frame, .. }) = outs.iter().find(|o| o.conn() == 2) else {
        panic!("no answer to conn 2: {outs:?}")
    };
    let bad = from_bytes::<ConnectResponse>(&frame[4..]).unwrap();
    assert_eq!((bad.session_id, bad.time_out), (0, 0));
    assert!(outs.contains(&Out::Close { conn: 2 }));
    // Right password: same session.
    s.connect(
        3,
        "127.0.0.1",
        &handshake(resp.session_id, resp.passwd.clone(), 0),
        0,
    );
    let outs = flush(&mut s);
    let Some(Out::Send { frame, .. }) = outs.iter().find(|o| o.conn() == 3) else {
        panic!("no answer to conn 3: {outs:?}")
    };
    assert_eq!(
        from_bytes::<ConnectResponse>(&frame[4..])
            .unwrap()
            .session_id,
        resp.session_id
    );
    // A client that has seen the future is refused without a session.
    s.connect(4, "127.0.0.1", &handshake(0, None, 1 << 40), 0);
    assert_eq!(flush(&mut s), vec![Out::Close { conn: 4 }]);
}

#[test]
fn expiry_deletes_ephemerals_and_closes_the_connection() {
    let mut s = Server::new(Settings::with_tick(2000), 0);
    connect(&mut s, 1);
    let mut c = create("/e");
    c.flags = 1;
    s.request(1, &request(1, op::CREATE, &c), 0);
    flush(&mut s);
    assert!(s.tree().get("/e").is_some());
    s.tick(30_000);
    let outs = flush(&mut s);
    assert!(s.tree().get("/e").is_none());
    assert!(outs.contains(&Out::Close { conn: 1 }));
}

#[test]
fn unknown_opcode_is_unimplemented_and_the_connection_lives() {
    let mut s = Server::new(Settings::with_tick(2000), 0);
    connect(&mut s, 1);
    s.request(1, &request(7, 999, &SyncRequest { path: "/".into() }), 0);
    s.request(
        1,
        &request(8, op::SYNC, &SyncRequest { path: "/".into() }),
        0,
    );
    let outs = flush(&mut s);
    assert_eq!(header(&outs[0]).0, 7);
    assert_eq!(header(&outs[0]).1, Code::Unimplemented.as_i32());
    assert_eq!(header(&outs[1]).1, 0);
    assert_eq!(outs.len(), 2);
}
