//! Errors of the consensus façade.

/// Starting a [`super::Consensus`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsensusError {
    /// The configuration is unusable.
    #[error("invalid consensus configuration: {0}")]
    Config(String),
    /// The write-ahead log could not be opened (e.g. corruption before its tail).
    #[error(transparent)]
    Wal(#[from] crate::storage::WalError),
    /// The snapshot directory could not be opened.
    #[error(transparent)]
    Snapshot(#[from] crate::storage::SnapshotError),
    /// The peer port could not be bound.
    #[error("cannot listen for peers on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The error.
        source: std::io::Error,
    },
    /// Raft failed to start (e.g. the stored state is inconsistent or a snapshot is damaged).
    #[error("raft failed to start: {0}")]
    Raft(String),
}

/// Why a proposal, read barrier or wait did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProposeError {
    /// A leader is known but would not take the request within the bounded retry time.
    #[error("not the leader (leader is {leader:?})")]
    NotLeader {
        /// The leader this node believes in, if any.
        leader: Option<u64>,
    },
    /// No leader was elected within the bounded retry time.
    #[error("no leader")]
    NoLeader,
    /// The request may or may not have been committed (the leader changed or the connection
    /// to it was lost after the request was sent). Treat like ZooKeeper's connection loss.
    #[error("outcome unknown: {0}")]
    Indeterminate(String),
    /// A wait exceeded its time limit.
    #[error("timed out")]
    Timeout,
    /// The consensus engine stopped on an unrecoverable error (e.g. storage failure).
    #[error("consensus failed: {0}")]
    Fatal(String),
    /// The node is shutting down.
    #[error("shut down")]
    Shutdown,
}
