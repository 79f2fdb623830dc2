#![allow(clippy::unwrap_used)]
mod common;
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails() {
    let s = common::TestServer::default_server();
    let _c = common::client(&s.addr()).await;
    panic!("deliberate");
}
