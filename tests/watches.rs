//! One-shot, persistent and persistent-recursive watches, their removal, and
//! their re-registration after a reconnect.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use jute::codes::{add_watch_mode, event as ev, op, watcher_type, xid, Code};
use jute::{
    AddWatchRequest, CheckWatchesRequest, RemoveWatchesRequest, SetWatches, SetWatches2,
    WatcherEvent,
};
use zk::{AddWatchMode, EventType};

async fn check_watches(r: &mut RawConn, path: &str, t: i32) -> i32 {
    r.call(
        op::CHECK_WATCHES,
        &CheckWatchesRequest {
            path: path.into(),
            watcher_type: t,
        },
    )
    .await
    .0
    .err
}

async fn remove_watches(r: &mut RawConn, path: &str, t: i32) -> i32 {
    r.call(
        op::REMOVE_WATCHES,
        &RemoveWatchesRequest {
            path: path.into(),
            watcher_type: t,
        },
    )
    .await
    .0
    .err
}

async fn add_watch(r: &mut RawConn, path: &str, mode: i32) {
    let (h, body) = r
        .call(
            op::ADD_WATCH,
            &AddWatchRequest {
                path: path.into(),
                mode,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    // The reply body is an ErrorResponse with err 0.
    assert_eq!(body, [0, 0, 0, 0]);
}

/// Reads every notification that precedes the reply to a ping.
async fn drain(r: &mut RawConn) -> Vec<WatcherEvent> {
    r.ping().await;
    r.events.drain(..).collect()
}

fn zev(t: EventType, path: &str) -> (EventType, String) {
    (t, path.to_string())
}

async fn next(w: &mut zk::PersistentWatcher) -> (EventType, String) {
    let e = next_event(w.changed()).await;
    (e.event_type, e.path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shot_watches_fire_once() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    let mut b = RawConn::connect(&s.addr()).await;
    b.create("/d", Some(b"0"), 0).await.unwrap();
    b.create("/p", None, 0).await.unwrap();

    a.get_data("/d", true).await.unwrap();
    assert_eq!(
        a.exists("/e", true).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
    a.get_children("/p", true).await.unwrap();

    for i in 0..3 {
        b.set_data("/d", format!("{i}").as_bytes(), -1)
            .await
            .unwrap();
        b.create(&format!("/p/c{i}"), None, 0).await.unwrap();
    }
    b.create("/e", None, 0).await.unwrap();
    b.delete("/e", -1).await.unwrap();
    b.create("/e", None, 0).await.unwrap();

    assert_eq!(
        drain(&mut a).await,
        [
            event(ev::NODE_DATA_CHANGED, "/d"),
            event(ev::NODE_CHILDREN_CHANGED, "/p"),
            event(ev::NODE_CREATED, "/e"),
        ]
    );
    // Re-registering arms them again, exactly once more.
    a.get_data("/d", true).await.unwrap();
    b.delete("/d", -1).await.unwrap();
    assert_eq!(drain(&mut a).await, [event(ev::NODE_DELETED, "/d")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn which_changes_fire_which_one_shot_watch() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    let mut b = RawConn::connect(&s.addr()).await;
    b.create("/p", None, 0).await.unwrap();
    b.create("/p/c", None, 0).await.unwrap();

    // A child watch ignores data changes of the parent and of the children.
    a.get_children("/p", true).await.unwrap();
    b.set_data("/p", b"x", -1).await.unwrap();
    b.set_data("/p/c", b"x", -1).await.unwrap();
    assert_eq!(drain(&mut a).await, []);
    // It fires on a child's deletion.
    b.delete("/p/c", -1).await.unwrap();
    assert_eq!(
        drain(&mut a).await,
        [event(ev::NODE_CHILDREN_CHANGED, "/p")]
    );

    // A data watch ignores child changes; getData and exists watches on the
    // same node fire once, as one event.
    a.get_data("/p", true).await.unwrap();
    a.exists("/p", true).await.unwrap();
    b.create("/p/d", None, 0).await.unwrap();
    assert_eq!(drain(&mut a).await, []);
    b.set_data("/p", b"y", -1).await.unwrap();
    assert_eq!(drain(&mut a).await, [event(ev::NODE_DATA_CHANGED, "/p")]);

    // Deleting a node fires its data and child watches and the parent's
    // child watch.
    a.get_data("/p/d", true).await.unwrap();
    a.get_children("/p/d", true).await.unwrap();
    a.get_children("/p", true).await.unwrap();
    b.delete("/p/d", -1).await.unwrap();
    let mut got = drain(&mut a).await;
    got.sort_by(|x, y| (x.event_type, &x.path).cmp(&(y.event_type, &y.path)));
    assert_eq!(
        got,
        [
            event(ev::NODE_DELETED, "/p/d"),
            event(ev::NODE_CHILDREN_CHANGED, "/p"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_precedes_the_reply_of_the_triggering_write() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    a.create("/w", Some(b"1"), 0).await.unwrap();
    a.get_data("/w", true).await.unwrap();
    let x = a
        .send(
            op::SET_DATA,
            &jute::SetDataRequest {
                path: "/w".into(),
                data: Some(b"2".to_vec()),
                version: -1,
            },
        )
        .await;
    let (h1, b1) = a.read_packet().await.unwrap();
    assert_eq!(h1.xid, xid::NOTIFICATION);
    assert_eq!(h1.err, 0);
    assert_eq!(
        decode::<WatcherEvent>(&b1),
        event(ev::NODE_DATA_CHANGED, "/w")
    );
    let (h2, b2) = a.read_packet().await.unwrap();
    assert_eq!((h2.xid, h2.err), (x, 0));
    assert_eq!(decode::<jute::SetDataResponse>(&b2).stat.version, 1);

    // The same for a child watch triggered by our own create.
    a.get_children("/w", true).await.unwrap();
    let x = a
        .send(
            op::CREATE2,
            &jute::CreateRequest {
                path: "/w/c".into(),
                data: None,
                acl: open_acl(),
                flags: 0,
            },
        )
        .await;
    let (h1, b1) = a.read_packet().await.unwrap();
    assert_eq!(h1.xid, xid::NOTIFICATION);
    assert_eq!(
        decode::<WatcherEvent>(&b1),
        event(ev::NODE_CHILDREN_CHANGED, "/w")
    );
    let (h2, _) = a.read_packet().await.unwrap();
    assert_eq!((h2.xid, h2.err), (x, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_one_shot_watchers() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let other = client(&s.addr()).await;
    c.create("/a", b"", &persistent()).await.unwrap();

    let (_, _, w) = c.get_and_watch_data("/a").await.unwrap();
    other.set_data("/a", b"1", None).await.unwrap();
    let e = next_event(w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/a")
    );

    let (stat, w) = c.check_and_watch_stat("/b").await.unwrap();
    assert!(stat.is_none());
    other.create("/b", b"", &persistent()).await.unwrap();
    let e = next_event(w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/b")
    );

    let (_, _, w) = c.get_and_watch_children("/a").await.unwrap();
    other.create("/a/x", b"", &persistent()).await.unwrap();
    let e = next_event(w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged, "/a")
    );

    let (_, w) = c.list_and_watch_children("/a").await.unwrap();
    let (_, _, dw) = c.get_and_watch_data("/a/x").await.unwrap();
    other.delete("/a/x", None).await.unwrap();
    let e = next_event(dw.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDeleted, "/a/x")
    );
    let e = next_event(w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged, "/a")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_watch_fires_repeatedly() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let other = client(&s.addr()).await;
    let mut w = c.watch("/p", AddWatchMode::Persistent).await.unwrap();
    other.create("/p", b"", &persistent()).await.unwrap();
    other.set_data("/p", b"1", None).await.unwrap();
    other.create("/p/c", b"", &persistent()).await.unwrap();
    other.set_data("/p/c", b"1", None).await.unwrap(); // not reported
    other.create("/p/c/g", b"", &persistent()).await.unwrap(); // not reported
    other.set_data("/p", b"2", None).await.unwrap();
    other.delete("/p/c/g", None).await.unwrap(); // not reported
    other.delete("/p/c", None).await.unwrap();
    other.delete("/p", None).await.unwrap();
    other.create("/p", b"", &persistent()).await.unwrap();
    assert_eq!(next(&mut w).await, zev(EventType::NodeCreated, "/p"));
    assert_eq!(next(&mut w).await, zev(EventType::NodeDataChanged, "/p"));
    assert_eq!(
        next(&mut w).await,
        zev(EventType::NodeChildrenChanged, "/p")
    );
    assert_eq!(next(&mut w).await, zev(EventType::NodeDataChanged, "/p"));
    assert_eq!(
        next(&mut w).await,
        zev(EventType::NodeChildrenChanged, "/p")
    );
    assert_eq!(next(&mut w).await, zev(EventType::NodeDeleted, "/p"));
    assert_eq!(next(&mut w).await, zev(EventType::NodeCreated, "/p"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_recursive_watch_covers_descendants_without_child_events() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let other = client(&s.addr()).await;
    other.create("/r", b"", &persistent()).await.unwrap();
    let mut w = c
        .watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    other.create("/r/a", b"", &persistent()).await.unwrap();
    other.create("/r/a/b", b"", &persistent()).await.unwrap();
    other.set_data("/r/a/b", b"1", None).await.unwrap();
    other.create("/other", b"", &persistent()).await.unwrap(); // outside
    other.create("/rr", b"", &persistent()).await.unwrap(); // outside
    other.delete("/r/a/b", None).await.unwrap();
    other.set_data("/r", b"1", None).await.unwrap();
    other.delete("/r/a", None).await.unwrap();
    assert_eq!(next(&mut w).await, zev(EventType::NodeCreated, "/r/a"));
    assert_eq!(next(&mut w).await, zev(EventType::NodeCreated, "/r/a/b"));
    assert_eq!(
        next(&mut w).await,
        zev(EventType::NodeDataChanged, "/r/a/b")
    );
    assert_eq!(next(&mut w).await, zev(EventType::NodeDeleted, "/r/a/b"));
    assert_eq!(next(&mut w).await, zev(EventType::NodeDataChanged, "/r"));
    assert_eq!(next(&mut w).await, zev(EventType::NodeDeleted, "/r/a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_add_watch_modes() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    let mut b = RawConn::connect(&s.addr()).await;
    // A watch may be added on a path that does not exist yet.
    add_watch(&mut a, "/p", add_watch_mode::PERSISTENT).await;
    add_watch(&mut a, "/r", add_watch_mode::PERSISTENT_RECURSIVE).await;
    b.create("/p", None, 0).await.unwrap();
    b.create("/p/c", None, 0).await.unwrap();
    b.set_data("/p/c", b"x", -1).await.unwrap();
    b.create("/r", None, 0).await.unwrap();
    b.create("/r/c", None, 0).await.unwrap();
    b.set_data("/r/c", b"x", -1).await.unwrap();
    assert_eq!(
        drain(&mut a).await,
        [
            event(ev::NODE_CREATED, "/p"),
            event(ev::NODE_CHILDREN_CHANGED, "/p"),
            event(ev::NODE_CREATED, "/r"),
            event(ev::NODE_CREATED, "/r/c"),
            event(ev::NODE_DATA_CHANGED, "/r/c"),
        ]
    );
    // An unknown mode is a marshalling error.
    let (h, _) = a
        .call(
            op::ADD_WATCH,
            &AddWatchRequest {
                path: "/p".into(),
                mode: 7,
            },
        )
        .await;
    assert_eq!(h.err, Code::MarshallingError.as_i32());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_watches_reports_armed_watches() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    let mut b = RawConn::connect(&s.addr()).await;
    a.create("/w", None, 0).await.unwrap();
    let no = Code::NoWatcher.as_i32();
    assert_eq!(check_watches(&mut a, "/w", watcher_type::ANY).await, no);
    assert_eq!(check_watches(&mut a, "/nope", watcher_type::ANY).await, no);

    a.get_data("/w", true).await.unwrap();
    assert_eq!(check_watches(&mut a, "/w", watcher_type::DATA).await, 0);
    assert_eq!(check_watches(&mut a, "/w", watcher_type::ANY).await, 0);
    assert_eq!(
        check_watches(&mut a, "/w", watcher_type::CHILDREN).await,
        no
    );
    // (ZooKeeper 3.8 answers checkWatches with 0 for any session as long as
    // some session watches the path, so that is not asserted here.)

    a.get_children("/w", true).await.unwrap();
    assert_eq!(check_watches(&mut a, "/w", watcher_type::CHILDREN).await, 0);

    // Once fired, a one-shot watch is gone.
    b.set_data("/w", b"x", -1).await.unwrap();
    assert_eq!(drain(&mut a).await, [event(ev::NODE_DATA_CHANGED, "/w")]);
    assert_eq!(check_watches(&mut a, "/w", watcher_type::DATA).await, no);
    assert_eq!(check_watches(&mut a, "/w", watcher_type::CHILDREN).await, 0);

    // A persistent watch counts as both a data and a child watch.
    add_watch(&mut a, "/q", add_watch_mode::PERSISTENT).await;
    assert_eq!(check_watches(&mut a, "/q", watcher_type::DATA).await, 0);
    assert_eq!(check_watches(&mut a, "/q", watcher_type::CHILDREN).await, 0);
    assert_eq!(check_watches(&mut a, "/q", watcher_type::ANY).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_watches_disarms_them() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    let mut b = RawConn::connect(&s.addr()).await;
    a.create("/w", None, 0).await.unwrap();
    let no = Code::NoWatcher.as_i32();
    assert_eq!(remove_watches(&mut a, "/w", watcher_type::ANY).await, no);
    assert_eq!(
        remove_watches(&mut a, "/nope", watcher_type::DATA).await,
        no
    );

    // Remove only the data watch: the child watch stays.
    a.get_data("/w", true).await.unwrap();
    a.get_children("/w", true).await.unwrap();
    assert_eq!(remove_watches(&mut a, "/w", watcher_type::DATA).await, 0);
    assert_eq!(remove_watches(&mut a, "/w", watcher_type::DATA).await, no);
    b.set_data("/w", b"x", -1).await.unwrap();
    b.create("/w/c", None, 0).await.unwrap();
    // No notification for the removal itself, nor for the data change.
    assert_eq!(
        drain(&mut a).await,
        [event(ev::NODE_CHILDREN_CHANGED, "/w")]
    );

    // ANY removes data and child watches together.
    a.get_data("/w", true).await.unwrap();
    a.get_children("/w", true).await.unwrap();
    assert_eq!(remove_watches(&mut a, "/w", watcher_type::ANY).await, 0);
    b.set_data("/w", b"y", -1).await.unwrap();
    b.delete("/w/c", -1).await.unwrap();
    assert_eq!(drain(&mut a).await, []);
    assert_eq!(check_watches(&mut a, "/w", watcher_type::ANY).await, no);

    // Another session's watches are not ours to remove.
    b.get_data("/w", true).await.unwrap();
    assert_eq!(remove_watches(&mut a, "/w", watcher_type::DATA).await, no);

    // ANY also removes a persistent watch.
    add_watch(&mut a, "/w", add_watch_mode::PERSISTENT).await;
    assert_eq!(remove_watches(&mut a, "/w", watcher_type::ANY).await, 0);
    b.set_data("/w", b"z", -1).await.unwrap();
    assert_eq!(drain(&mut a).await, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_watches_catches_up_on_missed_changes() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    a.create("/w", Some(b"0"), 0).await.unwrap();
    a.create("/same", Some(b"0"), 0).await.unwrap();
    let seen = a.last_zxid;
    // Changes the client "missed" while disconnected.
    a.set_data("/w", b"1", -1).await.unwrap();
    a.create("/w/g", None, 0).await.unwrap();

    // A new connection re-registers watches as of `seen` (xid -8, op 101).
    let mut c = RawConn::connect(&s.addr()).await;
    // Its session creation was a txn too.
    let last = a.ping().await.zxid;
    c.send_with_xid(
        xid::SET_WATCHES,
        op::SET_WATCHES,
        &SetWatches {
            relative_zxid: seen,
            data_watches: vec!["/w".into(), "/gone".into(), "/same".into()],
            exist_watches: vec!["/w/g".into(), "/later".into()],
            child_watches: vec!["/w".into(), "/gone2".into(), "/same".into()],
        },
    )
    .await;
    // Catch-up events (data, then exist, then child watches), then the reply.
    let mut events = Vec::new();
    loop {
        let (h, body) = c.read_packet().await.unwrap();
        if h.xid == xid::NOTIFICATION {
            events.push(decode::<WatcherEvent>(&body));
            continue;
        }
        assert_eq!(h.xid, xid::SET_WATCHES);
        assert_eq!(h.err, 0);
        assert_eq!(h.zxid, last);
        assert!(body.is_empty());
        break;
    }
    assert_eq!(
        events,
        [
            event(ev::NODE_DATA_CHANGED, "/w"),
            event(ev::NODE_DELETED, "/gone"),
            event(ev::NODE_CREATED, "/w/g"),
            event(ev::NODE_CHILDREN_CHANGED, "/w"),
            event(ev::NODE_DELETED, "/gone2"),
        ]
    );
    // Watches with nothing to catch up on are armed.
    a.create("/later", None, 0).await.unwrap();
    a.set_data("/same", b"1", -1).await.unwrap();
    a.create("/same/c", None, 0).await.unwrap();
    // The fired ones are not.
    a.set_data("/w", b"2", -1).await.unwrap();
    a.delete("/w/g", -1).await.unwrap();
    assert_eq!(
        drain(&mut c).await,
        [
            event(ev::NODE_CREATED, "/later"),
            event(ev::NODE_DATA_CHANGED, "/same"),
            event(ev::NODE_CHILDREN_CHANGED, "/same"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_watches2_rearms_persistent_watches_without_catch_up() {
    let s = TestServer::default_server();
    let mut a = RawConn::connect(&s.addr()).await;
    a.create("/p", None, 0).await.unwrap();
    a.create("/r", None, 0).await.unwrap();
    a.create("/d", None, 0).await.unwrap();
    let seen = a.last_zxid;
    a.set_data("/p", b"1", -1).await.unwrap();
    a.create("/r/x", None, 0).await.unwrap();
    a.set_data("/d", b"1", -1).await.unwrap();

    let mut c = RawConn::connect(&s.addr()).await;
    c.send_with_xid(
        xid::SET_WATCHES,
        op::SET_WATCHES2,
        &SetWatches2 {
            relative_zxid: seen,
            data_watches: vec!["/d".into()],
            exist_watches: vec![],
            child_watches: vec![],
            persistent_watches: vec!["/p".into()],
            persistent_recursive_watches: vec!["/r".into()],
        },
    )
    .await;
    // The one-shot data watch catches up; persistent ones do not.
    let (h, body) = c.read_packet().await.unwrap();
    assert_eq!(h.xid, xid::NOTIFICATION);
    assert_eq!(
        decode::<WatcherEvent>(&body),
        event(ev::NODE_DATA_CHANGED, "/d")
    );
    let (h, body) = c.read_packet().await.unwrap();
    assert_eq!((h.xid, h.err), (xid::SET_WATCHES, 0));
    assert!(body.is_empty());

    a.set_data("/p", b"2", -1).await.unwrap();
    a.create("/p/c", None, 0).await.unwrap();
    a.create("/r/x/y", None, 0).await.unwrap();
    a.set_data("/r/x", b"2", -1).await.unwrap();
    a.set_data("/p", b"3", -1).await.unwrap();
    assert_eq!(
        drain(&mut c).await,
        [
            event(ev::NODE_DATA_CHANGED, "/p"),
            event(ev::NODE_CHILDREN_CHANGED, "/p"),
            event(ev::NODE_CREATED, "/r/x/y"),
            event(ev::NODE_DATA_CHANGED, "/r/x"),
            event(ev::NODE_DATA_CHANGED, "/p"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_watches_survive_a_reconnect() {
    // zookeeper-client 0.11 re-registers only one-shot watches on reconnect
    // (it always sends setWatches, op 101); persistent ones are covered by
    // the raw setWatches2 test.
    let s = TestServer::default_server();
    let proxy = Proxy::start(&s.addr()).await;
    let c = client_with_timeout(&proxy.addr(), Duration::from_secs(20)).await;
    let other = client(&s.addr()).await;
    c.create("/a", b"", &persistent()).await.unwrap();
    c.create("/p", b"", &persistent()).await.unwrap();
    c.create("/same", b"", &persistent()).await.unwrap();
    let (_, _, data_w) = c.get_and_watch_data("/a").await.unwrap();
    let (_, child_w) = c.list_and_watch_children("/p").await.unwrap();
    let (_, exist_w) = c.check_and_watch_stat("/new").await.unwrap();
    let (_, _, same_w) = c.get_and_watch_data("/same").await.unwrap();
    let mut state = c.state_watcher();

    // Cut the connection and keep the client out while things change.
    proxy.set_blocked(true);
    proxy.sever();
    let st = tokio::time::timeout(WAIT, state.changed()).await.unwrap();
    assert_eq!(st, zk::SessionState::Disconnected);
    other.set_data("/a", b"changed", None).await.unwrap();
    other.create("/p/x", b"", &persistent()).await.unwrap();
    proxy.set_blocked(false);
    let st = tokio::time::timeout(WAIT, state.changed()).await.unwrap();
    assert_eq!(st, zk::SessionState::SyncConnected);

    // Watches whose nodes changed meanwhile fire at once (setWatches catch-up).
    let e = next_event(data_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/a")
    );
    let e = next_event(child_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeChildrenChanged, "/p")
    );
    // The others are armed again on the new connection.
    other.create("/new", b"", &persistent()).await.unwrap();
    let e = next_event(exist_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeCreated, "/new")
    );
    other.set_data("/same", b"1", None).await.unwrap();
    let e = next_event(same_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (EventType::NodeDataChanged, "/same")
    );
}
