//! Shared harness of the integration tests: starts a server (corral, or real
//! Apache ZooKeeper 3.8 when `CORRAL_TEST_TARGET=zookeeper`), connects
//! `zookeeper-client` sessions to it, and speaks the wire protocol by hand
//! over raw sockets with the `jute` crate.
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

// Links the tokio spawner that zookeeper-client finds through `spawns`.
use spawns as _;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use jute::codes::{op, xid};
use jute::{
    ConnectRequest, ConnectResponse, DecodeError, Jute, Reader, ReplyHeader, RequestHeader, Stat,
    WatcherEvent,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long to wait for anything the server should do promptly.
pub const WAIT: Duration = Duration::from_secs(15);

/// How long to wait for the server to close a connection it should close at
/// once. Shorter than the raw sessions' timeout (30 s), so that a session
/// expiring is never mistaken for the close under test.
pub const CLOSE_WAIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Server process
// ---------------------------------------------------------------------------

/// Which server the tests run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Corral,
    ZooKeeper,
}

/// The target chosen by `CORRAL_TEST_TARGET`.
pub fn target() -> Target {
    match std::env::var("CORRAL_TEST_TARGET").as_deref() {
        Ok("zookeeper") => Target::ZooKeeper,
        _ => Target::Corral,
    }
}

/// Server settings a test can tune.
#[derive(Debug, Clone)]
pub struct ServerOpts {
    /// `tickTime` in milliseconds.
    pub tick_time: u32,
    /// `minSessionTimeout` in milliseconds (default 2 × tick).
    pub min_session_timeout: Option<u32>,
    /// `maxSessionTimeout` in milliseconds (default 20 × tick).
    pub max_session_timeout: Option<u32>,
    /// `znode.container.checkIntervalMs`.
    pub container_check_interval_ms: Option<u64>,
    /// `zookeeper.DigestAuthenticationProvider.superDigest` (`super:<base64 sha1>`).
    pub super_digest: Option<String>,
    /// `zookeeper.extendedTypesEnabled` (TTL nodes).
    pub extended_types: bool,
}

impl Default for ServerOpts {
    fn default() -> Self {
        ServerOpts {
            tick_time: 2000,
            min_session_timeout: None,
            max_session_timeout: None,
            container_check_interval_ms: None,
            super_digest: None,
            extended_types: true,
        }
    }
}

impl ServerOpts {
    /// Settings that are zoo.cfg keys in both servers.
    fn cfg_lines(&self, dir: &Path, client_port: u16) -> String {
        let mut cfg = format!(
            "tickTime={}\ndataDir={}\nclientPort={}\n4lw.commands.whitelist=*\n",
            self.tick_time,
            dir.display(),
            client_port
        );
        if let Some(v) = self.min_session_timeout {
            cfg.push_str(&format!("minSessionTimeout={v}\n"));
        }
        if let Some(v) = self.max_session_timeout {
            cfg.push_str(&format!("maxSessionTimeout={v}\n"));
        }
        cfg
    }

    /// Settings that ZooKeeper reads as JVM system properties.
    fn properties(&self) -> Vec<(String, String)> {
        let mut p = vec![(
            "zookeeper.extendedTypesEnabled".to_string(),
            self.extended_types.to_string(),
        )];
        if let Some(v) = self.container_check_interval_ms {
            p.push(("znode.container.checkIntervalMs".into(), v.to_string()));
        }
        if let Some(v) = &self.super_digest {
            p.push((
                "zookeeper.DigestAuthenticationProvider.superDigest".into(),
                v.clone(),
            ));
        }
        p
    }
}

/// A running server, killed (and its data dir removed) on drop.
pub struct TestServer {
    child: Option<Child>,
    addr: SocketAddr,
    dir: Option<tempfile::TempDir>,
    target: Target,
}

impl TestServer {
    /// Starts a server of the selected target and waits until it serves.
    pub fn start(opts: ServerOpts) -> TestServer {
        match target() {
            Target::Corral => start_corral(&opts),
            Target::ZooKeeper => {
                let mut last = String::new();
                for _ in 0..3 {
                    match start_zookeeper(&opts) {
                        Ok(s) => return s,
                        Err(e) => last = e,
                    }
                }
                panic!("ZooKeeper did not start:\n{last}");
            }
        }
    }

    /// Starts a server with default settings.
    pub fn default_server() -> TestServer {
        TestServer::start(ServerOpts::default())
    }

    /// "127.0.0.1:PORT".
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    pub fn socket_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn target(&self) -> Target {
        self.target
    }

    /// The server's log so far (corral's stderr, ZooKeeper's log file).
    pub fn log(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let name = match self.target {
            Target::Corral => "stderr.log",
            Target::ZooKeeper => "zookeeper.log",
        };
        read_file_lossy(&dir.path().join(name))
    }

    /// Kills the server and removes its data dir.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(d) = self.dir.take() {
            let _ = d.close();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // A failing test shows the end of the server's log.
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "--- last lines of the {:?} server log ---\n{}",
                self.target,
                tail.join("\n")
            );
        }
        self.stop();
    }
}

fn read_file_lossy(p: &Path) -> String {
    std::fs::read(p)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

fn start_corral(opts: &ServerOpts) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("zoo.cfg");
    std::fs::write(&cfg_path, opts.cfg_lines(dir.path(), 0)).unwrap();
    let stderr_path = dir.path().join("stderr.log");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_corral"));
    cmd.arg("serve").arg("--config").arg(&cfg_path);
    for (k, v) in opts.properties() {
        cmd.arg("--set").arg(format!("{k}={v}"));
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
    let mut child = cmd.spawn().expect("spawn corral");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<u16>();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("corral: serving clients on ") {
                if let Some(port) = rest.trim().rsplit(':').next().and_then(|p| p.parse().ok()) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(port);
                    }
                }
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(port) => TestServer {
            child: Some(child),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir: Some(dir),
            target: Target::Corral,
        },
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            panic!(
                "corral did not report its port within 20 s (exit: {status:?})\nstderr:\n{}",
                read_file_lossy(&stderr_path)
            );
        }
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The classpath for ZooKeeper: `ZOOKEEPER_CLASSPATH` or the Debian jars.
fn zk_classpath() -> String {
    std::env::var("ZOOKEEPER_CLASSPATH").unwrap_or_else(|_| {
        "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar".to_string()
    })
}

fn start_zookeeper(opts: &ServerOpts) -> Result<TestServer, String> {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg_path = dir.path().join("zoo.cfg");
    let mut cfg = opts.cfg_lines(&dir.path().join("data"), port);
    cfg.push_str("clientPortAddress=127.0.0.1\nadmin.enableServer=false\nforceSync=no\n");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log_path = dir.path().join("zookeeper.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut cmd = Command::new(std::env::var("JAVA").unwrap_or_else(|_| "java".into()));
    cmd.arg("-Xmx256m")
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1")
        .arg("-Dzookeeper.admin.enableServer=false")
        .arg("-Dzookeeper.jmx.log4j.disable=true");
    for (k, v) in opts.properties() {
        cmd.arg(format!("-D{k}={v}"));
    }
    cmd.arg("-cp")
        .arg(zk_classpath())
        .arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(&cfg_path)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
    let mut child = cmd.spawn().map_err(|e| format!("spawn java: {e}"))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "ZooKeeper exited with {status}:\n{}",
                read_file_lossy(&log_path)
            ));
        }
        // `ruok` answers `imok` as soon as the port is open, before the
        // server serves sessions; `srvr` reports the version only then.
        // A connection accepted while the server starts may go unanswered,
        // hence the short timeout.
        let poll = Duration::from_millis(500);
        if four_letter_word_timeout(addr, "ruok", poll).as_deref() == Some("imok")
            && four_letter_word_timeout(addr, "srvr", poll)
                .is_some_and(|s| s.starts_with("Zookeeper version:"))
        {
            return Ok(TestServer {
                child: Some(child),
                addr,
                dir: Some(dir),
                target: Target::ZooKeeper,
            });
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "ZooKeeper did not answer ruok within 30 s:\n{}",
                read_file_lossy(&log_path)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a four-letter word and reads the answer until the server closes.
pub fn four_letter_word_sync(addr: SocketAddr, word: &str) -> Option<String> {
    four_letter_word_timeout(addr, word, Duration::from_secs(10))
}

/// [`four_letter_word_sync`] giving up after `timeout` without an answer.
fn four_letter_word_timeout(addr: SocketAddr, word: &str, timeout: Duration) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Async wrapper of [`four_letter_word_sync`].
pub async fn four_letter_word(addr: &str, word: &str) -> String {
    let addr: SocketAddr = addr.parse().unwrap();
    let word = word.to_string();
    tokio::task::spawn_blocking(move || four_letter_word_sync(addr, &word))
        .await
        .unwrap()
        .expect("four letter word failed")
}

// ---------------------------------------------------------------------------
// zookeeper-client helpers
// ---------------------------------------------------------------------------

pub use zookeeper_client as zk;

/// Connects a client with a 10 s session timeout.
pub async fn client(addr: &str) -> zk::Client {
    client_with_timeout(addr, Duration::from_secs(10)).await
}

/// Connects a client asking for the given session timeout.
pub async fn client_with_timeout(addr: &str, timeout: Duration) -> zk::Client {
    tokio::time::timeout(
        WAIT,
        zk::Client::connector()
            .with_session_timeout(timeout)
            .connect(addr),
    )
    .await
    .expect("connect timed out")
    .expect("connect failed")
}

/// `CreateMode::Persistent` with `world:anyone` ALL.
pub fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

pub fn ephemeral() -> zk::CreateOptions<'static> {
    zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all())
}

pub fn container() -> zk::CreateOptions<'static> {
    zk::CreateMode::Container.with_acls(zk::Acls::anyone_all())
}

/// Polls `check` until it returns true or the deadline passes.
pub async fn wait_until<F, Fut>(what: &str, deadline: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + deadline;
    loop {
        if check().await {
            return;
        }
        if Instant::now() > end {
            panic!("timed out waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `path` does not exist any more, as seen by `c`.
pub async fn wait_gone(c: &zk::Client, path: &str, deadline: Duration) {
    wait_until(&format!("{path} to disappear"), deadline, || async {
        c.check_stat(path).await.unwrap().is_none()
    })
    .await;
}

/// Awaits a watcher's event with a timeout.
pub async fn next_event<F: std::future::Future<Output = zk::WatchedEvent>>(
    f: F,
) -> zk::WatchedEvent {
    tokio::time::timeout(WAIT, f)
        .await
        .expect("no watch event within the timeout")
}

/// `digest:user:base64(sha1(user:password))`.
pub fn digest_id(user: &str, password: &str) -> String {
    use base64::Engine;
    use sha1::Digest;
    let hash = sha1::Sha1::digest(format!("{user}:{password}").as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

// ---------------------------------------------------------------------------
// Raw protocol
// ---------------------------------------------------------------------------

/// A record with no fields (empty bodies of requests and replies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Empty;

impl Jute for Empty {
    fn read(_: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Empty)
    }
    fn write(&self, _: &mut Vec<u8>) {}
}

/// Decodes a whole reply body (panics on malformed or trailing bytes).
pub fn decode<T: Jute>(body: &[u8]) -> T {
    jute::from_bytes::<T>(body)
        .unwrap_or_else(|e| panic!("cannot decode {}: {e}", std::any::type_name::<T>()))
}

/// Why a frame could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadError {
    /// The peer closed (EOF or reset).
    Closed,
    /// Nothing arrived in time.
    Timeout,
}

/// Frames `body` with its 4-byte big-endian length.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// Reads one length-prefixed frame.
pub async fn read_frame(s: &mut TcpStream, timeout: Duration) -> Result<Vec<u8>, ReadError> {
    let fut = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len)
            .await
            .map_err(|_| ReadError::Closed)?;
        let len = i32::from_be_bytes(len);
        assert!(
            (0..=16 * 1024 * 1024).contains(&len),
            "bad frame length {len}"
        );
        let mut buf = vec![0u8; len as usize];
        s.read_exact(&mut buf)
            .await
            .map_err(|_| ReadError::Closed)?;
        Ok(buf)
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(ReadError::Timeout),
    }
}

/// Waits until the peer closes the connection, ignoring whatever it sends
/// first. Returns false if it is still open after `timeout`.
pub async fn wait_closed(s: &mut TcpStream, timeout: Duration) -> bool {
    let fut = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(timeout, fut).await.is_ok()
}

/// A ConnectRequest as a 3.x Java client sends it for a new session.
pub fn connect_request(timeout_ms: i32) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: timeout_ms,
        session_id: 0,
        passwd: Some(vec![0u8; 16]),
        read_only: Some(false),
    }
}

/// Opens a TCP connection to the server.
pub async fn open(addr: &str) -> TcpStream {
    let s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
        .await
        .expect("tcp connect timed out")
        .expect("tcp connect failed");
    s.set_nodelay(true).unwrap();
    s
}

/// Sends a ConnectRequest and reads the ConnectResponse (Err if the server
/// closes the connection instead of answering).
pub async fn handshake(
    s: &mut TcpStream,
    req: &ConnectRequest,
) -> Result<ConnectResponse, ReadError> {
    s.write_all(&frame(&jute::to_bytes(req))).await.unwrap();
    let body = read_frame(s, WAIT).await?;
    Ok(decode::<ConnectResponse>(&body))
}

/// One session spoken to by hand.
pub struct RawConn {
    pub stream: TcpStream,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout: i32,
    pub response: ConnectResponse,
    /// The highest zxid seen in a reply header.
    pub last_zxid: i64,
    next_xid: i32,
    /// Notifications read while waiting for a reply.
    pub events: VecDeque<WatcherEvent>,
}

impl RawConn {
    /// A new session asking for a 30 s timeout.
    pub async fn connect(addr: &str) -> RawConn {
        RawConn::connect_with(addr, &connect_request(30_000)).await
    }

    /// A session established with the given ConnectRequest; panics if refused.
    pub async fn connect_with(addr: &str, req: &ConnectRequest) -> RawConn {
        let mut stream = open(addr).await;
        let resp = handshake(&mut stream, req)
            .await
            .expect("server closed the connection instead of answering the handshake");
        assert!(
            resp.time_out > 0,
            "session refused: {resp:?} (request {req:?})"
        );
        RawConn {
            stream,
            session_id: resp.session_id,
            passwd: resp.passwd.clone().unwrap_or_default(),
            timeout: resp.time_out,
            response: resp,
            last_zxid: req.last_zxid_seen,
            next_xid: 1,
            events: VecDeque::new(),
        }
    }

    /// The next xid this connection would use.
    pub fn alloc_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// Writes raw bytes.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Sends header + body with the given xid (no reply read).
    pub async fn send_with_xid<T: Jute>(&mut self, xid: i32, opcode: i32, body: &T) {
        let mut bytes = jute::to_bytes(&RequestHeader { xid, op: opcode });
        body.write(&mut bytes);
        self.stream.write_all(&frame(&bytes)).await.unwrap();
    }

    /// Sends a request with a fresh xid; returns the xid.
    pub async fn send<T: Jute>(&mut self, opcode: i32, body: &T) -> i32 {
        let x = self.alloc_xid();
        self.send_with_xid(x, opcode, body).await;
        x
    }

    /// Reads the next frame as a reply header and body (notifications included).
    pub async fn read_packet(&mut self) -> Result<(ReplyHeader, Vec<u8>), ReadError> {
        let buf = read_frame(&mut self.stream, WAIT).await?;
        let mut r = Reader::new(&buf);
        let h = ReplyHeader::read(&mut r).expect("reply header");
        let body = buf[buf.len() - r.remaining()..].to_vec();
        if h.zxid > self.last_zxid {
            self.last_zxid = h.zxid;
        }
        Ok((h, body))
    }

    /// Reads frames until the reply with `xid`, queueing notifications.
    pub async fn read_reply(&mut self, xid: i32) -> (ReplyHeader, Vec<u8>) {
        loop {
            let (h, body) = self
                .read_packet()
                .await
                .unwrap_or_else(|e| panic!("no reply to xid {xid}: {e:?}"));
            if h.xid == xid::NOTIFICATION {
                self.events.push_back(decode::<WatcherEvent>(&body));
                continue;
            }
            assert_eq!(h.xid, xid, "reply out of order: {h:?}");
            return (h, body);
        }
    }

    /// Sends a request and reads its reply.
    pub async fn call<T: Jute>(&mut self, opcode: i32, body: &T) -> (ReplyHeader, Vec<u8>) {
        let x = self.send(opcode, body).await;
        self.read_reply(x).await
    }

    /// Sends a request; Ok(decoded reply) if err is 0, else Err(err).
    pub async fn req<T: Jute, R: Jute>(&mut self, opcode: i32, body: &T) -> Result<R, i32> {
        let (h, b) = self.call(opcode, body).await;
        if h.err == 0 {
            Ok(decode::<R>(&b))
        } else {
            assert!(b.is_empty(), "error reply with a body: {h:?} {b:?}");
            Err(h.err)
        }
    }

    /// The next notification (queued or read from the socket).
    pub async fn next_event(&mut self) -> WatcherEvent {
        if let Some(e) = self.events.pop_front() {
            return e;
        }
        let (h, body) = self
            .read_packet()
            .await
            .unwrap_or_else(|e| panic!("no notification: {e:?}"));
        assert_eq!(
            h.xid,
            xid::NOTIFICATION,
            "expected a notification, got {h:?}"
        );
        decode::<WatcherEvent>(&body)
    }

    /// Asserts no notification is pending: sends a ping and checks that the
    /// ping reply is the next frame.
    pub async fn assert_no_event(&mut self) {
        assert!(
            self.events.is_empty(),
            "unexpected events {:?}",
            self.events
        );
        self.ping().await;
        assert!(
            self.events.is_empty(),
            "unexpected events {:?}",
            self.events
        );
    }

    /// Sends a ping (xid -2) and waits for its reply.
    pub async fn ping(&mut self) -> ReplyHeader {
        self.send_with_xid(xid::PING, op::PING, &Empty).await;
        let (h, _) = self.read_reply(xid::PING).await;
        h
    }

    // Typed shortcuts.

    pub async fn create(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        flags: i32,
    ) -> Result<jute::Create2Response, i32> {
        self.req(
            op::CREATE2,
            &jute::CreateRequest {
                path: path.into(),
                data: data.map(|d| d.to_vec()),
                acl: open_acl(),
                flags,
            },
        )
        .await
    }

    pub async fn get_data(
        &mut self,
        path: &str,
        watch: bool,
    ) -> Result<jute::GetDataResponse, i32> {
        self.req(
            op::GET_DATA,
            &jute::GetDataRequest {
                path: path.into(),
                watch,
            },
        )
        .await
    }

    pub async fn exists(&mut self, path: &str, watch: bool) -> Result<Stat, i32> {
        self.req::<_, jute::ExistsResponse>(
            op::EXISTS,
            &jute::ExistsRequest {
                path: path.into(),
                watch,
            },
        )
        .await
        .map(|r| r.stat)
    }

    pub async fn set_data(&mut self, path: &str, data: &[u8], version: i32) -> Result<Stat, i32> {
        self.req::<_, jute::SetDataResponse>(
            op::SET_DATA,
            &jute::SetDataRequest {
                path: path.into(),
                data: Some(data.to_vec()),
                version,
            },
        )
        .await
        .map(|r| r.stat)
    }

    pub async fn delete(&mut self, path: &str, version: i32) -> Result<(), i32> {
        self.req::<_, Empty>(
            op::DELETE,
            &jute::DeleteRequest {
                path: path.into(),
                version,
            },
        )
        .await
        .map(|_| ())
    }

    pub async fn get_children(&mut self, path: &str, watch: bool) -> Result<Vec<String>, i32> {
        self.req::<_, jute::GetChildrenResponse>(
            op::GET_CHILDREN,
            &jute::GetChildrenRequest {
                path: path.into(),
                watch,
            },
        )
        .await
        .map(|r| {
            let mut c = r.children;
            c.sort();
            c
        })
    }

    /// Sends closeSession and waits for its reply.
    pub async fn close_session(&mut self) -> ReplyHeader {
        let (h, _) = self.call(op::CLOSE_SESSION, &Empty).await;
        h
    }
}

/// `world:anyone` with all permissions.
pub fn open_acl() -> Vec<jute::Acl> {
    vec![jute::Acl {
        perms: jute::codes::perms::ALL,
        id: jute::Id {
            scheme: "world".into(),
            id: "anyone".into(),
        },
    }]
}

/// A watcher event record.
pub fn event(event_type: i32, path: &str) -> WatcherEvent {
    WatcherEvent {
        event_type,
        state: jute::codes::state::SYNC_CONNECTED,
        path: path.into(),
    }
}

// ---------------------------------------------------------------------------
// A TCP proxy that can cut a client off from the server
// ---------------------------------------------------------------------------

/// Forwards connections to a server; `sever` drops every live connection and
/// `set_blocked(true)` refuses new ones (accepts and closes at once).
pub struct Proxy {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    blocked: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let blocked = Arc::new(AtomicBool::new(false));
        let target = target.to_string();
        let (c2, b2) = (conns.clone(), blocked.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if b2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy {
            addr,
            conns,
            blocked,
            accept,
        }
    }

    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// Closes every connection currently forwarded.
    pub fn sever(&self) {
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }

    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.sever();
    }
}

/// A corral process on a data dir the test owns, for restart and crash
/// tests (the dir outlives the process). Killed on drop.
pub struct CorralProc {
    pub child: Child,
    pub addr: String,
}

impl Drop for CorralProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl CorralProc {
    /// Spawns `corral serve` on `dir` with an ephemeral port; stdout and
    /// stderr are piped.
    pub fn spawn(dir: &Path) -> Child {
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["serve", "--set", "clientPort=0", "--set"])
            .arg(format!("dataDir={}", dir.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_LOG", "warn")
            .spawn()
            .expect("start corral")
    }

    /// Starts corral on `dir` and waits for its ready line.
    pub fn start(dir: &Path) -> CorralProc {
        let mut child = CorralProc::spawn(dir);
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out)
            .read_line(&mut line)
            .expect("read ready line");
        let addr = line
            .trim()
            .strip_prefix("corral: serving clients on ")
            .unwrap_or_else(|| panic!("corral did not start: {line:?}"))
            .to_string();
        CorralProc { child, addr }
    }
}
