//! Watching a node we hold (a lock node of the mutex or either read/write side, a semaphore
//! lease) and our session, and reporting the holder's [`LockState`] under an [`ErrorPolicy`]:
//! Held while connected, Suspended while disconnected (only under [`ErrorPolicy::Session`]),
//! Lost when the session ends, when a disconnection counts as a loss, or when the node is
//! deleted, Released when the holder lets go.
//!
//! Under [`ErrorPolicy::Session`], a disconnection that lasts a whole (negotiated) session
//! timeout is a loss too: the server has expired the session by then (or will at its next
//! tick) even if the client cannot hear it yet, and someone else may hold the node's place.
//! Curator injects a session expiration at the same point. A reconnection before that
//! (with the session alive) makes the holder Held again and starts the count afresh at the
//! next disconnection.
//!
//! For a revocable lock the monitor also notices `__REVOKE__` in the node's data (Curator's
//! `makeRevocable` / `revocableWatcher`: on every data change the node is read again with a
//! new watch).

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use zk_core::{Client, Error, EventType, OneshotWatcher};

use crate::revoker::REVOKE_MESSAGE;
use crate::state::{ErrorPolicy, LockState};

/// What a revocable lock read of its node right after acquiring it: whether a revocation
/// was already requested, and the data watch set by that read.
#[derive(Debug)]
pub(crate) struct FirstRead {
    pub(crate) revoke_requested: bool,
    pub(crate) watch: OneshotWatcher,
}

/// The holder's side of a monitored node: the state and revocation channels and the
/// monitor's stop signal.
#[derive(Debug)]
pub(crate) struct HeldNode {
    tx: Arc<watch::Sender<LockState>>,
    rx: watch::Receiver<LockState>,
    revoke: watch::Receiver<bool>,
    /// Dropping it stops the monitor task.
    _stop: oneshot::Sender<()>,
}

impl HeldNode {
    /// Starts monitoring `node` (held by `client`'s session) in a background task; with
    /// `revocation`, the node's data is also watched for revocation requests.
    pub(crate) fn spawn(
        client: Client,
        node: String,
        policy: ErrorPolicy,
        revocation: Option<FirstRead>,
    ) -> Self {
        let (tx, rx) = watch::channel(LockState::Held);
        let tx = Arc::new(tx);
        let requested = revocation.as_ref().is_some_and(|f| f.revoke_requested);
        let (revoke_tx, revoke_rx) = watch::channel(requested);
        let (stop_tx, stop_rx) = oneshot::channel();
        let revocable = revocation.is_some();
        let m = Monitor {
            client,
            node,
            policy,
            revocable,
            state: tx.clone(),
            revoke: revoke_tx,
        };
        tokio::spawn(monitor(m, revocation.map(|f| f.watch), stop_rx));
        Self {
            tx,
            rx,
            revoke: revoke_rx,
            _stop: stop_tx,
        }
    }

    /// A receiver of the state, for [`crate::state::watch_stream`] and waiting.
    pub(crate) fn receiver(&self) -> watch::Receiver<LockState> {
        self.rx.clone()
    }

    /// A receiver of "a revocation was requested" (always `false` unless revocable).
    pub(crate) fn revoke_receiver(&self) -> watch::Receiver<bool> {
        self.revoke.clone()
    }

    /// The current state.
    pub(crate) fn state(&self) -> LockState {
        *self.rx.borrow()
    }

    /// Reports Released (unless already terminal); the monitor stops when `self` is dropped.
    pub(crate) fn released(&self) {
        set_terminal(&self.tx, LockState::Released);
    }
}

fn set_terminal(tx: &watch::Sender<LockState>, to: LockState) {
    tx.send_if_modified(|s| {
        let changed = !s.is_terminal();
        if changed {
            *s = to;
        }
        changed
    });
}

/// What the monitor task of one held node reports to.
struct Monitor {
    client: Client,
    node: String,
    policy: ErrorPolicy,
    revocable: bool,
    state: Arc<watch::Sender<LockState>>,
    revoke: watch::Sender<bool>,
}

impl Monitor {
    fn lost(&self) {
        set_terminal(&self.state, LockState::Lost);
    }

    fn seen_data(&self, data: &[u8]) {
        if self.revocable && data == REVOKE_MESSAGE && !*self.revoke.borrow() {
            tracing::info!(node = %self.node, "revocation requested");
            self.revoke.send_replace(true);
        }
    }
}

/// Watches the session and our node (getData, so no watch is left on a node already gone)
/// until the node is lost or the holder stops the monitor.
async fn monitor(m: Monitor, first: Option<OneshotWatcher>, mut stop: oneshot::Receiver<()>) {
    let mut states = m.client.state_stream();
    let mut node_watch = first;
    // While disconnected under the Session policy: when the session must be taken as
    // expired.
    let mut expires: Option<Instant> = None;
    loop {
        if node_watch.is_none() && m.client.state().is_connected() {
            match m.client.get_data_w(&m.node).await {
                Ok((data, _, w)) => {
                    m.seen_data(&data);
                    node_watch = Some(w);
                }
                Err(Error::NoNode) => {
                    tracing::warn!(node = %m.node, "held node is gone");
                    return m.lost();
                }
                // Disconnected meanwhile: the state stream says so; watch again once back.
                Err(_) => {}
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            s = states.next() => match s {
                None => return m.lost(),
                Some(s) if m.policy.is_lost(s) => {
                    tracing::warn!(node = %m.node, state = ?s, "held node lost");
                    return m.lost();
                }
                Some(s) => {
                    let new = if s.is_connected() { LockState::Held } else { LockState::Suspended };
                    if s.is_connected() {
                        expires = None;
                    } else if expires.is_none() {
                        expires = Some(Instant::now() + m.client.session_timeout());
                    }
                    m.state.send_if_modified(|cur| {
                        let changed = !cur.is_terminal() && *cur != new;
                        if changed {
                            *cur = new;
                        }
                        changed
                    });
                }
            },
            _ = tokio::time::sleep_until(expires.unwrap_or_else(Instant::now)), if expires.is_some() => {
                tracing::warn!(node = %m.node, "disconnected for a whole session timeout; held node lost");
                return m.lost();
            }
            ev = async { node_watch.as_mut().expect("guarded").await }, if node_watch.is_some() => {
                node_watch = None;
                if matches!(ev.event_type, EventType::NodeDeleted | EventType::None) {
                    tracing::warn!(node = %m.node, event = ?ev.event_type, "held node lost");
                    return m.lost();
                }
                // NodeDataChanged: read it again (with a new watch) at the top of the loop.
            }
        }
    }
}
