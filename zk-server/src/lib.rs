//! zk-server: a replicated ZooKeeper-compatible server.
//!
//! The request path, folder by folder: `net` (accept, framing, four-letter words, handshake) →
//! `session` (sessions and their expiry) → `txn` (a write becomes a log entry) → `raft`
//! (openraft: replicate and fsync on a quorum; a standalone server is a cluster of one) →
//! `tree` (the DataTree applies every entry in log order) → `watch` (watches fire on apply).
//! `storage` holds the write-ahead log and snapshots; `admin` the four-letter words and metrics.
#![deny(missing_docs)]

pub mod raft;
pub mod storage;
pub mod tree;
pub mod txn;
pub mod watch;
