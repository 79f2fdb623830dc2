//! One client session over TCP: the handshake, length-prefixed frames in
//! both directions, and closeSession. The pipelining lives in
//! `pipeline`; this module only knows the wire format.

use jute::codes::op;
use jute::{ConnectRequest, ConnectResponse, Jute, Reader, ReplyHeader, RequestHeader};
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// Replies larger than this end the session: far above any reply the
/// workloads provoke, it only guards against a desynchronised stream.
const MAX_FRAME: usize = 64 << 20;

/// How long connecting plus the handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An established session; the halves are separate so a writer and a
/// reader can run at the same time.
pub struct Session {
    /// Index of this session in the run (names created znodes).
    pub index: usize,
    /// The server it talks to.
    pub server: String,
    pub reader: FrameReader,
    pub writer: OwnedWriteHalf,
    pub xids: Xids,
}

/// Hands out request xids: positive and increasing, never a reserved
/// negative one.
pub struct Xids(i32);

impl Xids {
    /// The next xid.
    pub fn alloc(&mut self) -> i32 {
        let x = self.0;
        self.0 = if x == i32::MAX { 1 } else { x + 1 };
        x
    }
}

/// A reply: its header and undecoded body.
pub struct Reply {
    pub header: ReplyHeader,
    pub body: Vec<u8>,
}

/// Reads whole frames from the socket through a buffer.
pub struct FrameReader {
    inner: BufReader<OwnedReadHalf>,
}

impl FrameReader {
    /// Reads one frame's body (without its length prefix).
    pub async fn frame(&mut self) -> io::Result<Vec<u8>> {
        let len = self.inner.read_i32().await?;
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= MAX_FRAME)
            .ok_or_else(|| invalid(format!("bad frame length {len}")))?;
        let mut body = vec![0u8; len];
        self.inner.read_exact(&mut body).await?;
        Ok(body)
    }

    /// Reads one frame as a reply header and body.
    pub async fn reply(&mut self) -> io::Result<Reply> {
        let frame = self.frame().await?;
        let mut r = Reader::new(&frame);
        let header = ReplyHeader::read(&mut r).map_err(|e| invalid(e.to_string()))?;
        let body = frame[frame.len() - r.remaining()..].to_vec();
        Ok(Reply { header, body })
    }
}

impl Session {
    /// Connects and opens a new session asking for `timeout_ms`.
    pub async fn connect(index: usize, server: &str, timeout_ms: i32) -> io::Result<Session> {
        tokio::time::timeout(
            CONNECT_TIMEOUT,
            Session::connect_inner(index, server, timeout_ms),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect/handshake timed out"))?
    }

    async fn connect_inner(index: usize, server: &str, timeout_ms: i32) -> io::Result<Session> {
        let stream = TcpStream::connect(server).await?;
        stream.set_nodelay(true)?;
        let (read, mut writer) = stream.into_split();
        let mut reader = FrameReader {
            inner: BufReader::with_capacity(64 << 10, read),
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: timeout_ms,
            session_id: 0,
            passwd: Some(vec![0u8; 16]),
            read_only: Some(false),
        };
        let mut out = Vec::new();
        push_frame(&mut out, |b| req.write(b));
        writer.write_all(&out).await?;
        let resp: ConnectResponse =
            jute::from_bytes(&reader.frame().await?).map_err(|e| invalid(e.to_string()))?;
        if resp.time_out <= 0 {
            return Err(invalid("the server refused the session".into()));
        }
        Ok(Session {
            index,
            server: server.to_string(),
            reader,
            writer,
            xids: Xids(1),
        })
    }

    /// Sends closeSession and waits briefly for its reply, so the server
    /// drops the session now instead of at its timeout. Best effort.
    pub async fn close(mut self) {
        let xid = self.xids.alloc();
        let mut out = Vec::new();
        push_request(&mut out, xid, op::CLOSE_SESSION, &[]);
        let fut = async {
            self.writer.write_all(&out).await?;
            loop {
                if self.reader.reply().await?.header.xid == xid {
                    return io::Result::Ok(());
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), fut).await;
    }
}

/// Appends one request frame: length, header, body.
pub fn push_request(out: &mut Vec<u8>, xid: i32, opcode: i32, body: &[u8]) {
    push_frame(out, |b| {
        RequestHeader { xid, op: opcode }.write(b);
        b.extend_from_slice(body);
    });
}

/// Appends a length-prefixed frame whose body `fill` writes.
fn push_frame(out: &mut Vec<u8>, fill: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    fill(out);
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_frame_is_length_header_body() {
        let mut out = Vec::new();
        push_request(&mut out, 7, op::EXISTS, &[1, 2, 3]);
        assert_eq!(&out[..4], &11i32.to_be_bytes());
        assert_eq!(&out[4..8], &7i32.to_be_bytes());
        assert_eq!(&out[8..12], &op::EXISTS.to_be_bytes());
        assert_eq!(&out[12..], &[1, 2, 3]);
    }
}
