//! A re-entrant distributed lock with Curator's `InterProcessMutex` layout.
//!
//! Each contender creates `{path}/_c_<uuid>-lock-<seq10>` (EPHEMERAL_SEQUENTIAL, protected
//! mode, container parents). The lowest sequence holds the lock; every other contender
//! getData-watches only its predecessor, so a release wakes one waiter (no herd). Rust and
//! Java (Curator) processes can share a lock path.

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;
use zk_core::{Client, Error};

use crate::lock_internals::{LockGuard, LockInternals, StandardDriver};
use crate::retry::RetryPolicy;
use crate::state::{ErrorPolicy, LockState};

/// Curator's lock name for mutexes (and LeaderSelector, and the semaphore's internal lock).
pub const LOCK_NAME: &str = "lock-";

/// A distributed mutex on one path; see the module docs.
///
/// Re-entrant per handle: while a guard from this handle is alive, `acquire` on the same
/// handle succeeds at once and returns another guard for the same node; the node is deleted
/// when the last guard is released. Use one handle per logical owner (task); share a handle
/// only between tasks that may hold the lock together.
#[derive(Debug)]
pub struct InterProcessMutex {
    inner: Arc<LockInternals>,
}

impl InterProcessMutex {
    /// A mutex on `path` (the lock's directory) using `client`'s session, with the default
    /// retry policy and [`ErrorPolicy::Standard`]. Nothing is sent until the first acquire.
    pub fn new(client: Client, path: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(LockInternals::new(
                client,
                path.into(),
                Box::new(StandardDriver {
                    lock_name: LOCK_NAME,
                }),
                1,
                Arc::default(),
            )),
        }
    }

    fn inner_mut(&mut self) -> &mut LockInternals {
        Arc::get_mut(&mut self.inner).expect("configured before first use")
    }

    /// Sets the retry policy for operations that fail with connection loss.
    ///
    /// # Panics
    /// When a guard of this handle is alive.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.inner_mut().retry = retry;
        self
    }

    /// Sets the error policy that decides when a held lock counts as lost.
    ///
    /// # Panics
    /// When a guard of this handle is alive.
    pub fn with_error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.inner_mut().policy = policy;
        self
    }

    /// Sets the data stored in our lock node (Curator stores the host address by default).
    /// Revocable locks store empty data instead, as in Curator.
    ///
    /// # Panics
    /// When a guard of this handle is alive.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.inner_mut().data = data.into();
        self
    }

    /// Makes the lock revocable (Curator's `makeRevocable`): from the next acquire that
    /// creates a node on, our node is created with empty data and watched while held, and
    /// when someone writes [`crate::revoker::REVOKE_MESSAGE`] into it (with
    /// [`crate::revoker::attempt_revoke`] or Curator's `Revoker.attemptRevoke`) the guard
    /// reports it ([`MutexGuard::revocation_requested`]). The node is also read once right
    /// after acquiring, so a request made while we waited is not missed. Revocation is
    /// cooperative: releasing is up to the holder. A lock held when this is called stays
    /// not revocable until it is released.
    pub fn make_revocable(&self) {
        self.inner.make_revocable();
    }

    /// Whether [`InterProcessMutex::make_revocable`] was called.
    pub fn is_revocable(&self) -> bool {
        self.inner.is_revocable()
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        self.inner.path()
    }

    /// Whether a guard of this handle is alive.
    pub fn is_held_by_this_handle(&self) -> bool {
        self.inner.is_held()
    }

    /// Waits until the lock is ours.
    ///
    /// # Errors
    /// Session expired or closed, or connection errors once the retry policy gives up.
    ///
    /// # Cancellation safety
    /// Safe: a contender node created by a cancelled acquire is deleted in the background.
    pub async fn acquire(&self) -> Result<MutexGuard, Error> {
        match self.inner.acquire(None).await? {
            Some(core) => Ok(MutexGuard { core }),
            None => Err(Error::InvalidArgument(
                "acquire without a deadline timed out".into(),
            )),
        }
    }

    /// Waits at most `timeout` for the lock; `Ok(None)` when it is not ours by then.
    ///
    /// # Errors
    /// As [`InterProcessMutex::acquire`].
    ///
    /// # Cancellation safety
    /// As [`InterProcessMutex::acquire`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<MutexGuard>, Error> {
        let core = self.inner.acquire(Some(Instant::now() + timeout)).await?;
        Ok(core.map(|core| MutexGuard { core }))
    }

    /// Takes the lock only if nobody holds it or waits for it ahead of us.
    ///
    /// # Errors
    /// As [`InterProcessMutex::acquire`].
    pub async fn try_acquire(&self) -> Result<Option<MutexGuard>, Error> {
        let core = self.inner.acquire(Some(Instant::now())).await?;
        Ok(core.map(|core| MutexGuard { core }))
    }

    /// The lock nodes of every contender, holder first (full paths).
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn participant_nodes(&self) -> Result<Vec<String>, Error> {
        self.inner.participant_nodes().await
    }
}

/// Proof that the lock is held; releases it when dropped (or with [`MutexGuard::release`]).
///
/// The release deletes our node, retried until confirmed or until the session is gone.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct MutexGuard {
    core: LockGuard,
}

impl MutexGuard {
    /// The fencing token: the czxid of our lock node. Successive holders of a lock path get
    /// strictly increasing tokens, so a resource can reject writes from an old holder.
    pub fn fencing_token(&self) -> i64 {
        self.core.fencing_token()
    }

    /// The full path of our lock node.
    pub fn node_path(&self) -> &str {
        self.core.node_path()
    }

    /// The lock's current state.
    pub fn state(&self) -> LockState {
        self.core.state()
    }

    /// Whether the lock is still ours (Held; Suspended counts as not sure, so `false`).
    pub fn is_held(&self) -> bool {
        self.state() == LockState::Held
    }

    /// Every state change, starting with the current state; ends after a terminal state.
    pub fn states(&self) -> impl Stream<Item = LockState> + Send + Unpin {
        self.core.states()
    }

    /// Resolves when the lock is lost (or released).
    ///
    /// # Cancellation safety
    /// Safe: it only reads the state.
    pub async fn lost(&self) -> LockState {
        self.core.lost().await
    }

    /// Whether someone asked us to release the lock (always `false` unless the handle was
    /// made revocable before this lock was acquired; see
    /// [`InterProcessMutex::make_revocable`]).
    pub fn is_revocation_requested(&self) -> bool {
        self.core.is_revocation_requested()
    }

    /// Resolves once someone asks us to release the lock (at once if that already happened).
    /// Never resolves when the lock is not revocable, or when it is released or lost before a
    /// request arrives: wait for it together with [`MutexGuard::lost`].
    ///
    /// # Cancellation safety
    /// Safe: it only reads the state; a request seen once stays seen.
    pub async fn revocation_requested(&self) {
        self.core.revocation_requested().await
    }

    /// Releases this guard and, if it was the last one of its handle, deletes our node and
    /// waits until the delete is confirmed (or the session is gone).
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error (then the server removes
    /// the node with the session).
    ///
    /// # Cancellation safety
    /// Safe: if the future is dropped before the delete is confirmed, the delete goes on in
    /// the background.
    pub async fn release(self) -> Result<(), Error> {
        self.core.release().await
    }
}
