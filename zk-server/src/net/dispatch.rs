//! Requests answered by this server without the log: reads (from the local tree), pings,
//! watch operations, authentication, whoAmI, and sync (after a read barrier).

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;
use tracing::debug;
use zk_core::proto::{
    xid, AuthPacket, ClientInfo, ErrorCode, OpCode, Reader, Request, RequestHeader, Response,
    SyncRequest, SyncResponse, WhoAmIResponse,
};

use super::connection::ConnCtx;
use super::reply;
use crate::server::Shared;
use crate::state::Outgoing;
use crate::txn::AuthId;

/// How a local request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    /// The reply is in the output buffer.
    Replied,
    /// The reply is in the output buffer; close after writing it (AuthFailed).
    ReplyAndClose,
    /// The reply will come through the connection's queue (sync).
    Deferred,
}

/// Moves queued notifications into `out`, so events of changes applied before a read are
/// written before its reply. Called with the tree's read lock held (no apply can run).
fn flush_events(rx: &mut mpsc::UnboundedReceiver<Outgoing>, out: &mut BytesMut) -> bool {
    let mut close = false;
    while let Ok(m) = rx.try_recv() {
        match m {
            Outgoing::Frame(f) | Outgoing::Done { frame: f, .. } => out.extend_from_slice(&f),
            Outgoing::Close => close = true,
        }
    }
    close
}

/// Handles one request that is not a replicated write.
pub fn local(
    shared: &Arc<Shared>,
    ctx: &mut ConnCtx,
    h: RequestHeader,
    body: Bytes,
    out: &mut BytesMut,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    tx: &mpsc::UnboundedSender<Outgoing>,
) -> Local {
    let state = &shared.state;
    let op = OpCode::from_code(h.op_type);
    let decoded = Request::decode(h.op_type, &mut Reader::new(body));
    let req = match (op, decoded) {
        (Some(_), Ok(r)) => r,
        (None, _) | (Some(OpCode::Sasl), _) => {
            debug!(op = h.op_type, "unimplemented request type");
            out.extend_from_slice(&reply::header(
                h.xid,
                state.last_zxid(),
                ErrorCode::Unimplemented,
            ));
            return Local::Replied;
        }
        (Some(_), Err(e)) => {
            debug!(op = h.op_type, error = %e, "malformed request");
            out.extend_from_slice(&reply::header(
                h.xid,
                state.last_zxid(),
                ErrorCode::MarshallingError,
            ));
            return Local::Replied;
        }
    };
    let tree = state.read();
    let closed = flush_events(rx, out);
    let zxid = state.last_zxid();
    let result: Result<Response, ErrorCode> = match &req {
        Request::Ping(_) => {
            out.extend_from_slice(&reply::header(xid::PING, zxid, ErrorCode::Ok));
            return if closed {
                Local::ReplyAndClose
            } else {
                Local::Replied
            };
        }
        Request::Sync(SyncRequest { path }) => {
            spawn_sync(shared, h.xid, path.clone(), tx.clone());
            return Local::Deferred;
        }
        Request::Auth(a) => return auth(shared, ctx, a, zxid, out),
        Request::WhoAmI(_) => Ok(Response::WhoAmI(WhoAmIResponse {
            client_info: ctx
                .auth
                .iter()
                .map(|a| ClientInfo {
                    auth_scheme: a.scheme.clone(),
                    // Apache reports the provider's user name: a digest id without its hash.
                    user: match a.scheme.as_str() {
                        "digest" => a.id.split(':').next().unwrap_or_default().to_string(),
                        _ => a.id.clone(),
                    },
                })
                .collect(),
        })),
        Request::SetWatches(sw) => {
            for ev in state.watches().set_watches_v1(ctx.id, sw, &tree) {
                out.extend_from_slice(&reply::notification(&ev));
            }
            Ok(Response::SetWatches(zk_core::proto::Empty))
        }
        Request::SetWatches2(sw) => {
            for ev in state.watches().set_watches(ctx.id, sw, &tree) {
                out.extend_from_slice(&reply::notification(&ev));
            }
            Ok(Response::SetWatches2(zk_core::proto::Empty))
        }
        Request::AddWatch(a) => state
            .watches()
            .handle_add_watch(ctx.id, a)
            .map(|()| Response::AddWatch(zk_core::proto::ErrorResponse { err: 0 })),
        Request::RemoveWatches(r) => state
            .watches()
            .handle_remove_watches(ctx.id, r)
            .map(|()| Response::RemoveWatches(zk_core::proto::Empty)),
        Request::CheckWatches(r) => state
            .watches()
            .handle_check_watches(ctx.id, r)
            .map(|()| Response::CheckWatches(zk_core::proto::Empty)),
        read => {
            let result = tree.read(read, ctx.session_id, &ctx.auth);
            state.watches().register_read(ctx.id, read, &result);
            result
        }
    };
    reply::frame_into(out, h.xid, zxid, &result);
    if closed {
        Local::ReplyAndClose
    } else {
        Local::Replied
    }
}

/// addAuth: `digest` adds `digest:user:hash` (and `super` when it matches the super digest),
/// `ip` adds the connection's address; any other scheme fails and closes the connection.
fn auth(
    shared: &Arc<Shared>,
    ctx: &mut ConnCtx,
    a: &AuthPacket,
    zxid: i64,
    out: &mut BytesMut,
) -> Local {
    let mut add = |scheme: &str, id: String| {
        let id = AuthId {
            scheme: scheme.to_string(),
            id,
        };
        if !ctx.auth.contains(&id) {
            Arc::make_mut(&mut ctx.auth).push(id);
        }
    };
    let ok = match a.scheme.as_str() {
        // As Apache's generateDigest: the user is the part before the first ':', the hash
        // covers the whole credential string (so "x" without ':' is accepted too).
        "digest" => {
            let cred = String::from_utf8_lossy(&a.auth);
            let user = cred.split(':').next().unwrap_or_default();
            let id = format!("{user}:{}", zk_core::auth::digest_hash(&cred));
            if shared.config.super_digest.as_deref() == Some(id.as_str()) {
                add("super", String::new());
            }
            add("digest", id);
            true
        }
        "ip" => {
            add("ip", ctx.peer.ip().to_string());
            true
        }
        _ => false,
    };
    if ok {
        shared.state.set_conn_auth(ctx.id, ctx.auth.clone());
        out.extend_from_slice(&reply::header(xid::AUTH, zxid, ErrorCode::Ok));
        Local::Replied
    } else {
        out.extend_from_slice(&reply::header(xid::AUTH, zxid, ErrorCode::AuthFailed));
        Local::ReplyAndClose
    }
}

/// sync: wait for a read barrier from the leader and for this server to apply up to it, then
/// answer through the connection's queue.
fn spawn_sync(shared: &Arc<Shared>, xid: i32, path: String, tx: mpsc::UnboundedSender<Outgoing>) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let caught_up = async {
            let index = shared
                .consensus
                .read_barrier()
                .await
                .map_err(|e| e.to_string())?;
            let mut applied = shared.state.applied();
            applied
                .wait_for(|a| *a >= index)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(())
        };
        let msg = match tokio::time::timeout(shared.handshake_timeout(), caught_up).await {
            Ok(Ok(())) => Outgoing::Done {
                frame: reply::frame(
                    xid,
                    shared.state.last_zxid(),
                    &Ok(Response::Sync(SyncResponse { path })),
                ),
                close: false,
            },
            _ => Outgoing::Close,
        };
        let _ = tx.send(msg);
    });
}
