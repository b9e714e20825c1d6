//! Cooperative lock revocation, as Curator's `Revoker` does it.
//!
//! A revoker sets the data of a holder's lock node to [`REVOKE_MESSAGE`]. A holder whose lock
//! was made revocable ([`crate::InterProcessMutex::make_revocable`],
//! [`crate::InterProcessReadWriteLock::make_revocable`], or Curator's
//! `makeRevocable(listener)`) keeps a data watch on its own node and is told
//! ([`crate::MutexGuard::revocation_requested`]); releasing is then up to it. Locks that are
//! not revocable ignore the request. Rust and Curator holders and revokers can be mixed.
//!
//! ```no_run
//! # async fn demo(client: zk_core::Client) -> zk_core::Result<()> {
//! use zk_recipes::{revoker, InterProcessMutex};
//!
//! // The holder.
//! let mutex = InterProcessMutex::new(client.clone(), "/app/locks/jobs");
//! mutex.make_revocable();
//! let guard = mutex.acquire().await?;
//!
//! // Anyone: ask the current holder to let go.
//! let holder = &mutex.participant_nodes().await?[0];
//! revoker::attempt_revoke(&client, holder).await?;
//!
//! // The holder hears of it and releases.
//! guard.revocation_requested().await;
//! guard.release().await?;
//! # Ok(()) }
//! ```

use zk_core::{Client, Error};

use crate::retry::RetryPolicy;

/// The data a revoker writes into a lock node (Curator's `LockInternals.REVOKE_MESSAGE`).
pub const REVOKE_MESSAGE: &[u8] = b"__REVOKE__";

/// Asks the holder of the lock node `node_path` (a full path, e.g. one of
/// [`crate::InterProcessMutex::participant_nodes`]) to release it, by setting the node's data
/// to [`REVOKE_MESSAGE`] (Curator's `Revoker.attemptRevoke`). A node that no longer exists is
/// not an error. Connection loss is retried with [`RetryPolicy::default`] (setting the same
/// data twice is harmless).
///
/// Revocation is cooperative: this returns once the request is written, not when the lock is
/// released, and a holder that did not make its lock revocable ignores it.
///
/// # Errors
/// NoAuth, InvalidPath, or connection and session errors once the retry policy gives up.
///
/// # Cancellation safety
/// Safe to drop; the request may or may not have been written.
pub async fn attempt_revoke(client: &Client, node_path: &str) -> Result<(), Error> {
    match RetryPolicy::default()
        .run(|| client.set_data(node_path, REVOKE_MESSAGE, None))
        .await
    {
        Ok(_) | Err(Error::NoNode) => Ok(()),
        Err(e) => Err(e),
    }
}
