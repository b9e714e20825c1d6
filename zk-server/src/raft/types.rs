//! The openraft type configuration. Everything openraft-specific in the server is behind
//! this module's parent (`raft`); nothing here is part of the public API.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An application log payload: the bytes the server proposed (a serialized `Txn`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AppPayload(#[serde(with = "crate::bytes_serde")] pub Vec<u8>);

impl fmt::Debug for AppPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppPayload({} bytes)", self.0.len())
    }
}

impl fmt::Display for AppPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

openraft::declare_raft_types!(
    /// The raft type configuration of the server.
    pub(crate) TypeConfig:
        D = AppPayload,
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
);

pub(crate) type Raft = openraft::Raft<TypeConfig, super::state_machine::StateMachine>;
pub(crate) type Entry =
    openraft::Entry<LeaderId, openraft::EntryPayload<AppPayload, u64, openraft::BasicNode>>;
pub(crate) type LeaderId = openraft::impls::leader_id_adv::LeaderId<u64, u64>;
pub(crate) type LogId = openraft::LogId<LeaderId>;
pub(crate) type Vote = openraft::impls::Vote<LeaderId>;
pub(crate) type StoredMembership = openraft::StoredMembership<LeaderId, u64, openraft::BasicNode>;
pub(crate) type SnapshotMeta = openraft::SnapshotMeta<LeaderId, u64, openraft::BasicNode>;
pub(crate) type Snapshot =
    openraft::Snapshot<LeaderId, u64, openraft::BasicNode, super::state_machine::SnapshotData>;
