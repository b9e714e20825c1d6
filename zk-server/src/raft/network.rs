//! openraft's network: one [`PeerClient`] per (peer, lane) so heartbeats, replication,
//! snapshots and forwarded client requests do not queue behind each other.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{
    NetworkError, RPCError, ReplicationClosed, StreamingError, Timeout, Unreachable,
};
use openraft::network::{RPCOption, RPCTypes, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use tokio::io::AsyncReadExt;

use super::peer_client::{CallError, PeerClient};
use super::state_machine::SnapshotData;
use super::types::{Snapshot, TypeConfig, Vote};
use super::wire::{self, Request, Response};

/// Separate connections per purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    Replication,
    Heartbeat,
    Snapshot,
    Client,
}

/// All peer clients of this node.
#[derive(Debug)]
pub(crate) struct PeerPool {
    my_id: u64,
    addrs: BTreeMap<u64, String>,
    clients: Mutex<HashMap<(u64, Lane), Arc<PeerClient>>>,
}

impl PeerPool {
    pub(crate) fn new(my_id: u64, addrs: BTreeMap<u64, String>) -> Self {
        PeerPool {
            my_id,
            addrs,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for `target` on `lane`; the configured address wins over the one stored in
    /// the membership.
    pub(crate) fn get(&self, target: u64, fallback_addr: &str, lane: Lane) -> Arc<PeerClient> {
        let mut g = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        g.entry((target, lane))
            .or_insert_with(|| {
                let addr = self
                    .addrs
                    .get(&target)
                    .cloned()
                    .unwrap_or_else(|| fallback_addr.to_string());
                Arc::new(PeerClient::new(self.my_id, target, addr))
            })
            .clone()
    }

    /// Drops every connection (used at shutdown).
    pub(crate) fn clear(&self) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Creates [`PeerNetwork`]s for openraft.
pub(crate) struct NetworkFactory {
    pub pool: Arc<PeerPool>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerNetwork;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> PeerNetwork {
        PeerNetwork {
            my_id: self.pool.my_id,
            client: self.pool.get(target, &node.addr, Lane::Replication),
        }
    }

    async fn new_heartbeat_client(&mut self, target: u64, node: &BasicNode) -> PeerNetwork {
        PeerNetwork {
            my_id: self.pool.my_id,
            client: self.pool.get(target, &node.addr, Lane::Heartbeat),
        }
    }

    async fn new_snapshot_client(&mut self, target: u64, node: &BasicNode) -> PeerNetwork {
        PeerNetwork {
            my_id: self.pool.my_id,
            client: self.pool.get(target, &node.addr, Lane::Snapshot),
        }
    }
}

/// Sends raft RPCs to one peer.
pub(crate) struct PeerNetwork {
    my_id: u64,
    client: Arc<PeerClient>,
}

impl PeerNetwork {
    fn rpc_error(&self, e: CallError, action: RPCTypes) -> RPCError<TypeConfig> {
        match e {
            CallError::Unreachable(..) => RPCError::Unreachable(Unreachable::new(&e)),
            CallError::Timeout(_, d) => RPCError::Timeout(Timeout {
                action,
                id: self.my_id,
                target: self.client.target(),
                timeout: d,
            }),
            CallError::Closed(..) => RPCError::Network(NetworkError::new(&e)),
        }
    }

    async fn vote_call(
        &self,
        req: Request,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.client.call(req, option.soft_ttl()).await {
            Ok(Response::Vote(Ok(r))) => Ok(r),
            Ok(Response::Vote(Err(e))) => Err(RPCError::Unreachable(Unreachable::from_string(e))),
            Ok(other) => Err(RPCError::Network(NetworkError::from_string(format!(
                "unexpected {other:?}"
            )))),
            Err(e) => Err(self.rpc_error(e, RPCTypes::Vote)),
        }
    }

    async fn send_snapshot(
        &self,
        vote: Vote,
        snapshot: Snapshot,
        timeout: Duration,
    ) -> Result<SnapshotResponse<TypeConfig>, CallError> {
        let target = self.client.target();
        let file = snapshot
            .snapshot
            .file()
            .cloned()
            .ok_or_else(|| CallError::Unreachable(target, "no snapshot data to send".into()))?;
        let mut f = tokio::fs::File::open(&file.path).await.map_err(|e| {
            CallError::Unreachable(target, format!("open {}: {e}", file.path.display()))
        })?;
        // A fresh connection per transfer: chunks of one transfer must share one connection.
        self.client.reset().await;
        let transfer = rand::random::<u64>();
        let mut buf = vec![0u8; wire::SNAPSHOT_CHUNK];
        loop {
            let n = f.read(&mut buf).await.map_err(|e| {
                CallError::Unreachable(target, format!("read {}: {e}", file.path.display()))
            })?;
            if n == 0 {
                break;
            }
            self.client
                .send_oneway(
                    Request::SnapshotChunk {
                        transfer,
                        data: buf[..n].to_vec(),
                    },
                    timeout,
                )
                .await?;
        }
        let resp = self
            .client
            .call(
                Request::SnapshotEnd {
                    transfer,
                    vote,
                    meta: snapshot.meta,
                },
                timeout,
            )
            .await?;
        match resp {
            Response::Snapshot(Ok(r)) => Ok(r),
            Response::Snapshot(Err(e)) => {
                Err(CallError::Closed(target, format!("snapshot refused: {e}")))
            }
            other => Err(CallError::Closed(target, format!("unexpected {other:?}"))),
        }
    }
}

impl RaftNetworkV2<TypeConfig> for PeerNetwork {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .client
            .call(Request::Append(rpc), option.soft_ttl())
            .await
        {
            Ok(Response::Append(Ok(r))) => Ok(r),
            Ok(Response::Append(Err(e))) => Err(RPCError::Unreachable(Unreachable::from_string(e))),
            Ok(other) => Err(RPCError::Network(NetworkError::from_string(format!(
                "unexpected {other:?}"
            )))),
            Err(e) => Err(self.rpc_error(e, RPCTypes::AppendEntries)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.vote_call(Request::Vote(rpc), option).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.vote_call(Request::PreVote(rpc), option).await
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .client
            .call(Request::TransferLeader(req), option.soft_ttl())
            .await
        {
            Ok(Response::TransferLeader(Ok(r))) => Ok(r),
            Ok(Response::TransferLeader(Err(e))) => {
                Err(RPCError::Unreachable(Unreachable::from_string(e)))
            }
            Ok(other) => Err(RPCError::Network(NetworkError::from_string(format!(
                "unexpected {other:?}"
            )))),
            Err(e) => Err(self.rpc_error(e, RPCTypes::TransferLeader)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let timeout = option.soft_ttl();
        tokio::select! {
            r = self.send_snapshot(vote, snapshot, timeout) => match r {
                Ok(r) => Ok(r),
                Err(e @ CallError::Unreachable(..)) => Err(StreamingError::Unreachable(Unreachable::new(&e))),
                Err(CallError::Timeout(_, d)) => Err(StreamingError::Timeout(Timeout {
                    action: RPCTypes::InstallSnapshot,
                    id: self.my_id,
                    target: self.client.target(),
                    timeout: d,
                })),
                Err(e) => Err(StreamingError::Network(NetworkError::new(&e))),
            },
            closed = cancel => {
                self.client.reset().await;
                Err(StreamingError::Closed(closed))
            }
        }
    }
}
