//! Curator's `LockInternals`, shared by [`crate::InterProcessMutex`] and both sides of
//! [`crate::InterProcessReadWriteLock`]: create a protected EPHEMERAL_SEQUENTIAL node, then
//! loop "sorted children → does the driver's predicate give us the lock? → otherwise
//! getData-watch the node it names and wait". What differs between recipes is only the
//! [`LockDriver`] (Curator's `LockInternalsDriver`): the lock name, how names sort, and
//! `getsTheLock(children, ourNodeName, maxLeases)`.
//!
//! While a lock is held a monitor task turns session states and events on our node into
//! [`LockState`]s and, for revocable locks, notices `__REVOKE__` in our node's data
//! (Curator's `makeRevocable` / `Revoker`).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use futures::{Stream, StreamExt};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use zk_core::{Client, Error, EventType, OneshotWatcher};

use crate::protected::{
    create_protected, guaranteed_delete, join, node_name, sort_key, spawn_guaranteed_delete,
};
use crate::retry::RetryPolicy;
use crate::revoker::REVOKE_MESSAGE;
use crate::state::{ErrorPolicy, LockState};

/// What a driver's predicate says about one contender (Curator's `PredicateResults`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PredicateResults {
    /// The contender holds the lock now.
    GetsTheLock,
    /// It waits; the deletion (or change) of this child (a name, not a path) may change that.
    Watch(String),
}

/// The recipe-specific part of a lock (Curator's `LockInternalsDriver`).
pub(crate) trait LockDriver: Send + Sync + fmt::Debug {
    /// The text between the protected prefix and the sequence (`lock-`, `__READ__`, ...).
    fn lock_name(&self) -> &'static str;

    /// The part of a child's name that orders it (Curator's `fixForSorting`).
    fn fix_for_sorting<'a>(&self, name: &'a str) -> &'a str {
        sort_key(name, self.lock_name())
    }

    /// Whether `ours` holds the lock among the sorted `children`, else what to watch.
    ///
    /// # Errors
    /// NoNode when `ours` is not among the children.
    fn gets_the_lock(
        &self,
        children: &[String],
        ours: &str,
        max_leases: usize,
    ) -> Result<PredicateResults, Error>;
}

/// Curator's `StandardLockInternalsDriver.getsTheLock`: we hold the lock when fewer than
/// `max_leases` contenders are ahead of us; otherwise we watch the one `max_leases` ahead.
///
/// # Errors
/// NoNode when `ours` is not among the children.
pub(crate) fn standard_gets_the_lock(
    children: &[String],
    ours: &str,
    max_leases: usize,
) -> Result<PredicateResults, Error> {
    let idx = children
        .iter()
        .position(|c| c == ours)
        .ok_or(Error::NoNode)?;
    Ok(if idx < max_leases {
        PredicateResults::GetsTheLock
    } else {
        PredicateResults::Watch(children[idx - max_leases].clone())
    })
}

/// The driver of a plain mutex with lock name `lock_name`.
#[derive(Debug)]
pub(crate) struct StandardDriver {
    pub(crate) lock_name: &'static str,
}

impl LockDriver for StandardDriver {
    fn lock_name(&self) -> &'static str {
        self.lock_name
    }

    fn gets_the_lock(
        &self,
        children: &[String],
        ours: &str,
        max_leases: usize,
    ) -> Result<PredicateResults, Error> {
        standard_gets_the_lock(children, ours, max_leases)
    }
}

/// Which lock a handle holds, shared with drivers that need to know (the read side of a
/// read/write lock asks whether the write side is ours).
#[derive(Debug, Default)]
pub(crate) struct HeldSlot(StdMutex<Option<Held>>);

impl HeldSlot {
    pub(crate) fn is_held(&self) -> bool {
        self.lock().is_some()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Held>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug)]
struct Held {
    node: String,
    token: i64,
    count: usize,
    state: watch::Receiver<LockState>,
    state_tx: Arc<watch::Sender<LockState>>,
    revoke: watch::Receiver<bool>,
    /// Dropping it stops the monitor task.
    _stop: oneshot::Sender<()>,
}

/// One lock of one handle: its configuration, its driver, and what it holds.
pub(crate) struct LockInternals {
    client: Client,
    path: String,
    pub(crate) data: Vec<u8>,
    pub(crate) retry: RetryPolicy,
    pub(crate) policy: ErrorPolicy,
    revocable: AtomicBool,
    max_leases: usize,
    driver: Box<dyn LockDriver>,
    /// Serializes acquires of this handle (shared by both sides of a read/write lock).
    acquiring: Arc<tokio::sync::Mutex<()>>,
    held: Arc<HeldSlot>,
}

impl fmt::Debug for LockInternals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockInternals")
            .field("path", &self.path)
            .field("driver", &self.driver)
            .field("max_leases", &self.max_leases)
            .field("revocable", &self.is_revocable())
            .field("held", &self.is_held())
            .finish_non_exhaustive()
    }
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

impl LockInternals {
    /// A lock on `path` with default retry and error policies; `acquiring` serializes the
    /// acquires of one handle.
    pub(crate) fn new(
        client: Client,
        path: String,
        driver: Box<dyn LockDriver>,
        max_leases: usize,
        acquiring: Arc<tokio::sync::Mutex<()>>,
    ) -> Self {
        Self {
            client,
            path,
            data: Vec::new(),
            retry: RetryPolicy::default(),
            policy: ErrorPolicy::default(),
            revocable: AtomicBool::new(false),
            max_leases,
            driver,
            acquiring,
            held: Arc::default(),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn held_slot(&self) -> Arc<HeldSlot> {
        self.held.clone()
    }

    pub(crate) fn is_held(&self) -> bool {
        self.held.is_held()
    }

    pub(crate) fn make_revocable(&self) {
        self.revocable.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_revocable(&self) -> bool {
        self.revocable.load(Ordering::SeqCst)
    }

    /// The sorted child names of the lock's directory (empty when it does not exist).
    async fn sorted_children(&self) -> Result<Vec<String>, Error> {
        let mut children = match self.client.get_children(&self.path).await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        self.sort(&mut children);
        Ok(children)
    }

    /// The full paths of every contender, in lock order.
    pub(crate) async fn participant_nodes(&self) -> Result<Vec<String>, Error> {
        let children = self.sorted_children().await?;
        Ok(children.iter().map(|c| join(&self.path, c)).collect())
    }

    fn sort(&self, children: &mut [String]) {
        children.sort_by(|a, b| {
            self.driver
                .fix_for_sorting(a)
                .cmp(self.driver.fix_for_sorting(b))
        });
    }

    /// Curator's `attemptLock`: `Ok(None)` when the deadline passed first (with `Some(now)`,
    /// a try-lock).
    ///
    /// # Errors
    /// Session expired or closed, connection errors once the retry policy gives up, or NoNode
    /// when our node kept vanishing.
    ///
    /// # Cancellation safety
    /// Safe: a contender node of a cancelled acquire is deleted in the background.
    pub(crate) async fn acquire(
        self: &Arc<Self>,
        deadline: Option<Instant>,
    ) -> Result<Option<LockGuard>, Error> {
        let _serial = match deadline {
            None => self.acquiring.lock().await,
            Some(d) => match tokio::time::timeout_at(d, self.acquiring.lock()).await {
                Ok(g) => g,
                Err(_) => match self.acquiring.try_lock() {
                    Ok(g) => g,
                    Err(_) => return Ok(None),
                },
            },
        };
        if let Some(g) = self.reenter() {
            return Ok(Some(g));
        }
        let revocable = self.is_revocable();
        // Curator creates the nodes of revocable locks with empty data.
        let data: &[u8] = if revocable { &[] } else { &self.data };
        let mut delays = self.retry.delays();
        loop {
            let (node, stat) = create_protected(
                &self.client,
                &self.path,
                self.driver.lock_name(),
                data,
                &self.retry,
            )
            .await?;
            let mut pending = PendingNode {
                client: self.client.clone(),
                path: Some(node.clone()),
                retry: self.retry.clone(),
            };
            let got = match self.internal_lock_loop(&node, deadline).await {
                Ok(true) if revocable => self.first_revocation_check(&node).await.map(Some),
                Ok(true) => Ok(None),
                Ok(false) => {
                    // Timed out: remove our node now (the drop would do it in the background).
                    pending.path = None;
                    guaranteed_delete(&self.client, &node, &self.retry).await?;
                    return Ok(None);
                }
                Err(e) => Err(e),
            };
            match got {
                Ok(first) => {
                    pending.path = None;
                    return Ok(Some(self.install(node, stat.czxid, revocable, first)));
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

    /// Curator's `internalLockLoop`: waits until the driver gives `node` the lock (`true`) or
    /// the deadline passes (`false`). NoNode means our own node is gone.
    async fn internal_lock_loop(
        &self,
        node: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        let ours = node_name(node);
        loop {
            let mut children = self
                .retry
                .run(|| self.client.get_children(&self.path))
                .await?;
            self.sort(&mut children);
            let to_watch = match self
                .driver
                .gets_the_lock(&children, ours, self.max_leases)?
            {
                PredicateResults::GetsTheLock => return Ok(true),
                PredicateResults::Watch(w) => w,
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            let watch_path = join(&self.path, &to_watch);
            tracing::trace!(%node, %watch_path, "waiting");
            // getData rather than exists, like Curator: no watch is left behind on a node
            // that is already gone.
            let watcher = match self.retry.run(|| self.client.get_data_w(&watch_path)).await {
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

    /// Reads our node with a data watch right after acquiring a revocable lock: a revocation
    /// requested while we waited is seen before the guard is handed out.
    async fn first_revocation_check(&self, node: &str) -> Result<(bool, OneshotWatcher), Error> {
        let (data, _, w) = self.retry.run(|| self.client.get_data_w(node)).await?;
        Ok((data.as_ref() == REVOKE_MESSAGE, w))
    }

    fn reenter(self: &Arc<Self>) -> Option<LockGuard> {
        let mut held = self.held.lock();
        let h = held.as_mut()?;
        h.count += 1;
        Some(LockGuard {
            internals: self.clone(),
            node: h.node.clone(),
            token: h.token,
            state: h.state.clone(),
            revoke: h.revoke.clone(),
            released: false,
        })
    }

    fn install(
        self: &Arc<Self>,
        node: String,
        token: i64,
        revocable: bool,
        first: Option<(bool, OneshotWatcher)>,
    ) -> LockGuard {
        let (tx, rx) = watch::channel(LockState::Held);
        let tx = Arc::new(tx);
        let revoked = first.as_ref().is_some_and(|f| f.0);
        let (revoke_tx, revoke_rx) = watch::channel(revoked);
        let (stop_tx, stop_rx) = oneshot::channel();
        tokio::spawn(monitor(
            Monitor {
                client: self.client.clone(),
                node: node.clone(),
                policy: self.policy,
                revocable,
                state: tx.clone(),
                revoke: revoke_tx,
            },
            first.map(|f| f.1),
            stop_rx,
        ));
        *self.held.lock() = Some(Held {
            node: node.clone(),
            token,
            count: 1,
            state: rx.clone(),
            state_tx: tx,
            revoke: revoke_rx.clone(),
            _stop: stop_tx,
        });
        tracing::debug!(%node, token, lock_name = self.driver.lock_name(), revoked, "lock acquired");
        LockGuard {
            internals: self.clone(),
            node,
            token,
            state: rx,
            revoke: revoke_rx,
            released: false,
        }
    }

    /// Drops one re-entrant count; returns the node to delete when it was the last.
    fn release_one(&self) -> Option<String> {
        let mut held = self.held.lock();
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
        tracing::debug!(node = %h.node, lock_name = self.driver.lock_name(), "lock released");
        Some(h.node)
    }
}

/// What the monitor task of one held lock reports to.
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
        self.state.send_if_modified(|s| {
            let changed = !s.is_terminal();
            if changed {
                *s = LockState::Lost;
            }
            changed
        });
    }

    fn seen_data(&self, data: &[u8]) {
        if self.revocable && data == REVOKE_MESSAGE && !*self.revoke.borrow() {
            tracing::info!(node = %self.node, "revocation requested");
            self.revoke.send_replace(true);
        }
    }
}

/// Watches the session and our node while the lock is held: reports [`LockState`]s and, for
/// a revocable lock, revocation requests (Curator's `revocableWatcher`: on every data change
/// the node is read again with a new watch).
async fn monitor(m: Monitor, first: Option<OneshotWatcher>, mut stop: oneshot::Receiver<()>) {
    let mut states = m.client.state_stream();
    let mut node_watch = first;
    loop {
        if node_watch.is_none() && m.client.state().is_connected() {
            match m.client.get_data_w(&m.node).await {
                Ok((data, _, w)) => {
                    m.seen_data(&data);
                    node_watch = Some(w);
                }
                Err(Error::NoNode) => {
                    tracing::warn!(node = %m.node, "lock node is gone");
                    return m.lost();
                }
                Err(_) => {}
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            s = states.next() => match s {
                None => return m.lost(),
                Some(s) if m.policy.is_lost(s) => {
                    tracing::warn!(node = %m.node, state = ?s, "lock lost");
                    return m.lost();
                }
                Some(s) => {
                    let new = if s.is_connected() { LockState::Held } else { LockState::Suspended };
                    m.state.send_if_modified(|cur| {
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
                    tracing::warn!(node = %m.node, event = ?ev.event_type, "lock lost");
                    return m.lost();
                }
                // NodeDataChanged: read it again (with a new watch) at the top of the loop.
            }
        }
    }
}

/// The shared part of the lock guards: releases on drop, reports states and revocation.
#[derive(Debug)]
pub(crate) struct LockGuard {
    internals: Arc<LockInternals>,
    node: String,
    token: i64,
    state: watch::Receiver<LockState>,
    revoke: watch::Receiver<bool>,
    released: bool,
}

impl LockGuard {
    pub(crate) fn fencing_token(&self) -> i64 {
        self.token
    }

    pub(crate) fn node_path(&self) -> &str {
        &self.node
    }

    pub(crate) fn state(&self) -> LockState {
        *self.state.borrow()
    }

    /// Starts with the current state and ends right after the first terminal one (the
    /// channel's sender lives on in the handle until the guard is dropped, so waiting for the
    /// channel to close would not end it).
    pub(crate) fn states(&self) -> impl Stream<Item = LockState> + Send + Unpin {
        Box::pin(futures::stream::unfold(
            (self.state.clone(), true, false),
            |(mut rx, first, ended)| async move {
                if ended || (!first && rx.changed().await.is_err()) {
                    return None;
                }
                let s = *rx.borrow_and_update();
                Some((s, (rx, false, s.is_terminal())))
            },
        ))
    }

    pub(crate) async fn lost(&self) -> LockState {
        let mut rx = self.state.clone();
        let s = match rx.wait_for(|s| s.is_terminal()).await {
            Ok(s) => *s,
            Err(_) => LockState::Lost,
        };
        s
    }

    pub(crate) fn is_revocation_requested(&self) -> bool {
        *self.revoke.borrow()
    }

    pub(crate) async fn revocation_requested(&self) {
        let mut rx = self.revoke.clone();
        if rx.wait_for(|r| *r).await.is_err() {
            // The lock ended without a request: none can come any more.
            std::future::pending::<()>().await;
        }
    }

    pub(crate) async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        let Some(node) = self.internals.release_one() else {
            return Ok(());
        };
        let i = &self.internals;
        // If this future is dropped half way, the delete goes on in the background.
        let mut pending = PendingNode {
            client: i.client.clone(),
            path: Some(node.clone()),
            retry: i.retry.clone(),
        };
        let r = guaranteed_delete(&i.client, &node, &i.retry).await;
        pending.path = None;
        r
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(node) = self.internals.release_one() {
            let i = &self.internals;
            spawn_guaranteed_delete(i.client.clone(), node, i.retry.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn standard_predicate_watches_max_leases_ahead() {
        let c = names(&["a-lock-01", "b-lock-02", "c-lock-03"]);
        let watch = |n: &str| Ok(PredicateResults::Watch(n.to_string()));
        assert_eq!(
            standard_gets_the_lock(&c, "a-lock-01", 1),
            Ok(PredicateResults::GetsTheLock)
        );
        assert_eq!(
            standard_gets_the_lock(&c, "c-lock-03", 1),
            watch("b-lock-02")
        );
        assert_eq!(
            standard_gets_the_lock(&c, "c-lock-03", 2),
            watch("a-lock-01")
        );
        assert_eq!(
            standard_gets_the_lock(&c, "b-lock-02", 2),
            Ok(PredicateResults::GetsTheLock)
        );
        assert_eq!(
            standard_gets_the_lock(&c, "x-lock-04", 1),
            Err(Error::NoNode)
        );
    }
}
