//! Leader election that runs work while leading, with Curator's `LeaderSelector` layout: an
//! [`InterProcessMutex`] on the leader path whose lock nodes hold the participant id (UTF-8).
//!
//! [`LeaderSelector::lead_once`] waits for leadership, runs the work, and gives leadership up
//! when the work returns. If leadership is lost first (per the [`ErrorPolicy`]), the work is
//! cancelled (dropped), like Curator's `CancelLeadershipException` interrupting the leader.
//! Call it in a loop to re-queue (Curator's `autoRequeue`).

use std::future::Future;

use zk_core::{Client, Error};

use crate::leader_latch::Participant;
use crate::mutex::{InterProcessMutex, LOCK_NAME};
use crate::protected::{join, sort_children};
use crate::retry::RetryPolicy;
use crate::state::ErrorPolicy;

/// What the work gets while it leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leadership {
    /// The fencing token: the czxid of our lock node; strictly increasing across leaders.
    pub token: i64,
}

/// A leader selector on one path; see the module docs.
#[derive(Debug)]
pub struct LeaderSelector {
    mutex: InterProcessMutex,
    client: Client,
    id: String,
}

impl LeaderSelector {
    /// A selector on `path` for participant `id`, with the default retry policy and
    /// [`ErrorPolicy::Standard`].
    pub fn new(client: Client, path: impl Into<String>, id: impl Into<String>) -> Self {
        let id = id.into();
        let mutex = InterProcessMutex::new(client.clone(), path).with_data(id.as_bytes());
        Self { mutex, client, id }
    }

    /// Sets the error policy that decides when leadership counts as lost.
    pub fn with_error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.mutex = self.mutex.with_error_policy(policy);
        self
    }

    /// Sets the retry policy for operations that fail with connection loss.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.mutex = self.mutex.with_retry(retry);
        self
    }

    /// Our participant id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits for leadership, then runs `work`. Returns `Ok(Some(output))` when the work
    /// finished (leadership is then released and the release confirmed), or `Ok(None)` when
    /// leadership was lost first (the work was cancelled).
    ///
    /// # Errors
    /// Errors of acquiring or releasing the underlying lock.
    ///
    /// # Cancellation safety
    /// Safe: dropping the future cancels the work and gives up leadership (or the queue
    /// position) in the background.
    pub async fn lead_once<F, Fut, T>(&self, work: F) -> Result<Option<T>, Error>
    where
        F: FnOnce(Leadership) -> Fut,
        Fut: Future<Output = T>,
    {
        let guard = self.mutex.acquire().await?;
        let leadership = Leadership {
            token: guard.fencing_token(),
        };
        tokio::select! {
            out = work(leadership) => {
                guard.release().await?;
                Ok(Some(out))
            }
            state = guard.lost() => {
                tracing::warn!(id = %self.id, ?state, "leadership lost; work cancelled");
                drop(guard);
                Ok(None)
            }
        }
    }

    /// Every participant, leader first, read from the lock nodes' data.
    ///
    /// # Errors
    /// Connection or session errors.
    pub async fn participants(&self) -> Result<Vec<Participant>, Error> {
        let path = self.mutex.path();
        let mut children = match self.client.get_children(path).await {
            Ok(c) => c,
            Err(Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        sort_children(&mut children, LOCK_NAME);
        let mut out = Vec::with_capacity(children.len());
        for c in &children {
            match self.client.get_data(&join(path, c)).await {
                Ok((data, _)) => out.push(Participant {
                    id: String::from_utf8_lossy(&data).into_owned(),
                    is_leader: out.is_empty(),
                }),
                Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}
