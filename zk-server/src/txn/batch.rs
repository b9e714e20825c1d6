//! A batch of transactions: the payload of one log entry.
//!
//! Each server's proposer drains its queue of writes into one batch per log entry, so writes
//! of one session reach the log in the order they were made while many sessions share one
//! replication round and one fsync. The transaction at position `i` of the entry at log index
//! `n` gets zxid `n << 16 | i`.

use serde::{Deserialize, Serialize};

use super::Txn;

/// Most transactions in one batch (positions must fit the low 16 bits of a zxid).
pub const MAX_BATCH: usize = 1 << 16;

/// The transactions of one log entry, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// The transactions.
    pub txns: Vec<Txn>,
}

/// The zxid of the transaction at `position` in the entry at log `index`.
pub fn zxid(index: u64, position: usize) -> i64 {
    ((index << 16) | (position as u64 & 0xffff)) as i64
}

/// The log index a zxid belongs to.
pub fn index_of(zxid: i64) -> u64 {
    (zxid as u64) >> 16
}

impl Batch {
    /// Serializes for the log.
    ///
    /// # Errors
    /// Never in practice.
    pub fn to_bytes(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_stdvec(self)
    }

    /// Deserializes a log payload.
    ///
    /// # Errors
    /// When the bytes are not a batch.
    pub fn from_bytes(b: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(b)
    }
}
