//! Sequential, container and TTL nodes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use jute::codes::{create_mode, op, Code};
use zk::{Acls, CreateMode, Error};

const REAP_WAIT: Duration = Duration::from_secs(30);

fn reaping_server() -> TestServer {
    TestServer::start(ServerOpts {
        container_check_interval_ms: Some(100),
        ..Default::default()
    })
}

fn ttl(ms: u64) -> zk::CreateOptions<'static> {
    CreateMode::Persistent
        .with_acls(Acls::anyone_all())
        .with_ttl(Duration::from_millis(ms))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_suffix_is_ten_digits_and_continues_after_deletes() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    c.create("/q", b"", &persistent()).await.unwrap();
    let pseq = CreateMode::PersistentSequential.with_acls(Acls::anyone_all());
    let eseq = CreateMode::EphemeralSequential.with_acls(Acls::anyone_all());

    let (_, s0) = c.create("/q/n-", b"", &pseq).await.unwrap();
    let (_, s1) = c.create("/q/n-", b"", &pseq).await.unwrap();
    assert_eq!((s0.into_i64(), s1.into_i64()), (0, 1));
    assert_eq!(s1.to_string(), "0000000001");
    c.delete("/q/n-0000000001", None).await.unwrap();
    c.delete("/q/n-0000000000", None).await.unwrap();
    // Deleting does not reuse numbers.
    let (_, s2) = c.create("/q/n-", b"", &pseq).await.unwrap();
    assert_eq!(s2.into_i64(), 2);
    // Ephemeral sequential nodes share the parent's counter.
    let (st, s3) = c.create("/q/e-", b"", &eseq).await.unwrap();
    assert_eq!(s3.into_i64(), 3);
    assert_eq!(st.ephemeral_owner, c.session_id().0);
    // Different prefixes share it too; a plain create bumps it.
    c.create("/q/plain", b"", &persistent()).await.unwrap();
    let (_, s5) = c.create("/q/other", b"", &pseq).await.unwrap();
    assert_eq!(s5.into_i64(), 5);

    let mut kids = c.list_children("/q").await.unwrap();
    kids.sort();
    assert_eq!(
        kids,
        ["e-0000000003", "n-0000000002", "other0000000005", "plain"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_raw_paths_and_trailing_slash() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/s", None, 0).await.unwrap();
    // A sequential create may end in '/': the suffix makes the path valid.
    let a = r
        .create("/s/", None, create_mode::PERSISTENT_SEQUENTIAL)
        .await
        .unwrap();
    assert_eq!(a.path, "/s/0000000000");
    let b = r
        .create("/s/x", None, create_mode::EPHEMERAL_SEQUENTIAL)
        .await
        .unwrap();
    assert_eq!(b.path, "/s/x0000000001");
    assert_eq!(b.stat.ephemeral_owner, r.session_id);
    // Without the sequential flag the same path is invalid.
    assert_eq!(
        r.create("/s/", None, create_mode::PERSISTENT)
            .await
            .unwrap_err(),
        Code::BadArguments.as_i32()
    );
    assert_eq!(
        r.get_children("/s", false).await.unwrap(),
        ["0000000000", "x0000000001"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_is_reaped_after_its_last_child_goes() {
    let s = reaping_server();
    let c = client(&s.addr()).await;
    let (st, _) = c.create("/c", b"", &container()).await.unwrap();
    assert_eq!(st.ephemeral_owner, 0);
    c.create("/c/x", b"", &persistent()).await.unwrap();
    c.create("/k", b"", &container()).await.unwrap();
    c.create("/k/x", b"", &persistent()).await.unwrap();
    // Never had a child: not a candidate.
    c.create("/never", b"", &container()).await.unwrap();

    c.delete("/c/x", None).await.unwrap();
    wait_gone(&c, "/c", REAP_WAIT).await;
    // The pass that reaped /c kept the container that still has a child and
    // the one that never had any.
    assert!(c.check_stat("/k").await.unwrap().is_some());
    assert!(c.check_stat("/never").await.unwrap().is_some());

    c.delete("/k/x", None).await.unwrap();
    wait_gone(&c, "/k", REAP_WAIT).await;
    assert!(c.check_stat("/never").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_reaping_fires_watches() {
    let s = reaping_server();
    let c = client(&s.addr()).await;
    c.create("/c", b"", &container()).await.unwrap();
    c.create("/c/x", b"", &persistent()).await.unwrap();
    c.delete("/c/x", None).await.unwrap();
    let w = c.check_and_watch_stat("/c").await;
    match w {
        Ok((Some(_), watcher)) => {
            let ev = next_event(watcher.changed()).await;
            assert_eq!(ev.event_type, zk::EventType::NodeDeleted);
            assert_eq!(ev.path, "/c");
        }
        // Already reaped between the delete and the exists.
        Ok((None, _)) => {}
        Err(e) => panic!("{e}"),
    }
    assert!(c.check_stat("/c").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_node_is_reaped_when_childless_and_expired() {
    let s = reaping_server();
    let c = client(&s.addr()).await;
    let (st, _) = c.create("/tp", b"", &ttl(300)).await.unwrap();
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.version, 0);
    c.create("/tp/child", b"", &persistent()).await.unwrap();
    // Created after /tp with the same TTL: by the time it is reaped, /tp's
    // TTL has run out too, but /tp has a child.
    c.create("/t", b"", &ttl(300)).await.unwrap();
    // A long TTL is not reaped.
    c.create("/long", b"", &ttl(3_600_000)).await.unwrap();

    wait_gone(&c, "/t", REAP_WAIT).await;
    assert!(c.check_stat("/tp").await.unwrap().is_some());
    assert!(c.check_stat("/tp/child").await.unwrap().is_some());

    c.delete("/tp/child", None).await.unwrap();
    wait_gone(&c, "/tp", REAP_WAIT).await;
    assert!(c.check_stat("/long").await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_sequential_node() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let opts = CreateMode::PersistentSequential
        .with_acls(Acls::anyone_all())
        .with_ttl(Duration::from_secs(3600));
    c.create("/t", b"", &persistent()).await.unwrap();
    let (st, seq) = c.create("/t/n", b"x", &opts).await.unwrap();
    assert_eq!(seq.into_i64(), 0);
    assert_eq!(st.ephemeral_owner, 0);
    assert_eq!(st.data_length, 1);
    assert_eq!(c.list_children("/t").await.unwrap(), ["n0000000000"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_and_mode_validation() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let bad = Code::BadArguments.as_i32();
    let create_ttl = |path: &str, flags: i32, ttl: i64| jute::CreateTtlRequest {
        path: path.into(),
        data: None,
        acl: open_acl(),
        flags,
        ttl,
    };
    // TTL of 0, TTL on a non-TTL mode, TTL on an ephemeral.
    for (flags, t) in [
        (create_mode::PERSISTENT_WITH_TTL, 0),
        (create_mode::PERSISTENT_WITH_TTL, -5),
        (create_mode::PERSISTENT, 100),
        (create_mode::EPHEMERAL, 100),
    ] {
        let e = r
            .req::<_, jute::Create2Response>(op::CREATE_TTL, &create_ttl("/t", flags, t))
            .await
            .unwrap_err();
        assert_eq!(e, bad, "flags {flags} ttl {t}");
    }
    // A TTL mode through create2, which carries no TTL.
    assert_eq!(
        r.create("/t", None, create_mode::PERSISTENT_WITH_TTL)
            .await
            .unwrap_err(),
        bad
    );
    // Unknown create modes.
    assert_eq!(r.create("/t", None, 7).await.unwrap_err(), bad);
    assert_eq!(r.create("/t", None, -1).await.unwrap_err(), bad);
    assert_eq!(
        r.exists("/t", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );

    // The client refuses a TTL on non-persistent modes by itself.
    let c = client(&s.addr()).await;
    let opts = CreateMode::Ephemeral
        .with_acls(Acls::anyone_all())
        .with_ttl(Duration::from_secs(1));
    assert!(matches!(
        c.create("/t", b"", &opts).await.unwrap_err(),
        Error::BadArguments(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_nodes_need_extended_types() {
    let s = TestServer::start(ServerOpts {
        extended_types: false,
        ..Default::default()
    });
    let mut r = RawConn::connect(&s.addr()).await;
    let e = r
        .req::<_, jute::Create2Response>(
            op::CREATE_TTL,
            &jute::CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: open_acl(),
                flags: create_mode::PERSISTENT_WITH_TTL,
                ttl: 1000,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e, Code::Unimplemented.as_i32());
    // The session goes on; containers do not need extended types.
    r.ping().await;
    let c = r.create("/c", None, create_mode::CONTAINER).await.unwrap();
    assert_eq!(c.stat.ephemeral_owner, 0);
    assert_eq!(
        r.exists("/t", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_create_container_opcode_makes_containers() {
    let s = reaping_server();
    let mut r = RawConn::connect(&s.addr()).await;
    // createContainer (19) answers like create2.
    let (h, body) = r
        .call(
            op::CREATE_CONTAINER,
            &jute::CreateRequest {
                path: "/c19".into(),
                data: Some(b"d".to_vec()),
                acl: open_acl(),
                flags: create_mode::CONTAINER,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    let resp = decode::<jute::Create2Response>(&body);
    assert_eq!(resp.path, "/c19");
    assert_eq!(resp.stat.data_length, 1);
    assert_eq!(resp.stat.ephemeral_owner, 0);
    // ZooKeeper 3.8 accepts the container flag on create2 but makes a plain
    // persistent node.
    let c15 = r
        .create("/c15", None, create_mode::CONTAINER)
        .await
        .unwrap();
    assert_eq!(c15.path, "/c15");
    for p in ["/c19", "/c15"] {
        r.create(&format!("{p}/x"), None, 0).await.unwrap();
        r.delete(&format!("{p}/x"), -1).await.unwrap();
    }
    let c = client(&s.addr()).await;
    wait_gone(&c, "/c19", REAP_WAIT).await;
    assert!(c.check_stat("/c15").await.unwrap().is_some());
}
