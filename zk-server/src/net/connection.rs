//! One client connection: four-letter-word sniffing, the handshake, then requests in order.
//!
//! Requests are handled strictly in arrival order. Writes (and sync) are handed to the proposer
//! and complete when this server applies them; a request that is answered locally (reads,
//! pings, watch and auth operations) waits until every earlier write of the connection has been
//! answered, so a session never reads behind its own writes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn, Instrument};
use zk_core::proto::{ConnectRequest, Decode, FrameCodec, OpCode, RequestHeader};

use super::dispatch::{self, Local};
use super::handshake::{handshake, Handshake};
use super::reply;
use crate::admin::four_letter;
use crate::server::Shared;
use crate::state::{Outgoing, Waiter};
use crate::txn::{AuthId, Origin, Txn, TxnOp};

/// Stop reading from a client that has this many requests waiting.
const MAX_QUEUED: usize = 1000;
/// How long to wait for a client to close its end after its session was closed.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_millis(500);
/// Stop reading from a client that does not read its replies.
const MAX_UNWRITTEN: usize = 8 << 20;

/// Why a connection ended, in the ordinary cases (anything else is logged at info).
const CLIENT_CLOSED: &str = "client closed the connection";
const SERVER_STOPPING: &str = "server stopping";
const CLOSED_BY_SERVER: &str = "closed by the server";
const NOT_SERVING_NOW: &str = "not serving: no contact with a quorum";

/// Per-connection state visible to request handlers.
#[derive(Debug)]
pub struct ConnCtx {
    /// Connection id (keys the watch tables).
    pub id: u64,
    /// The client's address.
    pub peer: SocketAddr,
    /// The session.
    pub session_id: i64,
    /// Authenticated ids (`ip:<addr>` from the start).
    pub auth: Arc<Vec<AuthId>>,
}

/// Serves one accepted connection until it closes.
pub async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
) {
    let id = shared.next_conn_id();
    let span = tracing::debug_span!("conn", id, %peer, session_id = tracing::field::Empty);
    async move {
        if let Err(why) = serve_inner(&mut stream, peer, id, &shared, &stop).await {
            if [
                CLIENT_CLOSED,
                SERVER_STOPPING,
                CLOSED_BY_SERVER,
                NOT_SERVING_NOW,
            ]
            .contains(&why.as_str())
            {
                debug!(reason = %why, "connection closed");
            } else {
                // Bad input, a refused handshake or a broken socket: worth an operator's eye.
                info!(reason = %why, "closing connection");
            }
        }
        shared.state.remove_conn(id);
        let _ = stream.shutdown().await;
    }
    .instrument(span)
    .await
}

async fn serve_inner(
    stream: &mut TcpStream,
    peer: SocketAddr,
    id: u64,
    shared: &Arc<Shared>,
    stop: &CancellationToken,
) -> Result<(), String> {
    let max = shared.config.max_buffer;
    // The first four bytes are either a four-letter word or the ConnectRequest's length.
    let mut first = [0u8; 4];
    tokio::time::timeout(shared.handshake_timeout(), stream.read_exact(&mut first))
        .await
        .map_err(|_| "no handshake in time".to_string())?
        .map_err(|e| format!("read: {e}"))?;
    if let Some(cmd) = four_letter::sniff(&first) {
        let out = four_letter::run(cmd, shared);
        let _ = stream.write_all(out.as_bytes()).await;
        return Ok(());
    }
    let len = i32::from_be_bytes(first);
    let n = usize::try_from(len)
        .ok()
        .filter(|n| *n > 0 && *n <= max)
        .ok_or_else(|| format!("handshake length {len} out of range"))?;
    let mut buf = vec![0u8; n];
    tokio::time::timeout(shared.handshake_timeout(), stream.read_exact(&mut buf))
        .await
        .map_err(|_| "no handshake in time".to_string())?
        .map_err(|e| format!("read: {e}"))?;
    let req = ConnectRequest::from_bytes(Bytes::from(buf))
        .map_err(|e| format!("bad ConnectRequest: {e}"))?;
    if !shared.gate.is_open() {
        // As Apache's server while it is not running: no answer, the client tries another.
        return Err(NOT_SERVING_NOW.into());
    }
    let (session_id, resp) = match handshake(shared, &req).await {
        Handshake::Accepted {
            session_id,
            response,
            ..
        } => (session_id, response),
        Handshake::Rejected(resp) => {
            let _ = stream.write_all(&reply::bare(&resp)).await;
            return Err(format!(
                "session {:#x}: expired or wrong password",
                req.session_id
            ));
        }
        // Logged (at info) with the reason when the connection closes.
        Handshake::Refused(why) => return Err(format!("refused: {why}")),
    };
    tracing::Span::current().record("session_id", format_args!("{session_id:#x}"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut ctx = ConnCtx {
        id,
        peer,
        session_id,
        auth: Arc::new(vec![AuthId {
            scheme: "ip".into(),
            id: peer.ip().to_string(),
        }]),
    };
    shared
        .state
        .add_conn(id, session_id, ctx.auth.clone(), tx.clone());
    // Checked once more after registering: the gate closes first and then closes every
    // registered connection, so a connection registered after that sees it closed here, and
    // one registered before is closed by it. No check per request is needed.
    if !shared.gate.is_open() {
        return Err(NOT_SERVING_NOW.into());
    }
    let mut out = BytesMut::new();
    out.extend_from_slice(&reply::bare(&resp));
    let (read, mut write) = stream.split();
    let mut frames = FramedRead::new(read, FrameCodec::new(max));
    let mut queued: VecDeque<(RequestHeader, Bytes)> = VecDeque::new();
    let mut pending = 0usize;
    let mut closing = false;
    loop {
        tokio::select! {
            frame = frames.next(), if !closing && queued.len() < MAX_QUEUED && out.len() < MAX_UNWRITTEN => {
                let frame = match frame {
                    Some(Ok(f)) => f,
                    Some(Err(e)) => return Err(format!("bad frame: {e}")),
                    None => return Err(CLIENT_CLOSED.into()),
                };
                shared.stats.packet_received();
                shared.touch(session_id);
                let mut r = zk_core::proto::Reader::new(frame.clone());
                let header = RequestHeader::decode(&mut r).map_err(|e| format!("bad request header: {e}"))?;
                queued.push_back((header, frame.slice(8..)));
                drain(shared, &mut ctx, &mut queued, &mut pending, &mut closing, &mut out, &mut rx, &tx);
            }
            msg = rx.recv() => {
                // Take every reply already queued (one applied batch answers many requests of
                // this connection), so they leave in one write instead of one each.
                let mut msg = msg;
                loop {
                    match msg {
                        Some(Outgoing::Frame(f)) => out.extend_from_slice(&f),
                        Some(Outgoing::Done { frame, close }) => {
                            out.extend_from_slice(&frame);
                            pending = pending.saturating_sub(1);
                            closing |= close;
                            drain(shared, &mut ctx, &mut queued, &mut pending, &mut closing, &mut out, &mut rx, &tx);
                        }
                        Some(Outgoing::Close) | None => {
                            // Bounded: a client that does not read must not keep the connection
                            // alive.
                            let _ = tokio::time::timeout(CLOSE_LINGER, write.write_all(&out)).await;
                            return Err(CLOSED_BY_SERVER.into());
                        }
                    }
                    if out.len() >= MAX_UNWRITTEN {
                        break;
                    }
                    match rx.try_recv() {
                        Ok(m) => msg = Some(m),
                        Err(_) => break,
                    }
                }
            }
            r = write.write_buf(&mut out), if !out.is_empty() => {
                r.map_err(|e| format!("write: {e}"))?;
            }
            _ = stop.cancelled() => return Err(SERVER_STOPPING.into()),
        }
        if closing && out.is_empty() && pending == 0 {
            // Let the client close first (it does right after the closeSession reply): a Java
            // client that finds the socket closed under it logs a warning with a stack trace.
            let mut sink = [0u8; 512];
            let linger =
                async { while matches!(frames.get_mut().read(&mut sink).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(CLOSE_LINGER, linger).await;
            return Ok(());
        }
    }
}

/// Whether an opcode is a replicated write.
fn is_write(op: i32) -> bool {
    matches!(
        OpCode::from_code(op),
        Some(
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Check
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::CloseSession
        )
    )
}

/// Handles queued requests in order: writes go to the proposer right away (they are applied
/// in order), anything answered locally waits until no write is pending.
#[allow(clippy::too_many_arguments)]
fn drain(
    shared: &Arc<Shared>,
    ctx: &mut ConnCtx,
    queued: &mut VecDeque<(RequestHeader, Bytes)>,
    pending: &mut usize,
    closing: &mut bool,
    out: &mut BytesMut,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    tx: &mpsc::UnboundedSender<Outgoing>,
) {
    while let Some((h, _)) = queued.front() {
        if *closing {
            queued.clear();
            return;
        }
        if is_write(h.op_type) {
            let Some((h, body)) = queued.pop_front() else {
                return;
            };
            propose(shared, ctx, h, body);
            *pending += 1;
            continue;
        }
        if *pending > 0 {
            return;
        }
        let Some((h, body)) = queued.pop_front() else {
            return;
        };
        match dispatch::local(shared, ctx, h, body, out, rx, tx) {
            Local::Replied => {}
            Local::ReplyAndClose => *closing = true,
            Local::Deferred => *pending += 1,
        }
    }
}

fn propose(shared: &Arc<Shared>, ctx: &ConnCtx, h: RequestHeader, body: Bytes) {
    let request_id = shared.next_request_id();
    let op = OpCode::from_code(h.op_type).unwrap_or(OpCode::Error);
    shared.state.add_waiter(
        request_id,
        Waiter::Reply {
            conn: ctx.id,
            xid: h.xid,
            op,
        },
    );
    let txn_op = if op == OpCode::CloseSession {
        TxnOp::CloseSession
    } else {
        TxnOp::Client {
            op: h.op_type,
            body,
        }
    };
    let txn = Txn {
        origin: Origin {
            server_id: shared.server_id,
            request_id,
        },
        session_id: ctx.session_id,
        cxid: h.xid,
        time_ms: 0,
        auth: ctx.auth.clone(),
        op: txn_op,
    };
    if !shared.proposer.submit(txn) {
        warn!("proposer stopped");
        shared.state.fail_waiter(request_id);
    }
}
