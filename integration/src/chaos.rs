//! Settings shared by the chaos tests: how long the faults run and which seed draws them.

use std::time::Duration;

/// `ZK_CHAOS_SECS`, or `default_secs`: how long a chaos test injects faults.
pub fn chaos_time(default_secs: u64) -> Duration {
    let secs = std::env::var("ZK_CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_secs);
    Duration::from_secs(secs)
}

/// `ZK_CHAOS_SEED`, or a random seed: the fault schedule (print it, so a failure can be rerun).
pub fn chaos_seed() -> u64 {
    std::env::var("ZK_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}
