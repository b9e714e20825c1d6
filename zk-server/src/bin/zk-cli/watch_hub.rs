//! Collects the node watches that commands leave (`-w`, `addWatch`) and prints their events
//! through the default watcher, once per server notification.
//!
//! zkCli registers every watch with one default watcher, and Java's client delivers a
//! notification to each distinct watcher once, so `get -w /x` plus `stat -w /x` print a single
//! event when `/x` changes. zk-core hands out one receiver per watch instead; the hub polls
//! all of them together and, within one wake-up, prints an event as many times as the receiver
//! that saw it most often (each receiver sees a notification at most once). zk-core's
//! connection task delivers one notification to all its receivers before the hub can run (the
//! runtime is single-threaded), so the copies of one notification are always seen together.
//!
//! The hub also knows which kinds of watch are live on which path, for `removewatches`, which
//! (as Java's client) fails unless this client holds a watch of the kind being removed.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;
use zk_core::{EventType, OneshotWatcher, PersistentWatcher, WatchedEvent};

use crate::watcher::EventPrinter;

/// The kind of a watch, as Java's client files it (`ZKWatchManager`'s tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// getData, or exists on an existing node.
    Data,
    /// exists on a missing node.
    Exist,
    /// getChildren.
    Child,
    /// addWatch PERSISTENT.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE.
    Recursive,
}

/// Live watches by kind and path.
type Live = Arc<Mutex<HashMap<(Kind, String), usize>>>;

enum Receiver {
    Once(OneshotWatcher),
    Stream(PersistentWatcher),
}

struct Source {
    key: (Kind, String),
    rx: Receiver,
}

/// Handle to the hub task; cheap to clone.
#[derive(Debug, Clone)]
pub struct WatchHub {
    tx: mpsc::UnboundedSender<Source>,
    live: Live,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} watch on {}", self.key.0, self.key.1)
    }
}

fn lock(live: &Live) -> std::sync::MutexGuard<'_, HashMap<(Kind, String), usize>> {
    live.lock().unwrap_or_else(|e| e.into_inner())
}

impl WatchHub {
    /// Starts the hub task on the current (single-threaded) runtime.
    pub fn spawn(printer: EventPrinter) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let live = Live::default();
        tokio::spawn(run(rx, printer, live.clone()));
        Self { tx, live }
    }

    /// Adds a one-shot watch of `kind` on `path`.
    pub fn add_once(&self, kind: Kind, path: &str, w: OneshotWatcher) {
        self.add(kind, path, Receiver::Once(w));
    }

    /// Adds a persistent (or persistent recursive) watch on `path`.
    pub fn add_stream(&self, kind: Kind, path: &str, w: PersistentWatcher) {
        self.add(kind, path, Receiver::Stream(w));
    }

    fn add(&self, kind: Kind, path: &str, rx: Receiver) {
        let key = (kind, path.to_string());
        *lock(&self.live).entry(key.clone()).or_default() += 1;
        let _ = self.tx.send(Source { key, rx });
    }

    /// Whether a watch of one of `kinds` is live on `path`.
    pub fn has(&self, path: &str, kinds: &[Kind]) -> bool {
        let live = lock(&self.live);
        kinds
            .iter()
            .any(|&k| live.get(&(k, path.to_string())).is_some_and(|&n| n > 0))
    }
}

async fn run(mut rx: mpsc::UnboundedReceiver<Source>, printer: EventPrinter, live: Live) {
    let mut sources = Vec::new();
    while let Some(events) =
        std::future::poll_fn(|cx| poll_batch(cx, &mut rx, &mut sources, &live)).await
    {
        for e in &events {
            printer.node_event(e);
        }
    }
}

/// Everything ready now, deduplicated; `None` once no watch can deliver anything any more.
fn poll_batch(
    cx: &mut Context<'_>,
    rx: &mut mpsc::UnboundedReceiver<Source>,
    sources: &mut Vec<Source>,
    live: &Live,
) -> Poll<Option<Vec<WatchedEvent>>> {
    let mut closed = false;
    loop {
        match rx.poll_recv(cx) {
            Poll::Ready(Some(s)) => sources.push(s),
            Poll::Ready(None) => {
                closed = true;
                break;
            }
            Poll::Pending => break,
        }
    }
    let mut seen: Vec<Vec<WatchedEvent>> = Vec::new();
    sources.retain_mut(|s| {
        let mut got = Vec::new();
        let keep = match &mut s.rx {
            Receiver::Once(w) => match Pin::new(w).poll(cx) {
                Poll::Ready(e) => {
                    got.push(e);
                    false
                }
                Poll::Pending => true,
            },
            Receiver::Stream(w) => loop {
                match Pin::new(&mut *w).poll_next(cx) {
                    Poll::Ready(Some(e)) => got.push(e),
                    Poll::Ready(None) => break false,
                    Poll::Pending => break true,
                }
            },
        };
        // Session events end watches; the session printer reports them once.
        got.retain(|e| e.event_type != EventType::None);
        if !got.is_empty() {
            seen.push(got);
        }
        if !keep {
            if let Some(n) = lock(live).get_mut(&s.key) {
                *n = n.saturating_sub(1);
            }
        }
        keep
    });
    let events = merge(seen);
    if !events.is_empty() {
        Poll::Ready(Some(events))
    } else if closed && sources.is_empty() {
        Poll::Ready(None)
    } else {
        Poll::Pending
    }
}

/// The events of one wake-up: the longest receiver's sequence, plus whatever another receiver
/// saw more often than that.
fn merge(mut seen: Vec<Vec<WatchedEvent>>) -> Vec<WatchedEvent> {
    seen.sort_by_key(|v| std::cmp::Reverse(v.len()));
    let mut it = seen.into_iter();
    let Some(mut out) = it.next() else {
        return Vec::new();
    };
    for other in it {
        for e in &other {
            let want = other.iter().filter(|x| *x == e).count();
            let have = out.iter().filter(|x| *x == e).count();
            if have < want {
                out.push(e.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_core::KeeperState;

    fn ev(t: EventType, p: &str) -> WatchedEvent {
        WatchedEvent {
            event_type: t,
            state: KeeperState::SyncConnected,
            path: p.into(),
        }
    }

    #[test]
    fn one_notification_seen_by_several_watches_prints_once() {
        let changed = ev(EventType::NodeDataChanged, "/a");
        let out = merge(vec![vec![changed.clone()], vec![changed.clone()]]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0], changed);
        // A persistent watch saw two changes, a one-shot watch the first of them.
        let out = merge(vec![
            vec![changed.clone()],
            vec![changed.clone(), changed.clone()],
        ]);
        assert_eq!(out.len(), 2);
        let deleted = ev(EventType::NodeDeleted, "/a");
        let out = merge(vec![vec![changed.clone()], vec![deleted.clone()]]);
        assert_eq!(out, [changed, deleted]);
    }
}
