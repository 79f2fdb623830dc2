//! Physical floors that bound any server on this machine: how many
//! fdatasyncs per second the disk does, and what a bare loopback TCP round
//! trip costs. A server's sync-mode write latency cannot beat the first,
//! its sync-mode read latency cannot beat the second.

use super::histogram::Latency;
use super::report::escape;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// Bytes written before each fdatasync (one page, like a small txn batch).
const BLOCK: usize = 4096;

/// The file is preallocated to this size and written round-robin, so each
/// sync flushes data, not a growing file size (as a preallocated txn log).
const FILE_BYTES: u64 = 16 << 20;

/// Bytes of the ping-pong message.
const PING: usize = 16;

/// Writes 4 KiB + fdatasync in a loop for `duration` in `dir` and returns
/// the JSON line. The scratch file is removed afterwards.
pub fn fsync_floor(dir: &Path, duration: Duration) -> anyhow::Result<String> {
    let path = dir.join(format!(".corral-fsync-floor-{}", std::process::id()));
    let result = fsync_loop(&path, duration);
    let _ = std::fs::remove_file(&path);
    let (ops, secs, lat) = result?;
    Ok(floor_json(
        "fsync",
        &format!(",\"dir\":\"{}\"", escape(&dir.display().to_string())),
        ops,
        secs,
        &lat,
    ))
}

fn fsync_loop(path: &Path, duration: Duration) -> anyhow::Result<(u64, f64, Latency)> {
    let mut f: File = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..FILE_BYTES / zeros.len() as u64 {
        f.write_all(&zeros)?;
    }
    f.sync_all()?;
    let block = vec![0x5au8; BLOCK];
    let mut lat = Latency::new();
    let (mut ops, mut offset) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(&block)?;
        f.sync_data()?;
        lat.record(t.elapsed());
        ops += 1;
        offset = (offset + BLOCK as u64) % FILE_BYTES;
    }
    Ok((ops, start.elapsed().as_secs_f64(), lat))
}

/// Ping-pongs 16 bytes over loopback TCP (an echo thread on the other
/// end) for `duration` and returns the JSON line.
pub fn rtt_floor(duration: Duration) -> anyhow::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        let mut buf = [0u8; PING];
        loop {
            if s.read_exact(&mut buf).is_err() {
                return Ok(());
            }
            s.write_all(&buf)?;
        }
    });
    let mut c = TcpStream::connect(addr)?;
    c.set_nodelay(true)?;
    let mut buf = [0u8; PING];
    let mut lat = Latency::new();
    let mut ops = 0u64;
    let start = Instant::now();
    while start.elapsed() < duration {
        let t = Instant::now();
        c.write_all(&buf)?;
        c.read_exact(&mut buf)?;
        lat.record(t.elapsed());
        ops += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    drop(c);
    let _ = echo.join();
    Ok(floor_json("rtt", "", ops, secs, &lat))
}

fn floor_json(kind: &str, extra: &str, ops: u64, secs: f64, lat: &Latency) -> String {
    let p = lat.percentiles();
    let rate = if secs > 0.0 { ops as f64 / secs } else { 0.0 };
    format!(
        "{{\"floor\":\"{kind}\"{extra},\"ops\":{ops},\"secs\":{secs:.3},\"ops_per_sec\":{rate:.1},\
         \"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{}}}",
        p.p50, p.p90, p.p99, p.p999, p.max
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_floor_measures_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let j = fsync_floor(dir.path(), Duration::from_millis(50)).unwrap();
        assert!(j.starts_with("{\"floor\":\"fsync\""), "{j}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn rtt_floor_round_trips() {
        let j = rtt_floor(Duration::from_millis(50)).unwrap();
        assert!(j.starts_with("{\"floor\":\"rtt\",\"ops\":"), "{j}");
    }
}
