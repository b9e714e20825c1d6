//! All-or-none over several mutexes (Curator's `InterProcessMultiLock`): the locks are taken
//! in list order; when one cannot be taken, the ones already held are released in reverse
//! order, and so is a held multi-lock.

use std::time::Duration;

use tokio::time::Instant;
use zk_core::Error;

use crate::mutex::{InterProcessMutex, MutexGuard};

/// A lock over several [`InterProcessMutex`]es; see the module docs.
#[derive(Debug)]
pub struct InterProcessMultiLock {
    locks: Vec<InterProcessMutex>,
}

impl InterProcessMultiLock {
    /// A multi-lock over `locks`, taken in this order.
    pub fn new(locks: Vec<InterProcessMutex>) -> Self {
        Self { locks }
    }

    /// The wrapped locks, in acquisition order.
    pub fn locks(&self) -> &[InterProcessMutex] {
        &self.locks
    }

    /// Waits until every lock is ours.
    ///
    /// # Errors
    /// The first error of a wrapped lock (the locks already taken are released first).
    ///
    /// # Cancellation safety
    /// Safe: guards already taken are dropped, which releases them in the background.
    pub async fn acquire(&self) -> Result<MultiLockGuard, Error> {
        let mut held = Vec::with_capacity(self.locks.len());
        for l in &self.locks {
            match l.acquire().await {
                Ok(g) => held.push(g),
                Err(e) => {
                    let _ = release_reverse(held).await;
                    return Err(e);
                }
            }
        }
        Ok(MultiLockGuard { guards: held })
    }

    /// Waits at most `timeout` (overall) for every lock; `Ok(None)` (with nothing held) when
    /// they are not all ours by then.
    ///
    /// # Errors
    /// As [`InterProcessMultiLock::acquire`].
    pub async fn acquire_timeout(
        &self,
        timeout: Duration,
    ) -> Result<Option<MultiLockGuard>, Error> {
        let deadline = Instant::now() + timeout;
        let mut held = Vec::with_capacity(self.locks.len());
        for l in &self.locks {
            let left = deadline.saturating_duration_since(Instant::now());
            match l.acquire_timeout(left).await {
                Ok(Some(g)) => held.push(g),
                Ok(None) => {
                    let _ = release_reverse(held).await;
                    return Ok(None);
                }
                Err(e) => {
                    let _ = release_reverse(held).await;
                    return Err(e);
                }
            }
        }
        Ok(Some(MultiLockGuard { guards: held }))
    }
}

async fn release_reverse(held: Vec<MutexGuard>) -> Result<(), Error> {
    let mut first_err = None;
    for g in held.into_iter().rev() {
        if let Err(e) = g.release().await {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Proof that every lock of a multi-lock is held; releases them in reverse order when dropped
/// (in the background) or with [`MultiLockGuard::release`].
#[derive(Debug)]
#[must_use = "the locks are released when the guard is dropped"]
pub struct MultiLockGuard {
    guards: Vec<MutexGuard>,
}

impl MultiLockGuard {
    /// The guards of the wrapped locks, in acquisition order.
    pub fn guards(&self) -> &[MutexGuard] {
        &self.guards
    }

    /// Releases every lock in reverse order, waiting for each delete.
    ///
    /// # Errors
    /// The first release error (the other locks are still released).
    pub async fn release(mut self) -> Result<(), Error> {
        release_reverse(std::mem::take(&mut self.guards)).await
    }
}

impl Drop for MultiLockGuard {
    fn drop(&mut self) {
        while let Some(g) = self.guards.pop() {
            drop(g);
        }
    }
}
