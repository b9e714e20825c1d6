//! Durable storage for the replicated log: a segmented write-ahead log and snapshot files.
//!
//! - [`wal`]: segments of framed records (length + CRC), one writer thread, group-commit
//!   fsync, crash recovery that truncates a torn tail and refuses any other damage.
//! - [`snapshot`]: snapshot files written to a temporary file, fsynced, renamed, directory
//!   fsynced, each with its own length and CRC; retention keeps the newest N.
//!
//! Nothing here knows about raft: log entries, votes and snapshot metadata are opaque bytes
//! (the `raft` module encodes them).

mod fsutil;
pub mod record;
mod segment;
pub mod snapshot;
pub mod wal;
mod wal_flusher;
mod wal_record;
mod wal_replay;

#[cfg(test)]
mod wal_tests;

pub use snapshot::{SnapshotError, SnapshotFile, SnapshotStore};
pub use wal::{Completion, Wal, WalError, WalOptions, WalStats};
