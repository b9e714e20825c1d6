//! Whether this node is in contact with a quorum, as ZooKeeper decides whether to serve.
//!
//! - A leader is in contact while a quorum acknowledged one of its heartbeats (or appends)
//!   sent within the last `syncLimit × tickTime` (openraft's `last_quorum_acked`, stamped with
//!   the time the acknowledged request was *sent*, so a late answer never extends it), or
//!   while its last AppendEntries as a follower is that recent (the moments after it won its
//!   election, before the first acks).
//! - Any other member is in contact while it accepted an AppendEntries from a leader within
//!   the last `syncLimit × tickTime` (stamped here by the peer server, see
//!   [`Contact::leader_appended`]).
//! - A cluster of one is always in contact with itself.
//!
//! A server out of contact must stop serving clients (see `net::gate`): the majority may have
//! elected another leader and expired the sessions held here, so anything it answers may be a
//! lie and a lock holder connected to it would not learn that its lock is gone.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The follower side: when a leader's AppendEntries was last accepted here.
#[derive(Debug, Default)]
pub(crate) struct Contact {
    last_append: Mutex<Option<Instant>>,
}

impl Contact {
    /// Records that an AppendEntries (or heartbeat) from the current leader was accepted now.
    pub(crate) fn leader_appended(&self) {
        *self.last_append.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    }

    /// Whether a leader's AppendEntries was accepted within `limit`.
    pub(crate) fn heard_within(&self, limit: Duration) -> bool {
        self.last_append
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|t| t.elapsed() <= limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_follower_is_in_contact_only_within_the_limit_of_its_last_append() {
        let c = Contact::default();
        let limit = Duration::from_millis(200);
        assert!(!c.heard_within(limit), "no append yet");
        c.leader_appended();
        assert!(c.heard_within(limit));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(!c.heard_within(limit), "limit passed");
        c.leader_appended();
        assert!(c.heard_within(limit));
    }
}
