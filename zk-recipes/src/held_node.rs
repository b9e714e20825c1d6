//! Watching a node we hold (a semaphore lease) and our session, and reporting the holder's
//! [`LockState`] under an [`ErrorPolicy`]: Held while connected, Suspended while disconnected
//! (only under [`ErrorPolicy::Session`]), Lost when the session ends, when a disconnection
//! counts as a loss, or when the node is deleted, Released when the holder lets go.
//!
//! Under [`ErrorPolicy::Session`], a disconnection that lasts a whole (negotiated) session
//! timeout is a loss too: the server has expired the session by then (or will at its next
//! tick) even if the client cannot hear it yet. Curator injects a session expiration at the
//! same point.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use zk_core::{Client, EventType};

use crate::state::{ErrorPolicy, LockState};

/// The holder's side of a monitored node: the state channel and the monitor's stop signal.
#[derive(Debug)]
pub(crate) struct HeldNode {
    tx: Arc<watch::Sender<LockState>>,
    rx: watch::Receiver<LockState>,
    /// Dropping it stops the monitor task.
    _stop: oneshot::Sender<()>,
}

impl HeldNode {
    /// Starts monitoring `node` (held by `client`'s session) in a background task.
    pub(crate) fn spawn(client: Client, node: String, policy: ErrorPolicy) -> Self {
        let (tx, rx) = watch::channel(LockState::Held);
        let tx = Arc::new(tx);
        let (stop_tx, stop_rx) = oneshot::channel();
        tokio::spawn(monitor(client, node, policy, tx.clone(), stop_rx));
        Self {
            tx,
            rx,
            _stop: stop_tx,
        }
    }

    /// A receiver of the state, for [`crate::state::watch_stream`] and waiting.
    pub(crate) fn receiver(&self) -> watch::Receiver<LockState> {
        self.rx.clone()
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

async fn monitor(
    client: Client,
    node: String,
    policy: ErrorPolicy,
    tx: Arc<watch::Sender<LockState>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut states = client.state_stream();
    let mut node_watch = None;
    // While suspended: when the session must be taken as expired.
    let mut expires: Option<Instant> = None;
    loop {
        if node_watch.is_none() && client.state().is_connected() {
            match client.exists_w(&node).await {
                Ok((Some(_), w)) => node_watch = Some(w),
                Ok((None, _)) => {
                    tracing::warn!(%node, "held node is gone");
                    return set_terminal(&tx, LockState::Lost);
                }
                // Disconnected meanwhile: the state stream says so; watch again once back.
                Err(_) => {}
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            s = states.next() => match s {
                None => return set_terminal(&tx, LockState::Lost),
                Some(s) if policy.is_lost(s) => {
                    tracing::warn!(%node, state = ?s, "held node lost");
                    return set_terminal(&tx, LockState::Lost);
                }
                Some(s) => {
                    let new = if s.is_connected() { LockState::Held } else { LockState::Suspended };
                    if s.is_connected() {
                        expires = None;
                    } else if expires.is_none() {
                        expires = Some(Instant::now() + client.session_timeout());
                    }
                    tx.send_if_modified(|cur| {
                        let changed = !cur.is_terminal() && *cur != new;
                        if changed {
                            *cur = new;
                        }
                        changed
                    });
                }
            },
            _ = tokio::time::sleep_until(expires.unwrap_or_else(Instant::now)), if expires.is_some() => {
                tracing::warn!(%node, "disconnected for a whole session timeout; held node lost");
                return set_terminal(&tx, LockState::Lost);
            }
            ev = async { node_watch.as_mut().expect("guarded").await }, if node_watch.is_some() => {
                node_watch = None;
                if matches!(ev.event_type, EventType::NodeDeleted | EventType::None) {
                    tracing::warn!(%node, event = ?ev.event_type, "held node lost");
                    return set_terminal(&tx, LockState::Lost);
                }
            }
        }
    }
}
