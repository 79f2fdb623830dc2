//! Counters the four-letter words and metrics report.

/// Running min/avg/max of request latencies in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub total: u64,
    pub min: u64,
    pub max: u64,
}

impl Latency {
    /// Records one sample.
    pub fn add(&mut self, ms: u64) {
        if self.count == 0 || ms < self.min {
            self.min = ms;
        }
        self.max = self.max.max(ms);
        self.count += 1;
        self.total += ms;
    }

    /// Mean in ms (0 when empty).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

/// Server-wide counters.
#[derive(Debug, Clone, Default)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: Latency,
    pub auth_failed: u64,
    pub last_response_size: u64,
    pub max_response_size: u64,
    pub min_response_size: u64,
}

/// Per-connection counters for `cons`.
#[derive(Debug, Clone, Default)]
pub struct ConnStats {
    pub received: u64,
    pub sent: u64,
    pub established_ms: i64,
    pub last_op: &'static str,
    pub last_cxid: i32,
    pub last_zxid: i64,
    pub last_response_ms: i64,
    pub last_latency: u64,
    pub latency: Latency,
}
