//! Every opcode of a 3.9 client spoken by hand, framing and xid rules.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jute::codes::{add_watch_mode, create_mode, event as ev, op, perms, watcher_type, xid, Code};
use jute::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use jute::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_response_shape() {
    let s = TestServer::default_server();
    let mut st = open(&s.addr()).await;
    let req = connect_request(10_000);
    // The request is 4+8+4+8+(4+16)+1 = 45 bytes.
    assert_eq!(jute::to_bytes(&req).len(), 45);
    let resp = handshake(&mut st, &req).await.unwrap();
    assert_eq!(resp.protocol_version, 0);
    assert_eq!(resp.time_out, 10_000);
    assert_ne!(resp.session_id, 0);
    assert_eq!(resp.passwd.as_ref().unwrap().len(), 16);
    assert_eq!(resp.read_only, Some(false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_opcode_round_trips() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let mut w = RawConn::connect(&s.addr()).await; // a second session

    // create (1): the reply is just the path.
    let resp: CreateResponse = r
        .req(
            op::CREATE,
            &CreateRequest {
                path: "/a".into(),
                data: Some(b"1".to_vec()),
                acl: open_acl(),
                flags: create_mode::PERSISTENT,
            },
        )
        .await
        .unwrap();
    assert_eq!(resp.path, "/a");
    let za = r.last_zxid;
    // create2 (15): path and stat.
    let c2 = r.create("/a/b", Some(b"22"), 0).await.unwrap();
    assert_eq!(c2.path, "/a/b");
    assert_eq!(c2.stat.data_length, 2);
    // createContainer (19) and createTTL (21).
    let cc: Create2Response = r
        .req(
            op::CREATE_CONTAINER,
            &CreateRequest {
                path: "/c".into(),
                data: None,
                acl: open_acl(),
                flags: create_mode::CONTAINER,
            },
        )
        .await
        .unwrap();
    assert_eq!(cc.path, "/c");
    let ct: Create2Response = r
        .req(
            op::CREATE_TTL,
            &CreateTtlRequest {
                path: "/t".into(),
                data: None,
                acl: open_acl(),
                flags: create_mode::PERSISTENT_WITH_TTL,
                ttl: 3_600_000,
            },
        )
        .await
        .unwrap();
    assert_eq!(ct.path, "/t");

    // exists (3), getData (4).
    let st = r.exists("/a", false).await.unwrap();
    assert_eq!(st.czxid, za);
    assert_eq!(st.num_children, 1);
    let gd = r.get_data("/a", false).await.unwrap();
    assert_eq!(gd.data, Some(b"1".to_vec()));
    assert_eq!(gd.stat, st);

    // setData (5).
    let st = r.set_data("/a", b"xyz", 0).await.unwrap();
    assert_eq!((st.version, st.data_length), (1, 3));

    // getACL (6), setACL (7).
    let acl: GetAclResponse = r
        .req(op::GET_ACL, &GetAclRequest { path: "/a".into() })
        .await
        .unwrap();
    assert_eq!(acl.acl, open_acl());
    assert_eq!(acl.stat, st);
    let new_acl = vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "ip".into(),
            id: "127.0.0.1".into(),
        },
    }];
    let sa: SetAclResponse = r
        .req(
            op::SET_ACL,
            &SetAclRequest {
                path: "/a".into(),
                acl: new_acl.clone(),
                version: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(sa.stat.aversion, 1);
    let acl: GetAclResponse = r
        .req(op::GET_ACL, &GetAclRequest { path: "/a".into() })
        .await
        .unwrap();
    assert_eq!(acl.acl, new_acl);

    // getChildren (8), getChildren2 (12).
    let gc: GetChildrenResponse = r
        .req(
            op::GET_CHILDREN,
            &GetChildrenRequest {
                path: "/a".into(),
                watch: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(gc.children, ["b"]);
    let gc2: GetChildren2Response = r
        .req(
            op::GET_CHILDREN2,
            &GetChildren2Request {
                path: "/a".into(),
                watch: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(gc2.children, ["b"]);
    assert_eq!(gc2.stat.num_children, 1);
    assert_eq!(gc2.stat.aversion, 1);

    // getAllChildrenNumber (104), getEphemerals (103).
    let n: GetAllChildrenNumberResponse = r
        .req(
            op::GET_ALL_CHILDREN_NUMBER,
            &GetAllChildrenNumberRequest { path: "/a".into() },
        )
        .await
        .unwrap();
    assert_eq!(n.total_number, 1);
    r.create("/a/e", None, create_mode::EPHEMERAL)
        .await
        .unwrap();
    let eph: GetEphemeralsResponse = r
        .req(
            op::GET_EPHEMERALS,
            &GetEphemeralsRequest {
                prefix_path: "/a".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(eph.ephemerals, ["/a/e"]);

    // sync (9), ping (11).
    let sy: SyncResponse = r
        .req(op::SYNC, &SyncRequest { path: "/a".into() })
        .await
        .unwrap();
    assert_eq!(sy.path, "/a");
    let p = r.ping().await;
    assert_eq!((p.xid, p.err, p.zxid), (xid::PING, 0, r.last_zxid));

    // multi (14) with check (13), multiRead (22).
    let (h, body) = r
        .call(
            op::MULTI,
            &MultiRequest {
                ops: vec![
                    MultiOp::Check(CheckVersionRequest {
                        path: "/a".into(),
                        version: 1,
                    }),
                    MultiOp::SetData(SetDataRequest {
                        path: "/a/b".into(),
                        data: None,
                        version: 0,
                    }),
                ],
            },
        )
        .await;
    assert_eq!(h.err, 0);
    let m = decode::<MultiResponse>(&body);
    assert_eq!(m.results.len(), 2);
    assert_eq!(m.results[0], MultiResult::Check);
    let MultiResult::SetData(sd) = &m.results[1] else {
        panic!("{m:?}")
    };
    assert_eq!((sd.stat.version, sd.stat.data_length), (1, 0));
    let (h, body) = r
        .call(
            op::MULTI_READ,
            &MultiRequest {
                ops: vec![MultiOp::GetData(GetDataRequest {
                    path: "/a/b".into(),
                    watch: false,
                })],
            },
        )
        .await;
    assert_eq!(h.err, 0);
    let MultiResult::GetData(gd) = &decode::<MultiResponse>(&body).results[0] else {
        panic!()
    };
    assert_eq!(gd.data, None);

    // auth (100, xid -4), whoAmI (107).
    r.send_with_xid(
        xid::AUTH,
        op::AUTH,
        &AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Some(b"u:p".to_vec()),
        },
    )
    .await;
    let (h, body) = r.read_reply(xid::AUTH).await;
    assert_eq!((h.err, h.zxid), (0, 0));
    assert!(body.is_empty());
    let who: WhoAmIResponse = r.req(op::WHO_AM_I, &Empty).await.unwrap();
    assert_eq!(who.client_info.len(), 2);

    // addWatch (106), checkWatches (17), removeWatches (18).
    let (h, _) = r
        .call(
            op::ADD_WATCH,
            &AddWatchRequest {
                path: "/a".into(),
                mode: add_watch_mode::PERSISTENT,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    let (h, _) = r
        .call(
            op::CHECK_WATCHES,
            &CheckWatchesRequest {
                path: "/a".into(),
                watcher_type: watcher_type::ANY,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    let (h, body) = r
        .call(
            op::REMOVE_WATCHES,
            &RemoveWatchesRequest {
                path: "/a".into(),
                watcher_type: watcher_type::ANY,
            },
        )
        .await;
    assert_eq!(h.err, 0);
    assert!(body.is_empty());

    // setWatches (101) and setWatches2 (105) answer with an empty body.
    for opcode in [op::SET_WATCHES, op::SET_WATCHES2] {
        if opcode == op::SET_WATCHES {
            r.send_with_xid(
                xid::SET_WATCHES,
                opcode,
                &SetWatches {
                    relative_zxid: r.last_zxid,
                    data_watches: vec!["/a/b".into()],
                    exist_watches: vec![],
                    child_watches: vec![],
                },
            )
            .await;
        } else {
            r.send_with_xid(
                xid::SET_WATCHES,
                opcode,
                &SetWatches2 {
                    relative_zxid: r.last_zxid,
                    data_watches: vec![],
                    exist_watches: vec!["/x".into()],
                    child_watches: vec![],
                    persistent_watches: vec![],
                    persistent_recursive_watches: vec![],
                },
            )
            .await;
        }
        let (h, body) = r.read_reply(xid::SET_WATCHES).await;
        assert_eq!(h.err, 0);
        assert!(body.is_empty());
    }
    w.set_data("/a/b", b"!", -1).await.unwrap();
    w.create("/x", None, 0).await.unwrap();
    assert_eq!(r.next_event().await, event(ev::NODE_DATA_CHANGED, "/a/b"));
    assert_eq!(r.next_event().await, event(ev::NODE_CREATED, "/x"));

    // delete (2).
    r.delete("/x", 0).await.unwrap();

    // closeSession (-11): the reply, then the server closes the connection,
    // and the session's ephemerals are gone.
    let h = r.close_session().await;
    assert_eq!(h.err, 0);
    assert!(wait_closed(&mut r.stream, CLOSE_WAIT).await);
    assert_eq!(
        w.exists("/a/e", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconfig_is_disabled_in_standalone() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let before = r.ping().await.zxid;
    let (h, body) = r
        .call(
            op::RECONFIG,
            &ReconfigRequest {
                joining_servers: "server.2=127.0.0.1:2888:3888;2181".into(),
                leaving_servers: String::new(),
                new_members: String::new(),
                cur_config_id: -1,
            },
        )
        .await;
    assert_eq!(h.err, Code::ReconfigDisabled.as_i32());
    assert!(body.is_empty());
    // Refused like any failed write: it took a zxid.
    assert_eq!(h.zxid, before + 1);
    // The connection goes on, and /zookeeper/config is untouched.
    let cfg = r.get_data("/zookeeper/config", false).await.unwrap();
    assert_eq!(cfg.data, Some(vec![]));
    assert_eq!(cfg.stat.mzxid, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_opcode_is_unimplemented() {
    let s = TestServer::default_server();
    let mut healthy = RawConn::connect(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/kept", None, create_mode::EPHEMERAL)
        .await
        .unwrap();
    let x = r.send(999, &Empty).await;
    let (h, body) = r.read_packet().await.unwrap();
    assert_eq!(h.xid, x);
    assert_eq!(h.err, Code::Unimplemented.as_i32());
    assert!(body.is_empty());
    if s.target() == Target::ZooKeeper {
        // ZooKeeper 3.8 then closes the connection (UnimplementedRequestProcessor
        // sends a close) but the session lives on.
        assert!(wait_closed(&mut r.stream, CLOSE_WAIT).await);
    } else {
        // corral keeps the connection: a newer client's unknown request must
        // not cost it its connection (a documented difference).
        r.ping().await;
        assert!(r.exists("/kept", false).await.is_ok());
    }
    healthy.ping().await;
    assert_eq!(
        healthy
            .exists("/kept", false)
            .await
            .unwrap()
            .ephemeral_owner,
        r.session_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/p", None, 0).await.unwrap();
    // Interleave writes and reads without waiting; xids need not be
    // consecutive or increasing.
    let mut sent = Vec::new();
    for i in 0..20 {
        let x = 1000 - i * 7;
        if i % 2 == 0 {
            r.send_with_xid(
                x,
                op::CREATE2,
                &CreateRequest {
                    path: format!("/p/n{i}"),
                    data: None,
                    acl: open_acl(),
                    flags: 0,
                },
            )
            .await;
        } else {
            r.send_with_xid(
                x,
                op::GET_CHILDREN,
                &GetChildrenRequest {
                    path: "/p".into(),
                    watch: false,
                },
            )
            .await;
        }
        sent.push(x);
    }
    let mut last_zxid = 0;
    for (i, x) in sent.into_iter().enumerate() {
        let (h, body) = r.read_packet().await.unwrap();
        assert_eq!((h.xid, h.err), (x, 0), "reply {i}");
        assert!(h.zxid >= last_zxid);
        last_zxid = h.zxid;
        if i % 2 == 1 {
            // A read sees every write sent before it.
            let kids = decode::<GetChildrenResponse>(&body).children;
            assert_eq!(kids.len(), i / 2 + 1);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_split_across_tcp_writes_are_reassembled() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let mut bytes = jute::to_bytes(&RequestHeader {
        xid: 1,
        op: op::CREATE2,
    });
    CreateRequest {
        path: "/split".into(),
        data: Some(b"abc".to_vec()),
        acl: open_acl(),
        flags: 0,
    }
    .write(&mut bytes);
    let framed = frame(&bytes);
    for chunk in framed.chunks(3) {
        r.write_raw(chunk).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let (h, body) = r.read_reply(1).await;
    assert_eq!(h.err, 0);
    assert_eq!(decode::<Create2Response>(&body).path, "/split");
    // Two requests in one write.
    let mut two = frame(&{
        let mut b = jute::to_bytes(&RequestHeader {
            xid: 2,
            op: op::EXISTS,
        });
        ExistsRequest {
            path: "/split".into(),
            watch: false,
        }
        .write(&mut b);
        b
    });
    two.extend(frame(&jute::to_bytes(&RequestHeader {
        xid: xid::PING,
        op: op::PING,
    })));
    r.write_raw(&two).await.unwrap();
    let (h, body) = r.read_packet().await.unwrap();
    assert_eq!((h.xid, h.err), (2, 0));
    assert_eq!(decode::<ExistsResponse>(&body).stat.data_length, 3);
    let (h, _) = r.read_packet().await.unwrap();
    assert_eq!(h.xid, xid::PING);
}
