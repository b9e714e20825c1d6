//! Session expiry, owned by the leader: every request or ping touches its session; a session
//! not touched within its timeout is expired by proposing `CloseSession` through the log.
//!
//! Deadlines are bucketed to tickTime like Apache's `ExpiryQueue`: a session expires at the
//! first tick boundary after `last touch + timeout`.

use hashbrown::HashMap;
use std::sync::Mutex;

/// Deadlines of the sessions this server tracks.
#[derive(Debug, Default)]
pub struct SessionTracker {
    inner: Mutex<HashMap<i64, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    timeout_ms: i64,
    deadline_ms: i64,
}

fn bucket(t: i64, tick: i64) -> i64 {
    (t / tick + 1) * tick
}

impl SessionTracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Entry>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts tracking a session (or resets it) with a deadline of `now + timeout`.
    pub fn track(&self, session_id: i64, timeout_ms: i32, now_ms: i64, tick_ms: i64) {
        let timeout_ms = i64::from(timeout_ms);
        self.lock().insert(
            session_id,
            Entry {
                timeout_ms,
                deadline_ms: bucket(now_ms + timeout_ms, tick_ms),
            },
        );
    }

    /// Extends a session's deadline; false if the session is not tracked.
    pub fn touch(&self, session_id: i64, now_ms: i64, tick_ms: i64) -> bool {
        match self.lock().get_mut(&session_id) {
            Some(e) => {
                e.deadline_ms = e.deadline_ms.max(bucket(now_ms + e.timeout_ms, tick_ms));
                true
            }
            None => false,
        }
    }

    /// Gives every tracked session a full timeout from `now_ms`: a server that starts to
    /// lead has not seen the activity of sessions connected to other servers (Apache's new
    /// leader starts its expiry queue the same way).
    pub fn renew_all(&self, now_ms: i64, tick_ms: i64) {
        for e in self.lock().values_mut() {
            e.deadline_ms = bucket(now_ms + e.timeout_ms, tick_ms);
        }
    }

    /// Stops tracking a session (closed).
    pub fn remove(&self, session_id: i64) {
        self.lock().remove(&session_id);
    }

    /// Sessions whose deadline has passed; they stay tracked until removed, so a failed
    /// proposal is retried at the next tick.
    pub fn expired(&self, now_ms: i64) -> Vec<i64> {
        self.lock()
            .iter()
            .filter(|(_, e)| e.deadline_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Number of tracked sessions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets everything (when this server stops leading).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_extends_and_expiry_is_bucketed() {
        let t = SessionTracker::default();
        t.track(1, 4000, 0, 2000);
        assert!(t.expired(5999).is_empty());
        assert_eq!(t.expired(6000), vec![1]);
        assert!(t.touch(1, 5000, 2000));
        assert!(t.expired(9999).is_empty());
        assert_eq!(t.expired(10000), vec![1]);
        t.remove(1);
        assert!(!t.touch(1, 0, 2000));
    }
}
