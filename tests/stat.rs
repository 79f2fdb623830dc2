//! Stat bookkeeping, checked with exact zxids over raw sockets, and the nodes
//! a fresh server starts with.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jute::codes::{create_mode, op, perms, Code};
use jute::{Acl, GetAclRequest, GetAclResponse, Id, SetAclRequest, SetAclResponse, Stat};

fn zero_stat() -> Stat {
    Stat::default()
}

async fn get_acl(r: &mut RawConn, path: &str) -> Result<GetAclResponse, i32> {
    r.req(op::GET_ACL, &GetAclRequest { path: path.into() })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_server_has_root_and_system_nodes() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;

    // The root: empty (not null) data, one child. The reported cversion is
    // 2 × (children created through the tree) − numChildren = 0 − 1.
    let root = r.get_data("/", false).await.unwrap();
    assert_eq!(root.data, Some(vec![]));
    assert_eq!(
        root.stat,
        Stat {
            cversion: -1,
            num_children: 1,
            ..zero_stat()
        }
    );
    assert_eq!(r.get_children("/", false).await.unwrap(), ["zookeeper"]);

    let zk = r.get_data("/zookeeper", false).await.unwrap();
    assert_eq!(zk.data, Some(vec![]));
    assert_eq!(
        zk.stat,
        Stat {
            cversion: -2,
            num_children: 2,
            ..zero_stat()
        }
    );
    assert_eq!(
        r.get_children("/zookeeper", false).await.unwrap(),
        ["config", "quota"]
    );

    let quota = r.get_data("/zookeeper/quota", false).await.unwrap();
    assert_eq!(quota.data, Some(vec![]));
    assert_eq!(quota.stat, zero_stat());

    // /zookeeper/config got its read-only ACL through a setACL with version -1.
    let config = r.get_data("/zookeeper/config", false).await.unwrap();
    assert_eq!(config.data, Some(vec![]));
    assert_eq!(
        config.stat,
        Stat {
            aversion: -1,
            ..zero_stat()
        }
    );

    let world = |p| Acl {
        perms: p,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    };
    assert_eq!(get_acl(&mut r, "/").await.unwrap().acl, [world(perms::ALL)]);
    assert_eq!(
        get_acl(&mut r, "/zookeeper").await.unwrap().acl,
        [world(perms::ALL)]
    );
    assert_eq!(
        get_acl(&mut r, "/zookeeper/config").await.unwrap().acl,
        [world(perms::READ)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_stat_after_a_create() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let a = r.create("/a", None, 0).await.unwrap();
    let root = r.exists("/", false).await.unwrap();
    assert_eq!(
        root,
        Stat {
            cversion: 0, // 2 × 1 create − 2 children
            num_children: 2,
            pzxid: a.stat.czxid,
            ..zero_stat()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_nodes_are_protected() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let bad = Code::BadArguments.as_i32();
    assert_eq!(r.delete("/", -1).await.unwrap_err(), bad);
    assert_eq!(r.delete("/zookeeper", -1).await.unwrap_err(), bad);
    assert_eq!(r.delete("/zookeeper/quota", -1).await.unwrap_err(), bad);
    assert_eq!(
        r.set_data("/zookeeper/config", b"x", -1).await.unwrap_err(),
        Code::NoAuth.as_i32()
    );
    assert_eq!(
        r.get_children("/zookeeper", false).await.unwrap(),
        ["config", "quota"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zxids_and_versions_follow_each_write() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;

    let p = r.create("/p", Some(b"abc"), 0).await.unwrap();
    let z1 = r.last_zxid;
    assert_eq!(p.path, "/p");
    assert_eq!(p.stat.czxid, z1, "the reply header carries the txn zxid");
    assert_eq!(p.stat.mzxid, z1);
    assert_eq!(p.stat.pzxid, z1);
    assert_eq!(p.stat.data_length, 3);

    // A child changes the parent's pzxid, cversion and numChildren only.
    let c = r.create("/p/c", None, 0).await.unwrap();
    let z2 = r.last_zxid;
    assert_eq!(z2, z1 + 1);
    assert_eq!(c.stat.czxid, z2);
    let ps = r.exists("/p", false).await.unwrap();
    assert_eq!(
        ps,
        Stat {
            pzxid: z2,
            cversion: 1,
            num_children: 1,
            ..p.stat.clone()
        }
    );

    // setData: mzxid, mtime, version, dataLength.
    let st = r.set_data("/p", b"hello", 0).await.unwrap();
    let z3 = r.last_zxid;
    assert_eq!(z3, z2 + 1);
    assert_eq!(
        st,
        Stat {
            mzxid: z3,
            mtime: st.mtime,
            version: 1,
            data_length: 5,
            ..ps.clone()
        }
    );
    assert!(st.mtime >= ps.mtime);

    // setACL: only aversion.
    let acl: SetAclResponse = r
        .req(
            op::SET_ACL,
            &SetAclRequest {
                path: "/p".into(),
                acl: open_acl(),
                version: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        acl.stat,
        Stat {
            aversion: 1,
            ..st.clone()
        }
    );
    let e = r
        .req::<_, SetAclResponse>(
            op::SET_ACL,
            &SetAclRequest {
                path: "/p".into(),
                acl: open_acl(),
                version: 0,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e, Code::BadVersion.as_i32());

    // Deleting the child: pzxid is the delete's zxid, cversion counts it.
    r.delete("/p/c", 0).await.unwrap();
    let z5 = r.last_zxid;
    let ps = r.exists("/p", false).await.unwrap();
    assert_eq!(ps.pzxid, z5);
    assert_eq!(ps.cversion, 2);
    assert_eq!(ps.num_children, 0);
    assert_eq!(ps.mzxid, z3);
    assert_eq!(ps.version, 1);
    assert_eq!(ps.aversion, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cversion_counts_creates_and_deletes_but_sequence_counts_creates() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/cv", None, 0).await.unwrap();
    for i in 0..4 {
        r.create(&format!("/cv/n{i}"), None, 0).await.unwrap();
    }
    r.delete("/cv/n1", -1).await.unwrap();
    let st = r.exists("/cv", false).await.unwrap();
    assert_eq!(st.cversion, 5);
    assert_eq!(st.num_children, 3);

    let seq = r
        .create("/cv/s", None, create_mode::PERSISTENT_SEQUENTIAL)
        .await
        .unwrap();
    assert_eq!(seq.path, "/cv/s0000000004");
    let eseq = r
        .create("/cv/e", None, create_mode::EPHEMERAL_SEQUENTIAL)
        .await
        .unwrap();
    assert_eq!(eseq.path, "/cv/e0000000005");
    let st = r.exists("/cv", false).await.unwrap();
    assert_eq!(st.cversion, 7);
    assert_eq!(st.num_children, 5);
    assert_eq!(st.pzxid, eseq.stat.czxid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_data_differs_from_empty_data() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/null", None, 0).await.unwrap();
    r.create("/empty", Some(b""), 0).await.unwrap();

    // Check the bytes on the wire: the buffer length is -1 for null.
    let (h, body) = r
        .call(
            op::GET_DATA,
            &jute::GetDataRequest {
                path: "/null".into(),
                watch: false,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    assert_eq!(&body[..4], &(-1i32).to_be_bytes());
    let (h, body) = r
        .call(
            op::GET_DATA,
            &jute::GetDataRequest {
                path: "/empty".into(),
                watch: false,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    assert_eq!(&body[..4], &0i32.to_be_bytes());

    let null = r.get_data("/null", false).await.unwrap();
    assert_eq!(null.data, None);
    assert_eq!(null.stat.data_length, 0);
    let empty = r.get_data("/empty", false).await.unwrap();
    assert_eq!(empty.data, Some(vec![]));
    assert_eq!(empty.stat.data_length, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_owner_by_node_type() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let sid = r.session_id;
    assert_ne!(sid, 0);
    let p = r.create("/p", None, create_mode::PERSISTENT).await.unwrap();
    assert_eq!(p.stat.ephemeral_owner, 0);
    let e = r.create("/e", None, create_mode::EPHEMERAL).await.unwrap();
    assert_eq!(e.stat.ephemeral_owner, sid);
    let es = r
        .create("/es", None, create_mode::EPHEMERAL_SEQUENTIAL)
        .await
        .unwrap();
    assert_eq!(es.stat.ephemeral_owner, sid);
    let ps = r
        .create("/ps", None, create_mode::PERSISTENT_SEQUENTIAL)
        .await
        .unwrap();
    assert_eq!(ps.stat.ephemeral_owner, 0);

    // Containers and TTL nodes keep their type in the ephemeralOwner field
    // internally but report 0 to clients.
    let (h, body) = r
        .call(
            op::CREATE_CONTAINER,
            &jute::CreateRequest {
                path: "/c".into(),
                data: None,
                acl: open_acl(),
                flags: create_mode::CONTAINER,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    let c = decode::<jute::Create2Response>(&body);
    assert_eq!(c.path, "/c");
    assert_eq!(c.stat.ephemeral_owner, 0);
    let t: jute::Create2Response = r
        .req(
            op::CREATE_TTL,
            &jute::CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: open_acl(),
                flags: create_mode::PERSISTENT_WITH_TTL,
                ttl: 3_600_000,
            },
        )
        .await
        .unwrap();
    assert_eq!(t.path, "/t");
    assert_eq!(t.stat.ephemeral_owner, 0);

    // The same values from another session's point of view.
    let mut o = RawConn::connect(&s.addr()).await;
    assert_eq!(o.exists("/e", false).await.unwrap().ephemeral_owner, sid);
    assert_eq!(o.exists("/c", false).await.unwrap().ephemeral_owner, 0);
    assert_eq!(o.exists("/t", false).await.unwrap().ephemeral_owner, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_writes_consume_a_zxid() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let a = r.create("/a", None, 0).await.unwrap();
    let z = a.stat.czxid;
    let (h, _) = r
        .call(
            op::CREATE2,
            &jute::CreateRequest {
                path: "/a".into(),
                data: None,
                acl: open_acl(),
                flags: 0,
            },
        )
        .await;
    assert_eq!(h.err, Code::NodeExists.as_i32());
    assert_eq!(
        h.zxid,
        z + 1,
        "the failed create was logged as an error txn"
    );
    let b = r.create("/b", None, 0).await.unwrap();
    assert_eq!(b.stat.czxid, z + 2);

    // Reads do not consume zxids; their header carries the last zxid.
    let (h, _) = r
        .call(
            op::EXISTS,
            &jute::ExistsRequest {
                path: "/a".into(),
                watch: false,
            },
        )
        .await;
    assert_eq!((h.err, h.zxid), (0, z + 2));
    let (h, _) = r
        .call(
            op::EXISTS,
            &jute::ExistsRequest {
                path: "/zz".into(),
                watch: false,
            },
        )
        .await;
    assert_eq!((h.err, h.zxid), (Code::NoNode.as_i32(), z + 2));
}
