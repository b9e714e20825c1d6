//! The replicated state as this server holds it: the DataTree (applied in log order), this
//! server's watches and connections, and the requests waiting for their entry to be applied.
//!
//! `apply` runs under the tree's write lock and pushes watch events and write replies into the
//! connections' outgoing queues while holding it; reads take the read lock and flush their
//! connection's queue first, so on every connection replies and events appear in the order the
//! changes happened.

use hashbrown::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::error;
use zk_core::proto::{ErrorCode, OpCode, Response};

use crate::net::reply;
use crate::raft::ApplyTarget;
use crate::session::tracker::SessionTracker;
use crate::tree::{Applied, DataTree};
use crate::txn::batch::{zxid, Batch};
use crate::txn::{AuthId, TxnOp};
use crate::watch::WatchManager;

/// What a connection task receives besides client requests.
#[derive(Debug)]
pub enum Outgoing {
    /// A frame to write (a watch notification).
    Frame(Bytes),
    /// The reply to one of this connection's pending writes (or sync); `close` after writing
    /// it (closeSession).
    Done {
        /// The reply frame.
        frame: Bytes,
        /// Close the connection after this reply.
        close: bool,
    },
    /// Close the connection now (session expired or moved).
    Close,
}

/// Who waits for a proposed transaction.
#[derive(Debug)]
pub enum Waiter {
    /// A client request on connection `conn`.
    Reply {
        /// Connection id.
        conn: u64,
        /// The request's xid.
        xid: i32,
        /// The opcode (closeSession closes the connection after its reply).
        op: OpCode,
    },
    /// Server-side code (the handshake of a new session), told the outcome and zxid.
    Signal(oneshot::Sender<(i64, Result<Response, ErrorCode>)>),
}

#[derive(Debug)]
struct Conn {
    session_id: i64,
    /// The connection's ids, for the READ check before a watch event is delivered.
    auth: Arc<Vec<AuthId>>,
    tx: mpsc::UnboundedSender<Outgoing>,
}

/// See the module docs.
#[derive(Debug)]
pub struct ZkState {
    server_id: u64,
    tree: RwLock<DataTree>,
    watches: Mutex<WatchManager>,
    conns: Mutex<HashMap<u64, Conn>>,
    waiters: Mutex<HashMap<u64, Waiter>>,
    last_zxid: AtomicI64,
    applied: watch::Sender<u64>,
    /// The leader's session deadlines.
    pub sessions: SessionTracker,
    tick_ms: i64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ZkState {
    /// A state around `tree`.
    pub fn new(server_id: u64, tree: DataTree, tick_ms: i64) -> Self {
        Self {
            server_id,
            tree: RwLock::new(tree),
            watches: Mutex::new(WatchManager::default()),
            conns: Mutex::new(HashMap::new()),
            waiters: Mutex::new(HashMap::new()),
            last_zxid: AtomicI64::new(0),
            applied: watch::channel(0).0,
            sessions: SessionTracker::default(),
            tick_ms,
        }
    }

    /// The tree for reading.
    pub fn read(&self) -> RwLockReadGuard<'_, DataTree> {
        self.tree.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, DataTree> {
        self.tree.write().unwrap_or_else(|e| e.into_inner())
    }

    /// This server's watches (lock after the tree).
    pub fn watches(&self) -> MutexGuard<'_, WatchManager> {
        lock(&self.watches)
    }

    /// The zxid of the last applied transaction.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Acquire)
    }

    /// The last applied log index, as a watch.
    pub fn applied(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Registers a connection's outgoing queue.
    pub fn add_conn(
        &self,
        conn: u64,
        session_id: i64,
        auth: Arc<Vec<AuthId>>,
        tx: mpsc::UnboundedSender<Outgoing>,
    ) {
        let mut conns = lock(&self.conns);
        // A session lives on one connection: an older one is closed (Apache closes it too).
        for (_, c) in conns.iter().filter(|(_, c)| c.session_id == session_id) {
            let _ = c.tx.send(Outgoing::Close);
        }
        conns.insert(
            conn,
            Conn {
                session_id,
                auth,
                tx,
            },
        );
    }

    /// Records a connection's ids after addAuth.
    pub fn set_conn_auth(&self, conn: u64, auth: Arc<Vec<AuthId>>) {
        if let Some(c) = lock(&self.conns).get_mut(&conn) {
            c.auth = auth;
        }
    }

    /// Forgets a connection and its watches.
    pub fn remove_conn(&self, conn: u64) {
        lock(&self.conns).remove(&conn);
        self.watches().remove_connection(conn);
    }

    /// The session a connection serves (for the 4lw watch dumps).
    pub fn conn_session(&self, conn: u64) -> Option<i64> {
        lock(&self.conns).get(&conn).map(|c| c.session_id)
    }

    /// Closes every client connection (the server stops serving); returns how many.
    pub fn close_all_conns(&self) -> usize {
        let conns = lock(&self.conns);
        for c in conns.values() {
            let _ = c.tx.send(Outgoing::Close);
        }
        conns.len()
    }

    /// Whether a connection of this server serves `session_id`.
    pub fn serves_session(&self, session_id: i64) -> bool {
        lock(&self.conns)
            .values()
            .any(|c| c.session_id == session_id)
    }

    /// Number of open client connections.
    pub fn conn_count(&self) -> usize {
        lock(&self.conns).len()
    }

    /// Registers who waits for the transaction with this request id.
    pub fn add_waiter(&self, request_id: u64, w: Waiter) {
        lock(&self.waiters).insert(request_id, w);
    }

    /// Fails a waiter whose proposal could not be made (its connection is closed: the client
    /// cannot know whether the write happened, as with a lost connection).
    pub fn fail_waiter(&self, request_id: u64) {
        let w = lock(&self.waiters).remove(&request_id);
        match w {
            Some(Waiter::Reply { conn, .. }) => {
                if let Some(c) = lock(&self.conns).get(&conn) {
                    let _ = c.tx.send(Outgoing::Close);
                }
            }
            Some(Waiter::Signal(tx)) => {
                let _ = tx.send((self.last_zxid(), Err(ErrorCode::ConnectionLoss)));
            }
            None => {}
        }
    }

    fn apply_batch(&self, index: u64, batch: Option<&Batch>) {
        let mut tree = self.write();
        let Some(batch) = batch else {
            // Recorded under the lock, so a snapshot never claims less than it holds.
            self.applied.send_replace(index);
            return;
        };
        let mut watches = self.watches();
        let conns = lock(&self.conns);
        let mut waiters = lock(&self.waiters);
        for (i, txn) in batch.txns.iter().enumerate() {
            let z = zxid(index, i);
            let Applied { reply, events } = tree.apply(z, txn);
            self.last_zxid.store(z, Ordering::Release);
            for node_event in &events {
                for (conn, ev) in watches.fire(std::slice::from_ref(node_event)) {
                    let Some(c) = conns.get(&conn) else { continue };
                    // The watch is used up either way; only readers are told (Apache 3.8).
                    if let Some(acl) = &node_event.acl {
                        if !tree.may_read(acl, &c.auth) {
                            continue;
                        }
                    }
                    let _ = c.tx.send(Outgoing::Frame(reply::notification(&ev)));
                }
            }
            match &txn.op {
                TxnOp::CreateSession { timeout_ms } if reply.is_ok() => {
                    self.sessions
                        .track(txn.session_id, *timeout_ms, txn.time_ms, self.tick_ms);
                }
                TxnOp::CloseSession => {
                    self.sessions.remove(txn.session_id);
                    let closer = match waiters.get(&txn.origin.request_id) {
                        Some(Waiter::Reply { conn, .. })
                            if txn.origin.server_id == self.server_id =>
                        {
                            Some(*conn)
                        }
                        _ => None,
                    };
                    for (id, c) in conns.iter() {
                        if c.session_id == txn.session_id && Some(*id) != closer {
                            let _ = c.tx.send(Outgoing::Close);
                        }
                    }
                }
                _ => {}
            }
            if txn.origin.server_id != self.server_id {
                continue;
            }
            match waiters.remove(&txn.origin.request_id) {
                Some(Waiter::Reply { conn, xid, op }) => {
                    if let Some(c) = conns.get(&conn) {
                        let _ = c.tx.send(Outgoing::Done {
                            frame: reply::frame(xid, z, &reply),
                            close: op == OpCode::CloseSession,
                        });
                    }
                }
                Some(Waiter::Signal(tx)) => {
                    let _ = tx.send((z, reply));
                }
                None => {}
            }
        }
        self.applied.send_replace(index);
    }
}

impl ApplyTarget for ZkState {
    fn apply(&self, index: u64, payload: &[u8]) -> u64 {
        match Batch::from_bytes(payload) {
            Ok(batch) => {
                self.apply_batch(index, Some(&batch));
                batch.txns.len() as u64
            }
            Err(e) => {
                // Every replica sees the same bytes, so skipping keeps them identical.
                error!(index, error = %e, "log entry is not a transaction batch; skipped");
                self.apply_batch(index, None);
                1
            }
        }
    }

    fn snapshot(&self, out: &mut dyn std::io::Write) -> std::io::Result<u64> {
        // A copy-on-write clone under the lock; writes go on while it is serialized.
        let (tree, index) = {
            let tree = self.read();
            let index = *self.applied.borrow();
            let started = std::time::Instant::now();
            let copy = tree.clone();
            tracing::debug!(
                micros = started.elapsed().as_micros() as u64,
                "tree copied for a snapshot"
            );
            (copy, index)
        };
        tree.write_snapshot(&mut &mut *out)?;
        Ok(index)
    }

    fn touch_sessions(&self, sessions: &[i64]) {
        let now = crate::clock::now_ms();
        for id in sessions {
            self.sessions.touch(*id, now, self.tick_ms);
        }
    }

    fn restore(&self, index: u64, data: &mut dyn std::io::Read) -> Result<(), String> {
        // This server's settings win over the ones stored in the snapshot.
        let config = self.read().config().clone();
        let tree =
            DataTree::read_snapshot_with(&mut &mut *data, config).map_err(|e| e.to_string())?;
        let mut guard = self.write();
        self.last_zxid.store(tree.last_zxid(), Ordering::Release);
        *guard = tree;
        self.applied.send_replace(index);
        Ok(())
    }
}
