//! A write becomes a log entry: the client's request (as the jute bytes it sent, with server
//! paths) plus everything needed to apply it deterministically on every replica — the session,
//! the connection's authenticated ids, and the leader's clock.
//!
//! Validation (versions, ACLs, NodeExists, sequence numbers) happens when the entry is applied,
//! so every replica computes the same result and a failed write still consumes its log position.

mod auth_serde;
pub mod batch;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// An authenticated identity of a connection (`scheme:id`), as ACL checks need it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthId {
    /// `ip`, `digest`, `super`, ...
    pub scheme: String,
    /// The id within the scheme.
    pub id: String,
}

/// Who proposed an entry and how to find the waiting connection when it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The server holding the client's connection.
    pub server_id: u64,
    /// A number unique per server for the life of its process (with `server_id`, identifies the
    /// waiting request).
    pub request_id: u64,
}

/// One replicated state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// Where the reply goes.
    pub origin: Origin,
    /// The session the change is made for (the new id for `CreateSession`).
    pub session_id: i64,
    /// The client's xid (for logs and for Apache's per-request bookkeeping).
    pub cxid: i32,
    /// The leader's clock (ms since the epoch) when it accepted the entry; ctime/mtime and TTL
    /// decisions use this, never the applying server's clock.
    pub time_ms: i64,
    /// The connection's authenticated ids at the time of the request (for ACL checks); shared
    /// with the connection (serialized as the list itself; decoding shares one list among the
    /// transactions of a batch that carry the same ids).
    #[serde(deserialize_with = "auth_serde::deserialize")]
    pub auth: Arc<Vec<AuthId>>,
    /// The change.
    pub op: TxnOp,
}

/// The kinds of replicated changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// A client write: the opcode and the jute body exactly as the client sent it, with the
    /// chroot already applied (paths are server paths). Opcodes: create, create2,
    /// createContainer, createTTL, delete, setData, setACL, multi, check, reconfig.
    Client {
        /// The [`zk_core::proto::OpCode`] number.
        op: i32,
        /// The jute-encoded request body (shared with the connection's read buffer until the
        /// batch is serialized; taken by the tree when it applies the write).
        #[serde(
            serialize_with = "crate::bytes_serde::serialize",
            deserialize_with = "crate::bytes_serde::deserialize_shared"
        )]
        body: bytes::Bytes,
    },
    /// Opens `session_id` with this negotiated timeout.
    CreateSession {
        /// Negotiated timeout in ms.
        timeout_ms: i32,
    },
    /// Closes `session_id` (client close or expiry): its ephemerals are deleted.
    CloseSession,
    /// The leader's container/TTL reaper deletes `path` if it is still eligible at apply time
    /// (an empty container, or an expired childless TTL node).
    Reap {
        /// The node to delete.
        path: String,
    },
    /// Nothing (used to commit a barrier, e.g. for sync).
    Noop,
}

impl Txn {
    /// Serializes for the log (postcard).
    ///
    /// # Errors
    /// Never in practice; postcard fails only on unsupported types.
    pub fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// Deserializes a log payload.
    ///
    /// # Errors
    /// When the bytes are not a `Txn`.
    pub fn from_bytes(b: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(b)
    }
}
