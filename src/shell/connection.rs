//! One task per client socket: length-prefixed framing, four-letter words,
//! and coalesced writes. It makes no protocol decisions beyond framing.

use super::driver::{Input, ToConn};
use super::fourlw;
use crate::config::Config;
use crate::core::ConnId;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// Per-address connection counting for `maxClientCnxns`.
#[derive(Clone)]
pub struct Limits {
    max: u32,
    counts: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

/// Holds one connection slot for an address until dropped.
pub struct Permit {
    ip: IpAddr,
    limits: Limits,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Ok(mut m) = self.limits.counts.lock() {
            if let Some(c) = m.get_mut(&self.ip) {
                *c = c.saturating_sub(1);
                if *c == 0 {
                    m.remove(&self.ip);
                }
            }
        }
    }
}

impl Limits {
    /// Limits from the config (0 = unlimited).
    pub fn new(config: &Config) -> Limits {
        Limits {
            max: config.max_client_cnxns,
            counts: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A slot for `ip`, or None when it already has the maximum.
    pub fn admit(&self, ip: IpAddr) -> Option<Permit> {
        let mut m = self.counts.lock().ok()?;
        let c = m.entry(ip).or_insert(0);
        if self.max > 0 && *c >= self.max {
            return None;
        }
        *c += 1;
        Some(Permit {
            ip,
            limits: self.clone(),
        })
    }
}

const MAX_COALESCED_WRITE: usize = 256 * 1024;

/// Serves one socket until either side closes it.
pub async fn run(
    conn: ConnId,
    mut stream: TcpStream,
    peer: SocketAddr,
    driver: mpsc::Sender<Input>,
    config: Arc<Config>,
    _permit: Permit,
) {
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ToConn>();
    let mut out_tx = Some(out_tx);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut read_chunk = vec![0u8; 64 * 1024];
    let mut wbuf: Vec<u8> = Vec::new();
    let max = config.jute_max_buffer;
    let mut handshaken = false;
    let mut first = true;
    'outer: loop {
        tokio::select! {
            biased;
            msg = out_rx.recv() => {
                let mut close = false;
                let mut next = msg;
                loop {
                    match next {
                        Some(ToConn::Frames(f)) if wbuf.is_empty() => wbuf = f,
                        Some(ToConn::Frames(f)) => wbuf.extend_from_slice(&f),
                        Some(ToConn::Close) | None => { close = true; break; }
                    }
                    if wbuf.len() >= MAX_COALESCED_WRITE { break; }
                    match out_rx.try_recv() {
                        Ok(m) => next = Some(m),
                        Err(_) => break,
                    }
                }
                if !wbuf.is_empty() {
                    if let Err(e) = stream.write_all(&wbuf).await {
                        debug!(conn, %peer, error = %e, "write failed");
                        break 'outer;
                    }
                    wbuf.clear();
                }
                if close {
                    let _ = stream.shutdown().await;
                    break 'outer;
                }
            }
            n = stream.read(&mut read_chunk) => {
                let n = match n {
                    Ok(0) | Err(_) => break 'outer,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&read_chunk[..n]);
                // Whole frames after the handshake go to the driver as one
                // message: buf[batch..at].
                let mut batch = 0;
                let mut at = 0;
                while buf.len() - at >= 4 {
                    let head = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
                    if first {
                        if let Some(cmd) = fourlw::command(head) {
                            let text = four_letter(&driver, &config, cmd).await;
                            let _ = stream.write_all(text.as_bytes()).await;
                            let _ = stream.shutdown().await;
                            return;
                        }
                    }
                    let len = i32::from_be_bytes(head);
                    if len < 0 || len as usize > max {
                        warn!(conn, %peer, len, max, "frame length out of range (jute.maxbuffer), closing connection");
                        break 'outer;
                    }
                    let len = len as usize;
                    if buf.len() - at - 4 < len {
                        break;
                    }
                    at += 4 + len;
                    if first {
                        first = false;
                        handshaken = true;
                        let body = buf[at - len..at].to_vec();
                        let Some(to_conn) = out_tx.take() else { break 'outer };
                        let hello = Input::Handshake { conn, peer, body, to_conn };
                        if driver.send(hello).await.is_err() {
                            break 'outer;
                        }
                        batch = at;
                    }
                }
                if at > batch {
                    let frames = if batch == 0 && at == buf.len() {
                        std::mem::take(&mut buf)
                    } else {
                        buf[batch..at].to_vec()
                    };
                    if driver.send(Input::Frames { conn, frames }).await.is_err() {
                        break 'outer;
                    }
                }
                if !buf.is_empty() {
                    buf.drain(..at);
                }
            }
        }
    }
    if handshaken {
        let _ = driver.send(Input::Closed { conn }).await;
    }
}

async fn four_letter(driver: &mpsc::Sender<Input>, config: &Config, cmd: &'static str) -> String {
    if !config.four_letter_allowed(cmd) {
        return format!("{cmd} is not executed because it is not in the whitelist.\n");
    }
    let (tx, rx) = oneshot::channel();
    if driver
        .send(Input::FourLetter {
            cmd: cmd.to_string(),
            reply: tx,
        })
        .await
        .is_err()
    {
        return String::new();
    }
    rx.await.unwrap_or_default()
}
