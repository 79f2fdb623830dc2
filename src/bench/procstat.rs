//! The server's CPU time and RSS from Linux `/proc`, read by the bench at
//! the edges of the timed phase (`--server-pid`), so CPU per op covers
//! exactly the measured requests and not setup or cleanup.

use std::io;

/// Clock ticks per second of `/proc/PID/stat` times. Linux fixes USER_HZ
/// at 100 on every architecture corral targets.
const TICKS_PER_SEC: u64 = 100;

/// CPU time (user + system, all threads) of `pid` in microseconds.
pub fn cpu_us(pid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_us(&stat).ok_or_else(|| bad(&format!("/proc/{pid}/stat")))
}

/// Resident set size of `pid` in KiB.
pub fn rss_kb(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss_kb(&status).ok_or_else(|| bad(&format!("/proc/{pid}/status")))
}

/// utime + stime (fields 14 and 15) of a stat line. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted after its last
/// `)`.
fn parse_cpu_us(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) * (1_000_000 / TICKS_PER_SEC))
}

fn parse_rss_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_times_after_an_odd_command_name() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1 2 3";
        assert_eq!(parse_cpu_us(stat), Some(3_250_000));
    }

    #[test]
    fn parses_rss() {
        let status = "Name:\tcorral\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\n";
        assert_eq!(parse_rss_kb(status), Some(12345));
    }

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        assert!(rss_kb(pid).unwrap() > 0);
        cpu_us(pid).unwrap();
    }
}
