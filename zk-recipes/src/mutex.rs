//! A re-entrant distributed lock with Curator's `InterProcessMutex` layout.
//!
//! Each contender creates `{path}/_c_<uuid>-lock-<seq10>` (EPHEMERAL_SEQUENTIAL, protected
//! mode, container parents). The lowest sequence holds the lock; every other contender
//! getData-watches only its predecessor, so a release wakes one waiter (no herd). Rust and
//! Java (Curator) processes can share a lock path.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use zk_core::{Client, Error, EventType};

use crate::protected::{
    create_protected, guaranteed_delete, join, node_name, sort_children, spawn_guaranteed_delete,
};
use crate::retry::RetryPolicy;
use crate::state::{watch_stream, ErrorPolicy, LockState};

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
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    data: Vec<u8>,
    retry: RetryPolicy,
    policy: ErrorPolicy,
    /// Serializes acquires of this handle.
    acquiring: tokio::sync::Mutex<()>,
    held: StdMutex<Option<Held>>,
}

#[derive(Debug)]
struct Held {
    node: String,
    token: i64,
    count: usize,
    state: watch::Receiver<LockState>,
    state_tx: Arc<watch::Sender<LockState>>,
    /// Dropping it stops the monitor task.
    _stop: oneshot::Sender<()>,
}

/// Deletes a contender node unless disarmed (an acquire that failed, timed out or was
/// cancelled).
struct PendingNode {
    client: Client,
    path: Option<String>,
    retry: RetryPolicy,
}

impl Drop for PendingNode {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            spawn_guaranteed_delete(self.client.clone(), p, self.retry.clone());
        }
    }
}

impl InterProcessMutex {
    /// A mutex on `path` (the lock's directory) using `client`'s session, with the default
    /// retry policy and [`ErrorPolicy::Standard`]. Nothing is sent until the first acquire.
    pub fn new(client: Client, path: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                path: path.into(),
                data: Vec::new(),
                retry: RetryPolicy::default(),
                policy: ErrorPolicy::default(),
                acquiring: tokio::sync::Mutex::new(()),
                held: StdMutex::new(None),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
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
    ///
    /// # Panics
    /// When a guard of this handle is alive.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.inner_mut().data = data.into();
        self
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Whether a guard of this handle is alive.
    pub fn is_held_by_this_handle(&self) -> bool {
        lock(&self.inner.held).is_some()
    }

    /// Waits until the lock is ours.
    ///
    /// # Errors
    /// Session expired or closed, or connection errors once the retry policy gives up.
    ///
    /// # Cancellation safety
    /// Safe: a contender node created by a cancelled acquire is deleted in the background.
    pub async fn acquire(&self) -> Result<MutexGuard, Error> {
        match self.acquire_inner(None).await? {
            Some(g) => Ok(g),
            None => unreachable_timeout(),
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
        self.acquire_inner(Some(Instant::now() + timeout)).await
    }

    /// Takes the lock only if nobody holds it or waits for it ahead of us.
    ///
    /// # Errors
    /// As [`InterProcessMutex::acquire`].
    pub async fn try_acquire(&self) -> Result<Option<MutexGuard>, Error> {
        self.acquire_inner(Some(Instant::now())).await
    }

    /// The lock nodes of every contender, holder first (full paths).
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn participant_nodes(&self) -> Result<Vec<String>, Error> {
        let mut children = match self.inner.client.get_children(&self.inner.path).await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        sort_children(&mut children, LOCK_NAME);
        Ok(children.iter().map(|c| join(&self.inner.path, c)).collect())
    }

    async fn acquire_inner(&self, deadline: Option<Instant>) -> Result<Option<MutexGuard>, Error> {
        let inner = &self.inner;
        let _serial = match deadline {
            None => inner.acquiring.lock().await,
            Some(d) => match tokio::time::timeout_at(d, inner.acquiring.lock()).await {
                Ok(g) => g,
                Err(_) => match inner.acquiring.try_lock() {
                    Ok(g) => g,
                    Err(_) => return Ok(None),
                },
            },
        };
        if let Some(g) = self.reenter() {
            return Ok(Some(g));
        }
        let mut delays = inner.retry.delays();
        loop {
            let (node, stat) = create_protected(
                &inner.client,
                &inner.path,
                LOCK_NAME,
                &inner.data,
                &inner.retry,
            )
            .await?;
            let mut pending = PendingNode {
                client: inner.client.clone(),
                path: Some(node.clone()),
                retry: inner.retry.clone(),
            };
            match self.wait_turn(&node, deadline).await {
                Ok(true) => {
                    pending.path = None;
                    return Ok(Some(self.install(node, stat.czxid)));
                }
                Ok(false) => {
                    // Timed out: remove our node now (the drop would do it in the background).
                    pending.path = None;
                    guaranteed_delete(&inner.client, &node, &inner.retry).await?;
                    return Ok(None);
                }
                Err(Error::NoNode) => {
                    // Our node vanished (deleted by someone): start again, like Curator.
                    pending.path = None;
                    match delays.next() {
                        Some(d) => tokio::time::sleep(d).await,
                        None => return Err(Error::NoNode),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until `node` is the lowest contender (`true`) or the deadline passes (`false`).
    /// NoNode means our own node is gone.
    async fn wait_turn(&self, node: &str, deadline: Option<Instant>) -> Result<bool, Error> {
        let inner = &self.inner;
        let ours = node_name(node);
        loop {
            let mut children = inner
                .retry
                .run(|| inner.client.get_children(&inner.path))
                .await?;
            sort_children(&mut children, LOCK_NAME);
            let Some(idx) = children.iter().position(|c| c == ours) else {
                return Err(Error::NoNode);
            };
            if idx == 0 {
                return Ok(true);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            let pred = join(&inner.path, &children[idx - 1]);
            tracing::trace!(%node, %pred, "waiting for predecessor");
            let watcher = match inner.retry.run(|| inner.client.get_data_w(&pred)).await {
                Ok((_, _, w)) => w,
                Err(Error::NoNode) => continue,
                Err(e) => return Err(e),
            };
            match deadline {
                None => {
                    watcher.await;
                }
                Some(d) => {
                    if tokio::time::timeout_at(d, watcher).await.is_err() {
                        return Ok(false);
                    }
                }
            }
        }
    }

    fn reenter(&self) -> Option<MutexGuard> {
        let mut held = lock(&self.inner.held);
        let h = held.as_mut()?;
        h.count += 1;
        Some(MutexGuard {
            inner: self.inner.clone(),
            node: h.node.clone(),
            token: h.token,
            state: h.state.clone(),
            released: false,
        })
    }

    fn install(&self, node: String, token: i64) -> MutexGuard {
        let (tx, rx) = watch::channel(LockState::Held);
        let tx = Arc::new(tx);
        let (stop_tx, stop_rx) = oneshot::channel();
        tokio::spawn(monitor(
            self.inner.client.clone(),
            node.clone(),
            self.inner.policy,
            tx.clone(),
            stop_rx,
        ));
        *lock(&self.inner.held) = Some(Held {
            node: node.clone(),
            token,
            count: 1,
            state: rx.clone(),
            state_tx: tx,
            _stop: stop_tx,
        });
        tracing::debug!(%node, token, "lock acquired");
        MutexGuard {
            inner: self.inner.clone(),
            node,
            token,
            state: rx,
            released: false,
        }
    }
}

fn unreachable_timeout() -> Result<MutexGuard, Error> {
    Err(Error::InvalidArgument(
        "acquire without a deadline timed out".into(),
    ))
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Watches the session and our node while the lock is held and reports [`LockState`]s.
async fn monitor(
    client: Client,
    node: String,
    policy: ErrorPolicy,
    tx: Arc<watch::Sender<LockState>>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut states = client.state_stream();
    let mut node_watch = None;
    let lost = |tx: &watch::Sender<LockState>| {
        tx.send_if_modified(|s| {
            let changed = !s.is_terminal();
            if changed {
                *s = LockState::Lost;
            }
            changed
        });
    };
    loop {
        if node_watch.is_none() && client.state().is_connected() {
            match client.exists_w(&node).await {
                Ok((Some(_), w)) => node_watch = Some(w),
                Ok((None, _)) => {
                    tracing::warn!(%node, "lock node is gone");
                    return lost(&tx);
                }
                Err(_) => {}
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            s = states.next() => match s {
                None => return lost(&tx),
                Some(s) if policy.is_lost(s) => {
                    tracing::warn!(%node, state = ?s, "lock lost");
                    return lost(&tx);
                }
                Some(s) => {
                    let new = if s.is_connected() { LockState::Held } else { LockState::Suspended };
                    tx.send_if_modified(|cur| {
                        let changed = !cur.is_terminal() && *cur != new;
                        if changed {
                            *cur = new;
                        }
                        changed
                    });
                }
            },
            ev = async { node_watch.as_mut().expect("guarded").await }, if node_watch.is_some() => {
                node_watch = None;
                if ev.event_type == EventType::NodeDeleted || ev.event_type == EventType::None {
                    tracing::warn!(%node, event = ?ev.event_type, "lock lost");
                    return lost(&tx);
                }
            }
        }
    }
}

/// Proof that the lock is held; releases it when dropped (or with [`MutexGuard::release`]).
///
/// The release deletes our node, retried until confirmed or until the session is gone.
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct MutexGuard {
    inner: Arc<Inner>,
    node: String,
    token: i64,
    state: watch::Receiver<LockState>,
    released: bool,
}

impl MutexGuard {
    /// The fencing token: the czxid of our lock node. Successive holders of a lock path get
    /// strictly increasing tokens, so a resource can reject writes from an old holder.
    pub fn fencing_token(&self) -> i64 {
        self.token
    }

    /// The full path of our lock node.
    pub fn node_path(&self) -> &str {
        &self.node
    }

    /// The lock's current state.
    pub fn state(&self) -> LockState {
        *self.state.borrow()
    }

    /// Whether the lock is still ours (Held; Suspended counts as not sure, so `false`).
    pub fn is_held(&self) -> bool {
        self.state() == LockState::Held
    }

    /// Every state change, starting with the current state; ends after a terminal state.
    pub fn states(&self) -> impl Stream<Item = LockState> + Send + Unpin {
        watch_stream(self.state.clone())
    }

    /// Resolves when the lock is lost (or released).
    pub async fn lost(&self) -> LockState {
        let mut rx = self.state.clone();
        let s = match rx.wait_for(|s| s.is_terminal()).await {
            Ok(s) => *s,
            Err(_) => LockState::Lost,
        };
        s
    }

    /// Releases this guard and, if it was the last one of its handle, deletes our node and
    /// waits until the delete is confirmed (or the session is gone).
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error (then the server removes
    /// the node with the session).
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        match release_one(&self.inner) {
            Some(node) => guaranteed_delete(&self.inner.client, &node, &self.inner.retry).await,
            None => Ok(()),
        }
    }
}

/// Drops one re-entrant count; returns the node to delete when it was the last.
fn release_one(inner: &Inner) -> Option<String> {
    let mut held = lock(&inner.held);
    let h = held.as_mut()?;
    h.count -= 1;
    if h.count > 0 {
        return None;
    }
    let h = held.take()?;
    h.state_tx.send_if_modified(|s| {
        let changed = !s.is_terminal();
        if changed {
            *s = LockState::Released;
        }
        changed
    });
    tracing::debug!(node = %h.node, "lock released");
    Some(h.node)
}

impl Drop for MutexGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(node) = release_one(&self.inner) {
            spawn_guaranteed_delete(self.inner.client.clone(), node, self.inner.retry.clone());
        }
    }
}
