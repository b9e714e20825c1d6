//! A distributed read/write lock with Curator's `InterProcessReadWriteLock` layout.
//!
//! Readers and writers share one directory: `{path}/_c_<uuid>-__READ__<seq10>` and
//! `{path}/_c_<uuid>-__WRIT__<seq10>` (EPHEMERAL_SEQUENTIAL, protected mode, container
//! parents), sorted by sequence whatever their kind. Curator's rules:
//!
//! - a writer holds the lock when its node is the lowest of all (it watches its predecessor);
//! - a reader holds the lock when no writer node is ahead of it (it watches the first writer);
//! - the holder of the write lock may also take the read lock at once, so it can downgrade:
//!   acquire read while holding write, then release write.
//!
//! Both sides are re-entrant per handle, like [`crate::InterProcessMutex`]. Upgrading (taking
//! write while holding read on the same handle) is not supported, as in Curator: it would wait
//! for our own read node.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::time::Instant;
use zk_core::{Client, Error};

use crate::protected::{
    create_protected, guaranteed_delete, join, node_name, sort_key, spawn_guaranteed_delete,
};
use crate::retry::RetryPolicy;

/// Curator's lock name for read nodes.
pub const READ_LOCK_NAME: &str = "__READ__";
/// Curator's lock name for write nodes (same length as [`READ_LOCK_NAME`]).
pub const WRITE_LOCK_NAME: &str = "__WRIT__";

/// A distributed read/write lock on one path; see the module docs.
#[derive(Debug, Clone)]
pub struct InterProcessReadWriteLock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    path: String,
    data: Vec<u8>,
    retry: RetryPolicy,
    /// Serializes acquires of this handle (both kinds).
    acquiring: tokio::sync::Mutex<()>,
    write: StdMutex<Option<Held>>,
    read: StdMutex<Option<Held>>,
}

#[derive(Debug)]
struct Held {
    node: String,
    count: usize,
}

/// Which side of the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Shared.
    Read,
    /// Exclusive.
    Write,
}

impl Side {
    fn lock_name(self) -> &'static str {
        match self {
            Side::Read => READ_LOCK_NAME,
            Side::Write => WRITE_LOCK_NAME,
        }
    }
}

/// Curator's `SortingLockInternalsDriver.fixForSorting`: the sequence after the last
/// `__READ__`, then after the last `__WRIT__`.
pub fn rw_sort_key(name: &str) -> &str {
    sort_key(sort_key(name, READ_LOCK_NAME), WRITE_LOCK_NAME)
}

/// What a contender should do, given the sorted children and its own node name.
/// `Err(NoNode)` when our node is not among the children.
fn predicate(side: Side, children: &[String], ours: &str) -> Result<Option<String>, Error> {
    match side {
        Side::Write => {
            let idx = children
                .iter()
                .position(|c| c == ours)
                .ok_or(Error::NoNode)?;
            Ok(if idx == 0 {
                None
            } else {
                Some(children[idx - 1].clone())
            })
        }
        Side::Read => {
            let mut first_writer: Option<&String> = None;
            for c in children {
                if c == ours {
                    return Ok(first_writer.cloned());
                }
                if first_writer.is_none() && c.contains(WRITE_LOCK_NAME) {
                    first_writer = Some(c);
                }
            }
            Err(Error::NoNode)
        }
    }
}

/// Deletes a contender node unless disarmed.
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

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl InterProcessReadWriteLock {
    /// A read/write lock on `path` using `client`'s session, with the default retry policy.
    pub fn new(client: Client, path: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                path: path.into(),
                data: Vec::new(),
                retry: RetryPolicy::default(),
                acquiring: tokio::sync::Mutex::new(()),
                write: StdMutex::new(None),
                read: StdMutex::new(None),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::get_mut(&mut self.inner).expect("configured before first use")
    }

    /// Sets the retry policy for operations that fail with connection loss.
    ///
    /// # Panics
    /// When the handle has been cloned or a guard of it is alive.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.inner_mut().retry = retry;
        self
    }

    /// Sets the data stored in our lock nodes.
    ///
    /// # Panics
    /// When the handle has been cloned or a guard of it is alive.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.inner_mut().data = data.into();
        self
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Whether this handle holds the write lock.
    pub fn holds_write(&self) -> bool {
        lock(&self.inner.write).is_some()
    }

    /// Whether this handle holds the read lock.
    pub fn holds_read(&self) -> bool {
        lock(&self.inner.read).is_some()
    }

    /// Waits until the read lock is ours.
    ///
    /// # Errors
    /// Session expired or closed, or connection errors once the retry policy gives up.
    ///
    /// # Cancellation safety
    /// Safe: a contender node of a cancelled acquire is deleted in the background.
    pub async fn read(&self) -> Result<RwGuard, Error> {
        self.acquire(Side::Read, None)
            .await?
            .ok_or_else(|| Error::InvalidArgument("acquire without deadline timed out".into()))
    }

    /// Waits until the write lock is ours.
    ///
    /// # Errors
    /// As [`InterProcessReadWriteLock::read`].
    ///
    /// # Cancellation safety
    /// As [`InterProcessReadWriteLock::read`].
    pub async fn write(&self) -> Result<RwGuard, Error> {
        self.acquire(Side::Write, None)
            .await?
            .ok_or_else(|| Error::InvalidArgument("acquire without deadline timed out".into()))
    }

    /// Waits at most `timeout` for the read lock; `Ok(None)` when it is not ours by then.
    ///
    /// # Errors
    /// As [`InterProcessReadWriteLock::read`].
    pub async fn read_timeout(&self, timeout: Duration) -> Result<Option<RwGuard>, Error> {
        self.acquire(Side::Read, Some(Instant::now() + timeout))
            .await
    }

    /// Waits at most `timeout` for the write lock; `Ok(None)` when it is not ours by then.
    ///
    /// # Errors
    /// As [`InterProcessReadWriteLock::read`].
    pub async fn write_timeout(&self, timeout: Duration) -> Result<Option<RwGuard>, Error> {
        self.acquire(Side::Write, Some(Instant::now() + timeout))
            .await
    }

    /// The nodes of every contender (readers and writers), in lock order (full paths).
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn participant_nodes(&self) -> Result<Vec<String>, Error> {
        let mut children = match self.inner.client.get_children(&self.inner.path).await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        children.sort_by(|a, b| rw_sort_key(a).cmp(rw_sort_key(b)));
        Ok(children.iter().map(|c| join(&self.inner.path, c)).collect())
    }

    fn slot(&self, side: Side) -> &StdMutex<Option<Held>> {
        match side {
            Side::Read => &self.inner.read,
            Side::Write => &self.inner.write,
        }
    }

    fn reenter(&self, side: Side) -> Option<RwGuard> {
        let mut held = lock(self.slot(side));
        let h = held.as_mut()?;
        h.count += 1;
        Some(RwGuard {
            inner: self.inner.clone(),
            side,
            node: h.node.clone(),
            released: false,
        })
    }

    async fn acquire(
        &self,
        side: Side,
        deadline: Option<Instant>,
    ) -> Result<Option<RwGuard>, Error> {
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
        if let Some(g) = self.reenter(side) {
            return Ok(Some(g));
        }
        let mut delays = inner.retry.delays();
        loop {
            let (node, _stat) = create_protected(
                &inner.client,
                &inner.path,
                side.lock_name(),
                &inner.data,
                &inner.retry,
            )
            .await?;
            let mut pending = PendingNode {
                client: inner.client.clone(),
                path: Some(node.clone()),
                retry: inner.retry.clone(),
            };
            match self.wait_turn(side, &node, deadline).await {
                Ok(true) => {
                    pending.path = None;
                    *lock(self.slot(side)) = Some(Held {
                        node: node.clone(),
                        count: 1,
                    });
                    tracing::debug!(%node, ?side, "rw lock acquired");
                    return Ok(Some(RwGuard {
                        inner: inner.clone(),
                        side,
                        node,
                        released: false,
                    }));
                }
                Ok(false) => {
                    pending.path = None;
                    guaranteed_delete(&inner.client, &node, &inner.retry).await?;
                    return Ok(None);
                }
                Err(Error::NoNode) => {
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

    async fn wait_turn(
        &self,
        side: Side,
        node: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, Error> {
        let inner = &self.inner;
        let ours = node_name(node);
        loop {
            let mut children = inner
                .retry
                .run(|| inner.client.get_children(&inner.path))
                .await?;
            children.sort_by(|a, b| rw_sort_key(a).cmp(rw_sort_key(b)));
            let to_watch = predicate(side, &children, ours)?;
            // The write holder takes the read lock at once (downgrade).
            if side == Side::Read && self.holds_write() {
                return Ok(true);
            }
            let Some(to_watch) = to_watch else {
                return Ok(true);
            };
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Ok(false);
            }
            let watch_path = join(&inner.path, &to_watch);
            tracing::trace!(%node, %watch_path, "waiting");
            let watcher = match inner
                .retry
                .run(|| inner.client.get_data_w(&watch_path))
                .await
            {
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
}

/// Proof that one side of the lock is held; releases it when dropped (or with
/// [`RwGuard::release`]).
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct RwGuard {
    inner: Arc<Inner>,
    side: Side,
    node: String,
    released: bool,
}

impl RwGuard {
    /// Which side this guard holds.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The full path of our lock node.
    pub fn node_path(&self) -> &str {
        &self.node
    }

    /// Releases this guard and, if it was the last one of its side on its handle, deletes our
    /// node and waits until the delete is confirmed (or the session is gone).
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error.
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        match release_one(&self.inner, self.side) {
            Some(node) => guaranteed_delete(&self.inner.client, &node, &self.inner.retry).await,
            None => Ok(()),
        }
    }
}

fn release_one(inner: &Inner, side: Side) -> Option<String> {
    let slot = match side {
        Side::Read => &inner.read,
        Side::Write => &inner.write,
    };
    let mut held = lock(slot);
    let h = held.as_mut()?;
    h.count -= 1;
    if h.count > 0 {
        return None;
    }
    let h = held.take()?;
    tracing::debug!(node = %h.node, ?side, "rw lock released");
    Some(h.node)
}

impl Drop for RwGuard {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Some(node) = release_one(&self.inner, self.side) {
            spawn_guaranteed_delete(self.inner.client.clone(), node, self.inner.retry.clone());
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
    fn curator_rules() {
        let c = names(&[
            "_c_a-__READ__0000000001",
            "_c_b-__WRIT__0000000002",
            "_c_c-__READ__0000000003",
            "_c_d-__WRIT__0000000004",
        ]);
        assert_eq!(
            predicate(Side::Read, &c, "_c_a-__READ__0000000001").ok(),
            Some(None)
        );
        assert_eq!(
            predicate(Side::Read, &c, "_c_c-__READ__0000000003").ok(),
            Some(Some(c[1].clone()))
        );
        assert_eq!(
            predicate(Side::Write, &c, "_c_b-__WRIT__0000000002").ok(),
            Some(Some(c[0].clone()))
        );
        assert_eq!(
            predicate(Side::Write, &c, "_c_d-__WRIT__0000000004").ok(),
            Some(Some(c[2].clone()))
        );
        assert!(predicate(Side::Read, &c, "nope").is_err());
        let mut s = names(&["_c_x-__WRIT__0000000009", "_c_y-__READ__0000000002"]);
        s.sort_by(|a, b| rw_sort_key(a).cmp(rw_sort_key(b)));
        assert_eq!(s[0], "_c_y-__READ__0000000002");
    }
}
