//! Session states, as a current value and as a lossless stream of changes.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

/// The state of a client's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// Not yet connected, or connection lost; the session may still be alive on the server.
    Disconnected,
    /// Connected to a read-write server.
    Connected,
    /// Connected to a read-only server (only with `read_only(true)`).
    ConnectedReadOnly,
    /// The session expired on the server (terminal).
    Expired,
    /// Authentication failed (terminal).
    AuthFailed,
    /// The client was closed (terminal).
    Closed,
}

impl SessionState {
    /// Whether the client can never reconnect from this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Expired | Self::AuthFailed | Self::Closed)
    }

    /// Whether requests can be served now.
    pub fn is_connected(self) -> bool {
        matches!(self, Self::Connected | Self::ConnectedReadOnly)
    }
}

/// What the connection task shares with the handles: the session and its state.
#[derive(Debug)]
pub(crate) struct Shared {
    inner: Mutex<SharedInner>,
}

#[derive(Debug)]
struct SharedInner {
    state: SessionState,
    session_id: i64,
    timeout_ms: i32,
    last_zxid: i64,
    subscribers: Vec<mpsc::UnboundedSender<SessionState>>,
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(SharedInner {
                state: SessionState::Disconnected,
                session_id: 0,
                timeout_ms: 0,
                last_zxid: 0,
                subscribers: Vec::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SharedInner> {
        // A poisoned lock only means a panic elsewhere while holding it; the data is plain.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn state(&self) -> SessionState {
        self.lock().state
    }

    pub(crate) fn set_state(&self, s: SessionState) {
        let mut g = self.lock();
        if g.state == s {
            return;
        }
        g.state = s;
        g.subscribers.retain(|tx| tx.send(s).is_ok());
        if s.is_terminal() {
            g.subscribers.clear();
        }
    }

    pub(crate) fn set_session(&self, id: i64, timeout_ms: i32) {
        let mut g = self.lock();
        g.session_id = id;
        g.timeout_ms = timeout_ms;
    }

    pub(crate) fn session(&self) -> (i64, i32) {
        let g = self.lock();
        (g.session_id, g.timeout_ms)
    }

    pub(crate) fn set_last_zxid(&self, z: i64) {
        self.lock().last_zxid = z;
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.lock().last_zxid
    }

    pub(crate) fn subscribe(&self) -> StateStream {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut g = self.lock();
        let _ = tx.send(g.state);
        if !g.state.is_terminal() {
            g.subscribers.push(tx);
        }
        StateStream { rx }
    }
}

/// Every session state change, starting with the current state; ends after a terminal state.
#[derive(Debug)]
pub struct StateStream {
    rx: mpsc::UnboundedReceiver<SessionState>,
}

impl Stream for StateStream {
    type Item = SessionState;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionState>> {
        self.rx.poll_recv(cx)
    }
}
