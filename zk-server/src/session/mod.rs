//! Sessions: ids and passwords, timeout negotiation, and the leader's expiry tracker.

pub mod ids;
pub mod tracker;

/// Clamps a requested timeout to the configured bounds, as Apache.
pub fn negotiate_timeout(requested: i32, (min, max): (u32, u32)) -> i32 {
    let min = i32::try_from(min).unwrap_or(i32::MAX);
    let max = i32::try_from(max).unwrap_or(i32::MAX);
    requested.clamp(min, max.max(min))
}
