//! Session establishment, timeouts, expiry, re-attachment and close.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use jute::codes::{create_mode, op, Code};
use jute::ConnectResponse;

const EXPIRY_WAIT: Duration = Duration::from_secs(30);

/// tickTime 200: default bounds are [400, 4000] ms.
fn short_tick_server() -> TestServer {
    TestServer::start(ServerOpts {
        tick_time: 200,
        max_session_timeout: Some(30_000),
        ..Default::default()
    })
}

fn refused() -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        time_out: 0,
        session_id: 0,
        passwd: Some(vec![0; 16]),
        read_only: Some(false),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiated_timeout_is_clamped_to_default_bounds() {
    let s = TestServer::start(ServerOpts {
        tick_time: 200,
        ..Default::default()
    });
    for (asked, got) in [
        (-5, 400),
        (0, 400),
        (1, 400),
        (399, 400),
        (400, 400),
        (1000, 1000),
        (4000, 4000),
        (4001, 4000),
        (100_000, 4000),
    ] {
        let mut st = open(&s.addr()).await;
        let resp = handshake(&mut st, &connect_request(asked)).await.unwrap();
        assert_eq!(resp.time_out, got, "asked for {asked}");
        assert_ne!(resp.session_id, 0);
        assert_eq!(resp.protocol_version, 0);
        assert_eq!(resp.passwd.as_ref().map(Vec::len), Some(16));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiated_timeout_honours_configured_bounds() {
    let s = TestServer::start(ServerOpts {
        tick_time: 100,
        min_session_timeout: Some(1000),
        max_session_timeout: Some(3000),
        ..Default::default()
    });
    for (asked, got) in [
        (200, 1000),
        (1000, 1000),
        (2500, 2500),
        (3000, 3000),
        (9000, 3000),
    ] {
        let mut st = open(&s.addr()).await;
        let resp = handshake(&mut st, &connect_request(asked)).await.unwrap();
        assert_eq!(resp.time_out, got, "asked for {asked}");
    }
    let c = client_with_timeout(&s.addr(), Duration::from_secs(60)).await;
    assert_eq!(c.session_timeout(), Duration::from_millis(3000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_byte_is_echoed_only_when_sent() {
    let s = TestServer::default_server();
    let mut req = old_client_request();
    let mut st = open(&s.addr()).await;
    let resp = handshake(&mut st, &req).await.unwrap();
    assert_eq!(resp.read_only, None, "old client: no trailing byte");
    assert!(resp.time_out > 0);

    for ro in [false, true] {
        req.read_only = Some(ro);
        let mut st = open(&s.addr()).await;
        let resp = handshake(&mut st, &req).await.unwrap();
        // A read-write server answers false.
        assert_eq!(resp.read_only, Some(false));
    }

    // The old-client session works.
    let mut r = RawConn::connect_with(&s.addr(), &old_client_request()).await;
    r.create("/x", None, 0).await.unwrap();
    assert_eq!(r.response.read_only, None);
}

/// A ConnectRequest without the readOnly byte, as clients before 3.4 send it.
fn old_client_request() -> jute::ConnectRequest {
    let mut r = connect_request(10_000);
    r.read_only = None;
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_ids_are_distinct_and_pings_report_the_last_zxid() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    let b = RawConn::connect(&s.addr()).await;
    assert_ne!(a.session_id, b.session_id);
    assert_ne!(a.passwd, b.passwd);
    let created = a.create("/x", None, 0).await.unwrap();
    let h = a.ping().await;
    assert_eq!(h.xid, -2);
    assert_eq!(h.err, 0);
    assert_eq!(h.zxid, created.stat.czxid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_deletes_ephemerals_and_refuses_reattach() {
    let s = short_tick_server();
    let mut observer = RawConn::connect(&s.addr()).await;
    assert_eq!(observer.timeout, 30_000);
    let mut doomed = RawConn::connect_with(&s.addr(), &connect_request(1000)).await;
    assert_eq!(doomed.timeout, 1000);
    doomed.create("/p", None, 0).await.unwrap();
    doomed
        .create("/e", None, create_mode::EPHEMERAL)
        .await
        .unwrap();
    doomed
        .create("/p/es", None, create_mode::EPHEMERAL_SEQUENTIAL)
        .await
        .unwrap();
    let (sid, pw) = (doomed.session_id, doomed.passwd.clone());
    assert_eq!(
        observer.exists("/e", false).await.unwrap().ephemeral_owner,
        sid
    );

    // The doomed session goes silent; the server expires it and closes its
    // connection.
    assert!(
        wait_closed(&mut doomed.stream, EXPIRY_WAIT).await,
        "expired session's connection not closed"
    );
    let deadline = tokio::time::Instant::now() + EXPIRY_WAIT;
    while observer.exists("/e", false).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "ephemeral kept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        observer.get_children("/p", false).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        observer.exists("/p", false).await.unwrap().num_children,
        0,
        "persistent parent stays"
    );

    // Re-attaching to the expired session is answered with timeout 0.
    let mut req = connect_request(1000);
    req.session_id = sid;
    req.passwd = Some(pw);
    let mut st = open(&s.addr()).await;
    assert_eq!(handshake(&mut st, &req).await.unwrap(), refused());
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_sees_session_expired() {
    let s = short_tick_server();
    let observer = client(&s.addr()).await;
    let c = zk::Client::connector()
        .with_session_timeout(Duration::from_millis(1000))
        .with_detached()
        .connect(&s.addr())
        .await
        .unwrap();
    assert_eq!(c.session_timeout(), Duration::from_millis(1000));
    c.create("/e", b"", &ephemeral()).await.unwrap();
    let session = c.session().clone();
    // Detached: dropping the client closes the connection, not the session.
    drop(c);
    wait_gone(&observer, "/e", EXPIRY_WAIT).await;
    let err = zk::Client::connector()
        .with_session_timeout(Duration::from_millis(1000))
        .with_session(session)
        .connect(&s.addr())
        .await
        .unwrap_err();
    assert_eq!(err, zk::Error::SessionExpired);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_with_the_right_password_keeps_the_session() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    a.create("/e", Some(b"x"), create_mode::EPHEMERAL)
        .await
        .unwrap();
    assert_eq!(a.timeout, 30_000);
    let mut req = connect_request(20_000);
    req.session_id = a.session_id;
    req.passwd = Some(a.passwd.clone());
    req.last_zxid_seen = a.last_zxid;
    let mut b = RawConn::connect_with(&s.addr(), &req).await;
    assert_eq!(b.session_id, a.session_id);
    assert_eq!(b.passwd, a.passwd);
    // The timeout is negotiated again from the new request.
    assert_eq!(b.timeout, 20_000);
    assert_eq!(b.response.read_only, Some(false));
    // The old connection is closed; the new one carries the session.
    assert!(wait_closed(&mut a.stream, CLOSE_WAIT).await);
    let e = b.get_data("/e", false).await.unwrap();
    assert_eq!(e.data, Some(b"x".to_vec()));
    assert_eq!(e.stat.ephemeral_owner, a.session_id);
    let mut eph: jute::GetEphemeralsResponse = b
        .req(
            op::GET_EPHEMERALS,
            &jute::GetEphemeralsRequest {
                prefix_path: "/".into(),
            },
        )
        .await
        .unwrap();
    eph.ephemerals.sort();
    assert_eq!(eph.ephemerals, ["/e"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reattach_with_a_wrong_password_is_refused() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    a.create("/e", None, create_mode::EPHEMERAL).await.unwrap();
    let mut req = connect_request(10_000);
    req.session_id = a.session_id;
    let mut wrong = a.passwd.clone();
    wrong[0] ^= 0xff;
    req.passwd = Some(wrong);
    let mut st = open(&s.addr()).await;
    assert_eq!(handshake(&mut st, &req).await.unwrap(), refused());
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
    // The session itself survives. (ZooKeeper 3.8 also closes the session's
    // current connection when the refused attempt comes in; that is not
    // asserted.) The right password gets it back with its ephemeral.
    let mut good = connect_request(10_000);
    good.session_id = a.session_id;
    good.passwd = Some(a.passwd.clone());
    let mut b = RawConn::connect_with(&s.addr(), &good).await;
    assert_eq!(b.session_id, a.session_id);
    assert_eq!(
        b.exists("/e", false).await.unwrap().ephemeral_owner,
        a.session_id
    );

    // Without the readOnly byte the refusal has none either.
    req.read_only = None;
    let mut st = open(&s.addr()).await;
    let resp = handshake(&mut st, &req).await.unwrap();
    assert_eq!(
        resp,
        ConnectResponse {
            read_only: None,
            ..refused()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_session_id_is_answered() {
    let s = TestServer::default_server();
    let mut req = connect_request(10_000);
    req.session_id = 0x1234_5678;
    req.passwd = Some(vec![7; 16]);
    let mut st = open(&s.addr()).await;
    assert_eq!(handshake(&mut st, &req).await.unwrap(), refused());
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ahead_of_the_server_is_refused() {
    let s = TestServer::default_server();
    let mut healthy = RawConn::connect(&s.addr()).await;
    healthy.create("/x", None, 0).await.unwrap();
    let mut req = connect_request(10_000);
    req.last_zxid_seen = healthy.last_zxid + 1000;
    let mut st = open(&s.addr()).await;
    assert_eq!(
        handshake(&mut st, &req).await.unwrap_err(),
        ReadError::Closed,
        "no ConnectResponse, just a close"
    );
    // A client exactly at the server's zxid is fine.
    req.last_zxid_seen = healthy.ping().await.zxid;
    let r = RawConn::connect_with(&s.addr(), &req).await;
    assert!(r.timeout > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_session_removes_ephemerals_at_once() {
    let s = TestServer::default_server();
    let mut observer = RawConn::connect(&s.addr()).await;
    let mut a = RawConn::connect(&s.addr()).await;
    a.create("/e", None, create_mode::EPHEMERAL).await.unwrap();
    a.create("/p", None, 0).await.unwrap();
    a.create("/p/e", None, create_mode::EPHEMERAL_SEQUENTIAL)
        .await
        .unwrap();
    let (sid, pw) = (a.session_id, a.passwd.clone());
    let h = a.close_session().await;
    assert_eq!(h.err, 0);
    assert!(h.zxid > 0);
    assert!(wait_closed(&mut a.stream, CLOSE_WAIT).await);
    // Already gone when the reply was sent.
    assert_eq!(
        observer.exists("/e", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
    let p = observer.exists("/p", false).await.unwrap();
    assert_eq!(p.num_children, 0);
    assert_eq!(p.pzxid, h.zxid, "the close txn deleted the child");

    let mut req = connect_request(10_000);
    req.session_id = sid;
    req.passwd = Some(pw);
    let mut st = open(&s.addr()).await;
    assert_eq!(handshake(&mut st, &req).await.unwrap(), refused());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_client_closes_its_session() {
    let s = TestServer::default_server();
    let observer = client(&s.addr()).await;
    let c = client(&s.addr()).await;
    c.create("/e", b"", &ephemeral()).await.unwrap();
    let (_, w) = observer.check_and_watch_stat("/e").await.unwrap();
    drop(c);
    let e = next_event(w.changed()).await;
    assert_eq!(e.event_type, zk::EventType::NodeDeleted);
    assert_eq!(e.path, "/e");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemerals_survive_a_client_reconnect() {
    let s = TestServer::default_server();
    let proxy = Proxy::start(&s.addr()).await;
    let c = client_with_timeout(&proxy.addr(), Duration::from_secs(20)).await;
    let observer = client(&s.addr()).await;
    c.create("/e", b"", &ephemeral()).await.unwrap();
    let mut state = c.state_watcher();
    proxy.sever();
    assert_eq!(
        tokio::time::timeout(WAIT, state.changed()).await.unwrap(),
        zk::SessionState::Disconnected
    );
    assert_eq!(
        tokio::time::timeout(WAIT, state.changed()).await.unwrap(),
        zk::SessionState::SyncConnected
    );
    let st = observer.check_stat("/e").await.unwrap().unwrap();
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    c.create("/f", b"", &ephemeral()).await.unwrap();
}
