//! Command-line options of `corral bench`, and the defaults derived from
//! them (tree fan-out, stop condition) so every other module reads one
//! resolved value instead of re-deriving it.

use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// What each request of the timed phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// create persistent znodes with unique names (the write path with
    /// tree growth).
    Create,
    /// create persistent-sequential znodes (the server picks the names).
    CreateSeq,
    /// setData on random pre-created keys (the write path, steady tree).
    Set,
    /// getData on random keys.
    Get,
    /// exists on random keys.
    Exists,
    /// getChildren on the keys' parent directories.
    Children,
    /// multi of `--multi-size` setData ops on random keys.
    Multi,
    /// getData or setData on random keys, `--read-ratio` of them reads.
    Mix,
    /// create `--populate N` znodes and keep them (for restart measurements).
    Populate,
}

impl Workload {
    /// The name used in reports (the same as on the command line).
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::CreateSeq => "create-seq",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Children => "children",
            Workload::Multi => "multi",
            Workload::Mix => "mix",
            Workload::Populate => "populate",
        }
    }

    /// Whether the workload reads or writes pre-created keys.
    pub fn needs_keys(self) -> bool {
        matches!(
            self,
            Workload::Set
                | Workload::Get
                | Workload::Exists
                | Workload::Children
                | Workload::Multi
                | Workload::Mix
        )
    }
}

/// Load generator for ZooKeeper-protocol servers (corral or Apache
/// ZooKeeper): pipelined sessions, a latency histogram, one JSON line.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Server address; repeatable or comma-separated. Sessions are spread
    /// over the servers round-robin.
    #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:2181")]
    pub server: Vec<String>,
    /// The request mix of the timed phase.
    #[arg(long, value_enum, default_value = "get")]
    pub workload: Workload,
    /// Concurrent sessions (one TCP connection each).
    #[arg(long, default_value_t = 8)]
    pub sessions: usize,
    /// Requests in flight per session; 1 measures latency (sync mode).
    #[arg(long, default_value_t = 32)]
    pub outstanding: usize,
    /// Bytes of data per created or set znode.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Keys pre-created (untimed) for the read/set workloads.
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Parent directories that created znodes and keys are spread over.
    /// Default: enough that none gets over 1000 children when the count is
    /// known (keys, `--ops`, `--populate`), else 100.
    #[arg(long)]
    pub fanout: Option<u64>,
    /// Length of the timed phase in seconds (default 10 without `--ops`).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Number of requests in the timed phase (wins over the default
    /// duration; with `--duration` too, whichever comes first).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Fraction of reads in the `mix` workload.
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// setData ops per request in the `multi` workload.
    #[arg(long, default_value_t = 4)]
    pub multi_size: usize,
    /// Create N znodes of `--value-size` bytes and keep them: the
    /// `populate` workload with `--ops N --keep`.
    #[arg(long, value_name = "N")]
    pub populate: Option<u64>,
    /// Leave the bench tree in place at the end.
    #[arg(long)]
    pub keep: bool,
    /// Print only the JSON line (no progress, no human summary).
    #[arg(long)]
    pub json_only: bool,
    /// Session timeout asked for, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout_ms: i32,
    /// Seconds without a reply (while requests are in flight) after which
    /// the connection counts as lost.
    #[arg(long, default_value_t = 30)]
    pub reply_timeout: u64,
    /// PID of the server (same machine, Linux): its CPU time over the timed
    /// phase and its RSS at the end go into the report.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// Seed of the key choice, so two runs send the same sequence.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Instead of a load: measure the disk's fsync rate in DIR (4 KiB write
    /// + fdatasync in a loop, `--duration` seconds, default 3).
    #[arg(long, value_name = "DIR", conflicts_with = "rtt_floor")]
    pub fsync_floor: Option<PathBuf>,
    /// Instead of a load: measure a bare loopback TCP round trip (16-byte
    /// ping-pong, `--duration` seconds, default 3).
    #[arg(long)]
    pub rtt_floor: bool,
}

/// When the timed phase stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopAt {
    /// Requests to send, if bounded.
    pub ops: Option<u64>,
    /// Wall-clock length, if bounded.
    pub duration: Option<Duration>,
}

/// The options after defaults and `--populate` are applied.
#[derive(Debug, Clone)]
pub struct Plan {
    pub servers: Vec<String>,
    pub workload: Workload,
    pub sessions: usize,
    pub outstanding: usize,
    pub value_size: usize,
    /// Keys to pre-create (0 when the workload uses none).
    pub keys: u64,
    pub fanout: u64,
    pub stop: StopAt,
    pub read_ratio: f64,
    pub multi_size: usize,
    pub keep: bool,
    pub json_only: bool,
    pub session_timeout_ms: i32,
    pub reply_timeout: Duration,
    pub seed: u64,
    pub server_pid: Option<u32>,
}

impl BenchArgs {
    /// Resolves defaults and checks ranges; the error says which option is
    /// wrong.
    pub fn plan(&self) -> anyhow::Result<Plan> {
        anyhow::ensure!(!self.server.is_empty(), "--server: at least one address");
        anyhow::ensure!(self.sessions >= 1, "--sessions must be at least 1");
        anyhow::ensure!(self.outstanding >= 1, "--outstanding must be at least 1");
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.read_ratio),
            "--read-ratio must be within 0..=1"
        );
        anyhow::ensure!(self.multi_size >= 1, "--multi-size must be at least 1");
        if let Some(d) = self.duration {
            anyhow::ensure!(d > 0.0 && d.is_finite(), "--duration must be positive");
        }
        let (workload, keep, ops) = match self.populate {
            Some(n) => (Workload::Populate, true, Some(n)),
            None => (self.workload, self.keep, self.ops),
        };
        anyhow::ensure!(
            workload != Workload::Populate || ops.is_some(),
            "the populate workload needs --populate N (or --ops N)"
        );
        let keys = if workload.needs_keys() {
            anyhow::ensure!(
                self.keys >= 1,
                "--keys must be at least 1 for {}",
                workload.name()
            );
            self.keys
        } else {
            0
        };
        let duration = match (self.duration, ops) {
            (Some(d), _) => Some(Duration::from_secs_f64(d)),
            (None, Some(_)) => None,
            (None, None) => Some(Duration::from_secs(10)),
        };
        let known = if workload.needs_keys() {
            Some(keys)
        } else {
            ops
        };
        let fanout = self
            .fanout
            .unwrap_or_else(|| known.map_or(100, |n| n.div_ceil(1000)))
            .max(1);
        Ok(Plan {
            servers: self.server.clone(),
            workload,
            sessions: self.sessions,
            outstanding: self.outstanding,
            value_size: self.value_size,
            keys,
            fanout,
            stop: StopAt { ops, duration },
            read_ratio: self.read_ratio,
            multi_size: self.multi_size,
            keep,
            json_only: self.json_only,
            session_timeout_ms: self.session_timeout_ms,
            reply_timeout: Duration::from_secs(self.reply_timeout.max(1)),
            seed: self.seed,
            server_pid: self.server_pid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn plan(argv: &[&str]) -> anyhow::Result<Plan> {
        let mut v = vec!["bench"];
        v.extend_from_slice(argv);
        Cli::try_parse_from(v)?.args.plan()
    }

    #[test]
    fn populate_implies_keep_and_an_op_count() {
        let p = plan(&["--populate", "1000000"]).unwrap();
        assert_eq!(p.workload, Workload::Populate);
        assert!(p.keep);
        assert_eq!(p.stop.ops, Some(1_000_000));
        assert_eq!(p.stop.duration, None);
        assert_eq!(p.fanout, 1000);
        assert_eq!(p.keys, 0);
    }

    #[test]
    fn servers_split_on_commas_and_repeat() {
        let p = plan(&["--server", "a:1,b:2", "--server", "c:3"]).unwrap();
        assert_eq!(p.servers, vec!["a:1", "b:2", "c:3"]);
    }

    #[test]
    fn default_stop_is_ten_seconds() {
        let p = plan(&["--workload", "set"]).unwrap();
        assert_eq!(p.stop.ops, None);
        assert_eq!(p.stop.duration, Some(Duration::from_secs(10)));
        assert_eq!(p.fanout, 1);
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(plan(&["--outstanding", "0"]).is_err());
        assert!(plan(&["--read-ratio", "1.5"]).is_err());
        assert!(plan(&["--workload", "populate"]).is_err());
        assert!(plan(&["--duration", "0"]).is_err());
    }
}
