//! zk-recipes: Curator-compatible coordination recipes built only on zk-core's public API.
//!
//! The znode layouts are Apache Curator's, so a Rust process and a Java (Curator) process can
//! share a lock or a leader latch on the same path.
//!
//! - [`InterProcessMutex`]: a re-entrant lock (`{path}/_c_<uuid>-lock-<seq>`), with a
//!   fencing token, a guard that releases on drop, and a lost signal.
//! - [`LeaderLatch`]: leader election (`{path}/_c_<uuid>-latch-<seq>`), with a leadership
//!   event stream and a fencing token.
//! - [`LeaderSelector`]: runs work while leading, on an [`InterProcessMutex`] whose nodes
//!   hold the participant id (Curator's `LeaderSelector` layout); work is cancelled when
//!   leadership is lost.
//! - [`InterProcessReadWriteLock`]: Curator's read/write lock (`__READ__` / `__WRIT__` nodes
//!   in one directory), with downgrade from write to read.
//! - [`InterProcessSemaphoreV2`] and [`InterProcessSemaphoreMutex`]: a counting semaphore
//!   (`{path}/leases`, internal lock at `{path}/locks`) and its one-lease mutex.
//! - [`InterProcessMultiLock`]: all or none over several mutexes, released in reverse order.
//! - [`SharedCount`]: Curator's shared integer (4-byte big-endian), with compare-and-set on
//!   the node version and change notifications; also a semaphore's shared maximum.
//! - [`revoker`]: cooperative revocation (`__REVOKE__`) of mutexes and read/write locks made
//!   revocable, interoperable with Curator's `makeRevocable` / `Revoker`.
//! - [`RetryPolicy`]: exponential, n-times and until-elapsed retries.
//!
//! ```no_run
//! use zk_recipes::{InterProcessMutex, LeaderLatch};
//!
//! # async fn tour() -> zk_core::Result<()> {
//! let client = zk_core::Client::connect("127.0.0.1:2181").await?;
//!
//! let mutex = InterProcessMutex::new(client.clone(), "/app/locks/jobs");
//! let guard = mutex.acquire().await?;
//! println!("fencing token {}", guard.fencing_token());
//! guard.release().await?;
//!
//! let latch = LeaderLatch::new(client, "/app/leader", "node-1");
//! latch.start().await?;
//! latch.await_leadership().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

pub mod leader_latch;
pub mod leader_selector;
pub mod multi_lock;
pub mod mutex;
pub mod protected;
pub mod retry;
pub mod revoker;
pub mod rwlock;
pub mod semaphore;
pub mod shared_count;
pub mod state;

mod held_node;
mod lock_internals;

pub use leader_latch::{CloseMode, LeaderLatch, LeadershipEvent, Participant};
pub use leader_selector::{LeaderSelector, Leadership};
pub use multi_lock::{InterProcessMultiLock, MultiLockGuard};
pub use mutex::{InterProcessMutex, MutexGuard};
pub use retry::RetryPolicy;
pub use rwlock::{InterProcessReadWriteLock, RwGuard, Side};
pub use semaphore::{InterProcessSemaphoreMutex, InterProcessSemaphoreV2, Lease};
pub use shared_count::{SharedCount, VersionedCount};
pub use state::{ErrorPolicy, LockState};
