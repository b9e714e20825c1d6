//! The proposer: one task per server that turns queued writes into log entries.
//!
//! Writes are queued in the order connections make them; the task drains everything queued
//! into one [`Batch`] and proposes it, waiting for the commit before proposing the next. While
//! one batch is being replicated and fsynced the next one fills up, so under load many writes
//! share each round and each fsync (group commit), and one session's writes stay in order.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::raft::Consensus;
use crate::state::ZkState;
use crate::txn::batch::{Batch, MAX_BATCH};
use crate::txn::Txn;

/// Largest batch payload in bytes before it is cut (a client packet is at most jute.maxbuffer).
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Handle to queue writes.
#[derive(Debug, Clone)]
pub struct Proposer {
    tx: mpsc::UnboundedSender<Txn>,
}

impl Proposer {
    /// Starts the proposer task.
    pub fn start(consensus: Arc<Consensus>, state: Arc<ZkState>, stop: CancellationToken) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(rx, consensus, state, stop));
        Self { tx }
    }

    /// Queues a write; its waiter (registered by the caller) is told when it is applied.
    pub fn submit(&self, txn: Txn) -> bool {
        self.tx.send(txn).is_ok()
    }
}

fn size_hint(t: &Txn) -> usize {
    64 + match &t.op {
        crate::txn::TxnOp::Client { body, .. } => body.len(),
        crate::txn::TxnOp::Reap { path } => path.len(),
        _ => 0,
    }
}

async fn run(
    mut rx: mpsc::UnboundedReceiver<Txn>,
    consensus: Arc<Consensus>,
    state: Arc<ZkState>,
    stop: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            t = rx.recv() => match t { Some(t) => t, None => return },
            _ = stop.cancelled() => return,
        };
        let mut bytes = size_hint(&first);
        let mut txns = vec![first];
        while txns.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match rx.try_recv() {
                Ok(t) => {
                    bytes += size_hint(&t);
                    txns.push(t);
                }
                Err(_) => break,
            }
        }
        let now = crate::clock::now_ms();
        for t in &mut txns {
            t.time_ms = now;
        }
        let ids: Vec<u64> = txns.iter().map(|t| t.origin.request_id).collect();
        let batch = Batch { txns };
        let payload = match batch.to_bytes() {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "cannot serialize a batch");
                ids.iter().for_each(|id| state.fail_waiter(*id));
                continue;
            }
        };
        if let Err(e) = consensus.propose(payload).await {
            warn!(error = %e, writes = ids.len(), "proposal failed; closing the waiting connections");
            ids.iter().for_each(|id| state.fail_waiter(*id));
        }
    }
}
