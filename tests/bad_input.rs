//! Malformed input on raw sockets. Every test opens a healthy session before
//! sending garbage and proves afterwards that the server still serves it.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use jute::codes::{op, Code};
use jute::multi::{MultiOp, MultiRequest};
use jute::{CreateRequest, GetDataRequest, Jute, RequestHeader};
use tokio::io::AsyncWriteExt;

/// A session that must keep working whatever other connections send.
struct Healthy(RawConn);

impl Healthy {
    async fn new(addr: &str) -> Healthy {
        let mut r = RawConn::connect(addr).await;
        r.create("/healthy", Some(b"ok"), jute::codes::create_mode::EPHEMERAL)
            .await
            .unwrap();
        Healthy(r)
    }

    /// The session answers reads and writes, and its ephemeral survived.
    async fn check(&mut self) {
        let r = &mut self.0;
        r.ping().await;
        let d = r.get_data("/healthy", false).await.unwrap();
        assert_eq!(d.data, Some(b"ok".to_vec()));
        assert_eq!(d.stat.ephemeral_owner, r.session_id);
        let st = r.set_data("/healthy", b"ok", -1).await.unwrap();
        assert!(st.version > 0);
        // New sessions are still accepted.
        let mut fresh = RawConn::connect(&format!("{}", r.stream.peer_addr().unwrap())).await;
        fresh.ping().await;
    }
}

fn request(opcode: i32, body: &impl Jute) -> Vec<u8> {
    let mut b = jute::to_bytes(&RequestHeader { xid: 1, op: opcode });
    body.write(&mut b);
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_request_as_first_bytes_is_dropped() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut st = open(&s.addr()).await;
    // "GET " read as a length is far over jute.maxbuffer.
    st.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framed_garbage_as_first_frame_is_dropped() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    // Deterministic pseudo-random bytes in frames of various sizes.
    let mut x: u32 = 0x2545_f491;
    for len in [1usize, 7, 20, 44, 45, 46, 300] {
        let body: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect();
        let mut st = open(&s.addr()).await;
        st.write_all(&frame(&body)).await.unwrap();
        assert!(
            wait_closed(&mut st, CLOSE_WAIT).await,
            "frame of {len} bytes"
        );
    }
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_handshake_is_dropped() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    // A ConnectRequest cut inside the password buffer, framed as it is.
    let full = jute::to_bytes(&connect_request(10_000));
    let mut st = open(&s.addr()).await;
    st.write_all(&frame(&full[..30])).await.unwrap();
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
    // A request sent before any handshake.
    let mut st = open(&s.addr()).await;
    st.write_all(&frame(&request(
        op::GET_DATA,
        &GetDataRequest {
            path: "/healthy".into(),
            watch: false,
        },
    )))
    .await
    .unwrap();
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_frame_then_close() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    // Before the handshake.
    let mut st = open(&s.addr()).await;
    st.write_all(&100i32.to_be_bytes()).await.unwrap();
    st.write_all(&[0u8; 10]).await.unwrap();
    drop(st);
    // After it: half a create.
    let mut r = RawConn::connect(&s.addr()).await;
    let bytes = frame(&request(
        op::CREATE2,
        &CreateRequest {
            path: "/half".into(),
            data: Some(vec![1; 100]),
            acl: open_acl(),
            flags: 0,
        },
    ));
    r.write_raw(&bytes[..bytes.len() / 2]).await.unwrap();
    r.stream.shutdown().await.unwrap();
    assert!(wait_closed(&mut r.stream, CLOSE_WAIT).await);
    drop(r);
    h.check().await;
    assert_eq!(
        h.0.exists("/half", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_over_max_buffer_is_refused_and_not_applied() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    let bytes = frame(&request(
        op::CREATE2,
        &CreateRequest {
            path: "/big".into(),
            data: Some(vec![7u8; 2 << 20]),
            acl: open_acl(),
            flags: 0,
        },
    ));
    // The server may close before reading everything: ignore write errors.
    let _ = r.stream.write_all(&bytes).await;
    assert_eq!(r.read_packet().await.unwrap_err(), ReadError::Closed);
    h.check().await;
    assert_eq!(
        h.0.exists("/big", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );

    // The same length prefix before any handshake.
    let mut st = open(&s.addr()).await;
    st.write_all(&(0x10_0000i32).to_be_bytes()).await.unwrap();
    assert!(wait_closed(&mut st, CLOSE_WAIT).await);
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_just_under_max_buffer_is_accepted() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    // Frame body = header 8 + path 4+4 + data 4+n + acl 4+4+4+5+4+6 + flags 4.
    let n = jute::DEFAULT_MAX_BUFFER - 200;
    let c = r.create("/big", Some(&vec![3u8; n]), 0).await.unwrap();
    assert_eq!(c.stat.data_length, n as i32);
    let d = h.0.get_data("/big", false).await.unwrap();
    assert_eq!(d.data.map(|d| d.len()), Some(n));
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negative_and_zero_length_prefixes_close() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    for len in [-1i32, -5, i32::MIN] {
        let mut st = open(&s.addr()).await;
        st.write_all(&len.to_be_bytes()).await.unwrap();
        assert!(
            wait_closed(&mut st, CLOSE_WAIT).await,
            "first frame length {len}"
        );
        let mut r = RawConn::connect(&s.addr()).await;
        r.write_raw(&len.to_be_bytes()).await.unwrap();
        assert_eq!(r.read_packet().await.unwrap_err(), ReadError::Closed);
    }
    // A frame too short for a request header, and an empty one.
    for body in [&[1u8, 2][..], &[][..]] {
        let mut r = RawConn::connect(&s.addr()).await;
        r.write_raw(&frame(body)).await.unwrap();
        assert_eq!(r.read_packet().await.unwrap_err(), ReadError::Closed);
    }
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_read_request_is_a_marshalling_error() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    // getData whose path claims 9 bytes but carries 1.
    let mut bytes = jute::to_bytes(&RequestHeader {
        xid: 5,
        op: op::GET_DATA,
    });
    bytes.extend_from_slice(&[0, 0, 0, 9, b'/']);
    r.write_raw(&frame(&bytes)).await.unwrap();
    let (hd, body) = r.read_packet().await.unwrap();
    assert_eq!((hd.xid, hd.err), (5, Code::MarshallingError.as_i32()));
    assert!(body.is_empty());
    // The connection stays usable.
    r.ping().await;
    r.create("/after", None, 0).await.unwrap();
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_write_request_is_a_marshalling_error() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    let mut bytes = jute::to_bytes(&RequestHeader {
        xid: 5,
        op: op::CREATE2,
    });
    bytes.extend_from_slice(&[0, 0, 0, 9, b'/']);
    r.write_raw(&frame(&bytes)).await.unwrap();
    let (hd, body) = r.read_packet().await.unwrap();
    assert_eq!((hd.xid, hd.err), (5, Code::MarshallingError.as_i32()));
    assert!(body.is_empty());
    // Logged as an error txn: it took a zxid.
    let c = r.create("/after", None, 0).await.unwrap();
    assert_eq!(c.stat.czxid, hd.zxid + 1);
    h.check().await;
    assert_eq!(
        h.0.get_children("/", false).await.unwrap(),
        ["after", "healthy", "zookeeper"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_op_inside_multi_is_a_marshalling_error() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    let (hd, body) = r
        .call(
            op::MULTI,
            &MultiRequest {
                ops: vec![
                    MultiOp::Create {
                        op: op::CREATE2,
                        req: CreateRequest {
                            path: "/m".into(),
                            data: None,
                            acl: open_acl(),
                            flags: 0,
                        },
                    },
                    MultiOp::GetData(GetDataRequest {
                        path: "/healthy".into(),
                        watch: false,
                    }),
                ],
            },
        )
        .await;
    assert_eq!(hd.err, Code::MarshallingError.as_i32());
    assert!(body.is_empty());
    assert_eq!(
        r.exists("/m", false).await.unwrap_err(),
        Code::NoNode.as_i32()
    );
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_paths_in_writes_are_bad_arguments() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let r = &mut h.0;
    r.create("/p", None, 0).await.unwrap();
    let bad = Code::BadArguments.as_i32();
    for path in [
        "",
        "foo",
        "/p/",
        "/p/.",
        "/p/..",
        "/p/x\u{0}y",
        "/\u{1}x",
        "/a\u{7f}",
        "/a\u{ffff}",
        "/a\u{e000}b",
    ] {
        assert_eq!(
            r.create(path, None, 0).await.unwrap_err(),
            bad,
            "create {path:?}"
        );
    }
    for path in ["", "foo", "/p/"] {
        assert_eq!(
            r.set_data(path, b"x", -1).await.unwrap_err(),
            bad,
            "setData {path:?}"
        );
    }
    for path in ["", "foo"] {
        assert_eq!(
            r.delete(path, -1).await.unwrap_err(),
            bad,
            "delete {path:?}"
        );
    }
    // Reads do not validate: an invalid path is simply not there.
    for path in ["foo", "/p/", "/p//x"] {
        let no = Code::NoNode.as_i32();
        assert_eq!(
            r.get_data(path, false).await.unwrap_err(),
            no,
            "getData {path:?}"
        );
        assert_eq!(
            r.exists(path, false).await.unwrap_err(),
            no,
            "exists {path:?}"
        );
        assert_eq!(
            r.get_children(path, false).await.unwrap_err(),
            no,
            "getChildren {path:?}"
        );
    }
    assert_eq!(
        r.get_children("/p", false).await.unwrap(),
        Vec::<String>::new()
    );
    h.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_path() {
    let s = TestServer::default_server();
    let mut h = Healthy::new(&s.addr()).await;
    let mut r = RawConn::connect(&s.addr()).await;
    // create2 with path bytes "/\xff\xfe".
    let mut bytes = jute::to_bytes(&RequestHeader {
        xid: 3,
        op: op::CREATE2,
    });
    bytes.extend_from_slice(&[0, 0, 0, 3, b'/', 0xff, 0xfe]);
    (None::<Vec<u8>>).write(&mut bytes);
    open_acl().write(&mut bytes);
    0i32.write(&mut bytes);
    r.write_raw(&frame(&bytes)).await.unwrap();
    let (hd, _) = r.read_packet().await.unwrap();
    assert_eq!(hd.xid, 3);
    assert_ne!(hd.err, 0, "must not create a node");
    assert_eq!(
        h.0.get_children("/", false).await.unwrap(),
        ["healthy", "zookeeper"]
    );
    h.check().await;
}
