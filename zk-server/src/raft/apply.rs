//! The contract between the replicated log and the state it replicates.

use std::io::{self, Read, Write};

/// The replicated state machine the rest of the server implements (the DataTree and the
/// session table behind it).
///
/// Threads: `apply` is called from one task at a time, in log order. `snapshot` is called on
/// a blocking thread **while `apply` keeps being called** for later entries: it must write a
/// consistent state (hold a read lock while serializing, or serialize a persistent/cloned
/// view) and return the index that state reflects. `restore` is never concurrent with
/// `apply`.
///
/// Entries that are not application data (the leader's blank entry, membership changes)
/// consume log indexes but are not passed to `apply`, so applied indexes may have gaps.
pub trait ApplyTarget: Send + Sync + 'static {
    /// Applies one committed entry, in log order, exactly once per state. `index` is the
    /// raft log index (used as the zxid). Returns how many transactions the entry held: like
    /// ZooKeeper's `snapCount`, snapshots are taken every so many transactions, not log
    /// entries (one entry may carry a large batch).
    fn apply(&self, index: u64, payload: &[u8]) -> u64;

    /// Streams the current state into `out` and returns the last applied index it reflects
    /// (0 when nothing was applied). The output goes straight to a snapshot file, so a large
    /// state never needs a second in-memory copy.
    ///
    /// # Errors
    /// The I/O errors of `out`, or a serialization failure; the snapshot is abandoned.
    fn snapshot(&self, out: &mut dyn Write) -> io::Result<u64>;

    /// Replaces the state by the snapshot data read from `data`, which reflects `index`.
    /// The data was checksum-verified before this is called.
    ///
    /// # Errors
    /// A description of why the data cannot be loaded; the node stops (it cannot continue
    /// without a state).
    fn restore(&self, index: u64, data: &mut dyn Read) -> Result<(), String>;

    /// On the leader: a follower saw activity on these sessions (requests or pings from
    /// clients connected to it). The leader alone expires sessions, so it must hear of them.
    fn touch_sessions(&self, _sessions: &[i64]) {}
}
