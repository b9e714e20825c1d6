//! raft (in progress).
