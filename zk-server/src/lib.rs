//! zk-server: a replicated ZooKeeper-compatible server.
//!
//! The request path, folder by folder: `net` (accept, framing, four-letter words, handshake,
//! requests in order) → `session` (ids, timeouts, the leader's expiry) → `txn` (a write becomes
//! a log entry; the `proposer` batches them) → `raft` (openraft: replicate and fsync on a
//! quorum; a standalone server is a cluster of one) → `state` / `tree` (every server applies
//! every entry in log order) → `watch` (watches fire on apply). `storage` holds the write-ahead
//! log and snapshots; `admin` the four-letter words.
#![deny(missing_docs)]

pub mod admin;
mod bytes_serde;
pub mod clock;
pub mod config;
pub mod net;
pub mod proposer;
pub mod raft;
pub mod server;
pub mod session;
pub mod state;
pub mod storage;
pub mod testing;
pub mod tree;
pub mod txn;
pub mod watch;
