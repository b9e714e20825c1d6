//! What one workload run measured, and its one-line text form.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::workload::Workload;

/// Measurements of one workload against one server.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The workload.
    pub workload: Workload,
    /// Operations completed successfully inside the measured window.
    pub ops: u64,
    /// Failed operations by error text.
    pub errors: BTreeMap<String, u64>,
    /// Latency of successful operations, microseconds.
    pub latency_us: Histogram<u64>,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Server CPU time (user + system) during the window, when the pid is known.
    pub server_cpu: Option<Duration>,
    /// Server RSS at the end of the window, KiB.
    pub server_rss_kib: Option<u64>,
}

/// A latency histogram in microseconds, 1 µs .. 1 h, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

impl Outcome {
    /// Total failed operations.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Successful operations per second.
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        self.latency_us.value_at_quantile(q) as f64 / 1000.0
    }

    /// Server CPU microseconds per successful operation.
    pub fn cpu_us_per_op(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (self.ops > 0).then(|| cpu.as_secs_f64() * 1e6 / self.ops as f64)
    }

    /// One human-readable line.
    pub fn line(&self) -> String {
        let cpu = self
            .cpu_us_per_op()
            .map_or_else(|| "-".into(), |c| format!("{c:.1}"));
        let rss = self
            .server_rss_kib
            .map_or_else(|| "-".into(), |r| format!("{:.1}", r as f64 / 1024.0));
        let errors = if self.errors.is_empty() {
            "0".to_string()
        } else {
            format!("{} {:?}", self.error_count(), self.errors)
        };
        format!(
            "{:<16} {:>10.0} ops/s  p50 {:>8.3} ms  p99 {:>8.3} ms  p999 {:>8.3} ms  \
             cpu/op {:>7} µs  rss {:>7} MiB  ops {}  errors {}",
            self.workload.name(),
            self.throughput(),
            self.latency_ms(0.5),
            self.latency_ms(0.99),
            self.latency_ms(0.999),
            cpu,
            rss,
            self.ops,
            errors
        )
    }
}
