//! A counting semaphore with Curator's `InterProcessSemaphoreV2` layout, and the semaphore
//! mutex (`InterProcessSemaphoreMutex`: the same with one lease, not re-entrant).
//!
//! Leases are `{path}/leases/_c_<uuid>-lease-<seq10>` (EPHEMERAL_SEQUENTIAL, protected mode);
//! an [`InterProcessMutex`] at `{path}/locks` serializes acquirers. Curator's algorithm: take
//! the internal lock, create our lease node, list the leases with a watch, keep the lease once
//! there are at most `max_leases` of them (otherwise wait for a change and list again), then
//! release the internal lock. Rust and Java (Curator) processes can share a semaphore path.

use std::time::Duration;

use tokio::time::Instant;
use zk_core::{Client, Error};

use crate::mutex::InterProcessMutex;
use crate::protected::{
    create_protected, guaranteed_delete, join, node_name, spawn_guaranteed_delete,
};
use crate::retry::RetryPolicy;

/// Curator's lease node name.
pub const LEASE_NAME: &str = "lease-";
/// The child directory holding the leases.
pub const LEASES_DIR: &str = "leases";
/// The child directory holding the internal mutex.
pub const LOCKS_DIR: &str = "locks";

/// A distributed semaphore with a fixed number of leases; see the module docs.
#[derive(Debug, Clone)]
pub struct InterProcessSemaphoreV2 {
    client: Client,
    path: String,
    max_leases: usize,
    data: Vec<u8>,
    retry: RetryPolicy,
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
            max_leases,
            data: Vec::new(),
            retry: RetryPolicy::default(),
        }
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

    /// The number of leases.
    pub fn max_leases(&self) -> usize {
        self.max_leases
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
    /// Session expired or closed, or connection errors once the retry policy gives up.
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
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<Lease>, Error> {
        self.acquire_inner(Some(Instant::now() + timeout)).await
    }

    async fn acquire_inner(&self, deadline: Option<Instant>) -> Result<Option<Lease>, Error> {
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
        let mut delays = self.retry.delays();
        loop {
            let (node, _) =
                create_protected(&self.client, &dir, LEASE_NAME, &self.data, &self.retry).await?;
            let mut lease = Lease {
                client: self.client.clone(),
                node,
                retry: self.retry.clone(),
                released: false,
            };
            let ours = node_name(&lease.node).to_string();
            loop {
                let (children, watcher) =
                    self.retry.run(|| self.client.get_children_w(&dir)).await?;
                if !children.contains(&ours) {
                    break; // Our lease vanished: start again, like Curator.
                }
                if children.len() <= self.max_leases {
                    tracing::debug!(node = %lease.node, "lease acquired");
                    return Ok(Some(lease));
                }
                match deadline {
                    None => {
                        watcher.await;
                    }
                    Some(d) => {
                        if tokio::time::timeout_at(d, watcher).await.is_err() {
                            lease.released = true;
                            guaranteed_delete(&self.client, &lease.node, &self.retry).await?;
                            return Ok(None);
                        }
                    }
                }
            }
            lease.released = true;
            match delays.next() {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(Error::NoNode),
            }
        }
    }
}

/// One lease of a semaphore; returned when dropped (or with [`Lease::release`]).
#[derive(Debug)]
#[must_use = "the lease is returned when it is dropped"]
pub struct Lease {
    client: Client,
    node: String,
    retry: RetryPolicy,
    released: bool,
}

impl Lease {
    /// The full path of our lease node.
    pub fn node_path(&self) -> &str {
        &self.node
    }

    /// Returns the lease: deletes our node and waits until the delete is confirmed (or the
    /// session is gone).
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error.
    pub async fn release(mut self) -> Result<(), Error> {
        self.released = true;
        guaranteed_delete(&self.client, &self.node, &self.retry).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.released {
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
