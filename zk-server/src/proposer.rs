//! The proposer: one task per server that turns queued writes into log entries.
//!
//! Writes are queued in the order connections make them; the task drains everything queued
//! into one [`Batch`] and proposes it. On the leader up to [`MAX_IN_FLIGHT`] batches are in
//! flight, handed to the raft core one after another (so they are appended in order) under
//! one leadership term (so if a later one commits, the earlier ones did); while they are
//! replicated, fsynced and applied the next one fills up, so under load many writes share
//! each log entry and each fsync (group commit), and one session's writes stay in order. On
//! a follower one batch at a time is forwarded to the leader.

use std::sync::Arc;

use std::future::Future;
use std::pin::Pin;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::raft::{Consensus, LeaderTerm, ProposeError};
use crate::state::ZkState;
use crate::txn::batch::{Batch, MAX_BATCH};
use crate::txn::Txn;

/// Most batches handed to consensus and not yet applied. More than one lets the next batch be
/// appended (and share the next fsync) while the previous one commits and applies; a small
/// bound keeps batches large under load.
const MAX_IN_FLIGHT: usize = 4;

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

/// A batch handed to consensus: its writes' request ids and how it ended.
type InFlight = Pin<Box<dyn Future<Output = (Vec<u64>, Result<u64, ProposeError>)> + Send>>;

async fn run(
    mut rx: mpsc::UnboundedReceiver<Txn>,
    consensus: Arc<Consensus>,
    state: Arc<ZkState>,
    stop: CancellationToken,
) {
    let mut in_flight: FuturesUnordered<InFlight> = FuturesUnordered::new();
    // The leadership term every batch in `in_flight` was submitted under.
    let mut term: Option<LeaderTerm> = None;
    loop {
        let first = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            Some((ids, res)) = in_flight.next(), if !in_flight.is_empty() => {
                settle(&state, &ids, res);
                continue;
            }
            t = rx.recv(), if in_flight.len() < MAX_IN_FLIGHT => match t {
                Some(t) => t,
                None => return,
            },
        };
        let Some((ids, payload)) = collect(first, &mut rx, &state) else {
            continue;
        };
        match consensus.leader_term() {
            Some(t) => {
                if term != Some(t) {
                    // Batches of an older term may still fail; let them settle before any
                    // batch of the new term goes out, so no later write overtakes them.
                    drain(&mut in_flight, &state).await;
                    term = Some(t);
                }
                match consensus.submit_as_leader(payload, &t).await {
                    Ok(done) => in_flight.push(Box::pin(async move { (ids, done.await) })),
                    Err(e) => settle(&state, &ids, Err(e)),
                }
            }
            None => {
                // Not the leader: forward one batch at a time, in order.
                drain(&mut in_flight, &state).await;
                term = None;
                let res = consensus.propose(payload).await;
                settle(&state, &ids, res);
            }
        }
    }
}

/// Drains everything queued behind `first` into one serialized batch (cut at [`MAX_BATCH`]
/// writes or [`MAX_BATCH_BYTES`]), stamping the proposal time. `None` when it cannot be
/// serialized (its writers are failed).
fn collect(
    first: Txn,
    rx: &mut mpsc::UnboundedReceiver<Txn>,
    state: &ZkState,
) -> Option<(Vec<u64>, Vec<u8>)> {
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
    match (Batch { txns }).to_bytes() {
        Ok(p) => Some((ids, p)),
        Err(e) => {
            warn!(error = %e, "cannot serialize a batch");
            settle(state, &ids, Err(ProposeError::Fatal(e.to_string())));
            None
        }
    }
}

/// Waits for every batch in flight to end.
async fn drain(in_flight: &mut FuturesUnordered<InFlight>, state: &ZkState) {
    while let Some((ids, res)) = in_flight.next().await {
        settle(state, &ids, res);
    }
}

/// A committed batch was answered when it was applied; a failed one closes the connections
/// of its writers (they cannot know whether their writes happened).
fn settle(state: &ZkState, ids: &[u64], res: Result<u64, ProposeError>) {
    if let Err(e) = res {
        warn!(error = %e, writes = ids.len(), "proposal failed; closing the waiting connections");
        ids.iter().for_each(|id| state.fail_waiter(*id));
    }
}
