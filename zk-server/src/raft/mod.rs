//! The replicated log, built on openraft (`0.10.0-alpha.37`) and kept behind this module:
//! nothing openraft-specific is public.
//!
//! - [`ApplyTarget`]: what the rest of the server implements (apply / snapshot / restore).
//! - [`Consensus`]: start a node, [`Consensus::propose`] (forwarded to the leader from a
//!   follower), [`Consensus::read_barrier`] (quorum-confirmed read index),
//!   [`Consensus::wait_applied`], metrics, shutdown.
//!
//! Inside: `log_store` (openraft log storage on the [`crate::storage::wal`]),
//! `state_machine` (applies to the target, snapshot files), `network` / `peer_client` /
//! `peer_server` / `wire` (postcard frames over TCP), `failover` (a follower that sees its
//! leader's connections close and finds it gone campaigns at once), `types` (the openraft
//! type config). Followers also relay their clients' session activity to the leader
//! ([`ApplyTarget::touch_sessions`], [`Consensus::report_touches`]).
//!
//! A single member is a cluster of one: it initializes itself and leads at once, through the
//! same code path as an ensemble.

mod apply;
mod config;
mod consensus;
mod contact;
mod error;
mod failover;
mod log_store;
mod metrics;
mod network;
mod peer_client;
mod peer_server;
mod state_machine;
mod types;
mod wire;

#[cfg(test)]
mod tests;

pub use apply::ApplyTarget;
pub use config::{ConsensusConfig, Timing, Tuning};
pub use consensus::{Consensus, LeaderTerm};
pub use error::{ConsensusError, ProposeError};
pub use metrics::{ConsensusMetrics, Role};
