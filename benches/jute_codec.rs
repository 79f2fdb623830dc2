//! Micro benchmarks of the Jute codec on the records every request and
//! reply of the hot paths goes through. `cargo bench --bench jute_codec`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use jute::{
    Create2Response, CreateRequest, GetDataResponse, Jute, Reader, ReplyHeader, RequestHeader,
    SetDataRequest, Stat,
};

fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0002,
        mzxid: 0x1_0000_00ff,
        ctime: 1_765_000_000_000,
        mtime: 1_765_000_000_500,
        version: 12,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 100,
        num_children: 0,
        pzxid: 0x1_0000_0002,
    }
}

fn encode(c: &mut Criterion) {
    let get = GetDataResponse {
        data: Some(vec![7; 100]),
        stat: stat(),
    };
    let created = Create2Response {
        path: "/bench/p17/n00001234".into(),
        stat: stat(),
    };
    let hdr = ReplyHeader {
        xid: 41,
        zxid: 0x1_0000_00ff,
        err: 0,
    };
    encode_reply(
        c,
        "encode reply header + GetDataResponse (100 B)",
        &hdr,
        &get,
    );
    encode_reply(c, "encode reply header + Create2Response", &hdr, &created);
}

fn encode_reply<T: Jute>(c: &mut Criterion, name: &str, hdr: &ReplyHeader, body: &T) {
    let mut out = Vec::with_capacity(256);
    c.bench_function(name, |b| {
        b.iter(|| {
            out.clear();
            black_box(hdr).write(&mut out);
            black_box(body).write(&mut out);
            black_box(out.len())
        })
    });
}

fn decode(c: &mut Criterion) {
    let set = SetDataRequest {
        path: "/bench/k0004711".into(),
        data: Some(vec![7; 100]),
        version: -1,
    };
    let create = CreateRequest {
        path: "/bench/p17/n".into(),
        data: Some(vec![7; 100]),
        acl: Vec::new(),
        flags: 2,
    };
    decode_request(c, "decode request header + SetDataRequest (100 B)", 5, &set);
    decode_request(
        c,
        "decode request header + CreateRequest (100 B)",
        15,
        &create,
    );
}

/// Decodes a request frame's header and body, as the server does for
/// each request.
fn decode_request<T: Jute>(c: &mut Criterion, name: &str, op: i32, body: &T) {
    let mut frame = Vec::new();
    RequestHeader { xid: 41, op }.write(&mut frame);
    body.write(&mut frame);
    c.bench_function(name, |b| {
        b.iter(|| {
            let mut r = Reader::new(black_box(&frame));
            let h = RequestHeader::read(&mut r).ok();
            black_box((h, T::read(&mut r).ok()))
        })
    });
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
