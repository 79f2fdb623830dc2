//! Micro benchmarks of the data tree's hot paths on a tree of 100,000
//! znodes (100 parents x 1,000 children, 100 B each): path lookup,
//! setData, create + delete, and collecting changed paths for the snapshot
//! store. `cargo bench --bench data_tree`.

use corral::core::tree::DataTree;
use corral::core::txn::{Txn, TxnOp};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use jute::{Acl, Id};
use std::time::{Duration, Instant};

fn open_acl() -> Vec<Acl> {
    vec![Acl {
        perms: 31,
        id: Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

struct Fixture {
    tree: DataTree,
    zxid: i64,
}

impl Fixture {
    fn txn(&mut self, op: TxnOp) -> Txn {
        self.zxid += 1;
        Txn {
            session: 1,
            cxid: 0,
            zxid: self.zxid,
            time: 1_765_000_000_000,
            op,
        }
    }

    /// Applies one txn; every 1,024 it also takes the changed paths, as
    /// the server does per batch, so they do not pile up.
    fn apply(&mut self, op: TxnOp) {
        let txn = self.txn(op);
        if txn.zxid % 1024 == 0 {
            black_box(self.tree.take_changed());
        }
        black_box(self.tree.apply(&txn, &mut Vec::new()));
    }

    fn create(&mut self, path: String) {
        self.apply(TxnOp::Create {
            path,
            data: Some(vec![7; 100]),
            acl: open_acl(),
            owner: 0,
            parent_cversion: 0,
        });
    }
}

fn fixture() -> Fixture {
    let mut f = Fixture {
        tree: DataTree::new(),
        zxid: 0,
    };
    for p in 0..100 {
        f.create(format!("/p{p:03}"));
        for n in 0..1000 {
            f.create(format!("/p{p:03}/n{n:06}"));
        }
    }
    f.tree.take_changed();
    f
}

fn paths() -> Vec<String> {
    // A stride through the key space, so lookups are not all cache hits.
    (0..100_000u32)
        .map(|i| i.wrapping_mul(7919) % 100_000)
        .map(|i| format!("/p{:03}/n{:06}", i / 1000, i % 1000))
        .collect()
}

fn tree(c: &mut Criterion) {
    let mut f = fixture();
    let paths = paths();
    let mut i = 0;
    c.bench_function("get by path (100k znodes)", |b| {
        b.iter(|| {
            i = (i + 1) % paths.len();
            black_box(f.tree.get(&paths[i]).map(|n| n.version))
        })
    });
    c.bench_function("apply setData 100 B (100k znodes)", |b| {
        b.iter(|| {
            i = (i + 1) % paths.len();
            f.apply(TxnOp::SetData {
                path: paths[i].clone(),
                data: Some(vec![9; 100]),
                version: 1,
            });
        })
    });
    let mut n = 0u64;
    c.bench_function("apply create + delete (100k znodes)", |b| {
        b.iter(|| {
            n += 1;
            let path = format!("/p{:03}/x{n}", n % 100);
            f.create(path.clone());
            f.apply(TxnOp::Delete { path });
        })
    });
    f.tree.take_changed();
    c.bench_function("take_changed after 1,000 setData", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                for _ in 0..1000 {
                    i = (i + 1) % paths.len();
                    let t = f.txn(TxnOp::SetData {
                        path: paths[i].clone(),
                        data: Some(vec![9; 100]),
                        version: 1,
                    });
                    f.tree.apply(&t, &mut Vec::new());
                }
                let start = Instant::now();
                black_box(f.tree.take_changed().len());
                spent += start.elapsed();
            }
            spent
        })
    });
}

criterion_group!(benches, tree);
criterion_main!(benches);
