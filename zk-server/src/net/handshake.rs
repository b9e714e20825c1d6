//! The session handshake: ConnectRequest → create or re-attach a session → ConnectResponse.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tracing::{debug, info};
use zk_core::proto::{ConnectRequest, ConnectResponse};

use crate::server::Shared;
use crate::session::ids::session_password;
use crate::session::negotiate_timeout;
use crate::state::Waiter;
use crate::txn::{Origin, Txn, TxnOp};

/// The outcome of a handshake.
#[derive(Debug)]
pub enum Handshake {
    /// The session to serve and the response to send.
    Accepted {
        /// The session.
        session_id: i64,
        /// Its negotiated timeout.
        timeout_ms: i32,
        /// What to answer.
        response: ConnectResponse,
    },
    /// Answer this (an invalid or expired session) and close.
    Rejected(ConnectResponse),
    /// Close without answering (the client has seen a newer zxid, or the server is stopping).
    Refused(String),
}

fn expired(req: &ConnectRequest) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout: 0,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: req.read_only.map(|_| false),
    }
}

/// Runs the handshake for one ConnectRequest.
pub async fn handshake(shared: &Arc<Shared>, req: &ConnectRequest) -> Handshake {
    let last = shared.state.last_zxid();
    if req.last_zxid_seen > last {
        return Handshake::Refused(format!(
            "client has seen zxid {:#x}, this server's last is {last:#x}",
            req.last_zxid_seen
        ));
    }
    let timeout_ms = negotiate_timeout(req.timeout, shared.config.session_timeout_bounds());
    let read_only = req.read_only.map(|_| false);
    if req.session_id != 0 {
        let valid = req.passwd[..] == session_password(req.session_id)[..]
            && shared.state.read().session_exists(req.session_id);
        if !valid {
            debug!(
                session_id = format_args!("{:#x}", req.session_id),
                "invalid or expired session"
            );
            return Handshake::Rejected(expired(req));
        }
        shared.touch(req.session_id);
        return Handshake::Accepted {
            session_id: req.session_id,
            timeout_ms,
            response: ConnectResponse {
                protocol_version: 0,
                timeout: timeout_ms,
                session_id: req.session_id,
                passwd: req.passwd.clone(),
                read_only,
            },
        };
    }
    let session_id = shared.next_session_id();
    let (tx, rx) = oneshot::channel();
    let request_id = shared.next_request_id();
    shared.state.add_waiter(request_id, Waiter::Signal(tx));
    shared.proposer.submit(Txn {
        origin: Origin {
            server_id: shared.server_id,
            request_id,
        },
        session_id,
        cxid: 0,
        time_ms: 0,
        auth: Default::default(),
        op: TxnOp::CreateSession { timeout_ms },
    });
    let wait = Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(30_000));
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok((_, Ok(_)))) => {
            info!(
                session_id = format_args!("{session_id:#x}"),
                timeout_ms, "session created"
            );
            Handshake::Accepted {
                session_id,
                timeout_ms,
                response: ConnectResponse {
                    protocol_version: 0,
                    timeout: timeout_ms,
                    session_id,
                    passwd: Bytes::copy_from_slice(&session_password(session_id)),
                    read_only,
                },
            }
        }
        Ok(Ok((_, Err(code)))) => Handshake::Refused(format!("createSession failed: {code:?}")),
        Ok(Err(_)) | Err(_) => Handshake::Refused("createSession was not committed in time".into()),
    }
}
