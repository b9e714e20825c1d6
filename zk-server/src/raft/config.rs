//! Consensus configuration, in ZooKeeper's terms, and its translation to openraft's.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::error::ConsensusError;

/// How a node takes part in the replicated log.
#[derive(Debug, Clone)]
pub struct ConsensusConfig {
    /// This node's id (ZooKeeper's `myid`).
    pub node_id: u64,
    /// Every voting member: id → peer address `host:port` (ZooKeeper's `server.N` lines).
    /// Every node must be started with the same map. One member = a cluster of one.
    pub members: BTreeMap<u64, String>,
    /// Directory of the write-ahead log segments (ZooKeeper's `dataLogDir`); created if
    /// missing. Only `wal-*.log` files are touched.
    pub log_dir: PathBuf,
    /// Directory of the snapshot files (ZooKeeper's `dataDir`); may equal `log_dir`. Only
    /// `snapshot-*` files are touched.
    pub snapshot_dir: PathBuf,
    /// A snapshot is taken every this many transactions (ZooKeeper's `snapCount`; a log
    /// entry may hold many).
    pub snap_count: u64,
    /// Snapshots kept by the periodic purge (ZooKeeper's `autopurge.snapRetainCount`, min 3).
    pub snap_retain_count: usize,
    /// Hours between snapshot purges; 0 disables the periodic purge
    /// (ZooKeeper's `autopurge.purgeInterval`).
    pub purge_interval_hours: u64,
    /// ZooKeeper's `tickTime` in ms; election and heartbeat timing derive from it (see
    /// [`ConsensusConfig::timing`]).
    pub tick_ms: u64,
    /// ZooKeeper's `syncLimit` in ticks: a member that has not been in contact with a quorum
    /// for this long stops serving (see [`ConsensusConfig::contact_limit`]), and a call to the
    /// leader is given up after it.
    pub sync_limit: u64,
    /// Knobs with sensible defaults.
    pub tuning: Tuning,
}

/// Secondary settings; [`Tuning::default`] suits production.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Log entries kept after a snapshot so slightly lagging followers catch up from the log
    /// instead of a snapshot. `None`: half of `snap_count`.
    pub log_keep_after_snapshot: Option<u64>,
    /// WAL segment size in bytes (default 64 MiB).
    pub wal_segment_bytes: u64,
    /// How long `propose` and `read_barrier` keep retrying while there is no (reachable)
    /// leader (default 10 s).
    pub request_timeout: Duration,
    /// How long a pristine member other than the lowest-id one waits for the lowest to form
    /// the cluster before it offers the same initial membership itself (safe: every member
    /// offers the identical configuration). Default 10 s.
    pub bootstrap_grace: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            log_keep_after_snapshot: None,
            wal_segment_bytes: 64 << 20,
            request_timeout: Duration::from_secs(10),
            bootstrap_grace: Duration::from_secs(10),
        }
    }
}

/// Election and heartbeat timing, in ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Leader heartbeat period.
    pub heartbeat_ms: u64,
    /// Election timeout lower bound (each campaign draws a new timeout in `[min, max)`).
    pub election_min_ms: u64,
    /// Election timeout upper bound.
    pub election_max_ms: u64,
}

impl ConsensusConfig {
    /// A configuration with ZooKeeper's defaults (snapCount 100000, snapRetainCount 3,
    /// purgeInterval 0, tickTime 2000) for `node_id` among `members`, storing the log and
    /// snapshots in `dir`.
    pub fn new(node_id: u64, members: BTreeMap<u64, String>, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        ConsensusConfig {
            node_id,
            members,
            snapshot_dir: dir.clone(),
            log_dir: dir,
            snap_count: 100_000,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            tick_ms: 2000,
            sync_limit: 5,
            tuning: Tuning::default(),
        }
    }

    /// Transactions between two snapshots of this node: like ZooKeeper, a value drawn once per
    /// start in `[snapCount/2 + 1, snapCount]`, so the members of an ensemble do not all
    /// snapshot at the same moment.
    pub(crate) fn snapshot_interval(&self) -> u64 {
        let half = self.snap_count / 2;
        if half == 0 {
            return self.snap_count.max(1);
        }
        half + 1 + rand::random::<u64>() % (self.snap_count - half)
    }

    /// Entries kept in the log after a snapshot.
    pub fn log_keep_after_snapshot(&self) -> u64 {
        self.tuning
            .log_keep_after_snapshot
            .unwrap_or(self.snap_count / 2)
    }

    /// `syncLimit × tickTime`: how long a member may go without contact with a quorum (a
    /// follower: without an AppendEntries from its leader; a leader: without a quorum's
    /// acknowledgement) before it stops serving clients, as ZooKeeper's servers do.
    pub fn contact_limit(&self) -> Duration {
        Duration::from_millis(self.tick_ms.max(1).saturating_mul(self.sync_limit.max(1)))
    }

    /// Election and heartbeat timing derived from `tick_ms`: heartbeats every tick/10,
    /// election timeouts drawn in [tick/2, tick) for each campaign (minimum tick 20 ms). With
    /// ZooKeeper's default tickTime of 2000 ms: heartbeats every 200 ms, elections after
    /// 1–2 s without a leader.
    pub fn timing(&self) -> Timing {
        let tick = self.tick_ms.max(20);
        Timing {
            heartbeat_ms: (tick / 10).max(2),
            election_min_ms: tick / 2,
            election_max_ms: tick,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConsensusError> {
        if !self.members.contains_key(&self.node_id) {
            return Err(ConsensusError::Config(format!(
                "node {} is not among the members {:?}",
                self.node_id,
                self.members.keys().collect::<Vec<_>>()
            )));
        }
        if self.snap_count == 0 {
            return Err(ConsensusError::Config("snapCount must be positive".into()));
        }
        Ok(())
    }

    pub(crate) fn openraft_config(&self) -> Result<openraft::Config, ConsensusError> {
        let t = self.timing();
        let c = openraft::Config {
            cluster_name: "zk-rs".into(),
            heartbeat_interval: t.heartbeat_ms,
            election_timeout_min: t.election_min_ms,
            election_timeout_max: t.election_max_ms,
            install_snapshot_timeout: 120_000,
            max_payload_entries: 1024,
            replication_lag_threshold: self
                .snap_count
                .max(self.log_keep_after_snapshot())
                .saturating_mul(2),
            // Snapshots are asked for by transaction count (see `Consensus`), like ZooKeeper.
            snapshot_policy: openraft::SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: self.log_keep_after_snapshot(),
            enable_pre_vote: Some(true),
            ..Default::default()
        };
        c.validate()
            .map_err(|e| ConsensusError::Config(e.to_string()))
    }
}
