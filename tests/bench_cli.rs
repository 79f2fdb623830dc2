//! `corral bench` end to end: every workload runs against a real server
//! (corral, or ZooKeeper 3.8 with `CORRAL_TEST_TARGET=zookeeper`), prints a
//! JSON line whose op count is the one asked for with no errors, and leaves
//! no bench tree behind. No timing is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};

/// Runs `corral bench` with `args` and returns its output.
fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run corral bench")
}

/// The value of `"key":` in a flat JSON object (numbers, booleans and
/// simple strings are all the bench prints).
fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + pat.len();
    let rest = &json[start..];
    let end = rest.find([',', '}']).unwrap();
    rest[..end].trim_matches('"')
}

fn num(json: &str, key: &str) -> f64 {
    field(json, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {json}"))
}

/// The last stdout line, which must be the JSON object.
fn json_line(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default().to_string();
    assert!(
        line.starts_with('{') && line.ends_with('}'),
        "no JSON line; stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    line
}

/// The root's children whose name a bench run would use.
async fn bench_roots(c: &zk::Client) -> Vec<String> {
    let mut v: Vec<String> = c
        .list_children("/")
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.starts_with("corral-bench-"))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_reports_its_ops_and_cleans_up() {
    let server = TestServer::default_server();
    let addr = server.addr();
    let c = client(&addr).await;
    for workload in [
        "create",
        "create-seq",
        "set",
        "get",
        "exists",
        "children",
        "multi",
        "mix",
    ] {
        let out = bench(&[
            "--server",
            &addr,
            "--workload",
            workload,
            "--ops",
            "300",
            "--sessions",
            "3",
            "--outstanding",
            "8",
            "--keys",
            "50",
            "--fanout",
            "4",
            "--value-size",
            "64",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{workload} failed:\n{stderr}");
        let j = json_line(&out);
        assert_eq!(field(&j, "workload"), workload);
        assert_eq!(num(&j, "ops"), 300.0, "{j}");
        assert_eq!(num(&j, "errors"), 0.0, "{j}\n{stderr}");
        assert_eq!(num(&j, "setup_errors"), 0.0, "{j}\n{stderr}");
        assert_eq!(num(&j, "cleanup_errors"), 0.0, "{j}\n{stderr}");
        assert_eq!(field(&j, "connection_lost"), "false");
        assert_eq!(num(&j, "sessions"), 3.0);
        assert_eq!(num(&j, "outstanding"), 8.0);
        assert_eq!(num(&j, "value_size"), 64.0);
        for p in ["p50_us", "p90_us", "p99_us", "p999_us", "max_us"] {
            assert!(num(&j, p) >= 1.0, "{p} in {j}");
        }
        assert!(num(&j, "p50_us") <= num(&j, "max_us"));
        // The human summary comes first.
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("workload {workload}")));
        assert_eq!(
            bench_roots(&c).await,
            Vec::<String>::new(),
            "{workload} left its tree"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn populate_keeps_its_znodes() {
    let server = TestServer::default_server();
    let addr = server.addr();
    let out = bench(&[
        "--server",
        &addr,
        "--populate",
        "250",
        "--fanout",
        "5",
        "--value-size",
        "100",
        "--json-only",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json_line(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        1,
        "--json-only prints one line"
    );
    assert_eq!(field(&j, "workload"), "populate");
    assert_eq!(num(&j, "ops"), 250.0);
    assert_eq!(num(&j, "errors"), 0.0);

    let c = client(&addr).await;
    let roots = bench_roots(&c).await;
    assert_eq!(roots.len(), 1, "{roots:?}");
    let w = format!("/{}/w", roots[0]);
    let parents = c.list_children(&w).await.unwrap();
    assert_eq!(parents.len(), 5);
    let mut leaves = 0;
    for p in parents {
        let path = format!("{w}/{p}");
        for leaf in c.list_children(&path).await.unwrap() {
            let (data, _) = c.get_data(&format!("{path}/{leaf}")).await.unwrap();
            assert_eq!(data.len(), 100);
            leaves += 1;
        }
    }
    assert_eq!(leaves, 250);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_ends_the_run_with_a_report() {
    let server = TestServer::default_server();
    let proxy = Proxy::start(&server.addr()).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["bench", "--server", &proxy.addr(), "--workload", "get"])
        .args(["--duration", "600", "--sessions", "2", "--outstanding", "4"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Sever once the timed phase is running (its first progress line).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let drain = std::thread::spawn(move || {
        let mut tx = Some(tx);
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            if line.starts_with("bench: get") {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    tokio::time::timeout(WAIT, rx)
        .await
        .expect("no progress line")
        .unwrap();
    proxy.sever();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = drain.join().unwrap();
    assert!(!out.status.success(), "a lost connection must fail the run");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let j = json_line(&out);
    assert_eq!(field(&j, "connection_lost"), "true", "{j}");
    assert!(num(&j, "errors") >= 1.0);
    assert!(num(&j, "ops") >= 1.0);
}

#[test]
fn an_unreachable_server_is_an_error_not_a_panic() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bench(&["--server", &format!("127.0.0.1:{port}"), "--ops", "10"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corral: error"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
