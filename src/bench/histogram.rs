//! Request latencies in microseconds. One histogram per session (no
//! sharing on the hot path), merged at the end.

use hdrhistogram::Histogram;
use std::time::Duration;

/// Highest latency tracked exactly enough (1 hour); longer ones are
/// clamped, which only matters for a stalled server.
const MAX_US: u64 = 3_600_000_000;

/// A latency histogram with 3 significant digits.
#[derive(Clone)]
pub struct Latency {
    hist: Histogram<u64>,
}

/// The percentiles a report shows, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Latency {
        // Constant bounds that hdrhistogram accepts (low >= 1, high >=
        // 2 * low, sigfig <= 5): this cannot fail at run time.
        let hist =
            Histogram::new_with_bounds(1, MAX_US, 3).expect("constant histogram bounds are valid");
        Latency { hist }
    }

    /// Records one request's latency.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.hist.saturating_record(us.clamp(1, MAX_US));
    }

    /// Adds another histogram's samples.
    pub fn merge(&mut self, other: &Latency) {
        // Same bounds on both sides, so adding cannot fail; if it somehow
        // did, the samples of one session would be missing, not wrong.
        let _ = self.hist.add(&other.hist);
    }

    /// p50/p90/p99/p99.9/max (all zero when empty).
    pub fn percentiles(&self) -> Percentiles {
        if self.hist.is_empty() {
            return Percentiles::default();
        }
        let q = |q: f64| self.hist.value_at_quantile(q);
        Percentiles {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: self.hist.max(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        for us in 1..=500 {
            a.record(Duration::from_micros(us));
        }
        for us in 501..=1000 {
            b.record(Duration::from_micros(us));
        }
        a.merge(&b);
        assert_eq!(a.hist.len(), 1000);
        let p = a.percentiles();
        assert_eq!(p.p50, 500);
        assert_eq!(p.p90, 900);
        assert_eq!(p.p99, 990);
        assert_eq!(p.max, 1000);
    }

    #[test]
    fn empty_histogram_reports_zeros() {
        assert_eq!(Latency::new().percentiles(), Percentiles::default());
    }
}
