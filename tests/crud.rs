//! Basic reads and writes through `zookeeper-client`, and the error codes of
//! each operation.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jute::codes::op;
use zk::Error;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_returns_stat_and_get_data_reads_it_back() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let (stat, seq) = c.create("/a", b"hello", &persistent()).await.unwrap();
    assert_eq!(seq.into_i64(), -1, "not a sequential node");
    assert!(stat.czxid > 0);
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid);
    assert_eq!(stat.ctime, stat.mtime);
    assert!(stat.ctime > 0);
    assert_eq!(
        (stat.version, stat.cversion, stat.aversion),
        (0, 0, 0),
        "{stat:?}"
    );
    assert_eq!(stat.ephemeral_owner, 0);
    assert_eq!(stat.data_length, 5);
    assert_eq!(stat.num_children, 0);

    let (data, got) = c.get_data("/a").await.unwrap();
    assert_eq!(data, b"hello");
    assert_eq!(got, stat);
    assert_eq!(c.check_stat("/a").await.unwrap(), Some(stat));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_data_bumps_version_and_mzxid_only() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let (created, _) = c.create("/a", b"one", &persistent()).await.unwrap();

    let st1 = c.set_data("/a", b"second", Some(0)).await.unwrap();
    assert_eq!(st1.version, 1);
    assert_eq!(st1.czxid, created.czxid);
    assert!(st1.mzxid > created.mzxid);
    assert_eq!(st1.pzxid, created.pzxid, "setData does not touch pzxid");
    assert_eq!(st1.ctime, created.ctime);
    assert!(st1.mtime >= created.mtime);
    assert_eq!(st1.data_length, 6);
    assert_eq!(st1.cversion, 0);
    assert_eq!(st1.aversion, 0);

    assert_eq!(
        c.set_data("/a", b"x", Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    assert_eq!(
        c.set_data("/a", b"x", Some(7)).await.unwrap_err(),
        Error::BadVersion
    );
    // -1 (None) matches any version.
    let st2 = c.set_data("/a", b"", None).await.unwrap();
    assert_eq!(st2.version, 2);
    assert_eq!(st2.data_length, 0);
    let (data, _) = c.get_data("/a").await.unwrap();
    assert!(data.is_empty());

    assert_eq!(
        c.set_data("/missing", b"x", None).await.unwrap_err(),
        Error::NoNode
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_error_codes() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    c.create("/a", b"", &persistent()).await.unwrap();
    assert_eq!(
        c.create("/a", b"", &persistent()).await.unwrap_err(),
        Error::NodeExists
    );
    assert_eq!(
        c.create("/missing/child", b"", &persistent())
            .await
            .unwrap_err(),
        Error::NoNode
    );
    c.create("/eph", b"", &ephemeral()).await.unwrap();
    assert_eq!(
        c.create("/eph/child", b"", &persistent())
            .await
            .unwrap_err(),
        Error::NoChildrenForEphemerals
    );
    assert_eq!(
        c.create("/eph/child", b"", &ephemeral()).await.unwrap_err(),
        Error::NoChildrenForEphemerals
    );
    // Nothing was created by the failures.
    assert_eq!(c.list_children("/eph").await.unwrap(), Vec::<String>::new());
    assert!(c.check_stat("/missing").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_checks_existence_version_and_children() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    assert_eq!(c.delete("/nope", None).await.unwrap_err(), Error::NoNode);

    c.create("/p", b"", &persistent()).await.unwrap();
    c.create("/p/c", b"", &persistent()).await.unwrap();
    assert_eq!(c.delete("/p", None).await.unwrap_err(), Error::NotEmpty);

    c.set_data("/p/c", b"v1", None).await.unwrap();
    assert_eq!(
        c.delete("/p/c", Some(0)).await.unwrap_err(),
        Error::BadVersion
    );
    c.delete("/p/c", Some(1)).await.unwrap();
    assert!(c.check_stat("/p/c").await.unwrap().is_none());
    c.delete("/p", Some(0)).await.unwrap();
    assert!(c.check_stat("/p").await.unwrap().is_none());
    assert_eq!(c.get_data("/p").await.unwrap_err(), Error::NoNode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_listing_and_parent_stat() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    c.create("/p", b"", &persistent()).await.unwrap();
    let mut last = 0;
    for name in ["b", "a", "c"] {
        let (st, _) = c
            .create(&format!("/p/{name}"), b"", &persistent())
            .await
            .unwrap();
        last = st.czxid;
    }
    let mut kids = c.list_children("/p").await.unwrap();
    kids.sort();
    assert_eq!(kids, ["a", "b", "c"]);

    // getChildren2 returns the parent's stat too.
    let (mut kids, stat) = c.get_children("/p").await.unwrap();
    kids.sort();
    assert_eq!(kids, ["a", "b", "c"]);
    assert_eq!(stat.num_children, 3);
    assert_eq!(stat.cversion, 3);
    assert_eq!(stat.pzxid, last);
    assert_eq!(
        stat.version, 0,
        "children do not change the parent's version"
    );
    assert_eq!(stat, c.check_stat("/p").await.unwrap().unwrap());

    assert_eq!(c.list_children("/p/a").await.unwrap(), Vec::<String>::new());
    assert_eq!(c.list_children("/nope").await.unwrap_err(), Error::NoNode);
    assert_eq!(c.get_children("/nope").await.unwrap_err(), Error::NoNode);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_all_children_number_counts_descendants() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    // A fresh tree holds /zookeeper, /zookeeper/quota and /zookeeper/config.
    assert_eq!(c.count_descendants_number("/").await.unwrap(), 3);
    assert_eq!(c.count_descendants_number("/zookeeper").await.unwrap(), 2);

    c.create("/n", b"", &persistent()).await.unwrap();
    c.create("/n/a", b"", &persistent()).await.unwrap();
    c.create("/n/a/b", b"", &persistent()).await.unwrap();
    c.create("/n/c", b"", &persistent()).await.unwrap();
    c.create("/na", b"", &persistent()).await.unwrap();
    assert_eq!(c.count_descendants_number("/n").await.unwrap(), 3);
    assert_eq!(c.count_descendants_number("/n/a").await.unwrap(), 1);
    assert_eq!(c.count_descendants_number("/n/a/b").await.unwrap(), 0);
    assert_eq!(c.count_descendants_number("/na").await.unwrap(), 0);
    assert_eq!(c.count_descendants_number("/").await.unwrap(), 8);
    assert_eq!(
        c.count_descendants_number("/nope").await.unwrap_err(),
        Error::NoNode
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_ephemerals_lists_own_session_only() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let other = client(&s.addr()).await;
    c.create("/e1", b"", &ephemeral()).await.unwrap();
    c.create("/x", b"", &persistent()).await.unwrap();
    c.create("/x/e2", b"", &ephemeral()).await.unwrap();
    c.create("/x/p", b"", &persistent()).await.unwrap();
    other.create("/x/e3", b"", &ephemeral()).await.unwrap();

    let mut all = c.list_ephemerals("/").await.unwrap();
    all.sort();
    assert_eq!(all, ["/e1", "/x/e2"]);
    assert_eq!(c.list_ephemerals("/x").await.unwrap(), ["/x/e2"]);
    assert_eq!(other.list_ephemerals("/").await.unwrap(), ["/x/e3"]);
    let fresh = client(&s.addr()).await;
    assert_eq!(
        fresh.list_ephemerals("/").await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_succeeds_and_echoes_the_path() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    c.create("/a", b"", &persistent()).await.unwrap();
    c.sync("/a").await.unwrap();

    let mut r = RawConn::connect(&s.addr()).await;
    let resp: jute::SyncResponse = r
        .req(op::SYNC, &jute::SyncRequest { path: "/a".into() })
        .await
        .unwrap();
    assert_eq!(resp.path, "/a");
    // sync does not check that the node exists.
    let resp: jute::SyncResponse = r
        .req(
            op::SYNC,
            &jute::SyncRequest {
                path: "/missing".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(resp.path, "/missing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_by_one_session_are_seen_by_another() {
    let s = TestServer::default_server();
    let a = client(&s.addr()).await;
    let b = client(&s.addr()).await;
    assert_ne!(a.session_id(), b.session_id());
    let (st, _) = a.create("/shared", b"v", &persistent()).await.unwrap();
    b.sync("/shared").await.unwrap();
    assert_eq!(b.get_data("/shared").await.unwrap(), (b"v".to_vec(), st));
    let st2 = b.set_data("/shared", b"w", Some(0)).await.unwrap();
    a.sync("/shared").await.unwrap();
    assert_eq!(a.get_data("/shared").await.unwrap(), (b"w".to_vec(), st2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_data_round_trips() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let data: Vec<u8> = (0..500_000u32).map(|i| (i % 251) as u8).collect();
    let (st, _) = c.create("/big", &data, &persistent()).await.unwrap();
    assert_eq!(st.data_length, 500_000);
    assert_eq!(c.get_data("/big").await.unwrap().0, data);
}
