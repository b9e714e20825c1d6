//! A counting semaphore with Curator's `InterProcessSemaphoreV2` layout, and the semaphore
//! mutex (`InterProcessSemaphoreMutex`: the same with one lease, not re-entrant).
//!
//! Leases are `{path}/leases/_c_<uuid>-lease-<seq10>` (EPHEMERAL_SEQUENTIAL, protected mode);
//! an [`InterProcessMutex`] at `{path}/locks` serializes acquirers. Curator's algorithm: take
//! the internal lock, create our lease node, list the leases with a watch, keep the lease once
//! there are at most `max_leases` of them (otherwise wait for a change and list again), then
//! release the internal lock. Rust and Java (Curator) processes can share a semaphore path.
//!
//! The maximum is fixed ([`InterProcessSemaphoreV2::new`]) or read from a [`SharedCount`]
//! ([`InterProcessSemaphoreV2::with_shared_count`], Curator's `SharedCountReader`
//! constructor): a waiter checks again whenever the count changes, so raising it lets waiters
//! in; lowering it revokes nothing but keeps new acquirers out until enough leases are
//! returned. A count of 0 or less grants no lease.
//!
//! Each [`Lease`] reports its state ([`Lease::states`], [`Lease::lost`]) like a mutex guard:
//! Held, Suspended (disconnected, under [`ErrorPolicy::Session`]), Lost (session gone, a
//! disconnection under [`ErrorPolicy::Standard`], or our lease node deleted), Released.

use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use zk_core::{Client, Error};

use crate::held_node::HeldNode;
use crate::mutex::InterProcessMutex;
use crate::protected::{
    create_protected, guaranteed_delete, join, node_name, spawn_guaranteed_delete,
};
use crate::retry::RetryPolicy;
use crate::shared_count::{SharedCount, VersionedCount};
use crate::state::{watch_stream, ErrorPolicy, LockState};

/// Curator's lease node name.
pub const LEASE_NAME: &str = "lease-";
/// The child directory holding the leases.
pub const LEASES_DIR: &str = "leases";
/// The child directory holding the internal mutex.
pub const LOCKS_DIR: &str = "locks";

/// A distributed semaphore with a fixed or shared-count number of leases; see the module
/// docs.
#[derive(Debug, Clone)]
pub struct InterProcessSemaphoreV2 {
    client: Client,
    path: String,
    max: MaxLeases,
    data: Vec<u8>,
    retry: RetryPolicy,
    policy: ErrorPolicy,
}

#[derive(Debug, Clone)]
enum MaxLeases {
    Fixed(usize),
    Shared(SharedCount),
}

/// The number of leases a count allows (none for 0 or less).
fn leases_of(count: VersionedCount) -> usize {
    usize::try_from(count.count()).unwrap_or(0)
}

impl InterProcessSemaphoreV2 {
    /// A semaphore on `path` with `max_leases` leases, using `client`'s session.
    ///
    /// # Panics
    /// When `max_leases` is 0.
    pub fn new(client: Client, path: impl Into<String>, max_leases: usize) -> Self {
        assert!(max_leases > 0, "max_leases must be at least 1");
        Self {
            client,
            path: path.into(),
            max: MaxLeases::Fixed(max_leases),
            data: Vec::new(),
            retry: RetryPolicy::default(),
            policy: ErrorPolicy::default(),
        }
    }

    /// A semaphore on `path` whose number of leases is `count`'s value (Curator's constructor
    /// taking a `SharedCountReader`), using `client`'s session. Start the count before
    /// acquiring; waiters check again whenever it changes. After the count is closed (or its
    /// session ends) its last value is used.
    pub fn with_shared_count(client: Client, path: impl Into<String>, count: SharedCount) -> Self {
        Self {
            client,
            path: path.into(),
            max: MaxLeases::Shared(count),
            data: Vec::new(),
            retry: RetryPolicy::default(),
            policy: ErrorPolicy::default(),
        }
    }

    /// Sets the error policy that decides when a held lease counts as lost
    /// ([`Lease::states`]).
    pub fn with_error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the retry policy for operations that fail with connection loss.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the data stored in our lease nodes.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// The semaphore's directory.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The number of leases now (for a shared count, its current local value; 0 when the
    /// count is 0 or less).
    pub fn max_leases(&self) -> usize {
        match &self.max {
            MaxLeases::Fixed(n) => *n,
            MaxLeases::Shared(c) => leases_of(c.versioned()),
        }
    }

    /// The shared count this semaphore reads its maximum from, if any.
    pub fn shared_count(&self) -> Option<&SharedCount> {
        match &self.max {
            MaxLeases::Fixed(_) => None,
            MaxLeases::Shared(c) => Some(c),
        }
    }

    fn leases_dir(&self) -> String {
        join(&self.path, LEASES_DIR)
    }

    /// The lease nodes present now (full paths, unordered), holders and waiters alike.
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn participant_nodes(&self) -> Result<Vec<String>, Error> {
        let dir = self.leases_dir();
        match self.client.get_children(&dir).await {
            Ok(c) => Ok(c.iter().map(|c| join(&dir, c)).collect()),
            Err(Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Waits until a lease is ours.
    ///
    /// # Errors
    /// Session expired or closed, or connection errors once the retry policy gives up;
    /// [`Error::InvalidArgument`] when the shared count was never started.
    ///
    /// # Cancellation safety
    /// Safe: a lease node of a cancelled acquire is deleted in the background.
    pub async fn acquire(&self) -> Result<Lease, Error> {
        self.acquire_inner(None)
            .await?
            .ok_or_else(|| Error::InvalidArgument("acquire without deadline timed out".into()))
    }

    /// Waits at most `timeout` for a lease; `Ok(None)` when none is ours by then.
    ///
    /// # Errors
    /// As [`InterProcessSemaphoreV2::acquire`].
    ///
    /// # Cancellation safety
    /// As [`InterProcessSemaphoreV2::acquire`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<Lease>, Error> {
        self.acquire_inner(Some(Instant::now() + timeout)).await
    }

    async fn acquire_inner(&self, deadline: Option<Instant>) -> Result<Option<Lease>, Error> {
        if let MaxLeases::Shared(c) = &self.max {
            if c.versioned().version() < 0 {
                return Err(Error::InvalidArgument(format!(
                    "the shared count at {} was never started",
                    c.path()
                )));
            }
        }
        // A fresh handle per acquire: the internal lock must not be re-entered.
        let internal = InterProcessMutex::new(self.client.clone(), join(&self.path, LOCKS_DIR))
            .with_retry(self.retry.clone());
        let guard = match deadline {
            None => internal.acquire().await?,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                match internal.acquire_timeout(left).await? {
                    Some(g) => g,
                    None => return Ok(None),
                }
            }
        };
        let result = self.lease_under_lock(deadline).await;
        // Release the internal lock whatever happened (a drop would do it in the background).
        let released = guard.release().await;
        let lease = result?;
        released?;
        Ok(lease)
    }

    async fn lease_under_lock(&self, deadline: Option<Instant>) -> Result<Option<Lease>, Error> {
        let dir = self.leases_dir();
        let mut count = match &self.max {
            MaxLeases::Fixed(_) => None,
            MaxLeases::Shared(c) => Some(c.subscribe()),
        };
        let mut delays = self.retry.delays();
        loop {
            let (node, _) =
                create_protected(&self.client, &dir, LEASE_NAME, &self.data, &self.retry).await?;
            // Deletes the node unless disarmed: on errors, timeouts and cancellation.
            let mut pending = PendingLease {
                client: self.client.clone(),
                node: Some(node),
                retry: self.retry.clone(),
            };
            let node = pending.node.clone().unwrap_or_default();
            let ours = node_name(&node).to_string();
            loop {
                // Read the maximum before listing, so a change after this read wakes us.
                let max = match (&self.max, count.as_mut()) {
                    (MaxLeases::Fixed(n), _) => *n,
                    (_, Some(rx)) => leases_of(*rx.borrow_and_update()),
                    (MaxLeases::Shared(c), None) => leases_of(c.versioned()),
                };
                let (children, watcher) =
                    self.retry.run(|| self.client.get_children_w(&dir)).await?;
                if !children.contains(&ours) {
                    break; // Our lease vanished: start again, like Curator.
                }
                if children.len() <= max {
                    tracing::debug!(%node, max, "lease acquired");
                    pending.node = None;
                    return Ok(Some(Lease {
                        state: HeldNode::spawn(self.client.clone(), node.clone(), self.policy),
                        client: self.client.clone(),
                        node,
                        retry: self.retry.clone(),
                        released: false,
                    }));
                }
                // Wake on a change of the leases or of the count (Curator's notifyAll).
                let wake = async {
                    tokio::select! {
                        _ = watcher => false,
                        closed = count_changed(&mut count) => closed,
                    }
                };
                let count_closed = match deadline {
                    None => wake.await,
                    Some(d) => match tokio::time::timeout_at(d, wake).await {
                        Ok(closed) => closed,
                        Err(_) => {
                            pending.node = None;
                            guaranteed_delete(&self.client, &node, &self.retry).await?;
                            return Ok(None);
                        }
                    },
                };
                if count_closed {
                    count = None; // The count is closed: its last value stays.
                }
            }
            pending.node = None;
            match delays.next() {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(Error::NoNode),
            }
        }
    }
}

/// Resolves when the count changes (`false`) or its channel closes (`true`); never without a
/// count.
async fn count_changed(count: &mut Option<watch::Receiver<VersionedCount>>) -> bool {
    match count {
        Some(rx) => rx.changed().await.is_err(),
        None => std::future::pending().await,
    }
}

/// A lease node not (yet) handed out; deleted in the background when dropped armed.
struct PendingLease {
    client: Client,
    node: Option<String>,
    retry: RetryPolicy,
}

impl Drop for PendingLease {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            spawn_guaranteed_delete(self.client.clone(), node, self.retry.clone());
        }
    }
}

/// One lease of a semaphore; returned when dropped (or with [`Lease::release`]).
///
/// The lease reports its state like a mutex guard ([`Lease::states`]): the semaphore's
/// [`ErrorPolicy`] decides whether a disconnection already counts as lost.
#[derive(Debug)]
#[must_use = "the lease is returned when it is dropped"]
pub struct Lease {
    client: Client,
    node: String,
    retry: RetryPolicy,
    state: HeldNode,
    released: bool,
}

impl Lease {
    /// The full path of our lease node.
    pub fn node_path(&self) -> &str {
        &self.node
    }

    /// The lease's current state.
    pub fn state(&self) -> LockState {
        self.state.state()
    }

    /// Whether the lease is still ours (Held; Suspended counts as not sure, so `false`).
    pub fn is_held(&self) -> bool {
        self.state() == LockState::Held
    }

    /// Every state change, starting with the current state; ends after a terminal state.
    pub fn states(&self) -> impl Stream<Item = LockState> + Send + Unpin {
        let states = watch_stream(self.state.receiver());
        Box::pin(futures::stream::unfold(
            (states, false),
            |(mut states, ended)| async move {
                if ended {
                    return None;
                }
                let s = states.next().await?;
                Some((s, (states, s.is_terminal())))
            },
        ))
    }

    /// Resolves when the lease is lost (or released).
    ///
    /// # Cancellation safety
    /// Safe.
    pub async fn lost(&self) -> LockState {
        let mut rx = self.state.receiver();
        let s = match rx.wait_for(|s| s.is_terminal()).await {
            Ok(s) => *s,
            Err(_) => LockState::Lost,
        };
        s
    }

    /// Returns the lease: deletes our node and waits until the delete is confirmed (or the
    /// session is gone).
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error.
    ///
    /// # Cancellation safety
    /// Not safe: a cancelled release leaves the node to the session's end; drop the lease
    /// instead to return it in the background.
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        self.state.released();
        guaranteed_delete(&self.client, &self.node, &self.retry).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
            self.state.released();
            spawn_guaranteed_delete(self.client.clone(), self.node.clone(), self.retry.clone());
        }
    }
}

/// A mutex built on a one-lease [`InterProcessSemaphoreV2`] (Curator's
/// `InterProcessSemaphoreMutex`, same layout). Not re-entrant: a second acquire waits for the
/// first lease to be returned, even on the same handle.
#[derive(Debug, Clone)]
pub struct InterProcessSemaphoreMutex {
    sem: InterProcessSemaphoreV2,
}

impl InterProcessSemaphoreMutex {
    /// A semaphore mutex on `path` using `client`'s session.
    pub fn new(client: Client, path: impl Into<String>) -> Self {
        Self {
            sem: InterProcessSemaphoreV2::new(client, path, 1),
        }
    }

    /// Sets the retry policy for operations that fail with connection loss.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.sem = self.sem.with_retry(retry);
        self
    }

    /// Sets the error policy that decides when a held mutex counts as lost.
    pub fn with_error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.sem = self.sem.with_error_policy(policy);
        self
    }

    /// The mutex's directory.
    pub fn path(&self) -> &str {
        self.sem.path()
    }

    /// Waits until the mutex is ours.
    ///
    /// # Errors
    /// As [`InterProcessSemaphoreV2::acquire`].
    pub async fn acquire(&self) -> Result<Lease, Error> {
        self.sem.acquire().await
    }

    /// Waits at most `timeout` for the mutex; `Ok(None)` when it is not ours by then.
    ///
    /// # Errors
    /// As [`InterProcessSemaphoreV2::acquire`].
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<Lease>, Error> {
        self.sem.acquire_timeout(timeout).await
    }
}
