//! The txn log: segmented, append-only files of CRC-checked records.
//!
//! Layout of `<dataLogDir>/txlog/<first zxid as 16 hex digits>.log`:
//! a 16-byte header (`CRLG`, format version, reserved), then records
//! `len: u32 | crc32: u32 | zxid: i64 | payload`, where `payload` is the txn
//! in ZooKeeper's own txn-record encoding and the CRC covers zxid and
//! payload. Files grow in preallocated zero-filled chunks, so a `len` of 0
//! marks the end of the data.
//!
//! Recovery reads segments in order. A torn or corrupt record followed only
//! by zeros is the tail of an interrupted write: it is truncated and logged.
//! Anything else that fails its check — a bad record with valid data after
//! it, or in an older segment — stops the server with the file and offset:
//! corral never silently diverges from what it acknowledged.

use crate::core::txn::{codec, Txn};
use crate::core::Zxid;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing::{info, warn};

const MAGIC: &[u8; 4] = b"CRLG";
/// On-disk format version of log segments.
pub const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: u64 = 16;
const RECORD_HEAD: usize = 16;
/// Largest payload accepted when reading (a txn is at most a few MiB).
const MAX_RECORD: usize = 64 << 20;

/// Tunables of the log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    pub dir: PathBuf,
    /// Start a new segment once the current one passes this size.
    pub segment_bytes: u64,
    /// Grow files by this much at a time (zero-filled).
    pub prealloc_bytes: u64,
    /// fdatasync after every batch (`forceSync`).
    pub force_sync: bool,
    /// The zxid state is already durable at elsewhere (the snapshot
    /// store): a fresh log starts after it.
    pub base_zxid: Zxid,
}

/// Why the log cannot be opened.
#[derive(Debug)]
pub enum LogError {
    Io(PathBuf, io::Error),
    /// A record that fails its checks where a torn tail is impossible.
    Corrupt {
        file: PathBuf,
        offset: u64,
        why: String,
    },
}

impl std::fmt::Display for LogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogError::Io(p, e) => write!(f, "{}: {e}", p.display()),
            LogError::Corrupt { file, offset, why } => write!(
                f,
                "corrupt txn log {} at offset {offset}: {why}; refusing to start (restore the data dir from a backup or remove the damaged segment knowingly)",
                file.display()
            ),
        }
    }
}

impl std::error::Error for LogError {}

fn io_err(p: &Path) -> impl FnOnce(io::Error) -> LogError + '_ {
    move |e| LogError::Io(p.to_path_buf(), e)
}

/// Makes a directory's entries (files created or removed) durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A segment file and the zxid of its first record.
fn segments(dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, LogError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io_err(dir))? {
        let e = e.map_err(io_err(dir))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(hex) = name.strip_suffix(".log") else {
            continue;
        };
        if let Ok(z) = i64::from_str_radix(hex, 16) {
            out.push((z, e.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// What one segment held.
struct Scan {
    /// The decoded txns above the scan's `skip_through` zxid.
    txns: Vec<Txn>,
    /// Every good record's zxid and the offset just past it.
    records: Vec<(Zxid, u64)>,
    /// End of the last good record.
    good_end: u64,
    /// Set when the data stopped at a bad record: why.
    bad: Option<String>,
    /// Whether anything but zeros follows the bad record.
    data_after_bad: bool,
}

/// Reads and checks one segment. Records at or below `skip_through` are
/// checked (length, CRC) but not decoded: the snapshot store already holds
/// them, and decoding a whole segment of them would cost a restart time
/// and memory for nothing.
fn scan(path: &Path, skip_through: Zxid) -> Result<Scan, LogError> {
    let io = io_err(path);
    let file = File::open(path).map_err(io_err(path))?;
    // Streamed, not read whole: a segment is up to 64 MiB plus its
    // preallocation, and a restart should not hold that in memory.
    let mut r = BufReader::with_capacity(256 << 10, file);
    let corrupt = |offset: u64, why: &str| LogError::Corrupt {
        file: path.to_path_buf(),
        offset,
        why: why.to_string(),
    };
    let mut header = [0u8; HEADER_LEN as usize];
    if read_full(&mut r, &mut header).map_err(io_err(path))? < header.len() {
        // A crash right after creating the file: nothing in it was acked.
        return Ok(Scan {
            txns: Vec::new(),
            records: Vec::new(),
            good_end: 0,
            bad: Some("segment shorter than its header".into()),
            data_after_bad: false,
        });
    }
    if &header[..4] != MAGIC {
        return Err(corrupt(0, "not a corral txn log segment (bad magic)"));
    }
    let version = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if version != FORMAT_VERSION {
        return Err(corrupt(4, &format!("unsupported format version {version}")));
    }
    let mut at = HEADER_LEN;
    let mut txns = Vec::new();
    let mut records = Vec::new();
    let mut bad = None;
    let mut body = Vec::new();
    // The length the record at `at` claims, for the torn-tail check.
    let mut claimed = 0u64;
    loop {
        let mut h = [0u8; RECORD_HEAD];
        let got = read_full(&mut r, &mut h).map_err(io_err(path))?;
        if got >= 4 {
            claimed = u64::from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]));
        }
        if got < RECORD_HEAD {
            if h[..got].iter().any(|b| *b != 0) {
                bad = Some("partial record head at the end".into());
            }
            break;
        }
        let len = claimed as usize;
        if len == 0 {
            if h.iter().all(|b| *b == 0) {
                break;
            }
            bad = Some("zero length with a non-zero record head".to_string());
            break;
        }
        let crc = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        if len > MAX_RECORD {
            bad = Some(format!("record length {len} runs past the end"));
            break;
        }
        body.clear();
        body.extend_from_slice(&h[8..]);
        body.resize(8 + len, 0);
        if read_full(&mut r, &mut body[8..]).map_err(io_err(path))? < len {
            bad = Some(format!("record length {len} runs past the end"));
            break;
        }
        if crc32fast::hash(&body) != crc {
            bad = Some("checksum mismatch".to_string());
            break;
        }
        let mut zb = [0u8; 8];
        zb.copy_from_slice(&body[..8]);
        let zxid = i64::from_be_bytes(zb);
        if zxid > skip_through {
            match codec::decode(&body[8..]) {
                Ok(t) if t.zxid == zxid => txns.push(t),
                Ok(_) => {
                    bad = Some("zxid in the record head disagrees with the txn".into());
                    break;
                }
                Err(e) => {
                    bad = Some(format!("undecodable txn: {e}"));
                    break;
                }
            }
        }
        at += (RECORD_HEAD + len) as u64;
        records.push((zxid, at));
    }
    let data_after_bad = bad.is_some() && {
        // Skip the extent the bad record claims, then look for any data: a
        // torn or bit-flipped last record is followed only by zeros.
        let skip = at
            .saturating_add(RECORD_HEAD as u64)
            .saturating_add(claimed);
        any_data_from(r.get_mut(), skip).map_err(io)?
    };
    Ok(Scan {
        txns,
        records,
        good_end: at,
        bad,
        data_after_bad,
    })
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// True when any byte from `offset` to the end of the file is non-zero.
fn any_data_from(f: &mut File, offset: u64) -> io::Result<bool> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = read_full(f, &mut buf)?;
        if buf[..n].iter().any(|b| *b != 0) {
            return Ok(true);
        }
        if n < buf.len() {
            return Ok(false);
        }
    }
}

/// What a read-only inspection found in one segment.
pub struct SegmentReport {
    pub path: PathBuf,
    pub txns: Vec<Txn>,
    /// Offset just past the last good record.
    pub good_end: u64,
    /// Why reading stopped early, if it did.
    pub bad: Option<String>,
    /// True when the bad record is a torn tail (only zeros follow it and it
    /// is in the newest segment): recovery truncates it.
    pub torn_tail: bool,
}

/// Reads every segment in `dir` without changing anything (for `corral log
/// dump` and `corral verify`). Corruption that would stop the server is an
/// error, exactly as at start-up.
pub fn inspect(dir: &Path) -> Result<Vec<SegmentReport>, LogError> {
    let segs = segments(dir)?;
    let mut out = Vec::with_capacity(segs.len());
    for (i, (_, path)) in segs.iter().enumerate() {
        let last = i + 1 == segs.len();
        let s = scan(path, Zxid::MIN)?;
        if s.bad.is_some() && (!last || s.data_after_bad) {
            return Err(LogError::Corrupt {
                file: path.clone(),
                offset: s.good_end,
                why: s.bad.unwrap_or_default(),
            });
        }
        out.push(SegmentReport {
            path: path.clone(),
            torn_tail: s.bad.is_some(),
            txns: s.txns,
            good_end: s.good_end,
            bad: s.bad,
        });
    }
    Ok(out)
}

/// Deletes segments whose every txn is at or below `zxid` (the snapshot
/// store holds them durably). The newest segment is never deleted.
pub fn purge_below(dir: &Path, zxid: Zxid) -> io::Result<usize> {
    let segs = segments(dir).map_err(|e| io::Error::other(e.to_string()))?;
    let mut n = 0;
    for pair in segs.windows(2) {
        // Segment i holds zxids below the first of segment i+1.
        if pair[1].0 <= zxid + 1 {
            fs::remove_file(&pair[0].1)?;
            n += 1;
        } else {
            break;
        }
    }
    Ok(n)
}

/// The zxid of the first txn the log can still replay, if any segment exists.
pub fn first_zxid(dir: &Path) -> Option<Zxid> {
    segments(dir).ok()?.first().map(|(z, _)| *z)
}

/// An open log, positioned for appending.
pub struct TxLog {
    opts: LogOptions,
    file: File,
    path: PathBuf,
    write_pos: u64,
    alloc_end: u64,
    last_zxid: Zxid,
    buf: Vec<u8>,
}

/// Result of opening: the log and every txn it held after `base_zxid`,
/// in order.
pub struct Opened {
    pub log: TxLog,
    pub txns: Vec<Txn>,
}

impl TxLog {
    /// Opens (creating if needed) the log in `opts.dir`, checking every
    /// record, recovering the txns after `opts.base_zxid` and truncating a
    /// torn tail.
    pub fn open(opts: LogOptions) -> Result<Opened, LogError> {
        fs::create_dir_all(&opts.dir).map_err(io_err(&opts.dir))?;
        let segs = segments(&opts.dir)?;
        let mut txns: Vec<Txn> = Vec::new();
        let mut last_record: Option<Zxid> = None;
        let mut records = 0usize;
        let mut tail: Option<(PathBuf, u64)> = None;
        for (i, (_, path)) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            let s = scan(path, opts.base_zxid)?;
            if let Some(why) = &s.bad {
                if !last || s.data_after_bad {
                    return Err(LogError::Corrupt {
                        file: path.clone(),
                        offset: s.good_end,
                        why: why.clone(),
                    });
                }
                let size = fs::metadata(path).map_err(io_err(path))?.len();
                warn!(
                    file = %path.display(),
                    offset = s.good_end,
                    dropped_bytes = size.saturating_sub(s.good_end),
                    why = %why,
                    "txn log ends in a torn or corrupt record (an interrupted write): truncating it"
                );
            }
            if let (Some(prev), Some(&(first, _))) = (last_record, s.records.first()) {
                if first <= prev {
                    return Err(LogError::Corrupt {
                        file: path.clone(),
                        offset: HEADER_LEN,
                        why: format!(
                            "zxid {first:#x} does not follow {prev:#x} of the previous segment"
                        ),
                    });
                }
            }
            if let Some(&(z, _)) = s.records.last() {
                last_record = Some(z);
            }
            records += s.records.len();
            txns.extend(s.txns);
            if last {
                tail = Some((path.clone(), s.good_end.max(HEADER_LEN)));
            }
        }
        let last_zxid = last_record.unwrap_or(0).max(opts.base_zxid);
        let log = match tail {
            Some((path, end)) => {
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                let len = file.metadata().map_err(io_err(&path))?.len();
                let mut log = TxLog {
                    opts,
                    file,
                    path,
                    write_pos: end,
                    alloc_end: len,
                    last_zxid,
                    buf: Vec::new(),
                };
                if end < HEADER_LEN + 1 && len < HEADER_LEN {
                    log.write_header().map_err(io_err(&log.path))?;
                } else {
                    // Zero whatever follows the good data so a torn record
                    // cannot resurface.
                    log.zero_from(end).map_err(io_err(&log.path))?;
                }
                log
            }
            None => TxLog::create(opts, last_zxid + 1, last_zxid)?,
        };
        if records > 0 {
            info!(
                records,
                after_snapshot = txns.len(),
                last_zxid = format_args!("{last_zxid:#x}"),
                "txn log recovered"
            );
        }
        Ok(Opened { log, txns })
    }

    fn create(opts: LogOptions, first: Zxid, last_zxid: Zxid) -> Result<TxLog, LogError> {
        let path = opts.dir.join(format!("{first:016x}.log"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(&path))?;
        let mut log = TxLog {
            opts,
            file,
            path,
            write_pos: HEADER_LEN,
            alloc_end: 0,
            last_zxid,
            buf: Vec::new(),
        };
        log.write_header().map_err(io_err(&log.path))?;
        // Make the new file's directory entry durable.
        sync_dir(&log.opts.dir);
        Ok(log)
    }

    fn write_header(&mut self) -> io::Result<()> {
        let mut h = Vec::with_capacity(HEADER_LEN as usize);
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&FORMAT_VERSION.to_be_bytes());
        h.extend_from_slice(&[0u8; 8]);
        self.file.seek(SeekFrom::Start(0))?;
        self.file.write_all(&h)?;
        self.write_pos = HEADER_LEN;
        Ok(())
    }

    fn zero_from(&mut self, end: u64) -> io::Result<()> {
        if self.alloc_end > end {
            self.file.set_len(end)?;
            self.file.set_len(self.alloc_end)?;
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// The zxid of the last appended txn.
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    /// Writes txns (not yet durable: call [`TxLog::sync`]).
    pub fn append(&mut self, txns: &[Txn]) -> io::Result<()> {
        let Some(first) = txns.first() else {
            return Ok(());
        };
        if self.write_pos >= self.opts.segment_bytes {
            self.sync()?;
            let next = TxLog::create(self.opts.clone(), first.zxid, self.last_zxid)
                .map_err(|e| io::Error::other(e.to_string()))?;
            *self = next;
        }
        self.buf.clear();
        for t in txns {
            let at = self.buf.len();
            self.buf.extend_from_slice(&[0u8; 8]);
            self.buf.extend_from_slice(&t.zxid.to_be_bytes());
            codec::encode(t, &mut self.buf);
            let len = (self.buf.len() - at - RECORD_HEAD) as u32;
            let crc = crc32fast::hash(&self.buf[at + 8..]);
            self.buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
            self.buf[at + 4..at + 8].copy_from_slice(&crc.to_be_bytes());
            self.last_zxid = t.zxid;
        }
        let end = self.write_pos + self.buf.len() as u64;
        if end + RECORD_HEAD as u64 > self.alloc_end {
            let grow = self.opts.prealloc_bytes.max(self.buf.len() as u64 * 2);
            self.alloc_end = end + grow;
            self.file.set_len(self.alloc_end)?;
        }
        self.file.seek(SeekFrom::Start(self.write_pos))?;
        self.file.write_all(&self.buf)?;
        self.write_pos = end;
        Ok(())
    }

    /// Durably drops every record above `zxid` (Zab's TRUNC: txns this
    /// server logged that the new leader never had).
    pub fn truncate_after(&mut self, zxid: Zxid) -> Result<(), LogError> {
        self.sync().map_err(io_err(&self.path))?;
        let dir = self.opts.dir.clone();
        for (first, path) in segments(&dir)?.into_iter().rev() {
            if first > zxid {
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let s = scan(&path, Zxid::MAX)?;
            let keep = s.records.iter().take_while(|(z, _)| *z <= zxid).count();
            if keep < s.records.len() {
                let end = if keep == 0 {
                    HEADER_LEN
                } else {
                    s.records[keep - 1].1
                };
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err(&path))?;
                f.set_len(end)
                    .and_then(|()| f.sync_all())
                    .map_err(io_err(&path))?;
            }
            break;
        }
        sync_dir(&dir);
        let mut opts = self.opts.clone();
        opts.base_zxid = opts.base_zxid.min(zxid);
        *self = TxLog::open(opts)?.log;
        info!(zxid = format_args!("{zxid:#x}"), "txn log truncated");
        Ok(())
    }

    /// Durably empties the log; it continues after `base` (a state image
    /// installed from the leader holds everything up to there).
    pub fn reset(&mut self, base: Zxid) -> Result<(), LogError> {
        let dir = self.opts.dir.clone();
        for (_, path) in segments(&dir)? {
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        let mut opts = self.opts.clone();
        opts.base_zxid = base;
        *self = TxLog::create(opts, base + 1, base)?;
        Ok(())
    }

    /// Makes everything appended durable; returns how long it took.
    pub fn sync(&mut self) -> io::Result<Duration> {
        let start = Instant::now();
        if self.opts.force_sync {
            self.file.sync_data()?;
        }
        Ok(start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::txn::TxnOp;

    fn opts(dir: &Path) -> LogOptions {
        LogOptions {
            dir: dir.to_path_buf(),
            segment_bytes: 4096,
            prealloc_bytes: 8192,
            force_sync: false,
            base_zxid: 0,
        }
    }

    fn txn(zxid: i64) -> Txn {
        Txn {
            session: 1,
            cxid: zxid as i32,
            zxid,
            time: 0,
            op: TxnOp::SetData {
                path: format!("/n{zxid}"),
                data: Some(vec![7; 100]),
                version: 1,
            },
        }
    }

    #[test]
    fn appends_survive_reopen_across_segments() {
        let d = tempfile::tempdir().unwrap();
        let mut log = TxLog::open(opts(d.path())).unwrap().log;
        for z in 1..=100 {
            log.append(&[txn(z)]).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        assert!(segments(d.path()).unwrap().len() > 1);
        let o = TxLog::open(opts(d.path())).unwrap();
        assert_eq!(o.txns.len(), 100);
        assert_eq!(o.txns[99], txn(100));
        let mut log = o.log;
        log.append(&[txn(101)]).unwrap();
        drop(log);
        assert_eq!(TxLog::open(opts(d.path())).unwrap().txns.len(), 101);
    }

    #[test]
    fn purge_keeps_the_newest_segment_and_everything_above_the_zxid() {
        let d = tempfile::tempdir().unwrap();
        let mut log = TxLog::open(opts(d.path())).unwrap().log;
        for z in 1..=100 {
            log.append(&[txn(z)]).unwrap();
        }
        drop(log);
        let before = segments(d.path()).unwrap();
        assert!(before.len() > 3);
        // Segment 2 starts at before[2].0; everything below it is covered.
        let cover = before[2].0 - 1;
        assert_eq!(purge_below(d.path(), cover).unwrap(), 2);
        let o = TxLog::open(opts(d.path())).unwrap();
        assert_eq!(o.txns.first().map(|t| t.zxid), Some(before[2].0));
        assert_eq!(o.txns.last().map(|t| t.zxid), Some(100));
        drop(o);
        // Even a zxid past the end never deletes the newest segment.
        purge_below(d.path(), 1000).unwrap();
        assert_eq!(segments(d.path()).unwrap().len(), 1);
    }

    #[test]
    fn truncate_after_drops_later_records_across_segments_durably() {
        let d = tempfile::tempdir().unwrap();
        let mut log = TxLog::open(opts(d.path())).unwrap().log;
        for z in 1..=100 {
            log.append(&[txn(z)]).unwrap();
        }
        let segs = segments(d.path()).unwrap();
        assert!(segs.len() > 3);
        // Cut inside an older segment: later segments go entirely.
        let cut = segs[1].0 + 2;
        log.truncate_after(cut).unwrap();
        assert_eq!(log.last_zxid(), cut);
        log.append(&[txn(cut + 1)]).unwrap();
        log.sync().unwrap();
        drop(log);
        let o = TxLog::open(opts(d.path())).unwrap();
        let zxids: Vec<i64> = o.txns.iter().map(|t| t.zxid).collect();
        assert_eq!(zxids, (1..=cut + 1).collect::<Vec<_>>());
        // Cutting everything leaves an empty log that continues after it.
        let mut log = o.log;
        log.truncate_after(0).unwrap();
        drop(log);
        assert!(TxLog::open(opts(d.path())).unwrap().txns.is_empty());
    }

    #[test]
    fn reset_empties_the_log_and_continues_after_the_base() {
        let d = tempfile::tempdir().unwrap();
        let mut log = TxLog::open(opts(d.path())).unwrap().log;
        for z in 1..=50 {
            log.append(&[txn(z)]).unwrap();
        }
        log.reset(0x2_0000_0007).unwrap();
        assert_eq!(log.last_zxid(), 0x2_0000_0007);
        log.append(&[txn(0x2_0000_0008)]).unwrap();
        log.sync().unwrap();
        drop(log);
        let o = TxLog::open(opts(d.path())).unwrap();
        let zxids: Vec<i64> = o.txns.iter().map(|t| t.zxid).collect();
        assert_eq!(zxids, vec![0x2_0000_0008]);
    }

    #[test]
    fn torn_tail_is_truncated_and_middle_corruption_refused() {
        let d = tempfile::tempdir().unwrap();
        let big = LogOptions {
            segment_bytes: 1 << 20,
            ..opts(d.path())
        };
        let mut log = TxLog::open(big.clone()).unwrap().log;
        for z in 1..=10 {
            log.append(&[txn(z)]).unwrap();
        }
        let end = log.write_pos;
        drop(log);
        let (_, path) = segments(d.path()).unwrap().pop().unwrap();
        let mut bytes = fs::read(&path).unwrap();
        // Tear the last record: cut its last 10 bytes to zeros.
        for b in &mut bytes[end as usize - 10..end as usize] {
            *b = 0;
        }
        fs::write(&path, &bytes).unwrap();
        let o = TxLog::open(big.clone()).unwrap();
        assert_eq!(o.txns.len(), 9);
        drop(o);
        // Flip a byte in the first record: valid records follow, so refuse.
        let mut bytes = fs::read(&path).unwrap();
        bytes[HEADER_LEN as usize + 20] ^= 0xff;
        fs::write(&path, &bytes).unwrap();
        match TxLog::open(big) {
            Err(LogError::Corrupt { offset, .. }) => assert_eq!(offset, HEADER_LEN),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("opened a corrupt log"),
        }
    }
}
