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
//!
//! Each side is a lock of its own on the crate's shared `LockInternals` loop (in Curator
//! both are `InterProcessMutex`es with their own driver), so each side's guard reports its
//! state ([`RwGuard::states`]) and each side can be made revocable
//! ([`InterProcessReadWriteLock::make_revocable`]).

use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;
use zk_core::{Client, Error};

use crate::lock_internals::{
    standard_gets_the_lock, HeldSlot, LockDriver, LockGuard, LockInternals, PredicateResults,
};
use crate::protected::sort_key;
use crate::retry::RetryPolicy;
use crate::state::{ErrorPolicy, LockState};

/// Curator's lock name for read nodes.
pub const READ_LOCK_NAME: &str = "__READ__";
/// Curator's lock name for write nodes (same length as [`READ_LOCK_NAME`]).
pub const WRITE_LOCK_NAME: &str = "__WRIT__";

/// A distributed read/write lock on one path; see the module docs.
///
/// Clones share the handle (its re-entrancy and what it holds).
#[derive(Debug, Clone)]
pub struct InterProcessReadWriteLock {
    read: Arc<LockInternals>,
    write: Arc<LockInternals>,
}

/// Which side of the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Shared.
    Read,
    /// Exclusive.
    Write,
}

/// Curator's `SortingLockInternalsDriver.fixForSorting`: the sequence after the last
/// `__READ__`, then after the last `__WRIT__`.
pub fn rw_sort_key(name: &str) -> &str {
    sort_key(sort_key(name, READ_LOCK_NAME), WRITE_LOCK_NAME)
}

/// The write side's driver: a mutex over all children, readers and writers alike.
#[derive(Debug)]
struct WriteDriver;

impl LockDriver for WriteDriver {
    fn lock_name(&self) -> &'static str {
        WRITE_LOCK_NAME
    }

    fn fix_for_sorting<'a>(&self, name: &'a str) -> &'a str {
        rw_sort_key(name)
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

/// The read side's driver: no writer ahead of us (else watch the first writer), or the write
/// side of the same handle is held (downgrade).
#[derive(Debug)]
struct ReadDriver {
    write: Arc<HeldSlot>,
}

impl LockDriver for ReadDriver {
    fn lock_name(&self) -> &'static str {
        READ_LOCK_NAME
    }

    fn fix_for_sorting<'a>(&self, name: &'a str) -> &'a str {
        rw_sort_key(name)
    }

    fn gets_the_lock(
        &self,
        children: &[String],
        ours: &str,
        _max_leases: usize,
    ) -> Result<PredicateResults, Error> {
        let mut first_writer: Option<&String> = None;
        for c in children {
            if c == ours {
                // The write holder takes the read lock at once (downgrade).
                return Ok(match first_writer {
                    Some(w) if !self.write.is_held() => PredicateResults::Watch(w.clone()),
                    _ => PredicateResults::GetsTheLock,
                });
            }
            if first_writer.is_none() && c.contains(WRITE_LOCK_NAME) {
                first_writer = Some(c);
            }
        }
        Err(Error::NoNode)
    }
}

impl InterProcessReadWriteLock {
    /// A read/write lock on `path` using `client`'s session, with the default retry policy
    /// and [`ErrorPolicy::Standard`].
    pub fn new(client: Client, path: impl Into<String>) -> Self {
        let path = path.into();
        let acquiring = Arc::new(tokio::sync::Mutex::new(()));
        let write = LockInternals::new(
            client.clone(),
            path.clone(),
            Box::new(WriteDriver),
            1,
            acquiring.clone(),
        );
        let read = LockInternals::new(
            client,
            path,
            Box::new(ReadDriver {
                write: write.held_slot(),
            }),
            usize::MAX,
            acquiring,
        );
        Self {
            read: Arc::new(read),
            write: Arc::new(write),
        }
    }

    fn configure(&mut self, f: impl Fn(&mut LockInternals)) {
        for side in [&mut self.read, &mut self.write] {
            f(Arc::get_mut(side).expect("configured before first use"));
        }
    }

    /// Sets the retry policy for operations that fail with connection loss.
    ///
    /// # Panics
    /// When the handle has been cloned or a guard of it is alive.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.configure(|i| i.retry = retry.clone());
        self
    }

    /// Sets the error policy that decides when a held side counts as lost.
    ///
    /// # Panics
    /// When the handle has been cloned or a guard of it is alive.
    pub fn with_error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.configure(|i| i.policy = policy);
        self
    }

    /// Sets the data stored in our lock nodes (revocable sides store empty data instead, as
    /// in Curator).
    ///
    /// # Panics
    /// When the handle has been cloned or a guard of it is alive.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        let data = data.into();
        self.configure(|i| i.data = data.clone());
        self
    }

    /// Makes one side revocable, as [`crate::InterProcessMutex::make_revocable`] does (in
    /// Curator, `readLock()` and `writeLock()` are `InterProcessMutex`es, so revocable each
    /// on its own): its guards report revocation requests with
    /// [`RwGuard::revocation_requested`].
    pub fn make_revocable(&self, side: Side) {
        self.side(side).make_revocable();
    }

    /// Whether [`InterProcessReadWriteLock::make_revocable`] was called for `side`.
    pub fn is_revocable(&self, side: Side) -> bool {
        self.side(side).is_revocable()
    }

    /// The lock's directory.
    pub fn path(&self) -> &str {
        self.write.path()
    }

    /// Whether this handle holds the write lock.
    pub fn holds_write(&self) -> bool {
        self.write.is_held()
    }

    /// Whether this handle holds the read lock.
    pub fn holds_read(&self) -> bool {
        self.read.is_held()
    }

    fn side(&self, side: Side) -> &Arc<LockInternals> {
        match side {
            Side::Read => &self.read,
            Side::Write => &self.write,
        }
    }

    async fn acquire(
        &self,
        side: Side,
        deadline: Option<Instant>,
    ) -> Result<Option<RwGuard>, Error> {
        let core = self.side(side).acquire(deadline).await?;
        Ok(core.map(|core| RwGuard { core, side }))
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
    ///
    /// # Cancellation safety
    /// As [`InterProcessReadWriteLock::read`].
    pub async fn read_timeout(&self, timeout: Duration) -> Result<Option<RwGuard>, Error> {
        self.acquire(Side::Read, Some(Instant::now() + timeout))
            .await
    }

    /// Waits at most `timeout` for the write lock; `Ok(None)` when it is not ours by then.
    ///
    /// # Errors
    /// As [`InterProcessReadWriteLock::read`].
    ///
    /// # Cancellation safety
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
        self.write.participant_nodes().await
    }
}

/// Proof that one side of the lock is held; releases it when dropped (or with
/// [`RwGuard::release`]).
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub struct RwGuard {
    core: LockGuard,
    side: Side,
}

impl RwGuard {
    /// Which side this guard holds.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The full path of our lock node.
    pub fn node_path(&self) -> &str {
        self.core.node_path()
    }

    /// This side's current state.
    pub fn state(&self) -> LockState {
        self.core.state()
    }

    /// Whether this side is still ours (Held; Suspended counts as not sure, so `false`).
    pub fn is_held(&self) -> bool {
        self.state() == LockState::Held
    }

    /// Every state change of this side, starting with the current state; ends after a
    /// terminal state. Held / Suspended / Lost follow the session under the handle's
    /// [`ErrorPolicy`], and Lost also when our node is deleted.
    pub fn states(&self) -> impl Stream<Item = LockState> + Send + Unpin {
        self.core.states()
    }

    /// Resolves when this side is lost (or released).
    ///
    /// # Cancellation safety
    /// Safe: it only reads the state.
    pub async fn lost(&self) -> LockState {
        self.core.lost().await
    }

    /// Whether someone asked us to release this side (always `false` unless the side was
    /// made revocable before it was acquired).
    pub fn is_revocation_requested(&self) -> bool {
        self.core.is_revocation_requested()
    }

    /// Resolves once someone asks us to release this side (at once if that already
    /// happened). Never resolves when the side is not revocable, or when it is released or
    /// lost before a request arrives: wait for it together with [`RwGuard::lost`].
    ///
    /// # Cancellation safety
    /// Safe: it only reads the state; a request seen once stays seen.
    pub async fn revocation_requested(&self) {
        self.core.revocation_requested().await
    }

    /// Releases this guard and, if it was the last one of its side on its handle, deletes our
    /// node and waits until the delete is confirmed (or the session is gone).
    ///
    /// # Errors
    /// A non-retryable delete error, or the terminal session error.
    ///
    /// # Cancellation safety
    /// Safe: if the future is dropped before the delete is confirmed, the delete goes on in
    /// the background.
    pub async fn release(self) -> Result<(), Error> {
        self.core.release().await
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
        let write_slot = Arc::new(HeldSlot::default());
        let read = ReadDriver { write: write_slot };
        let watch = |i: usize| Ok(PredicateResults::Watch(c[i].clone()));
        assert_eq!(
            read.gets_the_lock(&c, "_c_a-__READ__0000000001", usize::MAX),
            Ok(PredicateResults::GetsTheLock)
        );
        assert_eq!(
            read.gets_the_lock(&c, "_c_c-__READ__0000000003", usize::MAX),
            watch(1)
        );
        assert_eq!(
            WriteDriver.gets_the_lock(&c, "_c_b-__WRIT__0000000002", 1),
            watch(0)
        );
        assert_eq!(
            WriteDriver.gets_the_lock(&c, "_c_d-__WRIT__0000000004", 1),
            watch(2)
        );
        assert!(read.gets_the_lock(&c, "nope", usize::MAX).is_err());
        let mut s = names(&["_c_x-__WRIT__0000000009", "_c_y-__READ__0000000002"]);
        s.sort_by(|a, b| rw_sort_key(a).cmp(rw_sort_key(b)));
        assert_eq!(s[0], "_c_y-__READ__0000000002");
    }
}
