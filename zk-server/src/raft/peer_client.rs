//! The client side of a peer connection: connects lazily, checks it reached the node it
//! meant to (handshake), multiplexes concurrent requests by id, and reconnects on the next
//! call after any failure.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::wire::{self, Request, Response};

/// Why a call failed, and whether the request may have reached the peer.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum CallError {
    /// No connection could be made: the request was not sent.
    #[error("peer {0} unreachable: {1}")]
    Unreachable(u64, String),
    /// The request was sent but no response arrived in time.
    #[error("peer {0} did not answer within {1:?}")]
    Timeout(u64, Duration),
    /// The connection broke after the request was sent.
    #[error("connection to peer {0} lost: {1}")]
    Closed(u64, String),
}

impl CallError {
    /// True when the request certainly did not reach the peer.
    pub(crate) fn not_sent(&self) -> bool {
        matches!(self, CallError::Unreachable(..))
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Response>>>>;

struct Conn {
    tx: mpsc::Sender<Vec<u8>>,
    pending: Pending,
    alive: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A connection (made on demand) from this node to one peer.
pub(crate) struct PeerClient {
    my_id: u64,
    target: u64,
    addr: String,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for PeerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerClient")
            .field("target", &self.target)
            .field("addr", &self.addr)
            .finish()
    }
}

impl PeerClient {
    pub(crate) fn new(my_id: u64, target: u64, addr: String) -> Self {
        PeerClient {
            my_id,
            target,
            addr,
            conn: tokio::sync::Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    pub(crate) fn target(&self) -> u64 {
        self.target
    }

    async fn connection(&self, timeout: Duration) -> Result<Arc<Conn>, CallError> {
        let mut g = self.conn.lock().await;
        if let Some(c) = g.as_ref() {
            if c.alive.load(Ordering::Acquire) {
                return Ok(c.clone());
            }
        }
        *g = None;
        let c = tokio::time::timeout(timeout, self.connect())
            .await
            .map_err(|_| {
                CallError::Unreachable(self.target, format!("connect to {} timed out", self.addr))
            })??;
        let c = Arc::new(c);
        *g = Some(c.clone());
        Ok(c)
    }

    async fn connect(&self) -> Result<Conn, CallError> {
        let unreachable = |e: String| CallError::Unreachable(self.target, e);
        let mut stream = TcpStream::connect(&self.addr)
            .await
            .map_err(|e| unreachable(format!("connect to {}: {e}", self.addr)))?;
        let _ = stream.set_nodelay(true);
        let hello = wire::encode_frame(
            0,
            &Request::Hello {
                from: self.my_id,
                to: self.target,
            },
        )
        .map_err(|e| unreachable(e.to_string()))?;
        stream
            .write_all(&hello)
            .await
            .map_err(|e| unreachable(format!("handshake: {e}")))?;
        let body = wire::read_frame(&mut stream)
            .await
            .map_err(|e| unreachable(format!("handshake: {e}")))?
            .ok_or_else(|| unreachable("handshake: connection closed".into()))?;
        match wire::decode_body::<Response>(&body)
            .map_err(|e| unreachable(format!("handshake: {e}")))?
        {
            (_, Response::Hello(Ok(()))) => {}
            (_, Response::Hello(Err(e))) => {
                return Err(unreachable(format!("handshake refused: {e}")))
            }
            (_, other) => return Err(unreachable(format!("handshake: unexpected {other:?}"))),
        }
        let (mut rd, mut wr) = stream.into_split();
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let alive = Arc::new(AtomicBool::new(true));
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
        let target = self.target;
        let writer = {
            let alive = alive.clone();
            let pending = pending.clone();
            tokio::spawn(async move {
                while let Some(frame) = rx.recv().await {
                    if let Err(e) = wire::write_frame(&mut wr, &frame).await {
                        tracing::debug!(peer = target, error = %e, "peer write failed");
                        break;
                    }
                }
                alive.store(false, Ordering::Release);
                fail_all(&pending);
            })
        };
        let reader = {
            let alive = alive.clone();
            let pending = pending.clone();
            tokio::spawn(async move {
                loop {
                    let body = match wire::read_frame(&mut rd).await {
                        Ok(Some(b)) => b,
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!(peer = target, error = %e, "peer read failed");
                            break;
                        }
                    };
                    match wire::decode_body::<Response>(&body) {
                        Ok((id, resp)) => {
                            let waiter = pending.lock().ok().and_then(|mut p| p.remove(&id));
                            if let Some(w) = waiter {
                                let _ = w.send(resp);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(peer = target, error = %e, "undecodable response from peer; closing");
                            break;
                        }
                    }
                }
                alive.store(false, Ordering::Release);
                fail_all(&pending);
            })
        };
        Ok(Conn {
            tx,
            pending,
            alive,
            tasks: vec![writer, reader],
        })
    }

    /// Sends a request and waits for its response.
    pub(crate) async fn call(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let conn = self.connection(timeout).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = wire::encode_frame(id, &req)
            .map_err(|e| CallError::Unreachable(self.target, e.to_string()))?;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = conn.pending.lock() {
            p.insert(id, tx);
        }
        if !conn.alive.load(Ordering::Acquire) || conn.tx.send(frame).await.is_err() {
            self.forget(&conn, id);
            return Err(CallError::Closed(self.target, "connection closed".into()));
        }
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(CallError::Closed(self.target, "connection closed".into())),
            Err(_) => {
                self.forget(&conn, id);
                Err(CallError::Timeout(self.target, timeout))
            }
        }
    }

    /// Sends a one-way request (a snapshot chunk) on the current connection.
    pub(crate) async fn send_oneway(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Result<(), CallError> {
        let conn = self.connection(timeout).await?;
        let frame = wire::encode_frame(0, &req)
            .map_err(|e| CallError::Unreachable(self.target, e.to_string()))?;
        match tokio::time::timeout(timeout, conn.tx.send(frame)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(CallError::Closed(self.target, "connection closed".into())),
            Err(_) => Err(CallError::Timeout(self.target, timeout)),
        }
    }

    /// Drops the current connection (the next call reconnects).
    pub(crate) async fn reset(&self) {
        *self.conn.lock().await = None;
    }

    fn forget(&self, conn: &Conn, id: u64) {
        if let Ok(mut p) = conn.pending.lock() {
            p.remove(&id);
        }
    }
}

fn fail_all(pending: &Pending) {
    if let Ok(mut p) = pending.lock() {
        p.clear();
    }
}
