//! Request counters shown by `srvr`, `stat` and `mntr`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Server-wide counters.
#[derive(Debug, Default)]
pub struct Stats {
    received: AtomicU64,
    sent: AtomicU64,
}

impl Stats {
    /// Counts a packet from a client.
    pub fn packet_received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a packet to a client.
    pub fn packet_sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// Packets received.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Packets sent.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Resets the counters (`srst`).
    pub fn reset(&self) {
        self.received.store(0, Ordering::Relaxed);
        self.sent.store(0, Ordering::Relaxed);
    }
}
