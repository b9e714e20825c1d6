//! How recipes read the session's state: the error policy and the per-recipe state value.

use futures::Stream;
use tokio::sync::watch;
use zk_core::SessionState;

/// Which session states count as losing what a recipe holds (Curator's
/// `ConnectionStateErrorPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorPolicy {
    /// A disconnection already counts as lost (Curator's default, `Standard`): safe, because
    /// the session may expire while we cannot hear about it.
    #[default]
    Standard,
    /// Only the end of the session (expiry, close, auth failure) counts as lost; while
    /// disconnected the recipe reports itself suspended (Curator's `Session` policy). A
    /// disconnection that lasts a whole negotiated session timeout counts as the end of the
    /// session (the server has expired it by then), as Curator injects an expiration: locks,
    /// leases and latch leadership are lost at that point even while still cut off.
    Session,
}

impl ErrorPolicy {
    /// Whether `state` means the recipe has lost what it holds.
    pub fn is_lost(self, state: SessionState) -> bool {
        state.is_terminal() || (self == ErrorPolicy::Standard && !state.is_connected())
    }
}

/// The state of a held lock, as reported by [`crate::MutexGuard::states`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// We hold the lock and the session is connected.
    Held,
    /// Disconnected under [`ErrorPolicy::Session`]: the lock is probably still ours, but we
    /// cannot be sure until we reconnect.
    Suspended,
    /// The lock is no longer ours (or can no longer be trusted to be): session expired or
    /// closed, disconnected under [`ErrorPolicy::Standard`], disconnected for a whole
    /// session timeout under [`ErrorPolicy::Session`], or our node was deleted. Terminal.
    Lost,
    /// The guard released the lock. Terminal.
    Released,
}

impl LockState {
    /// Whether no further state can follow.
    pub fn is_terminal(self) -> bool {
        matches!(self, LockState::Lost | LockState::Released)
    }
}

/// The values of a watch channel as a stream, starting with the current one; ends when the
/// sender is gone.
pub(crate) fn watch_stream<T: Clone + Send + Sync + 'static>(
    rx: watch::Receiver<T>,
) -> impl Stream<Item = T> + Send + Unpin {
    Box::pin(futures::stream::unfold(
        (rx, true),
        |(mut rx, first)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let v = rx.borrow_and_update().clone();
            Some((v, (rx, false)))
        },
    ))
}
