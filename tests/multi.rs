//! multi (14), check (13) and multiRead (22).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jute::codes::{op, Code};
use jute::multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
use jute::{
    CheckVersionRequest, CreateRequest, DeleteRequest, GetChildrenRequest, GetDataRequest,
    SetDataRequest,
};
use zk::{Error, MultiReadResult, MultiWriteError, MultiWriteResult};

fn create(opcode: i32, path: &str) -> MultiOp {
    MultiOp::Create {
        op: opcode,
        req: CreateRequest {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: open_acl(),
            flags: 0,
        },
    }
}

fn set_data(path: &str, data: &[u8], version: i32) -> MultiOp {
    MultiOp::SetData(SetDataRequest {
        path: path.into(),
        data: Some(data.to_vec()),
        version,
    })
}

fn check(path: &str, version: i32) -> MultiOp {
    MultiOp::Check(CheckVersionRequest {
        path: path.into(),
        version,
    })
}

fn delete(path: &str) -> MultiOp {
    MultiOp::Delete(DeleteRequest {
        path: path.into(),
        version: -1,
    })
}

async fn multi(
    r: &mut RawConn,
    opcode: i32,
    ops: Vec<MultiOp>,
) -> (jute::ReplyHeader, MultiResponse) {
    let (h, body) = r.call(opcode, &MultiRequest { ops }).await;
    assert_eq!(h.err, 0, "multi reply header: {h:?}");
    (h, decode::<MultiResponse>(&body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_success_applies_every_op_under_one_zxid() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/m", None, 0).await.unwrap();
    let (h, resp) = multi(
        &mut r,
        op::MULTI,
        vec![
            create(op::CREATE, "/m/a"),
            create(op::CREATE2, "/m/b"),
            set_data("/m", b"x", 0),
            check("/m", 1),
            delete("/m/a"),
        ],
    )
    .await;
    let z = h.zxid;
    assert_eq!(resp.results.len(), 5);
    assert_eq!(
        resp.results[0],
        MultiResult::Create(jute::CreateResponse {
            path: "/m/a".into()
        })
    );
    // ZooKeeper 3.8 answers a create2 inside a multi with a plain create
    // result (ZOOKEEPER-4026, fixed in 3.9, where it carries the stat).
    match &resp.results[1] {
        MultiResult::Create(b) => assert_eq!(b.path, "/m/b"),
        MultiResult::Create2(b) => {
            assert_eq!(b.path, "/m/b");
            assert_eq!((b.stat.czxid, b.stat.mzxid, b.stat.pzxid), (z, z, z));
        }
        other => panic!("{other:?}"),
    }
    let MultiResult::SetData(sd) = &resp.results[2] else {
        panic!("{:?}", resp.results[2])
    };
    assert_eq!(sd.stat.version, 1);
    assert_eq!(sd.stat.mzxid, z);
    assert_eq!(resp.results[3], MultiResult::Check);
    assert_eq!(resp.results[4], MultiResult::Delete);

    // The whole multi is one txn.
    let m = r.exists("/m", false).await.unwrap();
    assert_eq!(m.mzxid, z);
    assert_eq!(m.pzxid, z);
    assert_eq!(m.num_children, 1);
    assert_eq!(m.cversion, 3, "two creates and one delete");
    assert_eq!(r.get_children("/m", false).await.unwrap(), ["b"]);
    let next = r.create("/n", None, 0).await.unwrap();
    assert_eq!(next.stat.czxid, z + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_failure_is_atomic_with_per_op_results() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/m", None, 0).await.unwrap();
    r.create("/m/b", None, 0).await.unwrap();
    let before = r.exists("/m", false).await.unwrap();

    let (_, resp) = multi(
        &mut r,
        op::MULTI,
        vec![
            create(op::CREATE2, "/m/c"),
            set_data("/m", b"x", -1),
            check("/m", 7),
            delete("/m/b"),
            create(op::CREATE, "/m/d"),
        ],
    )
    .await;
    assert_eq!(
        resp.results,
        [
            MultiResult::Error(0),
            MultiResult::Error(0),
            MultiResult::Error(Code::BadVersion.as_i32()),
            MultiResult::Error(Code::RuntimeInconsistency.as_i32()),
            MultiResult::Error(Code::RuntimeInconsistency.as_i32()),
        ]
    );
    // Nothing applied.
    assert_eq!(r.exists("/m", false).await.unwrap(), before);
    assert_eq!(r.get_children("/m", false).await.unwrap(), ["b"]);
    assert_eq!(r.get_data("/m", false).await.unwrap().data, None);

    // The first failing op decides the code.
    let (_, resp) = multi(
        &mut r,
        op::MULTI,
        vec![create(op::CREATE2, "/m/b"), check("/nope", -1)],
    )
    .await;
    assert_eq!(
        resp.results,
        [
            MultiResult::Error(Code::NodeExists.as_i32()),
            MultiResult::Error(Code::RuntimeInconsistency.as_i32()),
        ]
    );
    let (_, resp) = multi(
        &mut r,
        op::MULTI,
        vec![
            create(op::CREATE2, "/m/y"),
            delete("/m"),
            create(op::CREATE2, "/x"),
        ],
    )
    .await;
    assert_eq!(
        resp.results,
        [
            MultiResult::Error(0),
            MultiResult::Error(Code::NotEmpty.as_i32()),
            MultiResult::Error(Code::RuntimeInconsistency.as_i32()),
        ]
    );
    assert_eq!(r.get_children("/m", false).await.unwrap(), ["b"]);
    assert_eq!(
        r.exists("/x", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_ops_see_earlier_ops_of_the_same_multi() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let (_, resp) = multi(
        &mut r,
        op::MULTI,
        vec![
            create(op::CREATE2, "/a"),
            create(op::CREATE2, "/a/b"),
            set_data("/a/b", b"1", 0),
            check("/a/b", 1),
            delete("/a/b"),
            delete("/a"),
        ],
    )
    .await;
    assert!(
        resp.results
            .iter()
            .all(|r| !matches!(r, MultiResult::Error(_))),
        "{resp:?}"
    );
    assert_eq!(
        r.exists("/a", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_multi_answers_an_empty_result() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let (h, body) = r.call(op::MULTI, &MultiRequest { ops: vec![] }).await;
    assert_eq!(h.err, 0);
    // Just the terminating header {type -1, done true, err -1}.
    assert_eq!(body, [0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(decode::<MultiResponse>(&body).results, []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_read_reports_errors_in_place() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/m", Some(b"x"), 0).await.unwrap();
    r.create("/m/b", None, 0).await.unwrap();
    let m = r.exists("/m", false).await.unwrap();
    let (h, resp) = multi(
        &mut r,
        op::MULTI_READ,
        vec![
            MultiOp::GetData(GetDataRequest {
                path: "/m".into(),
                watch: false,
            }),
            MultiOp::GetData(GetDataRequest {
                path: "/nope".into(),
                watch: false,
            }),
            MultiOp::GetChildren(GetChildrenRequest {
                path: "/m".into(),
                watch: false,
            }),
            MultiOp::GetChildren(GetChildrenRequest {
                path: "/nope".into(),
                watch: false,
            }),
        ],
    )
    .await;
    assert_eq!(h.err, 0);
    assert_eq!(
        resp.results,
        [
            MultiResult::GetData(jute::GetDataResponse {
                data: Some(b"x".to_vec()),
                stat: m
            }),
            MultiResult::Error(Code::NoNode.as_i32()),
            MultiResult::GetChildren(jute::GetChildrenResponse {
                children: vec!["b".into()]
            }),
            MultiResult::Error(Code::NoNode.as_i32()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_multi_writer_and_reader() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    let mut w = c.new_multi_writer();
    w.add_create("/w", b"1", &persistent()).unwrap();
    w.add_create("/w/x", b"", &persistent()).unwrap();
    w.add_set_data("/w", b"2", Some(0)).unwrap();
    w.add_check_version("/w", 1).unwrap();
    let results = w.commit().await.unwrap();
    assert_eq!(results.len(), 4);
    let MultiWriteResult::Create { path, .. } = &results[0] else {
        panic!("{results:?}")
    };
    assert_eq!(path, "/w");
    let MultiWriteResult::SetData { stat } = &results[2] else {
        panic!("{results:?}")
    };
    // Created and modified by the same txn.
    assert_eq!(stat.version, 1);
    assert_eq!(stat.mzxid, stat.czxid);
    assert_eq!(stat.pzxid, stat.czxid);
    assert_eq!(stat.num_children, 1);
    assert_eq!(results[3], MultiWriteResult::Check);

    let mut w = c.new_multi_writer();
    w.add_create("/w2", b"", &persistent()).unwrap();
    w.add_check_version("/w", 0).unwrap();
    w.add_delete("/w/x", None).unwrap();
    assert_eq!(
        w.commit().await.unwrap_err(),
        MultiWriteError::OperationFailed {
            index: 1,
            source: Error::BadVersion
        }
    );
    assert!(c.check_stat("/w2").await.unwrap().is_none());
    assert!(c.check_stat("/w/x").await.unwrap().is_some());

    // CheckWriter: a version check first.
    let mut cw = c.new_check_writer("/w", Some(1)).unwrap();
    cw.add_delete("/w/x", None).unwrap();
    cw.commit().await.unwrap();
    assert!(c.check_stat("/w/x").await.unwrap().is_none());
    let mut cw = c.new_check_writer("/w", Some(0)).unwrap();
    cw.add_delete("/w", None).unwrap();
    assert!(cw.commit().await.is_err());
    assert!(c.check_stat("/w").await.unwrap().is_some());

    let mut rd = c.new_multi_reader();
    rd.add_get_data("/w").unwrap();
    rd.add_get_data("/nope").unwrap();
    rd.add_get_children("/w").unwrap();
    let res = rd.commit().await.unwrap();
    assert_eq!(res.len(), 3);
    assert!(
        matches!(&res[0], MultiReadResult::Data { data, stat } if data == b"2" && stat.version == 1)
    );
    assert!(matches!(
        &res[1],
        MultiReadResult::Error { err: Error::NoNode }
    ));
    assert!(matches!(&res[2], MultiReadResult::Children { children } if children.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_triggers_watches_of_each_op() {
    let s = TestServer::default_server();
    let c = client(&s.addr()).await;
    c.create("/a", b"", &persistent()).await.unwrap();
    let (_, _, data_w) = c.get_and_watch_data("/a").await.unwrap();
    let (_, child_w) = c.list_and_watch_children("/a").await.unwrap();
    let (_, exist_w) = c.check_and_watch_stat("/b").await.unwrap();
    let mut w = c.new_multi_writer();
    w.add_set_data("/a", b"1", None).unwrap();
    w.add_create("/a/x", b"", &persistent()).unwrap();
    w.add_create("/b", b"", &persistent()).unwrap();
    w.commit().await.unwrap();
    let e = next_event(data_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeDataChanged, "/a")
    );
    let e = next_event(child_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeChildrenChanged, "/a")
    );
    let e = next_event(exist_w.changed()).await;
    assert_eq!(
        (e.event_type, e.path.as_str()),
        (zk::EventType::NodeCreated, "/b")
    );
}
