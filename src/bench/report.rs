//! The result of a run: a human summary and one JSON line that scripts
//! (`bench/compare.sh`) parse. The JSON is written by hand: a flat object
//! of numbers and one short string needs no serializer dependency.

use super::histogram::Percentiles;
use std::fmt::Write;

/// Everything a run reports.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub workload: String,
    pub ops: u64,
    pub secs: f64,
    pub errors: u64,
    pub latency: Percentiles,
    pub sessions: usize,
    pub outstanding: usize,
    pub value_size: usize,
    /// Errors while pre-creating the tree (untimed).
    pub setup_errors: u64,
    /// Errors while deleting the tree (untimed).
    pub cleanup_errors: u64,
    /// Whether a connection was lost (the run ended early).
    pub connection_lost: bool,
    /// The server's resource use, with `--server-pid`.
    pub server: Option<ServerUsage>,
    /// CPU time the bench itself spent in the timed phase: on a small
    /// machine the load generator competes with the server for cores.
    pub client_cpu_us: Option<u64>,
}

/// What the server process spent during the timed phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerUsage {
    /// CPU time (user + system) over the timed phase.
    pub cpu_us: u64,
    /// RSS at the end of the timed phase.
    pub rss_kb: u64,
}

impl Report {
    /// Throughput of the timed phase.
    pub fn ops_per_sec(&self) -> f64 {
        if self.secs > 0.0 {
            self.ops as f64 / self.secs
        } else {
            0.0
        }
    }

    fn per_op(&self, us: u64) -> f64 {
        if self.ops > 0 {
            us as f64 / self.ops as f64
        } else {
            0.0
        }
    }

    /// The single JSON line.
    pub fn json(&self) -> String {
        let p = &self.latency;
        let mut s = String::with_capacity(320);
        let _ = write!(
            s,
            "{{\"workload\":\"{}\",\"ops\":{},\"secs\":{:.3},\"ops_per_sec\":{:.1},\"errors\":{},\
             \"p50_us\":{},\"p90_us\":{},\"p99_us\":{},\"p999_us\":{},\"max_us\":{},\
             \"sessions\":{},\"outstanding\":{},\"value_size\":{},\
             \"setup_errors\":{},\"cleanup_errors\":{},\"connection_lost\":{}",
            escape(&self.workload),
            self.ops,
            self.secs,
            self.ops_per_sec(),
            self.errors,
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.max,
            self.sessions,
            self.outstanding,
            self.value_size,
            self.setup_errors,
            self.cleanup_errors,
            self.connection_lost,
        );
        if let Some(u) = self.server {
            let _ = write!(
                s,
                ",\"server_cpu_us\":{},\"server_cpu_us_per_op\":{:.2},\"server_rss_kb\":{}",
                u.cpu_us,
                self.per_op(u.cpu_us),
                u.rss_kb
            );
        }
        if let Some(us) = self.client_cpu_us {
            let _ = write!(
                s,
                ",\"client_cpu_us\":{us},\"client_cpu_us_per_op\":{:.2}",
                self.per_op(us)
            );
        }
        s.push('}');
        s
    }

    /// A few lines for a person.
    pub fn human(&self) -> String {
        let p = &self.latency;
        let mut text = format!(
            "workload {} — {} sessions × {} outstanding, {} B values\n\
             {} ops in {:.2} s = {:.0} ops/s, {} errors{}\n\
             latency µs: p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            self.workload,
            self.sessions,
            self.outstanding,
            self.value_size,
            self.ops,
            self.secs,
            self.ops_per_sec(),
            self.errors,
            if self.connection_lost {
                " (connection lost)"
            } else {
                ""
            },
            p.p50,
            p.p90,
            p.p99,
            p.p999,
            p.max
        );
        if let Some(u) = self.server {
            let _ = write!(
                text,
                "\nserver: {:.1} CPU µs/op, RSS {} MiB",
                u.cpu_us as f64 / self.ops.max(1) as f64,
                u.rss_kb / 1024
            );
        }
        text
    }
}

/// Escapes the characters JSON forbids in a string.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_field_once() {
        let r = Report {
            workload: "set".into(),
            ops: 10,
            secs: 2.0,
            ..Report::default()
        };
        let j = r.json();
        assert!(
            j.starts_with("{\"workload\":\"set\",\"ops\":10,\"secs\":2.000,\"ops_per_sec\":5.0,")
        );
        for key in [
            "errors",
            "p50_us",
            "p90_us",
            "p99_us",
            "p999_us",
            "max_us",
            "sessions",
            "outstanding",
            "value_size",
        ] {
            assert_eq!(j.matches(&format!("\"{key}\":")).count(), 1, "{key} in {j}");
        }
        assert!(j.ends_with("\"connection_lost\":false}"));
        let with = Report {
            server: Some(ServerUsage {
                cpu_us: 50,
                rss_kb: 7,
            }),
            ..r
        };
        assert!(with
            .json()
            .ends_with("\"server_cpu_us\":50,\"server_cpu_us_per_op\":5.00,\"server_rss_kb\":7}"));
    }

    #[test]
    fn escape_quotes_and_controls() {
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }
}
