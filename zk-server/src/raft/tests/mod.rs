//! Consensus tests: real files, real fsync, real sockets on 127.0.0.1.

mod cluster;
mod conformance;
mod failover;
mod peer_wire;
mod single_node;
mod support;
