//! Four-letter words on the client port, in ZooKeeper 3.8's text layout
//! (monitoring tools and zktop parse it).

use super::driver::Driver;
use super::VERSION;
use crate::config::ConfRuntime;
use crate::core::server::Mode;
use std::fmt::Write;
use std::path::Path;

const COMMANDS: [&str; 18] = [
    "conf", "cons", "crst", "dump", "envi", "gtmk", "ruok", "stmk", "srvr", "srst", "stat", "wchc",
    "wchp", "wchs", "mntr", "isro", "hash", "dirs",
];

/// The command whose four bytes open a connection, if any. A real frame
/// length never collides: these values are far above jute.maxbuffer.
pub fn command(head: [u8; 4]) -> Option<&'static str> {
    COMMANDS.iter().copied().find(|c| c.as_bytes() == head)
}

fn build_line() -> String {
    format!("Zookeeper version: {VERSION}, built on corral")
}

fn dir_size(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn fd_counts() -> (u64, u64) {
    let open = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    let max = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (open, max)
}

fn server_stats(d: &Driver, out: &mut String) {
    let s = &d.server.stats;
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{:.4}/{}",
        s.latency.min,
        s.latency.avg(),
        s.latency.max
    );
    let _ = writeln!(out, "Received: {}", s.packets_received);
    let _ = writeln!(out, "Sent: {}", s.packets_sent);
    let _ = writeln!(out, "Connections: {}", d.conns.len());
    let _ = writeln!(out, "Outstanding: 0");
    let _ = writeln!(out, "Zxid: {:#x}", d.server.last_zxid());
    let _ = writeln!(out, "Mode: {}", server_state(d));
    let _ = writeln!(out, "Node count: {}", d.server.tree().node_count());
}

fn cons(d: &Driver, out: &mut String, now: i64) {
    for (id, c) in d.server.conns() {
        let peer = d
            .conns
            .get(id)
            .map_or_else(|| c.ip.clone(), |h| h.peer.to_string());
        let st = &c.stats;
        let _ = write!(
            out,
            " /{peer}[1](queued=0,recved={},sent={}",
            st.received, st.sent
        );
        if let Some(sid) = c.session {
            let to = d.server.sessions().get(sid).map_or(0, |s| s.timeout_ms);
            let _ = write!(
                out,
                ",sid={sid:#x},lop={},est={},to={to},lcxid={:#x},lzxid={:#x},lresp={},llat={},minlat={},avglat={:.4},maxlat={}",
                st.last_op,
                st.established_ms,
                st.last_cxid,
                st.last_zxid,
                st.last_response_ms,
                st.last_latency,
                st.latency.min,
                st.latency.avg(),
                st.latency.max
            );
        }
        out.push_str(")\n");
    }
    let _ = now;
    out.push('\n');
}

/// Answers one four-letter word from the driver's state.
/// What `srvr` prints as `Mode:` and `mntr` as `zk_server_state`.
fn server_state(d: &Driver) -> &'static str {
    match d.server.mode() {
        Mode::Standalone => "standalone",
        Mode::Leader { .. } => "leader",
        Mode::Learner if d.is_observer() => "observer",
        Mode::Learner => "follower",
        Mode::Down => "looking",
    }
}

/// Voting members (1 when standalone), as `mntr`'s zk_quorum_size.
fn quorum_size(d: &Driver) -> usize {
    d.config
        .servers
        .values()
        .filter(|s| s.role == crate::config::Role::Participant)
        .count()
        .max(1)
}

/// Words ZooKeeper answers even while the server is out of service.
fn answers_when_down(cmd: &str) -> bool {
    matches!(cmd, "ruok" | "isro" | "conf" | "envi" | "dirs")
}

pub fn answer(d: &Driver, cmd: &str, now: i64) -> String {
    let mut out = String::new();
    let server = &d.server;
    if server.mode() == Mode::Down && !answers_when_down(cmd) {
        out.push_str("This ZooKeeper instance is not currently serving requests\n");
        return out;
    }
    match cmd {
        "ruok" => out.push_str("imok"),
        "isro" => out.push_str("rw"),
        "srvr" => {
            let _ = writeln!(out, "{}", build_line());
            server_stats(d, &mut out);
        }
        "stat" => {
            let _ = writeln!(out, "{}", build_line());
            out.push_str("Clients:\n");
            cons(d, &mut out, now);
            server_stats(d, &mut out);
        }
        "cons" => cons(d, &mut out, now),
        "crst" => out.push_str("Connection stats reset.\n"),
        "srst" => out.push_str("Server stats reset.\n"),
        "conf" => {
            let rt = ConfRuntime {
                client_port: d.client_port,
                data_dir_size: dir_size(&d.config.data_dir),
                data_log_size: dir_size(d.config.effective_data_log_dir()),
            };
            out.push_str(&d.config.conf_text(&rt));
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        "envi" => {
            out.push_str("Environment:\n");
            let _ = writeln!(out, "zookeeper.version={VERSION}, built on corral");
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            let _ = writeln!(out, "host.name={}", host.trim());
            let _ = writeln!(out, "corral.version={}", env!("CARGO_PKG_VERSION"));
            let _ = writeln!(out, "os.name={}", std::env::consts::OS);
            let _ = writeln!(out, "os.arch={}", std::env::consts::ARCH);
            if let Ok(cwd) = std::env::current_dir() {
                let _ = writeln!(out, "user.dir={}", cwd.display());
            }
            let _ = writeln!(
                out,
                "os.processors={}",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            );
        }
        "mntr" => {
            let w = server.watches();
            let (open_fds, max_fds) = fd_counts();
            let s = &server.stats;
            let lines: Vec<(&str, String)> = vec![
                ("zk_version", format!("{VERSION}, built on corral")),
                ("zk_server_state", server_state(d).into()),
                (
                    "zk_ephemerals_count",
                    server.tree().ephemeral_count().to_string(),
                ),
                ("zk_min_latency", s.latency.min.to_string()),
                ("zk_avg_latency", format!("{:.4}", s.latency.avg())),
                ("zk_max_latency", s.latency.max.to_string()),
                ("zk_packets_received", s.packets_received.to_string()),
                ("zk_packets_sent", s.packets_sent.to_string()),
                ("zk_num_alive_connections", d.conns.len().to_string()),
                ("zk_outstanding_requests", "0".into()),
                ("zk_znode_count", server.tree().node_count().to_string()),
                ("zk_watch_count", w.count().to_string()),
                (
                    "zk_approximate_data_size",
                    server.tree().approximate_data_size().to_string(),
                ),
                ("zk_open_file_descriptor_count", open_fds.to_string()),
                ("zk_max_file_descriptor_count", max_fds.to_string()),
                ("zk_uptime", (now - d.started_ms).max(0).to_string()),
                ("zk_global_sessions", server.sessions().len().to_string()),
                ("zk_local_sessions", "0".into()),
                ("zk_auth_failed_count", s.auth_failed.to_string()),
                (
                    "zk_last_client_response_size",
                    s.last_response_size.to_string(),
                ),
                (
                    "zk_max_client_response_size",
                    s.max_response_size.to_string(),
                ),
                (
                    "zk_min_client_response_size",
                    s.min_response_size.to_string(),
                ),
                ("zk_connection_drop_probability", "0.0".into()),
            ];
            let mut lines = lines;
            lines.push(("zk_quorum_size", quorum_size(d).to_string()));
            if let Some((followers, synced, observers)) =
                d.repl.as_ref().and_then(|r| r.zab.learner_counts())
            {
                lines.push(("zk_learners", (followers + observers).to_string()));
                lines.push(("zk_synced_followers", synced.to_string()));
                lines.push(("zk_synced_non_voting_followers", "0".into()));
                lines.push(("zk_synced_observers", observers.to_string()));
                lines.push(("zk_pending_syncs", "0".into()));
            }
            for (k, v) in lines {
                let _ = writeln!(out, "{k}\t{v}");
            }
        }
        "wchs" => {
            let w = server.watches();
            let _ = writeln!(
                out,
                "{} connections watching {} paths",
                w.session_count(),
                w.path_count()
            );
            let _ = writeln!(out, "Total watches:{}", w.count());
        }
        "wchc" => {
            for (sid, paths) in server.watches().by_session() {
                let _ = writeln!(out, "{sid:#x}");
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
        }
        "wchp" => {
            for (p, sids) in server.watches().by_path() {
                let _ = writeln!(out, "{p}");
                for sid in sids {
                    let _ = writeln!(out, "\t{sid:#x}");
                }
            }
        }
        "dump" => {
            out.push_str("SessionTracker dump:\n");
            let sessions = server.sessions().list();
            let _ = writeln!(out, "Global Sessions({}):", sessions.len());
            for (sid, to) in sessions {
                let _ = writeln!(out, "{sid:#x}\t{to}ms");
            }
            out.push_str("ephemeral nodes dump:\n");
            let eph = server.tree().all_ephemerals();
            let _ = writeln!(out, "Sessions with Ephemerals ({}):", eph.len());
            for (sid, paths) in eph {
                let _ = writeln!(out, "{sid:#x}:");
                for p in paths {
                    let _ = writeln!(out, "\t{p}");
                }
            }
            out.push_str("Connections dump:\n");
            let _ = writeln!(out, "Connections Sets ({})", d.conns.len());
        }
        "dirs" => {
            let _ = writeln!(out, "datadir_size: {}", dir_size(&d.config.data_dir));
            let _ = writeln!(
                out,
                "logdir_size: {}",
                dir_size(d.config.effective_data_log_dir())
            );
        }
        "gtmk" => out.push_str("0\n"),
        "stmk" => out.push_str("0\n"),
        "hash" => out.push_str("Digest in standalone server is disabled\n"),
        "zabs" => {
            if let Some(r) = &d.repl {
                let _ = writeln!(out, "{}", r.zab.describe());
            }
        }
        _ => {}
    }
    out
}
