//! Real servers for tests, this project's and users' own (like Curator's `TestingServer` and
//! `TestingCluster`, plus faults):
//!
//! - [`TestingServer`]: a standalone zk-server on 127.0.0.1:0 with a temporary data directory.
//! - [`TestingCluster`]: an ensemble of N zk-servers in this process, each peer link running
//!   through a relay the test controls: kill, stop, restart, pause and resume a member, cut
//!   links (isolate a member, split minority from majority, a bridge), delay them, and heal.

mod cluster;
mod links;
mod server;

pub use cluster::TestingCluster;
pub use server::TestingServer;
