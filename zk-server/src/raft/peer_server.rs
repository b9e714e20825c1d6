//! The server side of peer connections: accepts, checks the handshake, and dispatches raft
//! RPCs, snapshot transfers, forwarded proposals and read-index requests to the local node.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::error::{ClientWriteError, LinearizableReadError, RaftError};
use openraft::raft::AppendEntriesResponse;
use openraft::ReadPolicy;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use super::apply::ApplyTarget;
use super::contact::Contact;
use super::failover::Failover;
use super::state_machine::SnapshotData;
use super::types::{AppPayload, Raft, Snapshot};
use super::wire::{self, ForwardError, Request, Response};
use crate::storage::snapshot::SnapshotImport;
use crate::storage::SnapshotStore;

/// What the peer server needs from the local node.
pub(crate) struct ServerCtx {
    pub my_id: u64,
    pub members: BTreeSet<u64>,
    pub raft: Raft,
    pub snapshots: SnapshotStore,
    /// How long a forwarded read-index request may wait for a quorum.
    pub read_timeout: Duration,
    /// Takes over when the leader's connections close and its process is gone.
    pub failover: Failover,
    /// The replicated state (for session activity reported by followers).
    pub target: Arc<dyn ApplyTarget>,
    /// When a leader's AppendEntries was last accepted here.
    pub contact: Arc<Contact>,
}

/// Accepts peer connections until `shutdown` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    ctx: Arc<ServerCtx>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    loop {
        tokio::select! {
            res = listener.accept() => match res {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let ctx = ctx.clone();
                    let shutdown = shutdown.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle_conn(stream, ctx, shutdown).await {
                            tracing::debug!(peer_addr = %addr, error = %e, "peer connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a peer connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = stopped(&mut stop) => return,
        }
    }
}

/// Resolves once `rx` turns true (or its sender is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn handle_conn(
    mut stream: TcpStream,
    ctx: Arc<ServerCtx>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let body = tokio::time::timeout(Duration::from_secs(10), wire::read_frame(&mut stream))
        .await
        .map_err(|_| std::io::Error::other("handshake timeout"))??
        .ok_or_else(|| std::io::Error::other("closed before handshake"))?;
    let (_, hello) = wire::decode_body::<Request>(&body)?;
    let peer = match hello {
        Request::Hello { from, .. } => from,
        _ => 0,
    };
    let verdict = match hello {
        Request::Hello { from, to } if to != ctx.my_id => Err(format!(
            "this is node {}, not {to} (from {from})",
            ctx.my_id
        )),
        Request::Hello { from, .. } if !ctx.members.contains(&from) => {
            Err(format!("node {from} is not a member"))
        }
        Request::Hello { .. } => Ok(()),
        _ => Err("expected a handshake".to_string()),
    };
    let ok = verdict.is_ok();
    let frame = wire::encode_frame(0, &Response::Hello(verdict))?;
    wire::write_frame(&mut stream, &frame).await?;
    if !ok {
        return Ok(());
    }

    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(256);
    let writer = tokio::spawn(async move {
        while let Some(f) = rx.recv().await {
            if wire::write_frame(&mut wr, &f).await.is_err() {
                break;
            }
        }
    });
    let mut transfers: HashMap<u64, Result<SnapshotImport, String>> = HashMap::new();
    let result = loop {
        let body = tokio::select! {
            r = wire::read_frame(&mut rd) => match r {
                Ok(Some(b)) => b,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            },
            _ = stopped(&mut shutdown) => break Ok(()),
        };
        let (id, req) = match wire::decode_body::<Request>(&body) {
            Ok(x) => x,
            Err(e) => break Err(e),
        };
        match req {
            Request::SnapshotChunk { transfer, data } => {
                let slot = transfers
                    .entry(transfer)
                    .or_insert_with(|| ctx.snapshots.import().map_err(|e| e.to_string()));
                if let Ok(imp) = slot {
                    if let Err(e) = imp.write_chunk(&data) {
                        *slot = Err(e.to_string());
                    }
                }
            }
            Request::SnapshotEnd {
                transfer,
                vote,
                meta,
            } => {
                let import = transfers
                    .remove(&transfer)
                    .unwrap_or_else(|| Err("snapshot transfer without data".to_string()));
                let ctx = ctx.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let res = install(&ctx, import, vote, meta).await;
                    respond(&tx, id, Response::Snapshot(res)).await;
                });
            }
            other => {
                let ctx = ctx.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let resp = dispatch(&ctx, other).await;
                    respond(&tx, id, resp).await;
                });
            }
        }
    };
    drop(tx);
    writer.abort();
    if !*shutdown.borrow() {
        ctx.failover.connection_closed(peer).await;
    }
    result
}

async fn respond(tx: &mpsc::Sender<Vec<u8>>, id: u64, resp: Response) {
    match wire::encode_frame(id, &resp) {
        Ok(f) => {
            let _ = tx.send(f).await;
        }
        Err(e) => tracing::warn!(error = %e, "cannot encode a peer response"),
    }
}

async fn install(
    ctx: &ServerCtx,
    import: Result<SnapshotImport, String>,
    vote: super::types::Vote,
    meta: super::types::SnapshotMeta,
) -> Result<openraft::raft::SnapshotResponse<super::types::TypeConfig>, String> {
    let import = import?;
    let pending = tokio::task::spawn_blocking(move || import.finish())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let want = meta.last_log_id.map_or(0, |l| l.index);
    if pending.file.index != want {
        return Err(format!(
            "snapshot file is at index {}, metadata says {want}",
            pending.file.index
        ));
    }
    let snap = Snapshot {
        meta,
        snapshot: SnapshotData::Received(pending),
    };
    ctx.raft
        .install_full_snapshot(vote, snap)
        .await
        .map_err(|e| e.to_string())
}

async fn dispatch(ctx: &ServerCtx, req: Request) -> Response {
    match req {
        Request::Append(r) => {
            let res = ctx.raft.append_entries(r).await;
            // Anything but a higher vote means the sender is the leader this node follows.
            if matches!(&res, Ok(r) if !matches!(r, AppendEntriesResponse::HigherVote(_))) {
                ctx.contact.leader_appended();
            }
            Response::Append(res.map_err(|e| e.to_string()))
        }
        Request::Vote(r) => Response::Vote(ctx.raft.vote(r).await.map_err(|e| e.to_string())),
        Request::PreVote(r) => {
            Response::Vote(ctx.raft.pre_vote(r).await.map_err(|e| e.to_string()))
        }
        Request::TransferLeader(r) => Response::TransferLeader(
            ctx.raft
                .handle_transfer_leader(r)
                .await
                .map_err(|e| e.to_string()),
        ),
        Request::Forward { payload } => Response::Index(forward_write(ctx, payload).await),
        Request::ReadIndex => Response::Index(read_index(ctx).await),
        Request::Touch { sessions } => Response::Index(touch(ctx, &sessions)),
        Request::Hello { .. } => Response::Hello(Err("already connected".into())),
        Request::SnapshotChunk { .. } | Request::SnapshotEnd { .. } => {
            Response::Snapshot(Err("snapshot message out of place".into()))
        }
    }
}

/// Proposes on behalf of a follower; only the leader accepts.
pub(crate) async fn forward_write(ctx: &ServerCtx, payload: Vec<u8>) -> Result<u64, ForwardError> {
    match ctx.raft.client_write(AppPayload(payload)).await {
        Ok(resp) => Ok(resp.log_id.index),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            Err(ForwardError::NotLeader {
                leader: f.leader_id,
            })
        }
        Err(RaftError::APIError(e)) => Err(ForwardError::Indeterminate(e.to_string())),
        Err(RaftError::Fatal(e)) => Err(ForwardError::Indeterminate(e.to_string())),
    }
}

/// Takes a follower's report of session activity; only the leader accepts.
fn touch(ctx: &ServerCtx, sessions: &[i64]) -> Result<u64, ForwardError> {
    let (leading, leader) = {
        let m = ctx.raft.metrics();
        let m = m.borrow_watched();
        (m.state == openraft::ServerState::Leader, m.current_leader)
    };
    if !leading {
        return Err(ForwardError::NotLeader { leader });
    }
    ctx.target.touch_sessions(sessions);
    Ok(sessions.len() as u64)
}

/// Confirms leadership with a quorum and returns the read index.
pub(crate) async fn read_index(ctx: &ServerCtx) -> Result<u64, ForwardError> {
    let fut = ctx.raft.get_read_linearizer(ReadPolicy::ReadIndex);
    match tokio::time::timeout(ctx.read_timeout, fut).await {
        Ok(Ok(lin)) => Ok(lin.read_log_id().index()),
        Ok(Err(RaftError::APIError(LinearizableReadError::ForwardToLeader(f)))) => {
            Err(ForwardError::NotLeader {
                leader: f.leader_id,
            })
        }
        Ok(Err(e)) => Err(ForwardError::Unavailable(e.to_string())),
        Err(_) => Err(ForwardError::Unavailable(
            "quorum not confirmed in time".into(),
        )),
    }
}
