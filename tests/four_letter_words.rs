//! Four-letter words on the client port (whitelist `*`). Only what ZooKeeper
//! 3.8 prints as well is asserted.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::*;

fn mntr_map(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (k, v) = l
                .split_once('\t')
                .unwrap_or_else(|| panic!("mntr line without a tab: {l:?}"));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn num(m: &HashMap<String, String>, key: &str) -> i64 {
    m.get(key)
        .unwrap_or_else(|| panic!("mntr has no {key}"))
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number: {:?}", m[key]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ruok_and_isro() {
    let s = TestServer::default_server();
    assert_eq!(four_letter_word(&s.addr(), "ruok").await, "imok");
    assert_eq!(four_letter_word(&s.addr(), "isro").await, "rw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srvr_and_stat_describe_the_server() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    let c = r.create("/x", None, 0).await.unwrap();
    for word in ["srvr", "stat"] {
        let out = four_letter_word(&s.addr(), word).await;
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("Zookeeper version: "), "{word}: {out}");
        assert!(lines.contains(&"Mode: standalone"), "{word}: {out}");
        let zxid = format!("Zxid: 0x{:x}", c.stat.czxid);
        assert!(
            lines.contains(&zxid.as_str()),
            "{word}: want {zxid} in {out}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("Node count: ")),
            "{word}: {out}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("Latency min/avg/max: ")),
            "{word}: {out}"
        );
    }
    // Only stat lists the connections.
    let stat = four_letter_word(&s.addr(), "stat").await;
    assert!(stat.lines().any(|l| l == "Clients:"), "{stat}");
    let srvr = four_letter_word(&s.addr(), "srvr").await;
    assert!(!srvr.lines().any(|l| l == "Clients:"), "{srvr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mntr_reports_tab_separated_metrics() {
    let s = TestServer::default_server();
    let before = mntr_map(&four_letter_word(&s.addr(), "mntr").await);
    assert!(!before["zk_version"].is_empty());
    assert_eq!(before["zk_server_state"], "standalone");
    for key in [
        "zk_avg_latency",
        "zk_max_latency",
        "zk_min_latency",
        "zk_packets_received",
        "zk_packets_sent",
        "zk_num_alive_connections",
        "zk_outstanding_requests",
        "zk_watch_count",
        "zk_approximate_data_size",
        "zk_open_file_descriptor_count",
        "zk_max_file_descriptor_count",
    ] {
        assert!(before.contains_key(key), "mntr lacks {key}");
    }
    let nodes = num(&before, "zk_znode_count");
    let ephemerals = num(&before, "zk_ephemerals_count");
    let watches = num(&before, "zk_watch_count");
    assert_eq!(ephemerals, 0);
    assert_eq!(watches, 0);

    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/p", None, 0).await.unwrap();
    r.create("/p/e", None, jute::codes::create_mode::EPHEMERAL)
        .await
        .unwrap();
    r.get_data("/p", true).await.unwrap();
    let after = mntr_map(&four_letter_word(&s.addr(), "mntr").await);
    assert_eq!(num(&after, "zk_znode_count"), nodes + 2);
    assert_eq!(num(&after, "zk_ephemerals_count"), 1);
    assert_eq!(num(&after, "zk_watch_count"), 1);
    assert!(num(&after, "zk_num_alive_connections") >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envi_starts_with_the_version() {
    let s = TestServer::default_server();
    let out = four_letter_word(&s.addr(), "envi").await;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Environment:"));
    let first = lines.next().unwrap();
    assert!(first.starts_with("zookeeper.version="), "{out}");
    assert!(out.lines().any(|l| l.starts_with("host.name=")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conf_reports_the_configuration() {
    let s = TestServer::start(ServerOpts {
        tick_time: 500,
        ..Default::default()
    });
    let out = four_letter_word(&s.addr(), "conf").await;
    let lines: Vec<&str> = out.lines().collect();
    let port = s.socket_addr().port();
    assert!(
        lines.contains(&format!("clientPort={port}").as_str()),
        "{out}"
    );
    assert!(lines.contains(&"tickTime=500"), "{out}");
    assert!(lines.contains(&"minSessionTimeout=1000"), "{out}");
    assert!(lines.contains(&"maxSessionTimeout=10000"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("dataDir=")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_letter_words_do_not_disturb_sessions() {
    let s = TestServer::default_server();
    let mut r = RawConn::connect(&s.addr()).await;
    r.create("/x", None, 0).await.unwrap();
    for word in ["ruok", "srvr", "stat", "mntr", "envi", "conf", "isro"] {
        let out = four_letter_word(&s.addr(), word).await;
        assert!(!out.is_empty(), "{word}");
    }
    r.ping().await;
    assert_eq!(
        r.get_children("/", false).await.unwrap(),
        ["x", "zookeeper"]
    );
}
