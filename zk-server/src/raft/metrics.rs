//! A snapshot of the node's consensus state for `mntr` / `srvr`.

use std::collections::BTreeMap;

use crate::storage::WalStats;

/// This node's role in the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts proposals and replicates them.
    Leader,
    /// Follows a leader (ZooKeeper's follower).
    Follower,
    /// Campaigning for leadership.
    Candidate,
    /// Not a voter (not yet initialized, or an observer).
    Learner,
    /// Stopped.
    Shutdown,
}

impl Role {
    /// ZooKeeper's name for the role (`leader`, `follower`, `standalone` for a cluster of
    /// one is decided by the caller).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Learner => "learner",
            Role::Shutdown => "shutdown",
        }
    }
}

/// Consensus metrics at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsensusMetrics {
    /// This node.
    pub node_id: u64,
    /// Its role.
    pub role: Role,
    /// The current term (ZooKeeper's epoch).
    pub term: u64,
    /// The leader this node follows, if known.
    pub leader_id: Option<u64>,
    /// The last index in the local log.
    pub last_log_index: u64,
    /// The highest index known committed.
    pub committed_index: u64,
    /// The highest index applied locally.
    pub applied_index: u64,
    /// The index of the newest snapshot.
    pub snapshot_index: Option<u64>,
    /// The highest index removed from the log.
    pub purged_index: Option<u64>,
    /// On the leader: each other voter's matched index (`None` while unknown).
    pub followers: BTreeMap<u64, Option<u64>>,
    /// The number of voting members.
    pub voters: usize,
    /// Write-ahead log counters.
    pub wal: WalStats,
}
